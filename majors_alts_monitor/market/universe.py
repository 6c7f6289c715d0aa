"""Point-in-time universe: which alts may be shorted on each day, and the top-N basket.

At day ``d`` an alt is eligible when, using data dated ``<= d`` only:
it is active on ``d`` (see ``panel.py``), it is not a major, stable or excluded asset (those are
removed by the reader), it has at least ``min_history_days`` days since its first price, its
market cap on ``d`` (carried over gaps of up to ``max_gap_days``) is at least ``min_marketcap``,
and the median of its daily volume over the trailing ``volume_lookback_days`` (at least half of
them observed) is at least ``min_volume``. Assets that later delist are eligible while they
trade: nothing here looks past ``d``.

The basket is the top ``basket_size`` eligible alts by ``rank_by`` (market cap or trailing
median volume), ties broken by ``asset_id``. When the lake has ``universe_snapshots``, the
members of the latest snapshot published on or before ``d`` replace the eligibility filters
(they must still be active on ``d``) and their ``rank`` (when present) orders them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..arrays import Mask, Panel
from ..config import UniverseConfig
from .panel import MarketPanel, carry_forward
from .rolling import rolling_median


@dataclass(frozen=True)
class Universe:
    eligible: Mask
    basket: Mask
    rank_value: Panel
    median_volume: Panel
    btc: int
    eth: int


def trailing_median(x: Panel, window: int, min_periods: int) -> Panel:
    """Median over the trailing ``window`` rows ending at each row (inclusive), NaN-aware."""
    out = rolling_median(x, window, min_periods)
    return np.where(np.isfinite(out), out, np.nan)


def top_n(key: Panel, allowed: Mask, n: int) -> Mask:
    """Per row, the ``n`` largest values of ``key`` among ``allowed`` columns.

    Columns are assumed sorted by asset_id, so a stable sort breaks ties by asset_id.
    """
    k = np.where(allowed & np.isfinite(key), key, -np.inf)
    order = np.argsort(-k, axis=1, kind="stable")[:, :n]
    out = np.zeros_like(allowed)
    rows = np.arange(k.shape[0])[:, None]
    out[rows, order] = True
    return out & allowed & np.isfinite(key)


@dataclass(frozen=True)
class Filters:
    """The filters' inputs and verdict for a block of assets (columns), each column on its own:
    ``eligible`` by the filters of the module doc (``base`` = active and not a major),
    ``mcap`` carried over gaps, ``medvol`` the trailing median volume, ``key`` the rank."""

    base: Mask
    eligible: Mask
    mcap: Panel
    medvol: Panel
    key: Panel


def filters(
    close: Panel,
    active: Mask,
    mcap: Panel,
    volume: Panel,
    is_alt: np.ndarray,
    cfg: UniverseConfig,
    max_gap_days: int,
    *,
    every_median: bool = True,
) -> Filters:
    """The eligibility filters of every column (a column's verdict uses that column alone, so
    ``market.scope`` applies them to the lake a block of assets at a time, with the same
    numbers as the panel's). ``every_median=False``: the trailing median volume only of the
    columns that pass the other filters on some day (NaN elsewhere): the same ``eligible``, and
    the same ``key`` where eligible, at a fraction of the cost on a long-tailed lake."""
    n_days = close.shape[0]
    seen = np.isfinite(close)
    first = np.where(seen.any(axis=0), seen.argmax(axis=0), n_days)
    old_enough = np.arange(n_days)[:, None] >= first[None, :] + cfg.min_history_days
    carried = carry_forward(mcap, max_gap_days)
    base = active & is_alt[None, :]
    # thresholds are >= 0: a missing value (NaN) fails them, as it would at -1
    with np.errstate(invalid="ignore"):
        before = base & old_enough & (carried >= cfg.min_marketcap)
    window, least = cfg.volume_lookback_days, max(1, cfg.volume_lookback_days // 2)
    if every_median:
        medvol = trailing_median(np.ascontiguousarray(volume), window, least)
    else:
        medvol = np.full(volume.shape, np.nan)
        cols = np.flatnonzero(before.any(axis=0))
        if cols.size:
            medvol[:, cols] = trailing_median(np.ascontiguousarray(volume[:, cols]), window, least)
    with np.errstate(invalid="ignore"):
        eligible = before & (medvol >= cfg.min_volume)
    key = carried if cfg.rank_by == "marketcap" else medvol
    return Filters(base, eligible, carried, medvol, key)


def build_universe(
    panel: MarketPanel,
    cfg: UniverseConfig,
    *,
    max_gap_days: int = 3,
    snapshots: pl.DataFrame | None = None,
) -> Universe:
    btc, eth = (panel.idx(m) for m in cfg.majors)
    is_alt = np.ones(panel.n_assets, dtype=bool)
    is_alt[[btc, eth]] = False
    f = filters(panel.close, panel.active, panel.mcap, panel.volume, is_alt, cfg, max_gap_days)
    eligible, key = f.eligible, f.key
    if snapshots is not None and snapshots.height:
        member, rank = _snapshot_membership(panel, snapshots)
        eligible = f.base & member
        if np.isfinite(rank).any():
            key = np.where(np.isfinite(rank), -rank, -np.inf)
    basket = top_n(key, eligible, cfg.basket_size)
    return Universe(eligible, basket, key, f.medvol, btc, eth)


def _snapshot_membership(panel: MarketPanel, snaps: pl.DataFrame) -> tuple[Mask, Panel]:
    """Members (and rank) of the latest snapshot published on or before each day."""
    n_days, n_assets = panel.close.shape
    member = np.zeros((n_days, n_assets), dtype=bool)
    rank = np.full((n_days, n_assets), np.nan)
    aidx = {a: i for i, a in enumerate(panel.assets)}
    start = panel.dates[0].astype(object)
    rebal = sorted(snaps["rebalance_date"].unique().to_list())
    has_rank = "rank" in snaps.columns
    for j, rd in enumerate(rebal):
        d0 = max(0, (rd - start).days)
        d1 = n_days if j + 1 == len(rebal) else max(0, (rebal[j + 1] - start).days)
        if d0 >= n_days or d1 <= 0:
            continue
        rows = snaps.filter(pl.col("rebalance_date") == rd)
        for r in rows.iter_rows(named=True):
            i = aidx.get(r["asset_id"])
            if i is None:
                continue
            member[d0:d1, i] = True
            if has_rank and r["rank"] is not None:
                rank[d0:d1, i] = float(r["rank"])
    return member, rank
