"""Aligned ``(n_days, n_assets)`` arrays with an active mask.

The rule for gaps, listings and delistings (one rule, enforced here, tested in test_panel.py):

* Days are every calendar day from the window's start to its end; assets are every asset with
  a price in the window, sorted by ``asset_id`` (so input order never matters).
* ``close`` is the observed close, NaN where the lake has none. It is never filled.
* ``ret[d] = px[d] / px[d-1] - 1`` where ``px`` is the close carried forward over at most
  ``max_gap_days`` missing days. A held position therefore earns 0 on a missing day and the
  whole move on the next priced day (exactly the PnL of holding through the gap). Across a
  longer gap, and before the first close, ``ret`` is NaN. The carry also runs for up to
  ``max_gap_days`` after an asset's last close: on those days nobody can yet tell a delisting
  from a gap (point in time), so the return is 0 and the asset is inactive; after them it is NaN.
* ``active[d]`` is True when the close on ``d`` is observed and ``ret[d]`` is defined: the
  asset traded on ``d`` and has a previous price. Only active assets may enter a book decided
  at ``d``. An asset is active from its second priced day and stops being active after its
  last one (delisting); a position held into a day with NaN return earns 0 there (the book
  has exited at the last price), and the backtest counts those days.
* Funding is the mean over an asset's instruments of each day's summed settlements; open
  interest is the sum over instruments. Market cap and volume are taken as they are (NaN
  when missing, never filled).
* ``cap_total`` is the market cap (carried over gaps of up to ``max_gap_days``) summed per day
  over every listed asset (close observed or return defined): of the whole lake when the run
  read only its candidates' rows (``lake.scope``, see ``market/scope.py``), else of the
  panel's assets, which are then every asset with a price in the window. ``alts_ended``
  (per day, the alts with a close the day before and none that day) is likewise the whole
  lake's when the run read a scope, else None (``market.thin`` counts the panel's assets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from ..arrays import Dates, Mask, Panel, Series
from ..lake.data_io import LakeData
from .rolling import carry_last


@dataclass(frozen=True)
class MarketPanel:
    dates: Dates
    assets: tuple[str, ...]
    close: Panel
    ret: Panel
    mcap: Panel
    volume: Panel
    funding: Panel
    oi: Panel
    active: Mask
    has_funding: bool
    has_oi: bool
    # the day's total market cap of the stablecoins dim_asset flags (``LakeData.stable_caps``),
    # NaN on days without any; None when the lake has none at all
    stable_mcap: Series | None = None
    cap_total: Series | None = None  # see the module doc; None: of the panel's assets
    alts_ended: Series | None = None  # see the module doc; None: of the panel's assets

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def idx(self, asset: str) -> int:
        try:
            return self.assets.index(asset)
        except ValueError:
            raise KeyError(f"asset {asset} is not in the panel") from None

    def day(self, d: date) -> int:
        i = int((np.datetime64(d, "D") - self.dates[0]).astype(int))
        if not 0 <= i < self.n_days:
            raise KeyError(f"{d} is outside the panel {self.dates[0]}..{self.dates[-1]}")
        return i


def _to_array(
    df: pl.DataFrame | None,
    value: str,
    asset_index: dict[str, int],
    start: date,
    n_days: int,
    agg: str = "first",
) -> Panel:
    out = np.full((n_days, len(asset_index)), np.nan)
    if df is None or df.height == 0:
        return out
    df = df.filter(pl.col("asset_id").is_in(list(asset_index)))
    if agg == "mean":
        df = df.group_by("asset_id", "date").agg(pl.col(value).mean())
    elif agg == "sum":
        df = df.group_by("asset_id", "date").agg(pl.col(value).sum())
    day = (df["date"].to_numpy().astype("datetime64[D]") - np.datetime64(start, "D")).astype(
        np.int64
    )
    ok = (day >= 0) & (day < n_days)
    col = df["asset_id"].replace_strict(asset_index, return_dtype=pl.Int64).to_numpy()
    out[day[ok], col[ok]] = df[value].to_numpy()[ok]
    return out


def carry_forward(x: Panel, limit: int) -> Panel:
    """Forward-fill NaN runs of at most ``limit`` rows, never before the first value (compiled:
    ``rolling.carry_last``)."""
    return carry_last(x, limit)


def returns(close: Panel, max_gap_days: int) -> tuple[Panel, Mask]:
    """``ret`` and ``active`` from the observed closes (the rule of the module doc)."""
    px = carry_forward(close, max_gap_days)
    ret = np.full_like(px, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret[1:] = px[1:] / px[:-1] - 1.0
    return ret, np.isfinite(close) & np.isfinite(ret)


def listed_cap_total(close: Panel, ret: Panel, carried: Panel) -> Series:
    """Per day, the market cap (``carried``: carried over gaps) summed over the listed assets
    (close observed or return defined): ``btc_dom``'s denominator. A row's sum depends on that
    row alone, so the lake's total may be computed a block of days at a time
    (``market.scope``)."""
    listed = np.isfinite(ret) | np.isfinite(close)
    return np.nansum(np.where(listed, carried, np.nan), axis=1)


def build_panel(lake: LakeData, start: date, end: date, max_gap_days: int = 3) -> MarketPanel:
    """Aligned daily arrays for ``[start, end]`` from validated lake tables."""
    n_days = (end - start).days + 1
    dates = np.arange(np.datetime64(start, "D"), np.datetime64(end + timedelta(days=1), "D"))
    price = lake.tables["fact_price"].filter(pl.col("date").is_between(start, end))
    assets = tuple(sorted(price["asset_id"].unique().to_list()))
    aidx = {a: i for i, a in enumerate(assets)}
    close = _to_array(price, "close", aidx, start, n_days)
    ret, active = returns(close, max_gap_days)
    funding = _to_array(
        lake.tables.get("fact_funding"), "funding_rate", aidx, start, n_days, "mean"
    )
    oi = _to_array(
        lake.tables.get("fact_open_interest"), "open_interest_usd", aidx, start, n_days, "sum"
    )
    return MarketPanel(
        dates=dates,
        assets=assets,
        close=close,
        ret=ret,
        mcap=_to_array(lake.tables["fact_marketcap"], "marketcap", aidx, start, n_days),
        volume=_to_array(lake.tables["fact_volume"], "volume", aidx, start, n_days),
        funding=funding,
        oi=oi,
        active=active,
        has_funding=lake.has("fact_funding"),
        has_oi=lake.has("fact_open_interest"),
        stable_mcap=_stable_mcap(lake, start, n_days),
        **_scope_totals(lake, start, n_days, max_gap_days),
    )


def _stable_mcap(lake: LakeData, start: date, n_days: int) -> Series | None:
    """Per day, the summed market cap of the flagged stablecoins that report one that day."""
    caps = lake.stable_caps
    if caps is None or caps.height == 0:
        return None
    names = sorted(caps["asset_id"].unique().to_list())
    per = _to_array(caps, "marketcap", {a: i for i, a in enumerate(names)}, start, n_days)
    seen = np.isfinite(per).any(axis=1)
    return np.where(seen, np.nansum(per, axis=1), np.nan) if seen.any() else None


def _scope_totals(
    lake: LakeData, start: date, n_days: int, max_gap_days: int
) -> dict[str, Series | None]:
    """The whole lake's ``cap_total`` and ``alts_ended`` for the panel's days when the run
    read a scope (else None: the panel's assets are the lake's)."""
    sc = lake.scope
    if sc is None:
        return {"cap_total": None, "alts_ended": None}
    i0 = (start - sc.start).days
    if i0 < 0 or i0 + n_days > len(sc.cap_total) or max_gap_days != sc.max_gap_days:
        raise ValueError(
            f"the panel {start} + {n_days} days (max_gap_days {max_gap_days}) is not inside the "
            f"scope read for {sc.start} + {len(sc.cap_total)} days (max_gap_days "
            f"{sc.max_gap_days}): read the lake for the panel's window"
        )
    return {
        "cap_total": sc.cap_total[i0 : i0 + n_days],
        "alts_ended": sc.alts_ended[i0 : i0 + n_days],
    }
