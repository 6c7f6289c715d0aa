"""The project's fused grid kernel against vectorbt's ``Portfolio.from_signals``, side by side,
on the same (parameter sets x days) two-state hysteresis workload.

Workload: 7 z-scored features of a synthetic 40-asset lake (``pipeline.prepare`` in a child
process, as ``bench_search.py`` does), 10,000 parameter sets (``GridConfig(max_sets=10000)``)
x 2,000 decision days. Each set's score is ``z @ w``; the book is held (exposure 1) after the
score rises above ``upper + band`` and dropped after it falls below ``upper - band`` (two
states: in or out, ``lower`` far below so the alt regime never fires, dwell 1).

* project: ``regime.search.evaluate_grid`` computes the scores itself, runs the state machine,
  charges the cost table and accumulates every set's statistics and PBO block sums.
* vectorbt: the entry/exit signals are built with numpy beforehand (not timed, in its favour),
  then ``Portfolio.from_signals(close, entries, exits, fees=...)`` and ``sharpe_ratio()`` are
  timed, close = the always-held book's equity curve.

Both are measured the same way, each in a fresh spawned child process after a warm-up on a
tiny problem (numba compilation or cache load): median wall time, tracemalloc peak of one call
and the max-RSS increase over the child's level after the warm-up. vectorbt runs on a slice of
the sets by default (``--vbt-sets``; it is linear in sets, extrapolated and stated);
``--vbt-sets 10000`` runs it at full size. A check on 200 sets without costs compares the
Sharpe ratios the two produce.

Run: ``python benchmarks/bench_vs_vectorbt.py [--sets 10000 --days 2000 --vbt-sets 2000]``
(needs the ``bench`` extra: ``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import resource
import statistics
import time
import tracemalloc

import numpy as np
from bench_search import _prepare_inputs

FEE = 0.0005  # vectorbt's proportional fee per trade (the kernel charges its cost table)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _grid(arrays: dict, n_sets: int):
    from majors_alts_monitor.config import GridConfig
    from majors_alts_monitor.regime.search import ParamGrid, build_grid

    g = build_grid(tuple(arrays["features"]), GridConfig(max_sets=n_sets))
    k = g.size
    return ParamGrid(
        g.features,
        np.ascontiguousarray(g.weights),
        np.full(k, -1e9),  # the alt regime never fires: two states, in or out
        g.upper.copy(),
        g.band.copy(),
        np.ones(k, dtype=np.int64),
        g.total_combinations,
    )


def _slice(grid, k: int):
    from majors_alts_monitor.regime.search import ParamGrid

    return ParamGrid(
        grid.features,
        np.ascontiguousarray(grid.weights[:k]),
        grid.lower[:k].copy(),
        grid.upper[:k].copy(),
        grid.band[:k].copy(),
        grid.dwell[:k].copy(),
        grid.total_combinations,
    )


def _inputs(arrays: dict, zero_cost: bool = False):
    from majors_alts_monitor.regime.search import SearchInputs

    cost = np.zeros_like(arrays["cost"]) if zero_cost else arrays["cost"]
    levels = np.array([1.0, 0.0, 0.0])
    return SearchInputs(levels, np.ones_like(arrays["vscale"]), arrays["book_pnl"], cost)


def _signals(z: np.ndarray, grid, d0: int, d1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """close (n+1, 1), entries and exits (n+1, sets) for decision days d0..d1 (+ one pnl day)."""
    zz = z[d0 : d1 + 2]
    score = zz @ grid.weights.T
    entries = score > (grid.upper + grid.band)[None, :]
    exits = score < (grid.upper - grid.band)[None, :]
    entries[-1], exits[-1] = False, False
    return entries, exits


def _close(arrays: dict, d0: int, d1: int) -> np.ndarray:
    bp = np.nan_to_num(arrays["book_pnl"])
    return np.cumprod(1.0 + bp[d0 : d1 + 2])[:, None]


def _measure(fn, runs: int) -> tuple[list[float], float, float]:
    gc.collect()
    rss0 = _maxrss_mb()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = _maxrss_mb() - rss0
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times, peak / 2**20, rss


def child_kernel(arrays: dict, n_sets: int, n_days: int, runs: int, threads: int = 0) -> dict:
    import numba

    from majors_alts_monitor.regime.search import evaluate_grid

    if threads:
        numba.set_num_threads(threads)

    z, d0 = np.ascontiguousarray(np.nan_to_num(arrays["z"])), int(arrays["first_day"])
    grid, inputs = _grid(arrays, n_sets), _inputs(arrays)
    d1 = d0 + n_days - 1
    evaluate_grid(z, _slice(grid, 4), inputs, d0, d0 + 30)  # warm-up: numba cache
    times, tm, rss = _measure(lambda: evaluate_grid(z, grid, inputs, d0, d1), runs)
    return {
        "sets": grid.size,
        "times": times,
        "tracemalloc_mb": tm,
        "rss_delta_mb": rss,
        "threads": numba.get_num_threads(),
    }


def child_vectorbt(arrays: dict, n_sets: int, n_days: int, runs: int) -> dict:
    import vectorbt as vbt

    z, d0 = np.nan_to_num(arrays["z"]), int(arrays["first_day"])
    grid = _slice(_grid(arrays, max(n_sets, 10)), n_sets)
    d1 = d0 + n_days - 1
    close = _close(arrays, d0, d1)
    t = time.perf_counter()
    entries, exits = _signals(z, grid, d0, d1)
    t_sig = time.perf_counter() - t

    def call(c: np.ndarray, en: np.ndarray, ex: np.ndarray) -> float:
        pf = vbt.Portfolio.from_signals(c, en, ex, fees=FEE, freq="1D", init_cash=1.0)
        return pf.sharpe_ratio()

    call(close[:40], entries[:40, :4], exits[:40, :4])  # warm-up: numba compilation
    times, tm, rss = _measure(lambda: call(close, entries, exits), runs)
    return {
        "sets": grid.size,
        "times": times,
        "tracemalloc_mb": tm,
        "rss_delta_mb": rss,
        "signals_s": t_sig,
        "signals_mb": (entries.nbytes + exits.nbytes) / 2**20,
        "version": vbt.__version__,
    }


def child_check(arrays: dict, n_sets: int, n_days: int) -> float:
    """Largest |Sharpe(kernel) - Sharpe(vectorbt)| over ``n_sets`` sets without costs."""
    import vectorbt as vbt

    from majors_alts_monitor.regime.search import evaluate_grid, sharpe_from_stats

    z, d0 = np.ascontiguousarray(np.nan_to_num(arrays["z"])), int(arrays["first_day"])
    grid = _slice(_grid(arrays, max(n_sets, 10)), n_sets)
    d1 = d0 + n_days - 1
    st, _ = evaluate_grid(z, grid, _inputs(arrays, zero_cost=True), d0, d1)
    sr_k = sharpe_from_stats(st, periods=365)
    en, ex = _signals(z, grid, d0, d1)
    pf = vbt.Portfolio.from_signals(_close(arrays, d0, d1), en, ex, fees=0.0, freq="1D")
    ret = pf.returns().to_numpy()[1:]  # pnl days d0+1 .. d1+1
    mu, sd = ret.mean(axis=0), ret.std(axis=0, ddof=1)
    sr_v = np.where(sd > 1e-12, mu / np.where(sd > 0, sd, 1.0) * np.sqrt(365), 0.0)
    return float(np.max(np.abs(sr_k - sr_v)))


def _in_child(fn, *args):
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=2_000)
    ap.add_argument("--vbt-sets", type=int, default=2_000, help="sets vectorbt runs on")
    ap.add_argument("--runs", type=int, default=11, help="timed calls per side (median)")
    ap.add_argument("--assets", type=int, default=40)
    args = ap.parse_args()

    t = time.perf_counter()
    arrays = _in_child(_prepare_inputs, args.assets, 0)
    print(
        f"prepared a {args.assets}-asset lake in a child process ({time.perf_counter() - t:.1f} s)"
    )
    if int(arrays["first_day"]) + args.days + 1 >= len(arrays["book_pnl"]):
        raise SystemExit(f"the lake has too few days for {args.days} decision days")

    k = _in_child(child_kernel, arrays, args.sets, args.days, args.runs)
    k1 = _in_child(child_kernel, arrays, args.sets, args.days, args.runs, 1)
    v = _in_child(child_vectorbt, arrays, min(args.vbt_sets, k["sets"]), args.days, args.runs)
    check = _in_child(child_check, arrays, 200, args.days)

    k_med, v_med = statistics.median(k["times"]), statistics.median(v["times"])
    k_ns = k_med / (k["sets"] * args.days) * 1e9
    v_ns = v_med / (v["sets"] * args.days) * 1e9
    scale = k["sets"] / v["sets"]
    k_mem = max(k["tracemalloc_mb"], k["rss_delta_mb"])
    v_mem_meas = max(v["tracemalloc_mb"], v["rss_delta_mb"])
    v_mem = v_mem_meas * scale
    print(f"\nworkload: {k['sets']:,} sets x {args.days:,} days, two-state hysteresis")
    print(
        f"project kernel, {k['threads']} threads median {k_med:8.3f} s  {k_ns:8.2f} ns per set-day  "
        f"tracemalloc {k['tracemalloc_mb']:7.1f} MiB  max-RSS delta {k['rss_delta_mb']:7.1f} MiB"
    )
    k1_med = statistics.median(k1["times"])
    k1_ns = k1_med / (k1["sets"] * args.days) * 1e9
    print(
        f"project kernel, 1 thread (vectorbt runs on one) median {k1_med:8.3f} s  "
        f"{k1_ns:8.2f} ns per set-day"
    )
    print(
        f"vectorbt {v['version']:7s} median {v_med:8.3f} s  {v_ns:8.2f} ns per set-day  "
        f"tracemalloc {v['tracemalloc_mb']:7.1f} MiB  max-RSS delta {v['rss_delta_mb']:7.1f} MiB  "
        f"(on {v['sets']:,} sets; its signals, built untimed: {v['signals_s']:.2f} s, "
        f"{v['signals_mb']:.0f} MiB)"
    )
    if scale > 1:
        print(
            f"vectorbt extrapolated linearly to {k['sets']:,} sets: "
            f"{v_med * scale:.2f} s, ~{v_mem:.0f} MiB"
        )
    ratio = v_ns / k_ns
    mem_ratio = k_mem / v_mem if v_mem > 0 else float("nan")
    print(
        f"\nthroughput ratio (vectorbt ns per set-day / kernel's): {ratio:.1f}x  "
        f"target >= 100x -> {'PASS' if ratio >= 100 else 'MISS'}"
    )
    print(
        f"memory ratio (kernel / vectorbt at {k['sets']:,} sets): {mem_ratio:.4f}  "
        f"target <= 0.2 -> {'PASS' if mem_ratio <= 0.2 else 'MISS'}"
    )
    print(f"per core (kernel on 1 thread): {v_ns / k1_ns:.1f}x")
    print(f"check, 200 sets without costs: max |Sharpe kernel - Sharpe vectorbt| = {check:.2e}")


if __name__ == "__main__":
    main()
