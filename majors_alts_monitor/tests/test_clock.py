"""The one clock: UTC today unless pinned; a pin inside a block is undone after it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from majors_alts_monitor import clock


def test_unpinned_is_utc_today() -> None:
    assert clock.today() in {datetime.now(UTC).date(), datetime.now(UTC).date()}


def test_pinned_block_restores() -> None:
    with clock.pinned(date(2024, 12, 6)):
        assert clock.today() == date(2024, 12, 6)
        with clock.pinned(None):
            assert clock.today() == date(2024, 12, 6)
    assert clock.today() == datetime.now(UTC).date()


def test_pin_and_unpin() -> None:
    clock.pin(date(2020, 1, 2))
    try:
        assert clock.today() == date(2020, 1, 2)
    finally:
        clock.pin(None)
    assert clock.today() == datetime.now(UTC).date()
