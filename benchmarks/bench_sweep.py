"""Issue 10: a sweep's peak RSS per worker stays within one run's, whatever the number of points.

Runs, on the demo lake (generated once under ./cache/bench/), with the packaged config:

* one plain ``pipeline.run`` in a fresh spawned process: its peak RSS (``ru_maxrss``);
* a 4-point and a 12-point sweep (``basket_size x taker fee x train_days``), each on a fresh
  local Dask cluster of ``--workers`` processes: every worker's peak RSS, read from the
  ``peak_rss_mb`` the workers record in ``sweep_manifest.json`` (their ``ru_maxrss`` after
  each point), and the sweep's wall time and median seconds per point.

The workers keep one lake, one market and one set of prepared inputs each (bounded caches),
so their peak should not grow from 4 to 12 points and stay near the plain run's (a worker
also carries Dask's own ~100 MB).

Run: ``python benchmarks/bench_sweep.py [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import yaml

CACHE = Path(__file__).resolve().parents[1] / "cache" / "bench"
GRID12 = {
    "universe.basket_size": [10, 20],
    "costs.taker_fee_bps": [2.0, 5.0, 10.0],
    "walkforward.train_days": [270, 365],
}
GRID4 = {"universe.basket_size": [10, 20], "walkforward.train_days": [270, 365]}


def _demo_lake() -> Path:
    from majors_alts_monitor.lake.demo import demo_lake_root
    from majors_alts_monitor.lake.synthetic import synth_command

    root = demo_lake_root(CACHE)
    if not (root / "lake" / "fact_price.parquet").is_file():
        synth_command(root, seed=7, world="planted", n_assets=60)
    return root / "lake"


def _plain_run(lake: str, out: str) -> tuple[float, float]:
    from majors_alts_monitor import pipeline
    from majors_alts_monitor.config import load_config
    from majors_alts_monitor.lake.data_io import lake_span

    cfg = load_config().with_overrides(lake=Path(lake), output_root=Path(out))
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"duckdb": None})})
    s, e = lake_span(pipeline.make_reader(cfg))
    t = time.perf_counter()
    pipeline.run(cfg, s, e)
    return time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sweep(lake: Path, grid: dict, workers: int, tmp: Path) -> tuple[float, dict]:
    from majors_alts_monitor import cli

    folder = tmp
    folder.mkdir(parents=True)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"lake": str(lake), "duckdb": None, "grid": grid}))
    t = time.perf_counter()
    code = cli.main(
        ["sweep", str(path), "--workers", str(workers), "--quiet"]
        + ["--output-root", str(folder / "out")]
    )
    if code != 0:
        raise SystemExit(f"sweep failed with exit {code}")
    wall = time.perf_counter() - t
    man = json.loads((folder / "out/artifacts/majors_alts/sweep/sweep_manifest.json").read_text())
    return wall, man


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    lake = _demo_lake()
    with tempfile.TemporaryDirectory() as tmp:
        with mp.get_context("spawn").Pool(1) as pool:
            pool.apply(_plain_run, (str(lake), tmp))  # warm numba's cache first
        with mp.get_context("spawn").Pool(1) as pool:
            run_s, run_rss = pool.apply(_plain_run, (str(lake), tmp))
        print(f"plain run (demo lake, packaged config): {run_s:6.1f} s  peak RSS {run_rss:7.1f} MB")
        for name, grid in (("4-point", GRID4), ("12-point", GRID12)):
            wall, man = _sweep(lake, grid, args.workers, Path(tmp) / name)
            peaks: dict[int, float] = {}
            for p in man["points"]:
                peaks[p["pid"]] = max(peaks.get(p["pid"], 0.0), p["peak_rss_mb"])
            per = ", ".join(f"{v:.0f}" for v in sorted(peaks.values()))
            print(
                f"{name:8s} sweep, {args.workers} workers: wall {wall:6.1f} s, median "
                f"{man['point_seconds_median']:.1f} s per point; peak RSS per worker {per} MB "
                f"(max {max(peaks.values()) / run_rss:.2f}x the plain run)"
            )


if __name__ == "__main__":
    main()
