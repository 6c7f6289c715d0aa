"""Sweeps: SWEEP.yaml validation, results byte-identical whatever the workers and the order,
a Dask scheduler and worker on loopback, failed points, Ctrl-C, the sweep-level deflated
Sharpe, and the sweep dashboard in a real browser. Small synthetic lake, short windows."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from majors_alts_monitor import cli, stats
from majors_alts_monitor.errors import ConfigError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.sweep.results import summary
from majors_alts_monitor.sweep.spec import load_sweep
from majors_alts_monitor.tests import browser

REPO = Path(__file__).resolve().parents[3]
START, END = date(2020, 1, 1), date(2022, 12, 31)
BASE = {
    "regime": {"grid": {"max_sets": 60}},
    "stats": {"n_boot": 200, "pbo_blocks": 8},
    "walkforward": {"train_days": 200, "test_days": 90},
}
GRID12 = {
    "universe.basket_size": [8, 12],
    "costs.taker_fee_bps": [2.0, 5.0, 10.0],
    "walkforward.train_days": [180, 240],
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep_lake")
    spec = SyntheticSpec(n_assets=24, start=START, end=END, world="planted", seed=5)
    lake_dir, _ = write_lake(generate(spec), out)
    return lake_dir


def write_sweep(folder: Path, lake: Path, grid: dict, **extra: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump(BASE))
    doc = {"base_config": "base.yaml", "lake": str(lake), "grid": grid, **extra}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def results_of(root: Path) -> Path:
    return root / "reports" / "majors_alts" / "sweep" / "sweep_results.parquet"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


# ---------------------------------------------------------------- SWEEP.yaml


def test_grid_expands_in_file_order_then_points(tmp_path: Path, lake: Path) -> None:
    path = write_sweep(
        tmp_path,
        lake,
        {"universe.basket_size": [10, 20], "costs.taker_fee_bps": [1, 2, 3]},
        points=[{"book.weighting": "cap"}],
    )
    spec = load_sweep(path)
    assert len(spec.points) == 7
    assert spec.keys == ("universe.basket_size", "costs.taker_fee_bps", "book.weighting")
    assert spec.points[1].overrides == {"universe.basket_size": 10, "costs.taker_fee_bps": 2}
    assert spec.points[3].config.universe.basket_size == 20
    # every swept key has its resolved value in every point (pydantic's type: 2 -> 2.0)
    assert spec.points[6].values == {
        "universe.basket_size": 20,
        "costs.taker_fee_bps": 5.0,
        "book.weighting": "cap",
    }
    assert spec.points[1].values["costs.taker_fee_bps"] == 2.0
    assert spec.points[0].config.regime.grid.max_sets == 60  # the base config, relative path
    assert len({p.config.hash() for p in spec.points}) == 7


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        ({"universe.basket_sizee": [10]}, "unknown key 'universe.basket_sizee'"),
        ({"universe.basket_size": [10, -1]}, "key 'universe.basket_size'"),
        ({"costs.taker_fee_bps.x": [1]}, "key 'costs.taker_fee_bps'"),
        ({"universe.basket_size": []}, "non-empty list"),
    ],
)
def test_bad_key_or_value_names_key_and_point(
    tmp_path: Path, lake: Path, grid: dict, needle: str
) -> None:
    path = write_sweep(tmp_path, lake, grid)
    with pytest.raises(ConfigError, match="sweep") as err:
        load_sweep(path)
    assert needle in str(err.value)
    if "-1" in json.dumps(grid):
        assert "point 1" in str(err.value)


def test_cli_bad_sweep_is_exit_2(tmp_path: Path, lake: Path, capsys) -> None:
    path = write_sweep(tmp_path, lake, {"universe.nope": [1]})
    assert cli.main(["sweep", str(path), "--output-root", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "universe.nope" in err and "point 0" in err
    (tmp_path / "s2.yaml").write_text("grid: {universe.basket_size: [1]}\nbogus: 1\n")
    assert cli.main(["sweep", str(tmp_path / "s2.yaml"), "--workers", "0"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_demo_with_a_lake_is_exit_2(tmp_path: Path, lake: Path, capsys) -> None:
    path = write_sweep(tmp_path, lake, {"universe.basket_size": [10]})
    base = ["sweep", str(path), "--output-root", str(tmp_path), "--workers", "0"]
    for extra, flag in (
        (["--demo", "--lake", str(lake)], "--lake"),
        (["--demo", "--duckdb", str(tmp_path / "x.duckdb")], "--duckdb"),
    ):
        assert cli.main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert (
            f"--demo runs on the generated synthetic demo lake and cannot be combined with {flag}"
            in err
        )
    both = write_sweep(tmp_path / "f", lake, {"universe.basket_size": [10]}, demo=True)
    assert cli.main(["sweep", str(both), "--output-root", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "'demo: true' in the sweep file" in err and "'lake:' in the sweep file" in err
    assert not (tmp_path / "cache").exists()  # refused before generating the demo lake


@pytest.mark.parametrize(("key", "value"), [("demo", "false"), ("write_reports", "maybe")])
def test_demo_and_write_reports_must_be_yaml_booleans(
    tmp_path: Path, lake: Path, key: str, value: str
) -> None:
    path = write_sweep(tmp_path, lake, {"universe.basket_size": [10]}, **{key: value})
    with pytest.raises(ConfigError, match=f"'{key}' must be true or false"):
        load_sweep(path)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), key: False}))
    assert getattr(load_sweep(path), key) is False


def test_duplicate_points_are_collapsed_and_reported(tmp_path: Path, lake: Path, capsys) -> None:
    grid = {"universe.basket_size": [10, 10], "costs.taker_fee_bps": [1.0, 2.0]}
    spec = load_sweep(write_sweep(tmp_path, lake, grid, points=[{"costs.taker_fee_bps": 2.0}]))
    assert [p.overrides for p in spec.points] == [
        {"universe.basket_size": 10, "costs.taker_fee_bps": 1.0},
        {"universe.basket_size": 10, "costs.taker_fee_bps": 2.0},
        {"costs.taker_fee_bps": 2.0},  # the base basket size is not 10: a distinct point
    ]
    assert [p.id for p in spec.points] == [0, 1, 2]
    assert [(d.entry, d.duplicate_of) for d in spec.duplicates] == [(2, 0), (3, 1)]
    # the console says so (checked on a run refused right after loading: end before start)
    path = tmp_path / "sweep.yaml"
    args = ["sweep", str(path), "--output-root", str(tmp_path), "--workers", "0"]
    assert cli.main([*args, "--start", "2021-01-01", "--end", "2020-06-01"]) == 2
    err = capsys.readouterr().err
    assert "entry 2" in err and "as point 0" in err and "entry 3" in err and "as point 1" in err
    # and the sweep page lists them (entry, its overrides, the point it equals)
    from majors_alts_monitor.sweep.dashboard import sweep_dashboard_html
    from majors_alts_monitor.sweep.results import table

    page = sweep_dashboard_html(spec, table(spec, {}), summary(spec, {}, {}))
    assert "<dt>duplicate entries</dt><dd>2 collapsed into an earlier point" in page
    rows = re.findall(
        r'<tr><td data-v="(\d+)">\d+</td><td class="text">([^<]*)</td>'
        r'<td data-v="(\d+)">',
        page,
    )
    assert [(int(a), int(c)) for a, _, c in rows] == [(2, 0), (3, 1)]
    assert html.unescape(rows[0][1]) == '{"universe.basket_size": 10, "costs.taker_fee_bps": 1.0}'
    single = load_sweep(write_sweep(tmp_path / "one", lake, {"universe.basket_size": [10]}))
    page = sweep_dashboard_html(single, table(single, {}), summary(single, {}, {}))
    assert "none: every entry of the expansion is a distinct configuration" in page
    assert 'id="duplicates"' not in page


def test_sweep_dsr_counts_a_configuration_once(tmp_path: Path, lake: Path) -> None:
    """Two points with one config hash (a spec built by hand, past load_sweep's collapsing)
    give the same sweep-level DSR as the one point: the trials were never independent."""
    from dataclasses import replace

    spec = load_sweep(write_sweep(tmp_path, lake, {"universe.basket_size": [10, 20]}))
    twice = replace(spec, points=(*spec.points, replace(spec.points[1], id=2)))
    rng = np.random.default_rng(1)
    trials = {i: rng.normal(0.0, 0.02, 40) for i in range(2)}
    trials[2] = trials[1]

    def row(s: float) -> dict:
        return {
            "status": "ok",
            "oos_sharpe": s,
            "oos_sharpe_ci_low": s - 1,
            "oos_sharpe_ci_high": s + 1,
            "deflated_sharpe": 0.5,
            "n_trials": 40,
            "sharpe_per_period": s / np.sqrt(365),
            "skew": 0.0,
            "kurtosis": 3.0,
            "oos_days": 500,
        }

    rows = {0: row(0.9), 1: row(1.3)}
    once = summary(spec, rows, trials)["sweep_deflated_sharpe"]
    dup = summary(twice, {**rows, 2: row(1.3)}, trials)["sweep_deflated_sharpe"]
    assert dup == once and once["n_trials_total"] == 80 and once["n_points_counted"] == 2


@pytest.mark.slow  # the client waits its 10 s connect timeout
def test_unreachable_scheduler_is_exit_2(tmp_path: Path, lake: Path, capsys) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_sweep(tmp_path, lake, {"universe.basket_size": [10]})
    args = ["sweep", str(path), "--scheduler", f"tcp://127.0.0.1:{port}", "--quiet"]
    assert cli.main([*args, "--output-root", str(tmp_path)]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


# ---------------------------------------------------------------- the sweep-level DSR


def test_sweep_dsr_counts_every_inner_trial(tmp_path: Path, lake: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path, lake, {"universe.basket_size": [10, 20, 30]}))
    rng = np.random.default_rng(0)
    trials = {i: rng.normal(0.0, 0.02, 50 + 10 * i) for i in range(3)}
    rows = {
        i: {
            "status": "ok",
            "oos_sharpe": s,
            "oos_sharpe_ci_low": s - 1,
            "oos_sharpe_ci_high": s + 1,
            "deflated_sharpe": 0.5,
            "n_trials": len(trials[i]),
            "sharpe_per_period": s / np.sqrt(365),
            "skew": -0.3,
            "kurtosis": 5.0,
            "oos_days": 400,
        }
        for i, s in enumerate([0.8, 1.4, 1.1])
    }
    rows[2] = {"status": "error", "error": "x"}  # a failed point counts nothing
    s = summary(spec, rows, trials)
    assert s["best_point"]["point"] == 1
    d = s["sweep_deflated_sharpe"]
    assert d["n_trials_total"] == 50 + 60
    pooled = np.concatenate([trials[0], trials[1]])
    var = float(np.var(pooled, ddof=1))
    assert d["trial_sharpe_variance_per_period"] == pytest.approx(var)
    # by hand: PSR against the expected maximum of 110 null trials (Bailey & Lopez de Prado)
    from scipy.stats import norm

    g = 0.5772156649015329
    n = 110
    sr0 = np.sqrt(var) * ((1 - g) * norm.ppf(1 - 1 / n) + g * norm.ppf(1 - 1 / (n * np.e)))
    sr = 1.4 / np.sqrt(365)
    z = (sr - sr0) * np.sqrt(399) / np.sqrt(1 + 0.3 * sr + (5.0 - 1) / 4 * sr**2)
    assert d["value"] == pytest.approx(norm.cdf(z), rel=1e-9)
    assert d["value"] == pytest.approx(
        stats.deflated_sharpe(sr, 400, -0.3, 5.0, n_trials=n, var_trials=var)
    )
    assert s["n_ok"] == 2 and s["n_error"] == 1 and s["n_pending"] == 0


def test_sweep_spa_tests_the_best_point_over_every_finished_point(
    tmp_path: Path, lake: Path
) -> None:
    """The sweep-level SPA: the finished points' returns on their common days, against the flat
    book and each point's own always-on book, on the best point's resamples; a point without
    returns leaves it uncomputed (resumed points always carry theirs)."""
    from majors_alts_monitor.stats import selection
    from majors_alts_monitor.sweep.spa import PointReturns, returns_by_hash, returns_table

    spec = load_sweep(write_sweep(tmp_path, lake, {"universe.basket_size": [10, 20, 30]}))
    rng = np.random.default_rng(4)
    days = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-12-31"))
    spans = {0: days[:300], 1: days[20:], 2: days[10:340]}  # common: days[20:300]
    rets = {
        i: PointReturns(d, rng.normal(0.0006 * i, 0.01, d.size), rng.normal(0.0, 0.01, d.size))
        for i, d in spans.items()
    }
    rows = {
        i: {
            "status": "ok",
            "oos_sharpe": s,
            "oos_sharpe_ci_low": s - 1,
            "oos_sharpe_ci_high": s + 1,
            "deflated_sharpe": 0.5,
            "n_trials": 1,
            "sharpe_per_period": s / np.sqrt(365),
            "skew": 0.0,
            "kurtosis": 3.0,
            "oos_days": 300,
        }
        for i, s in enumerate([0.2, 1.5, 0.9])
    }
    s = summary(spec, rows, {i: None for i in rows}, rets)
    spa = s["sweep_spa"]
    assert s["best_point"]["point"] == 1
    assert spa["family_size"] == 3 and spa["n_days"] == 280
    assert (spa["common_start"], spa["common_end"]) == (str(days[20]), str(days[299]))
    keep = [np.isin(rets[i].dates, days[20:300]) for i in range(3)]
    x = np.column_stack([rets[i].net[keep[i]] for i in range(3)])
    b = np.column_stack([rets[i].benchmark[keep[i]] for i in range(3)])
    cfg = spec.points[1].config
    kw = {"n_boot": cfg.stats.n_boot, "mean_block": cfg.stats.mean_block, "seed": cfg.stats.seed}
    assert spa["p_value"] == selection.spa_test(x, **kw).p_value
    assert spa["p_value_always_on"] == selection.spa_test(x, b, **kw).p_value
    assert spa["claims_edge"] == (spa["p_value"] < 0.05)
    assert spa["vs_flat"]["best_point_statistic"] == pytest.approx(
        selection.spa_test(x, **kw).statistics[1]
    )
    assert summary(spec, rows, {i: None for i in rows})["sweep_spa"] is None  # while running
    missing = summary(spec, rows, {i: None for i in rows}, {**rets, 2: None})["sweep_spa"]
    assert missing["p_value"] is None and missing["points_without_returns"] == 1
    back = returns_by_hash(returns_table(spec, rets))
    for i, p in enumerate(spec.points):
        got = back[p.config.hash()]
        assert np.array_equal(got.dates, rets[i].dates) and np.array_equal(got.net, rets[i].net)


# ---------------------------------------------------------------- speed fixes, same numbers


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 12)),
        elements=st.one_of(st.floats(-5, 5), st.just(np.nan)),
    ),
)
def test_row_nanquantiles_equal_numpy(x: np.ndarray) -> None:
    import warnings

    from majors_alts_monitor.market.features import row_nanquantiles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanpercentile(x, [25, 50, 75], axis=1)
    got = row_nanquantiles(x, (0.25, 0.5, 0.75))
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_array_equal(r, g)  # bit for bit, NaN rows included


def test_normal_cdf_and_quantile_match_scipy_stats() -> None:
    from scipy.stats import norm

    assert stats.expected_max_sharpe(2000, 0.01) == pytest.approx(
        0.1
        * (
            0.4227843350984671 * norm.ppf(1 - 1 / 2000)
            + 0.5772156649015329 * norm.ppf(1 - 1 / (2000 * np.e))
        ),
        rel=1e-14,
    )
    assert stats.probabilistic_sharpe(0.05, 500, 0.0, 3.0) == pytest.approx(
        norm.cdf(0.05 * np.sqrt(499) / np.sqrt(1 + 2 / 4 * 0.05**2)), rel=1e-14
    )


# ---------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def sweep12(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 12-point sweep on a 2-process local cluster."""
    folder = tmp_path_factory.mktemp("sweep12")
    path = write_sweep(folder, lake, GRID12)
    out = folder / "out2"
    r = subprocess.run(
        [sys.executable, "-m", "majors_alts_monitor.sweep", str(path), "--workers", "2"]
        + ["--output-root", str(out)],
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return path, out


@pytest.mark.slow
def test_12_points_two_workers_match_one_worker_reverse_order(
    sweep12: tuple[Path, Path], tmp_path: Path
) -> None:
    path, out2 = sweep12
    df = pl.read_parquet(results_of(out2))
    assert df.height == 12 and df["point"].to_list() == list(range(12))
    assert (df["status"] == "ok").all(), df.filter(pl.col("status") != "ok")["error"].to_list()
    assert set(GRID12) <= set(df.columns)
    assert df["n_trials"].min() >= 1 and df["oos_sharpe"].is_not_null().all()
    assert "seconds" not in df.columns  # timings live in the manifest
    out1 = tmp_path / "out1"
    code = cli.main(
        ["sweep", str(path), "--workers", "1", "--order", "reverse", "--output-root", str(out1)]
        + ["--quiet"]
    )
    assert code == 0
    assert results_of(out1).read_bytes() == results_of(out2).read_bytes()
    s1 = (results_of(out1).parent / "sweep_summary.json").read_bytes()
    assert s1 == (results_of(out2).parent / "sweep_summary.json").read_bytes()
    man = json.loads((out2 / "artifacts/majors_alts/sweep/sweep_manifest.json").read_text())
    assert man["finished"] and man["points_done"] == 12 and len(man["points"]) == 12
    # each worker process read the lake once, not once per point
    by_pid: dict[int, list[bool]] = {}
    for p in man["points"]:
        by_pid.setdefault(p["pid"], []).append(p["cache"]["lake"])
    assert all(hits.count(False) == 1 for hits in by_pid.values()), by_pid


def test_one_point_matches_a_plain_run(lake: Path, tmp_path: Path) -> None:
    """A sweep point's metrics are the run's kpis.json (same config, same window)."""
    path = write_sweep(tmp_path, lake, {"universe.basket_size": [12]})
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(tmp_path)]) == 0
    row = pl.read_parquet(results_of(tmp_path)).row(0, named=True)
    run_cfg = {**BASE, "universe": {"basket_size": 12}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run_cfg))
    code = cli.main(
        ["run", "--config", str(tmp_path / "run.yaml"), "--lake", str(lake), "--quiet"]
        + ["--output-root", str(tmp_path / "run")]
    )
    assert code == 0
    k = json.loads((tmp_path / "run/reports/majors_alts/kpis.json").read_text())
    assert row["oos_sharpe"] == pytest.approx(k["walk_forward"]["oos_sharpe"], rel=1e-12)
    assert row["deflated_sharpe"] == pytest.approx(k["walk_forward"]["deflated_sharpe"], rel=1e-12)
    assert row["total_fees"] == pytest.approx(k["strategy"]["total_fees"], rel=1e-12)
    assert row["n_trials"] == k["walk_forward"]["n_trials"]


def test_write_reports_writes_each_points_report_set(lake: Path, tmp_path: Path) -> None:
    path = write_sweep(tmp_path, lake, {"universe.basket_size": [12]}, write_reports=True)
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(tmp_path)]) == 0
    point = results_of(tmp_path).parent / "points" / "0000"
    k = json.loads((point / "reports/majors_alts/kpis.json").read_text())
    assert (point / "reports/majors_alts/dashboard.html").is_file()
    assert (point / "artifacts/majors_alts/run_manifest.json").is_file()
    row = pl.read_parquet(results_of(tmp_path)).row(0, named=True)
    assert row["oos_sharpe"] == pytest.approx(k["walk_forward"]["oos_sharpe"], rel=1e-12)


def test_failed_point_is_recorded_and_the_sweep_goes_on(lake: Path, tmp_path: Path) -> None:
    # 1,000 train days do not fit in three years: that point fails, the others run
    path = write_sweep(tmp_path, lake, {"walkforward.train_days": [180, 1000, 240]})
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(tmp_path)]) == 0
    df = pl.read_parquet(results_of(tmp_path))
    assert df["status"].to_list() == ["ok", "error", "ok"]
    assert "too short for one walk-forward fold" in df["error"][1]
    assert df["oos_sharpe"][1] is None
    s = json.loads((results_of(tmp_path).parent / "sweep_summary.json").read_text())
    assert s["n_error"] == 1 and s["best_point"]["point"] in (0, 2)


def test_ctrl_c_after_the_results_are_written_says_where_they_are(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A Ctrl-C once the sweep has committed its results (here while the summary is built)
    exits 130 saying where they were written, not that previous outputs are untouched."""
    import inspect

    from majors_alts_monitor.sweep import results

    real = results.summary

    def interrupted(*a: object, **k: object) -> object:
        if inspect.stack()[1].filename.endswith("command.py"):  # the command's own summary
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(results, "summary", interrupted)
    path = write_sweep(tmp_path, lake, {"costs.taker_fee_bps": [2.0]})
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "outputs were already written under" in err and "untouched" not in err
    assert results_of(tmp_path).is_file()


@pytest.mark.slow
def test_resume_runs_only_new_points_and_matches_a_fresh_sweep(lake: Path, tmp_path: Path) -> None:
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    first = write_sweep(tmp_path / "a", lake, {"costs.taker_fee_bps": [2.0, 5.0]})
    assert cli.main(["sweep", str(first), "--workers", "0", "--output-root", str(out)]) == 0
    second = write_sweep(tmp_path / "b", lake, {"costs.taker_fee_bps": [1.0, 2.0, 5.0]})
    args = ["sweep", str(second), "--workers", "0", "--quiet"]
    assert cli.main([*args, "--output-root", str(out), "--resume"]) == 0
    man = json.loads((out / "artifacts/majors_alts/sweep/sweep_manifest.json").read_text())
    assert [p.get("resumed", False) for p in man["points"]] == [False, True, True]
    assert cli.main([*args, "--output-root", str(fresh)]) == 0
    for name in ("sweep_results.parquet", "sweep_summary.json"):
        assert (results_of(out).parent / name).read_bytes() == (
            results_of(fresh).parent / name
        ).read_bytes()
    # another window is refused rather than mixed in
    code = cli.main([*args, "--output-root", str(out), "--resume", "--start", "2020-03-01"])
    assert code == 2


@pytest.mark.slow
def test_ctrl_c_leaves_finished_points_written(lake: Path, tmp_path: Path) -> None:
    # enough points that the Ctrl-C, sent once one point is written, lands mid-sweep (six
    # points took 0.6 s once the per-worker caches made each point cheap; the forecast mode,
    # one fit per fold, made them cheaper still: 40 points could all finish first under load)
    n_points = 200
    fees = [float(k) for k in range(1, n_points + 1)]
    path = write_sweep(tmp_path, lake, {"costs.taker_fee_bps": fees})
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "majors_alts_monitor.sweep", str(path), "--workers", "0"]
        + ["--output-root", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    deadline = time.time() + 240
    while time.time() < deadline:
        if results_of(out).is_file():
            # one open of the file as it is (the sweep replaces it after each point; polars
            # opening a path twice could meet two versions)
            st = pl.read_parquet(io.BytesIO(results_of(out).read_bytes()))["status"]
            if (st == "ok").sum() >= 1:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted:" in err
    df = pl.read_parquet(results_of(out))
    assert df.height == n_points and 1 <= (df["status"] == "ok").sum() < n_points
    assert set(df["status"].to_list()) <= {"ok", "pending"}
    assert not list(results_of(out).parent.glob(".*tmp*"))


class Loopback:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (each worker without a
    nanny: its pid is the pid that runs the points), stopped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.procs = tmp_path, []
        sched_file = tmp_path / "scheduler.json"
        self.procs.append(
            subprocess.Popen(
                ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
                + ["--scheduler-file", str(sched_file)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env(),
            )
        )
        # dask writes the file in place: wait until it holds the whole JSON (on a loaded
        # machine the test may see it created and still empty)
        deadline, info = time.time() + 60, None
        while info is None and time.time() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(sched_file.read_text())
        assert info is not None, "the dask scheduler wrote no scheduler file within 60 s"
        self.address: str = info["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def worker(self, nanny: bool = True) -> subprocess.Popen:
        p = subprocess.Popen(
            ["dask", "worker", self.address, "--nworkers", "1", "--nthreads", "1"]
            + ["--host", "127.0.0.1", "--no-dashboard"]
            + ([] if nanny else ["--no-nanny"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env(),
        )
        self.procs.append(p)
        return p

    def sweep(self, path: Path, out: Path, *extra: str) -> subprocess.Popen:
        p = subprocess.Popen(
            [sys.executable, "-m", "majors_alts_monitor.sweep", str(path)]
            + ["--scheduler", self.address, "--output-root", str(out), "--quiet", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs[::-1]:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=30)


def manifest_of(root: Path) -> dict:
    path = root / "artifacts/majors_alts/sweep/sweep_manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def wait_for(pred: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def same_results(a: Path, b: Path) -> None:
    for name in ("sweep_results.parquet", "sweep_summary.json"):
        assert (results_of(a).parent / name).read_bytes() == (
            results_of(b).parent / name
        ).read_bytes(), name


@pytest.mark.slow
def test_scheduler_and_worker_on_loopback(lake: Path, tmp_path: Path) -> None:
    grid = {"universe.basket_size": [8, 12], "costs.taker_fee_bps": [2.0, 10.0]}
    path = write_sweep(tmp_path, lake, grid)
    loop = Loopback(tmp_path)
    try:
        loop.worker()
        out = tmp_path / "remote"
        r = loop.sweep(path, out)
        _, err = r.communicate(timeout=600)
        assert r.returncode == 0, err
    finally:
        loop.close()
    local = tmp_path / "local"
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(local)]) == 0
    assert results_of(out).read_bytes() == results_of(local).read_bytes()
    man = manifest_of(out)
    assert man["cluster"]["kind"] == "scheduler" and man["cluster"]["address"] == loop.address


KILL_GRID = {"costs.taker_fee_bps": [float(k) for k in range(1, 11)]}


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_and_replaced_gives_byte_identical_results(
    lake: Path, tmp_path: Path
) -> None:
    """The only worker is killed (SIGKILL) once it has finished a point, while it runs the
    next; a new worker joins and runs the rest, the lost point again: the results are the
    bytes of a sweep that nothing interrupted."""
    path = write_sweep(tmp_path, lake, KILL_GRID)
    out = tmp_path / "remote"
    loop = Loopback(tmp_path)
    try:
        first = loop.worker(nanny=False)
        client = loop.sweep(path, out)
        wait_for(lambda: manifest_of(out).get("points"), "the first point")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        done_before = len(manifest_of(out)["points"])
        second = loop.worker(nanny=False)
        _, err = client.communicate(timeout=600)
        assert client.returncode == 0, err
    finally:
        loop.close()
    man = manifest_of(out)
    assert man["finished"] and man["points_done"] == len(KILL_GRID["costs.taker_fee_bps"])
    by = {p["pid"] for p in man["points"]}
    assert by == {first.pid, second.pid}, (by, first.pid, second.pid)
    assert 1 <= done_before < man["points_done"]
    df = pl.read_parquet(results_of(out))
    assert (df["status"] == "ok").all(), df["error"].to_list()
    local = tmp_path / "local"
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(local)]) == 0
    same_results(out, local)


@pytest.mark.slow
def test_resume_after_a_killed_client_gives_byte_identical_results(
    lake: Path, tmp_path: Path
) -> None:
    """The sweep's own process is killed (SIGKILL: no clean-up) once a point is written; the
    same command with --resume keeps the finished points, runs the others and writes the
    bytes of a sweep that nothing interrupted."""
    path = write_sweep(tmp_path, lake, KILL_GRID)
    out = tmp_path / "remote"
    loop = Loopback(tmp_path)
    try:
        loop.worker()
        client = loop.sweep(path, out)
        wait_for(lambda: manifest_of(out).get("points"), "the first point")
        client.kill()
        client.wait(timeout=30)
        assert not manifest_of(out)["finished"]
        again = loop.sweep(path, out, "--resume")
        _, err = again.communicate(timeout=600)
        assert again.returncode == 0, err
    finally:
        loop.close()
    man = manifest_of(out)
    resumed = [p.get("resumed", False) for p in man["points"]]
    assert man["finished"] and any(resumed) and not all(resumed)
    assert not list(results_of(out).parent.glob(".*tmp*"))
    local = tmp_path / "local"
    assert cli.main(["sweep", str(path), "--workers", "0", "--output-root", str(local)]) == 0
    same_results(out, local)


@pytest.mark.browser
@pytest.mark.slow
def test_sweep_dashboard_in_a_browser(sweep12: tuple[Path, Path], tmp_path: Path) -> None:
    browser.require_chromium()
    page = results_of(sweep12[1]).parent / "sweep_dashboard.html"
    text = page.read_text()
    assert text.count("<script src=") == 0  # nothing fetched: plotly.js is inline, once
    # compressed as on the run's page (about 2 MB, not 4.8), unpacked by the same loader
    assert text.count('<script type="text/plain" id="plotly-js-gz">') == 1
    assert "window.PLOTLY_READY" in text and len(text.encode()) < 2_500_000
    dom = browser.render(page, timeout_s=120)
    attrs = browser.body_attributes(dom)
    errors = browser.element_text(dom, "script-errors")
    assert attrs.get("data-script-errors") == "0", errors
    assert attrs.get("data-figures-rendered") == attrs.get("data-figures-expected") == "2", errors
    assert dom.count("<tr") == 13  # header + 12 points


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1600])
def test_sweep_dashboard_lays_out_on_phone_and_desktop(
    sweep12: tuple[Path, Path], tmp_path: Path, width: int
) -> None:
    """At 390 and 1600 CSS pixels: no horizontal overflow (the page was laid out 487-501 px
    wide on a phone), no table row over 80 px, no overlapping titles or labels (the chart
    titles ran under plotly's toolbar, the selects' labels into each other), the results table
    in a sideways-scrolling box, no summary value cut; the screenshot is saved."""
    browser.require_chromium()
    page = results_of(sweep12[1]).parent / "sweep_dashboard.html"
    shot = tmp_path / f"sweep_{width}.png"
    probe = browser.inspect_page(page, width=width, screenshot=shot, timeout_s=180, layout=True)
    assert probe.get("errors") == "0", probe.get("errorText")
    assert probe.get("rendered") == probe.get("expected") == "2"
    problems = browser.layout_problems(probe)
    assert not problems, "\n".join(problems)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = os.environ.get("DASHBOARD_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / shot.name).write_bytes(shot.read_bytes())
