"""What each lake table must hold (``TABLES``) and the checks a scanned table goes through
(``validate_table``: rules 2-5 of ``data_io``'s list), apart from where the tables are found and
how they are read (``data_io.LakeReader``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from .. import clock
from ..errors import LakeError

log = logging.getLogger("majors_alts_monitor")


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    values: tuple[str, ...]
    required: bool
    positive: tuple[str, ...] = ()  # must be > 0
    nonneg: tuple[str, ...] = ()  # must be >= 0
    dated: bool = True
    optional_key: tuple[str, ...] = ()  # key columns used when present
    # physical sense: (column, low, high, wording); a value below low (when given) or above high
    # is a broken row, never a market move
    bounds: tuple[tuple[str, float | None, float, str], ...] = ()


# The first bitcoin block (2009-01-03): no crypto market data is older. Rows dated before it,
# or after today (``clock.today()``, UTC unless ``--today`` pins it), are refused.
GENESIS = date(2009, 1, 3)
PRICE_MAX = 1e12  # USD per unit: a thousand times bitcoin's all-time high
PRICE_MIN = 1e-12  # USD per unit: far below the smallest price a real lake holds (~6e-11)
USD_MAX = 1e15  # market cap, volume, open interest: ten times the whole crypto market
FUNDING_MAX = 1.0  # |funding| per day: 100% of notional in one day


def date_bounds() -> tuple[date, date]:
    """The dates a lake row may carry: ``GENESIS`` .. today."""
    return GENESIS, clock.today()


# A row dated after today (pinned by --today, or the clock's) but not after the machine's own
# UTC date + this slack (a writer a time zone ahead) is the future seen from today: cut (point
# in time), counted under FUTURE_REASON, never a broken row. Later than that no data can exist.
FUTURE_SLACK_DAYS = 1
FUTURE_REASON = "dated after today (the future seen from today)"


def latest_possible_date() -> date:
    """The last date any real row can carry: the machine's UTC date + ``FUTURE_SLACK_DAYS``
    (never before today, when --today pins a day after the clock's)."""
    return max(clock.utc_today() + timedelta(days=FUTURE_SLACK_DAYS), clock.today())


TABLES: dict[str, TableSpec] = {
    "fact_price": TableSpec(
        "fact_price",
        ("asset_id", "date"),
        ("close",),
        True,
        positive=("close",),
        bounds=(("close", PRICE_MIN, PRICE_MAX, "between 1e-12 and 1e12 USD"),),
    ),
    "fact_marketcap": TableSpec(
        "fact_marketcap",
        ("asset_id", "date"),
        ("marketcap",),
        True,
        nonneg=("marketcap",),
        bounds=(("marketcap", None, USD_MAX, "at most 1e15 USD"),),
    ),
    "fact_volume": TableSpec(
        "fact_volume",
        ("asset_id", "date"),
        ("volume",),
        True,
        nonneg=("volume",),
        bounds=(("volume", None, USD_MAX, "at most 1e15 USD"),),
    ),
    "fact_funding": TableSpec(
        "fact_funding",
        ("asset_id", "instrument_id", "date"),
        ("funding_rate",),
        False,
        bounds=(("funding_rate", -FUNDING_MAX, FUNDING_MAX, "|funding_rate| at most 1 a day"),),
    ),
    "fact_open_interest": TableSpec(
        "fact_open_interest",
        ("asset_id", "date"),
        ("open_interest_usd",),
        False,
        nonneg=("open_interest_usd",),
        optional_key=("instrument_id",),
        bounds=(("open_interest_usd", None, USD_MAX, "at most 1e15 USD"),),
    ),
    "dim_asset": TableSpec("dim_asset", ("asset_id",), (), False, dated=False),
    "universe_snapshots": TableSpec(
        "universe_snapshots", ("rebalance_date", "asset_id"), (), False, dated=False
    ),
}


_EXTRA_REQUIRED = {"dim_asset": ("symbol", "is_stable")}


@dataclass
class _Report:
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # table -> reason -> {"rows": n, "first": first offending key}
    rejected: dict[str, dict[str, dict]] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)

    def note(self, msg: str) -> None:
        log.debug(msg)  # in the run log and the manifest's notes, not on screen
        self.notes.append(msg)

    def warn(self, msg: str) -> None:
        log.warning(msg)
        self.warnings.append(msg)

    def reject(self, table: str, reason: str, rows: int, first: object) -> None:
        """Count ``rows`` of ``table`` left out for ``reason`` (the manifest's rejected_rows)."""
        if rows <= 0:
            return
        got = self.rejected.setdefault(table, {}).setdefault(reason, {"rows": 0, "first": None})
        got["rows"] += rows
        if got["first"] is None:
            got["first"] = first


def _beyond(c: str, low: float | None, high: float) -> pl.Expr:
    cond = pl.col(c) > high
    return cond if low is None else cond | (pl.col(c) < low)


def _out_of_range(c: str) -> pl.Expr:
    lo, hi = date_bounds()
    return pl.col(c).is_not_null() & ((pl.col(c) < lo) | (pl.col(c) > hi))


def _broken_date(c: str) -> pl.Expr:
    """Dated before the first bitcoin block, or after the last date any data can carry."""
    lo, last = GENESIS, latest_possible_date()
    return pl.col(c).is_not_null() & ((pl.col(c) < lo) | (pl.col(c) > last))


def _first_key(df: pl.DataFrame, key: Sequence[str]) -> dict:
    r = df.sort(list(key), nulls_last=True).row(0, named=True)
    return {k: (str(r[k]) if "date" in k else r[k]) for k in key}


def _may_repeat_a_key(df: pl.DataFrame, key: Sequence[str]) -> bool:
    """False when every row's ``key`` is distinct; True when some may repeat (a repeat, or two
    keys with one 64-bit hash, which the exact check that follows tells apart). Counting the
    distinct hashes takes half the time of ``is_duplicated`` on the key itself."""
    return df.select(pl.struct(key).hash().n_unique()).item() != df.height


def validate_table(
    df: pl.DataFrame,
    spec: TableSpec,
    known: set[str],
    rep: _Report,
    normalise: Callable[[str, set[str]], str],
    on_bad_values: str,
    *,
    duplicates: bool = True,
) -> pl.DataFrame:
    """Rules 2-5 of ``data_io`` on one scanned table: required columns and types, normalised
    asset ids (``normalise(symbol, known)``), null keys, missing and bad values
    (``on_bad_values``: ``drop`` or ``error``) and duplicate keys; notes and warnings go to
    ``rep``, refusals are ``LakeError`` naming the table, column and first offending key.
    ``duplicates=False`` leaves the last rule (``drop_duplicates``) to a caller that finds
    repeated keys another way (``lake.wide`` places the rows on a grid)."""
    t = spec.name
    hint_cols = "the lake's writer must provide it (see LAKE_CONTRACT.md)"
    extra_req = _EXTRA_REQUIRED.get(t, ())
    for c in (*spec.key, *spec.values, *extra_req):
        if c not in df.columns:
            raise LakeError(
                t,
                f"required column '{c}' is missing (columns: {df.columns})",
                column=c,
                hint=hint_cols,
            )
    # types
    if df.schema["asset_id"] != pl.String:
        raise LakeError(
            t,
            f"has type {df.schema['asset_id']}, expected String",
            column="asset_id",
            key=df.row(0, named=True).get("asset_id") if df.height else None,
            hint="write asset ids as upper-case tickers",
        )
    for c in [k for k in (*spec.key, *spec.optional_key) if k.endswith("date")]:
        if c not in df.columns:
            continue
        dt = df.schema[c]
        if isinstance(dt, pl.Datetime):
            bad = df.filter(pl.col(c).dt.time() != pl.time(0))
            if bad.height:
                raise LakeError(
                    t,
                    "holds timestamps that are not midnight; dates must be UTC days",
                    column=c,
                    key=bad.row(0, named=True).get("asset_id"),
                    hint="store calendar days (type Date)",
                )
            df = df.with_columns(pl.col(c).dt.date())
        elif dt != pl.Date:
            raise LakeError(
                t,
                f"has type {dt}, expected Date",
                column=c,
                key=df.row(0, named=True).get("asset_id") if df.height else None,
                hint="store dates as the parquet DATE type (calendar day, UTC)",
            )
    rep.rows_read[t] = rep.rows_read.get(t, 0) + df.height
    for c in spec.values:
        if not df.schema[c].is_numeric():
            raise LakeError(
                t,
                f"has type {df.schema[c]}, expected a number",
                column=c,
                key=df.row(0, named=True).get("asset_id") if df.height else None,
                hint="store values as float64",
            )
        df = df.with_columns(pl.col(c).cast(pl.Float64))
    if t == "dim_asset" and df.schema["is_stable"] != pl.Boolean:
        raise LakeError(
            t,
            f"has type {df.schema['is_stable']}, expected Boolean",
            column="is_stable",
            key=df.row(0, named=True).get("asset_id") if df.height else None,
            hint="write is_stable as true/false",
        )
    key = key_columns(df, spec)
    # one pass counts what the checks below look for; a clean table skips them
    clean = df.height == 0 or not any(
        df.select(
            *[pl.col(c).is_null().any().alias(f"n{i}") for i, c in enumerate(key)],
            *[
                (pl.col(c).is_null() | ~pl.col(c).is_finite()).any().alias(f"m{i}")
                for i, c in enumerate(spec.values)
            ],
            *[(pl.col(c) <= 0).any().alias(f"p{i}") for i, c in enumerate(spec.positive)],
            *[(pl.col(c) < 0).any().alias(f"z{i}") for i, c in enumerate(spec.nonneg)],
            *[_beyond(*b[:3]).any().alias(f"b{i}") for i, b in enumerate(spec.bounds)],
            *[_out_of_range(c).any().alias(f"d{i}") for i, c in enumerate(key) if "date" in c],
        ).row(0)
    )
    # null keys
    for c in key if not clean else ():
        nulls = df.filter(pl.col(c).is_null())
        if nulls.height:
            r = nulls.row(0, named=True)
            raise LakeError(
                t,
                f"{nulls.height} rows have a null key",
                column=c,
                key={k: r.get(k) for k in key},
                hint="every row needs a full key; remove or fill these rows upstream",
            )
    # symbols
    if df.height:
        mapping = {s: normalise(s, known) for s in df["asset_id"].unique().to_list()}
        changed = {a: b for a, b in mapping.items() if a != b}
        if changed:
            sample = ", ".join(f"{a}->{b}" for a, b in sorted(changed.items())[:5])
            rep.note(
                f"{t}: normalised {len(changed)} asset ids ({sample}{', ...' if len(changed) > 5 else ''})"
            )
            df = df.with_columns(pl.col("asset_id").replace_strict(mapping, default=None))
    # dates outside GENESIS .. today: a broken row (1900-01-01, 2099-01-01), never data; but a
    # row after today that the clock allows is the future seen from a pinned today: cut
    for c in [k for k in key if k.endswith("date")] if not clean else ():
        later = pl.col(c).is_not_null() & (pl.col(c) > date_bounds()[1]) & ~_broken_date(c)
        future = df.filter(later)
        if future.height:
            first = _first_key(future, key)
            rep.note(
                f"lake table '{t}', column '{c}': {future.height} rows dated after today "
                f"{date_bounds()[1]} (through {future[c].max()}) cut: the future seen from today "
                f"(point in time; not broken rows, first: {first})"
            )
            rep.reject(t, FUTURE_REASON, future.height, first)
            df = df.filter(~later)
        out = _broken_date(c)
        bad = df.filter(out)
        if bad.height:
            first = _first_key(bad, key)
            lo, hi = date_bounds()
            what = (
                f"{bad.height} rows dated before {lo} (the first bitcoin block) or after today {hi}"
            )
            if hi < latest_possible_date():
                what += f" and after {latest_possible_date()} (the clock's UTC date + 1: no data)"
            if on_bad_values == "error":
                raise LakeError(
                    t,
                    f"{what} are refused",
                    column=c,
                    key=first,
                    hint="fix the dates upstream, or set data.on_bad_values: drop to leave those "
                    "rows out (or pass --today if today is not what the clock says)",
                )
            rep.warn(
                f"lake table '{t}', column '{c}': {what} dropped (first offending key: {first})"
            )
            rep.reject(t, "date out of range", bad.height, first)
            df = df.filter(~out)
    # missing values
    for c in spec.values if not clean else ():
        miss = df.filter(pl.col(c).is_null() | ~pl.col(c).is_finite())
        if miss.height:
            rep.note(
                f"{t}.{c}: {miss.height} null or non-finite values treated as missing and dropped"
            )
            rep.reject(t, f"{c} null, NaN or infinite", miss.height, _first_key(miss, key))
            df = df.filter(pl.col(c).is_not_null() & pl.col(c).is_finite())
    # bad values
    bad_checks = [(c, "pos", "> 0") for c in spec.positive] + [
        (c, "nn", ">= 0") for c in spec.nonneg
    ]
    for c, op, what in bad_checks if not clean else ():
        cond = pl.col(c) <= 0 if op == "pos" else pl.col(c) < 0
        bad = df.filter(cond).sort(key)
        if bad.height:
            r = bad.row(0, named=True)
            first = {k: (str(r[k]) if k == "date" else r[k]) for k in key}
            if on_bad_values == "error":
                raise LakeError(
                    t,
                    f"{bad.height} values are not {what}",
                    column=c,
                    key=first,
                    hint="fix them upstream, or set data.on_bad_values: drop to treat them as missing",
                )
            rep.warn(
                f"lake table '{t}', column '{c}': {bad.height} values not {what} dropped "
                f"as missing (first offending key: {first})"
            )
            rep.reject(t, f"{c} not {what}", bad.height, first)
            df = df.filter(~cond)
    # beyond physical sense: a price of 1e308 or 1e-300, funding of 1e6 a day
    for c, low, high, wording in spec.bounds if not clean else ():
        cond = _beyond(c, low, high)
        bad = df.filter(cond)
        if bad.height:
            first = _first_key(bad, key)
            what = f"{bad.height} values beyond physical sense (not {wording})"
            if on_bad_values == "error":
                raise LakeError(
                    t,
                    f"{what} are refused",
                    column=c,
                    key=first,
                    hint="fix them upstream (a unit or parsing error?), or set "
                    "data.on_bad_values: drop to leave those rows out",
                )
            rep.warn(
                f"lake table '{t}', column '{c}': {what} dropped (first offending key: {first})"
            )
            rep.reject(t, f"{c} beyond physical sense", bad.height, first)
            df = df.filter(~cond)
    # duplicates
    if t == "dim_asset" and df.height:
        n0 = df.height
        df = df.group_by("asset_id", maintain_order=True).agg(
            pl.col("is_stable").any(), pl.exclude("asset_id", "is_stable").first()
        )
        if df.height < n0:
            rep.note(
                f"dim_asset: {n0 - df.height} rows merged into an existing asset after "
                "normalisation (is_stable if any row says so, other fields from the first)"
            )
    if duplicates and df.height and _may_repeat_a_key(df, key):
        df = drop_duplicates(df, spec, rep)
    return df


def key_columns(df: pl.DataFrame, spec: TableSpec) -> list[str]:
    """The columns of ``df`` that make a row's key (``spec.key`` and the optional ones)."""
    return [k for k in (*spec.key, *spec.optional_key) if k in df.columns]


def drop_duplicates(df: pl.DataFrame, spec: TableSpec, rep: _Report) -> pl.DataFrame:
    """Rule 5: identical duplicate rows dropped (noted and counted as rejected rows in
    ``rep``); rows that share a key with different values refused, naming the first key."""
    t = spec.name
    key = key_columns(df, spec)
    cols = [*key, *spec.values] if spec.values else df.columns
    n0 = df.height
    df = df.unique(subset=cols, keep="first", maintain_order=True)
    if df.height < n0:
        rep.note(f"{t}: dropped {n0 - df.height} identical duplicate rows")
        rep.reject(t, "identical duplicate row", n0 - df.height, None)
    dup = df.filter(pl.struct(key).is_duplicated()).sort(key)
    if dup.height:
        r = dup.row(0, named=True)
        first = {k: (str(r[k]) if "date" in k else r[k]) for k in key}
        raise LakeError(
            t,
            f"{dup.height} rows share a key but differ in value",
            column=",".join(spec.values) or None,
            key=first,
            hint="keep one row per key upstream (these may be two spellings of one "
            "symbol that normalise to the same asset_id)",
        )
    return df
