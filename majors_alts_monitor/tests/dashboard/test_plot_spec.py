"""The dashboard's figures are plain dicts (``dashboard/plot.py``): checked here against plotly.py
itself, which the package no longer imports at run time.

- every figure of a full dashboard (all optional inputs), of one with NaN everywhere and of
  one with empty frames is valid plotly: ``plotly.graph_objects.Figure(spec)`` raises on any
  unknown or invalid property, and its ``to_plotly_json()`` gives back the spec (a typo plotly
  silently drops or a value it coerces would show as a difference);
- :func:`plot.subplots` gives ``make_subplots``' axis domains, anchors, shared x axes and
  subplot titles for the grids the figures use and others;
- the page carries each figure's spec and the template once, and the loader puts them together;
- nothing of plotly.py is imported by rendering a page (a fresh interpreter);
- the vectorised display helpers equal their slow references bit for bit.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.subplots import make_subplots

from majors_alts_monitor import dashboard
from majors_alts_monitor.dashboard import common, plot, triggers
from majors_alts_monitor.dashboard.page import FIGURES, OPTIONAL, plotly_js_path
from majors_alts_monitor.tests.dashboard.test_dashboard import (
    _nan_everywhere,
    add_extras,
    make_data,
)

REPO = Path(__file__).resolve().parents[3]
ALL = [*FIGURES, ("rolling", dashboard.fig_rolling), *((n, f) for n, _, f in OPTIONAL)]


def _figures(case: str) -> dict:
    d = make_data()
    if case == "full":
        d = add_extras(d)
    elif case == "nan":
        d = _nan_everywhere(d)
    elif case == "empty":
        d = dashboard.DashboardData(
            title="empty",
            timeline=d.timeline.clear(),
            pnl=d.pnl.clear(),
            equity=d.equity.clear(),
            features=d.features.clear(),
            betas=d.betas.clear(),
            kpis={},
            regime_metrics=d.regime_metrics.clear(),
        )
    return {name: fn(d) for name, fn in ALL}


def _plain(obj):
    """JSON round trip: tuples become lists, numbers compare by value."""
    return json.loads(plot.to_json(obj))


@pytest.mark.parametrize("case", ["full", "nan", "empty"])
def test_every_figure_is_valid_plotly_and_round_trips(case: str) -> None:
    figs = _figures(case)
    if case == "full":
        assert all(f is not None for f in figs.values())
    for name, spec in figs.items():
        if spec is None:
            continue
        fig = go.Figure(spec)  # raises ValueError on any invalid property or value
        back = json.loads(fig.to_json())
        assert back == _plain(spec), name
        for trace in spec["data"]:
            assert trace["type"] in {"scatter", "bar", "heatmap"}, name


def test_figures_share_one_template_object() -> None:
    figs = [f for f in _figures("full").values() if f is not None]
    assert all(f["layout"]["template"] is plot.TEMPLATE for f in figs)
    assert plot.TEMPLATE["layout"]["colorway"][0] == common.COLORS["strategy"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rows": 2, "cols": 1, "shared_xaxes": True, "row_heights": [0.74, 0.26]},
        {"rows": 2, "cols": 1, "shared_xaxes": True, "row_heights": [0.55, 0.45]},
        {"rows": 1, "cols": 2, "subplot_titles": ("a", "b"), "horizontal_spacing": 0.14},
        {"rows": 1, "cols": 2, "subplot_titles": ("train", "oos"), "horizontal_spacing": 0.16},
        {"rows": 3, "cols": 2, "shared_xaxes": True, "subplot_titles": ("a", "", "c", "d")},
        {"rows": 3, "cols": 1, "row_heights": [3, 1, 1], "vertical_spacing": 0.02},
        {"rows": 2, "cols": 3},
    ],
)
def test_subplots_match_make_subplots(kwargs: dict) -> None:
    kwargs = dict(kwargs)
    rows, cols = kwargs.pop("rows"), kwargs.pop("cols")
    if "vertical_spacing" not in kwargs and rows == 2:
        kwargs["vertical_spacing"] = 0.05
    want = make_subplots(rows=rows, cols=cols, **kwargs).to_plotly_json()["layout"]
    got = plot.subplots(rows, cols, **kwargs)["layout"]
    want.pop("template", None)
    assert _plain(got) == _plain(want)
    # exact floats, not only close ones: the same arithmetic as make_subplots
    for key, axis in got.items():
        if key.endswith(tuple("0123456789")) or key in ("xaxis", "yaxis"):
            assert axis["domain"] == list(want[key]["domain"]), key


def test_traces_on_subplot_cells_and_hlines_match_plotly() -> None:
    """As fig_robustness uses them: a trace in each cell, then add_hline on every cell (plotly
    skips cells without a trace: the figures never have one)."""
    ref = make_subplots(rows=1, cols=2, horizontal_spacing=0.14)
    fig = plot.subplots(1, 2, horizontal_spacing=0.14)
    for col in (1, 2):
        ref.add_trace(go.Bar(x=["a"], y=[float(col)]), row=1, col=col)
        plot.add_trace(fig, {"x": ["a"], "y": [float(col)], "type": "bar"}, row=1, col=col, cols=2)
    ref.add_hline(y=0.0, line={"color": "#1d2433", "width": 1})
    ref.update_yaxes(title_text="t", row=1, col=2)
    plot.add_hline(fig, 0.0, {"color": "#1d2433", "width": 1}, cells=((1, 1), (1, 2)), cols=2)
    plot.update_axes(fig, "y", {"title": {"text": "t"}}, row=1, col=2, cols=2)
    want = ref.to_plotly_json()
    want["layout"].pop("template")
    assert _plain(fig) == _plain(want)


def test_update_merges_nested_dicts_without_aliasing() -> None:
    base = {"legend": {"x": 0.0, "y": -0.12}, "shapes": [1]}
    patch = {"legend": {"y": -0.32}, "margin": {"l": 1}}
    plot.update(base, patch)
    assert base == {"legend": {"x": 0.0, "y": -0.32}, "shapes": [1], "margin": {"l": 1}}
    base["margin"]["l"] = 2
    assert patch["margin"]["l"] == 1  # merged dicts are copies


def test_to_json_converts_numpy_and_dates_and_refuses_nan() -> None:
    import datetime as dt

    obj = {"a": np.array([1.5, np.nan, np.inf]), "b": np.float32(2.5), "c": dt.date(2024, 1, 2)}
    assert plot.to_json(obj) == '{"a":[1.5,null,null],"b":2.5,"c":"2024-01-02"}'
    assert plot.to_json({"s": "</script>"}) == '{"s":"<\\/script>"}'
    with pytest.raises(ValueError):
        plot.to_json({"y": [float("nan")]})


def test_page_embeds_each_spec_and_the_template_once() -> None:
    d = add_extras(make_data())
    page = dashboard.render_dashboard(d)
    tpl = re.findall(r'<script type="application/json" id="plotly-template">(.*?)</script>', page)
    assert len(tpl) == 1 and json.loads(tpl[0]) == _plain(plot.TEMPLATE)
    specs = dict(
        re.findall(
            r'<script type="application/json" data-figure="fig-([^"]+)">(.*?)</script>', page
        )
    )
    figs = _figures("full")
    assert set(specs) == set(figs)
    for name, text in specs.items():
        spec = json.loads(text.replace("<\\/", "</"))
        assert "template" not in spec["layout"] and "title" not in spec["layout"]
        layout = {k: v for k, v in figs[name]["layout"].items() if k not in ("template", "title")}
        assert spec == _plain({"data": figs[name]["data"], "layout": layout}), name
        title = html.escape(figs[name]["layout"]["title"]["text"])
        assert f'id="section-{name}"><h2>{title}</h2>' in page
    assert page.count('"template"') == 0  # the loader adds it in the browser


def test_rendering_imports_no_plotly_module(tmp_path: Path) -> None:
    """A fresh interpreter imports the run's and the sweep's page modules and renders a run
    page; no ``plotly`` or ``_plotly_utils`` module gets imported (plotly.js is read as a
    file)."""
    code = """
import sys, datetime as dt
import numpy as np, polars as pl
from majors_alts_monitor.dashboard import DashboardData, render_dashboard
from majors_alts_monitor.sweep.dashboard import sweep_dashboard_html
days = [dt.date(2021, 1, 1) + dt.timedelta(days=i) for i in range(300)]
r = np.random.default_rng(0).normal(0, 0.01, 300)
tl = pl.DataFrame({"date": days, "fold": [-1] * 100 + [0] * 200, "score": r.cumsum(),
                   "regime": ["BALANCED"] * 150 + ["RISK_ON_ALTS"] * 150, "exposure": [0.5] * 300})
pnl = pl.DataFrame({"date": days, "net_return": r, "gross_return": r, "fee_cost": abs(r) / 10})
eq = pl.DataFrame({"date": days, "equity": np.cumprod(1 + r)})
d = DashboardData(title="t", timeline=tl, pnl=pnl, equity=eq, features=pl.DataFrame(),
                  betas=pl.DataFrame(), kpis={}, regime_metrics=pl.DataFrame())
page = render_dashboard(d)
assert page.count('data-figure=') == 7, page.count('data-figure=')
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', '_plotly_utils'))
print(loaded)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_plotly_js_is_the_packaged_file() -> None:
    import plotly.offline

    assert plotly_js_path().read_text(encoding="utf-8") == plotly.offline.get_plotlyjs()


def _bits(values: list) -> list:
    return [None if v is None else struct.pack("<d", v) for v in values]


def test_clean_equals_the_string_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    a = rng.normal(size=n) * 10.0 ** rng.uniform(-40, 40, n)
    a[::97], a[::101], a[::103], a[::107] = np.nan, -np.inf, 0.0, -0.0
    a[::13] = np.round(a[::13], 3)  # short decimals
    a[::17] = rng.integers(-(10**6), 10**6, a[::17].size) / 8.0  # exact binary ties
    a[::19] = rng.integers(-(10**7), 10**7, a[::19].size) * 0.5
    a[::23] = 10.0 ** rng.integers(-25, 25, a[::23].size)  # powers of ten
    a[::29] = 10.0 ** rng.integers(-25, 25, a[::29].size) * 0.99999500000001  # near ties
    a[::31] = rng.choice([1e-250, 3e-310, 1e250, 5e-324], a[::31].size)  # extremes
    assert _bits(common._clean(a)) == _bits(common._clean_reference(a))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=40))
def test_clean_property(values: list[float]) -> None:
    assert _bits(common._clean(values)) == _bits(common._clean_reference(values))


def _display_index_reference(series, steps, max_points):
    """The loop :func:`display_index` replaced: per bucket np.argmin/argmax of finite values."""
    n = len(series[0])
    if n <= max_points:
        return np.arange(n)
    n_buckets = max(1, max_points // (2 * max(1, len(series)) + 1))
    edges = np.linspace(0, n, n_buckets + 1).astype(np.int64)
    keep = [edges[:-1], np.array([n - 1])]
    for v in series:
        v = np.asarray(v, dtype=np.float64)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            seg = v[a:b]
            ok = np.isfinite(seg)
            if ok.any():
                idx = np.flatnonzero(ok)
                keep.append(a + idx[[np.argmin(seg[ok]), np.argmax(seg[ok])]])
    for s in steps:
        arr = np.asarray(s, dtype=object)
        ch = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        keep += [ch, ch - 1]
    return np.unique(np.concatenate(keep))


@pytest.mark.parametrize("seed", range(6))
def test_display_index_equals_the_loop_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1600, 9000))
    series = []
    for _ in range(int(rng.integers(1, 5))):
        v = rng.normal(size=n).cumsum()
        v[rng.random(n) < 0.1] = np.nan
        v[: int(rng.integers(0, 800))] = np.nan  # whole buckets without values
        v[rng.random(n) < 0.01] = np.inf
        ties = rng.random(n) < 0.3
        v[ties] = np.round(v[ties])  # equal values inside a bucket: the first one is kept
        series.append(v)
    steps = [((np.arange(n) // int(rng.integers(50, 900))) % 3).tolist()]
    max_points = int(rng.integers(300, 1600))
    got = dashboard.display_index(series, steps, max_points=max_points)
    want = _display_index_reference(series, steps, max_points)
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------------------------
# The former plotly.py builders of three figures, kept as references: the dict builders must
# give the same figure (subplot grid with shared x, shapes, annotations, step lines, log axis
# with ticks, horizontal lines on every cell, subplot titles)
# --------------------------------------------------------------------------------------------

GO_TEMPLATE = {
    "layout": {
        "colorway": ["#1f4e9c", "#f29a1f", "#2e9d5b", "#d64545", "#6a5acd", "#17becf"],
        "hoverlabel": {"align": "left"},
    }
}


def _go_style(fig: go.Figure, title: str, height: int, **layout) -> go.Figure:
    fig.update_layout(
        template=GO_TEMPLATE,  # merged into plotly's default template, as the pages had it
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
        height=height,
        autosize=True,
        margin={"l": 56, "r": 16, "t": 40, "b": 36},
        font={"family": common.FONT_STACK, "size": 12, "color": "#1d2433"},
        legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.12, "yanchor": "top"},
        hovermode="x unified",
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eceef2", linecolor="#c8ccd4", ticks="outside")
    fig.update_yaxes(showgrid=True, gridcolor="#eceef2", zerolinecolor="#c8ccd4", automargin=True)
    if layout:
        fig.update_layout(**layout)
    return fig


def _go_line(x, y, name, color, *, dash="solid", width=1.6, hover="%{y:.3f}", **kw) -> go.Scatter:
    return go.Scatter(
        **common.x_args(x),
        y=common._clean(y),
        name=name,
        mode="lines",
        line={"color": color, "dash": dash, "width": width},
        hovertemplate=hover + f"<extra>{html.escape(name)}</extra>",
        **kw,
    )


def _go_equity(d) -> go.Figure:
    from majors_alts_monitor.dashboard.figures import _log_ticks

    eq = common.thin(common._prep(d.equity), ["equity", "benchmark_equity", "btc_equity"])
    x = common._iso(common._dates(eq))
    series = [
        ("equity", "Strategy", common.COLORS["strategy"], 2.2),
        ("benchmark_equity", "Always-held book", common.COLORS["benchmark"], 1.6),
        ("btc_equity", "BTC buy & hold", common.COLORS["btc"], 1.3),
    ]
    fig = go.Figure()
    for col, name, color, width in series:
        fig.add_trace(_go_line(x, common._values(eq, col), name, color, width=width))
    _go_style(fig, "Equity: strategy vs always-held book vs BTC (net of costs, 1.0 invested)", 420)
    fig.update_yaxes(type="log", title_text="equity (log)")
    vals, text = _log_ticks([common._values(eq, c) for c, *_ in series])
    if vals:
        fig.update_yaxes(tickvals=vals, ticktext=text)
    fig.add_hline(y=1.0, line={"color": "#c8ccd4", "width": 1, "dash": "dot"})
    return fig


def _go_regime(d, shapes: list, annotations: list) -> go.Figure:
    """fig_regime's plotly.py assembly; the shapes and annotation come from the new figure
    (their dicts were written by hand in both versions)."""
    tl = common._prep(d.timeline)
    majors, alts = triggers.trigger_lines(tl)
    tl = tl.with_columns(pl.Series("_majors", majors), pl.Series("_alts", alts))
    tl = common.thin(tl, ["score"], ["regime", "exposure", "_majors", "_alts"])
    x = common._iso(common._dates(tl))
    regimes = tl.get_column("regime").to_list()
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.05
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=common._clean(common._values(tl, "score")),
            name="score",
            mode="lines",
            line={"color": common.COLORS["score"], "width": 1.5},
            customdata=[r if r is not None else "" for r in regimes],
            hovertemplate="%{y:.3f} (%{customdata})<extra>score</extra>",
        ),
        row=1,
        col=1,
    )
    for col, name, color in (
        ("_majors", triggers.MAJORS_LINE, common.REGIME_COLORS["RISK_ON_MAJORS"]),
        ("_alts", triggers.ALTS_LINE, common.REGIME_COLORS["RISK_ON_ALTS"]),
    ):
        v = common._values(tl, col)
        fig.add_trace(_go_line(x, v, name, color, dash="dash", width=2.0, line_shape="hv"), 1, 1)
    fig.add_trace(
        _go_line(
            x,
            common._values(tl, "exposure"),
            "exposure",
            common.COLORS["strategy"],
            width=1.2,
            hover="%{y:.2f}",
            line_shape="hv",
            fill="tozeroy",
            fillcolor="rgba(31,78,156,0.15)",
        ),
        row=2,
        col=1,
    )
    for a in annotations:
        fig.add_annotation(**a)
    _go_style(fig, "Regime: score, switch triggers and exposure", 500)
    fig.update_layout(shapes=shapes)
    fig.update_yaxes(title_text="score", row=1, col=1)
    fig.update_yaxes(title_text="exposure", rangemode="tozero", row=2, col=1)
    return fig


def _go_robustness(d) -> go.Figure:
    rb = d.kpis["robustness"]
    fig = make_subplots(
        rows=2,
        cols=1,
        subplot_titles=("fold origin shifted by (days)", "fees and slippage × multiplier"),
        vertical_spacing=0.24,
    )
    for row, recs, key, fmt in (
        (1, rb["start_shift"], "shift_days", lambda v: f"+{int(v)} d"),
        (2, rb["cost_multiplier"], "multiplier", lambda v: f"{float(v):g}×"),
    ):
        sr = np.array([r["oos_sharpe"] for r in recs], dtype=float)
        colors = [common.COLORS["strategy"] if v >= 0 else common.COLORS["fees"] for v in sr]
        fig.add_trace(
            go.Bar(
                x=[fmt(r[key]) for r in recs],
                y=common._clean(sr),
                marker={"color": colors},
                hovertemplate="%{x}: Sharpe %{y:.2f}<extra></extra>",
                showlegend=False,
            ),
            row=row,
            col=1,
        )
    _go_style(fig, "Robustness: out-of-sample Sharpe (net) of the re-runs", 440)
    fig.update_annotations(font={"size": 13}, yshift=6)  # the subplot titles
    fig.update_layout(margin={"t": 64})  # clear of the toolbar
    fig.update_yaxes(title_text="OOS Sharpe")
    fig.add_hline(y=0.0, line={"color": "#1d2433", "width": 1})
    return fig


@pytest.mark.parametrize("n_days", [400, 3000])
def test_dict_figures_equal_the_former_plotly_builders(n_days: int) -> None:
    d = add_extras(make_data(n_days, 6, burn_in=60 if n_days < 1000 else 200))
    new = dashboard.fig_equity(d)
    assert _plain(new) == json.loads(_go_equity(d).to_json())
    new = dashboard.fig_regime(d)
    ref = _go_regime(d, new["layout"]["shapes"], new["layout"]["annotations"])
    assert _plain(new) == json.loads(ref.to_json())
    assert _plain(dashboard.fig_robustness(d)) == json.loads(_go_robustness(d).to_json())
