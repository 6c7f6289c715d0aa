"""Figures and the self-contained HTML page of the regime monitor.

Every ``fig_*`` function is pure: it takes a :class:`DashboardData` and returns a
``plotly.graph_objects.Figure``. :func:`render_dashboard` assembles the whole page as a string;
the caller (``outputs.py``) writes it to disk atomically. Nothing here touches the filesystem
or the network.

The page opens offline: plotly.js is embedded once, inline; no ``<script src>``, no CDN, no
MathJax, no web fonts. Series are passed to plotly as plain lists with ``None`` for NaN, null
and infinities, rounded to 6 significant digits to keep the page small. The feature heatmap is
reduced to at most :data:`MAX_HEATMAP_COLUMNS` columns by block means so a 3,000-day,
25-feature run stays far below 10 MB.

Two small inline scripts make rendering testable from the DOM: ``data-figures-expected`` on
``<body>`` is the number of figures, ``data-figures-rendered`` is set after load to the number
of plotly graphs that drew an ``svg.main-svg``, and ``data-script-errors`` counts errors
(their messages go to the hidden ``<pre id="script-errors">``).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.offline
import polars as pl
from plotly.subplots import make_subplots

__all__ = [
    "DashboardData",
    "FIGURES",
    "MAX_HEATMAP_COLUMNS",
    "fig_betas",
    "fig_costs",
    "fig_drawdown",
    "fig_equity",
    "fig_feature_heatmap",
    "fig_regime",
    "render_dashboard",
]

REGIMES = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")
REGIME_COLORS = {
    "RISK_ON_MAJORS": "#2e9d5b",  # the long-majors/short-alts book is meant to earn here
    "BALANCED": "#8a94a6",
    "RISK_ON_ALTS": "#d64545",
}
MAX_HEATMAP_COLUMNS = 600
Z_CLIP = 3.0
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}
FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
    '"Liberation Sans", sans-serif'
)
COLORS = {
    "strategy": "#1f4e9c",
    "benchmark": "#8a94a6",
    "btc": "#f29a1f",
    "eth": "#6a5acd",
    "score": "#1d2433",
    "threshold": "#5b6475",
    "gross": "#1f4e9c",
    "fees": "#d64545",
    "slippage": "#f29a1f",
    "funding": "#2e9d5b",
    "net": "#1d2433",
}


@dataclass(frozen=True)
class DashboardData:
    """Everything the page shows. Frames follow the columns of ``docs/OUTPUTS.md``.

    ``timeline`` may carry ``lower``/``upper`` (the thresholds in force that day, null in
    burn-in); ``betas`` holds ``beta_btc_realized``, ``beta_eth_realized`` (rolling realized
    betas of the always-held book) and ``beta_btc_ex_ante``, ``beta_eth_ex_ante``.
    """

    title: str
    timeline: pl.DataFrame
    pnl: pl.DataFrame
    equity: pl.DataFrame
    features: pl.DataFrame
    betas: pl.DataFrame
    kpis: dict
    regime_metrics: pl.DataFrame
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.warnings, tuple):
            object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))


# --------------------------------------------------------------------------------------------
# Frame helpers
# --------------------------------------------------------------------------------------------


def _prep(df: pl.DataFrame | None) -> pl.DataFrame:
    """The frame with ``date`` as ``pl.Date``, null dates dropped, sorted, one row a date."""
    if df is None or "date" not in df.columns:
        return pl.DataFrame(schema={"date": pl.Date})
    dtype = df.schema["date"]
    if dtype == pl.Date:
        col = pl.col("date")
    elif isinstance(dtype, pl.Datetime):
        col = pl.col("date").dt.date()
    elif dtype == pl.String:
        col = pl.col("date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    else:
        col = pl.col("date").cast(pl.Date, strict=False)
    return (
        df.with_columns(col.alias("date"))
        .filter(pl.col("date").is_not_null())
        .unique(subset="date", keep="last", maintain_order=True)
        .sort("date")
    )


def _values(df: pl.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 with NaN for null, missing or non-numeric values."""
    if name not in df.columns:
        return np.full(df.height, np.nan)
    try:
        s = df.get_column(name).cast(pl.Float64, strict=False)
    except Exception:  # a nested or otherwise uncastable type: show nothing, do not fail
        return np.full(df.height, np.nan)
    return s.fill_null(float("nan")).to_numpy().astype(np.float64, copy=True)


def _has(values: np.ndarray) -> bool:
    return bool(values.size) and bool(np.isfinite(values).any())


def _clean(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """Plain JSON-ready list: 6 significant digits, ``None`` for NaN and infinities."""
    return [
        float(f"{v:.6g}") if v is not None and math.isfinite(v) else None
        for v in np.asarray(values, dtype=np.float64).tolist()
    ]


def _iso(dates: Sequence[dt.date]) -> list[str]:
    return [d.isoformat() for d in dates]


def _dates(df: pl.DataFrame) -> list[dt.date]:
    return df.get_column("date").to_list()


def _drawdown(equity: np.ndarray) -> np.ndarray:
    """``equity / running peak - 1`` with the starting 1.0 counted as a peak; NaN stays NaN."""
    if equity.size == 0:
        return equity
    peak = np.fmax.accumulate(np.concatenate([[1.0], equity]))[1:]
    return equity / peak - 1.0


def _style(fig: go.Figure, title: str, height: int, **layout: Any) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
        height=height,
        margin={"l": 64, "r": 24, "t": 56, "b": 40},
        font={"family": FONT_STACK, "size": 12, "color": "#1d2433"},
        legend={"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        hovermode="x unified",
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eceef2", linecolor="#c8ccd4", ticks="outside")
    fig.update_yaxes(showgrid=True, gridcolor="#eceef2", zerolinecolor="#c8ccd4")
    if layout:
        fig.update_layout(**layout)
    return fig


def _empty(title: str, message: str, height: int = 260) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[], y=[], mode="lines", showlegend=False))
    fig.add_annotation(
        text=html.escape(message),
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 14, "color": "#5b6475"},
    )
    _style(fig, title, height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _line(
    x: list[str],
    y: np.ndarray,
    name: str,
    color: str,
    *,
    dash: str = "solid",
    width: float = 1.6,
    hover: str = "%{y:.3f}",
    **kwargs: Any,
) -> go.Scatter:
    return go.Scatter(
        x=x,
        y=_clean(y),
        name=name,
        mode="lines",
        line={"color": color, "dash": dash, "width": width},
        hovertemplate=hover + f"<extra>{html.escape(name)}</extra>",
        **kwargs,
    )


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


def fig_equity(d: DashboardData, *, log_y: bool = True) -> go.Figure:
    """Strategy equity vs the always-held book and BTC buy and hold (1.0 before day one)."""
    title = "Equity: strategy vs always-held book vs BTC (net of costs, 1.0 invested)"
    eq = _prep(d.equity)
    if eq.height == 0:
        return _empty(title, "no equity rows")
    x = _iso(_dates(eq))
    series = [
        ("equity", "Strategy", COLORS["strategy"], 2.2),
        ("benchmark_equity", "Always-held book", COLORS["benchmark"], 1.6),
        ("btc_equity", "BTC buy & hold", COLORS["btc"], 1.3),
    ]
    fig = go.Figure()
    positive = True
    for col, name, color, width in series:
        v = _values(eq, col)
        finite = v[np.isfinite(v)]
        positive = positive and bool((finite > 0).all())
        fig.add_trace(_line(x, v, name, color, width=width))
    _style(fig, title, 420)
    log = log_y and positive
    fig.update_yaxes(
        type="log" if log else "linear", title_text="equity (log)" if log else "equity"
    )
    if log:
        vals, text = _log_ticks([_values(eq, c) for c, *_ in series])
        if vals:
            fig.update_yaxes(tickvals=vals, ticktext=text)
    fig.add_hline(y=1.0, line={"color": "#c8ccd4", "width": 1, "dash": "dot"})
    return fig


def fig_drawdown(d: DashboardData) -> go.Figure:
    """Drawdown of the strategy (filled) and of the always-held book."""
    title = "Drawdown from running peak"
    eq = _prep(d.equity)
    if eq.height == 0:
        return _empty(title, "no equity rows")
    x = _iso(_dates(eq))
    dd = _values(eq, "drawdown")
    if not _has(dd):
        dd = _drawdown(_values(eq, "equity"))
    bench = _drawdown(_values(eq, "benchmark_equity"))
    fig = go.Figure()
    fig.add_trace(
        _line(
            x,
            bench,
            "Always-held book",
            COLORS["benchmark"],
            width=1.2,
            hover="%{y:.1%}",
        )
    )
    fig.add_trace(
        _line(
            x,
            dd,
            "Strategy",
            COLORS["strategy"],
            width=1.6,
            hover="%{y:.1%}",
            fill="tozeroy",
            fillcolor="rgba(31,78,156,0.18)",
        )
    )
    _style(fig, title, 300)
    fig.update_yaxes(tickformat=".0%", title_text="drawdown")
    return fig


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


def fig_regime(d: DashboardData) -> go.Figure:
    """Composite score with the thresholds in force (steps), regimes as background bands,
    and the exposure decided for the next day in a lower panel."""
    title = "Regime: composite score, thresholds and exposure"
    tl = _prep(d.timeline)
    if tl.height == 0:
        return _empty(title, "no timeline rows")
    dates = _dates(tl)
    x = _iso(dates)
    regimes = tl.get_column("regime").to_list() if "regime" in tl.columns else [None] * tl.height
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.05
    )
    score = _values(tl, "score")
    fig.add_trace(
        go.Scatter(
            x=x,
            y=_clean(score),
            name="score",
            mode="lines",
            line={"color": COLORS["score"], "width": 1.5},
            customdata=[r if r is not None else "" for r in regimes],
            hovertemplate="%{y:.3f} (%{customdata})<extra>score</extra>",
        ),
        row=1,
        col=1,
    )
    for col, name in (("upper", "upper threshold"), ("lower", "lower threshold")):
        v = _values(tl, col)
        if _has(v):
            fig.add_trace(
                _line(
                    x,
                    v,
                    name,
                    COLORS["threshold"],
                    dash="dash",
                    width=1.1,
                    line_shape="hv",
                ),
                row=1,
                col=1,
            )
    fig.add_trace(
        _line(
            x,
            _values(tl, "exposure"),
            "exposure",
            COLORS["strategy"],
            width=1.2,
            hover="%{y:.2f}",
            line_shape="hv",
            fill="tozeroy",
            fillcolor="rgba(31,78,156,0.15)",
        ),
        row=2,
        col=1,
    )

    shapes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reg, x0, x1 in _regime_runs(dates, regimes):
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
                "name": reg,
                "legendgroup": reg,
                "showlegend": reg not in seen,
                "legendrank": 1000 + (REGIMES.index(reg) if reg in REGIMES else len(REGIMES)),
            }
        )
        seen.add(reg)
    folds = _values(tl, "fold")
    oos = np.flatnonzero(folds >= 0)
    if oos.size and oos[0] > 0:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x[oos[0]],
                "x1": x[oos[0]],
                "y0": 0,
                "y1": 1,
                "line": {"color": "#1d2433", "width": 1, "dash": "dot"},
            }
        )
        fig.add_annotation(
            x=x[oos[0]],
            y=1.0,
            xref="x",
            yref="paper",
            text="out-of-sample →",
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 11, "color": "#1d2433"},
        )
    _style(fig, title, 500)
    fig.update_layout(shapes=shapes)
    fig.update_yaxes(title_text="score", row=1, col=1)
    fig.update_yaxes(title_text="exposure", rangemode="tozero", row=2, col=1)
    return fig


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


def fig_feature_heatmap(d: DashboardData) -> go.Figure:
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
    fig = go.Figure(
        go.Heatmap(
            x=_iso(dates),
            y=names,
            z=[_clean(row) for row in z],
            colorscale="RdBu_r",
            zmin=-Z_CLIP,
            zmax=Z_CLIP,
            zmid=0.0,
            hoverongaps=False,
            colorbar={
                "title": {"text": "z"},
                "thickness": 12,
                "tickvals": [-3, -2, -1, 0, 1, 2, 3],
            },
            hovertemplate="%{y}<br>%{x}<br>z = %{z:.2f}<extra></extra>",
        )
    )
    _style(fig, title, max(280, 22 * len(names) + 110), hovermode="closest")
    fig.update_layout(showlegend=False, margin={"l": 160})
    fig.update_yaxes(autorange="reversed", showgrid=False, tickfont={"size": 11})
    fig.update_xaxes(showgrid=False)
    return fig


def fig_betas(d: DashboardData) -> go.Figure:
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
    x = _iso(_dates(frame))
    fig = go.Figure()
    for asset, color in (("btc", COLORS["btc"]), ("eth", COLORS["eth"])):
        label = asset.upper()
        realized = _values(frame, f"beta_{asset}_realized")
        ex_ante = _values(frame, f"beta_{asset}_ex_ante")
        if not _has(ex_ante):
            ex_ante = _values(frame, f"_pnl_beta_{asset}")
        fig.add_trace(_line(x, realized, f"{label} realized (rolling)", color, width=1.8))
        fig.add_trace(_line(x, ex_ante, f"{label} ex-ante", color, dash="dot", width=1.3))
    _style(fig, title, 360)
    fig.add_hline(y=0.0, line={"color": "#1d2433", "width": 1})
    fig.update_yaxes(title_text="beta")
    return fig


def fig_costs(d: DashboardData) -> go.Figure:
    """Cumulative gross return, fees, slippage, funding and net (sums of daily returns)."""
    title = "Cumulative P&L components (sum of daily returns; costs shown negative)"
    pnl = _prep(d.pnl)
    if pnl.height == 0:
        return _empty(title, "no P&L rows")
    x = _iso(_dates(pnl))
    parts = [
        ("gross_return", "Gross", COLORS["gross"], 1.0, "solid"),
        ("fee_cost", "Fees", COLORS["fees"], -1.0, "solid"),
        ("slippage_cost", "Slippage", COLORS["slippage"], -1.0, "solid"),
        ("funding_pnl", "Funding", COLORS["funding"], 1.0, "solid"),
        ("net_return", "Net", COLORS["net"], 1.0, "dash"),
    ]
    fig = go.Figure()
    for col, name, color, sign, dash in parts:
        v = _values(pnl, col)
        if _has(v):
            v = sign * np.cumsum(np.where(np.isfinite(v), v, 0.0))
        fig.add_trace(
            _line(
                x, v, name, color, dash=dash, width=2.0 if name == "Net" else 1.5, hover="%{y:.2%}"
            )
        )
    _style(fig, title, 380)
    fig.add_hline(y=0.0, line={"color": "#c8ccd4", "width": 1})
    fig.update_yaxes(tickformat=".0%", title_text="cumulative")
    return fig


FIGURES: tuple[tuple[str, Callable[[DashboardData], go.Figure]], ...] = (
    ("equity", fig_equity),
    ("drawdown", fig_drawdown),
    ("regime", fig_regime),
    ("features", fig_feature_heatmap),
    ("betas", fig_betas),
    ("costs", fig_costs),
)
"""The page's figures in order, with the id suffix of their ``<div>``."""


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------

DASH = "—"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if not math.isnan(v) else None


def _pct(x: Any, digits: int = 1) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v * 100:.{digits}f}%"


def _ratio(x: Any, digits: int = 2) -> str:
    v = _num(x)
    if v is None:
        return DASH
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.{digits}f}"


def _int(x: Any) -> str:
    v = _num(x)
    if v is None or math.isinf(v):
        return DASH if v is None else str(v)
    return f"{round(v):,}"


def _generic(x: Any) -> str:
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return DASH
        return f"{x:.4g}"
    if isinstance(x, Mapping):
        return _compact(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_generic(v) for v in x) + "]"
    return str(x)


def _compact(params: Any) -> str:
    """``a=1, b.c=0.25`` for nested mappings; floats to 4 significant digits."""
    if not isinstance(params, Mapping):
        return _generic(params)
    items: list[str] = []

    def walk(prefix: str, obj: Mapping) -> None:
        for key, val in obj.items():
            name = f"{prefix}{key}"
            if isinstance(val, Mapping):
                walk(name + ".", val)
            else:
                items.append(f"{name}={_generic(val)}")

    walk("", params)
    return ", ".join(items) if items else DASH


def _sign_class(x: Any) -> str:
    v = _num(x)
    if v is None or v == 0:
        return "num"
    return "num pos" if v > 0 else "num neg"


Formatter = Callable[[Any], str]

KPI_ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("cagr", "CAGR", _pct),
    ("ann_return", "Annual return", _pct),
    ("ann_vol", "Annual volatility", _pct),
    ("sharpe", "Sharpe", _ratio),
    ("sortino", "Sortino", _ratio),
    ("max_drawdown", "Max drawdown", _pct),
    ("calmar", "Calmar", _ratio),
    ("hit_rate", "Hit rate", _pct),
    ("avg_daily_turnover", "Avg daily turnover", _pct),
    ("total_fees", "Total fees", lambda v: _pct(v, 2)),
    ("total_slippage", "Total slippage", lambda v: _pct(v, 2)),
    ("total_funding", "Total funding", lambda v: _pct(v, 2)),
    ("exposure_share", "Share of days invested", _pct),
)

REGIME_COLUMNS: dict[str, tuple[str, Formatter]] = {
    "regime": ("Regime", str),
    "days": ("Days", _int),
    "share": ("Share", _pct),
    "mean_daily_return": ("Mean daily", lambda v: _pct(v, 3)),
    "ann_return": ("Ann. return", _pct),
    "ann_vol": ("Ann. vol", _pct),
    "sharpe": ("Sharpe (always-held)", _ratio),
    "hit_rate": ("Hit rate", _pct),
    "max_drawdown": ("Max drawdown", _pct),
    "strategy_sharpe": ("Sharpe (strategy)", _ratio),
}

NEUTRALITY_ROWS: dict[str, str] = {
    "beta_btc_realized": "Realized beta to BTC",
    "beta_eth_realized": "Realized beta to ETH",
    "mean_abs_beta_btc_ex_ante": "Mean |ex-ante beta| to BTC",
    "mean_abs_beta_eth_ex_ante": "Mean |ex-ante beta| to ETH",
    "neutrality_error": "Neutrality error √(βbtc² + βeth²)",
}

e = html.escape


def _humanise(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _table(
    table_id: str,
    header: Sequence[str] | None,
    rows: Sequence[Sequence[tuple[str, str]]],
    *,
    caption: str | None = None,
) -> str:
    """Rows are sequences of ``(text, css_class)``; every text is escaped here."""
    out = [f'<table id="{e(table_id)}">']
    if caption:
        out.append(f"<caption>{e(caption)}</caption>")
    if header is not None:
        cells = "".join(f"<th>{e(h)}</th>" for h in header)
        out.append(f"<thead><tr>{cells}</tr></thead>")
    out.append("<tbody>")
    if not rows:
        out.append(f'<tr><td colspan="{max(1, len(header or ()))}" class="muted">no rows</td></tr>')
    for row in rows:
        cells = "".join(
            f'<td class="{e(cls)}">{e(text)}</td>' if cls else f"<td>{e(text)}</td>"
            for text, cls in row
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _kpi_table(kpis: Mapping[str, Any]) -> str:
    strat = kpis.get("strategy") or {}
    bench = kpis.get("benchmark_always_on") or {}
    known = {k for k, _, _ in KPI_ROWS}
    rows: list[list[tuple[str, str]]] = []
    for key, label, fmt in KPI_ROWS:
        if key in strat or key in bench:
            rows.append(
                [(label, "label"), (fmt(strat.get(key)), "num"), (fmt(bench.get(key)), "num")]
            )
    extra = [k for k in (*strat.keys(), *bench.keys()) if k not in known]
    for key in dict.fromkeys(extra):
        rows.append(
            [
                (_humanise(key), "label"),
                (_generic(strat.get(key)), "num"),
                (_generic(bench.get(key)), "num"),
            ]
        )
    return _table("kpi-table", ("", "Strategy", "Always-held book"), rows)


def _span(start: Any, end: Any) -> str:
    text = f"{_generic(start)} → {_generic(end)}"
    try:
        days = (
            dt.date.fromisoformat(str(end)[:10]) - dt.date.fromisoformat(str(start)[:10])
        ).days + 1
    except ValueError:
        return text
    return f"{text} ({days:,} d)"


def _walk_forward_summary(wf: Mapping[str, Any]) -> str:
    ci = wf.get("oos_sharpe_ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        ci_text = f"[{_ratio(ci[0])}, {_ratio(ci[1])}]"
    else:
        ci_text = DASH if ci is None else _generic(ci)
    rows = [
        [("Out-of-sample Sharpe", "label"), (_ratio(wf.get("oos_sharpe")), "num")],
        [("95% CI (bootstrap)", "label"), (ci_text, "num")],
        [("Trials searched", "label"), (_int(wf.get("n_trials")), "num")],
        [("Deflated Sharpe (prob.)", "label"), (_ratio(wf.get("deflated_sharpe"), 3), "num")],
        [
            ("Hurdle: expected best null trial Sharpe", "label"),
            (_ratio(wf.get("deflated_sharpe_hurdle")), "num"),
        ],
        [
            ("Probabilistic Sharpe vs 0", "label"),
            (_ratio(wf.get("probabilistic_sharpe"), 3), "num"),
        ],
        [("Prob. of backtest overfitting", "label"), (_pct(wf.get("pbo")), "num")],
        [("Folds", "label"), (str(len(wf.get("folds") or [])), "num")],
    ]
    return _table("walk-forward-summary", None, rows)


def _folds_table(folds: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for f in folds:
        rows.append(
            [
                (_generic(f.get("fold")), "num"),
                (_span(f.get("train_start"), f.get("train_end")), "span"),
                (_span(f.get("test_start"), f.get("test_end")), "span"),
                (_ratio(f.get("test_sharpe")), _sign_class(f.get("test_sharpe"))),
                (_ratio(f.get("train_sharpe")), _sign_class(f.get("train_sharpe"))),
                (_compact(f.get("params") or {}), "params"),
            ]
        )
    header = ("Fold", "Train", "Test", "Test Sharpe", "Train Sharpe", "Parameters")
    return _table("folds-table", header, rows)


def _regime_table(rm: pl.DataFrame | None) -> str:
    if rm is None or rm.height == 0:
        return _table("regime-table", ("Regime",), [])
    cols = list(rm.columns)
    if "regime" in cols:
        cols.remove("regime")
        cols.insert(0, "regime")
    header = [REGIME_COLUMNS.get(c, (_humanise(c), _generic))[0] for c in cols]
    rows = []
    for rec in rm.select(cols).iter_rows(named=True):
        row = []
        for c in cols:
            val = rec[c]
            if c == "regime":
                row.append((_generic(val), f"regime regime-{_generic(val)}"))
                continue
            fmt = REGIME_COLUMNS.get(c, ("", _generic))[1]
            cls = _sign_class(val) if c in ("sharpe", "strategy_sharpe", "ann_return") else "num"
            row.append((fmt(val), cls))
        rows.append(row)
    return _table("regime-table", header, rows)


def _neutrality_table(neu: Mapping[str, Any]) -> str:
    rows = []
    for key, label in NEUTRALITY_ROWS.items():
        if key in neu:
            rows.append([(label, "label"), (_ratio(neu.get(key), 3), "num")])
    for key, val in neu.items():
        if key not in NEUTRALITY_ROWS:
            if isinstance(val, int) and not isinstance(val, bool):
                text = _int(val)  # counts (infeasible days, fallback name-days)
            else:
                text = _ratio(val, 3) if _num(val) is not None else _generic(val)
            rows.append([(_humanise(key), "label"), (text, "num")])
    return _table("neutrality-table", None, rows)


def _latest(d: DashboardData) -> str:
    tl = _prep(d.timeline)
    if tl.height == 0:
        return ""
    last = tl.row(tl.height - 1, named=True)
    reg = last.get("regime")
    parts = [f"as of {e(str(last['date']))}"]
    if reg is not None:
        parts.insert(0, f'<span class="regime regime-{e(str(reg))}">{e(str(reg))}</span>')
    parts.append(f"score {e(_ratio(last.get('score'), 3))}")
    parts.append(f"exposure {e(_ratio(last.get('exposure'), 2))}")
    return '<p class="latest">Latest: ' + " · ".join(parts) + "</p>"


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1d2433; --muted:#5b6475; --line:#e3e6eb; --bg:#f4f5f7; --card:#fff;
        --pos:#1f7a46; --neg:#b83232; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 14px/1.45 FONTS; -webkit-font-smoothing: antialiased; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 48px; }
header { margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 15px; margin: 0 0 10px; text-transform: uppercase; letter-spacing: .04em;
     color: var(--muted); }
.sub { color: var(--muted); margin: 0; }
.latest { margin: 8px 0 0; }
.grid { display: grid; grid-template-columns: minmax(0,1.15fr) minmax(0,1fr); gap: 18px;
        align-items: start; }
.stack > .card + .card { margin-top: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
        padding: 16px 18px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.grid .card { margin-bottom: 0; }
.grid { margin-bottom: 18px; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
        font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line);
     padding: 6px 10px; white-space: nowrap; }
td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:last-child td { border-bottom: none; }
tbody tr:hover td { background: #f8f9fb; }
td.num { text-align: right; white-space: nowrap; }
th:not(:first-child) { text-align: right; }
#folds-table th:nth-child(2), #folds-table th:nth-child(3), #folds-table th:last-child { text-align: left; }
td.span { white-space: nowrap; }
td.params { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
            font-size: 12px; color: var(--muted); word-break: break-word; }
td.pos { color: var(--pos); } td.neg { color: var(--neg); }
td.label { color: var(--ink); }
.muted { color: var(--muted); }
.regime { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
          font-weight: 600; white-space: nowrap; }
.regime-RISK_ON_MAJORS { background: #e3f3ea; color: #1f7a46; }
.regime-BALANCED { background: #eceef2; color: #4a5263; }
.regime-RISK_ON_ALTS { background: #fbe6e6; color: #a12a2a; }
td.regime { display: table-cell; border-radius: 0; background: none; padding: 5px 10px;
            font-size: 13px; }
td.regime::before { content: ""; display: inline-block; width: 10px; height: 10px;
                    border-radius: 2px; margin-right: 8px; vertical-align: -1px; background: #b0b0b0; }
td.regime-RISK_ON_MAJORS::before { background: #2e9d5b; }
td.regime-BALANCED::before { background: #8a94a6; }
td.regime-RISK_ON_ALTS::before { background: #d64545; }
.warnings { background: #fff8e6; border-color: #f0d48a; }
.warnings h2 { color: #8a6100; }
.warnings ul { margin: 0; padding-left: 20px; }
.figure { padding: 8px 10px; }
.figure > div { width: 100%; }
footer { color: var(--muted); font-size: 12px; margin-top: 12px; }
#script-errors { display: none; }
@media (max-width: 1000px) { .grid { grid-template-columns: 1fr; } }
""".replace("FONTS", FONT_STACK)

ERROR_SCRIPT = """
(function () {
  var n = 0;
  function record(msg) {
    n += 1;
    document.body.dataset.scriptErrors = String(n);
    var pre = document.getElementById('script-errors');
    if (pre) { pre.textContent += msg + '\\n'; }
  }
  window.addEventListener('error', function (ev) {
    if (ev instanceof ErrorEvent) {
      record((ev.message || 'error') + ' @ ' + (ev.filename || '') + ':' + (ev.lineno || 0));
    } else {
      var t = ev.target || {};
      record('resource failed: ' + (t.src || t.href || t.tagName || 'unknown'));
    }
  }, true);
  window.addEventListener('unhandledrejection', function (ev) {
    record('unhandled rejection: ' + String(ev.reason));
  });
})();
"""

COUNT_SCRIPT = """
(function () {
  var expected = Number(document.body.dataset.figuresExpected || 0);
  var tries = 0;
  function count() {
    var n = 0;
    document.querySelectorAll('.js-plotly-plot').forEach(function (el) {
      if (el.querySelector('svg.main-svg')) { n += 1; }
    });
    document.body.dataset.figuresRendered = String(n);
    if (n < expected && tries < 150) { tries += 1; setTimeout(count, 100); }
  }
  if (document.readyState === 'complete') { count(); }
  else { window.addEventListener('load', count); }
})();
"""


def _figure_html(name: str, fig: go.Figure) -> str:
    div = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config=PLOTLY_CONFIG,
        div_id=f"fig-{name}",
    )
    return f'<section class="card figure" id="section-{e(name)}">{div}</section>'


def render_dashboard(d: DashboardData) -> str:
    """The whole page as one self-contained HTML string (plotly.js inline, nothing fetched)."""
    kpis = d.kpis or {}
    period = kpis.get("period") or {}
    conv = kpis.get("conventions") or {}
    wf = kpis.get("walk_forward") or {}
    neu = kpis.get("neutrality") or {}

    figures = [(name, fn(d)) for name, fn in FIGURES]
    title = e(d.title)

    sub = (
        f"Out-of-sample period {e(_generic(period.get('start')))} → "
        f"{e(_generic(period.get('end')))} ({e(_int(period.get('days')))} days)"
    )
    if conv:
        sub += (
            f" · returns {e(_generic(conv.get('returns', 'simple')))}, "
            f"{e(_generic(conv.get('periods_per_year', 365)))} periods a year, "
            f"risk-free {e(_generic(conv.get('risk_free', 0.0)))}"
        )

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        f'<body data-figures-expected="{len(figures)}" data-figures-rendered="0" '
        'data-script-errors="0">',
        '<pre id="script-errors" hidden></pre>',
        f"<script>{ERROR_SCRIPT}</script>",
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        f"<script>{plotly.offline.get_plotlyjs()}</script>",
        "<main>",
        f'<header><h1>{title}</h1><p class="sub">{sub}</p>{_latest(d)}</header>',
    ]
    if d.warnings:
        items = "".join(f"<li>{e(str(w))}</li>" for w in d.warnings)
        parts.append(
            f'<section class="card warnings" id="warnings"><h2>Warnings</h2><ul>{items}</ul></section>'
        )
    parts += [
        '<div class="grid">',
        f'<section class="card" id="kpis"><h2>Performance (out-of-sample)</h2>{_kpi_table(kpis)}</section>',
        '<div class="stack">',
        f'<section class="card" id="walk-forward"><h2>Walk-forward</h2>'
        f"{_walk_forward_summary(wf)}</section>",
        f'<section class="card" id="neutrality"><h2>Neutrality to BTC and ETH (out-of-sample)</h2>'
        f"{_neutrality_table(neu)}</section>",
        "</div></div>",
        f'<section class="card" id="folds"><h2>Walk-forward folds</h2>'
        f"{_folds_table(wf.get('folds') or [])}</section>",
        f'<section class="card" id="regimes"><h2>By regime (always-held book, strategy Sharpe)</h2>'
        f"{_regime_table(d.regime_metrics)}</section>",
    ]
    parts += [_figure_html(name, fig) for name, fig in figures]
    parts += [
        "<footer>Self-contained page: plotly.js is embedded; nothing is fetched from the "
        "network.</footer>",
        "</main>",
        f"<script>{COUNT_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)
