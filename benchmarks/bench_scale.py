"""Issue 22: a run's cost grows with the eligible universe, not the lake. Whole-market lakes with
a long tail of market caps (``majors-alts synth --caps long_tail``: most coins far below the
eligibility line, as on CoinGecko) of 1,000 / 5,000 / 15,000 assets x 8 years (2018-01-01 ..
2025-12-31, hive-partitioned), each built once under ``--lakes`` (never in the repository), then
``python -m majors_alts_monitor.run --lake LAKE`` in a fresh process per run, as a user runs it:
wall, peak RSS (``/usr/bin/time``), CPU (user + sys), the manifest's per-stage ``timings_s``,
how many assets entered the panel; the growth with years on the largest lake (windows of 2, 4
and 8 years ending 2025-12-31); the read's own parts (every asset on narrow columns, the
candidate rule, the market-wide cap total) measured in a separate process. The baseline is the
warm demo run measured in this same session (the machine is shared: ratios to it travel
better than seconds). Targets: 15,000 x 8 years < 30 s and < 3 GB; 5,000 < 10 s.

    python benchmarks/bench_scale.py --lakes DIR [--sizes 1000,5000,15000] [--repeats 3]
        [--years] [--tree PATH]

``--tree PATH`` times another checkout of the package (for example ``git archive`` of main
before this change) on the same lakes instead of this one; a size it cannot run is reported
as failed, not retried.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = "2018-01-01", "2025-12-31"
TARGETS = {15000: (30.0, 3072.0), 5000: (10.0, None)}
READ_PARTS = """
import json, sys, time
from datetime import date
from majors_alts_monitor import pipeline
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.wide import read_wide
from majors_alts_monitor.market.scope import candidates, cap_total, scoped_lake
cfg = Config().with_overrides(lake=sys.argv[1], output_root=sys.argv[2])
r, g = pipeline.make_reader(cfg), cfg.data.max_gap_days
out = {}
t = time.perf_counter(); w = read_wide(r, None, None); out["narrow_read"] = time.perf_counter() - t
t = time.perf_counter(); c = candidates(w, cfg.universe, g); out["candidates"] = time.perf_counter() - t
t = time.perf_counter(); tot = cap_total(w, g); out["cap_total"] = time.perf_counter() - t
t = time.perf_counter(); scoped_lake(w, c, tot, cfg.universe, g); out["panel_rows"] = time.perf_counter() - t
out["rows_price"] = w.stats["fact_price"].rows
out["assets"] = len(w.assets)
print(json.dumps(out))
"""


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def ensure_lake(root: Path, n: int) -> Path:
    out = root / f"lt_{n}"
    if not (out / "lake" / "fact_price").is_dir():
        t = time.time()
        subprocess.run(
            [sys.executable, "-m", "majors_alts_monitor", "synth", str(out), "--assets", str(n)]
            + ["--start", START, "--end", END, "--partitioned", "--caps", "long_tail"]
            + ["--seed", "1"],
            check=True,
            capture_output=True,
            env=_env(REPO),
            cwd=REPO,
        )
        print(f"  (generated {out} in {time.time() - t:.1f} s)", file=sys.stderr)
    return out / "lake"


def _env(tree: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(tree) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_once(tree: Path, args: list[str]) -> dict | None:
    """One fresh ``run`` process: wall, peak RSS MB, CPU seconds, the manifest's timings, the
    panel's asset count (None when the run failed)."""
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        r = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "majors_alts_monitor.run"]
            + [*args, "--output-root", out, "--quiet"],
            capture_output=True,
            text=True,
            env=_env(tree),
            cwd=tree,  # python -m imports from the working directory first
        )
        wall = time.perf_counter() - t
        if r.returncode != 0:
            print(f"  run failed ({r.returncode}): {r.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        rss, user, sys_ = (float(x) for x in r.stderr.strip().splitlines()[-1].split())
        man = json.loads((Path(out) / "artifacts/majors_alts/run_manifest.json").read_text())
    scope = [n for n in man["notes"] if n.startswith("scope:")]
    panel = int(scope[0].split()[1]) if scope else man["universe"]["assets"]
    return {
        "wall": wall,
        "rss": rss / 1024,
        "cpu": user + sys_,
        "stages": man["timings_s"],
        "assets": man["universe"]["assets"],
        "panel": panel,
        "rows": man["tables_read"]["fact_price"]["rows"],
    }


def timed(tree: Path, args: list[str], repeats: int) -> dict | None:
    runs = []
    for _ in range(repeats):
        got = run_once(tree, args)
        if got is None:
            return None
        runs.append(got)
    stages = {
        k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in runs[0]["stages"]
    }
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "rss": max(r["rss"] for r in runs),
        "stages": stages,
        **{k: runs[0][k] for k in ("assets", "panel", "rows")},
    }


def read_parts(lake: Path) -> dict:
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run(
            [sys.executable, "-c", READ_PARTS, str(lake), out],
            capture_output=True,
            text=True,
            env=_env(REPO),
            cwd=REPO,
            check=True,
        )
    return json.loads(r.stdout.strip().splitlines()[-1])


def line(label: str, m: dict, base: float) -> str:
    st = m["stages"]
    parts = ", ".join(
        f"{k} {st[k]:.2f}"
        for k in ("read", "prepare", "walk_forward", "statistics", "robustness", "dashboard")
        if k in st
    )
    return (
        f"{label:30s} wall {m['wall']:6.2f} s  cpu {m['cpu']:6.2f} s  peak RSS {m['rss']:7.0f} MB"
        f"  ratio to demo {m['wall'] / base:5.2f}  panel {m['panel']:5d} of {m['assets']:5d} "
        f"assets, {m['rows']:,} price rows  | {parts}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lakes", type=Path, required=True, help="folder for the lakes (built once)")
    ap.add_argument("--sizes", default="1000,5000,15000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--years", action="store_true", help="also 2 and 4 years of the largest")
    ap.add_argument("--tree", type=Path, default=REPO, help="the checkout to time")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    lakes = {n: ensure_lake(a.lakes, n) for n in sizes}
    print(f"tree {a.tree}; load average before: {load()}")
    with tempfile.TemporaryDirectory() as demo_out:
        demo = [sys.executable, "-m", "majors_alts_monitor.run", "--demo", "--quiet"]
        demo += ["--output-root", demo_out]
        base_runs = []
        for i in range(a.repeats + 1):  # the first, untimed, makes the demo lake and numba's cache
            t = time.perf_counter()
            subprocess.run(demo, check=True, capture_output=True, env=_env(a.tree), cwd=a.tree)
            if i:
                base_runs.append(time.perf_counter() - t)
    base = statistics.median(base_runs)
    print(f"baseline: warm demo run (60 assets x 7 years) median {base:.2f} s; load {load()}")
    results: dict[int, dict | None] = {}
    for n in sizes:
        m = timed(a.tree, ["--lake", str(lakes[n])], a.repeats)
        results[n] = m
        if m is None:
            print(f"{n:,} assets x 8 years: FAILED")
            continue
        verdict = ""
        if n in TARGETS:
            wall_t, rss_t = TARGETS[n]
            ok = m["wall"] < wall_t and (rss_t is None or m["rss"] < rss_t)
            verdict = (
                f"  target < {wall_t:.0f} s"
                + (f", < {rss_t:.0f} MB" if rss_t else "")
                + (" -> PASS" if ok else " -> MISS")
            )
        print(line(f"{n:,} assets x 8 years", m, base) + verdict + f"  (load {load()})")
        if a.tree == REPO:
            parts = read_parts(lakes[n])
            print(
                "    read's parts (one process): "
                + ", ".join(
                    f"{k} {parts[k]:.2f} s"
                    for k in ("narrow_read", "candidates", "cap_total", "panel_rows")
                )
            )
    if a.years and sizes:
        n = max(sizes)
        for start in ("2024-01-01", "2022-01-01"):
            m = timed(a.tree, ["--lake", str(lakes[n]), "--start", start, "--end", END], a.repeats)
            if m is not None:
                yrs = 2026 - int(start[:4])
                print(line(f"{n:,} assets x {yrs} years", m, base) + f"  (load {load()})")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
