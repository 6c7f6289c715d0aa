"""``majors-alts update binance-archive | coingecko`` and ``majors-alts mirror``: the commands'
arguments and the thin shell around ``update_binance.py``, ``update_coingecko.py`` and
``mirror.py``. Downloads go to a cache outside the lake, without the lake's lock (a long
download never blocks an import); every write into the lake then goes through
``common.write_tables``, as an import's does: under the lake's lock, the rows merged into the
lake as it is then, the tables and the importer manifest published as one generation. A
failure before that publication leaves the lake as it was; a rerun resumes from the cache."""

from __future__ import annotations

import argparse
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ... import clock
from ...config import load_config
from ...errors import MonitorError
from ...publish.layout import STORE_DIR
from ...shell import parse_date, print_result
from ..data_io import LakeReader
from ..tables import FUTURE_REASON, TABLES, _Report
from . import archive as ar
from . import manifest as mf
from .commands import add_conflict_arguments, add_member_limit, aliases_of, refuse_broken
from .common import Drops, read_table, snapshot, write_tables
from .fetch import Archive, FetchError, Http
from .mirror import month_before, write_mirror
from .update_binance import not_found_records, run_update, stop_records, stopped_lines, to_frames
from .update_coingecko import fetch_caps, parse_ids, plan_from_env
from .update_targets import resolve_targets, stopped_targets

CACHE_ENV = "MAJORS_ALTS_CACHE"


def default_cache() -> Path:
    """``$MAJORS_ALTS_CACHE``, else ``$XDG_CACHE_HOME/majors-alts``, else
    ``~/.cache/majors-alts``: a per-user place outside any lake, shared by every lake (an
    archive file is the same bytes whichever lake asks for it, and is checked against its
    checksum before it is used)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "majors-alts"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the lake to top up: a folder written by majors-alts import (it holds "
        "importer_manifest.json)",
    )
    p.add_argument(
        "--start",
        type=parse_date,
        default=None,
        help="first day to fetch (default: the day after the lake's last day, per symbol)",
    )
    p.add_argument(
        "--end",
        type=parse_date,
        default=None,
        help="last day to fetch (default and at most: yesterday, UTC)",
    )
    p.add_argument(
        "--today",
        type=parse_date,
        default=None,
        help="pin today's date (default: today in UTC) for the pending rules, e.g. to replay a "
        "morning; rows dated after it are refused",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for a connection or a read (default 30)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        help="extra attempts after a network error, timeout, 429 or 5xx (default 3)",
    )
    add_conflict_arguments(p)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser(
        "update",
        help="top up a lake written by majors-alts import from the "
        "Binance public-data archive or CoinGecko",
    )
    usub = up.add_subparsers(dest="source", required=True)
    b = usub.add_parser(
        "binance-archive",
        help="spot 1d klines, USD-M funding and open "
        "interest from data.binance.vision (or a mirror in its layout)",
    )
    _common(b)
    b.add_argument(
        "--base-url",
        default=ar.PUBLIC_BASE,
        help=f"the archive or a mirror in its layout (default {ar.PUBLIC_BASE})",
    )
    b.add_argument(
        "--listing-url",
        default=None,
        help="S3 listing endpoint of the archive (default: the public bucket's for "
        "the public archive, else --base-url; a static mirror's folder index works)",
    )
    b.add_argument(
        "--symbols",
        default=None,
        help="comma list of symbols or assets (BTCUSDT,PEPE), or 'all': every symbol "
        "the archive lists for --quote, delisted ones included (default: the lake's)",
    )
    b.add_argument("--quote", default="USDT", help="quote asset of --symbols all (default USDT)")
    b.add_argument(
        "--datasets",
        default=None,
        help="comma list of klines,funding,metrics (default: what the lake holds; "
        "all three with --symbols)",
    )
    b.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="download cache, outside the lake (default $MAJORS_ALTS_CACHE, else "
        "$XDG_CACHE_HOME/majors-alts or ~/.cache/majors-alts)",
    )
    b.add_argument(
        "--keep-cache",
        action="store_true",
        help="keep the downloaded files once they are in the lake (default: only a failed "
        "update's files are kept, for the next run to resume with)",
    )
    b.add_argument("--jobs", type=int, default=8, help="parallel downloads (default 8)")
    add_member_limit(b)
    b.add_argument(
        "--recheck-days",
        type=int,
        default=3,
        help="files covering the last N days are checked for a re-published version (default 3)",
    )
    b.add_argument(
        "--allow-gaps",
        action="store_true",
        help="accept files missing between files the archive has (default: an error)",
    )
    b.add_argument(
        "--partial-days",
        choices=["drop", "keep"],
        default="drop",
        help="funding days with a settlement missing: drop (default) or keep the sum",
    )
    c = usub.add_parser(
        "coingecko",
        help="market caps (and on request prices and volumes) from CoinGecko's market_chart/range",
    )
    _common(c)
    c.add_argument(
        "--ids", default=None, help="comma list ASSET=coin_id (BTC=bitcoin,ETH=ethereum)"
    )
    c.add_argument("--ids-file", type=Path, default=None, help="CSV with columns asset_id,coin_id")
    c.add_argument(
        "--base-url",
        default=None,
        help="API root (default: the public API, or the Pro API with a Pro key)",
    )
    c.add_argument(
        "--min-interval",
        type=float,
        default=None,
        help="seconds between calls (default 12 keyless, 2.1 with a Demo key, 0.2 Pro)",
    )
    c.add_argument(
        "--tables",
        default="fact_marketcap",
        help="comma list of fact_marketcap (default), fact_price, fact_volume",
    )
    m = sub.add_parser(
        "mirror",
        help="write a lake's tables in the Binance archive's layout "
        "(and CoinGecko answers), to try update against a local server",
    )
    m.add_argument("lake", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument(
        "--daily-from",
        type=parse_date,
        default=None,
        help="spot klines from this day on as daily files (default: the first day "
        "of the month of the lake's last price)",
    )
    m.add_argument(
        "--funding-through",
        default=None,
        help="last month (YYYY-MM) with a funding file (default: the month before "
        "--daily-from's, as the archive publishes a month once it is over)",
    )
    m.add_argument("--quote", default="USDT")
    m.add_argument("--config", type=Path, default=None, help="YAML config (aliases)")
    m.add_argument(
        "--today",
        type=parse_date,
        default=None,
        help="pin today's date (default: today in UTC): the archive as it stood that day, rows "
        "dated after it left out (the future seen from today), e.g. to replay a morning",
    )


def refuse_without_manifest(out: Path) -> None:
    """``update`` only tops up a lake its importers created (one holding the importer
    manifest), never a research lake."""
    if (Path(out) / STORE_DIR / "lake").is_dir():
        raise MonitorError(
            f"{out} was written by an earlier version of majors-alts import, which kept no "
            f"{mf.MANIFEST}; update needs it to know what the lake holds and from which files. "
            "What to do: run your import commands again into the same --out with this version "
            "(the rows already there stay as they are; the manifest is added), then update"
        )
    raise MonitorError(
        f"{out} was not written by majors-alts import (no {mf.MANIFEST}): update only tops "
        "up a lake its importers created, never a research lake. What to do: build one "
        "with majors-alts import ... --out DIR, then update --out DIR"
    )


def _lake_or_refuse(out: Path) -> tuple[dict[str, Any], Path]:
    """The lake's importer manifest and the folder to plan from (``common.snapshot``: its
    current generation, so the manifest and the tables read are of one publication)."""
    if not Path(out).is_dir():
        refuse_without_manifest(out)
    snap = snapshot(out)
    m = mf.load(snap)
    if m is None:
        refuse_without_manifest(out)
    return m, snap  # type: ignore[return-value]


def _last_dates(out: Path) -> tuple[dict[str, dict[str, date]], date | None]:
    """Per table, each asset's (or instrument's) last date in the lake folder ``out`` (a
    snapshot); the lake's first day."""
    last: dict[str, dict[str, date]] = {}
    first: date | None = None
    for table, key in (
        ("fact_price", "asset_id"),
        ("fact_marketcap", "asset_id"),
        ("fact_funding", "instrument_id"),
        ("fact_open_interest", "instrument_id"),
    ):
        df = read_table(out, table)
        if df is None or not df.height:
            continue
        g = df.group_by(key).agg(pl.col("date").max())
        last[table] = dict(g.iter_rows())  # type: ignore[arg-type]
        if table == "fact_price" or first is None:
            d = df["date"].min()
            first = d if first is None else min(first, d)  # type: ignore[type-var,assignment]
    return last, first


def _end(args: argparse.Namespace, today: date) -> tuple[date, list[str]]:
    yesterday = today - timedelta(days=1)
    if args.end is not None and args.end > yesterday:
        return yesterday, [f"--end {args.end} is after yesterday: fetched through {yesterday}"]
    return args.end or yesterday, []


def _cache(args: argparse.Namespace) -> Path:
    cache = Path(args.cache) if args.cache is not None else default_cache()
    c, o = cache.resolve(), Path(args.out).resolve()
    if c == o or o in c.parents:
        raise MonitorError(
            f"--cache {cache} is inside the lake {args.out}; downloads never go into a lake. "
            "What to do: pass --cache with a folder outside it"
        )
    return cache / "binance-archive"


def cmd_update(args: argparse.Namespace) -> int:
    """(``cli.main`` pins the clock to ``--today``.)"""
    if args.source == "binance-archive":
        return _binance(args)
    return _coingecko(args)


def _binance(args: argparse.Namespace) -> int:
    manifest, snap = _lake_or_refuse(args.out)
    today = clock.today()
    end, notes = _end(args, today)
    cfg = load_config(args.config)
    aliases = aliases_of(cfg)
    if args.max_member_mb < 1:
        raise MonitorError(f"--max-member-mb must be at least 1 (got {args.max_member_mb})")
    last, lake_first = _last_dates(snap)
    known = set(last.get("fact_price", {}))
    symbols = None
    if args.symbols is not None:
        symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        symbols = ["ALL"] if symbols == ["ALL"] else symbols
    if args.datasets is not None:
        bad = [d for d in args.datasets.split(",") if d.strip() not in ar.BY_OPTION]
        if bad:
            raise MonitorError(
                f"--datasets: unknown {bad[0]!r}; choose from klines,funding,metrics"
            )
        datasets = [ar.BY_OPTION[d.strip()] for d in args.datasets.split(",")]
    elif symbols is None:
        datasets = [d for d in ar.DATASETS.values() if mf.symbols(manifest, d.key)]
    else:
        datasets = list(ar.DATASETS.values())
    if not datasets:
        raise MonitorError(
            f"{args.out} holds nothing from the Binance archive to top up. What to do: name "
            "--symbols (or --symbols all) and --datasets"
        )
    base = args.base_url
    listing = args.listing_url or (ar.PUBLIC_LISTING if base == ar.PUBLIC_BASE else base)
    cache = _cache(args)
    archive = Archive(base, cache, Http(args.timeout, max(0, args.retries)), listing)
    exclude = {x.upper() for x in cfg.universe.exclude}

    def lake_last(ds: ar.Dataset, sym: str, asset: str) -> date | None:
        if ds is ar.SPOT_KLINES:
            return last.get("fact_price", {}).get(asset)
        table = "fact_funding" if ds is ar.UM_FUNDING else "fact_open_interest"
        return last.get(table, {}).get(f"BINANCE_UM:{sym}")

    def listing_of(ds: ar.Dataset) -> list[str]:
        names: set[str] = set()
        for daily in (False, True):
            if ds.daily if daily else ds.monthly:
                names |= set(archive.list_folders(ds.folder(daily)))
        return sorted(names)

    try:
        targets = resolve_targets(
            datasets, symbols, args.quote.upper(), manifest, lake_last, lake_first,
            args.start, aliases, known, exclude, listing_of, notes,
        )  # fmt: skip
        if symbols is None:
            targets, stopped = stopped_targets(targets, manifest)
            if stopped:
                names = sorted({t.symbol for t in stopped})
                notes.append(
                    f"{len(names)} symbols an earlier update found stopped were not looked for "
                    f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}): name them "
                    "with --symbols, or run --symbols all now and then, to look again"
                )
        out = run_update(
            archive, targets, today, end, args.jobs, args.recheck_days, args.allow_gaps
        )
    except FetchError as err:
        raise FetchError(
            f"{err}. Nothing was written to {args.out}; files already verified are kept in "
            f"{cache}, so running the command again resumes"
        ) from None
    known |= {t.asset_id for t in targets if t.ds is ar.SPOT_KLINES}
    drops = Drops()
    windows = {(t.ds.key, t.symbol): (t.first, end) for t in targets}
    tables, revisions, records, revised = to_frames(
        out.fetched, aliases, known, args.partial_days, drops, notes, windows, args.max_member_mb
    )
    refuse_broken(drops, cfg, "update")
    records += not_found_records(targets, out.fetched, end) + stop_records(out, records)
    lines = [
        f"update binance-archive -> {args.out}  (today {today}, through {end}; "
        f"{len(targets)} symbol-datasets, {len(out.fetched)} files fetched, "
        f"{sum(f.cached for _, f in out.fetched)} of them from the cache)"
    ]
    if tables or revisions or records:
        record = {
            "source": "update binance-archive",
            "base_url": base,
            "through": end.isoformat(),
            "files_fetched": sorted(f.path for _, f in out.fetched),
            "on_conflict": args.on_conflict,
            "notes": notes[:20],
            **drops.manifest(),
        }
        done = write_tables(
            args.out,
            tables,
            args.on_conflict,
            revisions=revisions,
            sources=records,
            command="update binance-archive",
            record=record,
            require_manifest=refuse_without_manifest,
        )
        lines += [r.line() for r in done.results]
        if done.generation is None:
            lines.append("  nothing changed: the lake is as it was (nothing published)")
        changed: dict[str, int] = {}
        for r in done.results:
            for src, n in r.revised_by:
                changed[src] = changed.get(src, 0) + n
        same = [src for src in revised if not changed.get(src)]
        revised = [f"{src}: {changed[src]} rows changed" for src in revised if changed.get(src)]
        if same:
            notes.append(
                f"{len(same)} files re-published or replaced with the same rows (no change): "
                + ", ".join(s.split(" (")[0] for s in same[:6])
                + (" ..." if len(same) > 6 else "")
            )
        if not args.keep_cache:  # in the lake now: the copies only served a resume
            for _, f in out.fetched:
                (cache / f.path).unlink(missing_ok=True)
    else:
        lines.append("  nothing new in the archive")
    for label, items in sorted(out.pending.items()):
        shown = ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")
        lines.append(f"  pending ({label}, not published yet; the next update fetches it): {shown}")
    lines += [f"  revision: {src}" for src in revised]
    lines += drops.lines()
    lines += [f"  note: {n}" for n in [*notes, *out.notes, *stopped_lines(out)]]
    return print_result("\n".join(lines))


def _coingecko(args: argparse.Namespace) -> int:
    manifest, snap = _lake_or_refuse(args.out)
    cfg = load_config(args.config)
    today = clock.today()
    end, notes = _end(args, today)
    ids = {
        a: e["coin_id"] for a, e in mf.symbols(manifest, mf.COINGECKO).items() if e.get("coin_id")
    }
    ids |= parse_ids(args.ids, args.ids_file)
    if not ids:
        raise MonitorError(
            "no CoinGecko coin ids: pass --ids ASSET=coin_id,... or --ids-file CSV (asset_id,"
            "coin_id); later updates remember them"
        )
    tables = tuple(t.strip() for t in (args.tables or "fact_marketcap").split(",") if t.strip())
    bad = [t for t in tables if t not in ("fact_marketcap", "fact_price", "fact_volume")]
    if bad:
        raise MonitorError(
            f"--tables: {bad[0]} does not come from CoinGecko (fact_marketcap, fact_price, "
            "fact_volume)"
        )
    last, lake_first = _last_dates(snap)
    key = tables[0]
    wanted = {}
    for asset, coin in ids.items():
        lst = last.get(key, {}).get(asset)
        first = args.start or (lst + timedelta(days=1) if lst else lake_first)
        if first is None:
            raise MonitorError(f"{asset} is new to the lake: pass --start YYYY-MM-DD")
        wanted[asset] = (coin, first)
    plan = plan_from_env(dict(os.environ), args.base_url, args.min_interval)
    http = Http(args.timeout, max(0, args.retries), headers=plan.headers)
    drops = Drops()
    try:
        got = fetch_caps(http, plan, wanted, end, today, tables, drops)
    except FetchError as err:
        raise FetchError(f"{err}. Nothing was written to {args.out}") from None
    refuse_broken(drops, cfg, "update")
    frames = {t: pl.concat(v) for t, v in got.tables.items() if v}
    lines = [
        f"update coingecko -> {args.out}  (today {today}, through {end}; {len(wanted)} coins, "
        f"{plan.tier} API)"
    ]
    record = {
        "source": "update coingecko",
        "base_url": plan.base,
        "through": end.isoformat(),
        "coins": sorted(f"{a}={c}" for a, (c, _) in wanted.items()),
        "on_conflict": args.on_conflict,
        **drops.manifest(),
    }
    done = write_tables(
        args.out,
        frames,
        args.on_conflict,
        sources=got.records,
        command="update coingecko",
        record=record,
        require_manifest=refuse_without_manifest,
    )
    lines += [r.line() for r in done.results]
    if done.generation is None:
        lines.append("  nothing changed: the lake is as it was (nothing published)")
    if got.pending:
        lines.append(
            f"  pending (CoinGecko serves a day from about 00:35 UTC): {', '.join(got.pending[:6])}"
        )
    lines += drops.lines()
    lines += [f"  note: {n}" for n in [*notes, *got.notes]]
    return print_result("\n".join(lines))


def cmd_mirror(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    reader = LakeReader(args.lake, aliases=cfg.universe.aliases)
    o, lk = Path(args.out).resolve(), Path(args.lake).resolve()
    if o == lk or lk in o.parents:
        raise MonitorError(f"{args.out} is inside the lake {args.lake}; choose a folder outside it")
    rep = _Report()
    known = reader._known_assets(None, None)
    tables = {}
    for name in TABLES:
        got = reader.read_table(name, None, None, known, rep)
        if got is not None:
            tables[name] = got[1]
    stables = {x.upper() for x in cfg.universe.exclude}
    if "dim_asset" in tables:
        dim = tables.pop("dim_asset")
        stables |= set(dim.filter(pl.col("is_stable"))["asset_id"].to_list())
    tables = {
        k: df.filter(~pl.col("asset_id").is_in(sorted(stables))) if "asset_id" in df.columns else df
        for k, df in tables.items()
    }
    cut = {t: v[FUTURE_REASON]["rows"] for t, v in rep.rejected.items() if FUTURE_REASON in v}
    last = tables["fact_price"]["date"].max()
    daily_from = args.daily_from or last.replace(day=1)  # type: ignore[union-attr]
    through = args.funding_through or month_before(daily_from)
    s = write_mirror(tables, args.out, daily_from=daily_from, funding_through=through,
                     quote=args.quote.upper())  # fmt: skip
    lines = [
        f"mirror {args.lake} -> {args.out}: {s.files:,} files ({s.written:,} written, the others "
        f"unchanged); klines daily from {daily_from}, funding through {through}"
    ]
    lines += [f"  {k:<16} {v:>5} symbols" for k, v in s.symbols.items()]
    lines += [f"  left out: {x}" for x in s.left_out]
    lines += [
        f"  left out: {t} {n:,} rows dated after today {clock.today()} (the future seen from "
        "today: --today)"
        for t, n in cut.items()
    ]
    lines.append(
        f"  serve it: python -m http.server --directory {args.out} PORT; then update "
        f"binance-archive --base-url http://127.0.0.1:PORT/ and update coingecko --base-url "
        f"http://127.0.0.1:PORT/coingecko/api/v3 --ids-file {Path(args.out) / 'coingecko/ids.csv'}"
    )
    return print_result("\n".join(lines))
