"""Acceptance statistics on synthetic lakes (DESIGN.md habit 10: recovery and no-edge tests).

(a) Planted world: the alt-vs-majors spread drifts with a hidden regime that the features
    lean on, so the gated strategy should beat the always-on book out of sample on the same
    days, for at least 4 of 5 seeds.
(b) Null world: the same draws with no edge; the deflated Sharpe ratio must not claim
    significance (< 0.95) in at least 9 of 10 seeds.
(c) Power (issue 9): the deflated Sharpe at the effective number of trials
    (``multiple_testing``) reaches >= 0.90 on at least 3 of the 5 planted seeds, and exceeds
    0.95 on at most 1 of the 10 null seeds. Both tables are printed.

Lakes: 40 assets, 2019-01-01..2025-12-31, default configuration with ``stats.n_boot = 500``.
Every seed's numbers are printed (``pytest -s`` shows them; they also appear on failure).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from majors_alts_monitor import pipeline
from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

START, END = date(2019, 1, 1), date(2025, 12, 31)
N_ASSETS = 40


_KPIS: dict[tuple[str, int], dict] = {}


def _run(tmp: Path, world: str, seed: int) -> dict:
    """kpis.json of one synthetic world; each (world, seed) runs once per session (the tests of
    this module share the runs)."""
    if (world, seed) not in _KPIS:
        spec = SyntheticSpec(n_assets=N_ASSETS, start=START, end=END, world=world, seed=seed)
        lake, _ = write_lake(generate(spec), tmp / f"{world}{seed}")
        cfg = Config().with_overrides(lake=lake, output_root=tmp / f"out_{world}{seed}")
        cfg = cfg.model_copy(
            update={
                "stats": cfg.stats.model_copy(update={"n_boot": 500}),
                "report": cfg.report.model_copy(update={"robustness": False}),  # not tested here
            }
        )
        _KPIS[(world, seed)] = pipeline.run(cfg, START, END).kpis
    return _KPIS[(world, seed)]


@pytest.mark.slow
def test_planted_world_gated_strategy_beats_always_on(tmp_path: Path) -> None:
    wins = 0
    lines = []
    for seed in range(5):
        k = _run(tmp_path, "planted", seed)
        s, b = k["strategy"], k["benchmark_always_on"]
        win = s["sharpe"] > b["sharpe"]
        wins += win
        lines.append(
            f"planted seed {seed}: strategy sharpe {s['sharpe']:+.3f} vs always-on "
            f"{b['sharpe']:+.3f} ({'win' if win else 'LOSS'}); exposure share "
            f"{s['exposure_share']:.2f}; fees {s['total_fees']:.4f} slippage "
            f"{s['total_slippage']:.4f}; DSR {k['walk_forward']['deflated_sharpe']:.3f}; "
            f"days {k['period']['days']}"
        )
        print(lines[-1])
    assert wins >= 4, "\n".join(lines)


@pytest.mark.slow
def test_null_world_deflated_sharpe_not_significant(tmp_path: Path) -> None:
    quiet = 0
    lines = []
    for seed in range(10):
        k = _run(tmp_path, "null", seed)
        dsr = k["walk_forward"]["deflated_sharpe"]
        ok = dsr < 0.95
        quiet += ok
        lines.append(
            f"null seed {seed}: deflated Sharpe {dsr:.4f} ({'ok' if ok else 'SIGNIFICANT'}); "
            f"OOS sharpe {k['walk_forward']['oos_sharpe']:+.3f}; n_trials "
            f"{k['walk_forward']['n_trials']}; pbo {k['walk_forward']['pbo']:.3f}"
        )
        print(lines[-1])
    assert quiet >= 9, "\n".join(lines)


def _dsr_row(world: str, seed: int, k: dict) -> str:
    wf = k["walk_forward"]
    return (
        f"{world:7s} {seed:4d} {wf['oos_sharpe']:+8.3f} {wf['n_trials']:6d} "
        f"{wf['deflated_sharpe']:8.4f} {wf['effective_n_trials']:7.2f} "
        f"{wf['deflated_sharpe_effective']:8.4f} {wf['deflated_sharpe_hurdle']:7.3f} "
        f"{wf['deflated_sharpe_hurdle_effective']:7.3f} {wf['probabilistic_sharpe']:7.4f} "
        f"{wf['min_track_record_days']:9.0f}"
    )


@pytest.mark.slow
def test_effective_n_deflated_sharpe_has_power_and_stays_quiet_on_null(tmp_path: Path) -> None:
    head = "world   seed  oos_sr  n_trl  dsr_raw   n_eff  dsr_eff  hurdle  h_eff     psr  mintrl_d"
    planted = [_run(tmp_path, "planted", s) for s in range(5)]
    null = [_run(tmp_path, "null", s) for s in range(10)]
    lines = [head]
    lines += [_dsr_row("planted", s, k) for s, k in enumerate(planted)]
    lines += [_dsr_row("null", s, k) for s, k in enumerate(null)]
    print("\n" + "\n".join(lines))
    hits = sum(k["walk_forward"]["deflated_sharpe_effective"] >= 0.90 for k in planted)
    false = sum(k["walk_forward"]["deflated_sharpe_effective"] > 0.95 for k in null)
    for k in planted + null:
        wf = k["walk_forward"]
        assert wf["effective_n_method"] == "participation_ratio"
        assert 1.0 <= wf["effective_n_trials"] <= wf["n_trials"]
        assert wf["deflated_sharpe"] <= wf["deflated_sharpe_effective"] + 1e-12
    assert hits >= 3 and false <= 1, "\n".join(lines)
