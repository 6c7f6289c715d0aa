"""The importers' shared half: input files, drop accounting, symbol names and the lake writer.

An import writes a user-owned lake in the contract (``LAKE_CONTRACT.md``): one
``NAME.parquet`` per table, sorted by key, column order and types fixed (``schemas.py``), so the
same rows give the same bytes, and the importer manifest (``manifest.py``) that ``update``
requires. The changed files are committed together (``report.outputs.write_all``: temporary
names, a journal, renames); a table whose bytes would not change is not touched at all (mtime
kept), so re-importing the same inputs changes no byte. Inputs are only ever opened for reading.

Importing into a lake that already holds a table merges by key (``merge.py``): rows identical
to existing ones are kept once; a key with a different value is refused (``--on-conflict
error``, the default) naming the table, the first key and both values, or resolved by keeping
the existing row (``keep``) or taking the new one (``replace``); an instrument is matched by
its own key whatever asset it is filed under, so ``replace`` leaves no orphan rows.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ...errors import LakeError, MonitorError
from ...report.outputs import write_all
from ..data_io import normalise_symbol
from . import manifest as mf
from .merge import Merged, OnConflict, Revision, merge, merge_table
from .schemas import KEYS, SCHEMAS, standard

__all__ = [
    "KEYS",
    "SCHEMAS",
    "USD_QUOTES",
    "Drops",
    "InputFile",
    "Merged",
    "OnConflict",
    "Revision",
    "TableResult",
    "check_out",
    "futures_asset",
    "iter_inputs",
    "merge",
    "pair_asset",
    "read_csv",
    "read_inputs",
    "standard",
    "write_tables",
]

# quote assets whose volume is USD at par; longest first so FDUSD is not read as ...USD
USD_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD")


@dataclass(frozen=True)
class InputFile:
    """One CSV as read: its display name (``a.zip:member.csv`` for zip members), its stem, its
    text, and the sha256 of the file it came from (the zip's for a member)."""

    name: str
    stem: str
    text: str
    sha256: str = ""


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
        data = path.read_bytes()
        return read_bytes(path.name, data)
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        raise MonitorError(
            f"input {path} cannot be read ({type(err).__name__}: {err}). What to do: "
            "re-download it or leave it out"
        ) from None


def read_bytes(name: str, data: bytes) -> list[InputFile]:
    """A CSV's text, or the text of every CSV member of a zip, from the file's bytes (raises
    ``zipfile.BadZipFile`` or ``UnicodeDecodeError`` for the caller to name the file)."""
    sha = hashlib.sha256(data).hexdigest()
    if name.lower().endswith(".zip"):
        out = []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for m in sorted(zf.namelist()):
                if m.lower().endswith(".csv"):
                    out.append(InputFile(f"{name}:{m}", Path(m).stem, zf.read(m).decode(), sha))
        return out
    return [InputFile(name, Path(name).stem, data.decode(), sha)]


def read_csv(
    text: str,
    names: list[str],
    types: dict[str, pl.DataType],
    source: str,
    has_header: bool | None = None,
) -> pl.DataFrame:
    """A headerless-or-headed CSV with positional column names (unless told, a header is
    detected by its first field not being a number)."""
    if has_header is None:
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


# a futures contract on 1,000 (1,000,000, ...) units of a coin: 1000PEPEUSDT, 1MBABYDOGEUSDT
MULTIPLIER_PREFIX = re.compile(r"^(?:1M|1000+)(?=[A-Z])")


def futures_asset(base: str, known: Collection[str], aliases: dict[str, str]) -> str:
    """The asset a futures contract's base name belongs to: the config's alias when there is
    one; the name itself when it is an asset of the lake (the contract's ``1000SATS``);
    otherwise, a ``1000``/``1M`` multiplier prefix is dropped (``1000PEPE -> PEPE``,
    ``1MBABYDOGE -> BABYDOGE``, then aliases again: ``1000SATS -> SATS -> 1000SATS``)."""
    b = base.strip().upper()
    if b in aliases:
        return aliases[b]
    if b in known:
        return b
    m = MULTIPLIER_PREFIX.match(b)
    if m is not None:
        rest = b[m.end() :]
        return aliases.get(rest, rest)
    return normalise_symbol(b, set(known) | {b}, aliases)


def pair_futures(
    symbol: str, known: Collection[str], aliases: dict[str, str]
) -> tuple[str, str] | None:
    """``1000PEPEUSDT -> (PEPE, USDT)`` (``futures_asset``), ``BTCUSD_PERP -> (BTC, USD)``;
    None when not quoted in USD."""
    s = symbol.strip().upper().removesuffix("_PERP")
    for q in USD_QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return futures_asset(s[: -len(q)], known, aliases), q
    return None


@dataclass(frozen=True)
class TableResult:
    table: str
    rows: int
    assets: int
    start: date | None
    end: date | None
    status: str  # "written" | "unchanged"
    conflicts: int
    refiled: tuple[tuple[str, str, str], ...] = ()
    revised: int = 0
    revised_by: tuple[tuple[str, int], ...] = ()
    added: int = 0  # rows more than the lake held before

    def line(self) -> str:
        span = f"{self.start}..{self.end}" if self.start is not None else "-"
        extra = f" (+{self.added:,} rows)" if self.added > 0 else ""
        extra += f", {self.conflicts} conflicting keys resolved" if self.conflicts else ""
        if self.revised:
            extra += f", {self.revised} rows revised"
        if self.refiled:
            moves = "; ".join(f"{i} {a} -> {b}" for i, a, b in self.refiled[:3])
            more = f" and {len(self.refiled) - 3} more" if len(self.refiled) > 3 else ""
            extra += f", {len(self.refiled)} instruments re-filed ({moves}{more})"
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


def known_assets(out: Path) -> set[str]:
    """Assets of the lake at ``out`` (its ``fact_price`` asset ids), for ``futures_asset``."""
    p = Path(out) / "fact_price.parquet"
    if not p.is_file():
        return set()
    try:
        return set(pl.read_parquet(p, columns=["asset_id"])["asset_id"].unique().to_list())
    except pl.exceptions.PolarsError:
        return set()  # write_tables names the damaged file


def read_table(out: Path, table: str) -> pl.DataFrame | None:
    """The lake's ``table`` as written, or None; a damaged file or a missing key column is a
    ``LakeError`` naming it."""
    out = Path(out)
    path = out / f"{table}.parquet"
    if (out / table).is_dir():
        raise LakeError(
            table,
            f"{out / table} is a folder of partitions; the importer writes one "
            f"{table}.parquet and would shadow it",
            hint="import into a new --out, or leave this table out with --tables",
        )
    if not path.is_file():
        return None
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
    return old


def write_tables(
    out: Path,
    tables: dict[str, pl.DataFrame],
    on_conflict: OnConflict,
    *,
    revisions: Sequence[Revision] = (),
    sources: Sequence[mf.SourceRecord] = (),
    manifest_update: Callable[[dict[str, Any] | None], dict[str, Any]] | None = None,
) -> list[TableResult]:
    """Merge each table into ``out/NAME.parquet`` (``revisions`` applied first: re-published
    files that replace what they cover), record ``sources`` in the importer manifest (or
    ``manifest_update(old manifest)``), and commit every changed file together.

    Every merge is computed (and every conflict refused) before the first file is written, so a
    refused import leaves the lake as it was."""
    out = Path(out)
    rendered: dict[str, tuple[Merged, bytes]] = {}
    before: dict[str, int] = {}
    names = list(dict.fromkeys([*tables, *(r.table for r in revisions)]))
    for table in names:
        old = read_table(out, table)
        before[table] = old.height if old is not None else 0
        m = merge_table(
            table,
            old,
            tables.get(table),
            on_conflict,
            [r for r in revisions if r.table == table],
        )
        buf = io.BytesIO()
        m.frame.write_parquet(buf, compression="zstd", statistics=True)
        rendered[table] = (m, buf.getvalue())
    changed: dict[Path, bytes] = {}
    results = []
    for table, (m, data) in rendered.items():
        path = out / f"{table}.parquet"
        unchanged = path.is_file() and path.read_bytes() == data
        if not unchanged:
            changed[path] = data
        merged = m.frame
        dated = "date" in merged.columns and merged.height > 0
        results.append(
            TableResult(
                table,
                merged.height,
                merged["asset_id"].n_unique() if merged.height else 0,
                merged["date"].min() if dated else None,  # type: ignore[arg-type]
                merged["date"].max() if dated else None,  # type: ignore[arg-type]
                "unchanged" if unchanged else "written",
                m.conflicts,
                m.refiled,
                m.revised,
                m.revised_by,
                merged.height - before[table],
            )
        )
    mpath = mf.manifest_path(out)
    old_m = mf.load(out)
    new_m = manifest_update(old_m) if manifest_update is not None else mf.updated(old_m, sources)
    mbytes = mf.render(new_m)
    if not (mpath.is_file() and mpath.read_bytes() == mbytes):
        changed[mpath] = mbytes
    if changed:
        # the manifest last: it vouches for the tables beside it
        write_all(dict(sorted(changed.items(), key=lambda kv: kv[0] == mpath)))
    return results
