"""Thresholds, hysteresis band and minimum dwell: the one sequential state machine.

From a state, with score ``s``, thresholds ``lower <= upper`` and band ``h``:

* ``BALANCED``: enter ``RISK_ON_MAJORS`` when ``s > upper + h``, ``RISK_ON_ALTS`` when
  ``s < lower - h``, else stay;
* ``RISK_ON_MAJORS``: stay while ``s >= upper - h``; below it, go to ``RISK_ON_ALTS`` if
  ``s < lower - h`` else ``BALANCED``;
* ``RISK_ON_ALTS``: mirror image.

A switch is allowed only after the current regime has been held ``min_dwell`` days (the day
of entry counts as one). A NaN score (burn-in, missing data) never changes the state. The
machine starts in ``BALANCED``.
"""

from __future__ import annotations

import numba
import numpy as np

MAJORS, BALANCED, ALTS = 0, 1, 2
REGIME_NAMES = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")


@numba.njit(cache=True, inline="always")
def transition(state: int, s: float, lower: float, upper: float, band: float) -> int:
    if not np.isfinite(s):
        return state
    if state == 0:
        if s >= upper - band:
            return 0
        return 2 if s < lower - band else 1
    if state == 2:
        if s <= lower + band:
            return 2
        return 0 if s > upper + band else 1
    if s > upper + band:
        return 0
    if s < lower - band:
        return 2
    return 1


@numba.njit(cache=True)
def _hyst(
    score: np.ndarray,
    lower: float,
    upper: float,
    band: float,
    min_dwell: int,
    state0: int,
    dwell0: int,
) -> np.ndarray:
    n = score.shape[0]
    out = np.empty(n, dtype=np.int8)
    state = state0
    dwell = dwell0
    for d in range(n):
        new = transition(state, score[d], lower, upper, band) if dwell >= min_dwell else state
        if new != state:
            state = new
            dwell = 1
        else:
            dwell += 1
        out[d] = state
    return out


def apply_hysteresis(
    score: np.ndarray, lower: float, upper: float, band: float = 0.0, min_dwell: int = 1
) -> np.ndarray:
    """Regime code per day (int8) from a score series; see the module doc."""
    if lower > upper:
        raise ValueError("lower threshold must not exceed upper")
    return _hyst(
        np.ascontiguousarray(score, dtype=np.float64),
        lower,
        upper,
        band,
        int(min_dwell),
        BALANCED,
        10**9,
    )


@numba.njit(cache=True)
def _dwell(codes: np.ndarray, min_dwell: int) -> np.ndarray:
    n = codes.shape[0]
    out = np.empty(n, dtype=np.int8)
    state = BALANCED
    dwell = 10**9
    for d in range(n):
        c = codes[d]
        if c >= 0 and c != state and dwell >= min_dwell:
            state = c
            dwell = 1
        else:
            dwell += 1
        out[d] = state
    return out


def regime_age(
    codes: np.ndarray, min_dwell: int, state0: int = BALANCED
) -> tuple[np.ndarray, np.ndarray]:
    """Days in the current regime and the dwell left, day by day, along one state machine's
    path ``codes`` (its first element is the machine's first day; before it the machine is in
    ``state0``, free to switch, as both machines here start).

    ``days_in_regime`` counts the day of entry as one. ``dwell_left`` is how many more days the
    regime must be held before a switch is allowed: ``max(min_dwell - days_in_regime, 0)``, so 0
    means the next decision may switch. The start state, when the machine has not left it,
    was not entered by a switch: its dwell left is 0."""
    c = np.asarray(codes)
    n = c.shape[0]
    idx = np.arange(n)
    change = np.ones(n, dtype=bool)
    change[1:] = c[1:] != c[:-1]
    entry = np.maximum.accumulate(np.where(change, idx, 0))
    days = idx - entry + 1
    free = (entry == 0) & (c[0] == state0) if n else np.zeros(0, dtype=bool)
    left = np.where(free, 0, np.maximum(int(min_dwell) - days, 0))
    return days.astype(np.int64), left.astype(np.int64)


def dwell_filter(codes: np.ndarray, min_dwell: int) -> np.ndarray:
    """Apply a minimum dwell to a raw regime-code series (-1 = no signal keeps the state)."""
    return _dwell(np.ascontiguousarray(codes, dtype=np.int8), int(min_dwell))
