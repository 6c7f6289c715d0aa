"""``majors-alts check-lake``: every table as a run reads it, then the instruments.

Per table: where it was found, rows, assets, dates and what the reader would note, warn or
refuse. Then two checks of the funding and open-interest instruments that a table-by-table
read cannot see, because each would silently change a run:

- an instrument filed under two assets (its funding is counted for both): an error;
- an instrument whose asset has no price (its rows never reach a run): a warning naming the
  instrument, and the spot asset it probably belongs to when its name carries a ``1000``/``1M``
  futures multiplier (``1000PEPE`` has no price, ``PEPE`` has).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from ...config import load_config
from ...errors import LakeError
from ...publish.layout import STORE_DIR
from ...shell import add_today, print_result
from ..data_io import reader_for
from ..scan import missing_table_hint, other_formats
from ..tables import FUTURE_REASON, TABLES, _Report
from .common import MULTIPLIER_PREFIX

SHOWN = 5  # instruments named per finding


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("check-lake", help="validate a lake as a run reads it, table by table")
    c.add_argument("lake", type=Path)
    c.add_argument("--duckdb", type=Path, default=None, help="optional DuckDB fallback file")
    c.add_argument("--config", type=Path, default=None, help="YAML config (aliases, exclusions)")
    add_today(c)


def instrument_findings(
    tables: dict[str, pl.DataFrame],
) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the instruments of ``fact_funding`` and ``fact_open_interest``
    against the assets of ``fact_price`` (frames as the reader returns them)."""
    errors: list[str] = []
    warnings: list[str] = []
    priced = set(tables["fact_price"]["asset_id"].to_list()) if "fact_price" in tables else set()
    for name in ("fact_funding", "fact_open_interest"):
        df = tables.get(name)
        if df is None or not df.height:
            continue
        inst = "instrument_id" if "instrument_id" in df.columns else "asset_id"
        keys = list(dict.fromkeys([inst, "asset_id"]))  # a table without instruments: assets
        per = df.group_by(keys).agg(pl.len().alias("rows")).sort(keys)
        two = per.filter(pl.col(inst).is_duplicated())
        if inst == "instrument_id" and two.height:
            ids = two["instrument_id"].unique(maintain_order=True).to_list()
            shown = []
            for i in ids[:SHOWN]:
                part = two.filter(pl.col("instrument_id") == i)
                assets = ", ".join(
                    f"{a} {n:,} rows" for a, n in part.select("asset_id", "rows").rows()
                )
                shown.append(f"{i} ({assets})")
            errors.append(
                f"lake table '{name}': {len(ids)} instruments are filed under two or more assets, "
                f"so their rows count for each: {'; '.join(shown)}"
                f"{f' and {len(ids) - SHOWN} more' if len(ids) > SHOWN else ''}. What to do: "
                "re-import them with --on-conflict replace (the instrument is re-filed whole "
                "under one asset), or remove the rows filed under the wrong asset"
            )
        orphan = per.filter(~pl.col("asset_id").is_in(sorted(priced)))
        if not orphan.height:
            continue
        shown, spot = [], []
        for row in orphan.iter_rows(named=True):
            i, a, n = row[inst], row["asset_id"], row["rows"]
            m = MULTIPLIER_PREFIX.match(a)
            base = a[m.end() :] if m is not None else None
            hint = f"; {base} has prices" if base in priced else ""
            if base in priced:
                spot.append(f"{a}: {base}")
            if len(shown) < SHOWN:
                shown.append(
                    f"{i} (asset {a}, {n:,} rows{hint})"
                    if inst != "asset_id"
                    else f"{a} ({n:,} rows{hint})"
                )
        what = "instruments" if inst == "instrument_id" else "assets"
        msg = (
            f"lake table '{name}': {orphan.height} {what} have no price for their asset, so "
            f"their rows never reach a run: {'; '.join(shown)}"
            f"{f' and {orphan.height - SHOWN} more' if orphan.height > SHOWN else ''}"
        )
        if spot:
            msg += (
                f". {len(spot)} look like futures names of a priced asset: file them under it "
                f"with universe.aliases ({', '.join(spot[:SHOWN])}), or re-import them with "
                "this version (1000/1M futures names map to the spot asset)"
            )
        warnings.append(msg)
    return errors, warnings


def cmd_check_lake(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    reader = reader_for(cfg, args.lake, args.duckdb)
    rows, errors = [], 0
    read: dict[str, pl.DataFrame] = {}
    try:
        known = reader._known_assets(None, None)
    except LakeError:
        known = set()  # the table's own check below names the problem
    for name, spec in TABLES.items():
        rep = _Report()
        problems: list[str] = []
        src_txt, n, assets, span = "-", "-", "-", "-"
        try:
            got = reader.read_table(name, None, None, known, rep)
            if got is not None:
                reader.judge(name, rep)
                if spec.required and got[1].height == 0:
                    raise LakeError(name, "has no rows", hint="fill the table; a run needs it")
        except LakeError as err:
            got, errors = None, errors + 1
            problems.append(f"ERROR {err}")
        if got is not None:
            src, df = got
            read[name] = df
            src_txt = (
                f"{src.path.name} (DuckDB)"
                if src.kind == "duckdb"
                else reader.relative(src.path)
                + (f"/ ({len(src.files)} files)" if src.kind == "parquet_dir" else "")
            )
            n = f"{df.height:,}"
            assets = f"{df['asset_id'].n_unique():,}" if "asset_id" in df.columns else "-"
            if "date" in df.columns and df.height:
                span = f"{df['date'].min()}..{df['date'].max()}"
        elif not problems:
            status = "required" if spec.required else "optional"
            problems.append(f"absent ({status})")
            if other_formats(reader.lake_dir, name):
                problems.append(missing_table_hint(reader.lake_dir, name))
        problems += [f"warning: {w}" for w in rep.warnings]
        for reason, v in rep.rejected.get(name, {}).items():
            what = "cut" if reason == FUTURE_REASON else "rejected"  # point in time, not broken
            problems.append(f"{what}: {v['rows']:,} rows, {reason} (first: {v['first']})")
        problems += [f"note: {x}" for x in rep.notes if "is absent" not in x]
        rows.append((name, n, assets, span, src_txt, problems))
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    heads = ("table", "rows", "assets", "dates", "source")
    w = [max(a, len(h)) for a, h in zip(w, heads, strict=True)]
    lines = [f"lake {reader.lake_dir.resolve()}"]
    lines.append("  ".join(h.ljust(x) for h, x in zip(heads, w, strict=True)) + "  problems")
    for r in rows:
        cells = "  ".join(str(c).ljust(x) for c, x in zip(r[:5], w, strict=True))
        lines.append(f"{cells}  {r[5][0] if r[5] else 'ok'}")
        for extra in r[5][1:]:
            lines.append(" " * (sum(w) + 10) + extra)
    bad, warned = instrument_findings(read)
    if bad or warned:
        lines.append("instruments:")
        lines += [f"  ERROR {e}" for e in bad]
        lines += [f"  warning: {x}" for x in warned]
    if reader.lake_dir.is_dir():
        unread = sorted(
            p.name
            for p in reader.lake_dir.iterdir()
            if not p.name.startswith(".")  # the importers' generations and lock, temporaries
            and (
                (p.suffix == ".parquet" and p.stem not in TABLES)
                or (p.is_dir() and p.name not in TABLES and any(p.rglob("*.parquet")))
            )
        )
        if unread:
            lines.append(f"not read by the monitor: {', '.join(unread)}")
    if (reader.lake_dir / STORE_DIR / "lake").is_dir():
        lines.append("written by `majors-alts import` (`majors-alts verify` checks its tables)")
    if errors or bad:
        parts = [f"{errors} table(s) with errors"] if errors else []
        parts += [f"{len(bad)} instrument problem(s)"] if bad else []
        lines.append("; ".join(parts))
    else:
        extra = f", with {len(warned)} instrument warning(s) above" if warned else ""
        lines.append(f"the lake passes the reader's checks{extra}")
    code = print_result("\n".join(lines))
    return code if code else (2 if errors or bad else 0)
