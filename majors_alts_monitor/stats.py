"""Statistics of a daily-returns backtest: KPIs, bootstrap, deflated Sharpe, PBO, betas.

Pure numpy, with the normal cdf and quantile from the standard library (``math.erf``/``erfc``
and ``statistics.NormalDist``'s Wichura AS241, within 1e-14 and 1e-15, relative, of
``scipy.special``'s ``ndtr``/``ndtri``, without scipy's import time) and the compiled
resamples' statistics (``bootstrap_kernel``, numpy's bits); no file I/O. The stationary
bootstrap's draws live in ``resample``, the PBO by CSCV in ``cscv`` and the realised betas in
``realized_betas``; their public functions are re-exported here.

Conventions (``docs/OUTPUTS.md``, binding): simple daily returns as fractions of equity,
``PERIODS = 365`` periods a year, no risk-free rate.

- ``sharpe = mean(r) / std(r, ddof=1) * sqrt(365)``
- ``sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(365)``
- ``max_drawdown = min(equity / cummax(equity) - 1)``, equity compounding from 1.0 *before* the
  first row, and that 1.0 counts as a peak
- ``cagr = equity_end ** (365 / days) - 1``; ``calmar = cagr / |max_drawdown|``
- ``ann_return = mean(r) * 365``; ``ann_vol = std(r, ddof=1) * sqrt(365)``
- ``hit_rate`` = positive days / non-zero days (quantstats' ``win_rate``)

These agree with quantstats 0.0.86 and empyrical-reloaded with ``periods=365`` (the tests pin
them). Missing values: the scalar statistics drop non-finite returns (as quantstats and
empyrical's ``nanmean``/``nanstd`` do); ``equity_curve`` and ``drawdown`` keep the length and
treat a missing day as flat (return 0), as both libraries do when they compound.

Degenerate inputs (empty, zero variance, no downside, no drawdown) give ``nan`` (``0.0`` for the
maximum drawdown of a series that never draws down); nothing here raises on data or emits a
``RuntimeWarning``. Arguments of the wrong shape or invalid parameters raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from .arrays import as_1d as _as_1d
from .bootstrap_kernel import boot_edge_sums, boot_sharpe
from .cscv import block_stats, cscv_logits, pbo, pbo_from_blocks
from .realized_betas import realized_betas, rolling_realized_betas
from .resample import _bootstrap_draws, bootstrap_reuse, stationary_bootstrap_indices

__all__ = [
    "PERIODS",
    "block_stats",
    "bootstrap_reuse",
    "cagr",
    "cscv_logits",
    "deflated_sharpe",
    "drawdown",
    "equity_curve",
    "expected_max_sharpe",
    "norm_cdf",
    "norm_ppf",
    "kpis",
    "max_drawdown",
    "pbo",
    "pbo_from_blocks",
    "probabilistic_sharpe",
    "realized_betas",
    "regime_edge",
    "regime_metrics",
    "rolling_realized_betas",
    "sharpe",
    "sharpe_ci",
    "sharpe_moments",
    "sortino",
    "stationary_bootstrap_indices",
]

_NORMAL = NormalDist()
_SQRT_HALF = math.sqrt(0.5)


def norm_cdf(z: float) -> float:
    """Standard normal cdf, Cephes' ``ndtr`` formulation on the C library's ``erf``/``erfc``
    (``erfc`` away from 0, so the lower tail keeps its relative accuracy); nan for nan."""
    x = z * _SQRT_HALF
    if abs(x) < _SQRT_HALF:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(abs(x))
    return 1.0 - y if x > 0.0 else y


def norm_ppf(p: float) -> float:
    """Standard normal quantile: -inf at 0, inf at 1, nan outside [0, 1] or for nan."""
    if not 0.0 <= p <= 1.0:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return _NORMAL.inv_cdf(p)


PERIODS = 365
"""Periods (days) per year: crypto trades every calendar day."""

_EULER_GAMMA = 0.5772156649015329

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _finite(r: npt.ArrayLike) -> FloatArray:
    """One-dimensional float64 copy of ``r`` without its non-finite values."""
    a = _as_1d(r)
    return a[np.isfinite(a)]


def _is_constant(a: FloatArray) -> bool:
    # A sample std of identical values can come out as a 1e-18 residue instead of 0;
    # dividing by it would turn an undefined ratio into a huge number (empyrical does the same).
    return bool(a.size == 0 or a.max() == a.min())


def _std1(a: FloatArray) -> float:
    """Sample standard deviation (ddof=1) of a finite array; nan below two values, 0 if flat."""
    if a.size < 2:
        return math.nan
    if _is_constant(a):
        return 0.0
    return float(np.std(a, ddof=1))


# --------------------------------------------------------------------------------------------
# equity, drawdown and the KPIs
# --------------------------------------------------------------------------------------------


def equity_curve(r: npt.ArrayLike) -> FloatArray:
    """End-of-day equity of 1.0 invested before the first row (missing returns count as 0)."""
    a = _as_1d(r)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.cumprod(1.0 + np.where(np.isfinite(a), a, 0.0))


def drawdown(r: npt.ArrayLike) -> FloatArray:
    """End-of-day drawdown (<= 0) from the running peak, the initial 1.0 counting as a peak."""
    eq = equity_curve(r)
    peak = np.maximum.accumulate(np.maximum(eq, 1.0)) if eq.size else eq
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return eq / peak - 1.0


def max_drawdown(r: npt.ArrayLike) -> float:
    """Most negative drawdown; 0.0 for a series that never draws down, nan for an empty one."""
    a = _finite(r)
    if a.size == 0:
        return math.nan
    dd = drawdown(a)
    m = float(np.min(dd))
    return min(m, 0.0) if not math.isnan(m) else math.nan


def sharpe(r: npt.ArrayLike, periods: int = PERIODS) -> float:
    """Annualised Sharpe ratio ``mean / std(ddof=1) * sqrt(periods)``; nan if flat or < 2 days."""
    a = _finite(r)
    sd = _std1(a)
    if not sd > 0.0:
        return math.nan
    return float(np.mean(a) / sd * math.sqrt(periods))


def sortino(r: npt.ArrayLike, periods: int = PERIODS) -> float:
    """Annualised Sortino ratio ``mean / sqrt(mean(min(r, 0)^2)) * sqrt(periods)``.

    nan below two days or without a negative day.
    """
    a = _finite(r)
    if a.size < 2:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(a, 0.0) ** 2)))
    if not downside > 0.0:
        return math.nan
    return float(np.mean(a) / downside * math.sqrt(periods))


def cagr(r: npt.ArrayLike, periods: int = PERIODS) -> float:
    """Compound annual growth rate ``equity_end ** (periods / days) - 1``; nan if empty."""
    a = _finite(r)
    if a.size == 0:
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        end = float(np.prod(1.0 + a))
    if not np.isfinite(end) or end < 0.0:
        return math.nan
    try:
        return end ** (periods / a.size) - 1.0
    except OverflowError:
        return math.inf


def _ann_return(a: FloatArray, periods: int) -> float:
    return float(np.mean(a)) * periods if a.size else math.nan


def _ann_vol(a: FloatArray, periods: int) -> float:
    return _std1(a) * math.sqrt(periods)


def _hit_rate(a: FloatArray) -> float:
    nz = a[a != 0.0]
    return float(np.mean(nz > 0.0)) if nz.size else math.nan


def _calmar(c: float, mdd: float) -> float:
    if not (mdd < 0.0) or not np.isfinite(c):
        return math.nan
    return c / abs(mdd)


def _mean_or_nan(x: npt.ArrayLike | None) -> float:
    if x is None:
        return math.nan
    a = _finite(x)
    return float(np.mean(a)) if a.size else math.nan


def _sum_or_nan(x: npt.ArrayLike | None) -> float:
    if x is None:
        return math.nan
    return float(np.sum(_finite(x)))


def kpis(
    r: npt.ArrayLike,
    *,
    turnover: npt.ArrayLike | None = None,
    fees: npt.ArrayLike | None = None,
    slippage: npt.ArrayLike | None = None,
    funding: npt.ArrayLike | None = None,
    exposure: npt.ArrayLike | None = None,
    periods: int = PERIODS,
) -> dict[str, float]:
    """The ``kpis.json`` block of one return series.

    Keys: cagr, ann_return, ann_vol, sharpe, sortino, max_drawdown, calmar, hit_rate,
    avg_daily_turnover (mean), total_fees, total_slippage, total_funding (sums) and
    exposure_share (share of days with ``|exposure| > 0``). An optional input left out gives
    nan for its key.
    """
    a = _finite(r)
    c = cagr(a, periods)
    mdd = max_drawdown(a)
    if exposure is None:
        exposure_share = math.nan
    else:
        e = _finite(exposure)
        exposure_share = float(np.mean(np.abs(e) > 0.0)) if e.size else math.nan
    return {
        "cagr": c,
        "ann_return": _ann_return(a, periods),
        "ann_vol": _ann_vol(a, periods),
        "sharpe": sharpe(a, periods),
        "sortino": sortino(a, periods),
        "max_drawdown": mdd,
        "calmar": _calmar(c, mdd),
        "hit_rate": _hit_rate(a),
        "avg_daily_turnover": _mean_or_nan(turnover),
        "total_fees": _sum_or_nan(fees),
        "total_slippage": _sum_or_nan(slippage),
        "total_funding": _sum_or_nan(funding),
        "exposure_share": exposure_share,
    }


# --------------------------------------------------------------------------------------------
# stationary bootstrap
# --------------------------------------------------------------------------------------------


def sharpe_ci(
    r: npt.ArrayLike,
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    alpha: float = 0.05,
    seed: int = 0,
    periods: int = PERIODS,
) -> tuple[float, float]:
    """Percentile ``1 - alpha`` interval of the annualised Sharpe, by stationary bootstrap.

    Each resample's Sharpe is numpy's ``mean / std(ddof=1) * sqrt(periods)`` of ``a[idx]``
    (nan for a flat one), computed by the compiled ``bootstrap_kernel.boot_sharpe`` to the bit
    without forming ``a[idx]``.
    """
    a = _finite(r)
    n = a.size
    if n < 2 or n_boot < 1 or _is_constant(a):
        return (math.nan, math.nan)
    parts = []
    for idx in _bootstrap_draws(n, n_boot, mean_block, seed):
        parts.append(boot_sharpe(a, idx, periods))
    boot = np.concatenate(parts)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


# --------------------------------------------------------------------------------------------
# probabilistic and deflated Sharpe (Bailey & Lopez de Prado)
# --------------------------------------------------------------------------------------------


def sharpe_moments(r: npt.ArrayLike) -> tuple[float, int, float, float]:
    """``(per-period Sharpe, n_obs, skew, kurt)`` of a series, as the DSR functions want them.

    ``kurt`` is the non-excess (Pearson) kurtosis, 3 for a normal: note that
    ``scipy.stats.kurtosis`` returns the excess by default. Moments are the biased (population)
    ones, as in Bailey & Lopez de Prado. nan where undefined.
    """
    a = _finite(r)
    n = int(a.size)
    if n < 2 or _is_constant(a):
        return (math.nan, n, math.nan, math.nan)
    d = a - a.mean()
    m2 = float(np.mean(d**2))
    skew = float(np.mean(d**3)) / m2**1.5
    kurt = float(np.mean(d**4)) / m2**2
    return (float(a.mean() / np.std(a, ddof=1)), n, skew, kurt)


def expected_max_sharpe(n_trials: float, var_trials: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` skill-less trials (the DSR's ``SR0``).

    ``SR0 = sqrt(V) * ((1 - g) * Z(1 - 1/N) + g * Z(1 - 1/(N e)))`` with ``g`` the
    Euler-Mascheroni constant and ``Z`` the standard normal quantile (Bailey & Lopez de Prado
    2014, eq. 2). ``var_trials`` is the variance of the trials' Sharpe ratios in the same
    (per-period) units as the result. 0.0 for a single trial. ``n_trials`` may be fractional
    (an effective number of trials); the approximation turns negative just above one trial,
    where the expected maximum of at least one null trial is floored at 0.
    """
    if not (var_trials >= 0.0) or not n_trials >= 1:
        return math.nan
    if n_trials == 1:
        return 0.0
    z1 = norm_ppf(1.0 - 1.0 / n_trials)
    z2 = norm_ppf(1.0 - 1.0 / (n_trials * math.e))
    sr0 = math.sqrt(var_trials) * ((1.0 - _EULER_GAMMA) * z1 + _EULER_GAMMA * z2)
    return float(max(sr0, 0.0))


def probabilistic_sharpe(
    sr: float, n_obs: int, skew: float, kurt: float, sr_benchmark: float = 0.0
) -> float:
    """Probability that the true Sharpe exceeds ``sr_benchmark`` (Bailey & Lopez de Prado 2012).

    ``PSR = Phi((sr - sr*) sqrt(n - 1) / sqrt(1 - skew sr + (kurt - 1) / 4 sr^2))``, all Sharpe
    ratios per period (not annualised), ``kurt`` non-excess (normal = 3).
    """
    vals = (sr, skew, kurt, sr_benchmark)
    if n_obs < 2 or not all(np.isfinite(v) for v in vals):
        return math.nan
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if not denom > 0.0:
        return math.nan
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1.0) / math.sqrt(denom)
    return norm_cdf(float(z))


def deflated_sharpe(
    sr: float,
    n_obs: int,
    skew: float,
    kurt: float,
    *,
    n_trials: float,
    var_trials: float,
) -> float:
    """Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): PSR against ``SR0``.

    ``sr`` per period (NOT annualised); ``kurt`` non-excess; ``var_trials`` the variance of the
    per-period Sharpe ratios of the ``n_trials`` trials. Returns a probability in [0, 1].
    """
    sr0 = expected_max_sharpe(n_trials, var_trials)
    return probabilistic_sharpe(sr, n_obs, skew, kurt, sr_benchmark=sr0)


# --------------------------------------------------------------------------------------------
# regimes
# --------------------------------------------------------------------------------------------


def regime_edge(
    r: npt.ArrayLike,
    in_regime: npt.ArrayLike,
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
) -> tuple[float, float]:
    """``(edge, p_value)``: mean return in the regime minus mean return outside it.

    The two-sided p-value comes from a stationary bootstrap of the (return, label) pairs,
    re-centred under the null: ``p = mean(|edge* - edge| >= |edge|)`` over the resamples that
    hold days of both kinds. Days with a missing return are dropped. nan when either side is
    empty.
    """
    return regime_edges(r, [in_regime], n_boot=n_boot, mean_block=mean_block, seed=seed)[0]


def regime_edges(
    r: npt.ArrayLike,
    in_regimes: Sequence[npt.ArrayLike],
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """``regime_edge`` of ``r`` for each label vector in ``in_regimes``, in one pass: the
    resampled days depend only on the seed and the number of finite returns, the same for every
    label, so the indices are drawn once and each label is evaluated on them (the results are
    those of one ``regime_edge`` call per label). The resamples' sums (all days, labelled days
    and their count) are numpy's row sums of ``a[idx]`` and ``where(label[idx], a[idx], 0)``,
    computed by the compiled ``bootstrap_kernel.boot_edge_sums`` to the bit without forming
    them."""
    a = _as_1d(r)
    labs = []
    for in_regime in in_regimes:
        lab = np.asarray(in_regime, dtype=bool).reshape(-1)
        if lab.shape != a.shape:
            raise ValueError("r and in_regime must have the same length")
        labs.append(lab)
    ok = np.isfinite(a)
    a = a[ok]
    n = a.size
    out: list[tuple[float, float]] = [(math.nan, math.nan)] * len(labs)
    todo: list[tuple[int, npt.NDArray[np.bool_], float]] = []
    for i, lab in enumerate(labs):
        lab = lab[ok]
        n_in = int(lab.sum())
        if n_in == 0 or n_in == n:
            continue
        edge = float(np.mean(a[lab]) - np.mean(a[~lab]))
        out[i] = (edge, math.nan)
        if n_boot >= 1:
            todo.append((i, lab, edge))
    if not todo:
        return out
    hits = [0] * len(todo)
    valid = [0] * len(todo)
    labels = np.stack([lab for _, lab, _ in todo])
    for idx in _bootstrap_draws(n, n_boot, mean_block, seed):
        s_all, k_ins, s_ins = boot_edge_sums(a, idx, labels)
        for j, (_, _, edge) in enumerate(todo):
            k_in = k_ins[j]
            s_in = s_ins[j]
            both = (k_in > 0) & (k_in < n)
            with np.errstate(divide="ignore", invalid="ignore"):
                e_star = s_in / k_in - (s_all - s_in) / (n - k_in)
            dev = np.abs(e_star[both] - edge)
            hits[j] += int(np.count_nonzero(dev >= abs(edge)))
            valid[j] += int(both.sum())
    for j, (i, _, edge) in enumerate(todo):
        out[i] = (edge, hits[j] / valid[j] if valid[j] else math.nan)
    return out


def regime_metrics(
    r_book: npt.ArrayLike,
    regimes: npt.ArrayLike,
    r_strategy: npt.ArrayLike,
    regime_names: Sequence[str],
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
    periods: int = PERIODS,
) -> list[dict]:
    """One row of ``regime_metrics.csv`` per regime name, in the order given.

    Statistics of the always-held book ``r_book`` on the days of each regime (its drawdown
    compounds those days only): regime, days, share, mean_daily_return, ann_return, ann_vol,
    sharpe, hit_rate, max_drawdown; strategy_sharpe (Sharpe of ``r_strategy`` on those days);
    edge and edge_p_value (``regime_edge`` of the book in the regime against outside it).
    """
    book = _as_1d(r_book, "r_book")
    strat = _as_1d(r_strategy, "r_strategy")
    reg = np.asarray(regimes).reshape(-1)
    if not (book.shape == strat.shape == reg.shape):
        raise ValueError("r_book, regimes and r_strategy must have the same length")
    total = reg.size
    rows = []
    masks = [reg == name for name in regime_names]
    edges = regime_edges(book, masks, n_boot=n_boot, mean_block=mean_block, seed=seed)
    for name, mask, (edge, p) in zip(regime_names, masks, edges, strict=True):
        days = int(mask.sum())
        sub = _finite(book[mask])
        rows.append(
            {
                "regime": str(name),
                "days": days,
                "share": days / total if total else math.nan,
                "mean_daily_return": float(np.mean(sub)) if sub.size else math.nan,
                "ann_return": _ann_return(sub, periods),
                "ann_vol": _ann_vol(sub, periods),
                "sharpe": sharpe(sub, periods),
                "hit_rate": _hit_rate(sub),
                "max_drawdown": max_drawdown(sub),
                "strategy_sharpe": sharpe(strat[mask], periods),
                "edge": edge,
                "edge_p_value": p,
            }
        )
    return rows
