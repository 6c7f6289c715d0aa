"""``majors-alts import ...`` and ``majors-alts check-lake``: argument parsing and the thin I/O
shell around the pure parsers in ``binance.py`` and ``coingecko.py``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import polars as pl

from ...config import Config, load_config
from ...errors import LakeError, MonitorError
from ...publish.layout import STORE_DIR, writing_lake
from ...shell import add_today, print_result
from ..data_io import reader_for
from ..scan import missing_table_hint, other_formats
from ..tables import TABLES, _Report
from . import binance, coingecko
from .common import SCHEMAS, check_out, render_tables
from .inputs import MEMBER_MB_DEFAULT, Drops, iter_inputs, read_inputs

log = logging.getLogger("majors_alts_monitor")

WRITABLE = tuple(SCHEMAS)


def _aliases(cfg: Config) -> dict[str, str]:
    return {k.upper(): v.upper() for k, v in cfg.universe.aliases.items()}


def _tables(s: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in s.split(",") if t.strip())
    bad = [t for t in names if t not in WRITABLE]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown table {bad[0]!r}; choose from {', '.join(WRITABLE)}"
        )
    return names


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``import`` (three sources) and ``check-lake`` subcommands."""
    imp = sub.add_parser(
        "import", help="convert Binance / CoinGecko CSV exports into a lake in the contract"
    )
    isub = imp.add_subparsers(dest="source", required=True)
    specs = {
        "binance-klines": ("Binance public-data 1d klines CSVs or zips (files or folders)", "DIR"),
        "binance-funding": (
            "Binance public-data fundingRate CSVs or zips (files or folders)",
            "DIR",
        ),
        "coingecko": (
            "CoinGecko per-coin CSV exports (snapped_at, price, market_cap, total_volume)",
            "CSV",
        ),
    }
    for name, (help_, metavar) in specs.items():
        p = isub.add_parser(name, help=help_)
        p.add_argument("inputs", nargs="+", type=Path, metavar=metavar)
        p.add_argument(
            "--out", type=Path, required=True, help="the lake folder to write (created if absent)"
        )
        p.add_argument(
            "--tables",
            type=_tables,
            default=None,
            help="comma list: write only these tables (e.g. fact_marketcap to take caps from "
            "CoinGecko and prices from Binance)",
        )
        p.add_argument(
            "--on-conflict",
            choices=["error", "keep", "replace"],
            default="error",
            help="a key already in --out with another value: refuse (default), keep the "
            "lake's row, or replace it with this import's",
        )
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="YAML config (symbol aliases, limits.rejected_rows_error_share)",
        )
        p.add_argument(
            "--max-member-mb",
            type=int,
            default=MEMBER_MB_DEFAULT,
            help=f"largest decompressed size of one zip member, MB (default {MEMBER_MB_DEFAULT}); "
            "a member that inflates beyond it is refused",
        )
        add_today(p)
        if name == "binance-funding":
            p.add_argument(
                "--partial-days",
                choices=["drop", "keep"],
                default="drop",
                help="a day with a settlement missing from the record: drop it (default) or "
                "keep the sum of what settled",
            )
        if name == "coingecko":
            p.add_argument(
                "--asset-id",
                default=None,
                help="asset id for a single CSV (default: from the file name)",
            )
    c = sub.add_parser("check-lake", help="validate a lake as a run reads it, table by table")
    c.add_argument("lake", type=Path)
    c.add_argument("--duckdb", type=Path, default=None, help="optional DuckDB fallback file")
    c.add_argument("--config", type=Path, default=None, help="YAML config (aliases, exclusions)")
    add_today(c)


def _load(
    args: argparse.Namespace, drops: Drops, cfg: Config
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    aliases = _aliases(cfg)
    files = list(iter_inputs(args.inputs))
    if not files:
        raise MonitorError(f"no CSV or zip files found in {', '.join(map(str, args.inputs))}")
    if args.max_member_mb < 1:
        raise MonitorError(f"--max-member-mb must be at least 1 (got {args.max_member_mb})")
    inputs = [f for p in files for f in read_inputs(p, args.max_member_mb)]
    notes = [f"{len(files)} input files, {len(inputs)} CSVs"]
    if args.source == "binance-klines":
        kl = binance.combine_klines(binance.parse_klines_files(inputs, aliases, drops), drops)
        tables = {
            "fact_price": kl.select("asset_id", "date", "close", "open", "high", "low"),
            "fact_volume": kl.select("asset_id", "date", "volume"),
        }
        return tables, notes
    if args.source == "binance-funding":
        return _funding(inputs, aliases, args.partial_days, drops, notes)
    if args.asset_id is not None and len(inputs) > 1:
        raise MonitorError("--asset-id names the asset of a single CSV; pass one file with it")
    per_table: dict[str, list[pl.DataFrame]] = {}
    seen: dict[str, str] = {}
    for f in inputs:
        asset = (args.asset_id or coingecko.asset_from_name(f.stem)).upper()
        asset = aliases.get(asset, asset)
        if asset in seen:
            raise MonitorError(
                f"{f.name} and {seen[asset]} are both asset {asset}; pass one file per asset"
            )
        seen[asset] = f.name
        for t, df in coingecko.parse_coingecko(f, asset, drops).items():
            per_table.setdefault(t, []).append(df)
    return {t: pl.concat(v) for t, v in per_table.items()}, notes


def _funding(
    inputs: list, aliases: dict[str, str], partial: str, drops: Drops, notes: list[str]
) -> tuple[dict[str, pl.DataFrame], list[str]]:
    by_symbol: dict[str, list[binance.Funding]] = {}
    for f in inputs:
        if (fu := binance.parse_funding(f, aliases, drops)) is not None:
            by_symbol.setdefault(fu.symbol, []).append(fu)
    days, instruments = [], []
    for symbol, parts in sorted(by_symbol.items()):
        fu = parts[0]
        settle = pl.concat([p.frame for p in parts])
        clash = settle.unique().filter(pl.col("ms").is_duplicated())
        if clash.height:
            raise MonitorError(
                f"{symbol} has two different settlements at calc_time {clash['ms'][0]} "
                f"(files {', '.join(p.source for p in parts)}). What to do: remove one of the files"
            )
        venue = "BINANCE_CM" if symbol.endswith("_PERP") else "BINANCE_UM"
        inst = f"{venue}:{symbol}"
        day, more = binance.daily_funding(settle, partial, drops, symbol)  # type: ignore[arg-type]
        notes += more
        days.append(
            day.select(
                pl.lit(fu.asset_id).alias("asset_id"),
                pl.lit(inst).alias("instrument_id"),
                "date",
                "funding_rate",
            )
        )
        instruments.append(
            {
                "instrument_id": inst,
                "asset_id": fu.asset_id,
                "venue": "binance",
                "instrument_type": "perp",
                "quote": fu.quote,
            }
        )
    schema = SCHEMAS["fact_funding"]
    tables = {
        "fact_funding": pl.concat(days) if days else pl.DataFrame(schema=schema),
        "dim_instrument": pl.DataFrame(instruments, schema=SCHEMAS["dim_instrument"]),
    }
    return tables, notes


def cmd_import(args: argparse.Namespace) -> int:
    check_out(args.out, args.inputs)
    cfg = load_config(args.config)
    drops = Drops()
    tables, notes = _load(args, drops, cfg)
    if args.tables is not None:
        missing = [t for t in args.tables if t not in tables]
        if missing:
            raise MonitorError(
                f"this importer does not produce {missing[0]}; it writes {', '.join(tables)}"
            )
        tables = {t: tables[t] for t in args.tables}
    for w in drops.warnings():
        log.warning(w)
    refusal = drops.refusal(cfg.limits.rejected_rows_error_share)
    if refusal is not None:
        raise MonitorError(f"import refused: {refusal}")
    if not any(df.height for df in tables.values()):
        raise MonitorError(
            "no rows to import: "
            + ("; ".join(f"{r} ({n})" for r, n in drops.counts.items()) or "the inputs are empty")
        )
    with writing_lake(args.out, SCHEMAS, command=f"import {args.source}") as lk:
        results, changed = render_tables(lk, tables, args.on_conflict)
        if changed:
            record = {
                "source": args.source,
                "inputs": [str(p) for p in args.inputs],
                "tables_changed": sorted(changed),
                "on_conflict": args.on_conflict,
                "notes": notes,
                **drops.manifest(),
            }
            history = ((lk.store.record() or {}).get("imports") or [])[-99:]
            lk.publish(changed, {"imports": [*history, record]})
    lines = [f"import {args.source} -> {args.out}  ({notes[0]})"]
    lines += [r.line() for r in results]
    lines += drops.lines()
    lines += [f"  note: {n}" for n in [*notes[1:], *drops.notes]]
    if not changed:
        lines.append("  nothing changed: the lake is as it was (nothing published)")
    return print_result("\n".join(lines))


def cmd_check_lake(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    reader = reader_for(cfg, args.lake, args.duckdb)
    rows, errors = [], 0
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
            src_txt = (
                f"{src.path.name} (DuckDB)"
                if src.kind == "duckdb"
                else str(src.path.relative_to(reader.lake_dir))
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
            problems.append(f"rejected: {v['rows']:,} rows, {reason} (first: {v['first']})")
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
    lines.append(
        f"{errors} table(s) with errors" if errors else "the lake passes the reader's checks"
    )
    code = print_result("\n".join(lines))
    return code if code else (2 if errors else 0)
