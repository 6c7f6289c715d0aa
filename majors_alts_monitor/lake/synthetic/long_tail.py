"""A whole-market synthetic lake: thousands of coins with the long tail of market caps the real
market has (most of them far below any eligibility line), generated and written a chunk of assets
at a time, so that 15,000 coins x 8 years are never in memory at once.

The market is the package's model (see ``synthetic/__init__.py``): the same hidden regime, BTC,
ETH, spread factor and volatility level, drawn exactly as ``generate`` draws them for the seed,
and alts driven by BTC, ETH and the spread through constant betas. What differs, to look like a
CoinGecko-sized market rather than a curated list of 60 coins:

- Market cap at listing: ``10 ** Normal(6.2, 0.95)`` clipped to ``[1e4, 2e10]`` USD (median
  about 1.6 M USD; about 7% of coins list above 50 M USD), then ``close x supply`` with supply
  growing 0-15% a year. Every alt stays at or below 0.6 x ETH's cap, ETH at or below 0.6 x BTC's.
- Listing: 10% of alts trade from the first day; the others list on day ``n_days x u ** 0.6``
  (``u`` uniform: listings grow over time, as the coin count did).
- Death: 40% of alts stop trading (their rows end) between 60 days after listing and the end,
  fading 0.3% a day over their last 90 days.
- Idiosyncratic volatility ``U(2%, 5%)`` a day (small coins are noisy), betas as in the model.
- Turnover (volume / cap): lognormal, median 4%, log sd 0.8 across coins, the model's AR(1)
  noise, ``1 + 8|r|`` and regime lean.
- Perpetuals (funding and open interest): 70% of the coins that list above 100 M USD, 3% of the
  others; 40% of them list the perp 30-365 days after spot.
- Stablecoins USDT and USDC (flagged ``is_stable``); no 1000SATS, no collapse, no quirks.

Streams: alts are generated in chunks of ``chunk_assets`` in name order (``ALT00001``...); chunk
``c`` draws from its own generators (``SeedSequence([seed, 1000 + c, k])``), so the lake for a
seed and chunk size is the same whatever else runs. Each chunk's rows (sorted by asset, then
date) are appended as one parquet row group per file: one file per table, or per table and year
with ``partitioned`` (hive ``NAME/year=YYYY/part-0.parquet``). The lake is written in a hidden
staging folder and renamed into place, as ``write_lake`` does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import MonitorError
from .model import (
    _F64,
    _SPEC_FILE,
    ALT_BETA_BTC,
    ALT_BETA_ETH,
    BTC_DRIFT,
    BTC_VOL,
    DELIST_DECAY,
    DELIST_DECAY_DAYS,
    ETH_DRIFT,
    ETH_IDIO_VOL,
    ETH_ON_BTC,
    FUNDING_BASE_8H,
    FUNDING_LEAN_8H,
    FUNDING_NOISE_8H,
    FUNDING_PHI,
    GENERATOR,
    GENERATOR_VERSION,
    LEAN_EMA_ALPHA,
    MAJOR_FUNDING_NOISE_8H,
    REGIMES,
    RETURN_FLOOR,
    SPREAD_DRIFT,
    SPREAD_VOL,
    TURNOVER_LEAN_ALTS,
    TURNOVER_LEAN_MAJORS,
    VOL_CLUSTER_PHI,
    VOL_CLUSTER_SD,
    SyntheticSpec,
    World,
    _ar1,
    _ema,
    _rng,
    _t_noise,
)
from .simulate import _regimes
from .write import write_staged

CAPS = ("model", "long_tail")  # the market-cap distributions `synth --caps` offers
CAP_LOG10 = (6.2, 0.95)  # Normal(mean, sd) of log10 cap at listing, USD
CAP_LOG10_RANGE = (4.0, 10.3)
LISTED_AT_START = 0.10
LISTING_POWER = 0.6
DEATH_SHARE = 0.40
ALT_IDIO_VOL_TAIL = (0.02, 0.05)
TURNOVER_MEDIAN, TURNOVER_LOG_SD = 0.04, 0.8
PERP_CAP = 1e8
PERP_SHARE_LARGE, PERP_SHARE_SMALL = 0.7, 0.03
DEFAULT_CHUNK = 500

_SCHEMAS = {
    "fact_price": pa.schema(
        [("asset_id", pa.string()), ("date", pa.date32()), ("close", pa.float64())]
    ),
    "fact_marketcap": pa.schema(
        [("asset_id", pa.string()), ("date", pa.date32()), ("marketcap", pa.float64())]
    ),
    "fact_volume": pa.schema(
        [("asset_id", pa.string()), ("date", pa.date32()), ("volume", pa.float64())]
    ),
    "fact_funding": pa.schema(
        [
            ("asset_id", pa.string()),
            ("instrument_id", pa.string()),
            ("date", pa.date32()),
            ("funding_rate", pa.float64()),
        ]
    ),
    "fact_open_interest": pa.schema(
        [("asset_id", pa.string()), ("date", pa.date32()), ("open_interest_usd", pa.float64())]
    ),
}


@dataclass(frozen=True)
class _Common:
    """What every chunk shares: the calendar, the regime and the major factors."""

    n_days: int
    day0: int  # days since 1970-01-01 of the first day
    regime: np.ndarray
    vol_level: _F64
    r_btc: _F64
    r_eth: _F64
    spread: _F64
    eth_cap: _F64
    lean_alts: _F64  # EMA-smoothed log-turnover lean of alts
    f_lean: _F64  # EMA-smoothed funding lean per 8h
    planted: bool


@dataclass
class _Chunk:
    """One chunk's assets as (n_days, m) arrays, an active mask and per-asset facts."""

    names: list[str]
    close: _F64
    caps: _F64
    volume: _F64
    funding: _F64
    oi: _F64
    active: np.ndarray
    funded: np.ndarray  # (n_days, m) days with a perp
    beta_btc: _F64
    beta_eth: _F64
    first: np.ndarray
    last: np.ndarray
    funding_start: np.ndarray  # -1 without a perp
    fate: list[str]
    stable: list[bool] = field(default_factory=list)


def _chunk_rng(seed: int, chunk: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 1000 + chunk, stream]))


def _common(spec: SyntheticSpec) -> _Common:
    n = spec.n_days
    planted = spec.world == "planted"
    regime = _regimes(spec)
    rng = _rng(spec.seed, 3)  # the draws `generate` makes for BTC, ETH and the spread
    vol_level = np.exp(
        _ar1(rng.standard_normal(n), VOL_CLUSTER_PHI, VOL_CLUSTER_SD) - VOL_CLUSTER_SD**2
    )
    r_btc = BTC_DRIFT + BTC_VOL * vol_level * _t_noise(rng, n)
    r_eth = ETH_DRIFT + ETH_ON_BTC * r_btc + ETH_IDIO_VOL * vol_level * _t_noise(rng, n)
    mu = np.asarray(SPREAD_DRIFT)[regime] if planted else np.zeros(n)
    spread = mu + SPREAD_VOL * vol_level * _t_noise(rng, n)
    one_hot = np.eye(3)[regime]
    zero = np.zeros(n)
    lean_alts = _ema(one_hot @ np.asarray(TURNOVER_LEAN_ALTS), LEAN_EMA_ALPHA) if planted else zero
    f_lean = _ema(one_hot @ np.asarray(FUNDING_LEAN_8H), LEAN_EMA_ALPHA) if planted else zero
    day0 = (spec.start - date(1970, 1, 1)).days
    return _Common(
        n, day0, regime, vol_level, r_btc, r_eth, spread, zero, lean_alts, f_lean, planted
    )


def _majors(spec: SyntheticSpec, c: _Common) -> _Chunk:
    """BTC, ETH, USDT and USDC (caps and prices as in the model)."""
    n = c.n_days
    rng = _chunk_rng(spec.seed, -1, 0)  # stream 999: the majors and stables
    t = np.arange(n)[:, None]
    ret = np.column_stack([c.r_btc, c.r_eth])
    close = np.array([3800.0, 135.0]) * np.exp(np.cumsum(np.log1p(ret), axis=0) - np.log1p(ret[0]))
    supply = np.array([17.45e6, 104.0e6]) * np.exp(np.array([0.017, 0.02]) * t / 365.0)
    caps = close * supply
    ratio = float(np.max(caps[:, 1] / caps[:, 0]))
    if ratio > 0.6:
        caps[:, 1] *= 0.6 / ratio
    stable_close = 1.0 + np.clip(_ar1(rng.standard_normal((n, 2)), 0.5, 0.0005), -0.03, 0.03)
    stable_caps = np.array([4.0e9, 0.5e9]) * np.exp(
        np.array([0.5, 0.55]) * t / 365.0 + _ar1(rng.standard_normal((n, 2)), 0.99, 0.05)
    )
    lean = np.zeros((n, 4))
    if c.planted:
        one_hot = np.eye(3)[c.regime]
        lean[:, :2] = _ema(one_hot @ np.asarray(TURNOVER_LEAN_MAJORS), LEAN_EMA_ALPHA)[:, None]
    noise = _ar1(rng.standard_normal((n, 4)), 0.7, 0.35)
    allret = np.column_stack([ret, np.zeros((n, 2))])
    base = np.array([0.025, 0.035, 0.7, 0.15])
    turnover = base * np.exp(lean + noise - 0.5 * 0.35**2) * (1.0 + 8.0 * np.abs(allret))
    allcaps = np.column_stack([caps, stable_caps])
    f_noise = _ar1(_t_noise(rng, (n, 2)), FUNDING_PHI, 1.0) * MAJOR_FUNDING_NOISE_8H
    funding = np.column_stack([3.0 * (FUNDING_BASE_8H + f_noise), np.full((n, 2), np.nan)])
    oi_noise = _ar1(rng.standard_normal((n, 2)), 0.95, 0.15)
    oi = np.column_stack(
        [caps * np.array([0.02, 0.03]) * np.exp(oi_noise + 0.5 * lean[:, :2]), np.zeros((n, 2))]
    )
    active = np.ones((n, 4), dtype=bool)
    funded = active.copy()
    funded[:, 2:] = False
    return _Chunk(
        ["BTC", "ETH", "USDT", "USDC"],
        np.column_stack([close, stable_close]),
        allcaps,
        allcaps * turnover,
        funding,
        oi,
        active,
        funded,
        np.array([1.0, 0.0, 0.0, 0.0]),
        np.array([0.0, 1.0, 0.0, 0.0]),
        np.zeros(4, dtype=np.int64),
        np.full(4, n - 1, dtype=np.int64),
        np.array([0, 0, -1, -1]),
        ["alive"] * 4,
        [False, False, True, True],
    )


def _alts(spec: SyntheticSpec, c: _Common, chunk: int, names: list[str]) -> _Chunk:
    n, m = c.n_days, len(names)
    rng = _chunk_rng(spec.seed, chunk, 0)
    t = np.arange(n)[:, None]
    late = rng.random(m) >= LISTED_AT_START
    first = np.where(late, (n * rng.random(m) ** LISTING_POWER).astype(np.int64), 0)
    first = np.minimum(first, n - 30)
    dies = rng.random(m) < DEATH_SHARE
    span = np.maximum(n - 1 - (first + 60), 0)
    last = np.where(dies & (span > 0), first + 60 + (span * rng.random(m)).astype(np.int64), n - 1)
    beta_btc = rng.uniform(*ALT_BETA_BTC, size=m)
    beta_eth = rng.uniform(*ALT_BETA_ETH, size=m)
    sigma = rng.uniform(*ALT_IDIO_VOL_TAIL, size=m)
    p0 = 10.0 ** rng.uniform(-5.0, 2.0, size=m)
    cap0 = 10.0 ** np.clip(rng.normal(*CAP_LOG10, size=m), *CAP_LOG10_RANGE)
    growth = rng.uniform(0.0, 0.15, size=m)
    base_turn = TURNOVER_MEDIAN * np.exp(TURNOVER_LOG_SD * rng.standard_normal(m))
    perp = rng.random(m) < np.where(cap0 > PERP_CAP, PERP_SHARE_LARGE, PERP_SHARE_SMALL)
    perp_late = rng.random(m) < 0.4
    perp_delay = rng.integers(30, 366, size=m)
    sens = rng.uniform(0.5, 1.5, size=m)
    oi_frac = 0.04 * np.exp(0.5 * rng.standard_normal(m))

    rng = _chunk_rng(spec.seed, chunk, 1)
    active = (t >= first) & (t <= last)
    eps = sigma * c.vol_level[:, None] * _t_noise(rng, (n, m))
    ret = np.outer(c.r_btc, beta_btc) + np.outer(c.r_eth, beta_eth) + c.spread[:, None] + eps
    to_end = last - t
    ret -= DELIST_DECAY * (dies & (to_end >= 0) & (to_end < DELIST_DECAY_DAYS))
    ret = np.maximum(ret, RETURN_FLOOR)
    cum = np.cumsum(np.log1p(ret), axis=0)
    close = np.exp(np.log(p0) + cum - cum[first, np.arange(m)])
    caps = close * (cap0 / p0) * np.exp(growth * (t - first) / 365.0)
    ratio = np.where(active, caps / c.eth_cap[:, None], -np.inf).max(axis=0)
    caps *= np.minimum(1.0, 0.6 / ratio)
    noise = _ar1(rng.standard_normal((n, m)), 0.7, 0.35)
    lean = c.lean_alts[:, None]
    volume = caps * base_turn * np.exp(lean + noise - 0.5 * 0.35**2) * (1.0 + 8.0 * np.abs(ret))
    f_noise = _ar1(_t_noise(rng, (n, m)), FUNDING_PHI, 1.0) * FUNDING_NOISE_8H
    funding = 3.0 * (FUNDING_BASE_8H + np.outer(c.f_lean, sens) + f_noise)
    oi = caps * oi_frac * np.exp(_ar1(rng.standard_normal((n, m)), 0.95, 0.15) + 0.5 * lean)
    f_start = first + np.where(perp_late, perp_delay, 0)
    perp &= f_start <= last - 5
    funded = perp & (t >= f_start) & (t <= last)
    return _Chunk(
        names,
        close,
        caps,
        volume,
        funding,
        oi,
        active,
        funded,
        beta_btc,
        beta_eth,
        first,
        last,
        np.where(perp, f_start, -1),
        ["delisted" if d and lst < n - 1 else "alive" for d, lst in zip(dies, last, strict=True)],
        [False] * m,
    )


def _rows(mask: np.ndarray, value: _F64) -> dict[str, np.ndarray]:
    """Long rows of ``mask`` (sorted by asset, then date): column index, day, value."""
    col, day = np.nonzero(mask.T)
    return {"col": col, "day": day, "value": value[day, col]}


def _tables(ch: _Chunk, c: _Common) -> Iterator[tuple[str, pa.Table, np.ndarray]]:
    """(table, arrow rows, year of each row) of one chunk."""
    names = pa.array(ch.names, pa.string())
    instruments = pa.array([f"{a}USDT" for a in ch.names], pa.string())
    years = (np.arange(c.n_days) + c.day0).astype("datetime64[D]").astype("datetime64[Y]")
    years = years.astype(np.int64) + 1970
    for table, mask, value, col in (
        ("fact_price", ch.active, ch.close, "close"),
        ("fact_marketcap", ch.active, ch.caps, "marketcap"),
        ("fact_volume", ch.active, ch.volume, "volume"),
        ("fact_funding", ch.funded, ch.funding, "funding_rate"),
        ("fact_open_interest", ch.funded, ch.oi, "open_interest_usd"),
    ):
        r = _rows(mask, value)
        ids = names.take(pa.array(r["col"]))
        cols: dict[str, Any] = {"asset_id": ids}
        if table == "fact_funding":
            cols["instrument_id"] = instruments.take(pa.array(r["col"]))
        cols["date"] = pa.array((r["day"] + c.day0).astype(np.int32), pa.int32()).cast(pa.date32())
        cols[col] = pa.array(r["value"], pa.float64())
        yield table, pa.Table.from_pydict(cols, schema=_SCHEMAS[table]), years[r["day"]]


class _Writers:
    """One pyarrow writer per output file, opened on its first rows."""

    def __init__(self, lake: Path, partitioned: bool) -> None:
        self.lake, self.partitioned = lake, partitioned
        self.open: dict[tuple[str, int], pq.ParquetWriter] = {}

    def write(self, table: str, rows: pa.Table, years: np.ndarray) -> None:
        if not self.partitioned:
            self._writer(table, 0).write_table(rows, row_group_size=max(1, rows.num_rows))
            return
        for y in np.unique(years):
            part = rows.filter(pa.array(years == y))
            self._writer(table, int(y)).write_table(part, row_group_size=max(1, part.num_rows))

    def _writer(self, table: str, year: int) -> pq.ParquetWriter:
        key = (table, year)
        if key not in self.open:
            path = (
                self.lake / table / f"year={year}" / "part-0.parquet"
                if self.partitioned
                else self.lake / f"{table}.parquet"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            self.open[key] = pq.ParquetWriter(path, _SCHEMAS[table], compression="zstd")
        return self.open[key]

    def close(self) -> None:
        for w in self.open.values():
            w.close()


def _write(df: pl.DataFrame, path: Path) -> None:
    df.write_parquet(path, statistics=True)


def write_long_tail_lake(
    spec: SyntheticSpec,
    out_dir: Path,
    *,
    partitioned: bool = True,
    chunk_assets: int = DEFAULT_CHUNK,
) -> tuple[Path, Path]:
    """Generate and write a whole-market lake with long-tailed caps (module doc), chunk by
    chunk, to ``out_dir/lake`` and its truth to ``out_dir/truth``. ``spec.n_assets`` counts
    BTC, ETH and the alts (USDT and USDC come extra); quirks are not offered here. An existing
    ``lake``/``truth`` pair is replaced only if this package's generator wrote it."""
    if spec.quirks:
        raise ValueError("the long-tail lake has no quirks; generate them with `generate`")
    if chunk_assets < 1:
        raise ValueError(f"chunk_assets must be >= 1, got {chunk_assets}")

    def fill(new_lake: Path, new_truth: Path) -> None:
        truth = _generate_into(spec, new_lake, partitioned, chunk_assets)
        _write(truth.pop("dim_asset"), new_lake / "dim_asset.parquet")
        for name, df in truth.items():
            _write(df, new_truth / f"{name}.parquet")
        meta = {
            "generator": GENERATOR,
            "generator_version": GENERATOR_VERSION,
            "partitioned": partitioned,
            "caps": "long_tail",
            "chunk_assets": chunk_assets,
            "spec": spec.to_json(),
        }
        (new_truth / _SPEC_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    return write_staged(Path(out_dir), fill)


def alt_names(n_assets: int) -> list[str]:
    """The alts' ids of a long-tail lake of ``n_assets`` (BTC and ETH included)."""
    n_alts = n_assets - 2
    width = max(5, len(str(n_alts)))
    return [f"ALT{i:0{width}d}" for i in range(1, n_alts + 1)]


def _generate_into(
    spec: SyntheticSpec, lake: Path, partitioned: bool, chunk_assets: int
) -> dict[str, pl.DataFrame]:
    c = _common(spec)
    majors = _majors(spec, c)
    c = dataclasses.replace(c, eth_cap=majors.caps[:, 1].copy())
    names = alt_names(spec.n_assets)
    writers = _Writers(lake, partitioned)
    facts: list[dict[str, Any]] = []
    try:
        for ch in _chunks(spec, c, majors, names, chunk_assets):
            for table, rows, years in _tables(ch, c):
                writers.write(table, rows, years)
            facts.append(_facts(ch))
    finally:
        writers.close()
    return _truth(spec, c, facts)


def _chunks(
    spec: SyntheticSpec, c: _Common, majors: _Chunk, names: list[str], size: int
) -> Iterator[_Chunk]:
    yield majors
    for k, i in enumerate(range(0, len(names), size)):
        yield _alts(spec, c, k, names[i : i + size])


def _facts(ch: _Chunk) -> dict[str, Any]:
    return {
        "asset_id": ch.names,
        "is_stable": ch.stable,
        "beta_btc": ch.beta_btc,
        "beta_eth": ch.beta_eth,
        "first": ch.first,
        "last": ch.last,
        "funding_start": ch.funding_start,
        "fate": ch.fate,
    }


def _truth(spec: SyntheticSpec, c: _Common, facts: list[dict[str, Any]]) -> dict[str, pl.DataFrame]:
    def cat(key: str) -> list[Any]:
        return [x for f in facts for x in list(f[key])]

    ids, stable, fate = cat("asset_id"), cat("is_stable"), cat("fate")
    order = np.argsort(np.asarray(ids), kind="stable")
    day = np.arange(c.n_days, dtype=np.int32) + c.day0
    dates = pl.Series("date", day).cast(pl.Date)
    mu = np.asarray(SPREAD_DRIFT)[c.regime] if c.planted else np.zeros(c.n_days)

    def dated(values: list[Any]) -> pl.Series:
        v = np.asarray(values, dtype=np.int64)[order]
        return pl.Series([int(x) + c.day0 if x >= 0 else None for x in v], dtype=pl.Int32).cast(
            pl.Date
        )

    sorted_ids = [ids[i] for i in order]
    return {
        "dim_asset": pl.DataFrame(
            {
                "asset_id": sorted_ids,
                "symbol": sorted_ids,
                "name": sorted_ids,
                "is_stable": [stable[i] for i in order],
            },
            schema={
                "asset_id": pl.String,
                "symbol": pl.String,
                "name": pl.String,
                "is_stable": pl.Boolean,
            },
        ),
        "regimes": pl.DataFrame(
            {
                "date": dates,
                "regime": np.asarray(REGIMES)[c.regime],
                "spread_drift": mu,
            }
        ),
        "spread": pl.DataFrame({"date": dates, "spread_return": c.spread}),
        "betas": pl.DataFrame(
            {
                "asset_id": sorted_ids,
                "beta_btc": np.asarray(cat("beta_btc"), dtype=np.float64)[order],
                "beta_eth": np.asarray(cat("beta_eth"), dtype=np.float64)[order],
            }
        ),
        "lifecycle": pl.DataFrame(
            {
                "asset_id": sorted_ids,
                "first_date": dated(cat("first")),
                "last_date": dated(cat("last")),
                "funding_start": dated(cat("funding_start")),
                "fate": [fate[i] for i in order],
            }
        ),
    }


def long_tail_command(
    out_dir: Path,
    *,
    seed: int,
    world: World,
    n_assets: int,
    start: date | None = None,
    end: date | None = None,
    quirks: frozenset[str] = frozenset(),
    partitioned: bool = False,
) -> tuple[Path, Path]:
    """What ``majors-alts synth OUT --caps long_tail`` calls (quirks are refused)."""
    if quirks:
        raise MonitorError(
            f"--quirks {','.join(sorted(quirks))} is not offered with --caps long_tail. "
            "What to do: drop --quirks, or use --caps model"
        )
    defaults = SyntheticSpec()
    spec = SyntheticSpec(
        n_assets=n_assets,
        start=start or defaults.start,
        end=end or defaults.end,
        world=world,
        seed=seed,
    )
    return write_long_tail_lake(spec, Path(out_dir), partitioned=partitioned)
