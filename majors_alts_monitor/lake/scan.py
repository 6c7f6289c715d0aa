"""File-level reading of lake tables, for ``data_io.py``: broken files become ``LakeError``.

Every way a lake file can be unreadable ends in an error that names the file and what to do,
never a traceback:

- a parquet file that is not parquet (junk bytes, truncated) or whose pages fail to decode;
- a DuckDB file that DuckDB cannot open;
- hive partitions that disagree: a numeric type drift (Float32 in one year, Float64 in the
  others) is cast to Float64 with a note; Datetime units and String/Categorical likewise; a
  column present in only some partitions is ignored with a note (refused when the contract
  requires it); any other type drift is refused naming the partition;
- a table stored in another format (``fact_price.csv``) is named with a pointer to
  ``majors-alts import``.

Nothing here writes: DuckDB is opened ``read_only=True`` and parquet is scanned lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import LakeError

Note = Callable[[str], None]
FIX_FILE = (
    "the file is damaged or is not parquet: re-export it from its source (or run "
    "`majors-alts import` for CSV exports), or move it out of the lake"
)
OTHER_FORMATS = (
    ".csv",
    ".csv.gz",
    ".tsv",
    ".json",
    ".jsonl",
    ".feather",
    ".arrow",
    ".xlsx",
    ".zip",
)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


@contextlib.contextmanager
def duckdb_connection(path: Path, table: str) -> Iterator[Any]:
    """A read-only DuckDB connection; an unreadable file is a ``LakeError`` naming it."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise LakeError(
            table,
            f"the DuckDB file {path} cannot be opened ({_first_line(err)})",
            hint="check --duckdb / paths.duckdb points at a valid DuckDB database, or rebuild "
            "it from its source; without one, pass --duckdb pointing at a path that does not "
            "exist to read the parquet tables only",
        ) from None
    try:
        yield con
    except duckdb.Error as err:
        raise LakeError(
            table,
            f"reading from the DuckDB file {path} failed ({_first_line(err)})",
            hint="the database may be damaged or the table malformed: rebuild it from its source",
        ) from None
    finally:
        con.close()


def file_schema(path: Path, table: str) -> pl.Schema:
    """The parquet footer's schema; junk or truncated files name the file."""
    try:
        return pl.read_parquet_schema(path)  # type: ignore[return-value]
    except (pl.exceptions.PolarsError, OSError) as err:
        raise LakeError(
            table, f"file {path} cannot be read as parquet ({_first_line(err)})", hint=FIX_FILE
        ) from None


def _hive_values(path: Path, root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in path.relative_to(root).parts[:-1]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def _common_type(types: list[pl.DataType]) -> pl.DataType | None:
    """The type partitions are cast to when they disagree, or None when the drift is refused."""
    if all(t.is_numeric() for t in types):
        return pl.Float64()
    if all(t == pl.Date or isinstance(t, pl.Datetime) for t in types):
        # Datetime units, or Date in some partitions and Datetime in others: Datetime, which
        # the reader then accepts as a date when every value is at midnight
        zones = {t.time_zone for t in types if isinstance(t, pl.Datetime)}
        return pl.Datetime("us", zones.pop()) if len(zones) == 1 else None
    if all(t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum) for t in types):
        return pl.String()
    return None


def scan_partitions(
    table: str,
    root: Path,
    files: tuple[Path, ...],
    required: tuple[str, ...],
    note: Note,
    text: tuple[str, ...] = ("asset_id", "instrument_id", "symbol", "name"),
) -> pl.LazyFrame:
    """A lazy scan of a folder of parquet files, reconciling partitions that disagree.
    ``text``: columns that hold strings (any other contract column holds a number or a date)."""
    schemas = {f: file_schema(f, table) for f in files}
    first = next(iter(schemas.values()))
    if all(s == first for s in schemas.values()):
        return pl.scan_parquet(str(root / "**" / "*.parquet"), hive_partitioning=True)
    rel = {f: str(f.relative_to(root)) for f in files}
    columns: list[str] = []
    for s in schemas.values():
        columns += [c for c in s if c not in columns]
    keep: dict[str, pl.DataType] = {}
    for c in columns:
        have = [f for f in files if c in schemas[f]]
        if len(have) < len(files):
            lacking = next(f for f in files if c not in schemas[f])
            if c in required:
                raise LakeError(
                    table,
                    f"partition {lacking} has no column '{c}' (the other partitions have it)",
                    column=c,
                    hint="rewrite that partition with the column, or move it out of the lake",
                )
            note(
                f"{table}: column '{c}' is present in only {len(have)} of {len(files)} "
                f"partitions (absent from {rel[lacking]}); ignored"
            )
            continue
        types = [schemas[f][c] for f in files]
        if all(t == types[0] for t in types):
            keep[c] = types[0]
            continue
        target = _common_type(types)

        # the odd partition: the minority type; on a tie, the one that does not look right
        def looks_right(t: pl.DataType, c: str = c) -> bool:
            if c in text:
                return t == pl.String
            return t.is_numeric() or t == pl.Date or isinstance(t, pl.Datetime)

        majority = max(set(types), key=lambda t: (types.count(t), looks_right(t), str(t)))
        odd = next(f for f in files if schemas[f][c] != majority)
        if target is None:
            raise LakeError(
                table,
                f"partition {odd} stores the column as {schemas[odd][c]}, the other partitions "
                f"as {majority}",
                column=c,
                hint="rewrite that partition with the same column types as the others",
            )
        note(
            f"{table}: partitions disagree on the type of '{c}' ({schemas[odd][c]} in "
            f"{rel[odd]}, {majority} elsewhere); cast to {target}"
        )
        keep[c] = target
    frames = []
    for f in files:
        hive = {k: v for k, v in _hive_values(f, root).items() if k not in keep}
        lf = pl.scan_parquet(f).select([pl.col(c).cast(t) for c, t in keep.items()])
        if hive:
            lf = lf.with_columns(  # typed as polars' hive partitioning types them
                [
                    (
                        pl.lit(int(v), dtype=pl.Int64) if v.lstrip("-").isdigit() else pl.lit(v)
                    ).alias(k)
                    for k, v in hive.items()
                ]
            )
        frames.append(lf)
    return pl.concat(frames, how="diagonal_relaxed")


def collect(lf: pl.LazyFrame, table: str, files: tuple[Path, ...]) -> pl.DataFrame:
    """Collect a scan; when a file fails to decode, name the first one that does."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as err:
        for f in files:
            try:
                pl.read_parquet(f)
            except (pl.exceptions.PolarsError, OSError) as ferr:
                raise LakeError(
                    table, f"file {f} cannot be read ({_first_line(ferr)})", hint=FIX_FILE
                ) from None
        where = files[0].parent if len(files) > 1 else files[0]
        raise LakeError(
            table,
            f"reading {where} failed ({_first_line(err)})",
            hint="check the files' columns and types against LAKE_CONTRACT.md",
        ) from None


def other_formats(lake_dir: Path, table: str) -> list[Path]:
    """Files that look like the table in a format the reader does not read."""
    found = [p for ext in OTHER_FORMATS if (p := lake_dir / f"{table}{ext}").is_file()]
    folder = lake_dir / table
    if folder.is_dir():
        found += sorted(
            p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(OTHER_FORMATS)
        )[:3]
    return found


def missing_table_hint(lake_dir: Path, table: str) -> str:
    found = other_formats(lake_dir, table)
    if not found:
        return "check --lake points at the lake folder"
    names = ", ".join(str(p.relative_to(lake_dir)) for p in found)
    return (
        f"found {names}; only parquet is read; see `majors-alts import` to convert Binance or "
        "CoinGecko CSV exports into a lake, or write the table as parquet"
    )
