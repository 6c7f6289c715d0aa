"""The frozen records the pipeline's stages hand each other, and two small helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from .backtest import BacktestResult
from .beta_neutral import Betas, Book
from .data_io import LakeData
from .features import FeatureSet
from .panel import MarketPanel
from .regime.search import SearchInputs
from .universe import Universe
from .walkforward import Fold

Progress = Callable[[str], None]


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


@dataclass(frozen=True)
class FoldFit:
    fold: Fold
    params: dict[str, object]
    score: np.ndarray  # test decisions (and the run's last day for the last fold)
    codes: np.ndarray
    trial_sharpe: np.ndarray  # per-period (not annualised) train Sharpe of every trial
    best: int  # index of the chosen trial


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
    # per-asset gross P&L of the held book over the out-of-sample days (pnl_attribution.csv)
    attribution: pl.DataFrame | None = None


@dataclass(frozen=True)
class Stitched:
    """The out-of-sample regimes and the backtests of the gated and always-on books."""

    codes: np.ndarray  # per decision day
    score: np.ndarray
    fold_of: np.ndarray
    exposure: np.ndarray
    bench_exposure: np.ndarray
    strat: BacktestResult
    bench: BacktestResult
    pnl_idx: np.ndarray  # pnl days of the out-of-sample span


def noop(_: str) -> None:
    return None


def iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))


def z_for(p: Prepared) -> np.ndarray:
    return p.features.z[:, [p.features.column(f) for f in p.score_features]]
