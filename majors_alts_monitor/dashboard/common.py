"""Shared pieces of the dashboard: the data record, colours, frame helpers, plot styling and
display-only downsampling. Nothing here touches the filesystem or the network."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .plot import TEMPLATE, Figure, add_annotation, figure, update, update_axes

REGIMES = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")
REGIME_COLORS = {
    "RISK_ON_MAJORS": "#2e9d5b",  # the long-majors/short-alts book is meant to earn here
    "BALANCED": "#8a94a6",
    "RISK_ON_ALTS": "#d64545",
}
MAX_HEATMAP_COLUMNS = 600
MAX_DISPLAY_POINTS = 1500  # longer daily series are reduced for drawing (min/max preserving)
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
    burn-in) and the explain columns ``contrib_<feature>``, ``band``, ``min_dwell``,
    ``days_in_regime``, ``dwell_left`` (each optional); ``betas`` holds ``beta_btc_realized``, ``beta_eth_realized`` (rolling realized
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
    trials: pl.DataFrame | None = None  # trials.parquet (with oos_sharpe_per_period)
    attribution: pl.DataFrame | None = None  # pnl_attribution.csv
    signal: dict | None = None  # signals_today.json of the same run
    js_cache_dir: Path | None = None  # <output root>/cache: where plotly.js's gzip is kept
    # regime -> exposure level (config regime.exposure); None: the signal's exposure_by_regime
    regime_exposure: Mapping[str, float] | None = None

    def levels(self) -> Mapping[str, float] | None:
        """What each regime holds, for the labels (``labels.regime_label``)."""
        if self.regime_exposure:
            return self.regime_exposure
        sig = self.signal if isinstance(self.signal, Mapping) else {}
        lv = sig.get("exposure_by_regime")
        return lv if isinstance(lv, Mapping) else None

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
    col = df.get_column(name)
    if col.dtype.is_float() or col.dtype.is_integer():  # nulls become NaN (float64 out)
        return col.to_numpy().astype(np.float64, copy=True)
    try:
        s = col.cast(pl.Float64, strict=False)
    except Exception:  # a nested or otherwise uncastable type: show nothing, do not fail
        return np.full(df.height, np.nan)
    return s.fill_null(float("nan")).to_numpy().astype(np.float64, copy=True)


def _has(values: np.ndarray) -> bool:
    return bool(values.size) and bool(np.isfinite(values).any())


def _clean(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """Plain JSON-ready list: 5 significant digits, ``None`` for NaN and infinities.

    Bit for bit ``float(f"{v:.5g}")`` (the reference, kept as :func:`_clean_reference` and
    compared in the tests), vectorised: ``rint(v * 10^k) / 10^k`` with ``k = 4 - floor(log10
    |v|)`` is exact when ``10^|k|`` is (``|k| <= 22``: both steps are single correctly rounded
    operations), so only values near a rounding tie or a power of ten, and magnitudes outside
    [1e-17, 1e26), are formatted one by one."""
    v = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(v)
    out = v.copy()  # zeros (and their sign) stay as they are
    mag = np.abs(v)
    fast = ok & (mag >= 1e-17) & (mag < 1e26)  # there |k| <= 21: 10^|k| is exact, no overflow
    idx = np.flatnonzero(fast)
    w = v[idx]
    lg = np.log10(np.abs(w))
    k = 4.0 - np.floor(lg)
    q = 10.0 ** np.abs(k)
    scaled = np.where(k >= 0, w * q, w / q)
    m = np.rint(scaled)
    out[idx] = np.where(k >= 0, m / q, m * q)
    unsure = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (np.abs(lg - np.rint(lg)) < 1e-9)
    for i in np.concatenate([idx[unsure], np.flatnonzero(ok & ~fast & (mag != 0))]).tolist():
        out[i] = float(f"{v[i]:.5g}")
    res = out.astype(object)
    res[~ok] = None
    return res.tolist()


def _clean_reference(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """The slow, obviously correct :func:`_clean`."""
    return [
        float(f"{v:.5g}") if v is not None and math.isfinite(v) else None
        for v in np.asarray(values, dtype=np.float64).tolist()
    ]


def display_index(
    series: Sequence[np.ndarray],
    steps: Sequence[np.ndarray | Sequence[Any]] = (),
    max_points: int = MAX_DISPLAY_POINTS,
) -> np.ndarray:
    """Rows to DRAW (never to compute with): all rows up to ``max_points``; beyond, per bucket
    the first row and each series' minimum and maximum (so peaks and troughs survive), plus
    every row where a ``steps`` series changes and the row before it (so step lines keep
    their change days). Sorted, first and last rows included."""
    n = len(series[0]) if series else (len(steps[0]) if steps else 0)
    if n <= max_points:
        return np.arange(n)
    n_buckets = max(1, max_points // (2 * max(1, len(series)) + 1))
    edges = np.linspace(0, n, n_buckets + 1).astype(np.int64)  # strictly increasing: n > buckets
    keep = [edges[:-1], np.array([n - 1])]
    bucket = np.repeat(np.arange(n_buckets), np.diff(edges))
    for v in series:
        w = np.asarray(v, dtype=np.float64)
        w = np.where(np.isfinite(w), w, np.nan)
        for reduce in (np.fmin, np.fmax):  # NaN-skipping; NaN only for a bucket without values
            extreme = reduce.reduceat(w, edges[:-1])
            hit = np.flatnonzero(w == extreme[bucket])
            # the first row of each bucket at its extreme (np.argmin/argmax's choice)
            keep.append(hit[np.unique(bucket[hit], return_index=True)[1]])
    for st in steps:
        arr = np.asarray(st, dtype=object)
        ch = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        keep += [ch, ch - 1]
    return np.unique(np.concatenate(keep))


def _daily(dates: Sequence[dt.date]) -> bool:
    """True when ``dates`` are consecutive calendar days (then ``x0``/``dx`` replace ``x``)."""
    return (
        len(dates) > 1
        and (dates[-1] - dates[0]).days == len(dates) - 1
        and all((b - a).days == 1 for a, b in zip(dates, dates[1:], strict=False))
    )


DAY_MS = 86_400_000


def x_args(x: list[str]) -> dict[str, Any]:
    """``x0``/``dx`` (one day in ms) instead of ``x`` when the ISO dates ``x`` (sorted, unique)
    are consecutive days: the dates are then not repeated in every trace's JSON."""
    if len(x) > 1:
        try:
            span = (dt.date.fromisoformat(x[-1]) - dt.date.fromisoformat(x[0])).days
        except (TypeError, ValueError):
            return {"x": x}
        if span == len(x) - 1:
            return {"x0": x[0], "dx": DAY_MS}
    return {"x": x}


def thin(frame: pl.DataFrame, series: Sequence[str], steps: Sequence[str] = ()) -> pl.DataFrame:
    """``frame``'s rows at :func:`display_index` of its columns ``series`` and ``steps``."""
    idx = display_index(
        [_values(frame, c) for c in series if c in frame.columns] or [np.zeros(frame.height)],
        [frame.get_column(c).to_list() for c in steps if c in frame.columns],
    )
    return frame if len(idx) == frame.height else frame[idx]


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


STYLE_LAYOUT: dict[str, Any] = {
    "autosize": True,
    "margin": {"l": 56, "r": 16, "t": 40, "b": 36},
    "font": {"family": FONT_STACK, "size": 12, "color": "#1d2433"},
    "legend": {"orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.12, "yanchor": "top"},
    "hovermode": "x unified",
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
}
STYLE_XAXIS = {"showgrid": True, "gridcolor": "#eceef2", "linecolor": "#c8ccd4", "ticks": "outside"}
STYLE_YAXIS = {
    "showgrid": True,
    "gridcolor": "#eceef2",
    "zerolinecolor": "#c8ccd4",
    "automargin": True,
}


def _style(fig: Figure, title: str, height: int, **layout: Any) -> Figure:
    """The white look of every figure: :data:`~.plot.TEMPLATE`, the title (the page moves it
    to the card heading), height, margins, font, a horizontal legend below, light grid lines;
    ``layout`` is merged last."""
    lay = fig["layout"]
    lay["template"] = TEMPLATE  # shared, never modified: the page embeds it once
    update(lay, STYLE_LAYOUT)
    lay["title"] = {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}}
    lay["height"] = height
    update_axes(fig, "x", STYLE_XAXIS)
    update_axes(fig, "y", STYLE_YAXIS)
    if layout:
        update(lay, layout)
    return fig


def _empty(title: str, message: str, height: int = 260) -> Figure:
    fig = figure([{"mode": "lines", "showlegend": False, "x": [], "y": [], "type": "scatter"}])
    add_annotation(
        fig,
        font={"size": 14, "color": "#5b6475"},
        showarrow=False,
        text=html.escape(message),
        x=0.5,
        xref="paper",
        y=0.5,
        yref="paper",
    )
    _style(fig, title, height)
    update_axes(fig, "x", {"visible": False})
    update_axes(fig, "y", {"visible": False})
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
    shape: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A line trace over the ISO dates ``x`` (``x0``/``dx`` when they are consecutive days);
    ``shape="hv"`` draws steps; ``kwargs`` are further scatter properties (``fill`` ...)."""
    line: dict[str, Any] = {"color": color, "dash": dash, "width": width}
    if shape is not None:
        line["shape"] = shape
    return {
        **x_args(x),
        "y": _clean(y),
        "name": name,
        "mode": "lines",
        "line": line,
        "hovertemplate": hover + f"<extra>{html.escape(name)}</extra>",
        **kwargs,
        "type": "scatter",
    }
