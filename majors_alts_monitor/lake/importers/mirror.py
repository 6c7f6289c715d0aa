"""``majors-alts mirror LAKE DIR``: a lake's tables written out as the sources publish them, so
that ``update`` (and a daily routine chaining it) can be tried against a local copy served with
``python -m http.server``: ``update binance-archive --base-url http://127.0.0.1:PORT/`` and
``update coingecko --base-url http://127.0.0.1:PORT/coingecko/api/v3``.

- Spot 1d klines per asset (``ASSETUSDT``), headerless, open times in milliseconds before
  2025-01-01 and microseconds from then on (as the archive): monthly files for the months before
  ``daily_from``'s month, daily files from ``daily_from`` on. Quote volume is the lake's volume;
  a lake without open/high/low gets the close there.
- USD-M funding per instrument (its futures name: the lake's instrument id without a venue
  prefix when that is a Binance USD-M name such as ``1000PEPEUSDT``, else ``ASSETUSDT``):
  monthly files through ``funding_through``, with a header. A day's funding is written as its
  settlements (``n_settlements`` where the lake has it, else three 8-hourly), which sum exactly
  to the lake's value (all but the last are the day's rate over n, rounded to 30 significant
  bits, so any order of summation gives the last one back by Sterbenz's lemma).
- USD-M daily metrics per instrument with a header: the day's open interest as the day's last
  snapshot (23:55:00), ``sum_open_interest`` its value over the asset's close.
- CoinGecko ``coins/{id}/market_chart/range`` answers (the whole history; a static server ignores
  the query) with ``id`` the asset in lower case, and ``coingecko/ids.csv`` for ``--ids-file``.

Every zip gets its ``.CHECKSUM``. Zips are written with a fixed timestamp, and a file whose
bytes would not change is not rewritten: mirroring the same lake twice changes no byte. Funding
and open interest of assets without a price are left out (they cannot reach a run).
"""

from __future__ import annotations

import calendar
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from . import archive as ar
from .binance import FUNDING_COLUMNS
from .fetch import sha256

MICROS_FROM = date(2025, 1, 1)  # spot timestamps are in microseconds from this day on
DAY_MS = 86_400_000
USDM_NAME = re.compile(r"^(?:BINANCE_UM:)?([A-Z0-9]+USDT)$")
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)


@dataclass
class MirrorSummary:
    files: int = 0
    written: int = 0
    symbols: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


def _ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _zip(member: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, text)
    return buf.getvalue()


class _Writer:
    """Writes files under ``root``: a file whose bytes would not change is left alone; a changed
    one is replaced by a rename; a new one (in a folder this writer created, or absent) is
    written in place, its ``.CHECKSUM`` after it, so an interrupted mirror never announces a
    half-written zip."""

    def __init__(self, root: Path, summary: MirrorSummary) -> None:
        self.root = root
        self.summary = summary
        self.fresh: set[str] = set()  # folders created by this writer: nothing to compare
        self.seen: set[str] = set()

    def _folder(self, folder: str) -> bool:
        """Make ``folder``; True when it is new (created now, or under one created now)."""
        if folder in self.seen:
            return folder in self.fresh
        path = self.root / folder
        parent = folder.rsplit("/", 1)[0] if "/" in folder else ""
        new = (parent in self.fresh) or not path.is_dir()
        if new:
            path.mkdir(parents=True, exist_ok=True)
            self.fresh.add(folder)
        self.seen.add(folder)
        return new

    def put(self, rel: str, data: bytes) -> None:
        folder = rel.rsplit("/", 1)[0]
        path = os.path.join(self.root, rel)
        self.summary.files += 1
        if not self._folder(folder):
            try:
                with open(path, "rb") as fh:
                    if fh.read() == data:
                        return
                tmp = f"{path}.tmp-{os.getpid()}"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
                self.summary.written += 1
                return
            except FileNotFoundError:
                pass
        with open(path, "wb") as fh:
            fh.write(data)
        self.summary.written += 1

    def archive_file(self, rel: str, csv_name: str, text: str) -> None:
        data = _zip(csv_name, text)
        name = rel.rsplit("/", 1)[-1]
        self.put(rel, data)
        self.put(rel + ".CHECKSUM", ar.checksum_text(sha256(data), name).encode())


def _periods(rows: pl.DataFrame, daily_from: date | None) -> Iterator[tuple[str, pl.DataFrame]]:
    """(period, rows) of one symbol: months before ``daily_from``'s month, then days."""
    m = rows.with_columns(pl.col("date").dt.strftime("%Y-%m").alias("_m"))
    cut = ar.month_of(daily_from) if daily_from is not None else "9999-99"
    for (month,), part in m.group_by("_m", maintain_order=True):
        if month < cut:
            yield str(month), part
            continue
        for d, day in part.group_by("date", maintain_order=True):
            yield d[0].isoformat(), day


def kline_line(d: date, o: float, h: float, lo: float, c: float, qv: float) -> str:
    t = _ms(d)
    open_t, close_t = (
        (t * 1000, (t + DAY_MS) * 1000 - 1) if d >= MICROS_FROM else (t, t + DAY_MS - 1)
    )
    base = qv / c
    return (
        f"{open_t},{o!r},{h!r},{lo!r},{c!r},{base!r},{close_t},{qv!r},0,{base / 2!r},{qv / 2!r},0"
    )


def split_settlements(x: float, n: int) -> list[float]:
    """``n`` settlements whose sum, in any order, is exactly ``x`` (module docstring)."""
    if n <= 1:
        return [x]
    q = x / n
    if q != 0.0 and math.isfinite(q):
        m, e = math.frexp(q)
        q = math.ldexp(round(m * 2**30) / 2**30, e)
    head = [q] * (n - 1)
    return [*head, x - q * (n - 1)]


def _interval(n: int) -> int:
    for iv in (8, 4, 2, 1):
        if n * iv <= 24:
            return iv
    return 1


def futures_names(funding: pl.DataFrame | None, assets: set[str], quote: str) -> dict[str, str]:
    """asset -> the futures name its funding and open interest are published under."""
    out: dict[str, str] = {}
    if funding is not None and "instrument_id" in funding.columns:
        pairs = (
            funding.select("asset_id", "instrument_id").unique().sort("asset_id", "instrument_id")
        )
        for a, i in pairs.rows():
            m = USDM_NAME.match(str(i).upper())
            if m is not None and a not in out:
                out[a] = m.group(1)
    return {a: out.get(a, a + quote) for a in sorted(assets)}


def write_mirror(
    tables: dict[str, pl.DataFrame],
    root: Path,
    *,
    daily_from: date | None,
    funding_through: str | None,
    quote: str = "USDT",
) -> MirrorSummary:
    """The lake's tables (as the reader returns them) written under ``root`` (module
    docstring)."""
    s = MirrorSummary()
    w = _Writer(Path(root), s)
    price = tables["fact_price"].sort("asset_id", "date")
    assets = set(price["asset_id"].unique().to_list())
    vol = tables.get("fact_volume")
    px = price
    for c in ("open", "high", "low"):
        if c not in px.columns:
            px = px.with_columns(pl.col("close").alias(c))
    if vol is not None:
        px = px.join(vol.select("asset_id", "date", "volume"), on=["asset_id", "date"], how="left")
    else:
        px = px.with_columns(pl.lit(0.0).alias("volume"))
    px = px.with_columns(pl.col("volume").fill_null(0.0)).filter(pl.col("close") > 0)
    n = 0
    for (asset,), rows in px.group_by("asset_id", maintain_order=True):
        sym = f"{asset}{quote}"
        for period, part in _periods(rows.sort("date"), daily_from):
            name = ar.SPOT_KLINES.name(sym, period)
            text = "".join(
                kline_line(d, o, h, lo, c, v) + "\n"
                for d, o, h, lo, c, v in part.select(
                    "date", "open", "high", "low", "close", "volume"
                ).iter_rows()
            )
            w.archive_file(ar.SPOT_KLINES.path(sym, period), f"{name}.csv", text)
        n += 1
    s.symbols["spot klines"] = n
    names = futures_names(tables.get("fact_funding"), assets, quote)
    close = {(a, d): c for a, d, c in price.select("asset_id", "date", "close").iter_rows()}
    fund = tables.get("fact_funding")
    if fund is not None and fund.height:
        orphan = fund.filter(~pl.col("asset_id").is_in(sorted(assets)))
        if orphan.height:
            s.left_out.append(
                f"fact_funding: {orphan.height:,} rows of {orphan['asset_id'].n_unique()} assets "
                "without a price"
            )
        fund = fund.filter(pl.col("asset_id").is_in(sorted(assets)))
        nsett = "n_settlements" in fund.columns
        syms = set()
        for (asset,), rows in fund.sort("asset_id", "date").group_by(
            "asset_id", maintain_order=True
        ):
            sym = names[asset]
            per_day = rows.group_by("date", maintain_order=True).agg(
                pl.col("funding_rate").mean(),
                (pl.col("n_settlements").max() if nsett else pl.lit(3)).alias("n"),
            )
            for period, part in _periods(per_day, None):
                if funding_through is not None and period > funding_through:
                    continue
                lines = [",".join(FUNDING_COLUMNS)]
                for d, x, k in part.select("date", "funding_rate", "n").iter_rows():
                    k = int(k) if k is not None and k > 0 else 3
                    iv = _interval(k)
                    for j, r in enumerate(split_settlements(float(x), k)):
                        lines.append(f"{_ms(d) + j * iv * 3_600_000},{iv},{r!r}")
                name = ar.UM_FUNDING.name(sym, period)
                w.archive_file(
                    ar.UM_FUNDING.path(sym, period), f"{name}.csv", "\n".join(lines) + "\n"
                )
            syms.add(sym)
        s.symbols["USD-M funding"] = len(syms)
    oi = tables.get("fact_open_interest")
    if oi is not None and oi.height:
        orphan = oi.filter(~pl.col("asset_id").is_in(sorted(assets)))
        if orphan.height:
            s.left_out.append(
                f"fact_open_interest: {orphan.height:,} rows of {orphan['asset_id'].n_unique()} "
                "assets without a price"
            )
        oi = oi.filter(pl.col("asset_id").is_in(sorted(assets)))
        per = (
            oi.group_by("asset_id", "date")
            .agg(pl.col("open_interest_usd").sum())
            .sort("asset_id", "date")
        )
        syms = set()
        for asset, d, v in per.iter_rows():
            sym = names[asset]
            c = close.get((asset, d))
            amount = repr(v / c) if c else ""
            when = f"{d.isoformat()} 23:55:00"
            text = f"{METRICS_HEADER}\n{when},{sym},{amount},{v!r},,,,\n"
            period = d.isoformat()
            w.archive_file(
                ar.UM_METRICS.path(sym, period), f"{ar.UM_METRICS.name(sym, period)}.csv", text
            )
            syms.add(sym)
        s.symbols["USD-M metrics"] = len(syms)
    cap = tables.get("fact_marketcap")
    ids = ["asset_id,coin_id"]
    series = [("prices", price.select("asset_id", "date", pl.col("close").alias("x")))]
    if cap is not None:
        series.append(
            ("market_caps", cap.select("asset_id", "date", pl.col("marketcap").alias("x")))
        )
    if vol is not None:
        series.append(
            ("total_volumes", vol.select("asset_id", "date", pl.col("volume").alias("x")))
        )
    points: dict[tuple[str, str], list[list[float]]] = {}
    for key, f in series:
        for a, d, x in f.sort("asset_id", "date").iter_rows():
            points.setdefault((a, key), []).append([_ms(d + timedelta(days=1)), x])
    for asset in sorted({a for a, _ in points}):
        coin = asset.lower()
        chart = {k: points.get((asset, k), []) for k in ("prices", "market_caps", "total_volumes")}
        w.put(
            f"coingecko/api/v3/coins/{coin}/market_chart/range",
            json.dumps(chart, separators=(",", ":")).encode(),
        )
        ids.append(f"{asset},{coin}")
    w.put("coingecko/ids.csv", ("\n".join(ids) + "\n").encode())
    s.symbols["CoinGecko coins"] = len(ids) - 1
    return s


def month_before(d: date) -> str:
    return ar.month_of(d.replace(day=1) - timedelta(days=1))


def last_day(month: str) -> date:
    y, m = map(int, month.split("-"))
    return date(y, m, calendar.monthrange(y, m)[1])
