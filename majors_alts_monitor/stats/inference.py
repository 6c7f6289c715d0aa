"""Inference on a Sharpe ratio: the stationary bootstrap interval, the moments the
probabilistic Sharpe ratio needs, the PSR, the expected maximum Sharpe of N trials and the
deflated Sharpe ratio (Bailey & Lopez de Prado 2012, 2014). The normal cdf and quantile come
from the standard library (``math.erf``/``erfc`` and ``statistics.NormalDist``'s Wichura
AS241, within 1e-14 and 1e-15, relative, of ``scipy.special``'s ``ndtr``/``ndtri``, without
scipy's import time). Pure numpy around the compiled resamples' statistics; no file I/O."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from .bootstrap_kernel import boot_sharpe
from .resample import _bootstrap_draws
from .returns import PERIODS, _finite, _is_constant

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


_EULER_GAMMA = 0.5772156649015329

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
