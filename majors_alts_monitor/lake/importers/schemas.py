"""What the importers write: each table's columns in order, with their types, its key, and the key
two versions of a row are matched on when a lake is merged (``merge.py``)."""

from __future__ import annotations

import polars as pl

# column order and types of every table an importer writes (LAKE_CONTRACT.md)
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "fact_price": {
        "asset_id": pl.String(),
        "date": pl.Date(),
        "close": pl.Float64(),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
    },
    "fact_marketcap": {"asset_id": pl.String(), "date": pl.Date(), "marketcap": pl.Float64()},
    "fact_volume": {"asset_id": pl.String(), "date": pl.Date(), "volume": pl.Float64()},
    "fact_funding": {
        "asset_id": pl.String(),
        "instrument_id": pl.String(),
        "date": pl.Date(),
        "funding_rate": pl.Float64(),
    },
    "fact_open_interest": {
        "asset_id": pl.String(),
        "instrument_id": pl.String(),
        "date": pl.Date(),
        "open_interest_usd": pl.Float64(),
    },
    "dim_instrument": {
        "instrument_id": pl.String(),
        "asset_id": pl.String(),
        "venue": pl.String(),
        "instrument_type": pl.String(),
        "quote": pl.String(),
    },
}
# each table's key as written (sorted by it); the reader checks the same keys (tables.TABLES:
# fact_open_interest's instrument_id is its optional key column; dim_instrument is not read)
KEYS: dict[str, tuple[str, ...]] = {
    "fact_price": ("asset_id", "date"),
    "fact_marketcap": ("asset_id", "date"),
    "fact_volume": ("asset_id", "date"),
    "fact_funding": ("asset_id", "instrument_id", "date"),
    "fact_open_interest": ("asset_id", "instrument_id", "date"),
    "dim_instrument": ("instrument_id",),
}
# the key a row of the lake and a row of an import are matched on: an instrument's row is the
# instrument's, whatever asset it is filed under (a re-import that files it under another asset
# replaces it, and leaves no row behind under the old one)
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    **KEYS,
    "fact_funding": ("instrument_id", "date"),
    "fact_open_interest": ("instrument_id", "date"),
}
# tables whose rows belong to an instrument filed under an asset
INSTRUMENT_TABLES = ("fact_funding", "fact_open_interest", "dim_instrument")


def standard(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Columns in contract order and type, sorted by key (deterministic bytes)."""
    schema = SCHEMAS[table]
    cols = [
        pl.col(c).cast(t) if c in df.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in schema.items()
    ]
    return df.select(cols).sort(list(KEYS[table]))
