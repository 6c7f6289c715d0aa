"""Shared helpers for the benchmark scripts: a cached synthetic lake, timing and peak memory."""

from __future__ import annotations

import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

CACHE = Path(__file__).resolve().parents[1] / "cache" / "bench"


def synthetic_lake(n_assets: int, start: date, end: date, partitioned: bool = True) -> Path:
    out = CACHE / f"lake_{n_assets}_{start}_{end}_{int(partitioned)}"
    if not (out / "lake").is_dir():
        t = time.time()
        write_lake(
            generate(SyntheticSpec(n_assets=n_assets, start=start, end=end, seed=1)),
            out,
            partitioned=partitioned,
        )
        print(f"  (generated {out.name} in {time.time() - t:.1f} s)", file=sys.stderr)
    return out / "lake"


def measure(fn: Callable[[], object], repeats: int = 3) -> tuple[float, float, float]:
    """(median seconds, tracemalloc peak MB of one run, process max RSS MB so far)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return statistics.median(times), peak / 2**20, rss
