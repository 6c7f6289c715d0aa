"""What runs on a Dask worker: one sweep point, with per-process caches.

Each worker process keeps the last lake it read, every asset on narrow columns (``lake.wide``,
keyed by the lake's path, its fingerprint, the reader's settings and the window; a point with
another ``universe`` section keeps other candidates' rows of it without reading the lake
again), the last ``Market`` built from it (keyed by the hash of the ``data``, ``universe``,
``features`` and ``book`` sections) and the last ``Prepared`` (that key plus ``costs``,
``vol_target``, ``regime.exposure``, ``regime.grid.score_features`` and the burn-in). One
entry each: a worker's memory stays at one run's whatever the number of points,
and points sent in groups that share a key (the runner's default order) reuse them.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from .. import clock
from ..config import Config
from ..errors import MonitorError

MARKET_SECTIONS = ("data", "universe", "features", "book")
PREPARED_SECTIONS = ("costs", "vol_target")


@dataclass(frozen=True)
class PointTask:
    point: int
    config: Config
    start: date
    end: date
    reports_dir: Path | None = None  # write the point's full report set under this folder
    numba_threads: int | None = None
    today: date | None = None  # the client's clock (``--today``), the same on every worker


@dataclass
class PointOutcome:
    point: int
    row: dict[str, Any]  # the deterministic result columns (no timings)
    trial_sharpe: np.ndarray | None  # per-period Sharpe of every trial over the OOS span
    seconds: float = 0.0
    pid: int = 0
    cache: dict[str, bool] = field(default_factory=dict)
    peak_rss_mb: float = 0.0  # the worker process's high-water mark after this point


class _One:
    """A cache of one entry: a new key replaces (and frees) the previous value."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.value: Any = None
        self.misses = 0

    def get(self, key: str, build: Any) -> tuple[Any, bool]:
        if self.key == key:
            return self.value, True
        self.key, self.value = None, None  # free the old entry before building the new one
        self.value = build()
        self.key = key
        self.misses += 1
        return self.value, False


_LAKE, _MARKET, _PREPARED = _One(), _One(), _One()


def cache_stats() -> dict[str, int]:
    """How many times this process read a lake, built a market, prepared inputs."""
    return {"lake_reads": _LAKE.misses, "markets": _MARKET.misses, "prepares": _PREPARED.misses}


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_keys(cfg: Config, start: date, end: date, fingerprint: dict) -> tuple[str, str, str]:
    """(lake key, market key, prepared key) of a configuration."""
    r = cfg.resolved()
    lake = _digest(
        {
            "fingerprint": fingerprint,
            "duckdb": str(cfg.paths.duckdb),
            "reader": [r["universe"]["aliases"], r["universe"]["exclude"], r["data"]],
            "window": [start.isoformat(), end.isoformat()],
        }
    )
    market = _digest([lake, {k: r[k] for k in MARKET_SECTIONS}])
    prepared = _digest(
        [
            market,
            {k: r[k] for k in PREPARED_SECTIONS},
            r["regime"]["exposure"],
            r["regime"]["grid"]["score_features"],
            cfg.burn_in_days(),
        ]
    )
    return lake, market, prepared


def _set_threads(n: int | None) -> None:
    if n is None:
        return
    import numba

    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def run_point(task: PointTask) -> PointOutcome:
    """Run one point; a failure is returned as a row with ``status = error`` (never raised)."""
    from ..scipy_blas import load_cython_blas
    from .results import error_row

    load_cython_blas()  # before numba's first call: its BLAS probe imports scipy.linalg
    t0 = time.perf_counter()
    _set_threads(task.numba_threads)
    cache: dict[str, bool] = {}
    try:
        with clock.pinned(task.today):
            row, sr = _run(task, cache)
    except MonitorError as err:
        row, sr = error_row(f"{type(err).__name__}: {err}"), None
    except Exception as err:  # noqa: BLE001 - a failed point is recorded, the sweep continues
        tb = traceback.extract_tb(err.__traceback__)[-1]
        where = f" at {Path(tb.filename).name}:{tb.lineno}"
        row, sr = error_row(f"{type(err).__name__}: {err}{where}"), None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return PointOutcome(task.point, row, sr, time.perf_counter() - t0, os.getpid(), cache, rss)


def _run(task: PointTask, cache: dict[str, bool]) -> tuple[dict[str, Any], np.ndarray | None]:
    from .. import pipeline
    from ..lake.wide import read_wide
    from ..report.assembly import assemble_kpis
    from .results import ok_row

    cfg = task.config
    reader = pipeline.make_reader(cfg)
    lake_key, market_key, prep_key = cache_keys(cfg, task.start, task.end, reader.fingerprint())
    wide, cache["lake"] = _LAKE.get(lake_key, lambda: read_wide(reader, task.start, task.end))

    def market_of() -> Any:  # the candidates' rows for this universe section, then the market
        lake = pipeline.scope_lake(cfg, wide)
        s, e, _ = pipeline.effective_window(lake, task.start, task.end)
        return pipeline.build_market(cfg, lake, s, e)

    market, cache["market"] = _MARKET.get(market_key, market_of)
    lake = market.lake
    eff_start, eff_end, _ = pipeline.effective_window(lake, task.start, task.end)
    p, cache["prepared"] = _PREPARED.get(prep_key, lambda: pipeline.prepare_from(cfg, market))
    wf = pipeline.walk_forward(cfg, p, eff_start, eff_end)
    kpis, _ = assemble_kpis(cfg, p, wf.fits, wf.stitched, wf.grid, wf.var_trials, wf.pbo)
    r = wf.stitched.strat.net[wf.stitched.pnl_idx]
    row = ok_row(cfg, kpis, r, len(wf.folds), eff_start, eff_end)
    if task.reports_dir is not None:
        _write_reports(cfg, task, lake, p)
    return row, wf.trial_sharpe


def _write_reports(cfg: Config, task: PointTask, lake: Any, p: Any) -> None:
    from .. import pipeline
    from ..publish.layout import writing_outputs
    from ..report.outputs import render_run_files
    from ..report.summary import dashboard_html

    assert task.reports_dir is not None
    res = pipeline.run(cfg, task.start, task.end, lake=lake, prepared=p)
    files = render_run_files(
        res,
        dashboard_html=dashboard_html(res, cfg),  # plotly.js kept in the sweep root's cache
        with_signal=False,  # a sweep point is not tomorrow's signal
    )
    lakes = [cfg.paths.data_lake]
    with writing_outputs(task.reports_dir, lakes=lakes, command="sweep point") as out:
        out.publish_run(files, command="sweep point")
