"""Binance public-data exports (data.binance.vision) parsed into contract tables.

Klines (``SYMBOL-1d-YYYY-MM.csv`` monthly, ``SYMBOL-1d-YYYY-MM-DD.csv`` daily, or zips of those):
columns ``open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_volume, taker_buy_quote_volume, ignore``; spot files have no header, later futures
files have one; timestamps are epoch milliseconds, or microseconds in spot files from 2025
(told apart by magnitude: above 1e14 is microseconds). The 1d candle opening at 00:00 UTC of
day ``d`` closes at the end of ``d``: its close is ``fact_price.close`` for ``d`` (open, high,
low kept) and its quote volume ``fact_volume.volume`` (USD, quote assets USDT/USDC/FDUSD/BUSD/
TUSD/USD taken at par; pairs quoted in anything else are skipped).

Funding (``SYMBOL-fundingRate-YYYY-MM.csv``): ``calc_time, funding_interval_hours,
last_funding_rate``. Each settlement is dated by the UTC day of its ``calc_time`` and a day's
``funding_rate`` is the sum of its settlements (LAKE_CONTRACT.md), whatever the interval (8h:
three a day, 4h: six, 1h: 24). A day is complete when its settlements, each one interval after
the previous, run from the day's first slot (before 00:00 + interval) to the last one (within
an interval of midnight). A day with a missing settlement (a hole in the record, or the first
day of the data when it starts mid-day) is partial: dropped by default (``--partial-days
drop``: the run then treats the day as missing funding, see ``costs.missing_funding``) or kept
as the sum of what settled (``keep``). A day on which the interval changes (8h -> 4h) is
complete when the settlements follow the announced intervals; the change is listed in the
summary.

Open interest (USD-M daily metrics, ``SYMBOL-metrics-YYYY-MM-DD.csv``): ``create_time, symbol,
sum_open_interest, sum_open_interest_value, ...`` with a header, one snapshot every 5 minutes,
``create_time`` a UTC ``YYYY-MM-DD HH:MM:SS``. A day's open interest is the day's last snapshot
in its file (the latest ``create_time`` after 00:00 of the day and at or before 00:00 of the
next): ``sum_open_interest_value``, in the quote asset (USD at par), is
``fact_open_interest.open_interest_usd``.

Futures names: a perpetual's asset is its base name, unless that carries a ``1000``/``1M``
multiplier prefix and is not itself an asset of the lake (``common.futures_asset``:
``1000PEPEUSDT`` is PEPE's, the contract's ``1000SATS`` stays); the config's aliases win.

Every row left out is counted per table and reason with its file and line (``inputs.Drops``);
values beyond physical sense and dates outside 2009-01-03..today are rejected as anomalies.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import polars as pl

from ...errors import MonitorError
from ..tables import FUNDING_MAX, PRICE_MAX, PRICE_MIN, USD_MAX, date_bounds
from .common import USD_QUOTES, pair_asset, pair_futures
from .inputs import Drops, InputFile, Lines, split_lines, typed_frame

KLINE_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]
KLINE_TYPES: dict[str, pl.DataType] = {
    "open_time": pl.Int64(),
    **{c: pl.Float64() for c in ("open", "high", "low", "close", "volume", "quote_volume")},
}
FUNDING_COLUMNS = ["calc_time", "funding_interval_hours", "last_funding_rate"]
FUNDING_TYPES: dict[str, pl.DataType] = {
    "calc_time": pl.Int64(),
    "funding_interval_hours": pl.Int64(),
    "last_funding_rate": pl.Float64(),
}
KLINE_NAME = re.compile(r"^([A-Z0-9]+(?:_[A-Z0-9]+)?)-(\w+?)-(\d{4}-\d{2}(?:-\d{2})?)$")
FUNDING_NAME = re.compile(r"^([A-Z0-9]+(?:_[A-Z0-9]+)?)-fundingRate-(\d{4}-\d{2}(?:-\d{2})?)$")
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
TOLERANCE_MS = 60_000  # settlement times a few ms (or seconds) off the hour still count


def _to_ms(col: str) -> pl.Expr:
    """Epoch milliseconds from milliseconds or microseconds (above 1e14 is microseconds)."""
    return pl.when(pl.col(col) > 10**14).then(pl.col(col) // 1000).otherwise(pl.col(col))


@dataclass(frozen=True)
class Klines:
    """One symbol's daily candles: asset_id, date, open, high, low, close, volume, and src (the
    file each row came from)."""

    symbol: str
    asset_id: str
    quote: str
    frame: pl.DataFrame


KLINE_TABLES = ("fact_price", "fact_volume")


def _in_range(col: str) -> pl.Expr:
    lo, hi = date_bounds()
    return pl.col(col).is_between(lo, hi)


def parse_klines_files(
    files: list[InputFile], aliases: dict[str, str], drops: Drops
) -> list[Klines]:
    """Parse klines CSVs (pure: texts in, frames out), one parse per symbol: the files' data
    lines are concatenated, each row keeping its file and line number for the messages."""
    groups: dict[str, list[InputFile]] = {}
    pairs: dict[str, tuple[str, str]] = {}
    for f in files:
        m = KLINE_NAME.match(f.stem)
        if m is None:
            drops.add("file name is not SYMBOL-INTERVAL-YYYY-MM[-DD]", 1, f.name)
            continue
        symbol, interval = m.group(1), m.group(2)
        if interval != "1d":
            drops.add(f"interval {interval}: only 1d klines are imported", 1, f.name)
            continue
        pair = pair_asset(symbol, aliases)
        if pair is None or "_" in symbol.removesuffix("_PERP"):
            drops.add("symbol not quoted in USD (or a dated future): skipped", 1, f.name)
            continue
        pairs[symbol] = pair
        groups.setdefault(symbol, []).append(f)
    out = []
    prices = ("open", "high", "low", "close")
    for symbol, fs in groups.items():
        asset, quote = pairs[symbol]
        rows: list[str] = []
        numbers: list[int] = []
        counts = []
        for f in fs:
            got = split_lines(f, KLINE_COLUMNS, drops, KLINE_TABLES)
            rows += got.rows
            numbers += got.numbers
            counts.append(len(got.rows))
        where = fs[0].name if len(fs) == 1 else f"{symbol} ({len(fs)} files)"
        idx = np.repeat(np.arange(len(fs)), counts)
        df = typed_frame(Lines(rows, numbers), KLINE_COLUMNS, KLINE_TYPES, where).with_columns(
            pl.Series("src", [f.name for f in fs], dtype=pl.String).gather(idx),
            _to_ms("open_time").alias("ms"),
        )
        df = df.with_columns(
            pl.from_epoch(pl.col("ms").clip(-(10**14), 10**14), time_unit="ms")
            .dt.date()
            .alias("date"),
            pl.lit(asset).alias("asset_id"),
        )
        for cond, reason, anomaly in (
            (pl.col("ms").is_null(), "open_time missing or not a number", True),
            (pl.col("ms") % DAY_MS != 0, "candle does not open at 00:00 UTC", False),
            (~_in_range("date"), "date before 2009-01-03 or after today", True),
            (
                pl.col("close").is_null() | ~pl.col("close").is_finite() | (pl.col("close") <= 0),
                "close missing or <= 0",
                True,
            ),
            (
                pl.any_horizontal(
                    [
                        pl.col(c).is_not_null() & (~pl.col(c).is_finite() | (pl.col(c) <= 0))
                        for c in ("open", "high", "low")
                    ]
                ),
                "open, high or low not a positive number",
                True,
            ),
            (
                pl.any_horizontal(
                    [(pl.col(c) > PRICE_MAX) | (pl.col(c) < PRICE_MIN) for c in prices]
                ),
                "price beyond physical sense (not between 1e-12 and 1e12 USD)",
                True,
            ),
            (
                pl.col("quote_volume").is_not_null() & ~pl.col("quote_volume").is_finite(),
                "quote_volume not a finite number (NaN or infinite)",
                True,
            ),
            (
                pl.col("quote_volume").is_null() | (pl.col("quote_volume") < 0),
                "quote_volume missing or < 0",
                True,
            ),
            (
                pl.col("quote_volume") > USD_MAX,
                "quote_volume beyond physical sense (above 1e15 USD)",
                True,
            ),
        ):
            bad = df.filter(cond)
            if bad.height:
                where = f"{bad['src'][0]} line {bad['line'][0]}"
                drops.add(reason, bad.height, where, KLINE_TABLES, anomaly=anomaly)
                df = df.filter(~cond)
        frame = df.select(
            "asset_id",
            "date",
            "open",
            "high",
            "low",
            "close",
            pl.col("quote_volume").alias("volume"),
            "src",
        )
        out.append(Klines(symbol, asset, quote, frame))
    return out


def parse_klines(f: InputFile, aliases: dict[str, str], drops: Drops) -> Klines | None:
    """One klines CSV; None when the file is not imported (the reason is in ``drops``)."""
    got = parse_klines_files([f], aliases, drops)
    return got[0] if got else None


def combine_klines(
    parts: list[Klines], drops: Drops, chosen: dict[str, str] | None = None
) -> pl.DataFrame:
    """One series per asset. Overlapping files (a monthly and a daily file) must agree (identical
    rows are kept once, different candles for one day are refused naming both files); when
    several pairs map to one asset (BTCUSDT, BTCUSDC) the pair with the most days is kept, ties
    broken by ``USD_QUOTES`` order, and the others are listed as dropped (``chosen``, when given,
    receives asset -> the symbol kept)."""

    by_asset: dict[str, dict[str, list[Klines]]] = {}
    for k in parts:
        by_asset.setdefault(k.asset_id, {}).setdefault(k.symbol, []).append(k)
    frames = []
    for asset, symbols in sorted(by_asset.items()):
        series = {}
        for symbol, ks in symbols.items():
            df = pl.concat([k.frame for k in ks])
            n0 = df.height
            df = df.unique(subset=[c for c in df.columns if c != "src"], keep="first")
            drops.add("identical row in overlapping files", n0 - df.height, symbol, KLINE_TABLES)
            dup = df.filter(pl.col("date").is_duplicated()).sort("date", "src")
            if dup.height:
                raise MonitorError(
                    f"{symbol} has two different candles for {dup['date'][0]} (in "
                    f"{' and '.join(dup['src'][:2].to_list())}). What to do: import spot and "
                    "futures files into separate lakes, or remove one of the files"
                )
            series[symbol] = (df.drop("src"), ks[0].quote)
        rank = {q: i for i, q in enumerate(USD_QUOTES)}
        best = min(series, key=lambda s: (-series[s][0].height, rank[series[s][1]], s))
        if chosen is not None:
            chosen[asset] = best
        for s, (df, _) in series.items():
            if s != best:
                drops.add(
                    f"pair also maps to its asset; the pair with the most days is kept ({asset})",
                    df.height,
                    s,
                    KLINE_TABLES,
                )
        frames.append(series[best][0])
    if not frames:
        return pl.DataFrame(
            schema={
                "asset_id": pl.String,
                "date": pl.Date,
                **dict.fromkeys(("open", "high", "low", "close", "volume"), pl.Float64),
            }
        )
    return pl.concat(frames).sort("asset_id", "date")


@dataclass(frozen=True)
class Funding:
    """One perp's settlements: instrument, asset, and calc_ms, interval_h, rate rows."""

    symbol: str
    asset_id: str
    quote: str
    source: str
    frame: pl.DataFrame


def parse_funding(
    f: InputFile, aliases: dict[str, str], drops: Drops, known: Collection[str] = ()
) -> Funding | None:
    """One fundingRate CSV; ``known``: the lake's assets (for the futures-name rule)."""
    m = FUNDING_NAME.match(f.stem)
    if m is None:
        drops.add("file name is not SYMBOL-fundingRate-YYYY-MM", 1, f.name)
        return None
    symbol = m.group(1)
    pair = pair_futures(symbol, known, aliases)
    if pair is None:
        drops.add("symbol not quoted in USD: skipped", 1, f.name)
        return None
    lines = split_lines(f, FUNDING_COLUMNS, drops, ("fact_funding",))
    df = typed_frame(lines, FUNDING_COLUMNS, FUNDING_TYPES, f.name)
    df = df.with_columns(_to_ms("calc_time").alias("ms"))
    df = df.with_columns(
        pl.from_epoch(pl.col("ms").clip(-(10**14), 10**14), time_unit="ms").dt.date().alias("d")
    )
    for cond, reason in (
        (
            pl.col("ms").is_null()
            | pl.col("last_funding_rate").is_null()
            | ~pl.col("last_funding_rate").is_finite()
            | ~pl.col("funding_interval_hours").is_in([1, 2, 4, 8]),
            "settlement with a missing time or rate, or an interval not in 1/2/4/8 h",
        ),
        (~_in_range("d"), "settlement dated before 2009-01-03 or after today"),
        (
            pl.col("last_funding_rate").abs() > FUNDING_MAX,
            "funding rate beyond physical sense (|rate| above 1)",
        ),
    ):
        bad = df.filter(cond)
        if bad.height:
            drops.add(
                reason, bad.height, f"{f.name} line {bad['line'][0]}", ("fact_funding",), True
            )
            df = df.filter(~cond)
    frame = df.select(
        "ms",
        pl.col("funding_interval_hours").alias("interval_h"),
        pl.col("last_funding_rate").alias("rate"),
    )
    return Funding(symbol, pair[0], pair[1], f.name, frame)


def daily_funding(
    s: pl.DataFrame, partial: Literal["drop", "keep"], drops: Drops, label: str
) -> tuple[pl.DataFrame, list[str]]:
    """Settlements (ms, interval_h, rate) of one instrument -> (date, funding_rate, complete),
    and notes (interval changes, partial days kept). Pure; the rule is in the module docstring."""
    s = s.unique(subset=["ms"], keep="first").sort("ms")
    s = s.with_columns(
        pl.from_epoch("ms", time_unit="ms").dt.date().alias("date"),
        (pl.col("ms") % DAY_MS).alias("tod"),
        (pl.col("interval_h") * HOUR_MS).alias("step"),
    ).with_columns(
        # a settlement follows the previous one by its own interval (the one it closes) or, on
        # the day the interval changes, by the previous interval
        (
            ((pl.col("ms") - pl.col("ms").shift(1) - pl.col("step")).abs() <= TOLERANCE_MS)
            | (
                (pl.col("ms") - pl.col("ms").shift(1) - pl.col("step").shift(1)).abs()
                <= TOLERANCE_MS
            )
        )
        .fill_null(False)
        .alias("chained"),
    )
    prev = s["interval_h"].shift(1)
    notes = [
        f"{label}: funding interval {int(prev[i])}h -> {int(s['interval_h'][i])}h on {s['date'][i]}"
        for i in range(1, s.height)
        if prev[i] != s["interval_h"][i]
    ]
    day = (
        s.group_by("date", maintain_order=True)
        .agg(
            pl.col("rate").sum().alias("funding_rate"),
            pl.len().alias("n"),
            # first slot of the day: before 00:00 + its interval (else the day's start is missing)
            (pl.col("tod").first() < pl.col("step").first() - TOLERANCE_MS).alias("starts"),
            # the last one leaves no hole before midnight
            (pl.col("tod").last() + pl.col("step").last() >= DAY_MS - TOLERANCE_MS).alias("ends"),
            # inside the day every settlement follows the previous one
            pl.col("chained").slice(1).all().alias("inner"),
        )
        .sort("date")
    )
    day = day.with_columns((pl.col("starts") & pl.col("ends") & pl.col("inner")).alias("complete"))
    bad = day.filter(~pl.col("complete"))
    if bad.height and partial == "drop":
        drops.add(
            "partial funding day (a settlement missing from the record)",
            bad.height,
            f"{label} {bad['date'][0]}",
            ("fact_funding",),
        )
        day = day.filter(pl.col("complete"))
    wild = day.filter(pl.col("funding_rate").abs() > FUNDING_MAX)
    if wild.height:
        drops.add(
            "day's funding beyond physical sense (|sum| above 1)",
            wild.height,
            f"{label} {wild['date'][0]}",
            ("fact_funding",),
            anomaly=True,
        )
        day = day.filter(pl.col("funding_rate").abs() <= FUNDING_MAX)
    elif bad.height:
        notes.append(
            f"{label}: {bad.height} partial days kept as the sum of what settled "
            f"(first {bad['date'][0]})"
        )
    return day.select("date", "funding_rate", "complete"), notes


METRICS_NAME = re.compile(r"^([A-Z0-9]+)-metrics-(\d{4}-\d{2}-\d{2})$")
METRICS_TIME, METRICS_VALUE = "create_time", "sum_open_interest_value"
METRICS_TABLES = ("fact_open_interest",)


@dataclass(frozen=True)
class OpenInterest:
    """One perp's daily open interest: date, open_interest_usd and src (the file) rows."""

    symbol: str
    asset_id: str
    quote: str
    frame: pl.DataFrame


def _metrics_columns(f: InputFile) -> list[str] | None:
    """The columns a metrics CSV's header names ([] for an empty file); None when it has no
    header naming the two columns the importer reads."""
    for line in f.text.removeprefix("\ufeff").splitlines():
        if line.strip():
            cols = [c.strip().strip('"').lower() for c in line.split(",")]
            return cols if METRICS_TIME in cols and METRICS_VALUE in cols else None
    return []


def parse_metrics_files(
    files: list[InputFile], aliases: dict[str, str], drops: Drops, known: Collection[str] = ()
) -> list[OpenInterest]:
    """USD-M daily metrics CSVs -> one daily open-interest series per symbol (the day's last
    snapshot, see the module docstring). Files with the same header are parsed in one pass;
    every row left out is counted with its file and line."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[InputFile, Lines, date]]] = {}
    pairs: dict[str, tuple[str, str]] = {}
    for f in files:
        m = METRICS_NAME.match(f.stem)
        if m is None:
            drops.add("file name is not SYMBOL-metrics-YYYY-MM-DD", 1, f.name)
            continue
        symbol = m.group(1)
        pair = pair_futures(symbol, known, aliases)
        if pair is None:
            drops.add("symbol not quoted in USD: skipped", 1, f.name)
            continue
        cols = _metrics_columns(f)
        if cols is None:
            drops.add(
                f"no header naming {METRICS_TIME} and {METRICS_VALUE}: not a metrics file",
                1,
                f.name,
            )
            continue
        if not cols:
            drops.add("metrics file without snapshots", 1, f.name)
            continue
        lines = split_lines(f, cols, drops, METRICS_TABLES)
        pairs[symbol] = pair
        groups.setdefault((symbol, tuple(cols)), []).append(
            (f, lines, date.fromisoformat(m.group(2)))
        )
    lo, hi = date_bounds()
    frames: dict[str, list[pl.DataFrame]] = {}
    for (symbol, cols), fs in groups.items():
        counts = [len(lines.rows) for _, lines, _ in fs]
        if not sum(counts):
            drops.add("metrics file without snapshots", len(fs), fs[0][0].name)
            continue
        body = Lines(
            [r for _, lines, _ in fs for r in lines.rows],
            [n for _, lines, _ in fs for n in lines.numbers],
        )
        where = fs[0][0].name if len(fs) == 1 else f"{symbol} ({len(fs)} metrics files)"
        raw = typed_frame(
            body, list(cols), {METRICS_TIME: pl.String(), METRICS_VALUE: pl.String()}, where
        )
        idx = np.repeat(np.arange(len(fs)), counts)
        t = pl.col(METRICS_TIME).str.strip_chars()
        v = pl.col(METRICS_VALUE)
        df = raw.select(
            pl.Series("src", [f.name for f, _, _ in fs], dtype=pl.String).gather(idx),
            pl.Series("day", [d for _, _, d in fs], dtype=pl.Date).gather(idx),
            "line",
            pl.when(t.str.contains(r"^\d+$"))
            .then(t.cast(pl.Int64, strict=False))
            .otherwise(
                t.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="ms").dt.epoch("ms")
            )
            .alias("ms"),
            v.alias("raw"),
            v.cast(pl.Float64, strict=False).alias("oi"),
        ).with_columns(_to_ms("ms").alias("ms"))

        def drop(frame: pl.DataFrame, cond: pl.Expr, reason: str, anomaly: bool) -> pl.DataFrame:
            bad = frame.filter(cond)
            if bad.height:
                where = f"{bad['src'][0]} line {bad['line'][0]}"
                drops.add(reason, bad.height, where, METRICS_TABLES, anomaly)
            return frame.filter(~cond)

        df = drop(df, pl.col("ms").is_null(), "create_time is not a timestamp", True)
        df = drop(
            df, ~pl.col("day").is_between(lo, hi), "date before 2009-01-03 or after today", True
        )
        start = pl.col("day").cast(pl.Datetime("ms")).dt.epoch("ms")
        in_day = (pl.col("ms") > start) & (pl.col("ms") <= start + DAY_MS)
        day = (
            df.filter(in_day)
            .sort("day", "ms", "line")
            .group_by("day", maintain_order=True)
            .agg(pl.all().last())
        )
        none = {d for _, _, d in fs if lo <= d <= hi} - set(day["day"].to_list())
        if none:
            drops.add(
                "metrics file without a snapshot in its day", len(none), f"{symbol} {min(none)}"
            )
        empty = pl.col("raw").is_null() | (pl.col("raw").str.strip_chars() == "")
        day = drop(
            day, empty, "day's last snapshot has no sum_open_interest_value (missing)", False
        )
        day = drop(
            day,
            pl.col("oi").is_null() | ~pl.col("oi").is_finite() | (pl.col("oi") < 0),
            "sum_open_interest_value not a number of the right sign",
            True,
        )
        day = drop(
            day,
            pl.col("oi") > USD_MAX,
            "open interest beyond physical sense (above 1e15 USD)",
            True,
        )
        frames.setdefault(symbol, []).append(
            day.select(pl.col("day").alias("date"), pl.col("oi").alias("open_interest_usd"), "src")
        )
    out = []
    for symbol, parts in sorted(frames.items()):
        df = pl.concat(parts).sort("date", "src")
        n0 = df.height
        df = df.unique(subset=["date", "open_interest_usd"], keep="first", maintain_order=True)
        drops.add("identical day in two metrics files", n0 - df.height, symbol, METRICS_TABLES)
        dup = df.filter(pl.col("date").is_duplicated())
        if dup.height:
            raise MonitorError(
                f"{symbol} has two metrics files for {dup['date'][0]} ("
                f"{' and '.join(dup['src'][:2].to_list())}). What to do: remove one of them"
            )
        asset, quote = pairs[symbol]
        if df.height:
            out.append(OpenInterest(symbol, asset, quote, df))
    return out
