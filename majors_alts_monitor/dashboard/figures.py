"""The core figures: equity, drawdown, regime, feature heat map, betas, costs. Every ``fig_*``
is pure: a :class:`DashboardData` in, a plotly figure dict (:data:`~.plot.Figure`) out."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from ..labels import regime_label
from .common import (
    COLORS,
    MAX_HEATMAP_COLUMNS,
    REGIME_COLORS,
    REGIMES,
    Z_CLIP,
    DashboardData,
    _clean,
    _dates,
    _drawdown,
    _empty,
    _has,
    _iso,
    _line,
    _prep,
    _style,
    _values,
    thin,
    x_args,
)
from .plot import (
    RDBU_R,
    Figure,
    add_annotation,
    add_hline,
    add_trace,
    figure,
    subplots,
    update_axes,
)
from .triggers import line_traces, trigger_lines

# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _log_ticks(arrays: Sequence[np.ndarray]) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2, 5 times powers of ten covering the finite positive values."""
    finite = np.concatenate([a[np.isfinite(a) & (a > 0)] for a in arrays] or [np.empty(0)])
    if finite.size == 0:
        return [], []
    lo, hi = float(finite.min()), float(finite.max())
    vals: list[float] = []
    for power in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**power
            if lo / 1.3 <= v <= hi * 1.3:
                vals.append(v)
    if len(vals) < 3:  # a narrow range: let plotly choose
        return [], []
    return vals, [f"{v:g}" for v in vals]


def fig_equity(d: DashboardData, *, log_y: bool = True) -> Figure:
    """Strategy equity vs the always-held book and BTC buy and hold (1.0 before day one)."""
    title = "Equity: strategy vs always-held book vs BTC (net of costs, 1.0 invested)"
    eq = _prep(d.equity)
    if eq.height == 0:
        return _empty(title, "no equity rows")
    eq = thin(eq, ["equity", "benchmark_equity", "btc_equity"])
    x = _iso(_dates(eq))
    series = [
        ("equity", "Strategy", COLORS["strategy"], 2.2),
        ("benchmark_equity", "Always-held book", COLORS["benchmark"], 1.6),
        ("btc_equity", "BTC buy & hold", COLORS["btc"], 1.3),
    ]
    fig = figure()
    positive = True
    for col, name, color, width in series:
        v = _values(eq, col)
        finite = v[np.isfinite(v)]
        positive = positive and bool((finite > 0).all())
        add_trace(fig, _line(x, v, name, color, width=width))
    _style(fig, title, 420)
    log = log_y and positive
    update_axes(
        fig,
        "y",
        {
            "type": "log" if log else "linear",
            "title": {"text": "equity (log)" if log else "equity"},
        },
    )
    if log:
        vals, text = _log_ticks([_values(eq, c) for c, *_ in series])
        if vals:
            update_axes(fig, "y", {"tickvals": vals, "ticktext": text})
    return add_hline(fig, 1.0, {"color": "#c8ccd4", "width": 1, "dash": "dot"})


def fig_drawdown(d: DashboardData) -> Figure:
    """Drawdown of the strategy (filled) and of the always-held book."""
    title = "Drawdown from running peak"
    eq = _prep(d.equity)
    if eq.height == 0:
        return _empty(title, "no equity rows")
    dd = _values(eq, "drawdown")
    if not _has(dd):
        dd = _drawdown(_values(eq, "equity"))
    eq = eq.with_columns(
        pl.Series("_dd", dd), pl.Series("_bench_dd", _drawdown(_values(eq, "benchmark_equity")))
    )
    dates_all = eq.get_column("date").to_list()
    worst = worst_drawdowns(dates_all, dd)
    eq = thin(eq, ["_dd", "_bench_dd"])
    x = _iso(_dates(eq))
    dd, bench = _values(eq, "_dd"), _values(eq, "_bench_dd")
    fig = figure(
        [
            _line(x, bench, "Always-held book", COLORS["benchmark"], width=1.2, hover="%{y:.1%}"),
            _line(
                x,
                dd,
                "Strategy",
                COLORS["strategy"],
                width=1.6,
                hover="%{y:.1%}",
                fill="tozeroy",
                fillcolor="rgba(31,78,156,0.18)",
            ),
        ]
    )
    _style(fig, title, 420)
    update_axes(fig, "y", {"tickformat": ".0%", "title": {"text": "drawdown"}})
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": a.isoformat(),
            "x1": b.isoformat(),
            "y0": 0,
            "y1": 1,
            "fillcolor": "#d64545",
            "opacity": 0.08,
            "line": {"width": 0},
            "layer": "below",
        }
        for a, b in worst
    ]
    if shapes:
        fig["layout"]["shapes"] = shapes
    span = (dates_all[-1] - dates_all[0]).days or 1
    for k, ((a, _), level) in enumerate(zip(worst, label_levels(worst, span), strict=True), 1):
        add_annotation(
            fig,
            x=a.isoformat(),
            y=LABEL_STEP * level,
            yref="paper",
            text=f"#{k}",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 10, "color": "#a12a2a"},
        )
    return fig


LABEL_GAP = 0.08  # share of the date axis a drawdown label "#k" may need (a phone's width)
LABEL_STEP = 0.07  # share of the plot height between two rows of labels


def label_levels(spans: Sequence[tuple[dt.date, dt.date]], span_days: int) -> list[int]:
    """A row for each drawdown label (at its span's first day): in date order, the lowest row
    whose last label is at least ``LABEL_GAP`` of the axis to the left, so no two labels
    overlap at any width down to a phone's."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    last: list[dt.date] = []  # per row, the day of its rightmost label
    out = [0] * len(spans)
    for i in order:
        a = spans[i][0]
        row = next(
            (r for r, b in enumerate(last) if (a - b).days / span_days >= LABEL_GAP), len(last)
        )
        if row == len(last):
            last.append(a)
        else:
            last[row] = a
        out[i] = row
    return out


def worst_drawdowns(
    dates: Sequence[dt.date], dd: np.ndarray, top: int = 5
) -> list[tuple[dt.date, dt.date]]:
    """(first day under water, recovery day or the last day) of the ``top`` deepest drawdowns."""
    under = np.nan_to_num(dd) < 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    spans = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True)
    ranked = sorted(spans, key=lambda ab: float(np.nanmin(dd[ab[0] : ab[1] + 1])))[:top]
    return [(dates[a], dates[min(b + 1, len(dates) - 1)]) for a, b in ranked]


def _regime_runs(
    dates: Sequence[dt.date], regimes: Sequence[Any]
) -> list[tuple[str, dt.date, dt.date]]:
    """Consecutive days of one regime merged into ``(regime, first_day, day_after_last)``."""
    runs: list[tuple[str, dt.date, dt.date]] = []
    start = 0
    n = len(dates)
    for i in range(1, n + 1):
        if i < n and regimes[i] == regimes[start] and (dates[i] - dates[i - 1]).days == 1:
            continue
        reg = regimes[start]
        if reg is not None:
            runs.append((str(reg), dates[start], dates[i - 1] + dt.timedelta(days=1)))
        start = i
    return runs


def fig_regime(d: DashboardData) -> Figure:
    """Composite score with the switch triggers in force (steps: threshold ± band as the state
    machine uses them, ``triggers``) and each switch marked, regimes as background bands
    (named with what they hold), and the exposure decided for the next day in a lower panel."""
    title = "Regime: score, switch triggers and exposure"
    tl = _prep(d.timeline)
    if tl.height == 0:
        return _empty(title, "no timeline rows")
    dates = _dates(tl)
    regimes = tl.get_column("regime").to_list() if "regime" in tl.columns else [None] * tl.height
    runs = _regime_runs(dates, regimes)
    folds = _values(tl, "fold")
    oos = np.flatnonzero(folds >= 0)
    oos_x = dates[oos[0]].isoformat() if oos.size and oos[0] > 0 else None
    levels = d.levels()
    lines = trigger_lines(tl)  # on every day, before thinning for display (the switches are
    # the band edges here; the contribution chart marks each one on its shorter span)
    if lines is not None:
        tl = tl.with_columns(pl.Series("_majors", lines[0]), pl.Series("_alts", lines[1]))
    tl = thin(tl, ["score"], ["regime", "exposure", "_majors", "_alts"])
    x = _iso(_dates(tl))
    regimes = tl.get_column("regime").to_list() if "regime" in tl.columns else [None] * tl.height
    fig = subplots(2, 1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.05)
    score = _values(tl, "score")
    add_trace(
        fig,
        {
            "x": x,
            "y": _clean(score),
            "name": "score",
            "mode": "lines",
            "line": {"color": COLORS["score"], "width": 1.5},
            "customdata": [regime_label(r, levels) if r is not None else "" for r in regimes],
            "hovertemplate": "%{y:.3f} (%{customdata})<extra>score</extra>",
            "type": "scatter",
        },
        row=1,
    )
    if lines is not None:
        for trace in line_traces(x_args(x), _values(tl, "_majors"), _values(tl, "_alts")):
            add_trace(fig, trace, row=1)
    add_trace(
        fig,
        _line(
            x,
            _values(tl, "exposure"),
            "exposure",
            COLORS["strategy"],
            width=1.2,
            hover="%{y:.2f}",
            shape="hv",
            fill="tozeroy",
            fillcolor="rgba(31,78,156,0.15)",
        ),
        row=2,
    )

    shapes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reg, x0, x1 in runs:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": x0.isoformat(),
                "x1": x1.isoformat(),
                "y0": 0,
                "y1": 1,
                "fillcolor": REGIME_COLORS.get(reg, "#b0b0b0"),
                "opacity": 0.16,
                "line": {"width": 0},
                "layer": "below",
                "name": regime_label(reg, levels),
                "legendgroup": reg,
                "showlegend": reg not in seen,
                "legendrank": 1000 + (REGIMES.index(reg) if reg in REGIMES else len(REGIMES)),
            }
        )
        seen.add(reg)
    if oos_x is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": oos_x,
                "x1": oos_x,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#1d2433", "width": 1, "dash": "dot"},
            }
        )
        add_annotation(
            fig,
            x=oos_x,
            y=1.0,
            xref="x",
            yref="paper",
            text="out-of-sample →",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#1d2433"},
        )
    _style(fig, title, 500, **({"shapes": shapes} if shapes else {}))
    update_axes(fig, "y", {"title": {"text": "score"}}, row=1)
    return update_axes(fig, "y", {"title": {"text": "exposure"}, "rangemode": "tozero"}, row=2)


def _block_means(m: np.ndarray, k: int) -> np.ndarray:
    """Means of consecutive blocks of ``k`` rows, NaN-aware, blocks aligned to the last row."""
    n, f = m.shape
    blocks = -(-n // k)
    pad = blocks * k - n
    padded = np.vstack([np.full((pad, f), np.nan), m]).reshape(blocks, k, f)
    finite = np.isfinite(padded)
    total = np.where(finite, padded, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fig_feature_heatmap(d: DashboardData) -> Figure:
    """z-scored features over time (features x dates), diverging scale centred at 0, clipped
    at +-3; more than :data:`MAX_HEATMAP_COLUMNS` days are reduced to k-day block means."""
    title = "Feature z-scores"
    ft = _prep(d.features)
    zcols = [c for c in ft.columns if c.startswith("z_")]
    if ft.height == 0 or not zcols:
        return _empty(title, "no z-scored features")
    dates = _dates(ft)
    m = np.column_stack([_values(ft, c) for c in zcols])
    k = max(1, -(-len(dates) // MAX_HEATMAP_COLUMNS))
    if k > 1:
        m = _block_means(m, k)
        dates = dates[::-1][::k][::-1]  # each block is labelled by its last day
        title += f" ({k}-day means, labelled by the block's last day)"
    z = np.clip(m, -Z_CLIP, Z_CLIP).T
    names = [c[2:] for c in zcols]
    fig = figure(
        [
            {
                "x": _iso(dates),
                "y": names,
                "z": [_clean(row) for row in z],
                "colorscale": RDBU_R,
                "zmin": -Z_CLIP,
                "zmax": Z_CLIP,
                "zmid": 0.0,
                "hoverongaps": False,
                "colorbar": {
                    "title": {"text": "z"},
                    "thickness": 12,
                    "tickvals": [-3, -2, -1, 0, 1, 2, 3],
                },
                "hovertemplate": "%{y}<br>%{x}<br>z = %{z:.2f}<extra></extra>",
                "type": "heatmap",
            }
        ]
    )
    _style(fig, title, max(280, 22 * len(names) + 110), hovermode="closest", showlegend=False)
    update_axes(fig, "y", {"autorange": "reversed", "showgrid": False, "tickfont": {"size": 11}})
    return update_axes(fig, "x", {"showgrid": False})


def fig_betas(d: DashboardData) -> Figure:
    """Rolling realized betas of the always-held book to BTC and ETH, with the ex-ante ones.

    Dates are the union of the betas and P&L dates, so missing rows show as gaps. When the
    betas frame lacks ex-ante columns, the P&L's ``beta_btc``/``beta_eth`` are used.
    """
    title = "Book betas to BTC and ETH: rolling realized vs ex-ante"
    be = _prep(d.betas)
    pnl = _prep(d.pnl)
    base = pl.concat([be.select("date"), pnl.select("date")]).unique().sort("date")
    if base.height == 0:
        return _empty(title, "no beta rows")
    pnl_betas = pnl.select(
        "date",
        *[pl.col(c).alias(f"_pnl_{c}") for c in ("beta_btc", "beta_eth") if c in pnl.columns],
    )
    frame = base.join(be, on="date", how="left").join(pnl_betas, on="date", how="left")
    cols = [c for c in frame.columns if c != "date"]
    frame = thin(frame, cols)
    x = _iso(_dates(frame))
    fig = figure()
    for asset, color in (("btc", COLORS["btc"]), ("eth", COLORS["eth"])):
        label = asset.upper()
        realized = _values(frame, f"beta_{asset}_realized")
        ex_ante = _values(frame, f"beta_{asset}_ex_ante")
        if not _has(ex_ante):
            ex_ante = _values(frame, f"_pnl_beta_{asset}")
        add_trace(fig, _line(x, realized, f"{label} realized (rolling)", color, width=1.8))
        add_trace(fig, _line(x, ex_ante, f"{label} ex-ante", color, dash="dot", width=1.3))
    _style(fig, title, 360)
    add_hline(fig, 0.0, {"color": "#1d2433", "width": 1})
    return update_axes(fig, "y", {"title": {"text": "beta"}})


def fig_costs(d: DashboardData) -> Figure:
    """Cumulative gross return, fees, slippage, funding and net (sums of daily returns)."""
    title = "Cumulative P&L components (sums of daily returns; fees and slippage as −cost)"
    pnl = _prep(d.pnl)
    if pnl.height == 0:
        return _empty(title, "no P&L rows")
    parts = [
        ("gross_return", "Gross", COLORS["gross"], 1.0, "solid"),
        ("fee_cost", "Fees (−cost)", COLORS["fees"], -1.0, "solid"),
        ("slippage_cost", "Slippage (−cost)", COLORS["slippage"], -1.0, "solid"),
        ("funding_pnl", "Funding (P&L)", COLORS["funding"], 1.0, "solid"),
        ("net_return", "Net", COLORS["net"], 1.0, "dash"),
    ]
    cum = {}
    for col, _, _, sign, _ in parts:
        v = _values(pnl, col)
        cum[col] = sign * np.cumsum(np.where(np.isfinite(v), v, 0.0)) if _has(v) else v
    pnl = thin(
        pnl.select("date").with_columns(**{k: pl.Series(v) for k, v in cum.items()}), list(cum)
    )
    x = _iso(_dates(pnl))
    fig = figure(
        _line(
            x,
            _values(pnl, col),
            name,
            color,
            dash=dash,
            width=2.0 if name == "Net" else 1.5,
            hover="%{y:.2%}",
        )
        for col, name, color, _sign, dash in parts
    )
    _style(fig, title, 380)
    add_hline(fig, 0.0, {"color": "#c8ccd4", "width": 1})
    return update_axes(fig, "y", {"tickformat": ".0%", "title": {"text": "cumulative"}})


FIGURES: tuple[tuple[str, Callable[[DashboardData], Figure]], ...] = (
    ("equity", fig_equity),
    ("drawdown", fig_drawdown),
    ("regime", fig_regime),
    ("features", fig_feature_heatmap),
    ("betas", fig_betas),
    ("costs", fig_costs),
)
"""The page's figures in order, with the id suffix of their ``<div>``."""
