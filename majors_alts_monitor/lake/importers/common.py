"""The importers' shared half: symbols, the contract's schemas, merging into the lake's tables.

An import writes a user-owned lake in the contract (``LAKE_CONTRACT.md``): one
``NAME.parquet`` per table, sorted by key, column order and types fixed, so the same rows give
the same bytes. The tables are published together (``publish.layout.LakeOut``): a new
generation holding every table, switched in by one rename under the lake's own lock, so a reader
sees one import's tables or the next one's, never a mixture, and two imports into one lake run
one after the other (the second merges into what the first published). A table whose bytes
would not change is carried over as it is (same file, mtime kept), and an import that changes
nothing publishes nothing: re-importing the same inputs changes no byte. Inputs are only ever
opened for reading (``inputs``).

Importing into a lake that already holds a table merges by key: rows identical to existing
ones are kept once; a key with a different value is refused (``--on-conflict error``, the
default) naming the table, the first key and both values, or resolved by keeping the existing
row (``keep``) or taking the new one (``replace``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from ...errors import LakeError, MonitorError
from ...publish.layout import LakeOut
from ...publish.paths import resolve
from ..data_io import normalise_symbol
from ..tables import TABLES
from .inputs import Drops, InputFile, iter_inputs, read_inputs

__all__ = ["Drops", "InputFile", "iter_inputs", "read_inputs"]  # re-exported for callers

OnConflict = Literal["error", "keep", "replace"]

# column order and types of every table an importer writes (LAKE_CONTRACT.md)
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "fact_price": {
        "asset_id": pl.String(),
        "date": pl.Date(),
        "close": pl.Float64(),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
    },
    "fact_marketcap": {"asset_id": pl.String(), "date": pl.Date(), "marketcap": pl.Float64()},
    "fact_volume": {"asset_id": pl.String(), "date": pl.Date(), "volume": pl.Float64()},
    "fact_funding": {
        "asset_id": pl.String(),
        "instrument_id": pl.String(),
        "date": pl.Date(),
        "funding_rate": pl.Float64(),
    },
    "dim_instrument": {
        "instrument_id": pl.String(),
        "asset_id": pl.String(),
        "venue": pl.String(),
        "instrument_type": pl.String(),
        "quote": pl.String(),
    },
}
# keys as the reader checks them (data_io.TABLES); dim_instrument is written, never read
KEYS: dict[str, tuple[str, ...]] = {
    name: TABLES[name].key if name in TABLES else ("instrument_id",) for name in SCHEMAS
}
# quote assets whose volume is USD at par; longest first so FDUSD is not read as ...USD
USD_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD")


def pair_asset(symbol: str, aliases: dict[str, str]) -> tuple[str, str] | None:
    """``BTCUSDT -> (BTC, USDT)``, ``BTCUSD_PERP -> (BTC, USD)``; None when not quoted in USD.

    The quote asset is split off here; the rest goes through the reader's symbol normalisation
    (``data_io.normalise_symbol``: suffixes, then config aliases such as ``SATS -> 1000SATS``).
    """
    s = symbol.strip().upper()
    if s.endswith("_PERP"):
        s = s[: -len("_PERP")]
    for q in USD_QUOTES:
        if s.endswith(q) and len(s) > len(q):
            base = s[: -len(q)]
            return normalise_symbol(base, {base}, aliases), q
    return None


def standard(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Columns in contract order and type, sorted by key (deterministic bytes)."""
    schema = SCHEMAS[table]
    cols = [
        pl.col(c).cast(t) if c in df.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in schema.items()
    ]
    return df.select(cols).sort(list(KEYS[table]))


def merge(
    table: str, old: pl.DataFrame | None, new: pl.DataFrame, on_conflict: OnConflict
) -> tuple[pl.DataFrame, int]:
    """Existing rows merged with new ones by key; returns the frame and the number of keys
    where the two disagreed (resolved by ``on_conflict`` or refused)."""
    new = standard(new, table)
    if old is None:
        return new, 0
    old = standard(old, table)
    key = list(KEYS[table])
    both = old.join(new, on=key, how="inner", suffix="__new", nulls_equal=True)
    values = [c for c in SCHEMAS[table] if c not in key]
    differs = pl.any_horizontal(
        [pl.col(c).ne_missing(pl.col(f"{c}__new")) for c in values] or [pl.lit(False)]
    )
    clash = both.filter(differs).sort(key)
    if clash.height and on_conflict == "error":
        r = clash.row(0, named=True)
        first = {k: str(r[k]) for k in key}
        was = {c: r[c] for c in values if r[c] != r[f"{c}__new"]}
        now = {c: r[f"{c}__new"] for c in values if r[c] != r[f"{c}__new"]}
        raise LakeError(
            table,
            f"{clash.height} keys already in the output lake have different values in this "
            f"import (lake {was}, import {now})",
            key=first,
            hint="import into a new --out, restrict this import with --tables, or pass "
            "--on-conflict keep (existing rows win) or --on-conflict replace (this import wins)",
        )
    if on_conflict == "replace":
        merged = pl.concat([old.join(new, on=key, how="anti", nulls_equal=True), new])
    else:
        merged = pl.concat([old, new.join(old, on=key, how="anti", nulls_equal=True)])
    return standard(merged, table), clash.height


@dataclass(frozen=True)
class TableResult:
    table: str
    rows: int
    assets: int
    start: date | None
    end: date | None
    status: str  # "written" | "unchanged"
    conflicts: int

    def line(self) -> str:
        span = f"{self.start}..{self.end}" if self.start is not None else "-"
        extra = f", {self.conflicts} conflicting keys resolved" if self.conflicts else ""
        return (
            f"  {self.table:<16} {self.rows:>9,} rows {self.assets:>5} assets  {span:<23} "
            f"{self.status}{extra}"
        )


def check_out(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output lake that is an input file or lies inside an input folder (symlinks
    followed; a symlink loop is an error naming the option)."""
    o = resolve(out, "--out")
    for p in inputs:
        r = resolve(p, "input")
        if o == r or (r.is_dir() and r in o.parents):
            raise MonitorError(
                f"--out {out} is (inside) the input {p}; an import never writes beside its "
                "inputs. What to do: choose an --out folder outside the input folders"
            )
    if o.exists() and not o.is_dir():
        raise MonitorError(f"--out {out} exists and is not a folder")


def render_tables(
    lk: LakeOut, tables: dict[str, pl.DataFrame], on_conflict: OnConflict
) -> tuple[list[TableResult], dict[str, bytes]]:
    """Merge each table into the lake's current one (read under the lake's lock): the results
    and the bytes of the tables that change. Every merge is computed (and every conflict
    refused) before anything is published, so a refused import leaves the lake as it was."""
    out = lk.lake
    results, changed = [], {}
    for table, df in tables.items():
        if (out / table).is_dir():
            raise LakeError(
                table,
                f"{out / table} is a folder of partitions; the importer writes one "
                f"{table}.parquet and would shadow it",
                hint="import into a new --out, or leave this table out with --tables",
            )
        path = lk.table(table)
        old = None
        if path is not None:
            try:
                old = pl.read_parquet(path)
            except (pl.exceptions.PolarsError, OSError) as err:
                raise LakeError(
                    table,
                    f"the existing {path} cannot be read ({str(err).splitlines()[0]})",
                    hint="import into a new --out, or remove the damaged file",
                ) from None
            missing = [c for c in KEYS[table] if c not in old.columns]
            if missing:
                raise LakeError(
                    table,
                    f"the existing {path} has no column {missing[0]}",
                    column=missing[0],
                    hint="import into a new --out",
                )
        merged, conflicts = merge(table, old, df, on_conflict)
        buf = io.BytesIO()
        merged.write_parquet(buf, compression="zstd", statistics=True)
        data = buf.getvalue()
        unchanged = path is not None and path.read_bytes() == data
        if not unchanged:
            changed[table] = data
        dated = "date" in merged.columns and merged.height > 0
        results.append(
            TableResult(
                table,
                merged.height,
                merged["asset_id"].n_unique() if merged.height else 0,
                merged["date"].min() if dated else None,  # type: ignore[arg-type]
                merged["date"].max() if dated else None,  # type: ignore[arg-type]
                "unchanged" if unchanged else "written",
                conflicts,
            )
        )
    return results, changed
