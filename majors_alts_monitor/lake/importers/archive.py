"""The Binance public-data archive's layout (data.binance.vision), as pure functions.

Every file is a zip holding one CSV, beside a ``.CHECKSUM`` file holding its sha256 in
``sha256sum`` format (``<64 hex>  <file name>``). Paths, from the archive's README and
``python/utility.py`` (``get_path``):

- spot 1d klines: ``data/spot/monthly/klines/SYM/1d/SYM-1d-YYYY-MM.zip`` and
  ``data/spot/daily/klines/SYM/1d/SYM-1d-YYYY-MM-DD.zip``;
- USD-M funding rates: ``data/futures/um/monthly/fundingRate/SYM/SYM-fundingRate-YYYY-MM.zip``
  (monthly files only);
- USD-M metrics (open interest): ``data/futures/um/daily/metrics/SYM/SYM-metrics-YYYY-MM-DD.zip``
  (daily files only).

A day's file is published the next day (hours after the close, sometimes a day or two later);
a month's file in the first days of the next month. Listings are the bucket's S3
``ListObjectsV2`` answers (``?list-type=2&prefix=...&delimiter=/``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from . import manifest as mf

PUBLIC_BASE = "https://data.binance.vision/"
PUBLIC_LISTING = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
CHECKSUM_LINE = re.compile(r"^\s*([0-9a-fA-F]{64})\s+\*?(\S+)\s*$")


@dataclass(frozen=True)
class Dataset:
    """One kind of archive file: where it lives, which periods it is published for."""

    key: str  # the importer manifest's dataset
    label: str
    root: str  # "data/spot" or "data/futures/um"
    kind: str  # "klines" | "fundingRate" | "metrics"
    interval: str | None
    monthly: bool
    daily: bool

    def folder(self, daily: bool) -> str:
        """The folder listing the dataset's symbols (``.../daily/klines/``)."""
        return f"{self.root}/{'daily' if daily else 'monthly'}/{self.kind}/"

    def name(self, symbol: str, period: str) -> str:
        """``BTCUSDT-1d-2024-01`` (the file name without ``.zip``)."""
        mid = self.interval if self.interval is not None else self.kind
        return f"{symbol}-{mid}-{period}"

    def path(self, symbol: str, period: str) -> str:
        """The archive path of ``symbol``'s file for ``period`` (``YYYY-MM`` monthly,
        ``YYYY-MM-DD`` daily)."""
        daily = len(period) == 10
        sub = f"{symbol}/{self.interval}/" if self.interval else f"{symbol}/"
        return f"{self.folder(daily)}{sub}{self.name(symbol, period)}.zip"


SPOT_KLINES = Dataset(mf.SPOT_KLINES, "spot klines 1d", "data/spot", "klines", "1d", True, True)
UM_FUNDING = Dataset(
    mf.UM_FUNDING, "USD-M funding", "data/futures/um", "fundingRate", None, True, False
)
UM_METRICS = Dataset(
    mf.UM_METRICS, "USD-M open interest", "data/futures/um", "metrics", None, False, True
)
DATASETS = {d.key: d for d in (SPOT_KLINES, UM_FUNDING, UM_METRICS)}
BY_OPTION = {"klines": SPOT_KLINES, "funding": UM_FUNDING, "metrics": UM_METRICS}


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def month_span(month: str) -> tuple[date, date]:
    y, m = map(int, month.split("-"))
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def months(first: date, last: date) -> list[str]:
    """Every ``YYYY-MM`` that overlaps ``first .. last``."""
    out, d = [], date(first.year, first.month, 1)
    while d <= last:
        out.append(month_of(d))
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_checksum(text: str, file_name: str) -> str | None:
    """The sha256 of ``file_name`` in a ``.CHECKSUM`` file, lower case; None when the text is
    not one (``sha256sum`` format: ``<64 hex>  <name>``; a bare digest is accepted)."""
    for line in text.strip().splitlines():
        m = CHECKSUM_LINE.match(line)
        if m is not None and m.group(2).rsplit("/", 1)[-1] == file_name:
            return m.group(1).lower()
        bare = line.strip()
        if re.fullmatch(r"[0-9a-fA-F]{64}", bare):
            return bare.lower()
    return None


def checksum_text(sha: str, file_name: str) -> str:
    """A ``.CHECKSUM`` file's text, as ``sha256sum`` writes it."""
    return f"{sha}  {file_name}\n"
