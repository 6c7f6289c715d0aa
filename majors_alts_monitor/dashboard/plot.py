"""plotly figures as plain dicts, without plotly's Python object layer.

A figure is ``{"data": [trace, ...], "layout": {...}}``: exactly the JSON plotly.js takes.
Building it with plotly.graph_objects cost most of the dashboard's time (importing the
validators, validating and deep-copying every property, ``make_subplots``, ``to_plotly_json``),
so the figures are built here by small functions and serialised with :func:`to_json`.
``tests/dashboard/test_plot_spec.py`` builds ``plotly.graph_objects.Figure(spec)`` from every figure of
the dashboard (plotly raises on any invalid property) and checks :func:`subplots` against
``plotly.subplots.make_subplots``; nothing here imports plotly.

:data:`TEMPLATE` is the template the figures were drawn with when plotly.py built them
(plotly's default ``plotly`` template with this dashboard's colorway and left-aligned hover
labels): the page embeds it once and the loader gives it to every figure.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

Figure = dict[str, Any]
"""``{"data": [...], "layout": {...}}`` as plotly.js takes it."""

TEMPLATE: dict[str, Any] = json.loads(
    (Path(__file__).with_name("plotly_template.json")).read_text(encoding="utf-8")
)

RDBU = [
    [0.0, "rgb(103,0,31)"],
    [0.1, "rgb(178,24,43)"],
    [0.2, "rgb(214,96,77)"],
    [0.3, "rgb(244,165,130)"],
    [0.4, "rgb(253,219,199)"],
    [0.5, "rgb(247,247,247)"],
    [0.6, "rgb(209,229,240)"],
    [0.7, "rgb(146,197,222)"],
    [0.8, "rgb(67,147,195)"],
    [0.9, "rgb(33,102,172)"],
    [1.0, "rgb(5,48,97)"],
]
"""plotly.py's ``RdBu`` (ColorBrewer, 11 steps; plotly.js's own ``RdBu`` is another scale)."""
RDBU_R = [[p, c] for (p, _), (_, c) in zip(RDBU, RDBU[::-1], strict=True)]
"""plotly.py's ``RdBu_r``: ``RdBu`` reversed."""

_AXIS = re.compile(r"^([xy])axis(\d*)$")


def text(label: object) -> str:
    """A label from the data (an asset id, a key's value) as plotly text: plotly reads ``<a
    href>``, ``<b>``, ``<br>`` in labels as markup, so ``<``, ``>``, ``&`` and quotes become
    entities (shown as the characters, never followed as a link)."""
    return (
        str(label)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def figure(
    data: Iterable[Mapping[str, Any]] = (), layout: Mapping[str, Any] | None = None
) -> Figure:
    return {"data": [dict(t) for t in data], "layout": dict(layout or {})}


def update(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``target`` in place, nested dicts key by key (plotly's ``update``):
    a dict value updates the dict already there, any other value replaces it."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(target.get(k), dict):
            update(target[k], v)
        else:
            target[k] = _copy(v)
    return target


def _copy(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _copy(x) for k, x in v.items()}
    return v


def axis_name(kind: Literal["x", "y"], row: int = 1, col: int = 1, cols: int = 1) -> str:
    """Layout key of the ``kind`` axis of grid cell (``row``, ``col``), counted from 1 at the
    top left, row by row, as ``make_subplots`` numbers them: ``xaxis``, ``yaxis2``, ..."""
    k = (row - 1) * cols + col
    return f"{kind}axis{k if k > 1 else ''}"


def axis_ref(kind: Literal["x", "y"], row: int = 1, col: int = 1, cols: int = 1) -> str:
    """What a trace or a shape names that axis by: ``x``, ``y2``, ..."""
    return axis_name(kind, row, col, cols).replace("axis", "")


def axes(fig: Figure, kind: Literal["x", "y"]) -> list[str]:
    """Layout keys of every ``kind`` axis of ``fig`` (``xaxis`` when it has none yet)."""
    found = [k for k in fig["layout"] if (m := _AXIS.match(k)) and m.group(1) == kind]
    return sorted(found, key=lambda k: int(k[5:] or 1)) or [f"{kind}axis"]


def update_axes(
    fig: Figure,
    kind: Literal["x", "y"],
    props: Mapping[str, Any],
    *,
    row: int | None = None,
    col: int = 1,
    cols: int = 1,
) -> Figure:
    """``props`` merged into every ``kind`` axis, or into the one of cell (``row``, ``col``)."""
    names = axes(fig, kind) if row is None else [axis_name(kind, row, col, cols)]
    for name in names:
        update(fig["layout"].setdefault(name, {}), props)
    return fig


def add_trace(
    fig: Figure, trace: Mapping[str, Any], *, row: int | None = None, col: int = 1, cols: int = 1
) -> Figure:
    """Append ``trace``; with ``row`` it is drawn on that cell's axes (as ``make_subplots``'s
    ``add_trace(row=, col=)``)."""
    t = dict(trace)
    if row is not None:
        t["xaxis"] = axis_ref("x", row, col, cols)
        t["yaxis"] = axis_ref("y", row, col, cols)
    fig["data"].append(t)
    return fig


def add_hline(
    fig: Figure,
    y: float,
    line: Mapping[str, Any],
    *,
    cells: Sequence[tuple[int, int]] = ((1, 1),),
    cols: int = 1,
) -> Figure:
    """A horizontal line at ``y`` across the plot area of each cell (``add_hline``)."""
    shapes = fig["layout"].setdefault("shapes", [])
    for row, col in cells:
        shapes.append(
            {
                "line": dict(line),
                "type": "line",
                "x0": 0,
                "x1": 1,
                "xref": f"{axis_ref('x', row, col, cols)} domain",
                "y0": y,
                "y1": y,
                "yref": axis_ref("y", row, col, cols),
            }
        )
    return fig


def add_annotation(fig: Figure, **annotation: Any) -> Figure:
    fig["layout"].setdefault("annotations", []).append(annotation)
    return fig


def subplots(
    rows: int,
    cols: int,
    *,
    shared_xaxes: bool = False,
    row_heights: Sequence[float] | None = None,
    vertical_spacing: float | None = None,
    horizontal_spacing: float | None = None,
    subplot_titles: Sequence[str] = (),
) -> Figure:
    """An empty figure with a ``rows`` x ``cols`` grid of x/y axes: the axis domains, anchors,
    shared x axes (``matches`` the bottom row's axis, tick labels only on the bottom row) and
    subplot title annotations of ``plotly.subplots.make_subplots`` with the same arguments
    (``start_cell="top-left"``; the same float arithmetic, so the same numbers)."""
    hs = 0.2 / cols if horizontal_spacing is None else horizontal_spacing
    if vertical_spacing is None:
        vs = (0.5 if subplot_titles else 0.3) / rows
    else:
        vs = vertical_spacing
    widths = [(1.0 - hs * (cols - 1)) / cols] * cols
    if row_heights is None:
        heights = [(1.0 - vs * (rows - 1)) / rows] * rows
    else:
        total = float(sum(row_heights))
        heights = [(1.0 - vs * (rows - 1)) * (h / total) for h in row_heights][::-1]
    # make_subplots' grid of cell origins, top row first (its row_dir -1)
    grid = [
        [(sum(widths[:c]) + c * hs, sum(heights[:r]) + r * vs) for c in range(cols)]
        for r in range(rows)[::-1]
    ]
    layout: dict[str, Any] = {}
    titles: list[dict[str, Any]] = []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = grid[r][c]
            x_domain = [x0 + 0.0, x0 + widths[c] - 0.0]
            y_domain = [_clamp(y0 + 0.0), _clamp(y0 + heights[-1 - r] - 0.0)]
            layout[axis_name("x", r + 1, c + 1, cols)] = {
                "anchor": axis_ref("y", r + 1, c + 1, cols),
                "domain": x_domain,
            }
            layout[axis_name("y", r + 1, c + 1, cols)] = {
                "anchor": axis_ref("x", r + 1, c + 1, cols),
                "domain": y_domain,
            }
            k = r * cols + c
            if k < len(subplot_titles) and subplot_titles[k]:
                titles.append(
                    {
                        "font": {"size": 16},
                        "showarrow": False,
                        "text": subplot_titles[k],
                        "x": sum(x_domain) / 2.0,
                        "xanchor": "center",
                        "xref": "paper",
                        "y": y_domain[1],
                        "yanchor": "bottom",
                        "yref": "paper",
                    }
                )
    if shared_xaxes:
        for c in range(cols):
            first = axis_ref("x", rows, c + 1, cols)
            for r in range(rows - 1, 0, -1):
                ax = layout[axis_name("x", r, c + 1, cols)]
                ax["matches"] = first
                ax["showticklabels"] = False
    if titles:
        layout["annotations"] = titles
    return figure((), layout)


def _clamp(v: float) -> float:
    """make_subplots' rounding of a domain end within 0.01 outside [0, 1]."""
    if v < 0.0 and v > -0.01:
        return 0.0
    if v > 1.0 and v < 1.01:
        return 1.0
    return v


def _finite(v: Any) -> Any:
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, np.generic):
        v = o.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    if isinstance(o, tuple | set | frozenset):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable in a figure")


def to_json(obj: Any) -> str:
    """Compact JSON of a figure (or any part of one), safe inside ``<script>``: numpy values
    and arrays become plain numbers (a non-finite numpy float becomes null), dates ISO
    strings; a Python NaN or infinity raises ``ValueError`` (the figure helpers write None)."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_default)
    return text.replace("</", "<\\/")
