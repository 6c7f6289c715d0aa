"""The importers' shared half: input files, drop accounting, merging and the atomic lake writer.

An import writes a user-owned lake in the contract (``LAKE_CONTRACT.md``): one
``NAME.parquet`` per table, sorted by key, column order and types fixed, so the same rows give
the same bytes. Each table is written to a temporary name and renamed (atomic per table); a
table whose bytes would not change is not touched at all (mtime kept), so re-importing the same
inputs changes no byte. Inputs are only ever opened for reading.

Importing into a lake that already holds a table merges by key: rows identical to existing
ones are kept once; a key with a different value is refused (``--on-conflict error``, the
default) naming the table, the first key and both values, or resolved by keeping the existing
row (``keep``) or taking the new one (``replace``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from ...errors import LakeError, MonitorError
from ...report.outputs import atomic_write
from ..data_io import normalise_symbol
from ..tables import TABLES

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


@dataclass(frozen=True)
class InputFile:
    """One CSV as read: its display name (``a.zip:member.csv`` for zip members) and text."""

    name: str
    stem: str
    text: str


@dataclass
class Drops:
    """Rows an importer left out, by reason, with the first example of each."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, n: int, example: str) -> None:
        if n <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + n
        self.first.setdefault(reason, example)

    def lines(self) -> list[str]:
        return [
            f"  dropped {n:>7,} {'row' if n == 1 else 'rows'}: {reason} (first: {self.first[reason]})"
            for reason, n in sorted(self.counts.items())
        ]


def iter_inputs(
    paths: Iterable[Path], patterns: tuple[str, ...] = ("*.csv", "*.zip")
) -> Iterator[Path]:
    """Input files: each path itself if a file, else the matching files under it, sorted."""
    for p in paths:
        p = Path(p)
        if p.is_file():
            yield p
        elif p.is_dir():
            found = sorted({f for pat in patterns for f in p.rglob(pat) if f.is_file()})
            yield from found
        else:
            raise MonitorError(f"input {p} does not exist")


def read_inputs(path: Path) -> list[InputFile]:
    """A CSV's text, or the text of every CSV member of a zip (read with the stdlib)."""
    try:
        if path.suffix.lower() == ".zip":
            out = []
            with zipfile.ZipFile(path) as zf:
                for m in sorted(zf.namelist()):
                    if m.lower().endswith(".csv"):
                        out.append(InputFile(f"{path.name}:{m}", Path(m).stem, zf.read(m).decode()))
            return out
        return [InputFile(path.name, path.stem, path.read_text())]
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        raise MonitorError(
            f"input {path} cannot be read ({type(err).__name__}: {err}). What to do: "
            "re-download it or leave it out"
        ) from None


def read_csv(
    text: str, names: list[str], types: dict[str, pl.DataType], source: str
) -> pl.DataFrame:
    """A headerless-or-headed CSV with positional column names (a header is detected by its
    first field not being a number)."""
    first = text.lstrip().split("\n", 1)[0].split(",", 1)[0].strip().strip('"')
    has_header = bool(first) and not first.lstrip("-").replace(".", "", 1).isdigit()
    if not text.strip() or (has_header and "\n" not in text.strip()):
        return pl.DataFrame(schema={n: types.get(n, pl.String()) for n in names})
    try:
        df = pl.read_csv(
            io.StringIO(text),
            has_header=has_header,
            new_columns=names,
            schema_overrides=types,
            infer_schema_length=0,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as err:
        raise MonitorError(
            f"input {source} is not in the expected format ({type(err).__name__}: "
            f"{str(err).splitlines()[0]}); expected columns {', '.join(names)}"
        ) from None
    if df.width != len(names):
        raise MonitorError(
            f"input {source} has {df.width} columns, expected {len(names)}: {', '.join(names)}"
        )
    return df


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
    """Refuse an output lake that is an input file or lies inside an input folder."""
    o = Path(out).resolve()
    for p in inputs:
        r = Path(p).resolve()
        if o == r or (r.is_dir() and r in o.parents):
            raise MonitorError(
                f"--out {out} is (inside) the input {p}; an import never writes beside its "
                "inputs. What to do: choose an --out folder outside the input folders"
            )
    if o.exists() and not o.is_dir():
        raise MonitorError(f"--out {out} exists and is not a folder")


def write_tables(
    out: Path, tables: dict[str, pl.DataFrame], on_conflict: OnConflict
) -> list[TableResult]:
    """Merge each table into ``out/NAME.parquet`` and write it atomically when it changed.

    Every merge is computed (and every conflict refused) before the first file is written, so a
    refused import leaves the lake as it was."""
    out = Path(out)
    rendered: dict[str, tuple[pl.DataFrame, int, bytes]] = {}
    for table, df in tables.items():
        path = out / f"{table}.parquet"
        if (out / table).is_dir():
            raise LakeError(
                table,
                f"{out / table} is a folder of partitions; the importer writes one "
                f"{table}.parquet and would shadow it",
                hint="import into a new --out, or leave this table out with --tables",
            )
        old = None
        if path.is_file():
            try:
                old = pl.read_parquet(path)
            except pl.exceptions.PolarsError as err:
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
        rendered[table] = (merged, conflicts, buf.getvalue())
    results = []
    for table, (merged, conflicts, data) in rendered.items():
        path = out / f"{table}.parquet"
        unchanged = path.is_file() and path.read_bytes() == data
        if not unchanged:
            atomic_write(path, data)
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
    return results
