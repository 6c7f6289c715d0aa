"""Tests of the league (``backtest/league.py``): the traders' rules on the run's book, costs
and folds.

One run on a synthetic lake (module-scoped): the model's entry is the run's strategy and
always-on is ``benchmark_always_on``; the rules' invested days are their definitions applied
to ``features_wide`` by hand; the best single feature of each fold is the argmax of a slow
re-computation of every candidate's training Sharpe net of costs; a lake rewritten after a
fold's train end leaves that fold's choice unchanged (no look-ahead). Holm is pinned to
statsmodels, the numpy SPA adapter to ``arch`` (the field's reference) within the Monte Carlo
error. Seeds are fixed.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from majors_alts_monitor import pipeline
from majors_alts_monitor.backtest import league
from majors_alts_monitor.backtest.stages import z_for
from majors_alts_monitor.config import Config
from majors_alts_monitor.dashboard.league_table import league_table
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.regime.hysteresis import BALANCED, apply_hysteresis
from majors_alts_monitor.tests.backtest.test_walkforward import _rewrite_after

START, END = date(2019, 1, 1), date(2021, 12, 31)


def _cfg(lake: Path, out: Path) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    return cfg.model_copy(
        update={
            "stats": cfg.stats.model_copy(update={"n_boot": 200}),
            "report": cfg.report.model_copy(update={"robustness": False}),
        }
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(n_assets=30, start=START, end=END, seed=17)
    return write_lake(generate(spec), tmp_path_factory.mktemp("league"))[0]


@pytest.fixture(scope="module")
def run(lake: Path, tmp_path_factory: pytest.TempPathFactory):
    cfg = _cfg(lake, tmp_path_factory.mktemp("league_out"))
    return cfg, pipeline.run(cfg, START, END)


def _entries(res) -> dict[str, dict]:
    return {e["rule"]: e for e in res.kpis["league"]["entries"]}


def test_model_and_always_on_are_the_run_s_own_books(run) -> None:
    _, res = run
    e = _entries(res)
    assert list(e)[0] == "model" and set(e) == {"model", *league.RULES}
    assert e["model"]["oos_sharpe"] == pytest.approx(res.kpis["strategy"]["sharpe"], abs=1e-12)
    on = res.kpis["benchmark_always_on"]
    assert e["always_on"]["oos_sharpe"] == pytest.approx(on["sharpe"], abs=1e-12)
    assert e["always_on"]["days_invested"] == res.kpis["period"]["days"]
    assert e["model"]["days_invested"] == int((res.pnl["exposure"] > 0).sum())
    assert e["model"]["total_fees"] == pytest.approx(res.kpis["strategy"]["total_fees"])
    flat = e["always_flat"]
    assert flat["days_invested"] == 0 and flat["total_fees"] == 0.0
    assert math.isnan(flat["oos_sharpe"]) and flat["avg_daily_turnover"] == 0.0
    for rule, x in e.items():
        lo, hi = x["oos_sharpe_ci95"]
        if rule != "always_flat":
            assert lo <= x["oos_sharpe"] <= hi, rule
        assert set(x["late"]) == {"oos_sharpe", "oos_sharpe_ci95", "ann_return", "days_invested"}


def test_rule_days_follow_their_definitions(run) -> None:
    _, res = run
    e = _entries(res)
    days = res.pnl["date"]
    feats = res.features.join(res.pnl.select("date"), on="date", how="right")
    # the decision of pnl day d is taken on d - 1: shift the features one row
    prev = res.features.filter(res.features["date"] < days.max())
    prev = prev.with_columns(prev["date"].dt.offset_by("1d").alias("date"))
    held = res.pnl.select("date").join(prev, on="date", how="left")
    assert feats.height == held.height == res.kpis["period"]["days"]
    rules = {
        "bitcoin_season": held["altseason_50"].to_numpy() <= 25,
        "btc_dom_up_30d": held["btc_dom_chg_30d"].to_numpy() > 0,
        "eth_btc_down_50d": held["eth_btc_chg_50d"].to_numpy() < 0,
    }
    for rule, on in rules.items():
        assert e[rule]["days_invested"] == int(np.sum(np.nan_to_num(on, nan=0.0) > 0)), rule
    cov = res.kpis["league"]["indicators"]["altseason_50"]
    assert cov["top_n"] == 50 and cov["coins_mean"] <= 30  # a 30-asset lake: partial coverage
    assert "coverage_note" in e["bitcoin_season"] and "fewer coins" in cov["coverage_note"]


def test_best_single_feature_is_the_argmax_of_a_slow_recomputation(lake: Path, tmp_path) -> None:
    cfg = _cfg(lake, tmp_path)
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(START, END), START, END)
    folds = pipeline.fold_schedule(cfg, p.first_day, p.panel.n_days - 1)[:4]
    _, chosen = league.best_single_feature(cfg, p, folds, p.panel.n_days - 1)
    z, signs, inp = z_for(p), cfg.regime.grid.signs, p.inputs
    for f, got in zip(folds, chosen, strict=True):
        a, b = f.train_start, f.train_end
        best, name = -np.inf, ""
        for j, feat in enumerate(p.score_features):
            for s in (signs[feat],) if feat in signs else (1.0, -1.0):
                codes = apply_hysteresis(s * z[a : b + 1, j], -cfg.regime.upper, cfg.regime.upper)
                prev = np.r_[BALANCED, codes[:-1]]
                d = np.arange(a, b + 1)
                pnl = inp.levels[codes] * inp.vscale[d] * np.nan_to_num(inp.book_pnl[d + 1])
                pnl = pnl - inp.cost[d + 1, prev, codes]
                sr = pnl.mean() / pnl.std(ddof=1) if pnl.std() > 0 else 0.0
                if sr > best + 1e-12:
                    best, name = sr, ("+" if s > 0 else "-") + feat
        assert got == name, f"fold {f.index}"


def test_late_holds_yesterday_s_decision_on_the_same_days() -> None:
    e = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.5])
    oos = np.array([False, True, True, True, True, True, False])
    np.testing.assert_array_equal(league.late(e, oos), [0, 0, 1, 1, 0, 1, 0])


@pytest.mark.parametrize(
    ("k", "edge", "seed"), [(1, 0.0008, 1), (1, 0.0, 2), (4, 0.0004, 3), (4, -0.0003, 4)]
)
def test_spa_adapter_equals_arch_within_monte_carlo_error(k: int, edge: float, seed: int) -> None:
    """The league's SPA (``stats.selection.spa_test``, studentised by each difference's
    standard deviation) against ``arch.bootstrap.SPA`` on the same studentised differences
    (consistent p-value): within the two bootstraps' Monte Carlo error (independent draws: 4
    standard errors of a difference at 2,000 resamples each)."""
    from arch.bootstrap import SPA

    rng = np.random.default_rng(seed)
    t = 1200
    base = 0.01 * rng.standard_normal(t)
    wave = 0.003 * np.sin(np.arange(t) / 9.0)[:, None]  # serial dependence for the blocks
    models = base[:, None] + edge + 0.01 * rng.standard_normal((t, k)) + wave
    d = models - base[:, None]
    ref = SPA(np.zeros(t), -d / d.std(axis=0), block_size=10, reps=2000, seed=seed)
    ref.compute()
    want = float(ref.pvalues["consistent"])
    got = league.spa_pvalue(models, base, 2000, 10.0, seed)
    se = math.sqrt(max(want * (1 - want), 0.01) / 2000)
    assert abs(got - want) <= 4 * math.sqrt(2) * se, (got, want)


def test_spa_adapter_edge_cases() -> None:
    rng = np.random.default_rng(4)
    base = 0.01 * rng.standard_normal(1500)
    better = base + 0.002 + 0.005 * rng.standard_normal(1500)
    assert league.spa_pvalue(better, base, 300, 10.0, 1) < 0.01
    worse = base - 0.002 + 0.005 * rng.standard_normal(1500)
    assert league.spa_pvalue(worse, base, 300, 10.0, 1) > 0.3  # about 0.5: not re-centred
    assert math.isnan(league.spa_pvalue(base, base, 300, 10.0, 1))  # nothing to test
    assert math.isnan(league.spa_pvalue(base[:8], base[:8] + 1, 300, 10.0, 1))  # too short
    assert league.spa_pvalue(base + 1e-4, base, 300, 10.0, 1) == 0.0  # always ahead
    assert league.spa_pvalue(base - 1e-4, base, 300, 10.0, 1) == 1.0
    # seeded: the same call gives the same p-value
    assert league.spa_pvalue(better, base, 300, 10.0, 7) == league.spa_pvalue(
        better, base, 300, 10.0, 7
    )


def test_spa_p_values_and_holm_in_kpis_and_the_table(run) -> None:
    _, res = run
    rows = res.kpis["league"]["entries"]
    raw = [r["spa_p_value"] for r in rows[1:]]
    assert all(0.0 <= x <= 1.0 for x in raw if not math.isnan(x))
    np.testing.assert_allclose([r["spa_p_value_holm"] for r in rows[1:]], league.holm(raw))
    html = league_table(res.kpis)
    assert 'id="league-table"' in html and "Holm p" in html and "1 day late" in html
    for r in rows:
        assert f"{r['rule']}:" in html
    assert league_table({}) == ""


def test_rewriting_after_a_fold_s_train_end_leaves_its_choice(lake: Path, tmp_path) -> None:
    cfg = _cfg(lake, tmp_path / "a")
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(START, END), START, END)
    folds = pipeline.fold_schedule(cfg, p.first_day, p.panel.n_days - 1)
    k = 2
    cut = date.fromisoformat(str(np.datetime64(p.panel.dates[folds[k].train_end + 1], "D")))
    _rewrite_after(lake, tmp_path / "changed", cut)
    cfg2 = _cfg(tmp_path / "changed", tmp_path / "b")
    p2 = pipeline.prepare(cfg2, pipeline.make_reader(cfg2).read(START, END), START, END)
    _, a = league.best_single_feature(cfg, p, folds[: k + 1], p.panel.n_days - 1)
    _, b = league.best_single_feature(cfg2, p2, folds[: k + 1], p2.panel.n_days - 1)
    assert a == b
    # every rule's input up to the cut is the same (point in time)
    for name in ("altseason_50", "btc_dom_chg_30d", "eth_btc_chg_50d"):
        j, j2 = p.features.column(name), p2.features.column(name)
        n = folds[k].train_end + 2
        np.testing.assert_array_equal(p.features.raw[:n, j], p2.features.raw[:n, j2])
