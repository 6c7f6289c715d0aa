"""The KPIs of a daily-returns series: equity, drawdown, Sharpe, Sortino, CAGR, Calmar.

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

import numpy as np
import numpy.typing as npt

from ..arrays import as_1d as _as_1d

PERIODS = 365
"""Periods (days) per year: crypto trades every calendar day."""


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
