"""Realised neutrality on the axes the book is built for: the market factor
``m = (r_btc + r_eth) / 2`` and the spread factor ``s = r_btc - r_eth``, jointly, with
Newey-West (HAC, Bartlett kernel) standard errors.

A book neutral to BTC and ETH separately has zero beta to both factors; a book whose BTC and
ETH betas are small and of opposite sign has a spread beta that the per-coin betas hide
(``beta_btc = beta_m / 2 + beta_s``, ``beta_eth = beta_m / 2 - beta_s``). The standard errors
are those of ``statsmodels``' ``OLS(y, [1, m, s]).fit(cov_type="HAC", cov_kwds={"maxlags": L})``
(its default: no small-sample correction), pinned in the tests. The lag is the Newey-West
(1994) plug-in of the regression's own length (the gated book's invested days, not the whole
out-of-sample span), and ``beta_warning`` turns a realized beta with ``|t| > 2`` into the run's
warning.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def newey_west_lags(n: int) -> int:
    """The Newey-West (1994) plug-in lag ``floor(4 * (n / 100) ** (2 / 9))``, at least 1."""
    return max(1, int(math.floor(4.0 * (max(n, 1) / 100.0) ** (2.0 / 9.0))))


def ols_hac(y: npt.ArrayLike, x: npt.ArrayLike, maxlags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients of ``y`` on the columns of ``x`` (include a constant yourself) and their
    Newey-West standard errors with Bartlett weights ``1 - l / (L + 1)``, ``l = 1..L``, no
    small-sample factor (statsmodels' HAC default). Rows must be complete; ``n > k``, full rank."""
    yy = np.asarray(y, dtype=np.float64)
    xx = np.asarray(x, dtype=np.float64)
    n, k = xx.shape
    if yy.shape != (n,):
        raise ValueError("y and x must have the same number of rows")
    if n <= k:
        raise ValueError(f"need more rows than regressors, got n={n}, k={k}")
    if maxlags < 0:
        raise ValueError(f"maxlags must be >= 0, got {maxlags}")
    xtx_inv = np.linalg.inv(xx.T @ xx)
    beta = xtx_inv @ (xx.T @ yy)
    g = xx * (yy - xx @ beta)[:, None]  # scores x_t u_t
    s = g.T @ g
    for lag in range(1, min(maxlags, n - 1) + 1):
        gam = g[lag:].T @ g[:-lag]
        s += (1.0 - lag / (maxlags + 1.0)) * (gam + gam.T)
    cov = xtx_inv @ s @ xtx_inv
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0))


def market_spread_betas(
    r: npt.ArrayLike,
    btc: npt.ArrayLike,
    eth: npt.ArrayLike,
    maxlags: int | None = None,
    min_obs: int = 30,
) -> dict[str, float | int]:
    """Joint betas of ``r`` to the market (BTC/ETH average) and spread (BTC minus ETH) factors
    with an intercept, their Newey-West standard errors and t statistics.

    Rows with any NaN are dropped; every figure is nan below ``min_obs`` rows or when the
    factors are collinear (``n_days`` is always the count of complete rows). ``maxlags``:
    the Newey-West lag; ``None`` (the default) takes the plug-in ``newey_west_lags`` of the
    regression's own length, the complete rows (``nw_lags`` reports the lag used)."""
    y = np.asarray(r, dtype=np.float64)
    b = np.asarray(btc, dtype=np.float64)
    e = np.asarray(eth, dtype=np.float64)
    if not (y.shape == b.shape == e.shape):
        raise ValueError("r, btc and eth must have the same length")
    ok = np.isfinite(y) & np.isfinite(b) & np.isfinite(e)
    n = int(ok.sum())
    lags = newey_west_lags(n) if maxlags is None else int(maxlags)
    out: dict[str, float | int] = {
        "beta_market": math.nan,
        "se_market": math.nan,
        "beta_spread": math.nan,
        "se_spread": math.nan,
        "t_spread": math.nan,
        "n_days": n,
        "t_market": math.nan,
        "nw_lags": lags,
    }
    if n < max(min_obs, 4):
        return out
    m, s = (b[ok] + e[ok]) / 2.0, b[ok] - e[ok]
    x = np.column_stack([np.ones(n), m, s])
    cm, cs = m - m.mean(), s - s.mean()
    det = (cm @ cm) * (cs @ cs) - (cm @ cs) ** 2
    if not (det > 1e-12 * (cm @ cm) * (cs @ cs)):
        return out
    beta, se = ols_hac(y[ok], x, lags)
    out.update(
        beta_market=float(beta[1]),
        se_market=float(se[1]),
        beta_spread=float(beta[2]),
        se_spread=float(se[2]),
        t_spread=float(beta[2] / se[2]) if se[2] > 0 else math.nan,
        t_market=float(beta[1] / se[1]) if se[1] > 0 else math.nan,
    )
    return out


T_WARN = 2.0
"""``|t|`` above which a realized market or spread beta of the gated book is a run warning."""


def beta_warning(fit: dict[str, float | int], book: str = "the gated book") -> str | None:
    """The run warning for a realized market or spread beta with ``|t| > T_WARN`` (Newey-West)
    in a ``market_spread_betas`` result, else None."""
    bad = []
    for name, label in (("market", "market (BTC/ETH average)"), ("spread", "spread (BTC - ETH)")):
        b, t = float(fit[f"beta_{name}"]), float(fit[f"t_{name}"])
        if math.isfinite(t) and abs(t) > T_WARN:
            bad.append(f"{label} beta {b:+.3f} (t {t:+.2f})")
    if not bad:
        return None
    return (
        f"{book} is not neutral out of sample: realized {' and '.join(bad)} on its "
        f"{int(fit['n_days'])} invested days, Newey-West with {int(fit['nw_lags'])} lags; "
        "the book's ex-ante hedge leaves this exposure (kpis.json neutrality.market_spread)"
    )
