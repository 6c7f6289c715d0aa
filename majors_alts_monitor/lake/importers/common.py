"""The importers' shared half: symbol names, the contract's schemas, and the lake writer.

An import (or an ``update``) writes a user-owned lake in the contract (``LAKE_CONTRACT.md``):
one ``NAME.parquet`` per table, sorted by key, column order and types fixed (``schemas.py``),
so the same rows give the same bytes, and the importer manifest (``manifest.py``) that
``update`` requires. The tables and the manifest are published together
(``publish.layout.LakeOut``): a new generation holding every table and the manifest, switched
in by one rename under the lake's own lock, so a reader sees one import's tables and manifest or
the next one's, never a mixture, and two writers of one lake (imports, updates) run one after
the other (the second merges into what the first published). A file whose bytes would not
change is carried over as it is (same file, mtime kept), and a write that changes nothing
publishes nothing: re-importing the same inputs changes no byte. Inputs are only ever opened
for reading (``inputs``).

Importing into a lake that already holds a table merges by key (``merge.py``): rows identical
to existing ones are kept once; a key with a different value is refused (``--on-conflict
error``, the default) naming the table, the first key and both values, or resolved by keeping
the existing row (``keep``) or taking the new one (``replace``); an instrument is matched by
its own key whatever asset it is filed under, so ``replace`` leaves no orphan rows.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ...errors import LakeError, MonitorError
from ...publish.layout import LakeOut, writing_lake
from ...publish.paths import resolve
from ..data_io import normalise_symbol
from . import manifest as mf
from .inputs import Drops, InputFile, iter_inputs, read_bytes, read_inputs
from .merge import Merged, OnConflict, Revision, merge, merge_table
from .schemas import KEYS, SCHEMAS, standard

__all__ = [  # re-exported for callers
    "KEYS",
    "SCHEMAS",
    "USD_QUOTES",
    "Drops",
    "InputFile",
    "Merged",
    "OnConflict",
    "Revision",
    "TableResult",
    "Written",
    "check_out",
    "futures_asset",
    "iter_inputs",
    "merge",
    "pair_asset",
    "read_bytes",
    "read_inputs",
    "standard",
    "write_tables",
]

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


def snapshot(out: Path) -> Path:
    """The folder to read a lake's tables and manifest from, all of one publication: the
    current generation of a lake the importers wrote (resolved once, so a writer switching a
    new one in meanwhile changes nothing of what is read), else the folder itself."""
    cur = LakeOut(Path(out)).store.current()
    return cur if cur is not None else Path(out)


def known_assets(out: Path) -> set[str]:
    """Assets of the lake at ``out`` (its ``fact_price`` asset ids), for ``futures_asset``."""
    p = snapshot(out) / "fact_price.parquet"
    if not p.is_file():
        return set()
    try:
        return set(pl.read_parquet(p, columns=["asset_id"])["asset_id"].unique().to_list())
    except (pl.exceptions.PolarsError, OSError):
        return set()  # the writer names the damaged file


def read_table(folder: Path, table: str) -> pl.DataFrame | None:
    """``folder``'s ``table`` as written, or None; a damaged file, a missing key column or a
    folder of partitions in its place is a ``LakeError`` naming it."""
    folder = Path(folder)
    path = folder / f"{table}.parquet"
    if (folder / table).is_dir():
        raise LakeError(
            table,
            f"{folder / table} is a folder of partitions; the importer writes one "
            f"{table}.parquet and would shadow it",
            hint="import into a new --out, or leave this table out with --tables",
        )
    if not path.is_file():
        return None
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
    return old


def render_tables(
    lk: LakeOut,
    tables: Mapping[str, pl.DataFrame],
    on_conflict: OnConflict,
    revisions: Sequence[Revision] = (),
) -> tuple[list[TableResult], dict[str, bytes]]:
    """Merge each table into the lake's current one (read under the lake's lock;
    ``revisions``, re-published files that replace what they cover, applied first): the
    results and the bytes of the tables that change. Every merge is computed (and every
    conflict refused) before anything is published, so a refused write leaves the lake as it
    was."""
    results, changed = [], {}
    names = list(dict.fromkeys([*tables, *(r.table for r in revisions)]))
    for table in names:
        old = read_table(lk.lake, table)
        m = merge_table(
            table, old, tables.get(table), on_conflict, [r for r in revisions if r.table == table]
        )
        buf = io.BytesIO()
        m.frame.write_parquet(buf, compression="zstd", statistics=True)
        data = buf.getvalue()
        path = lk.table(table)
        unchanged = path is not None and path.read_bytes() == data
        if not unchanged:
            changed[table] = data
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
                merged.height - (old.height if old is not None else 0),
            )
        )
    return results, changed


@dataclass(frozen=True)
class Written:
    """What ``write_tables`` did: each table's result, the generation it published (None:
    nothing changed, nothing published) and whether the importer manifest changed."""

    results: list[TableResult]
    generation: str | None
    manifest_changed: bool


HISTORY = 100  # records of the latest imports and updates kept in the lake's GENERATION.json


def write_tables(
    out: Path,
    tables: Mapping[str, pl.DataFrame],
    on_conflict: OnConflict,
    *,
    revisions: Sequence[Revision] = (),
    sources: Sequence[mf.SourceRecord] = (),
    manifest_update: Callable[[dict[str, Any] | None], dict[str, Any]] | None = None,
    command: str = "import",
    record: Mapping[str, Any] | None = None,
    require_manifest: Callable[[Path], None] | None = None,
    wait_s: float | None = None,
) -> Written:
    """Under the lake's lock: merge each table into the lake's (``render_tables``), record
    ``sources`` in the importer manifest (or ``manifest_update(old manifest)``), and publish the
    changed tables and the manifest as one generation (``record``, what this write was, joins
    the lake's history in its ``GENERATION.json``). ``require_manifest(lake)`` raises when the
    lake has no importer manifest (``update``'s refusal, checked again under the lock)."""
    with writing_lake(out, SCHEMAS, files=(mf.MANIFEST,), command=command, wait_s=wait_s) as lk:
        old_m = mf.load(lk.lake)
        if old_m is None and require_manifest is not None:
            require_manifest(lk.lake)
        results, changed = render_tables(lk, tables, on_conflict, revisions)
        new_m = (
            manifest_update(old_m) if manifest_update is not None else mf.updated(old_m, sources)
        )
        mbytes = mf.render(new_m)
        cur = lk.file(mf.MANIFEST)
        files = {} if cur is not None and cur.read_bytes() == mbytes else {mf.MANIFEST: mbytes}
        if not changed and not files:
            return Written(results, None, False)
        entry = {
            "source": command,
            **dict(record or {}),
            "tables_changed": sorted(changed),
            "manifest_changed": bool(files),
        }
        history = ((lk.store.record() or {}).get("imports") or [])[-(HISTORY - 1) :]
        gid = lk.publish(changed, {"imports": [*history, entry]}, files=files, command=command)
        return Written(results, gid, bool(files))
