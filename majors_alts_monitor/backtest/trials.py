"""The search's trials out of sample: their daily returns, the effective number of independent
trials they amount to, and the variance of their Sharpe ratios and the PBO that deflate the
run's Sharpe (``pipeline.walk_forward`` and ``pipeline.run`` call these)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import stats
from ..config import Config
from ..regime.hysteresis import BALANCED
from ..regime.search import ParamGrid, evaluate_grid, sharpe_from_stats
from ..stats import multiple_testing
from .stages import FoldFit, Prepared, backtest_exposure, z_for

# Float64 elements a chunk of the kernel's per-day output may hold (about 32 MB).
_DAILY_CHUNK_ELEMENTS = 4_000_000


def trial_daily_returns(
    cfg: Config,
    p: Prepared,
    grid: ParamGrid | None,
    fits: list[FoldFit],
    d0: int,
    d1: int,
) -> tuple[np.ndarray, int] | None:
    """Net daily returns over pnl days ``d0+1 .. d1+1`` of the trials the effective number of
    trials is estimated from, shape (days, m), and the raw number of trials; None with one trial.

    Composite: a seeded sample of at most ``stats.effective_n_max_trials`` grid sets, each run
    by the search kernel from ``d0`` (one kernel block per day, in chunks of sets, so memory stays
    near ``days x m`` floats). Jump: every penalty's stitched out-of-sample labels through the
    backtest engine, as the strategy itself."""
    if cfg.regime.mode == "jump":
        codes = [ff.trial_codes for ff in fits if ff.trial_codes is not None]
        if not codes or codes[0].shape[0] < 2:
            return None
        out = np.empty((d1 - d0 + 1, codes[0].shape[0]))
        for j in range(out.shape[1]):
            c = np.full(p.panel.n_days, BALANCED, dtype=np.int8)
            oos = np.zeros(p.panel.n_days, dtype=bool)
            for ff in fits:
                assert ff.trial_codes is not None
                sl = slice(ff.fold.test_start, ff.fold.test_start + ff.trial_codes.shape[1])
                c[sl], oos[sl] = ff.trial_codes[j], True
            e = np.where(oos, p.inputs.levels[c] * p.inputs.vscale, 0.0)
            out[:, j] = backtest_exposure(cfg, p, e).net[d0 + 1 : d1 + 2]
        return out, out.shape[1]
    if grid is None or grid.size < 2 or d1 <= d0:
        return None
    take = multiple_testing.sample_trials(
        grid.size, cfg.stats.effective_n_max_trials, cfg.stats.seed
    )
    return _grid_daily_returns(p, grid, take, d0, d1), grid.size


def _grid_daily_returns(
    p: Prepared, grid: ParamGrid, take: np.ndarray, d0: int, d1: int
) -> np.ndarray:
    """The kernel's net daily returns of the grid sets ``take`` over pnl days ``d0+1 ..
    d1+1``, (days, len(take)), in chunks of sets."""
    span = d1 - d0 + 1
    out = np.empty((span, take.size))
    chunk = max(1, _DAILY_CHUNK_ELEMENTS // (2 * span))
    z = z_for(p)
    for lo in range(0, take.size, chunk):
        ix = take[lo : lo + chunk]
        sub = replace(
            grid,
            weights=np.ascontiguousarray(grid.weights[ix]),
            lower=np.ascontiguousarray(grid.lower[ix]),
            upper=np.ascontiguousarray(grid.upper[ix]),
            band=np.ascontiguousarray(grid.band[ix]),
            dwell=np.ascontiguousarray(grid.dwell[ix]),
        )
        _, blocks = evaluate_grid(z, sub, p.inputs, d0, d1, span)
        out[:, lo : lo + ix.size] = blocks[:, :, 0].T
    return out


@dataclass(frozen=True)
class TrialFamily:
    """The out-of-sample net daily returns of the trials the search chose among, over pnl days
    ``d0+1 .. d1+1``: the family of the selection tests (``stats.selection``). Every trial when
    there are at most ``stats.spa_max_trials`` of them, else a seeded sample."""

    returns: np.ndarray  # (days, m)
    trials: np.ndarray  # the trial (grid set, jump penalty) of each column, ascending
    n_trials: int  # the raw number of trials the search chose among

    @property
    def sampled(self) -> bool:
        return self.trials.size < self.n_trials


def trial_family(
    cfg: Config, p: Prepared, grid: ParamGrid | None, fits: list[FoldFit], d0: int, d1: int
) -> TrialFamily | None:
    """The selection tests' family (None with one trial: HMM, k-means). Composite: every grid
    set, or a seeded sample of ``stats.spa_max_trials`` of them; jump: every penalty."""
    if cfg.regime.mode == "jump":
        got = trial_daily_returns(cfg, p, grid, fits, d0, d1)
        if got is None:
            return None
        return TrialFamily(got[0], np.arange(got[0].shape[1], dtype=np.int64), got[1])
    if grid is None or grid.size < 2 or d1 <= d0:
        return None
    take = multiple_testing.sample_trials(grid.size, cfg.stats.spa_max_trials, cfg.stats.seed)
    return TrialFamily(_grid_daily_returns(p, grid, take, d0, d1), take, grid.size)


def effective_trial_statistics(
    cfg: Config, p: Prepared, grid: ParamGrid | None, fits: list[FoldFit], d0: int, d1: int
) -> multiple_testing.EffectiveTrials | None:
    """The effective number of independent trials over the out-of-sample span (None: 1 trial).
    Its sample of at most ``stats.effective_n_max_trials`` trials is evaluated on its own, not
    read from the selection tests' family: the same kernel series, but a different memory
    layout could move the correlations' last bits (BLAS), and this figure is not to move."""
    got = trial_daily_returns(cfg, p, grid, fits, d0, d1)
    if got is None:
        return None
    return multiple_testing.effective_trials(got[0], got[1])


def trial_statistics(
    cfg: Config,
    p: Prepared,
    grid: ParamGrid | None,
    d0: int,
    d1: int,
    fits: list[FoldFit] | None = None,
) -> tuple[float, float, np.ndarray | None]:
    """Variance of the trials' per-period Sharpe over the out-of-sample decisions ``[d0, d1]``
    (the same span and length as the Sharpe being deflated), PBO by CSCV over that span, and
    each trial's Sharpe there. HMM and k-means have one trial: variance 0, PBO nan. The jump
    model's trials are its penalties, each stitched out of sample from ``fits``."""
    if cfg.regime.mode == "jump":
        got = trial_daily_returns(cfg, p, None, fits or [], d0, d1)
        if got is None:
            return 0.0, float("nan"), None
        x = got[0]
        sr = np.array([stats.sharpe(x[:, j], periods=1) for j in range(x.shape[1])])
        sr = np.where(np.isfinite(sr), sr, 0.0)
        nb = cfg.stats.pbo_blocks
        pbo = stats.pbo(x, nb) if x.shape[0] >= 2 * nb else float("nan")
        return float(np.var(sr, ddof=1)), pbo, sr
    if grid is None or grid.size < 2 or d1 <= d0:
        return 0.0, float("nan"), None
    nb = cfg.stats.pbo_blocks
    span = d1 - d0 + 1
    st, blocks = evaluate_grid(z_for(p), grid, p.inputs, d0, d1, min(nb, span))
    sr = sharpe_from_stats(st, periods=1)
    var = float(np.var(sr, ddof=1))
    pbo = float("nan")
    if span >= 2 * nb:
        cnt = np.bincount((np.arange(span) * nb) // span, minlength=nb).astype(np.float64)
        cnt = np.ascontiguousarray(np.broadcast_to(cnt[:, None], (nb, grid.size)))
        pbo = stats.pbo_from_blocks(
            np.ascontiguousarray(blocks[:, :, 0].T), np.ascontiguousarray(blocks[:, :, 1].T), cnt
        )
    return var, pbo, sr
