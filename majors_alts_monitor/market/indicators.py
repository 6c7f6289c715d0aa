"""The indicators traders read for "altcoin season", computed exactly from the lake's panel.

Each is a pure function of the panel's arrays; ``features.py`` registers them as features (so
they are z-scored, written to ``features_wide.parquet`` and usable by every regime mode) and
``backtest/league.py`` trades the rules built on them. Every value at day ``d`` uses data
dated ``<= d`` only. Definitions and their sources are in ``docs/regimes.md``.

Altcoin Season Index (Blockchaincenter, top 50; the CoinMarketCap variant, top 100): of the
``top_n`` coins other than BTC with the largest market caps on ``d`` (caps carried over gaps of
up to ``data.max_gap_days``) among those with a 90-day return on ``d``, the share (0-100) whose
90-day return beats BTC's. Stablecoins and the wrapped, staked and gold-backed tokens of
``universe.exclude`` (with every asset ``dim_asset`` flags ``is_stable``) were removed by the
reader, so they are never ranked. The 90-day return is ``close[d] / close[d - 90] - 1`` on
closes carried over gaps of up to ``max_gap_days`` (a coin listed fewer than 90 days ago has
none and is not ranked). When fewer than ``top_n`` coins qualify, the index is the share among
those that do, and its coverage (``coins / top_n``) says so.

Totals: ``total`` is the day's market cap of every non-stable asset in the lake (the
denominator of ``btc_dom``) plus the flagged stablecoins' caps where the lake has them (as
TradingView's TOTAL counts stablecoins). ``total2_share = (total - BTC) / total``,
``total3_share = (total - BTC - ETH) / total``, ``stable_dom = stablecoins / total``. In a
lake without stablecoin caps ``total2_share = 1 - btc_dom`` and ``stable_dom`` is undefined.
"""

from __future__ import annotations

import numpy as np

from ..arrays import Mask, Panel, Series, shift
from .panel import carry_forward

SEASON_DAYS = 90  # the Altcoin Season Index's window ("a season")
ALT_SEASON = 75.0  # at or above: altcoin season
BTC_SEASON = 25.0  # at or below: bitcoin season


def ranked_top(key: Panel, allowed: Mask, n: int) -> Mask:
    """Per row, the ``n`` largest finite values of ``key`` among ``allowed`` columns (ties by
    column order, the panel's asset_id order)."""
    k = np.where(allowed & np.isfinite(key), key, -np.inf)
    order = np.argsort(-k, axis=1, kind="stable")[:, :n]
    out = np.zeros(key.shape, dtype=bool)
    out[np.arange(key.shape[0])[:, None], order] = True
    return out & allowed & np.isfinite(key)


def altcoin_season(
    close: Panel,
    mcap: Panel,
    btc: int,
    top_n: int,
    *,
    max_gap_days: int = 3,
    window: int = SEASON_DAYS,
) -> tuple[Series, Series]:
    """The Altcoin Season Index (0-100, NaN when no coin qualifies or BTC has no 90-day return)
    and the number of coins it counts, per day (module doc)."""
    px = carry_forward(close, max_gap_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = px / shift(px, window) - 1.0
    caps = carry_forward(mcap, max_gap_days)
    alts = np.ones(close.shape[1], dtype=bool)
    alts[btc] = False
    allowed = alts[None, :] & np.isfinite(r) & np.isfinite(caps) & (caps > 0)
    top = ranked_top(caps, allowed, top_n)
    counted = top.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore"):
        beats = (top & (r > r[:, [btc]])).sum(axis=1)
    ok = (counted > 0) & np.isfinite(r[:, btc])
    index = np.where(ok, 100.0 * beats / np.maximum(counted, 1.0), np.nan)
    return index, np.where(np.isfinite(r[:, btc]), counted, 0.0)


def market_totals(
    crypto: Series, btc: Series, eth: Series, stable_mcap: Series | None
) -> tuple[Series, Series, Series, Series]:
    """``total`` (``crypto``, the listed non-stable assets' carried caps, plus the stablecoins'
    where known), BTC's and ETH's caps and the stablecoins' (0 where unknown) per day."""
    stable = (
        np.zeros(crypto.shape[0])
        if stable_mcap is None
        else np.where(np.isfinite(stable_mcap), stable_mcap, 0.0)
    )
    total = np.where(crypto > 0, crypto + stable, np.nan)
    return total, btc, eth, stable


def share(part: Series, total: Series) -> Series:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = part / total
    return np.where((total > 0) & np.isfinite(out), out, np.nan)


def log_change(x: Series, k: int) -> Series:
    """``log(x[d] / x[d - k])``, NaN where either is missing or not positive."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = np.where(x > 0, np.log(x), np.nan)
    return lx - shift(lx, k)
