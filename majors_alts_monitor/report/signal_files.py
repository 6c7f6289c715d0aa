"""One file, one owner: where a signal goes, and which one ``signals_today.json`` holds.

- ``signals`` (any ``--asof``) records its call at ``reports/majors_alts/signals/D.json``, D the
  decision day (the lake's last date ``<= --asof``; the call is for D+1). The folder is outside
  the run's generations (``OutputRoot.keep_dir``): every later run links it, no run replaces
  it. One file per decision day: a later call for the same day replaces it whole (temporary
  name, then rename).
- ``signals_today.json`` is the newest call issued: a call replaces it only when its decision
  day is the same as or later than the one it holds (never a newer call by an older backfill),
  and says so on the console when it supersedes the run's own file. A run writes its own
  signal there, unless the file holds a later decision day (a research run with an ``--end`` in
  the past after this morning's call): then the newer file is carried into the run's set
  untouched, left out of the run manifest's ``files``, and the run says so.

The run's own signal is the one its dashboard and console show (the badge says "this run's
signal"), whatever ``signals_today.json`` holds later; ``outputs verify`` checks each file
against the command that wrote it (``publish.verify``), so it stays clean after any sequence.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import PublishError
from ..publish import fsops
from ..publish.generations import Carry, wrote_kept
from ..publish.layout import OutputRoot
from .outputs import to_json_bytes

TODAY_FILE = "reports/signals_today.json"
RECORDS = "reports/signals"  # seen at reports/majors_alts/signals/


def decision_day(sig: dict[str, Any]) -> date:
    """The day a signal decides on (its data's last day; the call is for the next day)."""
    return date.fromisoformat(str(sig.get("decision_date") or sig["asof"]))


def record_problem(name: str, data: bytes) -> str | None:
    """What is wrong with the file ``signals/name`` (bytes ``data``), or ``None`` for a whole
    record of a call: a JSON object with a decision day and a regime, named
    ``<decision day>.json``."""
    try:
        sig = json.loads(data)
    except ValueError as err:
        return f"not JSON ({err})"
    if not isinstance(sig, dict):
        return f"not a JSON object (a {type(sig).__name__})"
    missing = [k for k in ("decision_date", "regime") if k not in sig]
    if missing:
        return f"no {', '.join(missing)} (not a signal record)"
    try:
        day = decision_day(sig)
    except (ValueError, TypeError) as err:
        return f"its decision_date is not a date ({err})"
    if name != f"{day.isoformat()}.json":
        return f"it holds the call for decision day {day} but is named {name}"
    return None


@dataclass(frozen=True)
class Current:
    """What ``signals_today.json`` holds now, and which command wrote it."""

    signal: dict[str, Any]
    by: str  # "run", "signals" (the generation record's command)
    path: Path


def current(out: OutputRoot) -> Current | None:
    """The current run set's ``signals_today.json`` (None if absent or unreadable)."""
    gen = out.run.current()
    if gen is None:
        return None
    p = gen / TODAY_FILE
    try:
        sig = json.loads(p.read_text())
        decision_day(sig)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    rec = (out.run.record() or {}).get("files", {}).get(TODAY_FILE, {})
    return Current(sig, str(rec.get("command") or "run"), p)


@dataclass
class Placed:
    """Where a call of ``signals`` went (``lines``: what the console says)."""

    record: Path
    today_written: bool
    lines: list[str] = field(default_factory=list)


def _write_replacing(folder: Path, name: str, data: bytes) -> Path:
    final = folder / name
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    renamed = False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        fsops.write_file(tmp, data)
        fsops.rename(tmp, final)
        renamed = True
        wrote_kept(final)
        fsops.fsync_dir(folder)
    except OSError as err:
        done = (
            f"{final} was written whole but its folder could not be flushed to disk"
            if renamed
            else f"could not record {final}: it is as it was"
        )
        raise PublishError(
            f"{done} ({err.strerror or err}); signals_today.json and the ledger were not "
            "changed. What to do: free space or fix the disk or permissions, then run the "
            "command again"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return final


def _who(c: Current) -> str:
    return "the run's own signal" if c.by == "run" else f"the call of {c.by}"


def publish_signal(out: OutputRoot, sig: dict[str, Any]) -> Placed:
    """Record ``sig`` (a call of ``signals``) and update ``signals_today.json`` if it is the
    newest decision day issued (module docstring). ``out`` is held for writing."""
    data = to_json_bytes(sig)
    day = decision_day(sig)
    folder = out.keep_dir("run", RECORDS)
    _write_replacing(folder, f"{day.isoformat()}.json", data)
    shown = out.reports / "signals" / f"{day.isoformat()}.json"
    today_path = out.reports / "signals_today.json"
    placed = Placed(shown, False, [f"  recorded {shown.absolute()}"])
    cur = current(out)
    if cur is not None and decision_day(cur.signal) > day:
        placed.lines.append(
            f"  kept     {today_path.absolute()}: it holds a newer call (for the day after "
            f"{decision_day(cur.signal)}, {_who(cur)}); this backfill is only in the record above"
        )
        return placed
    out.publish_run({TODAY_FILE: data}, command="signals", carry=True)
    placed.today_written = True
    placed.lines.append(f"  written  {today_path.absolute()}")
    if cur is not None and cur.by == "run":
        placed.lines.append(
            f"  note     this call supersedes the run's signals_today.json (for the day after "
            f"{decision_day(cur.signal)}); the run's dashboard and kpis still show the run's "
            "own signal"
        )
    return placed


def run_signal_entry(out: OutputRoot, sig: dict[str, Any]) -> tuple[Carry | None, str | None]:
    """For a run about to publish its signal ``sig``: ``(Carry, note)`` when the current
    ``signals_today.json`` holds a later decision day (carried untouched, the run's own signal
    left out), else ``(None, None)``: the run writes its own."""
    cur = current(out)
    if cur is None or decision_day(cur.signal) <= decision_day(sig):
        return None, None
    note = (
        f"signals_today.json kept: it holds a newer call (for the day after "
        f"{decision_day(cur.signal)}, {_who(cur)}) than this run's (for the day after "
        f"{decision_day(sig)}), which is in the dashboard and this summary"
    )
    return Carry(cur.path), note
