"""Rolling dual betas, the short alt basket, and the BTC/ETH legs that neutralise it.

Betas. For each asset and day ``d``, a joint regression (with intercept) of its daily returns
on BTC's and ETH's over the ``beta_window`` days ending at ``d``, on winsorised inputs: each
return is clipped at ``+-winsor_sigma`` times that series' ex-ante EWMA volatility (known the
day before). Ridge shrinkage toward the prior ``b0`` is stated relative to the window's factor
covariance ``C``: the estimate minimises ``SSR + ridge * n * (b - b0)' C (b - b0)``, so it is
exactly ``(b_ols + ridge * b0) / (1 + ridge)``: it moves ``ridge / (1 + ridge)`` of the way to
the prior (4.8% by default) whatever the BTC/ETH correlation. (A diagonal penalty would move
beta_btc about 24% with the usual 0.7 correlation.)
With fewer than ``beta_min_obs`` observations the prior is used and the fallback is counted.
Estimates are clamped to ``beta_clamp``.

Book. Short weights ``w_i = -short_gross * s_i`` over the day's basket, ``s`` from the scheme
(equal, cap, inverse volatility), capped per name at ``max_weight`` with the excess spread over
the others (if every name is capped the basket is smaller, and says so). The basket's betas are
``b = sum_i w_i beta_i``; BTC's own betas are (1, 0) and ETH's (0, 1), so the legs
``w_btc = -b_btc``, ``w_eth = -b_eth`` make the book exactly neutral. Constraints: when a leg
would exceed its upper bound the whole book is scaled down until it fits (still neutral); when a
leg would fall below its lower bound (for example a basket with negative ETH beta needing a short
ETH leg while the bound is 0) the leg is clipped: at that basket size this is the least-squares
closest book in beta space, and the residual beta is reported (shrinking the basket would reduce
the residual too, at the cost of a smaller book; this rule keeps the book); finally the book is
scaled to the gross leverage cap. Every step is a closed form per day, vectorised over days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..arrays import Mask, Panel, Series
from ..config import BookConfig
from .panel import MarketPanel
from .universe import Universe


@dataclass(frozen=True)
class Betas:
    btc: Panel
    eth: Panel
    n_obs: Panel
    fallback: Mask  # prior used (too few observations)


@dataclass(frozen=True)
class Book:
    """The always-held neutral book decided at the end of each day (held over the next day)."""

    weights: Panel  # (n_days, n_assets), fraction of equity
    beta_btc: Series  # ex-ante book beta to BTC (residual after the solver)
    beta_eth: Series
    scale: Series  # share of the unconstrained book kept (1 = no constraint bound)
    feasible: np.ndarray  # exact neutrality reached (bool per day); False on days without a book
    n_names: np.ndarray  # basket size per day
    n_fallback: np.ndarray  # basket names using prior betas, per day
    built: np.ndarray  # a book exists on that day (bool)

    @property
    def gross(self) -> Series:
        return np.abs(self.weights).sum(axis=1)


@numba.njit(cache=True)
def _ewma_clip(r: np.ndarray, halflife: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Clip each return at +-k ex-ante EWMA vols (vol known before the day) and return the
    clipped returns and the ex-ante vol. Warm-up: the first 10 observations are not clipped and
    seed the variance with their mean square."""
    n, m = r.shape
    lam = 0.5 ** (1.0 / halflife)
    out = np.full((n, m), np.nan)
    vol = np.full((n, m), np.nan)
    for j in range(m):
        var = 0.0
        cnt = 0
        for t in range(n):
            x = r[t, j]
            if cnt >= 10:
                vol[t, j] = np.sqrt(var)
            if not np.isfinite(x):
                continue
            if cnt >= 10:
                lim = k * np.sqrt(var)
                xc = min(max(x, -lim), lim)
                var = lam * var + (1.0 - lam) * xc * xc
            else:
                xc = x
                var = (var * cnt + x * x) / (cnt + 1)
            cnt += 1
            out[t, j] = xc
    return out, vol


def winsorise(ret: Panel, halflife: int, k: float) -> tuple[Panel, Panel]:
    return _ewma_clip(np.ascontiguousarray(ret, dtype=np.float64), float(halflife), float(k))


def _rolling_sum(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(x, axis=0)
    out = c.copy()
    out[w:] = c[w:] - c[:-w]
    return out


def rolling_betas(panel: MarketPanel, universe: Universe, cfg: BookConfig) -> Betas:
    """Ridge-shrunk rolling joint betas of every asset on BTC and ETH (see module doc)."""
    rw, _ = winsorise(panel.ret, cfg.vol_halflife, cfg.winsor_sigma)
    x1 = rw[:, universe.btc][:, None]
    x2 = rw[:, universe.eth][:, None]
    ok = np.isfinite(rw) & np.isfinite(x1) & np.isfinite(x2)
    y = np.where(ok, rw, 0.0)
    a = np.where(ok, x1, 0.0)
    b = np.where(ok, x2, 0.0)
    w = cfg.beta_window
    n = _rolling_sum(ok.astype(np.float64), w)
    s = {
        k: _rolling_sum(v, w)
        for k, v in {
            "a": a,
            "b": b,
            "y": y,
            "aa": a * a,
            "bb": b * b,
            "ab": a * b,
            "ay": a * y,
            "by": b * y,
        }.items()
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb, my = s["a"] / n, s["b"] / n, s["y"] / n
        caa = s["aa"] / n - ma * ma
        cbb = s["bb"] / n - mb * mb
        cab = s["ab"] / n - ma * mb
        cay = s["ay"] / n - ma * my
        cby = s["by"] / n - mb * my
        lam = cfg.ridge
        p1, p2 = cfg.prior_beta_btc, cfg.prior_beta_eth
        # normal equations per observation: (1 + lam) C beta = c_xy + lam * C b0
        m11 = caa * (1.0 + lam)
        m22 = cbb * (1.0 + lam)
        m12 = cab * (1.0 + lam)
        r1 = cay + lam * (caa * p1 + cab * p2)
        r2 = cby + lam * (cab * p1 + cbb * p2)
        det = m11 * m22 - m12 * m12
        b1 = (m22 * r1 - m12 * r2) / det
        b2 = (m11 * r2 - m12 * r1) / det
    good = (n >= cfg.beta_min_obs) & np.isfinite(b1) & np.isfinite(b2) & (np.abs(det) > 1e-18)
    lo, hi = cfg.beta_clamp
    bb1 = np.where(good, np.clip(b1, lo, hi), p1)
    bb2 = np.where(good, np.clip(b2, lo, hi), p2)
    bb1[:, universe.btc], bb2[:, universe.btc] = 1.0, 0.0
    bb1[:, universe.eth], bb2[:, universe.eth] = 0.0, 1.0
    return Betas(bb1, bb2, n, ~good)


def cap_weights(s: Panel, cap: float, iterations: int = 50) -> Panel:
    """Per row, cap shares at ``cap`` and hand the excess to uncapped names pro rata.

    ``s`` rows are non-negative and sum to 1 (or are all 0). If ``n * cap < 1`` every name ends
    at the cap and the row sums to ``n * cap``."""
    w = s.copy()
    for _ in range(iterations):
        over = w > cap + 1e-15
        if not over.any():
            break
        excess = np.where(over, w - cap, 0.0).sum(axis=1, keepdims=True)
        w = np.where(over, cap, w)
        free = (w < cap - 1e-15) & (w > 0)
        room = np.where(free, w, 0.0).sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            add = np.where(free & (room > 0), w / room * excess, 0.0)
        w = w + add
    return np.minimum(w, cap)


def basket_shares(basket: Mask, scheme: str, mcap: Panel, vol: Panel) -> Panel:
    """Shares of the short basket per day (rows sum to 1 where the basket is non-empty)."""
    if scheme == "equal":
        raw = basket.astype(np.float64)
    elif scheme == "cap":
        raw = np.where(basket & np.isfinite(mcap) & (mcap > 0), mcap, 0.0)
    elif scheme == "inverse_vol":
        with np.errstate(divide="ignore", invalid="ignore"):
            iv = 1.0 / vol
        raw = np.where(basket & np.isfinite(iv) & (vol > 0), iv, 0.0)
    else:
        raise ValueError(f"unknown weighting scheme {scheme!r}")
    tot = raw.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, raw / tot, 0.0)


def neutral_legs(
    b_btc: Series, b_eth: Series, bounds: tuple[float, float]
) -> tuple[Series, Series, Series, np.ndarray]:
    """Major legs for a basket with betas ``(b_btc, b_eth)``: returns (w_btc, w_eth, scale, exact).

    ``scale`` shrinks the basket when a leg would exceed its upper bound; legs that would fall
    below the lower bound are clipped (least squares in beta space for that basket)."""
    lo, hi = bounds
    need1, need2 = -b_btc, -b_eth
    scale = np.ones_like(need1)
    with np.errstate(divide="ignore", invalid="ignore"):
        for need in (need1, need2):
            over = need > hi
            scale = np.where(over, np.minimum(scale, hi / need), scale)
    w1 = np.clip(need1 * scale, lo, hi)
    w2 = np.clip(need2 * scale, lo, hi)
    exact = (np.abs(w1 - need1 * scale) < 1e-12) & (np.abs(w2 - need2 * scale) < 1e-12)
    return w1, w2, scale, exact


def build_book(
    panel: MarketPanel, universe: Universe, betas: Betas, cfg: BookConfig, vol: Panel | None = None
) -> Book:
    """The neutral book for every day (see module doc)."""
    if vol is None:
        _, vol = winsorise(panel.ret, cfg.vol_halflife, cfg.winsor_sigma)
    shares = basket_shares(universe.basket, cfg.weighting, panel.mcap, vol)
    capped = cap_weights(shares, cfg.max_weight / cfg.short_gross)
    short = -cfg.short_gross * capped
    short = np.where(universe.basket, short, 0.0)
    bb = (short * np.nan_to_num(betas.btc)).sum(axis=1)
    be = (short * np.nan_to_num(betas.eth)).sum(axis=1)
    w1, w2, scale, exact = neutral_legs(bb, be, cfg.major_bounds)
    weights = short * scale[:, None]
    weights[:, universe.btc] = w1
    weights[:, universe.eth] = w2
    gross = np.abs(weights).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(gross > cfg.gross_cap, cfg.gross_cap / gross, 1.0)
    weights *= g[:, None]
    built = universe.basket.any(axis=1)
    weights[~built] = 0.0
    beta_btc = (weights * np.nan_to_num(betas.btc)).sum(axis=1)
    beta_eth = (weights * np.nan_to_num(betas.eth)).sum(axis=1)
    n_names = universe.basket.sum(axis=1)
    n_fb = (universe.basket & betas.fallback).sum(axis=1)
    return Book(
        weights=weights,
        beta_btc=np.where(built, beta_btc, np.nan),
        beta_eth=np.where(built, beta_eth, np.nan),
        scale=np.where(built, scale * g, np.nan),
        feasible=exact & built,
        n_names=n_names,
        n_fallback=n_fb,
        built=built,
    )


def book_returns(weights: Panel, ret: Panel) -> Series:
    """Gross return on day d+1 of weights decided at d: ``sum_i w[i,d] * r[i,d+1]``; a held asset
    with an undefined return contributes 0 (it exited at its last price). Element 0 is NaN."""
    out = np.full(weights.shape[0], np.nan)
    out[1:] = (weights[:-1] * np.nan_to_num(ret[1:])).sum(axis=1)
    return out
