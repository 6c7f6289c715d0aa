"""Today's date, one clock for every command: UTC today, unless a command's ``--today
YYYY-MM-DD`` pinned it (tests, backfills, a replayed morning). Staleness, "pending" archive
days and "dates after today are refused" all ask this module, never ``date.today()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

_pinned: date | None = None


def today() -> date:
    """The pinned day if a command pinned one, else today in UTC."""
    return _pinned if _pinned is not None else datetime.now(UTC).date()


def utc_today() -> date:
    """Today in UTC by the machine's clock, whatever a command pinned: the last day any data
    can be dated (a row after it is a broken date, not the future seen from a pinned today)."""
    return datetime.now(UTC).date()


def pin(day: date | None) -> None:
    """Pin today to ``day`` for the rest of the process (``None`` unpins)."""
    global _pinned
    _pinned = day


@contextmanager
def pinned(day: date | None) -> Iterator[None]:
    """Pin today to ``day`` inside the block (``None`` leaves the clock as it is)."""
    global _pinned
    before = _pinned
    if day is not None:
        _pinned = day
    try:
        yield
    finally:
        _pinned = before
