"""The cost of publishing a run's outputs as one generation (issue 17): every file written and
flushed into a new folder, the folders flushed, one rename, the old generation pruned, against
a same-process baseline that writes the same bytes to their files in place with no flush at
all (what a careless writer would do, and what a reader could see torn).

The set is a demo-sized run's: 14 files, 4.5 MB (a 2.6 MB dashboard, a 0.7 MB parquet of
features, CSVs). Medians of N repeats on the output disk (the repository's cache/), then the
same on tmpfs when the machine has one (/dev/shm: fsync costs nothing there, which isolates the
bookkeeping from the disk).

    python benchmarks/bench_publish.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from _common import CACHE

from majors_alts_monitor.publish.layout import writing_outputs

SIZES = {  # the demo run's files (bytes), by path inside a run set
    "reports/regime_timeline.csv": 386_958,
    "reports/features_wide.parquet": 705_532,
    "reports/bt_daily_pnl.csv": 334_277,
    "reports/bt_equity_curve.csv": 181_275,
    "reports/kpis.json": 22_851,
    "reports/regime_metrics.csv": 721,
    "reports/dashboard.html": 2_595_186,
    "reports/signals_today.json": 5_967,
    "reports/pnl_attribution.csv": 2_472,
    "artifacts/fold_params.json": 12_743,
    "artifacts/trials.parquet": 486_019,
    "artifacts/run.log": 949,
    "artifacts/run_manifest.json": 9_688,
}


def files(seed: int) -> dict[str, bytes]:
    return {rel: os.urandom(64) + bytes([seed % 251]) * n for rel, n in SIZES.items()}


def bench(base: Path, n: int) -> tuple[float, float]:
    root, plain = base / "root", base / "plain"
    shutil.rmtree(base, ignore_errors=True)
    sets = [files(i) for i in range(n)]
    pub, raw = [], []
    for i in range(n):
        t = time.perf_counter()
        with writing_outputs(root) as out:
            out.publish_run(sets[i], command="bench")
        pub.append(time.perf_counter() - t)
        t = time.perf_counter()
        for rel, data in sets[i].items():
            p = plain / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        raw.append(time.perf_counter() - t)
    shutil.rmtree(base, ignore_errors=True)
    return statistics.median(pub), statistics.median(raw)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    mb = sum(SIZES.values()) / 2**20
    print(f"publishing a run set: {len(SIZES)} files, {mb:.1f} MB; medians of {n}")
    places = [("disk", CACHE / "bench_publish")]
    if Path("/dev/shm").is_dir():
        places.append(("tmpfs", Path("/dev/shm") / f"bench_publish_{os.getpid()}"))
    for name, base in places:
        pub, raw = bench(base, n)
        print(
            f"  {name:<6} generation {pub * 1e3:7.1f} ms   plain writes {raw * 1e3:7.1f} ms   "
            f"ratio {pub / raw:5.2f}"
        )


if __name__ == "__main__":
    main()
