"""Walk-forward splits over decision days.

A decision at day ``d`` is scored by the return of pnl day ``d+1``. A fold trains on decisions
``[train_start, train_end]`` (labels up to pnl day ``train_end + 1``) and tests on decisions
``[test_start, test_end]`` with ``test_start = train_end + 1 + purge_days``, so no training
label overlaps a test decision's data window by less than the purge. Test windows follow each
other without gaps or overlap; ``rolling`` trains on the last ``train_days`` before the purge,
``anchored`` on everything since ``first_day``. The out-of-sample series is the concatenation
of the test windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Fold:
    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def make_folds(
    first_day: int,
    last_decision: int,
    *,
    train_days: int,
    test_days: int,
    purge_days: int,
    scheme: Literal["rolling", "anchored"] = "rolling",
) -> list[Fold]:
    """Folds whose train windows start at or after ``first_day`` (end of burn-in) and whose test
    windows end at or before ``last_decision`` (the last day with a next-day return)."""
    folds: list[Fold] = []
    test_start = first_day + train_days + purge_days
    k = 0
    while test_start <= last_decision:
        train_end = test_start - 1 - purge_days
        train_start = first_day if scheme == "anchored" else train_end - train_days + 1
        test_end = min(test_start + test_days - 1, last_decision)
        folds.append(Fold(k, train_start, train_end, test_start, test_end))
        test_start = test_end + 1
        k += 1
    return folds
