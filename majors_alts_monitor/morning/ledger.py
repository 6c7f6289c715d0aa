"""The ledger: every signal ``signals`` or ``daily`` issued, appended, never rewritten.

It lives in ``reports/majors_alts/ledger/`` of the output root (a folder that accumulates,
``publish.layout.OutputRoot.keep_dir``: outside the run's generations, so no run, sweep or
later signal replaces it), one JSON file per record, written by
``publish.accumulate.append_record`` (bytes to a temporary name, fsync'd, then hard-linked to
the final name, which fails if it exists): a record appears whole or not at all, even when the
writer is killed mid-append, and two writers never tear each other's records.

A record's name is ``<decision_date>_<answer>.json``, where ``answer`` is a hash of what the
signal says (decision day, regime, exposure, score, book and targets, numbers to 1e-9; see
``answer_hash``). So re-issuing a day with the same answer adds nothing, whatever the lake's
fingerprint or the time; a different answer for an issued day is a new file beside the
original (a *revision*, ``revision`` >= 1 and ``revises`` naming the answer it differs from),
never over it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .. import __version__, clock
from ..errors import PublishError
from ..publish import accumulate
from ..publish.layout import OutputRoot, shown_path

log = logging.getLogger("majors_alts_monitor")

LEDGER_REL = "reports/ledger"  # seen at reports/majors_alts/ledger/
SCHEMA = 1
DIGITS = 9  # numbers of the answer compared to 1e-9


def ledger_dir(root: Path) -> Path:
    """Where the ledger's records are (whether or not the current run set links it yet)."""
    return OutputRoot(Path(root)).home / "keep" / "run" / LEDGER_REL


def lake_fingerprint(fingerprint: Mapping[str, Any]) -> str:
    """The first 16 hex digits of the sha256 of ``LakeReader.fingerprint()`` (the run
    manifest's ``lake``: each table's files, sizes and modification times), canonical JSON."""
    blob = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _r(x: Any) -> float | None:
    return None if x is None else round(float(x), DIGITS) + 0.0


def answer_hash(sig: Mapping[str, Any]) -> str:
    """What a signal says, as 16 hex digits: decision day, regime, exposure, score, the book
    (exposure 1) and the targets, numbers rounded to 1e-9. Not the lake, the time, the
    warnings or the sizing (``--capital`` ...): the same call issued twice is one record."""
    key = {
        "decision_date": sig["decision_date"],
        "regime": sig["regime"],
        "exposure": _r(sig["exposure"]),
        "score": _r(sig.get("score")),
        "book": sorted((str(b["asset_id"]), _r(b["weight"])) for b in sig.get("book") or []),
        "targets": sorted((str(b["asset_id"]), _r(b["weight"])) for b in sig.get("targets") or []),
    }
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_backfilled(decision_date: date, today: date) -> bool:
    """The day the call trades (decision day + 1) was already over when it was issued."""
    return decision_date + timedelta(days=1) < today


def make_record(
    sig: Mapping[str, Any],
    *,
    command: str,
    lake_fp: str,
    today: date | None = None,
    asof: bool = True,
) -> dict[str, Any]:
    """The ledger record of a signal record (``signals_today.json``). ``asof``: the call was
    asked for a past day (``signals --asof``). A call whose trade day was over when it was
    issued is ``backfilled`` when asked with ``--asof``, ``late`` when it is today's call on a
    lake too far behind for it (the signal's ``late``; a stale lake with ``--allow-stale`` too):
    a backfill and a late call are told apart."""
    today = today or clock.today()
    d = date.fromisoformat(sig["decision_date"])
    over = is_backfilled(d, today)
    model = sig.get("model") or {}
    return {
        "schema": SCHEMA,
        "decision_date": d.isoformat(),
        "trade_date": (d + timedelta(days=1)).isoformat(),
        "asof": sig.get("asof"),
        "regime": sig["regime"],
        "previous_regime": sig.get("previous_regime"),
        "exposure": float(sig["exposure"]),
        "score": sig.get("score"),
        "action": sig.get("action"),
        "book": list(sig.get("book") or []),
        "targets": list(sig.get("targets") or []),
        "stale": bool(sig.get("stale", False)),
        "backfilled": asof and over,
        "late": (not asof) and over,
        "issued_on": today.isoformat(),
        "generated_at": sig.get("generated_at"),
        "command": command,
        "config_hash": model.get("config_hash"),
        "lake_fingerprint": lake_fp,
        "package_version": __version__,
        "model": {k: model.get(k) for k in ("mode", "fold", "origin", "trained_through")},
        "answer": answer_hash(sig),
        "revision": 0,
        "revises": None,
    }


@dataclass(frozen=True)
class Appended:
    """What ``append`` did: ``added`` False when the same answer was already recorded."""

    path: Path
    record: dict[str, Any]
    added: bool
    shown: Path | None = None  # the folder as readers see it (reports/majors_alts/ledger)

    @property
    def revision(self) -> int:
        return int(self.record.get("revision", 0))

    def line(self) -> str:
        r = self.record
        where = f"{self.shown or self.path.parent}/{self.path.name}"
        if not self.added:
            return f"ledger   {r['decision_date']} already issued with this answer ({where})"
        rev = (
            f", revision {r['revision']} of the issued call (was answer {r['revises']})"
            if r["revision"]
            else ""
        )
        back = ", backfilled" if r["backfilled"] else ""
        if r.get("late"):
            back = ", late: its trade day was over when issued (the lake was behind)"
        return f"ledger   {r['decision_date']} recorded{rev}{back} ({where})"


def _name(rec: Mapping[str, Any]) -> str:
    return f"{rec['decision_date']}_{rec['answer']}.json"


REQUIRED = {
    "decision_date": str,
    "regime": str,
    "exposure": (int, float),
    "answer": str,
    "book": list,
    "targets": list,
}
FIX = (
    "What to do: move it out of the ledger folder (records are written whole by signals and "
    "daily and never changed: this one was edited, damaged or put there by something else), "
    "then issue that day again with majors-alts signals --asof DAY if its call is needed"
)


def problem(name: str, data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a ledger record file ``name`` whose bytes are ``data``, or
    ``(None, what is wrong)``: not JSON, not an object, a required key missing or of the wrong
    type, a decision day that is not a date, or a name that is not
    ``<decision_date>_<answer>.json`` with ``answer`` the hash of what the record says."""
    try:
        rec = json.loads(data)
    except ValueError as err:
        return None, f"not JSON ({err})"
    if not isinstance(rec, dict):
        return None, f"not a JSON object (a {type(rec).__name__})"
    missing = [k for k in REQUIRED if k not in rec]
    if missing:
        return None, f"no {', '.join(missing)} (not a ledger record)"
    wrong = [
        k
        for k, t in REQUIRED.items()
        if not isinstance(rec[k], t) or (t is not str and isinstance(rec[k], bool))
    ]
    for k in ("book", "targets"):
        if not all(
            isinstance(b, dict)
            and isinstance(b.get("asset_id"), str)
            and isinstance(b.get("weight"), int | float)
            and not isinstance(b.get("weight"), bool)
            for b in rec[k]
        ):
            wrong.append(f"{k} (rows of asset_id and a numeric weight)")
    rev = rec.get("revision", 0)
    if not isinstance(rev, int) or isinstance(rev, bool) or rev < 0:
        wrong.append("revision")
    if wrong:
        return None, f"{', '.join(wrong)} of the wrong type"
    try:
        date.fromisoformat(rec["decision_date"])
        answer = answer_hash(rec)
    except (ValueError, TypeError, KeyError) as err:
        return None, f"its contents cannot be read as a call ({type(err).__name__}: {err})"
    want = f"{rec['decision_date']}_{answer}.json"
    if name != want or rec["answer"] != answer:
        return None, (
            f"its name or its answer does not match what it says (a record saying this is "
            f"named {want}): changed after it was written"
        )
    return rec, None


def read(folder: Path) -> list[dict[str, Any]]:
    """Every record of the ledger ``folder``, by decision day then issue time. A file that is
    not a whole ledger record (``problem``) is left out with a warning naming it and what to
    do (records are written whole: only an outside change makes one so)."""
    folder = Path(folder)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and n[0] != ".")
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        try:
            rec, why = problem(n, (folder / n).read_bytes())
        except OSError as err:
            rec, why = None, f"cannot be read ({err.strerror or err})"
        if rec is None:
            log.warning(f"ledger record {shown_path(folder / n)} left out: {why}. {FIX}")
            continue
        rec["_file"] = n
        out.append(rec)
    out.sort(
        key=lambda r: (r["decision_date"], int(r.get("revision", 0)), str(r.get("generated_at")))
    )
    return out


def _existing(final: Path) -> dict[str, Any]:
    """The record already at ``final`` (the same answer), or ``PublishError`` when that file is
    not a whole record: the call cannot be recorded under its name."""
    try:
        rec, why = problem(final.name, final.read_bytes())
    except OSError as err:
        rec, why = None, f"cannot be read ({err.strerror or err})"
    if rec is None:
        raise PublishError(
            f"the ledger record {shown_path(final)} is damaged ({why}), so this call, whose "
            "record has that name, was not recorded in the ledger. What to do: move that file "
            "out of the ledger folder (records are written whole by signals and daily and never "
            "changed: this one was edited, damaged or put there by something else), then run "
            "this command again"
        )
    return rec


def append(folder: Path, rec: dict[str, Any]) -> Appended:
    """Append ``rec`` (``make_record``) unless its day already has this answer. Its
    ``revision`` and ``revises`` are set from the records of its day already there (exact
    under the output root's lock, which every command that issues a signal holds)."""
    folder = Path(folder)
    rec = dict(rec)
    final = folder / _name(rec)
    if final.exists():
        return Appended(final, _existing(final), False)
    same_day = [r for r in read(folder) if r["decision_date"] == rec["decision_date"]]
    if same_day:
        rec["revision"] = max(int(r.get("revision", 0)) for r in same_day) + 1
        rec["revises"] = same_day[-1]["answer"]
    data = (json.dumps(rec, sort_keys=True, default=str) + "\n").encode()
    try:
        path = accumulate.append_record(folder, _name(rec), data)
    except accumulate.RecordedUnflushed:
        raise
    except PublishError:
        if final.exists():  # another writer recorded the same answer meanwhile
            return Appended(final, _existing(final), False)
        raise
    return Appended(path, rec, True)


def issue(
    out: OutputRoot, sig: Mapping[str, Any], *, command: str, lake_fp: str, asof: bool
) -> Appended:
    """Record an issued signal in the ledger of the output root ``out`` (held for writing);
    ``asof``: asked with ``--asof`` (``make_record``)."""
    folder = out.keep_dir("run", LEDGER_REL)
    done = append(folder, make_record(sig, command=command, lake_fp=lake_fp, asof=asof))
    return replace(done, shown=out.reports / "ledger")


def first_calls(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per decision day, the call as first issued (revision 0): what a trader following the
    ledger acted on."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out.setdefault(r["decision_date"], r)
    return out


def last_before(records: list[dict[str, Any]], day: str) -> dict[str, Any] | None:
    """The last ledger entry before decision day ``day``: the latest issued answer (highest
    revision) of the latest decision day before it; ``None`` when there is none."""
    earlier = [r for r in records if r["decision_date"] < day]
    if not earlier:
        return None
    top = max(r["decision_date"] for r in earlier)
    return max(
        (r for r in earlier if r["decision_date"] == top), key=lambda r: int(r.get("revision", 0))
    )


def orders_against_ledger(
    sig: dict[str, Any], records: list[dict[str, Any]], capital: float, min_order: float
) -> dict[str, Any]:
    """``signals_today.json`` ``orders`` when no ``--positions`` is given: against yesterday's
    book, the targets of the last ledger entry before this decision day at the same capital
    (weights x capital; the drift of prices since is not known to the ledger). With no entry
    before, against a flat book (``against: "flat"``)."""
    from ..report.orders import orders

    prev = last_before(records, sig["decision_date"])
    held = {} if prev is None else {t["asset_id"]: t["weight"] * capital for t in prev["targets"]}
    entry = None
    if prev is not None:
        entry = {
            "decision_date": prev["decision_date"],
            "answer": prev["answer"],
            "revision": int(prev.get("revision", 0)),
            "file": prev.get("_file"),
        }
    if prev is None:
        src = f"a flat book (no ledger entry before {sig['decision_date']})"
    else:
        src = f"the last ledger entry, the call for {prev['decision_date']}"
    return {
        "against": "ledger" if prev is not None else "flat",
        "positions_file": None,
        "source": src,
        "ledger_entry": entry,
        "min_order_usd": float(min_order),
        **orders(sig["targets"], held, capital, min_order),
        "note": "current = the targets of the last ledger entry before this decision day x "
        "capital_usd (no entry: a flat book); order = target - current, rounded to the nearest "
        "multiple of min_order_usd (an order that rounds to 0 is listed in below_min_order, "
        "not sent); a close is sent exactly; buy adds to the signed position, sell takes from it",
    }
