"""The tearsheet numbers pinned to quantstats 0.0.86 (periods 365), hand-checked trade lists,
and the run's robustness re-runs, P&L attribution and trial OOS Sharpe on a synthetic lake."""

from __future__ import annotations

import datetime as dt
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from majors_alts_monitor.backtest import walk
from majors_alts_monitor.config import load_config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.stats import tearsheet

SEED = 20261130


def _returns(n: int = 900, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0004, 0.02, n)
    r[100:130] = 0.0  # a flat stretch (a flat regime)
    dates = np.arange(np.datetime64("2021-02-17"), np.datetime64("2021-02-17") + n)
    return dates, r, pd.Series(r, index=pd.DatetimeIndex(dates.astype("datetime64[ns]")))


@pytest.fixture(scope="module")
def qs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import quantstats

    return quantstats


def test_monthly_returns_match_quantstats(qs) -> None:
    dates, r, s = _returns()
    got = tearsheet.monthly_returns(dates, r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = qs.stats.monthly_returns(s, eoy=True, compounded=True)
    assert got["year"].to_list() == [int(y) for y in want.index]
    for rec, (_, row) in zip(got.iter_rows(named=True), want.iterrows(), strict=True):
        for m in tearsheet.MONTHS:
            if rec[m] is None:
                assert row[m] == 0.0  # quantstats shows a month without days as 0
            else:
                assert rec[m] == pytest.approx(row[m], abs=1e-12)
        assert rec["EOY"] == pytest.approx(row["EOY"], abs=1e-12)


def test_rolling_sharpe_and_volatility_match_quantstats(qs) -> None:
    _, r, s = _returns()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_sr = qs.stats.rolling_sharpe(s, rolling_period=180, periods_per_year=365).to_numpy()
        want_vol = qs.stats.rolling_volatility(
            s, rolling_period=180, periods_per_year=365
        ).to_numpy()
    got_sr = tearsheet.rolling_sharpe(r, 180)
    got_vol = tearsheet.rolling_volatility(r, 180)
    assert np.isnan(got_sr[:179]).all() and np.isnan(want_sr[:179]).all()
    np.testing.assert_allclose(got_sr[179:], want_sr[179:], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_vol[179:], want_vol[179:], rtol=1e-9, atol=1e-12)


def test_rolling_sharpe_is_nan_on_a_flat_window() -> None:
    r = np.r_[np.zeros(30), np.full(10, 0.01)]
    out = tearsheet.rolling_sharpe(r, 10)
    assert np.isnan(out[9:30]).all()  # zero variance: undefined, not +-inf
    with pytest.raises(ValueError, match="window"):
        tearsheet.rolling_sharpe(r, 1)


def test_drawdown_details_match_quantstats(qs) -> None:
    dates, r, s = _returns()
    got = tearsheet.drawdown_details(dates, r, top=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dd = qs.stats.to_drawdown_series(s)
        want = qs.stats.drawdown_details(dd).sort_values("max drawdown").head(5)
    assert got.height == 5
    for rec, (_, row) in zip(got.iter_rows(named=True), want.iterrows(), strict=True):
        assert str(rec["start"]) == str(row["start"])[:10]
        assert str(rec["trough"]) == str(row["valley"])[:10]
        assert rec["depth"] == pytest.approx(row["max drawdown"] / 100, abs=1e-12)
        assert rec["length_days"] == row["days"]
        end = date.fromisoformat(str(row["end"])[:10])
        if rec["open"]:
            assert rec["recovery"] is None and end == dates[-1].item()
        else:
            assert rec["recovery"] == end + dt.timedelta(days=1)


def test_drawdown_details_hand_example() -> None:
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-08"))
    r = np.array([-0.1, 0.05, 0.06, -0.2, 0.1, 0.0, 0.0])
    got = tearsheet.drawdown_details(dates, r)
    # equity .9 .945 1.0017 .80136 .8815 .8815 .8815: two drawdowns, the second open
    assert got["start"].to_list() == [date(2024, 1, 4), date(2024, 1, 1)]
    assert got["recovery"].to_list() == [None, date(2024, 1, 3)]
    assert got["depth"][0] == pytest.approx(0.80136 / 1.0017 - 1, rel=1e-4)
    assert got["depth"][1] == pytest.approx(-0.1)
    assert got["length_days"].to_list() == [4, 2]
    assert got["open"].to_list() == [True, False]
    assert tearsheet.drawdown_details(dates[:0], r[:0]).height == 0


def test_trade_list_by_hand() -> None:
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-08"))
    regime = ["RISK_ON_MAJORS", "RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS", "RISK_ON_MAJORS"]
    regime += ["RISK_ON_MAJORS", "BALANCED"]
    exposure = [1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.0]
    turnover = [2.0, 0.1, 2.0, 0.0, 1.0, 0.05, 1.0]
    fee = [0.001, 0.0001, 0.001, 0.0, 0.0005, 0.0, 0.0005]
    slip = [0.002, 0.0, 0.002, 0.0, 0.001, 0.0, 0.001]
    t = tearsheet.trade_list(dates, regime, exposure, turnover, fee, slip)
    assert t["kind"].to_list() == ["entry", "exit", "no trade", "entry", "exit"]
    assert t["date"].to_list() == [date(2024, 1, d) for d in (1, 3, 4, 5, 7)]
    assert t["from_regime"].to_list() == [None, "RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS",
                                          "RISK_ON_MAJORS"]  # fmt: skip
    assert t["exposure_change"].to_list() == [1.0, -1.0, 0.0, 0.5, -0.5]
    assert t["total_cost"].to_list() == pytest.approx([0.003, 0.003, 0.0, 0.0015, 0.0015])


def test_attribution_sums_to_the_gross_return() -> None:
    from majors_alts_monitor.backtest.engine import run_backtest
    from majors_alts_monitor.config import CostsConfig

    rng = np.random.default_rng(SEED)
    n, k = 200, 6
    w = np.zeros((n, k))
    w[:, 0], w[:, 1] = 0.7, 0.3
    w[:, 2:] = -0.25 * (rng.random((n, k - 2)) < 0.8)
    ret = rng.normal(0, 0.03, (n, k))
    ret[rng.random((n, k)) < 0.02] = np.nan  # undefined returns count 0, as in the backtest
    bt = run_backtest(w, ret, None, np.full((n, k), 1e9), CostsConfig())
    held = np.vstack([np.zeros((1, k)), w[:-1]])
    at = tearsheet.pnl_attribution(held[1:], ret[1:], ("BTC", "ETH", "A", "B", "C", "D"), 0, 1)
    assert at["pnl"].sum() == pytest.approx(bt.gross[1:].sum(), abs=1e-12)
    assert at["leg"].to_list()[:2] == ["BTC", "ETH"]
    basket = at.filter(pl.col("leg") == "basket")
    assert (basket["mean_weight"] < 0).all()  # shorts
    assert basket["pnl"].to_list() == sorted(basket["pnl"].to_list(), reverse=True)


# --------------------------------------------------------------------------------------------
# The run: robustness on the prepared arrays, attribution, trials' OOS Sharpe
# --------------------------------------------------------------------------------------------

START, END = date(2020, 1, 1), date(2023, 3, 31)


@pytest.fixture(scope="module")
def run_result(tmp_path_factory: pytest.TempPathFactory):
    from majors_alts_monitor import pipeline
    from majors_alts_monitor.lake import data_io

    out = tmp_path_factory.mktemp("synth_ts")
    spec = SyntheticSpec(n_assets=20, start=START, end=END, world="planted", seed=5)
    lake_dir, _ = write_lake(generate(spec), out)
    cfg = load_config(None).with_overrides(lake=lake_dir, output_root=Path(out) / "o")
    rep = cfg.report.model_copy(
        update={"start_shifts": [0, 30], "cost_multipliers": [0.0, 1.0, 2.0]}
    )
    # the tearsheet's trial panels (trials heat map, PBO, trial Sharpe) need the composite
    # search's many trials; the default mode has one
    reg = cfg.regime.model_copy(update={"mode": "composite"})
    cfg = cfg.model_copy(update={"report": rep, "regime": reg})
    reads: list[tuple] = []
    orig = data_io.LakeReader.scan_table

    def counting(self, *a, **kw):
        reads.append(a)
        return orig(self, *a, **kw)

    data_io.LakeReader.scan_table = counting
    try:
        res = pipeline.run(cfg, START, END)
    finally:
        data_io.LakeReader.scan_table = orig
    return res, reads


def test_robustness_reuses_the_prepared_arrays(run_result) -> None:
    res, reads = run_result
    tables = [a[0] for a in reads]
    # the run's one read of each table; the re-runs read nothing
    assert "fact_price" in tables and len(tables) == len(set(tables))
    rb = res.kpis["robustness"]
    assert set(rb) >= {"start_shift", "cost_multiplier", "note"}
    s0, s30 = rb["start_shift"]
    wf, period = res.kpis["walk_forward"], res.kpis["period"]
    assert s0["shift_days"] == 0 and s0["oos_sharpe"] == wf["oos_sharpe"]
    assert s0["oos_start"] == period["start"] and s0["n_days"] == period["days"]
    shifted = date.fromisoformat(period["start"]) + dt.timedelta(days=30)
    assert s30["oos_start"] == shifted.isoformat() and s30["n_days"] == period["days"] - 30
    m0, m1, m2 = rb["cost_multiplier"]
    assert m0["multiplier"] == 0.0 and m0["total_costs"] == 0.0  # no costs at all
    s = res.kpis["strategy"]
    assert m1["total_costs"] == pytest.approx(s["total_fees"] + s["total_slippage"], rel=1e-12)
    assert m1["oos_sharpe"] == wf["oos_sharpe"]
    assert m2["multiplier"] == 2.0 and m2["total_costs"] > 0


def test_robustness_from_shared_fits_equals_fresh_searches(run_result) -> None:
    """The run fits the cost multipliers in its own kernel pass and the re-runs reuse windows
    already searched; searching every re-run from scratch gives the same rows."""
    from majors_alts_monitor import pipeline
    from majors_alts_monitor.backtest.robustness import robustness

    res, _ = run_result
    cfg = load_config(None).with_overrides(lake=Path(res.manifest["lake"]["lake"]))
    rep = cfg.report.model_copy(
        update={"start_shifts": [0, 90], "cost_multipliers": [0.0, 1.0, 2.0]}
    )
    # the shared fits are the composite search's (the other modes fit nothing per cost)
    reg = cfg.regime.model_copy(update={"mode": "composite"})
    cfg = cfg.model_copy(update={"report": rep, "regime": reg})
    lake = pipeline.make_reader(cfg).read(START, END)
    s, e, _ = pipeline.effective_window(lake, START, END)
    p = pipeline.prepare(cfg, lake, s, e)
    wf = pipeline.walk_forward(cfg, p, s, e, cost_multipliers=(0.0, 1.0, 2.0))
    assert {m for m, _, _ in wf.models} == {0.0, 1.0, 2.0}
    plain = pipeline.walk_forward(cfg, p, s, e)
    assert plain.stitched.strat.net.tobytes() == wf.stitched.strat.net.tobytes()
    shared = robustness(cfg, p, wf.stitched, wf.models)
    fresh = robustness(cfg, p, wf.stitched)
    for key in ("start_shift", "cost_multiplier"):
        assert shared[key] == fresh[key]
    # the always-on book's backtest runs when first read, once: the re-runs never read it
    calls = []
    real = walk.backtest_exposure

    def counted(*args):
        calls.append(args[-1])
        return real(*args)

    walk.backtest_exposure = counted
    try:
        s2 = walk.stitch(cfg, p, wf.fits)
        assert len(calls) == 1 and robustness(cfg, p, s2, wf.models) and len(calls) == 4
        assert (
            s2.bench is s2.bench and len(calls) == 5
        )  # one per re-run (shift 90, x0, x2), then it
    finally:
        walk.backtest_exposure = real
    assert calls[-1] is s2.bench_exposure
    assert s2.bench.net.tobytes() == wf.stitched.bench.net.tobytes()


def test_the_search_cost_table_is_linear_in_the_bps(run_result) -> None:
    """robustness scales the search's cost table instead of recomputing it: exact by linearity."""
    from majors_alts_monitor import pipeline
    from majors_alts_monitor.backtest.robustness import scaled_costs
    from majors_alts_monitor.regime.search import transition_costs

    res, _ = run_result
    cfg = load_config(None).with_overrides(lake=Path(res.manifest["lake"]["lake"]))
    p = pipeline.prepare(
        cfg,
        pipeline.make_reader(cfg).read(START, END),
        START,
        END,
    )
    c2 = transition_costs(
        p.book.weights,
        p.inputs.vscale,
        p.inputs.levels,
        p.panel.ret,
        p.universe.median_volume,
        scaled_costs(cfg, 2.0).costs,
    )
    np.testing.assert_allclose(c2, 2.0 * p.inputs.cost, rtol=1e-12, atol=1e-15)


def test_attribution_of_the_run_sums_to_its_gross(run_result) -> None:
    res, _ = run_result
    at = res.attribution
    assert at is not None and set(at["leg"].unique()) == {"BTC", "ETH", "basket"}
    assert at["pnl"].sum() == pytest.approx(res.pnl["gross_return"].sum(), abs=1e-10)
    btc = at.filter(pl.col("leg") == "BTC")
    assert btc["mean_weight"][0] > 0  # the long leg


def test_trials_carry_their_oos_sharpe(run_result) -> None:
    res, _ = run_result
    t = res.trials
    assert "oos_sharpe_per_period" in t.columns
    assert t["oos_sharpe_per_period"].null_count() == 0
    per_trial = t.group_by("trial").agg(pl.col("oos_sharpe_per_period").n_unique().alias("u"))
    assert (per_trial["u"] == 1).all()  # one OOS span for every fold's copy of a trial
    var = float(np.var(t.filter(pl.col("fold") == 0)["oos_sharpe_per_period"].to_numpy(), ddof=1))
    assert var == pytest.approx(res.kpis["walk_forward"]["trial_sharpe_variance_per_period"])


def test_the_run_renders_every_panel(run_result) -> None:
    from majors_alts_monitor.report.summary import dashboard_html

    res, _ = run_result
    page = dashboard_html(res, load_config(None))
    assert 'id="fig-robustness"' in page and 'id="fig-trials"' in page
    assert 'id="fig-attribution"' in page and '<table id="trades-table">' in page
    assert '<span id="latest-regime"' in page


def test_robustness_can_be_switched_off(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert cfg.report.robustness is True
    off = cfg.model_copy(update={"report": cfg.report.model_copy(update={"robustness": False})})
    assert off.report.robustness is False
    with pytest.raises(ValueError, match="start_shifts"):
        type(cfg.report)(start_shifts=[-1])


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

_returns_st = arrays(
    np.float64,
    st.integers(1, 800),
    elements=st.floats(-0.5, 0.5, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None)
@given(r=_returns_st, start=st.integers(0, 3000))
def test_months_compound_to_the_year_and_drawdowns_are_consistent(r: np.ndarray, start: int):
    d0 = np.datetime64("2018-01-01") + start
    dates = np.arange(d0, d0 + r.size)
    m = tearsheet.monthly_returns(dates, r)
    for rec in m.iter_rows(named=True):
        months = [rec[k] for k in tearsheet.MONTHS if rec[k] is not None]
        assert np.prod(1 + np.array(months)) - 1 == pytest.approx(rec["EOY"], rel=1e-9, abs=1e-12)
    total = np.prod(1 + m["EOY"].to_numpy()) - 1
    assert total == pytest.approx(np.prod(1 + r) - 1, rel=1e-9, abs=1e-9)
    dd = tearsheet.drawdown_details(dates, r, top=5)
    if dd.height:
        eq = np.cumprod(1 + r)
        worst = float(np.min(eq / np.maximum.accumulate(np.r_[1.0, eq])[1:] - 1))
        assert dd["depth"][0] == pytest.approx(worst, abs=1e-12)
        assert (dd["depth"] < 0).all() and (dd["length_days"] >= 1).all()
        assert (dd["start"] <= dd["trough"]).all()


@settings(max_examples=60, deadline=None)
@given(
    v=arrays(np.float64, st.integers(1, 5000), elements=st.floats(-1e6, 1e6)),
    period=st.integers(1, 400),
    max_points=st.integers(50, 2000),
)
def test_display_index_properties(v: np.ndarray, period: int, max_points: int) -> None:
    from majors_alts_monitor.dashboard import display_index

    step = (np.arange(v.size) // period) % 3
    idx = display_index([v], [step], max_points=max_points)
    assert idx[0] == 0 and idx[-1] == v.size - 1 and np.all(np.diff(idx) > 0)
    if v.size <= max_points:
        assert idx.size == v.size
    else:
        changes = int(np.sum(np.diff(step) != 0))
        assert idx.size <= max_points + 2 * changes + 1
        assert v.argmax() in idx and v.argmin() in idx
