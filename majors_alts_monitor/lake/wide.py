"""Every asset of a window on narrow columns: the three required fact tables placed on the
(day x asset) grid as dense arrays, and the other tables validated, for ``market.scope`` to
choose which assets enter a run's panel.

The rules are ``LakeReader.read``'s (``data_io`` rules 1-6, dates outside 2009-01-03..today
(``clock.today()``) and values beyond physical sense included), with the same notes, warnings and
errors in the same order; every row left out is counted per table and reason with its first key
as ``read`` counts it (``rejected``: the manifest's ``rejected_rows``), and each table's shares
are judged (``LakeReader.judge``, ``limits.rejected_rows_*``) once rule 5 is done, as ``read``
judges them. What differs is how the large tables are read:

- of ``fact_price``, ``fact_marketcap`` and ``fact_volume`` only ``asset_id``, ``date`` and the
  value column are read, pushed down to the parquet scan with the window;
- their rows are placed on the grid (every day of the window's price span x every asset with a
  price in it, sorted) instead of being sorted: a key met twice shows as fewer filled cells than
  rows placed, and only then does the exact duplicate rule run (rows off the grid, a market cap
  dated before the first price or a stablecoin's, are checked apart);
- one long table is held at a time. The arrays are float64, one column per asset, stored
  asset-major (a column is contiguous: ``market.scope`` works through them a block of assets at
  a time); a cell without a row is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from ..arrays import Panel
from ..errors import LakeError
from .data_io import LakeReader, remove_stables, sort_table, stable_caps_of
from .lake_data import REQUIRED_FACTS, Source, TableStats, rejected_rows, require_rows
from .tables import TABLES, _may_repeat_a_key, _Report, drop_duplicates, key_columns

WIDE: dict[str, str] = {
    "fact_price": "close",
    "fact_marketcap": "marketcap",
    "fact_volume": "volume",
}


@dataclass(frozen=True)
class WideLake:
    """The window's three required tables on the grid, and the rest of what ``read`` gives."""

    start: date  # the grid's first day: the window's first price date (every asset)
    assets: tuple[str, ...]  # every asset with a price in the window, sorted
    close: Panel  # (n_days, n_assets), NaN where the table has no row
    mcap: Panel
    volume: Panel
    tables: dict[str, pl.DataFrame]  # the other tables: validated, stablecoins removed, sorted
    sources: dict[str, Source]
    stats: dict[str, TableStats]  # every table as read, every asset
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    stables: frozenset[str]
    window: tuple[date, date]  # the window asked (its ends default to the price span's)
    rejected: dict[str, dict]  # ``LakeData.rejected``: rows left out per table and reason
    stable_caps: pl.DataFrame | None = None  # ``LakeData.stable_caps``

    @property
    def n_days(self) -> int:
        return self.close.shape[0]

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.n_days - 1)


@dataclass(frozen=True)
class _Grid:
    day0: int  # the first day, days since 1970-01-01
    n_days: int
    assets: tuple[str, ...]

    @property
    def n_assets(self) -> int:
        return len(self.assets)


def read_wide(reader: LakeReader, start: date | None, end: date | None) -> WideLake:
    """Read and validate every contract table for ``[start, end]`` (module doc)."""
    reps = {name: _Report() for name in TABLES}
    removed = {name: _Report() for name in TABLES}  # rule 6's notes: after every table's
    narrow = {name: ("asset_id", "date", value) for name, value in WIDE.items()}
    scanned = reader.scan_table("fact_price", start, end, reps["fact_price"], narrow["fact_price"])
    known = reader._known_assets(start, end, scanned[1] if scanned is not None else None)
    sources: dict[str, Source] = {}
    tables: dict[str, pl.DataFrame] = {}
    # dim_asset first: the stablecoins are known before the large tables are placed. Its
    # refusal waits for its turn in ``TABLES``' order, so that a lake with several faults is
    # refused for the same one as ``read`` refuses it (the facts' checks do not depend on the
    # stablecoins: their repeated keys are looked for on and off the grid alike)
    deferred: LakeError | None = None
    try:
        got = reader.read_table("dim_asset", start, end, known, reps["dim_asset"])
        if got is not None:
            sources["dim_asset"], tables["dim_asset"] = got
            reader.judge("dim_asset", reps["dim_asset"])
    except LakeError as err:
        deferred = err
        tables.pop("dim_asset", None)
    stables = reader.stables(tables.get("dim_asset"))
    grid: _Grid | None = None
    arrays: dict[str, Panel] = {}
    stats: dict[str, TableStats] = {}
    stable_caps: pl.DataFrame | None = None
    for name in WIDE:
        got = reader.read_table(
            name,
            start,
            end,
            known,
            reps[name],
            columns=narrow[name],
            duplicates=False,
            scanned=scanned if name == "fact_price" else None,
        )
        scanned = None
        assert got is not None  # a required table: read_table refuses its absence
        sources[name], df = got
        if name == "fact_price":
            grid = _grid(df, stables)
        df, arrays[name] = _place(df, name, grid, reps[name])
        if name == "fact_marketcap":  # the stablecoins' caps, before rule 6 (stable_dom)
            stable_caps = stable_caps_of(tables.get("dim_asset"), df)
        reader.judge(name, reps[name])  # after rule 5, as ``read`` judges a table
        kept = ~df["asset_id"].is_in(sorted(stables))
        if (n_out := int((~kept).sum())) > 0:
            removed[name].note(f"{name}: removed {n_out} rows of stablecoins/excluded assets")
        stats[name] = _stats(df["date"].filter(kept))
        del df, kept
    for name in TABLES:
        if name == "dim_asset" and deferred is not None:
            raise deferred
        if name in WIDE or name == "dim_asset":
            continue
        got = reader.read_table(name, start, end, known, reps[name])
        if got is not None:
            sources[name], df = got
            reader.judge(name, reps[name])
            if df.height:
                df = sort_table(remove_stables(name, df, stables, removed[name]))
            tables[name] = df
            stats[name] = TableStats.of(df)
    if "dim_asset" in tables:
        stats["dim_asset"] = TableStats.of(tables["dim_asset"])
    for name in REQUIRED_FACTS:
        require_rows(name, stats[name].rows, start, end)
    assert grid is not None  # fact_price has rows of assets other than stablecoins
    order = [n for n in TABLES if n in stats]
    span = stats["fact_price"]
    assert span.first is not None and span.last is not None
    return WideLake(
        start=span.first,
        assets=grid.assets,
        close=arrays["fact_price"],
        mcap=arrays["fact_marketcap"],
        volume=arrays["fact_volume"],
        tables={n: tables[n] for n in order if n in tables},
        sources={n: sources[n] for n in order},
        stats={n: stats[n] for n in order},
        notes=tuple(m for r in (*reps.values(), *removed.values()) for m in r.notes),
        warnings=tuple(m for r in (*reps.values(), *removed.values()) for m in r.warnings),
        stables=stables,
        window=(start or span.first, end or span.last),
        rejected=rejected_rows(*reps.values()),
        stable_caps=stable_caps,
    )


def _grid(price: pl.DataFrame, stables: frozenset[str]) -> _Grid | None:
    """Every day of the price span x every asset with a price, stablecoins apart."""
    assets = tuple(sorted(set(price["asset_id"].unique().to_list()) - stables))
    if not assets:
        return None
    days = price["date"].filter(~price["asset_id"].is_in(sorted(stables))).to_physical()
    d0, d1 = int(days.min()), int(days.max())  # type: ignore[arg-type]
    return _Grid(d0, d1 - d0 + 1, assets)


def _stats(dates: pl.Series) -> TableStats:
    if not len(dates):
        return TableStats(0, True)
    return TableStats(len(dates), True, dates.min(), dates.max())  # type: ignore[arg-type]


def _place(
    df: pl.DataFrame, name: str, grid: _Grid | None, rep: _Report
) -> tuple[pl.DataFrame, Panel]:
    """The table's rows on the grid (``(n_days, n_assets)``, asset-major), after rule 5: a
    repeated key is looked for by counting the filled cells, and the exact rule runs only when
    one may exist. Returns the table (duplicates dropped) and the array."""
    spec, value = TABLES[name], WIDE[name]
    if grid is None:
        if df.height and _may_repeat_a_key(df, key_columns(df, spec)):
            df = drop_duplicates(df, spec, rep)
        return df, np.empty((0, 0))
    for attempt in (0, 1):
        code = df["asset_id"].cast(pl.Enum(grid.assets), strict=False).to_physical()
        day = df["date"].to_physical()
        on = (code.is_not_null() & (day >= grid.day0) & (day < grid.day0 + grid.n_days)).to_numpy()
        everywhere = bool(on.all())
        flat = (code if everywhere else code.filter(on)).to_numpy().astype(np.int64)
        flat *= grid.n_days  # asset-major: a column's days are contiguous
        flat += (day.to_numpy() if everywhere else day.to_numpy()[on]) - grid.day0
        values = df[value].to_numpy()
        cells = np.full((grid.n_assets, grid.n_days), np.nan)
        cells.ravel()[flat] = values if everywhere else values[on]
        placed = len(flat)
        del flat, values, code, day
        off = df.filter(~pl.Series(on)) if not everywhere else df.clear()
        repeated = np.count_nonzero(cells == cells) < placed or (
            off.height > 0 and _may_repeat_a_key(off, key_columns(off, spec))
        )
        if not repeated or attempt:
            return df, cells.T
        df = drop_duplicates(df, spec, rep)
    raise AssertionError("unreachable")
