"""Sweep keys that cannot matter (``sweep/inert.py``): every key the sweep collapses as "not
read" really leaves a point's result and trials unchanged (each claim run on a small synthetic
lake, per mode); points differing only in what sets the composite search's trial 0 share every
other trial and the sweep-level deflated Sharpe counts those once; the issue's
``regime.min_dwell: [3, 7]`` is warned about; keys that do matter are never collapsed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from majors_alts_monitor.config import parse_config
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.sweep import inert
from majors_alts_monitor.sweep.results import summary
from majors_alts_monitor.sweep.spec import load_sweep, set_dotted
from majors_alts_monitor.sweep.worker import PointTask, _run

START, END = date(2020, 1, 1), date(2021, 12, 31)
BASE: dict[str, Any] = {
    "regime": {"grid": {"max_sets": 40}},
    "stats": {"n_boot": 100, "pbo_blocks": 8},
    "walkforward": {"train_days": 200, "test_days": 90},
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inert_lake")
    lake_dir, _ = write_lake(
        generate(SyntheticSpec(n_assets=16, start=START, end=END, seed=11)), out
    )
    return lake_dir


def point(lake: Path, overrides: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray | None]:
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["paths"] = {"data_lake": str(lake), "duckdb": None}
    for k, v in overrides.items():
        set_dotted(raw, k, v, "test")
    row, sr, _ = _run(PointTask(0, parse_config(raw), START, END), {})
    return row, sr


@pytest.mark.parametrize(
    ("mode", "key", "a", "b"),
    [
        ("composite", "regime.n_states", 3, 5),
        ("composite", "regime.jump.penalties", [3.0], [30.0, 100.0]),
        ("composite", "signals.history_days", None, 400),
        ("composite", "stats.rolling_beta_window", 60, 20),
        ("composite", "vol_target.target_ann_vol", 0.2, 0.5),
        ("kmeans", "regime.grid.min_dwells", [1, 3, 7], [2]),
        ("kmeans", "regime.band", 0.1, 0.4),
        ("kmeans", "stats.pbo_blocks", 8, 16),
        ("jump", "regime.grid.bands", [0.0, 0.1], [0.3]),
        ("jump", "regime.default_weights", {"alt_mom_7d": -1.0}, {"breadth_7d": 1.0}),
    ],
)
def test_a_key_said_not_read_leaves_the_point_unchanged(
    lake: Path, mode: str, key: str, a: Any, b: Any
) -> None:
    base = {"regime.mode": mode}
    if mode == "jump":
        base["regime.jump.penalties"] = [10.0]
        base["regime.jump.n_init"] = 2
    cfg = parse_config({**BASE, "regime": {**BASE["regime"], "mode": mode}})
    assert key in {u.key for u in inert.unread(cfg, write_reports=False)} or any(
        key.startswith(u.key + ".") for u in inert.unread(cfg, write_reports=False)
    )
    ra, sa = point(lake, {**base, key: a})
    rb, sb = point(lake, {**base, key: b})
    assert ra.keys() == rb.keys()
    for k, v in ra.items():  # NaN (one trial: no PBO) equals NaN here
        w = rb[k]
        assert v == w or (isinstance(v, float) and np.isnan(v) and np.isnan(w)), k
    assert (sa is None and sb is None) or np.array_equal(sa, sb)


def test_the_issues_min_dwell_sweep_is_warned_and_its_shared_trials_counted_once(
    lake: Path, tmp_path: Path
) -> None:
    # the composite mode's search (the forecast mode reads regime.min_dwell itself)
    comp = {**BASE, "regime": {**BASE["regime"], "mode": "composite"}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(comp))
    doc = {"base_config": "base.yaml", "lake": str(lake), "grid": {"regime.min_dwell": [3, 7]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    spec = load_sweep(tmp_path / "s.yaml")
    assert len(spec.points) == 2  # it does set trial 0: not one configuration
    assert any(
        "regime.min_dwell only sets the composite search's trial 0" in w for w in spec.warnings
    )
    assert spec.points[0].search_hash == spec.points[1].search_hash
    rows, srs = {}, {}
    for p in spec.points:
        rows[p.id], srs[p.id] = point(
            lake, {"regime.mode": "composite", "regime.min_dwell": p.values["regime.min_dwell"]}
        )
    # every trial but the first is the same in both points
    assert np.array_equal(srs[0][1:], srs[1][1:]) and srs[0][0] != srs[1][0]
    s = summary(spec, rows, srs)["sweep_deflated_sharpe"]
    n = rows[0]["n_trials"]
    assert s["n_trials_total"] == n + 1 and s["n_trials_shared"] == n - 1
    pooled = np.concatenate([srs[0], srs[1][:1]])
    assert s["trial_sharpe_variance_per_period"] == pytest.approx(float(np.var(pooled, ddof=1)))


def test_keys_that_matter_are_never_collapsed_and_not_read_ones_are(
    lake: Path, tmp_path: Path
) -> None:
    comp = {**BASE, "regime": {**BASE["regime"], "mode": "composite"}}  # the grid's search
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(comp))
    grid = {
        "regime.n_states": [3, 4],
        "regime.grid.min_dwells": [[1, 3], [7]],
        "regime.grid.signs.oi_change_7d": [1.0, -1.0],  # not a score feature: not read
        "costs.taker_fee_bps": [2.0, 5.0],
    }
    doc = {"base_config": "base.yaml", "lake": str(lake), "grid": grid}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    spec = load_sweep(tmp_path / "s.yaml")
    assert len(spec.points) == 4  # min_dwells x taker fee
    assert len(spec.duplicates) == 12
    whys = {d.why for d in spec.duplicates}
    assert any("regime.n_states (only the hmm, kmeans and jump modes read it)" in w for w in whys)
    assert any("regime.grid.signs.oi_change_7d (only its entries for" in w for w in whys)
    warned = " ".join(spec.warnings)
    assert "sweep key regime.n_states cannot matter" in warned
    assert "costs.taker_fee_bps" not in warned and "regime.grid.min_dwells" not in warned
