"""``majors-alts import ...``: argument parsing and the thin I/O shell around the pure parsers in
``binance.py`` and ``coingecko.py``. ``check-lake`` is in ``check.py``, ``update`` in
``update_command.py``. Every import publishes through ``common.write_tables``: the lake's lock,
one generation holding the tables and the importer manifest."""

from __future__ import annotations

import argparse
import calendar
import logging
import re
from datetime import date
from pathlib import Path

import polars as pl

from ...config import Config, load_config
from ...errors import MonitorError
from ...shell import add_today, print_result
from . import binance, coingecko
from . import manifest as mf
from .common import SCHEMAS, check_out, known_assets, write_tables
from .inputs import MEMBER_MB_DEFAULT, Drops, InputFile, iter_inputs, read_inputs

log = logging.getLogger("majors_alts_monitor")

WRITABLE = tuple(SCHEMAS)
ARCHIVE_DATE = re.compile(r"-(\d{4}-\d{2})(-\d{2})?$")


def aliases_of(cfg: Config) -> dict[str, str]:
    return {k.upper(): v.upper() for k, v in cfg.universe.aliases.items()}


def _tables(s: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in s.split(",") if t.strip())
    bad = [t for t in names if t not in WRITABLE]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown table {bad[0]!r}; choose from {', '.join(WRITABLE)}"
        )
    return names


def add_conflict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--on-conflict",
        choices=["error", "keep", "replace"],
        default="error",
        help="a key already in --out with another value: refuse (default), keep the "
        "lake's row, or replace it with this import's (an instrument filed under another "
        "asset is re-filed whole: no row is left under the old asset)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config (symbol aliases, limits.rejected_rows_error_share)",
    )


def add_member_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-member-mb",
        type=int,
        default=MEMBER_MB_DEFAULT,
        help=f"largest decompressed size of one zip member, MB (default {MEMBER_MB_DEFAULT}); "
        "a member that inflates beyond it is refused",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``import`` subcommand (four sources)."""
    imp = sub.add_parser(
        "import", help="convert Binance / CoinGecko CSV exports into a lake in the contract"
    )
    isub = imp.add_subparsers(dest="source", required=True)
    specs = {
        "binance-klines": ("Binance public-data 1d klines CSVs or zips (files or folders)", "DIR"),
        "binance-funding": (
            "Binance public-data USD-M fundingRate CSVs or zips (files or folders)",
            "DIR",
        ),
        "binance-metrics": (
            "Binance public-data USD-M daily metrics CSVs or zips (open interest; files or "
            "folders)",
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
        add_conflict_arguments(p)
        add_member_limit(p)
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


def file_record(f: InputFile, first: date, last: date) -> mf.FileRecord:
    """The manifest's record of one input: an archive file (``...-YYYY-MM`` monthly,
    ``...-YYYY-MM-DD`` daily) covers its month or day; any other file covers ``first..last``."""
    m = ARCHIVE_DATE.search(f.stem)
    if m is not None and m.group(2) is None:
        y, mo = map(int, m.group(1).split("-"))
        a, b = date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])
        return mf.FileRecord(f.stem, f.sha256, "monthly", a, b)
    if m is not None:
        d = date.fromisoformat(m.group(1) + m.group(2))
        return mf.FileRecord(f.stem, f.sha256, "daily", d, d)
    return mf.FileRecord(f.stem, f.sha256, "file", first, last)


def source_record(
    dataset: str,
    symbol: str,
    asset: str,
    files: list[InputFile],
    rows: pl.DataFrame,
    extra: dict[str, str] | None = None,
) -> mf.SourceRecord:
    """One symbol's record: its files and the span of the rows it gave."""
    first, last = (rows["date"].min(), rows["date"].max()) if rows.height else (None, None)
    recs = tuple(
        file_record(f, first or date.min, last or date.min)  # type: ignore[arg-type]
        for f in files
    )
    return mf.SourceRecord(dataset, symbol, asset, first, last, recs, extra or {})  # type: ignore[arg-type]


def klines_tables(
    inputs: list[InputFile], aliases: dict[str, str], drops: Drops
) -> tuple[dict[str, pl.DataFrame], list[mf.SourceRecord]]:
    """fact_price and fact_volume from klines files, and the symbols they came from."""
    parts = binance.parse_klines_files(inputs, aliases, drops)
    chosen: dict[str, str] = {}
    kl = binance.combine_klines(parts, drops, chosen)
    by_symbol: dict[str, list[InputFile]] = {}
    for f in inputs:
        m = binance.KLINE_NAME.match(f.stem)
        if m is not None:
            by_symbol.setdefault(m.group(1), []).append(f)
    quote = {k.symbol: k.quote for k in parts}
    records = [
        source_record(
            mf.SPOT_KLINES,
            symbol,
            asset,
            by_symbol.get(symbol, []),
            kl.filter(pl.col("asset_id") == asset),
            {"quote": quote[symbol]},
        )
        for asset, symbol in sorted(chosen.items())
    ]
    tables = {
        "fact_price": kl.select("asset_id", "date", "close", "open", "high", "low"),
        "fact_volume": kl.select("asset_id", "date", "volume"),
    }
    return tables, records


def instrument_id(symbol: str) -> str:
    venue = "BINANCE_CM" if symbol.endswith("_PERP") else "BINANCE_UM"
    return f"{venue}:{symbol}"


def _instrument(symbol: str, asset: str, quote: str) -> dict[str, str]:
    return {
        "instrument_id": instrument_id(symbol),
        "asset_id": asset,
        "venue": "binance",
        "instrument_type": "perp",
        "quote": quote,
    }


def funding_tables(
    inputs: list[InputFile],
    aliases: dict[str, str],
    partial: str,
    drops: Drops,
    notes: list[str],
    known: set[str],
) -> tuple[dict[str, pl.DataFrame], list[mf.SourceRecord]]:
    """fact_funding and dim_instrument from fundingRate files (module docstring of
    ``binance``), and the symbols they came from."""
    by_symbol: dict[str, list[tuple[binance.Funding, InputFile]]] = {}
    for f in inputs:
        if (fu := binance.parse_funding(f, aliases, drops, known)) is not None:
            by_symbol.setdefault(fu.symbol, []).append((fu, f))
    days, instruments, records = [], [], []
    for symbol, parts in sorted(by_symbol.items()):
        fu = parts[0][0]
        settle = pl.concat([p.frame for p, _ in parts])
        clash = settle.unique().filter(pl.col("ms").is_duplicated())
        if clash.height:
            raise MonitorError(
                f"{symbol} has two different settlements at calc_time {clash['ms'][0]} "
                f"(files {', '.join(p.source for p, _ in parts)}). What to do: remove one of the "
                "files"
            )
        inst = instrument_id(symbol)
        day, more = binance.daily_funding(settle, partial, drops, symbol)  # type: ignore[arg-type]
        notes += more
        rows = day.select(
            pl.lit(fu.asset_id).alias("asset_id"),
            pl.lit(inst).alias("instrument_id"),
            "date",
            "funding_rate",
        )
        days.append(rows)
        instruments.append(_instrument(symbol, fu.asset_id, fu.quote))
        records.append(
            source_record(
                mf.UM_FUNDING,
                symbol,
                fu.asset_id,
                [f for _, f in parts],
                rows,
                {"instrument_id": inst, "quote": fu.quote},
            )
        )
    tables = {
        "fact_funding": pl.concat(days) if days else pl.DataFrame(schema=SCHEMAS["fact_funding"]),
        "dim_instrument": pl.DataFrame(instruments, schema=SCHEMAS["dim_instrument"]),
    }
    return tables, records


def metrics_tables(
    inputs: list[InputFile], aliases: dict[str, str], drops: Drops, known: set[str]
) -> tuple[dict[str, pl.DataFrame], list[mf.SourceRecord]]:
    """fact_open_interest and dim_instrument from daily metrics files."""
    series = binance.parse_metrics_files(inputs, aliases, drops, known)
    by_symbol: dict[str, list[InputFile]] = {}
    for f in inputs:
        m = binance.METRICS_NAME.match(f.stem)
        if m is not None:
            by_symbol.setdefault(m.group(1), []).append(f)
    rows, instruments, records = [], [], []
    for oi in series:
        inst = instrument_id(oi.symbol)
        r = oi.frame.select(
            pl.lit(oi.asset_id).alias("asset_id"),
            pl.lit(inst).alias("instrument_id"),
            "date",
            "open_interest_usd",
        )
        rows.append(r)
        instruments.append(_instrument(oi.symbol, oi.asset_id, oi.quote))
        records.append(
            source_record(
                mf.UM_METRICS,
                oi.symbol,
                oi.asset_id,
                by_symbol.get(oi.symbol, []),
                r,
                {"instrument_id": inst, "quote": oi.quote},
            )
        )
    schema = SCHEMAS["fact_open_interest"]
    tables = {
        "fact_open_interest": pl.concat(rows) if rows else pl.DataFrame(schema=schema),
        "dim_instrument": pl.DataFrame(instruments, schema=SCHEMAS["dim_instrument"]),
    }
    return tables, records


def coingecko_tables(
    inputs: list[InputFile], aliases: dict[str, str], asset_id: str | None, drops: Drops
) -> tuple[dict[str, pl.DataFrame], list[mf.SourceRecord]]:
    if asset_id is not None and len(inputs) > 1:
        raise MonitorError("--asset-id names the asset of a single CSV; pass one file with it")
    per_table: dict[str, list[pl.DataFrame]] = {}
    seen: dict[str, str] = {}
    records = []
    for f in inputs:
        asset = (asset_id or coingecko.asset_from_name(f.stem)).upper()
        asset = aliases.get(asset, asset)
        if asset in seen:
            raise MonitorError(
                f"{f.name} and {seen[asset]} are both asset {asset}; pass one file per asset"
            )
        seen[asset] = f.name
        got = coingecko.parse_coingecko(f, asset, drops)
        for t, df in got.items():
            per_table.setdefault(t, []).append(df)
        span = pl.concat([df.select("date") for df in got.values()])
        records.append(source_record(mf.COINGECKO, asset, asset, [f], span))
    return {t: pl.concat(v) for t, v in per_table.items()}, records


def _load(
    args: argparse.Namespace, drops: Drops, cfg: Config
) -> tuple[dict[str, pl.DataFrame], list[str], list[mf.SourceRecord]]:
    aliases = aliases_of(cfg)
    files = list(iter_inputs(args.inputs))
    if not files:
        raise MonitorError(f"no CSV or zip files found in {', '.join(map(str, args.inputs))}")
    if args.max_member_mb < 1:
        raise MonitorError(f"--max-member-mb must be at least 1 (got {args.max_member_mb})")
    inputs = [f for p in files for f in read_inputs(p, args.max_member_mb)]
    notes = [f"{len(files)} input files, {len(inputs)} CSVs"]
    if args.source == "binance-klines":
        t, r = klines_tables(inputs, aliases, drops)
        return t, notes, r
    known = known_assets(args.out)
    if args.source == "binance-funding":
        t, r = funding_tables(inputs, aliases, args.partial_days, drops, notes, known)
        return t, notes, r
    if args.source == "binance-metrics":
        t, r = metrics_tables(inputs, aliases, drops, known)
        return t, notes, r
    t, r = coingecko_tables(inputs, aliases, args.asset_id, drops)
    return t, notes, r


def refuse_broken(drops: Drops, cfg: Config, what: str) -> None:
    """Warn about broken rows, and refuse (before anything is written) when more than
    ``limits.rejected_rows_error_share`` of a table's rows are broken."""
    for w in drops.warnings():
        log.warning(w)
    refusal = drops.refusal(cfg.limits.rejected_rows_error_share)
    if refusal is not None:
        raise MonitorError(f"{what} refused: {refusal}")


def cmd_import(args: argparse.Namespace) -> int:
    check_out(args.out, args.inputs)
    cfg = load_config(args.config)
    drops = Drops()
    tables, notes, records = _load(args, drops, cfg)
    if args.tables is not None:
        missing = [t for t in args.tables if t not in tables]
        if missing:
            raise MonitorError(
                f"this importer does not produce {missing[0]}; it writes {', '.join(tables)}"
            )
        tables = {t: tables[t] for t in args.tables}
    refuse_broken(drops, cfg, "import")
    if not any(df.height for df in tables.values()):
        raise MonitorError(
            "no rows to import: "
            + ("; ".join(f"{r} ({n})" for r, n in drops.counts.items()) or "the inputs are empty")
        )
    record = {
        "source": args.source,
        "inputs": [str(p) for p in args.inputs],
        "on_conflict": args.on_conflict,
        "notes": notes,
        **drops.manifest(),
    }
    done = write_tables(
        args.out,
        tables,
        args.on_conflict,
        sources=records,
        command=f"import {args.source}",
        record=record,
    )
    lines = [f"import {args.source} -> {args.out}  ({notes[0]})"]
    lines += [r.line() for r in done.results]
    lines += drops.lines()
    lines += [f"  note: {n}" for n in [*notes[1:], *drops.notes]]
    if done.generation is None:
        lines.append("  nothing changed: the lake is as it was (nothing published)")
    elif done.manifest_changed and all(r.status == "unchanged" for r in done.results):
        lines.append(f"  tables unchanged; {mf.MANIFEST} updated")
    return print_result("\n".join(lines))
