"""What a read of the lake gives (``data_io.LakeReader.read``, ``lake.wide`` then
``market.scope`` for a run): the validated tables and where they came from, each table's rows
and span, the rows left out per table and reason (``rejected``, the manifest's
``rejected_rows``), and, for a run that kept only its candidates' rows, what it read of every
other asset (``Scope``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from ..errors import LakeError
from .tables import _Report


@dataclass(frozen=True)
class Source:
    table: str
    kind: Literal["parquet_file", "parquet_dir", "duckdb"]
    path: Path
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TableStats:
    """A table as read for a window (validated, stablecoins removed), every asset: its rows and,
    for a dated table, its first and last date (None when empty)."""

    rows: int
    dated: bool
    first: date | None = None
    last: date | None = None

    @classmethod
    def of(cls, df: pl.DataFrame) -> TableStats:
        if "date" not in df.columns:
            return cls(df.height, False)
        if not df.height:
            return cls(0, True)
        return cls(df.height, True, df["date"].min(), df["date"].max())  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scope:
    """What a run read of every asset beyond the rows of its panel's assets (``market.scope``).

    ``panel_assets``: the assets whose rows ``LakeData.tables`` holds (the candidates);
    ``n_assets``: every asset with a price in the window; per day from ``start``:
    ``cap_total``, the market cap (carried over gaps of up to ``max_gap_days``) summed over
    every listed asset of the lake, the denominator of ``btc_dom``; ``alts_ended``, the alts
    (assets other than the majors) of the lake that printed a close the day before and none
    that day (0 on the first day), what ``market.thin``'s basket-drop flag counts."""

    start: date
    n_assets: int
    panel_assets: tuple[str, ...]
    cap_total: np.ndarray
    max_gap_days: int
    alts_ended: np.ndarray
    rule: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class LakeData:
    """Validated, normalised tables for a date window, and what the reader noticed.

    ``stats``: each table's rows and span over every asset of the window; given when
    ``tables`` hold only some assets' rows (a run's candidates, ``scope``), else computed from
    ``tables``."""

    tables: dict[str, pl.DataFrame]
    sources: dict[str, Source]
    start: date
    end: date
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    stables: frozenset[str] = frozenset()
    # table -> {"rows_read": n, "rejected": {reason: {"rows": n, "first": key}}}
    rejected: dict[str, dict] = field(default_factory=dict)
    stats: dict[str, TableStats] = field(default_factory=dict)
    scope: Scope | None = None
    # fact_marketcap rows (asset_id, date, marketcap) of the assets dim_asset flags is_stable,
    # kept aside before they are removed: the stablecoin share of the total (stable_dom) and
    # the totals that count stablecoins (total2_share, total3_share); None without any
    stable_caps: pl.DataFrame | None = None

    def table_stats(self) -> dict[str, TableStats]:
        return self.stats or {name: TableStats.of(df) for name, df in self.tables.items()}

    def has(self, table: str) -> bool:
        st = self.table_stats().get(table)
        return st is not None and st.rows > 0

    def data_through(self) -> dict[str, str | None]:
        return {
            name: st.last.isoformat() if st.last is not None else None
            for name, st in self.table_stats().items()
            if st.dated
        }

    def price_span(self) -> tuple[date, date]:
        """First and last price date of the window, every asset (refused when empty)."""
        st = self.table_stats()["fact_price"]
        if st.first is None or st.last is None:
            raise LakeError(
                "fact_price",
                f"has no rows between {self.start} and {self.end}",
                hint="choose --start/--end inside the lake's span",
            )
        return st.first, st.last


REQUIRED_FACTS = ("fact_price", "fact_marketcap", "fact_volume")


def require_rows(name: str, rows: int, start: date | None, end: date | None) -> None:
    """A required fact table with no row left for the window (after rules 1-6) is refused."""
    if rows == 0:
        raise LakeError(
            name,
            f"has no rows between {start or 'its start'} and {end or 'its end'}"
            + ("" if name == "fact_price" else " (every alt's universe needs it)"),
            hint="choose --start/--end inside the lake's span, or fill the table",
        )


def rejected_rows(*reps: _Report) -> dict[str, dict]:
    """``LakeData.rejected`` from the reports of a read (one, or one per table): per table,
    the rows read and the rows left out per reason with the first offending key."""
    out: dict[str, dict] = {}
    for rep in reps:
        for t, r in rep.rejected.items():
            out[t] = {"rows_read": rep.rows_read.get(t, 0), "rejected": r}
    return out
