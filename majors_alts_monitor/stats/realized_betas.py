"""Realised betas of a return series on BTC and ETH: the joint least-squares fit over a whole
series and over a trailing window, from running sums. Pure numpy; no file I/O. Re-exported by
``stats``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..arrays import as_1d as _as_1d

__all__ = ["realized_betas", "rolling_realized_betas"]

FloatArray = npt.NDArray[np.float64]


def _betas_from_sums(
    n: FloatArray,
    s1: FloatArray,
    s2: FloatArray,
    sy: FloatArray,
    s11: FloatArray,
    s12: FloatArray,
    s22: FloatArray,
    s1y: FloatArray,
    s2y: FloatArray,
    min_obs: int,
) -> tuple[FloatArray, FloatArray]:
    """OLS slopes of y on (x1, x2) with intercept, from raw sums (any common shape)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c11 = s11 - s1 * s1 / n
        c22 = s22 - s2 * s2 / n
        c12 = s12 - s1 * s2 / n
        c1y = s1y - s1 * sy / n
        c2y = s2y - s2 * sy / n
        det = c11 * c22 - c12 * c12
        b1 = (c22 * c1y - c12 * c2y) / det
        b2 = (c11 * c2y - c12 * c1y) / det
    # singular (a constant factor, or BTC and ETH collinear within rounding)
    bad = ~(n >= min_obs) | ~(c11 > 0) | ~(c22 > 0) | ~(det > 1e-12 * c11 * c22)
    b1 = np.where(bad, np.nan, b1)
    b2 = np.where(bad, np.nan, b2)
    return b1, b2


def _beta_inputs(
    r: npt.ArrayLike, btc: npt.ArrayLike, eth: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    y, x1, x2 = _as_1d(r, "r"), _as_1d(btc, "btc"), _as_1d(eth, "eth")
    if not (y.shape == x1.shape == x2.shape):
        raise ValueError("r, btc and eth must have the same length")
    ok = np.isfinite(y) & np.isfinite(x1) & np.isfinite(x2)
    # shift by the first complete row (precision of the cumulative sums; slopes do not move),
    # not by a sample mean, so a trailing window never depends on later rows; zero the gaps
    first = int(np.argmax(ok)) if ok.any() else 0
    out = []
    for v in (y, x1, x2):
        shift = float(v[first]) if ok.any() else 0.0
        out.append(np.where(ok, v - shift, 0.0))
    return ok.astype(np.float64), out[0], out[1], out[2]


def realized_betas(r: npt.ArrayLike, btc: npt.ArrayLike, eth: npt.ArrayLike) -> tuple[float, float]:
    """Joint OLS betas (with intercept) of ``r`` on BTC and ETH returns.

    Rows with any NaN are dropped; nan below 10 rows or when the factors are collinear.
    """
    ok, y, x1, x2 = _beta_inputs(r, btc, eth)
    sums = [np.sum(v) for v in (ok, x1, x2, y, x1 * x1, x1 * x2, x2 * x2, x1 * y, x2 * y)]
    b1, b2 = _betas_from_sums(*(np.asarray(s) for s in sums), min_obs=10)
    return float(b1), float(b2)


def rolling_realized_betas(
    r: npt.ArrayLike,
    btc: npt.ArrayLike,
    eth: npt.ArrayLike,
    window: int,
    *,
    min_obs: int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Trailing-window ``realized_betas`` ending at each day (inclusive), from cumulative sums.

    nan in the burn-in (the first ``window - 1`` days), where the window holds fewer than
    ``min_obs`` complete rows (default ``min(window, 10)``, at least 3), or where the factors
    are collinear.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ok, y, x1, x2 = _beta_inputs(r, btc, eth)
    t = y.size
    b1 = np.full(t, np.nan)
    b2 = np.full(t, np.nan)
    if t < window:
        return b1, b2
    need = max(3, min(window, 10) if min_obs is None else min_obs)

    def wsum(v: FloatArray) -> FloatArray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[window:] - c[:-window]

    sums = [wsum(v) for v in (ok, x1, x2, y, x1 * x1, x1 * x2, x2 * x2, x1 * y, x2 * y)]
    sums[0] = np.rint(sums[0])  # the count is an integer
    w1, w2 = _betas_from_sums(*sums, min_obs=need)
    b1[window - 1 :] = w1
    b2[window - 1 :] = w2
    return b1, b2
