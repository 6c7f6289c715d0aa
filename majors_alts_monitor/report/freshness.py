"""Fresh or loud: how old the lake's last date is against today, and whether that matters.

On day T (UTC, ``clock.today()``, pinned by ``--today``) the freshest possible lake ends on
T-1: a day's bar is complete at the next 00:00 UTC, and the public archives publish it hours
later (sometimes a day or two late). ``data.max_age_days`` (default 2) is the largest
``today - lake's last date`` that still counts as today's data; beyond it a call for today is
stale: ``signals`` refuses it (exit 2) unless ``--allow-stale``, ``run`` and its dashboard show
a banner, and the signal file says ``"stale": true``.

The check applies to a call about the present only. It does not apply to

- a lake written by the synthetic generator (it says so itself: ``truth/spec.json`` beside the
  lake, ``lake.synthetic.write.is_synthetic_lake``): its calendar is the spec's, not today's;
- a study of history: ``run --end`` or ``signals --asof`` before ``today - max_age_days``
  (a backfill is measured against its own ``--asof``, ``data.stale_days``).

An ``--asof`` (or a ``run --end``) after today is refused: a call cannot be dated in the future.

A call about the present whose trade day (decision day + 1) is already over by today (age 2 up
to ``data.max_age_days``: yesterday's files not yet published) is **late**: it is issued, but
``"late": true`` and a ``LATE`` warning first say which past day it is for; it never reads
"tomorrow". Age 1 is the call for today.

``Freshness.block()`` is what the signal file, ``kpis.json`` and ``run_manifest.json`` carry
under ``freshness`` (docs/outputs.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .. import clock
from ..config import Config
from ..errors import MonitorError
from ..lake.synthetic.write import is_synthetic_lake

UPDATE_HINT = "`majors-alts update binance-archive --out LAKE`, see docs/data.md"


@dataclass(frozen=True)
class Freshness:
    """The last day of data a call uses against today, and whether the check applies
    (``why_not``). ``data_end`` is the decision day (the lake's last date for today's call)."""

    data_end: date
    today: date
    max_age_days: int
    why_not: str | None = None  # why the check does not apply; None: it applies

    @property
    def age_days(self) -> int:
        """Whole days from the lake's last date to today (1 for the freshest possible lake)."""
        return (self.today - self.data_end).days

    @property
    def checked(self) -> bool:
        return self.why_not is None

    @property
    def stale(self) -> bool:
        return self.checked and self.age_days > self.max_age_days

    @property
    def trade_day(self) -> date:
        """The day the call's book is held: the decision day + 1 (close to close)."""
        return self.data_end + timedelta(days=1)

    @property
    def late(self) -> bool:
        """A call about the present whose trade day is already over by today (age >= 2): a late
        call for a past day, never "tomorrow's"; with age <= max_age_days still the freshest
        call possible when the archive publishes late."""
        return self.checked and self.trade_day < self.today

    def what(self) -> str:
        return (
            f"the lake's last date is {self.data_end}, {_days(self.age_days)} before today "
            f"{self.today} (UTC; more than data.max_age_days = {self.max_age_days})"
        )

    def warning(self) -> str:
        """The banner's text (console, dashboard, the signal's and the run's warnings)."""
        return (
            f"STALE: {self.what()}: the call is for {self.trade_day}, a day already over, from "
            f"old data. What to do: update the lake ({UPDATE_HINT}), then run again"
        )

    def late_warning(self) -> str:
        """A late call within ``data.max_age_days`` (the archive has not published yesterday
        yet): the banner says which day the call is for and that it is over."""
        return (
            f"LATE: the call is for {self.trade_day}, a day already over by today {self.today} "
            f"(UTC): the lake's last date is {self.data_end}, {_days(self.age_days)} before "
            f"today (within data.max_age_days = {self.max_age_days}: the freshest the archive "
            f"has published). Today's call needs data through {self.today - timedelta(days=1)}. "
            f"What to do: update the lake ({UPDATE_HINT}) once the archive has published it, "
            "then run again"
        )

    def banner(self) -> str | None:
        """The first warning of a call about the present: STALE, else LATE, else none."""
        if self.stale:
            return self.warning()
        return self.late_warning() if self.late else None

    def error(self) -> MonitorError:
        """``signals`` without ``--asof`` on a stale lake, without ``--allow-stale``."""
        return MonitorError(
            f"{self.what()}: the signal for the day after {self.data_end} would be stale. What "
            f"to do: update the lake ({UPDATE_HINT}); or pass --allow-stale to get that signal "
            f'anyway, marked "stale": true; or pass --asof {self.data_end} for a backfill of '
            "that day"
        )

    def note(self) -> str | None:
        if not self.checked:
            return f"not checked: {self.why_not}"
        return self.warning() if self.stale else None

    def block(self) -> dict[str, Any]:
        """The ``freshness`` block of the signal file, kpis.json and the run manifest."""
        return {
            "data_end": self.data_end.isoformat(),
            "today": self.today.isoformat(),
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "checked": self.checked,
            "stale": self.stale,
            "note": self.note(),
            "trade_day": self.trade_day.isoformat(),
            "late": self.late,
        }


def _days(k: int) -> str:
    return f"{k} day" if k == 1 else f"{k} days"


def assess(
    data_end: date,
    today: date,
    max_age_days: int,
    *,
    lake_dir: Path | None,
    requested: date | None,
    option: str,
) -> Freshness:
    """How fresh ``data_end`` (the lake's last date, or the call's decision day) is on
    ``today``. ``requested`` is the call's ``--end`` or
    ``--asof`` (``option`` names it) when one was given: before ``today - max_age_days`` it is
    a study of history, not checked."""
    # a study of history first: its record is then the same on a lake cut at its date
    if requested is not None and requested < today - timedelta(days=max_age_days):
        # the date itself is left out: the record depends on the data, not on --asof
        why = (
            f"{option} is before {today - timedelta(days=max_age_days)} (today - "
            "data.max_age_days): a study of history, not today's call"
        )
    elif is_synthetic_lake(lake_dir):
        why = (
            "a synthetic lake (the generator's truth/spec.json is beside it): its calendar is "
            "its spec's, not today's"
        )
    else:
        why = None
    return Freshness(data_end, today, max_age_days, why)


def refuse_future(asof: date | None, today: date, option: str = "--asof") -> None:
    """``--asof`` (or ``run --end``, ``option``) after today is an error (exit 2), never a
    stale call."""
    if asof is not None and asof > today:
        what = "a signal cannot be dated" if option == "--asof" else "a run cannot end"
        raise MonitorError(
            f"{option} {asof} is after today {today} (UTC; --today pins it): {what} in the "
            f"future. What to do: pass {option} {today} or earlier, or leave {option} out for "
            "the lake's last date"
        )


def stamp(sig: dict[str, Any], fresh: Freshness) -> dict[str, Any]:
    """``sig`` with the freshness keys after ``stale`` (``today``, ``data_age_days``,
    ``trade_day``, ``late``, the ``freshness`` block), ``stale`` true when the lake is too old
    for today's call, and the STALE (or LATE) warning first among the warnings."""
    decision = date.fromisoformat(sig["decision_date"])
    fresh = replace(fresh, data_end=decision)  # the data the record is from
    out: dict[str, Any] = {}
    for k, v in sig.items():
        if k == "stale":
            out["stale"] = bool(v) or fresh.stale
            out["today"] = fresh.today.isoformat()
            out["data_age_days"] = fresh.age_days
            out["trade_day"] = fresh.trade_day.isoformat()
            out["late"] = fresh.late
            out["freshness"] = fresh.block()
        elif k not in ("today", "data_age_days", "trade_day", "late", "freshness"):
            out[k] = v
    first = fresh.banner()
    if first is not None and first not in out["warnings"]:
        out["warnings"] = [first, *out["warnings"]]
    return out


def run_freshness(cfg: Config, data_end: date, end: date | None) -> Freshness:
    """``run``'s check: without ``--end`` (``end=None``) the run is today's; an ``--end`` after
    today is refused (exit 2), as a future ``--asof`` is."""
    refuse_future(end, clock.today(), option="--end")
    return assess(
        data_end,
        clock.today(),
        cfg.data.max_age_days,
        lake_dir=cfg.paths.data_lake,
        requested=end,
        option="--end",
    )
