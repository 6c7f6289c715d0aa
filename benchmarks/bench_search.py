"""Benchmark of the fused grid-search kernel (``regime.search.evaluate_grid``).

One walk-forward-like fold of 2,000 decision days x 7 score features with real
``SearchInputs`` (built by ``pipeline.prepare`` from a synthetic 40-asset, 7-year lake), and a
grid of 10,000 parameter sets (``GridConfig(max_sets=10000)``). Prints:

* the kernel's median wall time over 5 runs (after a numba warm-up), ns per (set x day);
* the peak extra memory of one kernel call: tracemalloc peak (Python and numpy allocations)
  and the ``resource.getrusage`` max-RSS delta of this process (the lake is prepared in a
  child process so the parent's high-water mark starts low);
* a baseline in the same process: a plain numpy version of the same computation for 1,000
  sets (a scores matrix and vectorised thresholds, no hysteresis band and no dwell, which
  numpy cannot vectorise) and the ratio of ns per (set x day).

Target (from the issue): under 0.5 s and 500 MB for 10,000 sets x 2,000 days.

Run: ``python benchmarks/bench_search.py`` (``--sets``, ``--days``, ``--runs`` to vary).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np

START, END = date(2019, 1, 1), date(2025, 12, 31)


def _prepare_inputs(n_assets: int, seed: int) -> dict[str, object]:
    """Runs in a child process: synthetic lake -> ``pipeline.prepare`` -> plain arrays."""
    from majors_alts_monitor import pipeline
    from majors_alts_monitor.config import Config
    from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

    with tempfile.TemporaryDirectory() as tmp:
        spec = SyntheticSpec(n_assets=n_assets, start=START, end=END, seed=seed)
        lake, _ = write_lake(generate(spec), Path(tmp) / "synth")
        cfg = Config().with_overrides(lake=lake, output_root=Path(tmp) / "out")
        p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(START, END), START, END)
        z = p.features.z[:, [p.features.column(f) for f in p.score_features]]
        return {
            "z": np.ascontiguousarray(z),
            "features": p.score_features,
            "levels": p.inputs.levels,
            "vscale": p.inputs.vscale,
            "book_pnl": p.inputs.book_pnl,
            "cost": p.inputs.cost,
            "first_day": p.first_day,
        }


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def numpy_baseline(z, grid, inputs, d0: int, d1: int, n_blocks: int = 16):
    """The kernel's statistics in plain numpy for thresholds without band or dwell: the state
    on day d is MAJORS if score > upper, ALTS if score < lower, else BALANCED."""
    zz = z[d0 : d1 + 1]
    n = d1 - d0 + 1
    fin = np.isfinite(zz)
    w = grid.weights
    scores = np.where(fin, zz, 0.0) @ w.T  # (days, sets)
    seen = (fin.astype(np.float64) @ (w != 0).T.astype(np.float64)) > 0
    scores[~seen] = np.nan
    state = np.full(scores.shape, 1, dtype=np.int8)
    state[scores > grid.upper[None, :]] = 0
    state[scores < grid.lower[None, :]] = 2
    prev = np.empty_like(state)
    prev[0] = 1
    prev[1:] = state[:-1]
    bp = np.nan_to_num(inputs.book_pnl)
    carry = (inputs.vscale[d0 : d1 + 1] * bp[d0 + 1 : d1 + 2])[:, None]
    cost = inputs.cost[d0 + 1 : d1 + 2]
    p = inputs.levels[state] * carry - cost[np.arange(n)[:, None], prev, state]
    eq = np.cumprod(1.0 + p, axis=0)
    peak = np.maximum(np.maximum.accumulate(eq, axis=0), 1.0)
    stats = np.column_stack(
        [
            p.sum(axis=0),
            (p * p).sum(axis=0),
            np.full(p.shape[1], float(n)),
            (np.minimum(p, 0.0) ** 2).sum(axis=0),
            np.log1p(p).sum(axis=0),
            np.minimum((eq / peak - 1.0).min(axis=0), 0.0),
        ]
    )
    starts = (np.arange(n_blocks) * n + n_blocks - 1) // n_blocks  # first day of each block
    blocks = np.stack(
        [np.add.reduceat(p, starts, axis=0).T, np.add.reduceat(p * p, starts, axis=0).T], axis=2
    )
    return stats, blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=2_000)
    ap.add_argument("--baseline-sets", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--assets", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(1) as pool:
        arrays = pool.apply(_prepare_inputs, (args.assets, args.seed))
    print(
        f"prepared a {args.assets}-asset lake {START}..{END} in a child process "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    import numba

    from majors_alts_monitor.config import GridConfig
    from majors_alts_monitor.regime.search import ParamGrid, SearchInputs, build_grid, evaluate_grid

    z = arrays["z"]
    inputs = SearchInputs(arrays["levels"], arrays["vscale"], arrays["book_pnl"], arrays["cost"])
    d0 = int(arrays["first_day"])
    d1 = d0 + args.days - 1
    if d1 + 1 >= len(inputs.book_pnl):
        raise SystemExit(f"the lake has too few days for {args.days} decision days after burn-in")
    features = tuple(arrays["features"])
    grid = build_grid(features, GridConfig(max_sets=args.sets))
    n_sets, n_days = grid.size, d1 - d0 + 1
    print(
        f"problem: {n_sets:,} sets x {n_days:,} days x {z.shape[1]} features "
        f"({grid.total_combinations:,} combinations in the full grid); "
        f"numba threads {numba.get_num_threads()}"
    )

    # warm-up: compile (or load the cache) on a tiny problem
    t = time.perf_counter()
    evaluate_grid(z, _head(grid, 4, ParamGrid), inputs, d0, d0 + 30)
    print(f"warm-up (compile or cache load): {time.perf_counter() - t:.2f} s")

    # memory of one call
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    stats, blocks = evaluate_grid(z, grid, inputs, d0, d1)
    _, tm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_delta = _maxrss_mb() - rss0

    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        evaluate_grid(z, grid, inputs, d0, d1)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    ns = med / (n_sets * n_days) * 1e9
    print("\nkernel (numba, fused, with band and dwell)")
    print(f"  median of {args.runs}: {med:.4f} s   (runs: {', '.join(f'{x:.4f}' for x in times)})")
    print(f"  {ns:.2f} ns per (set x day)")
    print(
        f"  peak extra memory: tracemalloc {tm_peak / 2**20:.2f} MiB, "
        f"max-RSS delta {rss_delta:.2f} MiB (outputs: stats {stats.nbytes / 2**20:.2f} MiB, "
        f"blocks {blocks.nbytes / 2**20:.2f} MiB)"
    )
    ok_t, ok_m = med < 0.5, max(tm_peak / 2**20, rss_delta) < 500
    print(
        f"  target < 0.5 s: {'PASS' if ok_t else 'FAIL'}; target < 500 MB: "
        f"{'PASS' if ok_m else 'FAIL'}"
    )

    # numpy baseline on a smaller grid
    small = _head(grid, args.baseline_sets, ParamGrid)
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    numpy_baseline(z, small, inputs, d0, d1)
    _, np_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np_rss = _maxrss_mb() - rss0
    np_times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        numpy_baseline(z, small, inputs, d0, d1)
        np_times.append(time.perf_counter() - t)
    np_med = statistics.median(np_times)
    np_ns = np_med / (small.size * n_days) * 1e9
    print(f"\nnumpy baseline ({small.size:,} sets, scores matrix + thresholds, no band/dwell)")
    print(f"  median of {args.runs}: {np_med:.4f} s, {np_ns:.2f} ns per (set x day)")
    print(
        f"  peak extra memory: tracemalloc {np_peak / 2**20:.1f} MiB, "
        f"max-RSS delta {np_rss:.1f} MiB"
    )
    print(f"  ratio numpy / kernel per (set x day): {np_ns / ns:.1f}x")
    print(
        f"  numpy extrapolated to {n_sets:,} sets: {np_ns * n_sets * n_days / 1e9:.2f} s, "
        f"~{np_peak / 2**20 * n_sets / small.size:.0f} MiB"
    )

    # sanity check: with band 0 and dwell 1 the state machine is memoryless, so the kernel and
    # the baseline must agree (up to days with no score and exact ties, which do not occur here)
    plain = _head(small, small.size, ParamGrid, band=0.0, dwell=1)
    k_stats, _ = evaluate_grid(z, plain, inputs, d0, d1)
    b_stats, _ = numpy_baseline(z, plain, inputs, d0, d1)
    diff = float(np.max(np.abs(k_stats - b_stats)))
    print(f"  check, band 0 and dwell 1: max |kernel - numpy| over the statistics = {diff:.2e}")


def _head(grid, k: int, cls, band: float | None = None, dwell: int | None = None):
    k = min(k, grid.size)
    return cls(
        features=grid.features,
        weights=np.ascontiguousarray(grid.weights[:k]),
        lower=grid.lower[:k].copy(),
        upper=grid.upper[:k].copy(),
        band=np.full(k, band) if band is not None else grid.band[:k].copy(),
        dwell=np.full(k, dwell, dtype=np.int64) if dwell is not None else grid.dwell[:k].copy(),
        total_combinations=grid.total_combinations,
    )


if __name__ == "__main__":
    main()
