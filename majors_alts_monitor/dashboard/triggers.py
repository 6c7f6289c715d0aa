"""The switch lines as the state machine uses them, and each switch marked.

A scored regime (composite or forecast) does not switch where the score crosses a threshold:
from ``BALANCED`` it enters ``RISK_ON_MAJORS`` above ``upper + band`` and ``RISK_ON_ALTS`` below
``lower - band``; it stays in ``RISK_ON_MAJORS`` down to ``upper - band`` and in
``RISK_ON_ALTS`` up to ``lower + band``; and it switches only after ``min_dwell`` days (``regime/hysteresis.py``, whose
transition is re-stated here in numpy: drawing a chart compiles nothing). So each day has two
effective triggers, set by the regime held the day before:

* the majors line, ``upper - band`` while in ``RISK_ON_MAJORS`` (below it the regime leaves),
  else ``upper + band`` (above it the regime enters);
* the alts line, ``lower + band`` while in ``RISK_ON_ALTS``, else ``lower - band``.

The charts draw these lines and mark every switch (with what the regime holds), every crossing
the minimum dwell held back, and every fold whose model took over with another regime. On a
fold's first day the line follows the regime the previous model labelled, while the new model
(run from its own train start) may have held another: that day is marked as a takeover.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from ..labels import regime_label
from ..regime.hysteresis import REGIME_NAMES
from .common import REGIME_COLORS, _clean, _values

CODE = {name: k for k, name in enumerate(REGIME_NAMES)}
MAJORS, BALANCED, ALTS = (CODE[n] for n in REGIME_NAMES)
SYMBOL = {MAJORS: "triangle-up", BALANCED: "circle", ALTS: "triangle-down"}
MAJORS_LINE = "RISK_ON_MAJORS trigger (upper ± band)"
ALTS_LINE = "RISK_ON_ALTS trigger (lower ± band)"


def _codes(tl: pl.DataFrame) -> np.ndarray:
    if "regime" not in tl.columns:
        return np.full(tl.height, -1, dtype=np.int64)
    return np.array([CODE.get(str(r), -1) for r in tl["regime"].to_list()], dtype=np.int64)


def trigger_lines(tl: pl.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(majors line, alts line) per row of the timeline ``tl`` (sorted by date), NaN where no
    threshold is in force; None without ``lower``/``upper`` columns (unsupervised modes). A
    missing ``band`` column counts as band 0."""
    lower, upper = _values(tl, "lower"), _values(tl, "upper")
    if not (np.isfinite(lower).any() and np.isfinite(upper).any()):
        return None
    band = np.nan_to_num(_values(tl, "band"), nan=0.0)
    codes = _codes(tl)
    prev = np.r_[BALANCED, codes[:-1]]
    majors = np.where(prev == MAJORS, upper - band, upper + band)
    alts = np.where(prev == ALTS, lower + band, lower - band)
    return majors, alts


def next_state(
    prev: np.ndarray, s: np.ndarray, lower: np.ndarray, upper: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """The regime the state machine moves to from ``prev`` on score ``s`` when the minimum
    dwell allows it (``regime.hysteresis.transition``, vectorised; a NaN score keeps the
    state; ``tests/dashboard/test_morning.py`` checks it against the machine)."""
    out = prev.copy()
    fin = np.isfinite(s) & np.isfinite(lower) & np.isfinite(upper)
    with np.errstate(invalid="ignore"):
        up, down = s > upper + band, s < lower - band
        leave_majors = (prev == MAJORS) & fin & (s < upper - band)
        leave_alts = (prev == ALTS) & fin & (s > lower + band)
    out[leave_majors] = np.where(down[leave_majors], ALTS, BALANCED)
    out[leave_alts] = np.where(up[leave_alts], MAJORS, BALANCED)
    bal = (prev == BALANCED) & fin
    out[bal & down] = ALTS
    out[bal & up] = MAJORS
    return out


def switch_events(tl: pl.DataFrame) -> list[tuple[int, str]]:
    """(row, kind) of every out-of-sample day the regime changed (``switch``; ``takeover``
    when a new fold's model starts with another regime) or the score crossed a trigger the
    minimum dwell held back (``held``: the machine wanted another regime, none came)."""
    codes = _codes(tl)
    fold = _values(tl, "fold")
    if tl.height < 2:
        return []
    prev, cur = codes[:-1], codes[1:]
    known = (prev >= 0) & (cur >= 0) & np.isfinite(fold[1:]) & (fold[1:] >= 0)
    same_fold = fold[1:] == fold[:-1]
    band = np.nan_to_num(_values(tl, "band"), nan=0.0)
    wanted = next_state(
        prev, _values(tl, "score")[1:], _values(tl, "lower")[1:], _values(tl, "upper")[1:], band[1:]
    )
    kind = np.full(tl.height - 1, "", dtype=object)
    kind[known & (cur != prev)] = "switch"
    kind[known & (cur != prev) & ~same_fold] = "takeover"
    kind[known & (cur == prev) & same_fold & (wanted != prev)] = "held"
    return [(int(t) + 1, str(kind[t])) for t in np.flatnonzero(kind != "")]


def line_traces(xs: dict[str, Any], majors: np.ndarray, alts: np.ndarray) -> list[dict[str, Any]]:
    """The two trigger lines as dashed steps (``xs``: ``x`` or ``x0``/``dx`` of their rows)."""
    return [
        {
            **xs,
            "y": _clean(v),
            "name": name,
            "mode": "lines",
            "line": {"color": color, "width": 2.0, "dash": "dash", "shape": "hv"},
            "hovertemplate": "%{y:.3f}<extra>" + name + "</extra>",
            "type": "scatter",
        }
        for v, name, color in (
            (majors, MAJORS_LINE, REGIME_COLORS["RISK_ON_MAJORS"]),
            (alts, ALTS_LINE, REGIME_COLORS["RISK_ON_ALTS"]),
        )
    ]


def event_traces(tl: pl.DataFrame, levels: Mapping[str, float] | None) -> list[dict[str, Any]]:
    """Markers on the score of ``tl`` (every row, never thinned): filled at each switch (shape
    and colour of the new regime), hollow grey where the minimum dwell held a crossing back, a
    square where a new fold's model took over with another regime."""
    events = switch_events(tl)
    if not events:
        return []
    codes = _codes(tl)
    score = _values(tl, "score")
    names = [str(r) for r in tl["regime"].to_list()]
    dates = tl["date"].to_list()
    traces = []
    for kind, title in (
        ("switch", "switch"),
        ("held", "crossing held by min dwell"),
        ("takeover", "new fold's model"),
    ):
        rows = [t for t, k in events if k == kind]
        if not rows:
            continue
        if kind == "held":
            text = [f"crossed, but {names[t]} is held until its min dwell" for t in rows]
            marker = {"color": "white", "size": 7, "line": {"color": "#5b6475", "width": 1.5}}
        else:
            text = [
                f"{regime_label(names[t - 1], levels)} → {regime_label(names[t], levels)}"
                for t in rows
            ]
            marker = {
                "color": [REGIME_COLORS.get(names[t], "#5b6475") for t in rows],
                "size": 9,
                "symbol": "square" if kind == "takeover" else [SYMBOL[int(codes[t])] for t in rows],
                "line": {"color": "#1d2433", "width": 1},
            }
        traces.append(
            {
                "x": [dates[t].isoformat() for t in rows],
                "y": _clean(score[rows]),
                "name": title,
                "mode": "markers",
                "marker": marker,
                "text": text,
                "hovertemplate": "%{text}<extra>" + title + "</extra>",
                "type": "scatter",
            }
        )
    return traces
