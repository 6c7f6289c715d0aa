"""Merging an import into a lake that already holds the table (pure: frames in, frames out).

Rows are matched on the table's merge key (``schemas.MERGE_KEYS``): an asset and a day for the
asset tables, an instrument and a day for funding and open interest. A row identical to the
lake's is kept once; a key whose values differ is a conflict, refused (``error``, naming the
table, the first key and both values), resolved for the lake (``keep``) or for the import
(``replace``).

An instrument belongs to one asset. An import that files an instrument under another asset than
the lake does (``1000PEPEUSDT`` under ``1000PEPE`` in the lake, under ``PEPE`` now) is a conflict
of the instrument as a whole: refused, or, with ``replace``, every row of the instrument is
re-filed under the import's asset (no row is left behind under the old one), or, with ``keep``,
the import's rows are filed under the lake's asset.

A revision (``Revision``) is a file its source re-published with other contents: its rows
replace what the file covers (one symbol's rows over the file's days), whatever the lake held
there, and are counted as revised, not refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

from ...errors import LakeError
from .schemas import INSTRUMENT_TABLES, MERGE_KEYS, SCHEMAS, standard

OnConflict = Literal["error", "keep", "replace"]


@dataclass(frozen=True)
class Revision:
    """Rows of a re-published file: they replace the table's rows whose ``id_column`` is
    ``id_value`` dated ``first`` .. ``last`` (the file's span), named ``source`` in the log."""

    table: str
    rows: pl.DataFrame
    id_column: str
    id_value: str
    first: date
    last: date
    source: str


@dataclass(frozen=True)
class Merged:
    """A merged table; ``conflicts``: keys where the lake and the import disagreed (resolved);
    ``refiled``: instruments moved to another asset (instrument, lake's assets, import's
    asset); ``revised``: rows changed, added or removed by revisions."""

    frame: pl.DataFrame
    conflicts: int = 0
    refiled: tuple[tuple[str, str, str], ...] = ()
    revised: int = 0
    revised_by: tuple[tuple[str, int], ...] = ()  # (revision source, rows it changed)


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def merge(
    table: str, old: pl.DataFrame | None, new: pl.DataFrame, on_conflict: OnConflict
) -> tuple[pl.DataFrame, int]:
    """Existing rows merged with new ones by key; returns the frame and the number of keys
    where the two disagreed (resolved by ``on_conflict`` or refused)."""
    m = merge_table(table, old, new, on_conflict)
    return m.frame, m.conflicts


def merge_table(
    table: str,
    old: pl.DataFrame | None,
    new: pl.DataFrame | None,
    on_conflict: OnConflict,
    revisions: Sequence[Revision] = (),
) -> Merged:
    """``old`` (the lake's table, or None) with ``revisions`` applied, then ``new`` merged in by
    the table's merge key (module docstring)."""
    new = standard(new, table) if new is not None else empty(table)
    if old is None and not revisions:
        return Merged(new)
    old = standard(old, table) if old is not None else empty(table)
    old, revised_by = apply_revisions(table, old, revisions)
    revised = sum(n for _, n in revised_by)
    old, new, refiled = _refile(table, old, new, on_conflict)
    key = list(MERGE_KEYS[table])
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
    return Merged(standard(merged, table), clash.height, refiled, revised, revised_by)


def apply_revisions(
    table: str, old: pl.DataFrame, revisions: Sequence[Revision]
) -> tuple[pl.DataFrame, tuple[tuple[str, int], ...]]:
    """``old`` with each revision's span replaced by its rows; per revision, the number of rows
    that changed value, appeared or disappeared."""
    counts: list[tuple[str, int]] = []
    key = list(MERGE_KEYS[table])
    values = [c for c in SCHEMAS[table] if c not in key]
    for rev in revisions:
        if rev.table != table:
            continue
        cover = (pl.col(rev.id_column) == rev.id_value) & pl.col("date").is_between(
            rev.first, rev.last
        )
        was = old.filter(cover)
        now = standard(rev.rows, table)
        j = was.join(now, on=key, how="full", suffix="__new", coalesce=True, nulls_equal=True)
        changed = pl.any_horizontal(
            [pl.col(c).ne_missing(pl.col(f"{c}__new")) for c in values] or [pl.lit(False)]
        )
        counts.append((rev.source, j.filter(changed).height))
        old = pl.concat([old.filter(~cover), now])
    return (standard(old, table) if revisions else old), tuple(counts)


def _refile(
    table: str, old: pl.DataFrame, new: pl.DataFrame, on_conflict: OnConflict
) -> tuple[pl.DataFrame, pl.DataFrame, tuple[tuple[str, str, str], ...]]:
    """Instruments the import files under another asset than the lake: refused, re-filed in the
    lake (``replace``) or filed under the lake's asset in the import (``keep``)."""
    if table not in INSTRUMENT_TABLES or not old.height or not new.height:
        return old, new, ()
    lake = old.select("instrument_id", "asset_id").unique()
    imp = new.select("instrument_id", "asset_id").unique()
    moved = (
        imp.join(lake, on="instrument_id", how="inner", suffix="_lake")
        .filter(pl.col("asset_id") != pl.col("asset_id_lake"))
        .group_by("instrument_id")
        .agg(pl.col("asset_id").first(), pl.col("asset_id_lake").unique().sort())
        .sort("instrument_id")
    )
    if not moved.height:
        return old, new, ()
    moves = tuple(
        (i, "+".join(was), now)
        for i, now, was in moved.select("instrument_id", "asset_id", "asset_id_lake").iter_rows()
    )
    if on_conflict == "error":
        i, was, now = moves[0]
        raise LakeError(
            table,
            f"{len(moves)} instruments are filed under another asset in the output lake than in "
            f"this import (instrument {i}: lake {was}, import {now})",
            column="asset_id",
            key={"instrument_id": i},
            hint="pass --on-conflict replace to re-file every row of the instrument under the "
            "import's asset (none is left under the old one), --on-conflict keep to keep the "
            "lake's asset, or import into a new --out",
        )
    if on_conflict == "replace":
        to = dict(zip(moved["instrument_id"], moved["asset_id"], strict=True))
        old = old.with_columns(
            pl.col("instrument_id").replace_strict(to, default=pl.col("asset_id")).alias("asset_id")
        ).unique(maintain_order=True)
    else:
        lake_asset = {i: was[0] for i, was in moved.select("instrument_id", "asset_id_lake").rows()}
        new = new.with_columns(
            pl.col("instrument_id")
            .replace_strict(lake_asset, default=pl.col("asset_id"))
            .alias("asset_id")
        )
    return old, new, moves
