"""``majors-alts verify``: the publication's checks (``publish.verify``) with the records of the
folders that accumulate outside the generations: the ledger (``morning.ledger.problem``: a whole
record whose name is its decision day and the hash of what it says) and each call's own record
(``report.signal_files.record_problem``: a call named by its decision day)."""

from __future__ import annotations

from pathlib import Path

from ..publish import verify as publication
from ..publish.verify import RecordCheck, Report
from ..report.signal_files import RECORDS, record_problem
from .ledger import LEDGER_REL
from .ledger import problem as ledger_problem


def _ledger_check(name: str, data: bytes) -> str | None:
    return ledger_problem(name, data)[1]


RECORD_CHECKS: tuple[RecordCheck, ...] = (
    RecordCheck(str(LEDGER_REL), "ledger", "ledger", _ledger_check),
    RecordCheck(str(RECORDS), "signals", "signals", record_problem),
)


def verify(path: Path) -> Report:
    """An output root (its sets and its records) or an importer's lake."""
    return publication.verify(Path(path), RECORD_CHECKS)


def verify_root(root: Path) -> Report:
    """An output root, its sets and its records."""
    return publication.verify_root(Path(root), RECORD_CHECKS)
