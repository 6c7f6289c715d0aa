"""CoinGecko per-coin exports (``btc-usd-max.csv``: ``snapped_at, price, market_cap,
total_volume``) parsed into contract tables.

Point in time: a row snapped at 00:00 UTC of day ``d+1`` holds the price at the end of day
``d``, the market cap then, and the 24h volume of day ``d``; it is dated ``d`` (the same day a
Binance 1d candle opening at 00:00 of ``d`` is dated). A row snapped at another time (the
export's last row is usually today's live value) is not a daily close and is dropped. A
``market_cap`` of 0 is CoinGecko's "unknown" and is dropped (the coin then has no cap that day);
``price <= 0`` and negative volumes are dropped; an empty cell is missing. The asset id comes
from the file name (``btc-usd-max.csv -> BTC``) or ``--asset-id``.

``update coingecko`` reads the API's ``/coins/{id}/market_chart/range`` answers by the same rules
(``parse_market_chart``): both go through ``_daily``, so every point or line left out is counted
per table and reason, with the coin and point (or the file and line) it came from.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ...errors import MonitorError
from ..tables import PRICE_MAX, PRICE_MIN, USD_MAX, date_bounds
from .inputs import Drops, InputFile, split_lines, typed_frame

COLUMNS = ["snapped_at", "price", "market_cap", "total_volume"]
TYPES: dict[str, pl.DataType] = {
    "snapped_at": pl.String(),
    "price": pl.Float64(),
    "market_cap": pl.Float64(),
    "total_volume": pl.Float64(),
}


TABLES = ("fact_price", "fact_marketcap", "fact_volume")


def asset_from_name(stem: str) -> str:
    """``btc-usd-max -> BTC``, ``1000sats-usd-max -> 1000SATS``, ``eth -> ETH``; a name that
    gives no asset id (``-usd-max``) is an error naming the file."""
    asset = stem.split("-", 1)[0].strip().upper()
    if not asset or not asset.replace("_", "").isalnum():
        raise MonitorError(
            f"cannot tell the asset of {stem!r} from its name (expected <asset>-usd-max.csv). "
            "What to do: rename the file, or import it alone with --asset-id"
        )
    return asset


def parse_coingecko(f: InputFile, asset_id: str, drops: Drops) -> dict[str, pl.DataFrame]:
    """One export -> fact_price (close), fact_marketcap, fact_volume rows for ``asset_id``."""
    raw = typed_frame(split_lines(f, COLUMNS, drops, TABLES), COLUMNS, TYPES, f.name)
    ts = (
        pl.col("snapped_at")
        .str.strip_chars()
        .str.replace(r"\s*(UTC|Z|\+00:00)$", "")
        .str.to_datetime(format=None, strict=False, time_unit="ms")
    )
    return _daily(raw.with_columns(ts.alias("ts")), asset_id, drops, f.name, "line")


def parse_market_chart(
    payload: object, asset_id: str, drops: Drops, source: str
) -> dict[str, pl.DataFrame]:
    """A ``/coins/{id}/market_chart[/range]`` answer (``{"prices": [[ms, price], ...],
    "market_caps": [...], "total_volumes": [...]}``) -> the same tables as an export, by the
    same rules (a point stamped 00:00 UTC of ``d+1`` is day ``d``; other points are dropped).
    Points are numbered in time order (``point`` in the messages); the answer's points are the
    rows read of each table."""
    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(k), list) for k in ("prices", "market_caps", "total_volumes")
    ):
        raise ValueError(
            "not a market_chart answer (expected lists 'prices', 'market_caps', 'total_volumes')"
        )
    frames = []
    for key, col in (
        ("prices", "price"),
        ("market_caps", "market_cap"),
        ("total_volumes", "total_volume"),
    ):
        pts = [p for p in payload[key] if isinstance(p, list | tuple) and len(p) == 2]
        if len(pts) < len(payload[key]):
            drops.add(
                f"{key} entry that is not a [time, value] pair",
                len(payload[key]) - len(pts),
                f"{source} {key}",
                TABLES,
                anomaly=True,
            )
        frames.append(
            pl.DataFrame(
                {
                    "ms": [int(p[0]) if isinstance(p[0], int | float) else None for p in pts],
                    col: [float(p[1]) if isinstance(p[1], int | float) else None for p in pts],
                },
                schema={"ms": pl.Int64, col: pl.Float64},
            )
            .drop_nulls("ms")
            .unique("ms", keep="first", maintain_order=True)
        )
    df = frames[0].join(frames[1], on="ms", how="full", coalesce=True)
    df = df.join(frames[2], on="ms", how="full", coalesce=True).sort("ms")
    df = df.with_row_index("point", offset=1).with_columns(
        pl.from_epoch(pl.col("ms").clip(-(10**14), 10**14), time_unit="ms").alias("ts")
    )
    drops.read(TABLES, df.height)
    return _daily(df, asset_id, drops, source, "point")


def _daily(
    df: pl.DataFrame, asset_id: str, drops: Drops, source: str, where: str
) -> dict[str, pl.DataFrame]:
    """Rows with ``ts``, ``price``, ``market_cap``, ``total_volume`` (and ``where``, a line or
    point number for the messages) -> the three tables (module docstring)."""

    def drop(
        frame: pl.DataFrame,
        cond: pl.Expr,
        reason: str,
        tables: tuple[str, ...] = TABLES,
        anomaly: bool = True,
    ) -> pl.DataFrame:
        bad = frame.filter(cond)
        if bad.height:
            drops.add(reason, bad.height, f"{source} {where} {bad[where][0]}", tables, anomaly)
        return frame.filter(~cond)

    lo, hi = date_bounds()
    df = drop(df, pl.col("ts").is_null(), "snapped_at is not a timestamp")
    day = pl.col("ts").dt.date()  # the day after the one the row is dated
    df = drop(
        df,
        (day <= lo) | (day > hi + timedelta(days=1)),
        "dated before 2009-01-03 or after today",
    )
    df = drop(
        df,
        pl.col("ts").dt.time() != pl.time(0),
        "snapped at a time other than 00:00 UTC (not a daily close)",
        anomaly=False,
    )
    df = df.with_columns(
        (pl.col("ts").dt.date() - pl.duration(days=1)).alias("date"),
        pl.lit(asset_id).alias("asset_id"),
    )
    n0 = df.height
    df = df.unique(subset=["date"], keep="first", maintain_order=True)
    if df.height < n0:
        drops.add("second row for the same day (the first is kept)", n0 - df.height, source, TABLES)
    out: dict[str, pl.DataFrame] = {}
    for table, src, col in (
        ("fact_price", "price", "close"),
        ("fact_marketcap", "market_cap", "marketcap"),
        ("fact_volume", "total_volume", "volume"),
    ):
        v = pl.col(src)
        t = df
        if src == "market_cap":  # 0 is CoinGecko's "unknown": routine, like an empty cell
            t = drop(
                t,
                v.is_null() | (v == 0),
                f"{table}: market_cap missing or 0 (CoinGecko's unknown)",
                (table,),
                False,
            )
            bad, wild = ~v.is_finite() | (v < 0), v > USD_MAX
        elif src == "price":
            t = drop(t, v.is_null(), f"{table}: price missing", (table,), False)
            bad, wild = ~v.is_finite() | (v <= 0), (v > PRICE_MAX) | (v < PRICE_MIN)
        else:
            t = drop(t, v.is_null(), f"{table}: total_volume missing", (table,), False)
            bad, wild = ~v.is_finite() | (v < 0), v > USD_MAX
        t = drop(t, bad, f"{table}: {src} not a number of the right sign", (table,))
        t = drop(t, wild, f"{table}: {src} beyond physical sense", (table,))
        out[table] = t.select("asset_id", "date", pl.col(src).alias(col))
    return out
