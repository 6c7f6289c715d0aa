"""The run's selection-aware test and neutrality warnings, end to end on a small synthetic lake:
``walk_forward.spa`` is the SPA of the walk-forward book and the search's trials (recomputed
here from the pipeline's own pieces), a sampled family says so without moving the effective-N
figures, the gated book's Newey-West lag comes from its invested days, and a realized beta with
|t| > 2 is a warning on every surface (console, dashboard, kpis.json, signals_today.json)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from majors_alts_monitor import pipeline
from majors_alts_monitor.backtest.trials import trial_family
from majors_alts_monitor.backtest.walk import walk_forward
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.report.outputs import OutputPaths
from majors_alts_monitor.report.summary import dashboard_html, summary_text
from majors_alts_monitor.stats import neutrality, selection

START, END = date(2019, 1, 1), date(2021, 6, 30)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(n_assets=20, start=START, end=END, world="planted", seed=4)
    lake_dir, _ = write_lake(generate(spec), tmp_path_factory.mktemp("lake"))
    return lake_dir


def _cfg(lake: Path, out: Path, spa_max: int = 5000) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    return cfg.model_copy(
        update={
            "stats": cfg.stats.model_copy(
                update={"n_boot": 300, "pbo_blocks": 8, "spa_max_trials": spa_max}
            ),
            "report": cfg.report.model_copy(update={"robustness": False}),
            "walkforward": cfg.walkforward.model_copy(update={"train_days": 200, "test_days": 60}),
            "regime": cfg.regime.model_copy(  # a searched family: the composite mode's grid
                update={
                    "mode": "composite",
                    "grid": cfg.regime.grid.model_copy(update={"max_sets": 120}),
                }
            ),
        }
    )


def test_spa_keys_are_the_spa_of_the_book_and_every_trial(lake: Path, tmp_path: Path) -> None:
    cfg = _cfg(lake, tmp_path / "o")
    res = pipeline.run(cfg, START, END)
    spa = res.kpis["walk_forward"]["spa"]
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(START, END), START, END)
    wf = walk_forward(cfg, p, START, END)
    d0, d1 = wf.folds[0].test_start, int(wf.stitched.pnl_idx[-1] - 1)
    fam = trial_family(cfg, p, wf.grid, wf.fits, d0, d1)
    assert fam is not None and fam.n_trials == wf.grid.size == 120 and not fam.sampled
    idx = wf.stitched.pnl_idx
    x = np.column_stack([wf.stitched.strat.net[idx], fam.returns])
    rb = wf.stitched.bench.net[idx]
    kw = {"n_boot": 300, "mean_block": cfg.stats.mean_block, "seed": cfg.stats.seed}
    flat, on = selection.spa_test(x, **kw), selection.spa_test(x, rb, **kw)
    assert spa["p_value"] == flat.p_value and spa["p_value_always_on"] == on.p_value
    assert spa["vs_flat"]["statistic"] == pytest.approx(flat.statistic, rel=1e-12)
    assert spa["vs_flat"]["walk_forward_statistic"] == pytest.approx(flat.statistics[0])
    assert spa["family_size"] == 121 and spa["resamples"] == 300
    best = spa["vs_flat"]["best"]
    assert best == ("walk_forward" if flat.best == 0 else int(fam.trials[flat.best - 1]))
    sm = selection.stepm(x, rb, **kw)
    assert spa["vs_always_on"]["stepm_n_superior"] == sm.n_superior
    # the trials' columns are the search kernel's: their Sharpe is trials.parquet's OOS Sharpe
    sr = fam.returns.mean(axis=0) / fam.returns.std(axis=0, ddof=1)
    np.testing.assert_allclose(sr, wf.trial_sharpe, rtol=1e-9, atol=1e-12)


def test_a_sampled_family_is_stated_and_moves_nothing_else(lake: Path, tmp_path: Path) -> None:
    full = pipeline.run(_cfg(lake, tmp_path / "a"), START, END).kpis
    part = pipeline.run(_cfg(lake, tmp_path / "b", spa_max=50), START, END).kpis
    spa = part["walk_forward"]["spa"]
    assert spa["family_sampled"] and spa["family_evaluated"] == 51 and spa["family_size"] == 121
    assert spa["family_sampling"]["trials"][-1] == 50
    for key in ("effective_n_trials", "deflated_sharpe_effective", "deflated_sharpe", "pbo"):
        assert part["walk_forward"][key] == full["walk_forward"][key]
    assert part["strategy"] == full["strategy"]


def test_gated_book_newey_west_lag_is_its_own_length(lake: Path, tmp_path: Path) -> None:
    k = pipeline.run(_cfg(lake, tmp_path / "o"), START, END).kpis
    ms = k["neutrality"]["market_spread"]
    n_inv = ms["strategy"]["n_days"]
    assert n_inv < k["period"]["days"]
    assert ms["strategy"]["nw_lags"] == neutrality.newey_west_lags(n_inv)
    assert (
        ms["nw_lags"]
        == ms["always_on"]["nw_lags"]
        == neutrality.newey_west_lags(k["period"]["days"])
    )


def test_beta_warning_text_and_threshold() -> None:
    fit = {
        "beta_market": 0.064,
        "t_market": 2.68,
        "beta_spread": 0.01,
        "t_spread": -0.4,
        "n_days": 700,
        "nw_lags": 6,
    }
    w = neutrality.beta_warning(fit)
    assert w is not None and "market (BTC/ETH average) beta +0.064 (t +2.68)" in w
    assert "700 invested days" in w and "6 lags" in w and "spread" not in w.split("; ")[0][:40]
    assert neutrality.beta_warning({**fit, "t_market": 1.99}) is None
    both = neutrality.beta_warning({**fit, "t_spread": -2.5, "beta_spread": -0.05})
    assert both is not None and "spread (BTC - ETH) beta -0.050 (t -2.50)" in both
    assert neutrality.beta_warning({**fit, "t_market": float("nan")}) is None


def test_a_significant_beta_is_a_warning_on_every_surface(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the threshold at 0 every finite t warns: the warning reaches kpis.json (its own key
    and the run's list), the run's warnings (console, run_manifest), signals_today.json's
    warnings and the dashboard."""
    monkeypatch.setattr(neutrality, "T_WARN", 0.0)
    cfg = _cfg(lake, tmp_path / "o")
    res = pipeline.run(cfg, START, END)
    w = res.kpis["neutrality"]["market_spread"]["warning"]
    assert w and w.startswith("the gated book is not neutral out of sample")
    assert w in res.warnings and w in res.kpis["warnings"] and w in res.signal["warnings"]
    assert w in res.manifest["warnings"]
    paths = OutputPaths(cfg.paths.output_root)
    assert w in summary_text(res, paths)
    import html

    assert html.escape(w) in dashboard_html(res, cfg)
