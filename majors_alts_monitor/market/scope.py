"""Which assets enter a run's ``T x N`` panel (the candidates), and what every other asset of
the lake still counts for: a run's cost grows with the eligible universe, not with the lake.

A run reads every asset of its window on three narrow columns (``lake.wide``: close, market cap
and volume, pushed down to the parquet scan), works through them a block of assets at a time,
and keeps in its panel the union over the window's days of

(a) the top ``universe.basket_size x universe.candidate_margin`` assets by ``universe.rank_by``
    among those that pass the eligibility filters that day (``universe.filters``: active, not a
    major, history, market cap, trailing median volume), ties at the cut all kept; with
    ``universe_snapshots``, every asset a snapshot names instead;
(b) the top ``universe.candidate_top_marketcap`` assets by market cap (carried over gaps)
    among the assets listed that day, and as many alts among those with a 90-day return that
    day (stablecoins and the exclude list are already out), ties at the cut all kept: the
    coins of market-wide indices (the Altcoin Season Index's top 50 / top 100 rank the
    second pool, ``market/indicators.py``; ETH, in it, is a major);
(c) the majors.

Every other asset is read only for those rules and for ``cap_total`` (the carried market cap of
every listed asset, per day: ``btc_dom``'s denominator, computed here over the whole lake, a
block of days at a time), and never enters the panel, the book, the betas or the features.

Why the results do not move: a day's basket is the top ``basket_size`` eligible assets by the
rank key, so it lies inside (a) (``candidate_margin >= 1``); the filters and the rank key of an
asset use that asset's own columns only, so they are the same numbers in the candidates' panel
as in a panel of the whole lake; the features read the basket and the majors (and
``cap_total``), the betas are per asset, the book holds the basket and the majors. When every
asset is a candidate (a lake of up to ``candidate_top_marketcap`` coins) the panel is the
whole lake's and every output is identical to reading it all.

Point in time: a day's candidates use data dated on or before that day only (the filters and
ranks of that day). The panel holds the union over the window, so an asset first chosen on a
later day is a column on earlier days too: there it is never in the basket (it was not a
candidate that day, so not in the top ``basket_size``) and its weight is zero, exactly as an
asset that lists later in the window is a column of zeros in a panel of the whole lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numba
import numpy as np
import polars as pl

from ..arrays import Panel, Series, shift
from ..config import UniverseConfig
from ..lake.data_io import LakeReader
from ..lake.lake_data import LakeData, Scope
from ..lake.tables import TABLES
from ..lake.wide import WIDE, WideLake, read_wide
from .indicators import SEASON_DAYS
from .panel import carry_forward, returns
from .universe import filters

ASSET_BLOCK = 512  # assets per block: each block's arrays are n_days x 512 float64 (12 MB / 8 y)
DAY_BLOCK = 256  # days per block of cap_total: 256 x n_assets float64 (31 MB at 15,000)


class _TopK:
    """The ``k`` largest values of each row seen so far, over blocks of columns (a row with
    fewer than ``k`` values has ``-inf`` for its ``k``-th)."""

    def __init__(self, n_rows: int, k: int) -> None:
        self.k = k
        self.best = np.empty((n_rows, 0))  # at most k columns

    def add(self, values: Panel) -> None:
        # a column below every row's k-th value so far cannot change the k largest
        values = values[:, self.reached(values)]
        if self.k == 0 or values.shape[1] == 0:
            return
        both = np.concatenate([self.best, values], axis=1)
        if both.shape[1] > self.k:
            both = -np.partition(-both, self.k - 1, axis=1)[:, : self.k]
        self.best = both

    def reached(self, values: Panel) -> np.ndarray:
        """Per column: on some row, a value at or above the row's ``k``-th largest so far."""
        if self.k == 0:
            return np.zeros(values.shape[1], dtype=bool)
        if self.best.shape[1] < self.k:
            return (values > -np.inf).any(axis=0)
        kth = self.best.min(axis=1)[:, None]
        return ((values >= kth) & (values > -np.inf)).any(axis=0)


@dataclass(frozen=True)
class Candidates:
    """Per asset of the lake: a candidate by rule (a), by rule (b), a major."""

    by_rank: np.ndarray
    by_marketcap: np.ndarray
    major: np.ndarray

    @property
    def any(self) -> np.ndarray:
        return self.by_rank | self.by_marketcap | self.major


def candidates(
    w: WideLake,
    ucfg: UniverseConfig,
    max_gap_days: int,
    snapshots: pl.DataFrame | None = None,
) -> Candidates:
    """The candidate rule of the module doc over every asset of ``w``."""
    n_days, n = w.close.shape
    aidx = {a: i for i, a in enumerate(w.assets)}
    major = np.zeros(n, dtype=bool)
    major[[aidx[m] for m in ucfg.majors if m in aidx]] = True
    by_rank = np.zeros(n, dtype=bool)
    published = snapshots is not None and snapshots.height > 0
    if published:
        assert snapshots is not None
        named = set(snapshots["asset_id"].to_list())
        by_rank[[i for a, i in aidx.items() if a in named]] = True
    top_a = _TopK(n_days, 0 if published else ucfg.basket_size * ucfg.candidate_margin)
    top_b = _TopK(n_days, ucfg.candidate_top_marketcap)
    top_c = _TopK(n_days, ucfg.candidate_top_marketcap)  # the index's pool (rule b)
    held: list[tuple[np.ndarray, Panel | None, Panel, Panel]] = []  # columns and their keys
    for lo in range(0, n, ASSET_BLOCK):
        cols = np.arange(lo, min(n, lo + ASSET_BLOCK))
        ka, kb, kc = _keys(w, cols, ~major[cols], ucfg, max_gap_days, published)
        if ka is not None:
            top_a.add(ka)
        top_b.add(kb)
        top_c.add(kc)
        # a column below a row's k-th value so far stays below the final one (it only rises)
        keep = (
            top_b.reached(kb) | top_c.reached(kc) | (top_a.reached(ka) if ka is not None else False)
        )
        held.append((cols[keep], ka[:, keep] if ka is not None else None, kb[:, keep], kc[:, keep]))
    by_cap = np.zeros(n, dtype=bool)
    for cols, ka, kb, kc in held:
        by_cap[cols] = top_b.reached(kb) | top_c.reached(kc)
        if ka is not None:
            by_rank[cols] = top_a.reached(ka)
    return Candidates(by_rank, by_cap, major)


def _keys(
    w: WideLake,
    cols: np.ndarray,
    is_alt: np.ndarray,
    ucfg: UniverseConfig,
    g: int,
    published: bool,
) -> tuple[Panel | None, Panel, Panel]:
    """A block's rank keys where eligible (rule a; None with published universes), carried
    market caps where listed and where in the index's pool (rule b), ``-inf`` elsewhere."""
    sl = slice(int(cols[0]), int(cols[-1]) + 1)
    close = np.ascontiguousarray(w.close[:, sl])
    mcap = np.ascontiguousarray(w.mcap[:, sl])
    ret, active = returns(close, g)
    ka = None
    if published:
        carried = carry_forward(mcap, g)
    else:
        f = filters(close, active, mcap, w.volume[:, sl], is_alt, ucfg, g, every_median=False)
        ka = np.where(f.eligible & np.isfinite(f.key), f.key, -np.inf)
        carried = f.mcap
    listed = np.isfinite(ret) | np.isfinite(close)
    # and the Altcoin Season Index's pool (``indicators.altcoin_season``): alts with a 90-day
    # return on closes carried as the index carries them, and a positive carried cap
    px = carry_forward(close, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        r90 = px / shift(px, SEASON_DAYS) - 1.0
    pool = is_alt[None, :] & np.isfinite(r90) & np.isfinite(carried) & (carried > 0)
    kb = np.where(listed & np.isfinite(carried), carried, -np.inf)
    return ka, kb, np.where(pool, carried, -np.inf)


@numba.njit(cache=True)
def _listed_caps(close: np.ndarray, mcap: np.ndarray, d0: int, d1: int, g: int) -> np.ndarray:
    """Rows ``d0 .. d1 - 1`` of ``np.where(listed, carried mcap, nan)`` as ``panel.returns``,
    ``carry_forward`` and ``listed_cap_total`` compute them, the same operations on the same
    numbers, from asset-major arrays (``close[asset, day]``); the carries start ``g + 1`` days
    before ``d0``, as far as they and the returns look back."""
    n = close.shape[0]
    out = np.empty((d1 - d0, n))
    w0 = max(0, d0 - g - 1)
    for j in range(n):
        last_c, last_m = -1, -1
        prev = np.nan
        for d in range(w0, d1):
            c, m = close[j, d], mcap[j, d]
            if np.isfinite(c):
                last_c = d
            if np.isfinite(m):
                last_m = d
            px = close[j, last_c] if last_c >= 0 and d - last_c <= g else np.nan
            if d >= d0:
                listed = np.isfinite(c) or np.isfinite(px / prev - 1.0)
                cm = mcap[j, last_m] if last_m >= 0 and d - last_m <= g else np.nan
                out[d - d0, j] = cm if listed else np.nan
            prev = px
    return out


def cap_total(w: WideLake, max_gap_days: int) -> Series:
    """``listed_cap_total`` over every asset of ``w``, a block of days at a time (a row's sum
    is of that row alone: the same bits as over a panel of every asset)."""
    n_days = w.n_days
    out = np.empty(n_days)
    close, mcap = w.close.T, w.mcap.T  # asset-major, contiguous
    for a in range(0, n_days, DAY_BLOCK):
        b = min(n_days, a + DAY_BLOCK)
        out[a:b] = np.nansum(_listed_caps(close, mcap, a, b, max_gap_days), axis=1)
    return out


def alts_ended(w: WideLake, majors: tuple[str, ...]) -> np.ndarray:
    """Per day of ``w``, the assets other than ``majors`` with a close the day before and none
    that day (0 on the first day): ``market.thin.basket_drops``' ``ended_all`` over every asset
    of the lake, a block of assets at a time."""
    n_days, n = w.close.shape
    out = np.zeros(n_days, dtype=np.int64)
    alt = np.ones(n, dtype=bool)
    alt[[i for i, a in enumerate(w.assets) if a in majors]] = False
    for lo in range(0, n, ASSET_BLOCK):
        sl = slice(lo, min(n, lo + ASSET_BLOCK))
        priced = np.isfinite(w.close[:, sl][:, alt[sl]])
        out[1:] += (priced[:-1] & ~priced[1:]).sum(axis=1)
    return out


def read_scoped(
    reader: LakeReader,
    ucfg: UniverseConfig,
    max_gap_days: int,
    start: date | None,
    end: date | None,
) -> LakeData:
    """The lake for ``[start, end]`` as a run needs it: ``LakeData`` whose tables hold the
    candidates' rows only, with every table's full ``stats`` and the ``scope`` (module doc)."""
    return scoped(read_wide(reader, start, end), ucfg, max_gap_days)


def scoped(w: WideLake, ucfg: UniverseConfig, max_gap_days: int) -> LakeData:
    """``w``'s candidates for ``ucfg`` and their rows (``read_scoped`` after the read)."""
    c = candidates(w, ucfg, max_gap_days, w.tables.get("universe_snapshots"))
    return scoped_lake(w, c, cap_total(w, max_gap_days), ucfg, max_gap_days)


def scoped_lake(
    w: WideLake, c: Candidates, total: Series, ucfg: UniverseConfig, max_gap_days: int
) -> LakeData:
    """``LakeData`` of the candidates' rows (in ``LakeReader.read``'s row order)."""
    picked = np.flatnonzero(c.any)
    assets = tuple(w.assets[i] for i in picked)
    tables: dict[str, pl.DataFrame] = {}
    for name in TABLES:
        if name in WIDE:
            arr = {"fact_price": w.close, "fact_marketcap": w.mcap, "fact_volume": w.volume}[name]
            tables[name] = _long(arr, picked, assets, WIDE[name], w.start)
        elif name in w.tables:
            df = w.tables[name]
            if name in ("fact_funding", "fact_open_interest") and df.height:
                df = df.filter(pl.col("asset_id").is_in(assets))
            tables[name] = df
    rule = {
        "basket_size": ucfg.basket_size,
        "candidate_margin": ucfg.candidate_margin,
        "candidate_top_marketcap": ucfg.candidate_top_marketcap,
        "by_rank": int(c.by_rank.sum()),
        "by_marketcap": int(c.by_marketcap.sum()),
        "majors": int(c.major.sum()),
    }
    notes = w.notes
    if len(assets) < len(w.assets):
        notes += (
            f"scope: {len(assets)} of the {len(w.assets)} assets with a price in the window "
            f"enter the panel ({rule['by_rank']} by rank, {rule['by_marketcap']} by market "
            f"cap, {rule['majors']} majors; universe.candidate_margin "
            f"{ucfg.candidate_margin}, universe.candidate_top_marketcap "
            f"{ucfg.candidate_top_marketcap}); the others count in btc_dom's total only",
        )
    return LakeData(
        tables=tables,
        sources=w.sources,
        start=w.window[0],
        end=w.window[1],
        notes=notes,
        warnings=w.warnings,
        stables=w.stables,
        rejected=w.rejected,
        stats=w.stats,
        stable_caps=w.stable_caps,
        scope=Scope(
            w.start,
            len(w.assets),
            assets,
            total,
            max_gap_days,
            alts_ended(w, ucfg.majors),
            rule,
        ),
    )


def _long(
    arr: Panel, cols: np.ndarray, assets: tuple[str, ...], value: str, start: date
) -> pl.DataFrame:
    """The cells of ``arr[:, cols]`` that hold a value as rows sorted by date, then asset."""
    sub = np.ascontiguousarray(arr[:, cols])
    day, j = np.nonzero(np.isfinite(sub))
    day0 = (start - date(1970, 1, 1)).days
    return pl.DataFrame(
        {
            "asset_id": pl.Series("asset_id", assets, dtype=pl.String).gather(j),
            "date": pl.Series("date", (day + day0).astype(np.int32)).cast(pl.Date),
            value: pl.Series(value, sub[day, j], dtype=pl.Float64),
        }
    )
