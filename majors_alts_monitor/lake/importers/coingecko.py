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
    return _daily(df, asset_id, drops, f.name, "line")


def parse_market_chart(
    payload: object, asset_id: str, drops: Drops, source: str
) -> dict[str, pl.DataFrame]:
    """A ``/coins/{id}/market_chart[/range]`` answer (``{"prices": [[ms, price], ...],
    "market_caps": [...], "total_volumes": [...]}``) -> the same tables as an export, by the
    same rules (a point stamped 00:00 UTC of ``d+1`` is day ``d``; other points are dropped)."""
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
    df = df.with_row_index("point").with_columns(pl.from_epoch("ms", time_unit="ms").alias("ts"))
    return _daily(df, asset_id, drops, source, "point")


def _daily(
    df: pl.DataFrame, asset_id: str, drops: Drops, source: str, where: str
) -> dict[str, pl.DataFrame]:
    """Rows with ``ts``, ``price``, ``market_cap``, ``total_volume`` (and ``where``, a line or
    point number for the messages) -> the three tables (module docstring)."""

    def drop(frame: pl.DataFrame, cond: pl.Expr, reason: str) -> pl.DataFrame:
        bad = frame.filter(cond)
        if bad.height:
            drops.add(reason, bad.height, f"{source} {where} {bad[where][0]}")
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
        drops.add("second row for the same day (the first is kept)", n0 - df.height, source)
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
