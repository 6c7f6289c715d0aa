"""Tests of the dashboard: pure figure functions, the self-contained page, and a real browser.

Data are synthetic, built here from a fixed seed (printed on failure through the test ids).
The browser test renders the page in headless chromium and reads back what the page's own
script wrote into ``<body data-*>``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import plotly.offline
import polars as pl
import pytest

from majors_alts_monitor import dashboard
from majors_alts_monitor.dashboard import (
    DashboardData,
    fig_betas,
    fig_costs,
    fig_drawdown,
    fig_equity,
    fig_feature_heatmap,
    fig_regime,
    fig_rolling,
    render_dashboard,
    triggers,
)
from majors_alts_monitor.dashboard.page import plotly_js_gz_b64
from majors_alts_monitor.dashboard.plot import to_json
from majors_alts_monitor.labels import num
from majors_alts_monitor.tests import browser

SEED = 20240607
REGIMES = ("RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS")
FIG_FUNCS = (
    fig_equity,
    fig_drawdown,
    fig_regime,
    fig_feature_heatmap,
    fig_betas,
    fig_costs,
    fig_rolling,
)
N_CORE = len(FIG_FUNCS)  # figures always drawn; the optional ones need their inputs
PLOTLY_JS = plotly.offline.get_plotlyjs()
PLOTLY_GZ = plotly_js_gz_b64()


def make_data(
    n_days: int = 400,
    n_features: int = 6,
    *,
    seed: int = SEED,
    burn_in: int = 60,
    title: str = "Majors vs Alts — test run",
    warnings: tuple[str, ...] = ("lake 'fact_funding' ends 2 days before 'fact_price'",),
) -> DashboardData:
    """A small, coherent set of frames: a regime chain with runs, P&L, equity, features."""
    rng = np.random.default_rng(seed)
    start = dt.date(2019, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(n_days)]

    # a persistent regime chain: stay with probability 0.97
    states = np.empty(n_days, dtype=np.int64)
    states[0] = 1
    for i in range(1, n_days):
        states[i] = states[i - 1] if rng.random() < 0.97 else rng.integers(0, 3)
    regime = [REGIMES[s] for s in states]
    score = np.cumsum(rng.normal(0, 0.1, n_days)) * 0.2 + (1 - states) * 0.8
    fold = np.where(np.arange(n_days) < burn_in, -1, (np.arange(n_days) - burn_in) // 90)
    lower = np.where(fold >= 0, -0.5 + 0.05 * fold, np.nan)
    upper = np.where(fold >= 0, 0.5 + 0.05 * fold, np.nan)
    exposure = np.where(states == 0, 1.0, np.where(states == 1, 0.5, 0.0))
    timeline = pl.DataFrame(
        {
            "date": dates,
            "fold": fold,
            "score": score,
            "regime": regime,
            "exposure": exposure,
            "lower": lower,
            "upper": upper,
        }
    )

    oos = dates[burn_in:]
    m = len(oos)
    gross = rng.normal(0.0004, 0.01, m) * exposure[burn_in:]
    fees = np.abs(rng.normal(0, 0.0002, m))
    slip = np.abs(rng.normal(0, 0.0001, m))
    funding = rng.normal(0.00005, 0.0002, m)
    net = gross - fees - slip + funding
    bench_r = rng.normal(0.0001, 0.012, m)
    pnl = pl.DataFrame(
        {
            "date": oos,
            "regime": regime[burn_in:],
            "exposure": exposure[burn_in:],
            "gross_return": gross,
            "fee_cost": fees,
            "slippage_cost": slip,
            "funding_pnl": funding,
            "net_return": net,
            "turnover": np.abs(rng.normal(0, 0.05, m)),
            "gross_leverage": 2.0 * exposure[burn_in:],
            "long_notional": exposure[burn_in:],
            "short_notional": -exposure[burn_in:],
            "beta_btc": rng.normal(0, 0.02, m),
            "beta_eth": rng.normal(0, 0.02, m),
            "benchmark_net_return": bench_r,
        }
    )
    equity = np.cumprod(1 + net)
    bench = np.cumprod(1 + bench_r)
    btc = np.cumprod(1 + rng.normal(0.001, 0.035, m))
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    eq = pl.DataFrame(
        {
            "date": oos,
            "equity": equity,
            "drawdown": equity / peak - 1,
            "benchmark_equity": bench,
            "btc_equity": btc,
        }
    )

    names = [f"feat_{j:02d}" for j in range(n_features)]
    raw = rng.normal(0, 1, (n_days, n_features)).cumsum(axis=0)
    z = rng.normal(0, 1.3, (n_days, n_features))
    z[:30] = np.nan  # burn-in of the rolling z-score
    feats = pl.DataFrame(
        {"date": dates}
        | {n: raw[:, j] for j, n in enumerate(names)}
        | {f"z_{n}": z[:, j] for j, n in enumerate(names)}
    )

    window = 30
    betas = pl.DataFrame(
        {
            "date": oos[window:],
            "beta_btc_realized": rng.normal(0.02, 0.08, m - window),
            "beta_eth_realized": rng.normal(-0.01, 0.08, m - window),
            "beta_btc_ex_ante": rng.normal(0, 0.01, m - window),
            "beta_eth_ex_ante": rng.normal(0, 0.01, m - window),
        }
    )

    def kpi_block(scale: float) -> dict:
        return {
            "cagr": 0.123 * scale,
            "ann_return": 0.118 * scale,
            "ann_vol": 0.18,
            "sharpe": 0.95 * scale,
            "sortino": 1.31 * scale,
            "max_drawdown": -0.21,
            "calmar": 0.58 * scale,
            "hit_rate": 0.52,
            "avg_daily_turnover": 0.031,
            "total_fees": 0.0123,
            "total_slippage": 0.0061,
            "total_funding": -0.0042,
            "exposure_share": 0.61 if scale == 1 else 1.0,
        }

    folds = []
    n_folds = int(fold.max()) + 1
    for k in range(n_folds):
        test_idx = np.flatnonzero(fold == k)
        folds.append(
            {
                "fold": k,
                "train_start": dates[0].isoformat(),
                "train_end": dates[max(test_idx[0] - 8, 1)].isoformat(),
                "test_start": dates[test_idx[0]].isoformat(),
                "test_end": dates[test_idx[-1]].isoformat(),
                "params": {
                    "lower": -0.5 + 0.05 * k,
                    "upper": 0.5 + 0.05 * k,
                    "weights": {"a": 0.25},
                },
                "train_sharpe": 1.1 - 0.1 * k,
                "test_sharpe": 0.4 - 0.3 * (k % 2),
            }
        )
    kpis = {
        "period": {"start": oos[0].isoformat(), "end": oos[-1].isoformat(), "days": m},
        "conventions": {
            "periods_per_year": 365,
            "risk_free": 0.0,
            "returns": "simple, net of costs",
        },
        "strategy": kpi_block(1.0),
        "benchmark_always_on": kpi_block(0.4),
        "walk_forward": {
            "folds": folds,
            "oos_sharpe": 0.95,
            "oos_sharpe_ci95": [0.12, 1.71],
            "n_trials": 48,
            "deflated_sharpe": 0.71,
            "pbo": 0.23,
        },
        "neutrality": {
            "beta_btc_realized": 0.031,
            "beta_eth_realized": -0.012,
            "mean_abs_beta_btc_ex_ante": 0.004,
            "mean_abs_beta_eth_ex_ante": 0.003,
            "neutrality_error": math.hypot(0.031, -0.012),
        },
    }
    regime_metrics = pl.DataFrame(
        {
            "regime": list(REGIMES),
            "days": [120, 150, m - 270],
            "share": [120 / m, 150 / m, (m - 270) / m],
            "mean_daily_return": [0.0011, 0.0001, -0.0009],
            "ann_return": [0.40, 0.04, -0.33],
            "ann_vol": [0.17, 0.15, 0.22],
            "sharpe": [2.3, 0.2, -1.5],
            "hit_rate": [0.56, 0.50, 0.45],
            "max_drawdown": [-0.08, -0.10, -0.25],
            "strategy_sharpe": [2.3, 0.1, 0.0],
        }
    )
    return DashboardData(
        title=title,
        timeline=timeline,
        pnl=pnl,
        equity=eq,
        features=feats,
        betas=betas,
        kpis=kpis,
        regime_metrics=regime_metrics,
        warnings=warnings,
    )


def _nan_everywhere(d: DashboardData) -> DashboardData:
    """All numeric columns NaN or null, no thresholds, no betas rows, KPIs NaN/None."""

    def blank(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            [
                pl.lit(float("nan")).alias(c) if i % 2 else pl.lit(None, dtype=pl.Float64).alias(c)
                for i, c in enumerate(df.columns)
                if c not in ("date", "regime") and df.schema[c].is_numeric()
            ]
        )

    kpis = {
        "period": {"start": None, "end": None, "days": None},
        "strategy": {"sharpe": float("nan"), "cagr": None, "max_drawdown": float("-inf")},
        "benchmark_always_on": {},
        "walk_forward": {"folds": [], "oos_sharpe_ci95": None, "pbo": float("nan")},
        "neutrality": {"neutrality_error": float("nan")},
    }
    return DashboardData(
        title=d.title,
        timeline=blank(d.timeline.drop("lower", "upper")),
        pnl=blank(d.pnl),
        equity=blank(d.equity),
        features=blank(d.features),
        betas=d.betas.clear(),
        kpis=kpis,
        regime_metrics=blank(d.regime_metrics),
        warnings=(),
    )


@pytest.fixture(scope="module")
def data() -> DashboardData:
    return make_data()


@pytest.fixture(scope="module")
def page(data: DashboardData) -> str:
    return render_dashboard(data)


CONTRIB_FEATURES = ("alt_mom_7d", "btc_dom_chg_20d", "funding_skew")


def add_extras(d: DashboardData, *, seed: int = SEED) -> DashboardData:
    """``d`` with every optional input: explain columns, trials, attribution, the run's signal
    and the kpis keys other stages add (robustness, funding_by_leg, market_spread, gross,
    effective-N)."""
    rng = np.random.default_rng(seed + 1)
    tl = d.timeline
    n = tl.height
    score = tl["score"].to_numpy()
    parts = rng.normal(0, 0.5, (n, len(CONTRIB_FEATURES) - 1))
    last = score - parts.sum(axis=1)  # contributions sum to the score
    contrib = {f"contrib_{f}": parts[:, j] for j, f in enumerate(CONTRIB_FEATURES[:-1])}
    contrib[f"contrib_{CONTRIB_FEATURES[-1]}"] = last
    regimes = tl["regime"].to_list()
    days_in = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        days_in[i] = days_in[i - 1] + 1 if regimes[i] == regimes[i - 1] else 1
    tl = tl.with_columns(
        **{k: pl.Series(v) for k, v in contrib.items()},
        band=pl.lit(0.1),
        min_dwell=pl.lit(3),
        days_in_regime=pl.Series(days_in),
        dwell_left=pl.Series(np.maximum(0, 3 - days_in)),
    )
    n_trials, n_folds = 36, 4
    lows = np.array([-1.0, -0.5, 0.0])[np.arange(n_trials) % 3]
    ups = np.array([0.0, 0.25, 0.5, 1.0])[(np.arange(n_trials) // 3) % 4]
    oos = rng.normal(0.01, 0.03, n_trials)
    trials = pl.concat(
        [
            pl.DataFrame(
                {
                    "fold": np.full(n_trials, k),
                    "trial": np.arange(n_trials),
                    "train_sharpe_per_period": rng.normal(0.05, 0.03, n_trials),
                    "chosen": np.arange(n_trials) == k,
                    "lower": lows,
                    "upper": ups,
                    "band": np.full(n_trials, 0.1),
                    "min_dwell": np.full(n_trials, 3),
                    "oos_sharpe_per_period": oos,
                }
            )
            for k in range(n_folds)
        ]
    )
    names = [f"ALT{i:02d}" for i in range(14)]
    attribution = pl.DataFrame(
        {
            "asset_id": ["BTC", "ETH", *names],
            "leg": ["BTC", "ETH"] + ["basket"] * len(names),
            "pnl": [0.31, 0.05, *rng.normal(-0.01, 0.03, len(names)).tolist()],
            "days_held": [200] * (2 + len(names)),
            "mean_weight": [0.8, 0.3] + [-0.05] * len(names),
        }
    )
    kpis = {**d.kpis}
    kpis["benchmark_always_on"] = {**kpis["benchmark_always_on"], "gross": {"sharpe": 0.61}}
    kpis["walk_forward"] = {
        **kpis["walk_forward"],
        "effective_n_trials": 12.4,
        "deflated_sharpe_effective": 0.83,
        "deflated_sharpe_hurdle_effective": 0.77,
        "min_track_record_days": 912,
    }
    kpis["neutrality"] = {
        **kpis["neutrality"],
        "market_spread": {
            "strategy": {
                "beta_market": 0.02,
                "se_market": 0.01,
                "beta_spread": 0.41,
                "se_spread": 0.05,
                "t_spread": 8.2,
                "n_days": 340,
            },
            "always_on": {
                "beta_market": -0.01,
                "se_market": 0.02,
                "beta_spread": 0.93,
                "se_spread": 0.04,
                "t_spread": 23.1,
                "n_days": 340,
            },
            "nw_lags": 5,
        },
    }
    kpis["funding_by_leg"] = {
        "strategy": {"majors_long": -0.021, "alts_short": 0.034},
        "always_on": {"majors_long": -0.061, "alts_short": 0.083},
        "unfunded_short_share": 0.27,
        "warning": "27% of the short basket has no funding data: alts_short is understated",
        "rule": "zero",
    }
    kpis["robustness"] = {
        "start_shift": [
            {
                "shift_days": k,
                "oos_start": "2019-03-02",
                "oos_sharpe": 0.9 - 0.4 * (k == 60),
                "ann_return": 0.1,
                "max_drawdown": -0.2,
                "n_days": 340 - k,
            }
            for k in (0, 30, 60, 90)
        ],
        "cost_multiplier": [
            {
                "multiplier": m,
                "oos_sharpe": 1.0 - 0.5 * m,
                "ann_return": 0.1 - 0.05 * m,
                "max_drawdown": -0.2,
                "total_costs": 0.1 * m,
                "n_days": 340,
            }
            for m in (0.5, 1.0, 2.0)
        ],
        "note": "the run re-done on its prepared arrays",
    }
    signal = {
        "asof": tl["date"][-1].isoformat(),
        "regime": "RISK_ON_MAJORS",
        "previous_regime": regimes[-1],
        "action": "ENTER",
        "exposure": 1.0,
        "score": 0.987,
        "explain": {"days_in_regime": 1, "dwell_left": 2},
    }
    return replace(d, timeline=tl, trials=trials, attribution=attribution, kpis=kpis, signal=signal)


@pytest.fixture(scope="module")
def full(data: DashboardData) -> DashboardData:
    return add_extras(data)


@pytest.fixture(scope="module")
def full_page(full: DashboardData) -> str:
    return render_dashboard(full)


def _strip_bundle(page: str) -> str:
    return page.replace(PLOTLY_GZ, "")


def _n_figures(page: str) -> int:
    return page.count('<script type="application/json" data-figure=')


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", FIG_FUNCS, ids=lambda f: f.__name__)
def test_each_figure_returns_a_figure_with_data(fn, data: DashboardData) -> None:
    fig = fn(data)
    assert isinstance(fig, dict) and set(fig) == {"data", "layout"}
    assert len(fig["data"]) > 0
    heat = [t["type"] == "heatmap" for t in fig["data"]]
    sizes = [len(t["z"] if h else t["y"]) for t, h in zip(fig["data"], heat, strict=True)]
    assert max(sizes) > 0
    for trace, h in zip(fig["data"], heat, strict=True):
        values = trace["z"] if h else trace["y"]
        flat = [v for row in values for v in row] if h else list(values)
        assert any(v is not None for v in flat), f"{fn.__name__}: trace {trace['name']} all empty"
    assert "NaN" not in to_json(fig)


def test_figures_are_pure(data: DashboardData) -> None:
    before = data.timeline.clone()
    a = to_json(fig_regime(data))
    b = to_json(fig_regime(data))
    assert a == b
    assert data.timeline.equals(before)


def test_regime_bands_merge_consecutive_days(data: DashboardData) -> None:
    regimes = data.timeline["regime"].to_list()
    runs = 1 + sum(a != b for a, b in zip(regimes, regimes[1:], strict=False))
    fig = fig_regime(data)
    rects = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert len(rects) == runs
    assert runs < len(regimes) / 5  # the chain is persistent, so merging matters
    # bands tile the timeline without gaps
    assert rects[0]["x0"] == data.timeline["date"][0].isoformat()
    for a, b in zip(rects, rects[1:], strict=False):
        assert a["x1"] == b["x0"]
    # one legend entry per regime present
    assert sorted(s["name"] for s in rects if s["showlegend"]) == sorted(set(regimes))
    names = {t["name"] for t in fig["data"]}
    assert {"score", triggers.MAJORS_LINE, triggers.ALTS_LINE, "exposure"} <= names
    upper = next(t for t in fig["data"] if t["name"] == triggers.MAJORS_LINE)
    assert upper["line"]["shape"] == "hv"
    assert upper["y"][0] is None  # burn-in has no threshold: a gap, not NaN


def test_regime_without_thresholds(data: DashboardData) -> None:
    d = make_data()
    d = replace(d, timeline=d.timeline.drop("lower", "upper"))
    fig = fig_regime(d)
    names = {t["name"] for t in fig["data"]}
    assert triggers.MAJORS_LINE not in names and "score" in names


def test_heatmap_is_diverging_clipped_and_downsampled() -> None:
    d = make_data(3000, 25, burn_in=200)
    fig = fig_feature_heatmap(d)
    (hm,) = fig["data"]
    assert hm["type"] == "heatmap"
    assert hm["zmid"] == 0 and hm["zmin"] == -3 and hm["zmax"] == 3
    assert len(hm["y"]) == 25 and not any(str(n).startswith("z_") for n in hm["y"])
    assert 300 <= len(hm["x"]) <= dashboard.MAX_HEATMAP_COLUMNS
    assert hm["x"][-1] == d.features["date"][-1].isoformat()  # the latest day is a block end
    flat = [v for row in hm["z"] for v in row if v is not None]
    assert max(flat) <= 3 and min(flat) >= -3


def test_heatmap_block_means_match_a_slow_reference() -> None:
    rng = np.random.default_rng(SEED)
    m = rng.normal(size=(23, 3))
    m[rng.random(m.shape) < 0.3] = np.nan
    m[:5, 0] = np.nan
    k = 4
    got = dashboard._block_means(m, k)
    pad = (-len(m)) % k
    for b in range(got.shape[0]):
        rows = m[max(0, b * k - pad) : (b + 1) * k - pad]
        for j in range(3):
            vals = rows[:, j][np.isfinite(rows[:, j])]
            want = vals.mean() if vals.size else np.nan
            np.testing.assert_allclose(got[b, j], want, equal_nan=True)


def test_betas_show_gaps_for_missing_rows(data: DashboardData) -> None:
    fig = fig_betas(data)
    realized = next(t for t in fig["data"] if t["name"].startswith("BTC realized"))
    assert len(realized["y"]) == data.pnl.height  # P&L dates, betas start later
    # consecutive days: x0 + one day instead of a repeated date list
    assert "x" not in realized and realized["x0"] == data.pnl["date"][0].isoformat()
    assert realized["dx"] == 86_400_000
    assert realized["y"][0] is None and realized["y"][-1] is not None
    assert any(s["type"] == "line" and s["y0"] == 0 for s in fig["layout"]["shapes"])  # zero


def test_betas_fall_back_to_pnl_ex_ante(data: DashboardData) -> None:
    d = replace(data, betas=data.betas.clear())
    fig = fig_betas(d)
    ex_ante = next(t for t in fig["data"] if t["name"] == "BTC ex-ante")
    assert ex_ante["y"][0] == pytest.approx(
        data.pnl["beta_btc"][0], rel=1e-4
    )  # 5 significant digits


def test_costs_are_cumulative_and_costs_negative(data: DashboardData) -> None:
    fig = fig_costs(data)
    fees = next(t for t in fig["data"] if t["name"] == "Fees (−cost)")
    assert fees["y"][-1] == pytest.approx(
        -data.pnl["fee_cost"].sum(), rel=1e-4
    )  # 5 significant digits
    assert all(a >= b for a, b in zip(fees["y"], fees["y"][1:], strict=False))


def test_equity_log_axis_is_optional(data: DashboardData) -> None:
    assert fig_equity(data)["layout"]["yaxis"]["type"] == "log"
    assert fig_equity(data, log_y=False)["layout"]["yaxis"]["type"] == "linear"
    assert {t["name"] for t in fig_equity(data)["data"]} == {
        "Strategy",
        "Always-held book",
        "BTC buy & hold",
    }


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------


def test_page_embeds_plotly_once_and_fetches_nothing(page: str) -> None:
    import base64
    import gzip

    assert page.count(PLOTLY_GZ) == 1
    assert gzip.decompress(base64.b64decode(PLOTLY_GZ)).decode() == PLOTLY_JS
    assert len(PLOTLY_GZ) < 0.5 * len(PLOTLY_JS)
    assert page.count("Plotly.newPlot(") == 1  # one loader draws every figure spec
    assert _n_figures(page) == N_CORE
    assert "<script src=" not in page.lower()
    rest = _strip_bundle(page)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", rest, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", rest, flags=re.I)
    assert "@import" not in rest
    assert "mathjax" not in rest.lower().replace("mathjaxconfig: 'local'", "")
    assert "<link" not in rest.lower()


def test_page_has_all_tables_and_values(page: str, data: DashboardData) -> None:
    for table_id in (
        "kpi-table",
        "walk-forward-summary",
        "folds-table",
        "regime-table",
        "neutrality-table",
    ):
        assert f'<table id="{table_id}">' in page
    assert f'data-figures-expected="{N_CORE}"' in page
    assert '<pre id="script-errors" hidden></pre>' in page
    # formatted values
    assert "12.3%" in page  # strategy CAGR
    assert "0.95" in page and "[0.12, 1.71]" in page  # Sharpe and its CI
    assert "23.0%" in page  # PBO
    assert "a +0.25; lower=-0.5, upper=0.5" in page  # compact params
    assert "Always-held book" in page
    for regime in REGIMES:
        assert regime in page
    assert "&#x27;fact_funding&#x27;" in page  # warning, escaped
    assert page.count("<tr>") >= 13 + 3 + len(data.kpis["walk_forward"]["folds"])


def test_page_escapes_everything() -> None:
    evil = "<script>alert('x')</script>"
    d = make_data(120, 2, burn_in=20, title=evil, warnings=(evil,))
    d.kpis["walk_forward"]["folds"][0]["params"] = {"name": evil}
    d.kpis["strategy"]["note"] = evil
    page = render_dashboard(d)
    rest = _strip_bundle(page)
    assert evil not in rest
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in rest


def test_page_is_nan_safe(data: DashboardData) -> None:
    d = _nan_everywhere(data)
    for fn in FIG_FUNCS:
        fig = fn(d)
        assert isinstance(fig, dict)
        text = to_json(fig)
        assert "NaN" not in text and "Infinity" not in text
    page = render_dashboard(d)
    rest = _strip_bundle(page)
    assert "NaN" not in rest and "Infinity" not in rest
    assert "—" in rest  # missing values shown as a dash
    assert _n_figures(page) == N_CORE


def test_page_handles_empty_frames(data: DashboardData) -> None:
    d = DashboardData(
        title="empty",
        timeline=data.timeline.clear(),
        pnl=data.pnl.clear(),
        equity=data.equity.clear(),
        features=data.features.clear(),
        betas=data.betas.clear(),
        kpis={},
        regime_metrics=pl.DataFrame(),
    )
    page = render_dashboard(d)
    assert _n_figures(page) == N_CORE
    assert f'data-figures-expected="{N_CORE}"' in page


def test_page_accepts_string_dates(data: DashboardData) -> None:
    as_text = {
        name: getattr(data, name).with_columns(pl.col("date").cast(pl.String))
        for name in ("timeline", "pnl", "equity", "features", "betas")
    }
    d = replace(data, **as_text)
    assert to_json(fig_betas(d)) == to_json(fig_betas(data))
    assert to_json(fig_regime(d)) == to_json(fig_regime(data))


@pytest.mark.parametrize(("n_days", "n_features"), [(2000, 20), (3000, 25)])
def test_page_size_stays_small(n_days: int, n_features: int) -> None:
    d = make_data(n_days, n_features, burn_in=200)
    t0 = time.perf_counter()
    page = render_dashboard(d)
    elapsed = time.perf_counter() - t0
    size = len(page.encode("utf-8"))
    print(f"{n_days} days x {n_features} features: {size / 1e6:.2f} MB in {elapsed:.2f} s")
    assert size < 3_000_000
    assert size - len(PLOTLY_GZ) < 1_000_000


# --------------------------------------------------------------------------------------------
# Tearsheet, robustness, explain and the keys other stages add: present and absent
# --------------------------------------------------------------------------------------------


def test_optional_figures_need_their_inputs(data: DashboardData, full: DashboardData) -> None:
    for fn in (
        dashboard.fig_contributions,
        dashboard.fig_attribution,
        dashboard.fig_robustness,
        dashboard.fig_trials,
    ):
        assert fn(data) is None, fn.__name__
        assert isinstance(fn(full), dict), fn.__name__
    page = render_dashboard(data)
    assert "No explain columns" in page and "No robustness re-runs" in page
    assert "No per-asset P&amp;L attribution" in page and "No trial table" in page
    fp = render_dashboard(full)
    assert _n_figures(fp) == N_CORE + 4
    assert f'data-figures-expected="{N_CORE + 4}"' in fp
    assert "No explain columns" not in fp


def test_contributions_stack_to_the_score(full: DashboardData) -> None:
    fig = dashboard.fig_contributions(full)
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert [t["name"] for t in bars] == list(CONTRIB_FEATURES)
    assert fig["layout"]["barmode"] == "relative"  # positive up, negative down: sums to score
    score = next(t for t in fig["data"] if t["name"] == "score")
    total = np.sum([np.array(t["y"], dtype=float) for t in bars], axis=0)
    np.testing.assert_allclose(total, np.array(score["y"], dtype=float), atol=5e-4)
    assert {triggers.MAJORS_LINE, triggers.ALTS_LINE} <= {t["name"] for t in fig["data"]}
    xaxis = fig["layout"]["xaxis"]
    assert xaxis["rangeslider"]["visible"]
    lo, hi = (dt.date.fromisoformat(v[:10]) for v in xaxis["range"])
    assert (hi - lo).days == 180 and hi == full.timeline["date"][-1] + dt.timedelta(days=1)
    assert "x" not in bars[0] and bars[0]["dx"] == 86_400_000  # consecutive days: x0 + dx


def test_latest_badge_reads_the_signal_else_the_timeline(
    data: DashboardData, full: DashboardData
) -> None:
    page = render_dashboard(full)
    m = re.search(r'<span id="latest-regime"[^>]*>', page)
    assert m is not None
    tag = m.group(0)
    assert 'data-regime="RISK_ON_MAJORS"' in tag and 'data-score="0.987"' in tag
    assert 'data-exposure="1"' in tag and 'data-source="signal"' in tag
    assert "· 1 day in regime" in page and "1 days" not in page and "dwell left 2" in page
    ex3 = {**full.signal["explain"], "days_in_regime": 3}
    assert "· 3 days in regime" in render_dashboard(
        replace(full, signal={**full.signal, "explain": ex3})
    )
    assert "action ENTER" in page
    why = re.search(r'<p class="latest muted" id="latest-why">([^<]*)</p>', page).group(1)
    last = full.timeline.row(full.timeline.height - 1, named=True)
    top = max(CONTRIB_FEATURES, key=lambda f: abs(last[f"contrib_{f}"]))
    assert f"largest contributions {top} {last[f'contrib_{top}']:+.2f}" in html.unescape(why)
    assert "(band 0.10)" in why
    last = data.timeline.row(data.timeline.height - 1, named=True)
    tag = re.search(r'<span id="latest-regime"[^>]*>', render_dashboard(data)).group(0)
    assert f'data-regime="{last["regime"]}"' in tag and 'data-source="timeline"' in tag


def test_new_kpis_keys_are_rendered(full: DashboardData) -> None:
    page = render_dashboard(full)
    assert "Always-held, gross" in page and "0.61" in page
    assert '<section class="card banner" id="funding-warning"' in page
    assert "27% of the short basket has no funding data" in page
    assert '<table id="funding-table">' in page and "-2.10%" in page
    assert '<table id="market-spread-table">' in page and "23.10" in page
    assert "Newey-West standard errors, 5 lags" in page
    for label in ("Effective number of trials", "Deflated Sharpe (effective N)", "912"):
        assert label in page
    assert '<table id="robustness-start-table">' in page
    assert '<table id="robustness-cost-table">' in page
    no_warning = replace(
        full, kpis={**full.kpis, "funding_by_leg": {**full.kpis["funding_by_leg"], "warning": None}}
    )
    assert 'id="funding-warning"' not in render_dashboard(no_warning)
    # the same text among the run's warnings is shown once, in the banner
    warn = full.kpis["funding_by_leg"]["warning"]
    both = render_dashboard(replace(full, warnings=(warn, "another warning")))
    assert both.count(html.escape(warn)) == 1 and "another warning" in both


def test_flat_regime_rows_carry_a_note(data: DashboardData) -> None:
    page = render_dashboard(data)
    notes = re.findall(r'<tr class="note-row"><td colspan="\d+" class="note">([^<]*)</td>', page)
    # make_data holds exposure 0 only in RISK_ON_ALTS (BALANCED is 0.5)
    assert len(notes) == 1 and notes[0].startswith("RISK_ON_ALTS: flat (exposure 0)")
    assert "exit costs only" in notes[0]


def test_tearsheet_tables_use_the_full_series() -> None:
    from majors_alts_monitor.stats import tearsheet

    d = make_data(3000, 4, burn_in=200)
    page = render_dashboard(d)
    m = tearsheet.monthly_returns(d.pnl["date"].to_numpy(), d.pnl["net_return"].to_numpy())
    first = m.row(0, named=True)
    month = next(k for k in tearsheet.MONTHS if first[k] is not None)
    assert f"{num(first[month] * 100, 1)}</td>" in page
    worst = tearsheet.drawdown_details(d.pnl["date"].to_numpy(), d.pnl["net_return"].to_numpy())
    assert f"{worst['depth'][0] * 100:.1f}%" in page
    assert '<table id="trades-table">' in page and '<table id="drawdown-table">' in page


def test_long_series_are_thinned_for_display_only() -> None:
    d = make_data(3000, 4, burn_in=200)
    fig = fig_equity(d)
    strat = next(t for t in fig["data"] if t["name"] == "Strategy")
    assert len(strat["y"]) <= dashboard.MAX_DISPLAY_POINTS + 10
    eq = d.equity["equity"].to_numpy()
    assert max(strat["y"]) == pytest.approx(eq.max(), rel=1e-4)  # peaks survive
    assert min(strat["y"]) == pytest.approx(eq.min(), rel=1e-4)  # troughs survive
    assert strat["x"][-1] == d.equity["date"][-1].isoformat()
    reg = fig_regime(d)
    expo = next(t for t in reg["data"] if t["name"] == "exposure")
    changes = int(np.sum(np.diff(d.timeline["exposure"].to_numpy()) != 0))
    shown = np.array(expo["y"], dtype=float)
    assert int(np.sum(np.diff(shown) != 0)) == changes  # every step kept


def test_display_index_keeps_extremes_and_steps() -> None:
    rng = np.random.default_rng(SEED)
    v = rng.normal(size=10_000).cumsum()
    step = (np.arange(10_000) // 777) % 2
    idx = dashboard.display_index([v], [step], max_points=600)
    assert idx[0] == 0 and idx[-1] == 9_999 and np.all(np.diff(idx) > 0)
    assert len(idx) < 800
    assert v.argmax() in idx and v.argmin() in idx
    ch = np.flatnonzero(np.diff(step)) + 1
    assert set(ch) <= set(idx) and set(ch - 1) <= set(idx)
    assert list(dashboard.display_index([v[:50]])) == list(range(50))


def test_trials_heatmap_is_the_median_per_threshold_cell(full: DashboardData) -> None:
    fig = dashboard.fig_trials(full)
    oos = fig["data"][1]
    t = full.trials.filter(pl.col("fold") == 0)
    cell = t.filter((pl.col("lower") == -0.5) & (pl.col("upper") == 0.25))
    want = float(np.median(cell["oos_sharpe_per_period"].to_numpy()) * np.sqrt(365))
    got = oos["z"][oos["y"].index("0.25")][oos["x"].index("-0.5")]
    assert got == pytest.approx(want, rel=1e-4)


def test_full_page_stays_under_3_mb() -> None:
    d = add_extras(make_data(3000, 25, burn_in=200))
    size = len(render_dashboard(d).encode("utf-8"))
    assert size < 3_000_000, size


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------


SCREEN_WIDTHS = (1600, 390)


@pytest.mark.browser
@pytest.mark.parametrize("width", SCREEN_WIDTHS)
def test_dashboard_fits_the_screen_in_chromium(tmp_path, full_page: str, width: int) -> None:
    """Every figure drawn, no script error, no horizontal page overflow at 1600 and 390 CSS
    pixels, and a clean layout (``browser.layout_problems``: no row over 80 px, no overlapping
    titles or labels, ...); a full-page screenshot is saved (also under $DASHBOARD_SCREENSHOTS
    when set)."""
    browser.require_chromium()
    html_path = tmp_path / "dashboard.html"
    html_path.write_text(full_page, encoding="utf-8")
    shot = tmp_path / f"dashboard_{width}.png"

    probe = browser.inspect_page(
        html_path, width=width, screenshot=shot, timeout_s=150, layout=True
    )
    problems = browser.layout_problems(probe)  # rows, overlaps, cut text, spilled charts
    assert not problems, "\n".join(problems)

    assert probe.get("errors") == "0", probe.get("errorText")
    expected = int(probe.get("expected") or 0)
    assert expected == N_CORE + 4  # contributions, attribution, robustness, trials
    assert probe.get("rendered") == str(expected), probe.get("errorText")
    assert probe["innerWidth"] == width
    assert probe["scrollWidth"] <= probe["innerWidth"], probe.get("wide")
    assert probe.get("wide") == []
    assert probe["dom"].count('class="main-svg"') >= expected

    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert w == width and h >= 2000  # the whole page, not a blank first screen
    assert len(png) > 50_000  # a blank page compresses to a few kB
    out = os.environ.get("DASHBOARD_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / shot.name).write_bytes(png)


@pytest.mark.browser
@pytest.mark.parametrize("case", ["nan_everywhere", "empty_frames"])
def test_degenerate_dashboards_render_without_errors(tmp_path, data: DashboardData, case) -> None:
    browser.require_chromium()
    if case == "nan_everywhere":
        d = _nan_everywhere(data)
    else:
        d = DashboardData(
            title="empty",
            timeline=data.timeline.clear(),
            pnl=data.pnl.clear(),
            equity=data.equity.clear(),
            features=data.features.clear(),
            betas=data.betas.clear(),
            kpis={},
            regime_metrics=pl.DataFrame(),
        )
    html_path = tmp_path / "dashboard.html"
    html_path.write_text(render_dashboard(d), encoding="utf-8")
    dom = browser.render(html_path, screenshot=None, timeout_s=90)
    attrs = browser.body_attributes(dom)
    errors = browser.element_text(dom, "script-errors")
    assert attrs.get("data-script-errors") == "0", errors
    assert attrs.get("data-figures-rendered") == str(N_CORE), errors


@pytest.mark.browser
def test_page_probes_report_errors_and_missing_figures(tmp_path, page: str) -> None:
    """The DOM probes are not vacuous: a thrown error and a figure that never draws show up."""
    browser.require_chromium()
    div = '<div class="plot" id="fig-costs" style="height:380px"></div>'
    assert page.count(div) == 1
    broken = page.replace(div, "").replace(
        "</body>", "<script>throw new Error('planted failure');</script></body>"
    )
    html_path = tmp_path / "broken.html"
    html_path.write_text(broken, encoding="utf-8")
    dom = browser.render(html_path, timeout_s=90)
    attrs = browser.body_attributes(dom)
    text = browser.element_text(dom, "script-errors")
    assert attrs.get("data-script-errors") == "2", text  # the planted error, the lost figure
    assert "planted failure" in text and "no element #fig-costs" in text
    assert attrs.get("data-figures-rendered") == str(N_CORE - 1)  # the others still drew


def test_compressed_plotly_js_is_cached_on_disk_and_identical(tmp_path) -> None:
    """The level-9 gzip of plotly.js is computed once per plotly.js and read back after, from
    the cache folder it is given (a run's <output root>/cache) and from nowhere else."""
    import base64 as b64
    import gzip as gz

    import plotly.offline

    from majors_alts_monitor.dashboard import page

    page.plotly_js_gz_b64.cache_clear()
    try:
        first = page.plotly_js_gz_b64(tmp_path)
        (cached,) = tmp_path.glob("plotly-*.gz.b64")
        assert cached.read_text(encoding="ascii") == first == PLOTLY_GZ
        raw = plotly.offline.get_plotlyjs().encode("utf-8")
        assert gz.decompress(b64.b64decode(first)) == raw
        page.plotly_js_gz_b64.cache_clear()
        assert page.plotly_js_gz_b64(tmp_path) == first  # read back from the file
        assert page.plotly_js_gz_b64(None) == first  # no folder: computed, nothing written
    finally:
        page.plotly_js_gz_b64.cache_clear()


def _figure_strings(page: str) -> list[str]:
    """Every string of every figure spec, as plotly.js receives it (JSON decoded)."""
    import json

    out: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for spec in re.findall(
        r'<script type="application/json" data-figure="[^"]+">(.*?)</script>', page
    ):
        walk(json.loads(spec))
    return out


def test_asset_ids_never_reach_plotly_as_markup(full: DashboardData) -> None:
    """Issue 17, case 9: plotly reads ``<a href>`` in labels as a link. An alt named
    ``<A HREF="https://evil.example/">`` is shown as that text in every chart label (entities),
    never as markup, and every table escapes it."""
    evil = '<A HREF="https://evil.example/">'
    at = full.attribution
    assert at is not None
    ids = at["asset_id"].to_list()
    at = at.with_columns(pl.Series("asset_id", [*ids[:2], evil, *ids[3:]]))
    page = render_dashboard(replace(full, attribution=at))
    strings = _figure_strings(page)
    assert any("&lt;A HREF=&quot;https://evil.example/&quot;&gt;" in s for s in strings)
    assert not [s for s in strings if "<a href" in s.lower()]
    assert evil not in _strip_bundle(page)
    before = render_dashboard(full)  # the rest of the page is as it was
    assert _n_figures(page) == _n_figures(before)


def test_a_damaged_plotly_cache_is_computed_again(tmp_path: Path) -> None:
    """Issue 17, case 6: a corrupt ``cache/plotly-*.gz.b64`` is checked against its hash and
    never embedded (the dashboard drew 0 of 11 charts); it is computed again and replaced."""
    import base64 as b64
    import gzip as gz

    from majors_alts_monitor.dashboard import page as pg

    pg.plotly_js_gz_b64.cache_clear()
    try:
        good = pg.plotly_js_gz_b64(tmp_path)
        (cached,) = tmp_path.glob("plotly-*.gz.b64")
        for damage in (good[: len(good) // 2], "A" * len(good), good[:-8] + "AAAAAAAA"):
            cached.write_text(damage, encoding="ascii")
            pg.plotly_js_gz_b64.cache_clear()
            got = pg.plotly_js_gz_b64(tmp_path)
            assert got == good and gz.decompress(b64.b64decode(got)) == pg.plotly_js_bytes()
            assert cached.read_text(encoding="ascii") == good  # replaced
        (tmp_path / f"{cached.name}.sha256").unlink()  # no hash beside it: not trusted
        cached.write_text("A" * 100, encoding="ascii")
        pg.plotly_js_gz_b64.cache_clear()
        assert pg.plotly_js_gz_b64(tmp_path) == good
    finally:
        pg.plotly_js_gz_b64.cache_clear()
