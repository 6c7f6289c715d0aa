"""Tearsheet and robustness figures: rolling Sharpe and volatility, why-this-regime
contributions, P&L attribution, robustness re-runs and the trials' Sharpe heat map.

Each ``fig_*`` is pure and returns ``None`` when its input is absent (an older run, a key
another stage did not write); the page then shows :data:`MISSING` instead of the figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from ..stats import tearsheet
from .common import (
    COLORS,
    DAY_MS,
    DashboardData,
    _clean,
    _daily,
    _dates,
    _empty,
    _iso,
    _line,
    _prep,
    _style,
    _values,
    thin,
)
from .plot import (
    RDBU,
    Figure,
    add_hline,
    add_trace,
    figure,
    subplots,
    update,
    update_axes,
)
from .plot import (
    text as plot_text,
)
from .triggers import event_traces, line_traces, trigger_lines

ROLLING_DAYS = 180
CONTRIB_DAYS = 180  # the contribution chart opens on the last ~half year
CONTRIB_MAX_DAYS = 1100  # days kept for its range slider (the page stays small)
FEATURE_PALETTE = (
    "#1f4e9c",
    "#f29a1f",
    "#2e9d5b",
    "#d64545",
    "#6a5acd",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)

MISSING = {
    "contributions": "No explain columns (contrib_<feature>) in this run's timeline: the "
    "contribution chart needs a run that writes them.",
    "attribution": "No per-asset P&L attribution in this run.",
    "robustness": "No robustness re-runs in kpis.json (report.robustness: false, or an older run).",
    "trials": "No trial table with parameters and out-of-sample Sharpe (trials.parquet) for "
    "this run.",
}


def fig_rolling(d: DashboardData) -> Figure:
    """Rolling 180-day Sharpe (top) and volatility (bottom), strategy and always-held book."""
    title = (
        f"Rolling {ROLLING_DAYS}-day Sharpe and volatility (annualised, 365 periods, ddof 1, net)"
    )
    pnl = _prep(d.pnl)
    if pnl.height < ROLLING_DAYS:
        return _empty(title, f"fewer than {ROLLING_DAYS} out-of-sample days")
    r, rb = _values(pnl, "net_return"), _values(pnl, "benchmark_net_return")
    frame = pnl.select("date").with_columns(
        pl.Series("s", tearsheet.rolling_sharpe(r, ROLLING_DAYS)),
        pl.Series("sb", tearsheet.rolling_sharpe(rb, ROLLING_DAYS)),
        pl.Series("v", tearsheet.rolling_volatility(r, ROLLING_DAYS)),
        pl.Series("vb", tearsheet.rolling_volatility(rb, ROLLING_DAYS)),
    )
    frame = thin(frame, ["s", "sb", "v", "vb"])
    x = _iso(_dates(frame))
    fig = subplots(2, 1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.06)
    for col, name, color, row, hover in (
        ("s", "Strategy Sharpe", COLORS["strategy"], 1, "%{y:.2f}"),
        ("sb", "Always-held Sharpe", COLORS["benchmark"], 1, "%{y:.2f}"),
        ("v", "Strategy vol", COLORS["strategy"], 2, "%{y:.1%}"),
        ("vb", "Always-held vol", COLORS["benchmark"], 2, "%{y:.1%}"),
    ):
        dash = "solid" if col in ("s", "v") else "dot"
        if col in ("sb", "vb") and not np.isfinite(_values(frame, col)).any():
            continue  # no always-held returns in this frame
        add_trace(fig, _line(x, _values(frame, col), name, color, dash=dash, hover=hover), row=row)
    _style(fig, title, 420)
    add_hline(fig, 0.0, {"color": "#1d2433", "width": 1})
    update_axes(fig, "y", {"title": {"text": "Sharpe"}}, row=1)
    return update_axes(
        fig,
        "y",
        {"title": {"text": "volatility"}, "tickformat": ".0%", "rangemode": "tozero"},
        row=2,
    )


def contrib_columns(tl: pl.DataFrame) -> list[str]:
    return [c for c in tl.columns if c.startswith("contrib_")]


def fig_contributions(d: DashboardData) -> Figure | None:
    """Why this regime: each score feature's contribution (weight x z for the composite, weight x
    training-scaled value, smoothed, for the forecast) as stacked bars (positive
    up, negative down, summing to the score), the score and the thresholds in force; opens on
    the last :data:`CONTRIB_DAYS` days, a range slider reaches back :data:`CONTRIB_MAX_DAYS`."""
    tl = _prep(d.timeline)
    cols = contrib_columns(tl)
    if not cols:
        return None
    title = "Why this regime: score contributions and the switch triggers"
    vals = np.column_stack([_values(tl, c) for c in cols])
    rows = np.flatnonzero(np.isfinite(vals).any(axis=1) | np.isfinite(_values(tl, "score")))
    if rows.size == 0:
        return _empty(title, "no day has contributions")
    tl = tl[int(rows[0]) :].tail(CONTRIB_MAX_DAYS)
    dates = _dates(tl)
    daily = _daily(dates)
    xs: dict[str, object] = (
        {"x0": dates[0].isoformat(), "dx": DAY_MS} if daily else {"x": _iso(dates)}
    )
    fig = figure()
    for k, c in enumerate(cols):
        name = c.removeprefix("contrib_")
        add_trace(
            fig,
            {
                **xs,
                "y": _clean(_values(tl, c)),
                "name": name,
                "marker": {
                    "color": FEATURE_PALETTE[k % len(FEATURE_PALETTE)],
                    "line": {"width": 0},
                },
                "hovertemplate": "%{y:.3f}<extra>" + name + "</extra>",
                "type": "bar",
            },
        )
    add_trace(
        fig,
        {
            **xs,
            "y": _clean(_values(tl, "score")),
            "name": "score",
            "mode": "lines",
            "line": {"color": COLORS["score"], "width": 2.2},
            "hovertemplate": "%{y:.3f}<extra>score</extra>",
            "type": "scatter",
        },
    )
    lines = trigger_lines(tl)  # the switch lines as the state machine uses them
    if lines is not None:
        for trace in line_traces(xs, *lines) + event_traces(tl, d.levels()):
            add_trace(fig, trace)
    # the legend at the foot of the figure (container coordinates: plotly makes room for it
    # below the range slider at any width)
    legend = {"yref": "container", "y": 0.0, "yanchor": "bottom"}
    _style(fig, title, 560, barmode="relative", bargap=0.1, legend=legend)
    end = dates[-1] + dt.timedelta(days=1)
    start = max(dates[0], end - dt.timedelta(days=CONTRIB_DAYS))
    update_axes(
        fig,
        "x",
        {
            "range": [start.isoformat(), end.isoformat()],
            "type": "date",
            "rangeslider": {"visible": True, "thickness": 0.08},
        },
    )
    return update_axes(fig, "y", {"title": {"text": "score contribution"}})


def fig_attribution(d: DashboardData) -> Figure | None:
    """Gross P&L by leg (BTC, ETH, short basket) and the basket's five best and worst names."""
    at = d.attribution
    if at is None or at.height == 0 or not {"asset_id", "leg", "pnl"} <= set(at.columns):
        return None
    title = "Gross P&L attribution (sum of daily weight × return, out-of-sample)"
    legs = at.group_by("leg").agg(pl.col("pnl").sum())
    leg_pnl = {str(k): float(v) for k, v in legs.iter_rows()}
    basket = at.filter(pl.col("leg") == "basket").sort("pnl", descending=True)
    top = basket.head(5)
    bottom = basket.tail(5) if basket.height > 5 else basket.clear()
    bottom = bottom.filter(~pl.col("asset_id").is_in(top["asset_id"].implode()))
    labels = ["BTC leg", "ETH leg", "Short basket"]
    values = [leg_pnl.get("BTC", 0.0), leg_pnl.get("ETH", 0.0), leg_pnl.get("basket", 0.0)]
    labels += [f"{plot_text(a)} (basket)" for a in top["asset_id"].to_list()]
    values += top["pnl"].to_list()
    labels += [f"{plot_text(a)} (basket)" for a in bottom["asset_id"].to_list()]
    values += bottom["pnl"].to_list()
    colors = [COLORS["strategy"] if v >= 0 else COLORS["fees"] for v in values]
    fig = figure(
        [
            {
                "x": _clean(values[::-1]),
                "y": labels[::-1],
                "orientation": "h",
                "marker": {"color": colors[::-1]},
                "hovertemplate": "%{y}: %{x:.2%}<extra></extra>",
                "showlegend": False,
                "type": "bar",
            }
        ]
    )
    _style(fig, title, max(300, 24 * len(labels) + 90), hovermode="closest")
    update_axes(fig, "x", {"tickformat": ".0%", "title": {"text": "summed daily gross return"}})
    return update_axes(fig, "y", {"showgrid": False})


def _robustness_rows(d: DashboardData) -> tuple[list[Mapping], list[Mapping]] | None:
    rb = (d.kpis or {}).get("robustness")
    if not isinstance(rb, Mapping):
        return None
    shifts = [r for r in rb.get("start_shift") or [] if isinstance(r, Mapping)]
    mults = [r for r in rb.get("cost_multiplier") or [] if isinstance(r, Mapping)]
    return (shifts, mults) if shifts or mults else None


def fig_robustness(d: DashboardData) -> Figure | None:
    """Out-of-sample Sharpe when the start moves and when costs are scaled."""
    rows = _robustness_rows(d)
    if rows is None:
        return None
    shifts, mults = rows
    # one above the other: side by side, the two subplot titles collide on a phone
    fig = subplots(
        2,
        1,
        subplot_titles=("fold origin shifted by (days)", "fees and slippage × multiplier"),
        vertical_spacing=0.24,
    )
    for row, recs, key, fmt in (
        (1, shifts, "shift_days", lambda v: f"+{int(v)} d"),
        (2, mults, "multiplier", lambda v: f"{float(v):g}×"),
    ):
        sr = np.array([np.nan if r.get("oos_sharpe") is None else r["oos_sharpe"] for r in recs])
        add_trace(
            fig,
            {
                "x": [fmt(r.get(key, 0)) for r in recs],
                "y": _clean(sr),
                "marker": {
                    "color": [
                        COLORS["strategy"] if np.isfinite(v) and v >= 0 else COLORS["fees"]
                        for v in sr
                    ]
                },
                "hovertemplate": "%{x}: Sharpe %{y:.2f}<extra></extra>",
                "showlegend": False,
                "type": "bar",
            },
            row=row,
        )
    _style(fig, "Robustness: out-of-sample Sharpe (net) of the re-runs", 440)
    _room_for_subplot_titles(fig)
    update_axes(fig, "y", {"title": {"text": "OOS Sharpe"}})
    return add_hline(fig, 0.0, {"color": "#1d2433", "width": 1}, cells=((1, 1), (2, 1)))


SUBPLOT_TITLE_FONT = 13
TOP_FOR_TOOLBAR = 64  # px above the first plot: the subplot title sits below plotly's toolbar


def _room_for_subplot_titles(fig: Figure) -> None:
    """Subplot titles in a smaller font, raised clear of their axis' top tick label, and a top
    margin that keeps the first row's titles under plotly's toolbar (which shows on hover in
    the figure's top right corner)."""
    for a in fig["layout"].get("annotations", []):
        if a.get("yanchor") == "bottom" and a.get("xref") == "paper":
            a["font"] = {"size": SUBPLOT_TITLE_FONT}
            a["yshift"] = 6
    fig["layout"]["margin"]["t"] = TOP_FOR_TOOLBAR


TRIAL_AXES = ("lower", "upper")


def trial_grid(trials: pl.DataFrame, value: str) -> pl.DataFrame:
    """Median of ``value`` over the unique trials in each (lower, upper) cell, with counts."""
    cols = [*TRIAL_AXES, value]
    uniq = (
        trials.select("trial", *cols).unique(subset="trial")
        if "trial" in trials.columns
        else (trials.select(cols))
    )
    return (
        uniq.drop_nulls(cols)
        .filter(pl.col(value).is_finite())
        .group_by(list(TRIAL_AXES))
        .agg(pl.col(value).median().alias("median"), pl.len().alias("n"))
        .sort(list(TRIAL_AXES))
    )


def fig_trials(d: DashboardData) -> Figure | None:
    """Median annualised Sharpe of the searched trials over the lower x upper thresholds:
    train (mean over folds of each trial's train Sharpe) and out-of-sample."""
    t = d.trials
    need = {*TRIAL_AXES, "trial", "oos_sharpe_per_period", "train_sharpe_per_period"}
    if t is None or t.height == 0 or not need <= set(t.columns):
        return None
    if t["oos_sharpe_per_period"].drop_nulls().len() == 0:
        return None
    ann = np.sqrt(365.0)
    per_trial = t.group_by("trial").agg(
        *(pl.col(c).first() for c in TRIAL_AXES),
        (pl.col("train_sharpe_per_period").mean() * ann).alias("train"),
        (pl.col("oos_sharpe_per_period").first() * ann).alias("oos"),
    )
    fig = subplots(
        1, 2, subplot_titles=("train (fold mean)", "out-of-sample"), horizontal_spacing=0.12
    )
    lows = sorted(per_trial["lower"].drop_nulls().unique().to_list())
    ups = sorted(per_trial["upper"].drop_nulls().unique().to_list())
    for col, value in ((1, "train"), (2, "oos")):
        g = trial_grid(per_trial, value)
        z = np.full((len(ups), len(lows)), np.nan)
        n = np.zeros((len(ups), len(lows)), dtype=np.int64)
        for lo, up, med, cnt in g.iter_rows():
            z[ups.index(up), lows.index(lo)] = med
            n[ups.index(up), lows.index(lo)] = cnt
        add_trace(
            fig,
            {
                "x": [f"{v:g}" for v in lows],
                "y": [f"{v:g}" for v in ups],
                "z": [_clean(row) for row in z],
                "customdata": n.tolist(),
                "colorscale": RDBU,
                "zmid": 0.0,
                "coloraxis": "coloraxis",
                "hovertemplate": "lower %{x}, upper %{y}<br>median Sharpe %{z:.2f} "
                "(%{customdata} trials)<extra></extra>",
                "type": "heatmap",
            },
            row=1,
            col=col,
            cols=2,
        )
        for kind, text in (("x", "lower"), ("y", "upper" if col == 1 else "")):
            update_axes(
                fig,
                kind,
                {"title": {"text": text}, "type": "category"},
                row=1,
                col=col,
                cols=2,
            )
    _style(
        fig,
        "Trials: median Sharpe over the other parameters, by lower and upper threshold",
        380,
        hovermode="closest",
    )
    _room_for_subplot_titles(fig)
    return update(
        fig,
        {
            "layout": {
                "coloraxis": {
                    "colorscale": RDBU,
                    "cmid": 0.0,
                    "colorbar": {"title": {"text": "Sharpe"}, "thickness": 10},
                }
            }
        },
    )
