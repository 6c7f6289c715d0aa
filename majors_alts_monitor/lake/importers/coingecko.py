"""CoinGecko per-coin exports (``btc-usd-max.csv``: ``snapped_at, price, market_cap,
total_volume``) parsed into contract tables.

Point in time: a row snapped at 00:00 UTC of day ``d+1`` holds the price at the end of day
``d``, the market cap then, and the 24h volume of day ``d``; it is dated ``d`` (the same day a
Binance 1d candle opening at 00:00 of ``d`` is dated). A row snapped at another time (the
export's last row is usually today's live value) is not a daily close and is dropped. A
``market_cap`` of 0 is CoinGecko's "unknown" and is dropped (the coin then has no cap that day);
``price <= 0`` and negative volumes are dropped; an empty cell is missing. The asset id comes
from the file name (``btc-usd-max.csv -> BTC``) or ``--asset-id``.
"""

from __future__ import annotations

import polars as pl

from .common import Drops, InputFile, read_csv

COLUMNS = ["snapped_at", "price", "market_cap", "total_volume"]
TYPES: dict[str, pl.DataType] = {
    "snapped_at": pl.String(),
    "price": pl.Float64(),
    "market_cap": pl.Float64(),
    "total_volume": pl.Float64(),
}


def asset_from_name(stem: str) -> str:
    """``btc-usd-max -> BTC``, ``1000sats-usd-max -> 1000SATS``, ``eth -> ETH``."""
    return stem.split("-", 1)[0].strip().upper()


def parse_coingecko(f: InputFile, asset_id: str, drops: Drops) -> dict[str, pl.DataFrame]:
    """One export -> fact_price (close), fact_marketcap, fact_volume rows for ``asset_id``."""
    raw = read_csv(f.text, COLUMNS, TYPES, f.name)
    ts = (
        pl.col("snapped_at")
        .str.strip_chars()
        .str.replace(r"\s*(UTC|Z|\+00:00)$", "")
        .str.to_datetime(format=None, strict=False, time_unit="ms")
    )
    df = raw.with_row_index("line", offset=2).with_columns(ts.alias("ts"))

    def drop(frame: pl.DataFrame, cond: pl.Expr, reason: str) -> pl.DataFrame:
        bad = frame.filter(cond)
        if bad.height:
            drops.add(reason, bad.height, f"{f.name} line {bad['line'][0]}")
        return frame.filter(~cond)

    df = drop(df, pl.col("ts").is_null(), "snapped_at is not a timestamp")
    df = drop(
        df,
        pl.col("ts").dt.time() != pl.time(0),
        "snapped at a time other than 00:00 UTC (not a daily close)",
    )
    df = df.with_columns(
        (pl.col("ts").dt.date() - pl.duration(days=1)).alias("date"),
        pl.lit(asset_id).alias("asset_id"),
    )
    n0 = df.height
    df = df.unique(subset=["date"], keep="first", maintain_order=True)
    if df.height < n0:
        drops.add("second row for the same day (the first is kept)", n0 - df.height, f.name)
    out: dict[str, pl.DataFrame] = {}
    for table, src, col, reason, cond in (
        ("fact_price", "price", "close", "price missing or <= 0", pl.col("price") <= 0),
        (
            "fact_marketcap",
            "market_cap",
            "marketcap",
            "market_cap missing or 0 (CoinGecko's unknown) or < 0",
            pl.col("market_cap") <= 0,
        ),
        (
            "fact_volume",
            "total_volume",
            "volume",
            "total_volume missing or < 0",
            pl.col("total_volume") < 0,
        ),
    ):
        t = drop(
            df,
            pl.col(src).is_null() | ~pl.col(src).is_finite() | cond,
            f"{table}: {reason}",
        )
        out[table] = t.select("asset_id", "date", pl.col(src).alias(col))
    return out
