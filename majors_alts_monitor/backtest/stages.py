"""The frozen records the pipeline's stages hand each other, and two small helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from ..config import Config
from ..lake.data_io import LakeData
from ..market.beta_neutral import Betas, Book
from ..market.features import FeatureSet
from ..market.panel import MarketPanel
from ..market.thin import Tradeable
from ..market.universe import Universe
from ..regime.hysteresis import BALANCED
from ..regime.search import SearchInputs
from .engine import BacktestResult, run_backtest
from .folds import Fold

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Market:
    """The config-heavy part of ``Prepared`` (lake, panel, universe, features, betas, book):
    configurations that differ only in costs, vol targeting, exposures or the search reuse it."""

    lake: LakeData
    panel: MarketPanel
    universe: Universe
    features: FeatureSet
    betas: Betas
    book: Book
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    lake: LakeData
    panel: MarketPanel
    universe: Universe
    features: FeatureSet
    score_features: tuple[str, ...]
    betas: Betas
    book: Book
    base: BacktestResult  # the always-held book at exposure 1, every day
    inputs: SearchInputs
    first_day: int  # first decision day after burn-in
    warnings: tuple[str, ...]
    # which days the book may be traded (thin basket, a major without price); None: every day
    tradeable: Tradeable | None = None


@dataclass(frozen=True)
class FoldFit:
    fold: Fold
    params: dict[str, object]
    score: np.ndarray  # test decisions (and the run's last day for the last fold)
    codes: np.ndarray
    trial_sharpe: np.ndarray  # per-period (not annualised) train Sharpe of every trial
    best: int  # index of the chosen trial
    # along the stored days (the state machine runs from train_start; see regime_age)
    days_in_regime: np.ndarray | None = None
    dwell_left: np.ndarray | None = None
    weights: np.ndarray | None = None  # composite: the chosen weights over score_features, exact
    trial_codes: np.ndarray | None = None  # (trials, len(codes)): every trial's labels (jump)
    # (len(codes), score features): each feature's part of the score (forecast mode)
    contrib: np.ndarray | None = None


@dataclass(frozen=True)
class RunResult:
    timeline: pl.DataFrame
    features: pl.DataFrame
    pnl: pl.DataFrame
    equity: pl.DataFrame
    kpis: dict
    regime_metrics: pl.DataFrame
    betas: pl.DataFrame
    folds: list[dict]
    trials: pl.DataFrame
    manifest: dict
    warnings: tuple[str, ...]
    # exactly what the run writes to signals_today.json: built from the run's own last-day
    # labels (the timeline's last row), never from a second fit
    signal: dict = field(default_factory=dict)
    # per-asset gross P&L of the held book over the out-of-sample days (pnl_attribution.csv)
    attribution: pl.DataFrame | None = None


@dataclass(frozen=True)
class Stitched:
    """The out-of-sample regimes and the backtests of the gated and always-on books. The
    always-on book's backtest is run when first read (``backtest_bench(bench_exposure)``): the
    robustness re-runs read only the gated book's. ``backtest_bench`` holds the ``Prepared``
    arrays it reads, so a pickled ``Stitched`` carries them too (tens of MB on the demo; the
    sweeps send rows, not this)."""

    codes: np.ndarray  # per decision day
    score: np.ndarray
    fold_of: np.ndarray
    exposure: np.ndarray
    bench_exposure: np.ndarray
    strat: BacktestResult
    pnl_idx: np.ndarray  # pnl days of the out-of-sample span
    backtest_bench: Callable[[np.ndarray], BacktestResult] = field(repr=False, compare=False)

    @cached_property
    def bench(self) -> BacktestResult:
        return self.backtest_bench(self.bench_exposure)


def noop(_: str) -> None:
    return None


def iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))


def z_for(p: Prepared) -> np.ndarray:
    return p.features.z[:, [p.features.column(f) for f in p.score_features]]


def raw_for(p: Prepared) -> np.ndarray:
    """The score features' raw values (the forecast mode scales them on its training window)."""
    return p.features.raw[:, [p.features.column(f) for f in p.score_features]]


def stitch_labels(n: int, fits: list[FoldFit]) -> tuple[np.ndarray, ...]:
    """Per-day regime code, score, fold, days in regime and dwell left from the folds' test
    labels (BALANCED, NaN and -1 outside every test window)."""
    codes = np.full(n, BALANCED, dtype=np.int8)
    score = np.full(n, np.nan)
    fold_of = np.full(n, -1, dtype=np.int64)
    days = np.full(n, -1, dtype=np.int64)
    left = np.full(n, -1, dtype=np.int64)
    for ff in fits:
        sl = slice(ff.fold.test_start, ff.fold.test_start + len(ff.codes))
        codes[sl], score[sl], fold_of[sl] = ff.codes, ff.score, ff.fold.index
        if ff.days_in_regime is not None and ff.dwell_left is not None:
            days[sl], left[sl] = ff.days_in_regime, ff.dwell_left
    return codes, score, fold_of, days, left


def param_in_force(fits: list[FoldFit], n: int, key: str) -> np.ndarray:
    """Per day, the fold parameter ``key`` of the model that labelled the day (NaN outside
    the test windows or when the model has no such parameter)."""
    out = np.full(n, np.nan)
    for ff in fits:
        if key in ff.params:
            end = ff.fold.test_start + len(ff.codes)
            out[ff.fold.test_start : end] = float(ff.params[key])  # type: ignore[arg-type]
    return out


def backtest_exposure(cfg: Config, p: Prepared, exposure: np.ndarray) -> BacktestResult:
    """The book scaled by a per-decision exposure, through the backtest engine."""
    uni, fund = p.universe, (p.panel.funding if p.panel.has_funding else None)
    w = p.book.weights * exposure[:, None]
    return run_backtest(
        w,
        p.panel.ret,
        fund,
        uni.median_volume,
        cfg.costs,
        basket=uni.basket,
        majors=[uni.btc, uni.eth],
    )
