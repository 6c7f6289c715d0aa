"""Acceptance tests of the product as a user meets it: one command, every output, exit codes,
signals cut at a date, atomic outputs, the read-only lake. All on synthetic fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.tests.report.test_one_signal import RUN_ONLY_WARNINGS
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

REPORT_FILES = {
    "regime_timeline.csv": ["date", "fold", "score", "regime", "exposure"],
    "bt_daily_pnl.csv": [
        "date",
        "regime",
        "exposure",
        "gross_return",
        "fee_cost",
        "slippage_cost",
        "funding_pnl",
        "net_return",
        "turnover",
        "gross_leverage",
        "long_notional",
        "short_notional",
        "beta_btc",
        "beta_eth",
    ],
    "bt_equity_curve.csv": ["date", "equity", "drawdown", "benchmark_equity", "btc_equity"],
    "regime_metrics.csv": [
        "regime",
        "days",
        "share",
        "mean_daily_return",
        "ann_return",
        "ann_vol",
        "sharpe",
        "hit_rate",
        "max_drawdown",
        "strategy_sharpe",
    ],
}
KPI_KEYS = {
    "cagr",
    "ann_return",
    "ann_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "hit_rate",
    "avg_daily_turnover",
    "total_fees",
    "total_slippage",
    "total_funding",
    "exposure_share",
}
START, END = date(2020, 1, 1), date(2024, 6, 30)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    spec = SyntheticSpec(n_assets=30, start=START, end=END, world="planted", seed=3)
    lake_dir, _ = write_lake(generate(spec), out, partitioned=True)
    return lake_dir


@pytest.fixture(scope="module")
def run_output(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("out")
    before = file_stat_snapshot(lake)
    os.system(f"chmod -R a-w {lake}")
    try:
        code = cli.main(
            [
                "run",
                "--lake",
                str(lake),
                "--output-root",
                str(root),
                "--quiet",
                "--start",
                START.isoformat(),
                "--end",
                END.isoformat(),
            ]
        )
    finally:
        os.system(f"chmod -R u+w {lake}")
    assert code == 0
    assert file_stat_snapshot(lake) == before, "the run changed the lake"
    return root, json.loads((root / "reports/majors_alts/kpis.json").read_text())


def test_every_output_with_contract_columns(run_output: tuple[Path, dict]) -> None:
    root, _ = run_output
    rep = root / "reports" / "majors_alts"
    for name, cols in REPORT_FILES.items():
        df = pl.read_csv(rep / name)
        assert df.columns[: len(cols)] == cols or set(cols) <= set(df.columns), name
        assert df.height > 0, name
    fw = pl.read_parquet(rep / "features_wide.parquet")
    assert fw.columns[0] == "date" and any(c.startswith("z_") for c in fw.columns)
    for name in ("dashboard.html", "signals_today.json", "kpis.json"):
        assert (rep / name).stat().st_size > 0
    man = json.loads((root / "artifacts/majors_alts/run_manifest.json").read_text())
    assert {"config", "config_hash", "package_version", "lake", "timings_s"} <= set(man)
    assert man["lake"]["tables"]["fact_price"]["files"][0]["size"] > 0


def test_outputs_only_under_the_three_roots(run_output: tuple[Path, dict]) -> None:
    root, _ = run_output
    tops = {p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file()}
    assert tops <= {"reports", "artifacts", "cache"}
    assert not list(root.rglob(".*.tmp-*")), "temporary files left behind"


def test_kpis_follow_the_contract(run_output: tuple[Path, dict]) -> None:
    root, k = run_output
    assert set(k) >= {
        "period",
        "conventions",
        "strategy",
        "benchmark_always_on",
        "walk_forward",
        "neutrality",
    }
    assert KPI_KEYS <= set(k["strategy"]) and KPI_KEYS <= set(k["benchmark_always_on"])
    wf = k["walk_forward"]
    assert {"folds", "oos_sharpe", "oos_sharpe_ci95", "n_trials", "deflated_sharpe", "pbo"} <= set(
        wf
    )
    assert wf["n_trials"] >= 1 and len(wf["oos_sharpe_ci95"]) == 2
    for f in wf["folds"]:
        assert {
            "fold",
            "train_start",
            "train_end",
            "test_start",
            "test_end",
            "params",
            "train_sharpe",
            "test_sharpe",
        } <= set(f)
        assert f["train_end"] < f["test_start"]
    assert {
        "beta_btc_realized",
        "beta_eth_realized",
        "mean_abs_beta_btc_ex_ante",
        "mean_abs_beta_eth_ex_ante",
        "neutrality_error",
    } <= set(k["neutrality"])
    pnl = pl.read_csv(root / "reports/majors_alts/bt_daily_pnl.csv")
    assert k["period"]["days"] == pnl.height
    # net = gross - fees - slippage + funding, row by row
    diff = pnl["gross_return"] - pnl["fee_cost"] - pnl["slippage_cost"] + pnl["funding_pnl"]
    assert (diff - pnl["net_return"]).abs().max() < 1e-12
    assert (pnl["fee_cost"] >= 0).all() and (pnl["slippage_cost"] >= 0).all()
    eq = pl.read_csv(root / "reports/majors_alts/bt_equity_curve.csv")
    assert eq.height == pnl.height and (eq["drawdown"] <= 0).all()


def test_kpis_lead_with_the_selection_aware_test(run_output: tuple[Path, dict]) -> None:
    """kpis.json opens with the headline (the SPA p-value, then the stitched out-of-sample
    Sharpe, its interval and PSR); walk_forward.spa tests the walk-forward book and every
    parameter set the search chose among against the flat and the always-on book
    (``tests/report/test_selection_keys.py`` recomputes it from the returns)."""
    root, k = run_output
    assert next(iter(k)) == "headline"
    h, wf = k["headline"], k["walk_forward"]
    spa = wf["spa"]
    assert list(h)[:3] == ["spa_p_value", "spa_p_value_always_on", "claims_edge"]
    assert h["spa_p_value"] == spa["p_value"] == spa["vs_flat"]["p_value"]
    assert h["oos_sharpe"] == wf["oos_sharpe"] and h["oos_sharpe_ci95"] == wf["oos_sharpe_ci95"]
    assert h["probabilistic_sharpe"] == wf["probabilistic_sharpe"]
    # the family: the walk-forward book and every parameter set the search chose among; the
    # forecast mode (the default) fits one model per fold: no search, a family of one
    sets = 0 if wf["mode"] == "forecast" else wf["n_trials"]
    assert spa["family_size"] == sets + 1 == spa["family_evaluated"]
    assert not spa["family_sampled"] and spa["n_days"] == k["period"]["days"]
    assert spa["claims_edge"] == (spa["p_value"] < 0.05)
    for side in (spa["vs_flat"], spa["vs_always_on"]):
        assert 0.0 <= side["p_value_lower"] <= side["p_value"] <= side["p_value_upper"] <= 1.0
        assert side["statistic"] >= side["walk_forward_statistic"]
    curve = spa["family_sampling"]
    if sets:
        assert curve["trials"][-1] == wf["n_trials"] and curve["p_value"][-1] == spa["p_value"]
    else:
        assert curve["trials"] == []
    # the effective-N DSR is still there, same key, now a diagnostic
    assert "deflated_sharpe_effective" in wf and "diagnostic" in wf["deflated_sharpe_note"]
    assert isinstance(k["warnings"], list)
    ms = k["neutrality"]["market_spread"]
    assert ms["strategy"]["nw_lags"] <= ms["nw_lags"] == ms["always_on"]["nw_lags"]


def test_timeline_covers_every_day(run_output: tuple[Path, dict]) -> None:
    root, _ = run_output
    tl = pl.read_csv(root / "reports/majors_alts/regime_timeline.csv", try_parse_dates=True)
    assert tl.height == (END - START).days + 1
    assert tl["fold"].min() == -1
    assert set(tl["regime"].unique()) <= {"RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS"}
    assert (tl.filter(pl.col("fold") == -1)["exposure"] == 0).all()


def test_signals_sane_at_the_last_date(run_output: tuple[Path, dict]) -> None:
    root, _ = run_output
    s = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
    assert s["asof"] == END.isoformat() and s["stale"] is False
    assert s["action"] in {"ENTER", "HOLD", "EXIT", "STAY_FLAT"}
    shorts = [t for t in s["book"] if t["side"] == "short"]
    assert shorts and all(t["weight"] < 0 for t in shorts)
    assert all(t["asset_id"] not in {"USDT", "USDC", "FDUSD"} for t in s["book"])
    if s["exposure"] > 0:  # targets are the book scaled by the exposure, weights of equity
        assert len(s["targets"]) == len(s["book"])
        for t, b in zip(s["targets"], s["book"], strict=True):
            assert t["weight"] == pytest.approx(b["weight"] * s["exposure"])
    else:
        assert s["targets"] == []
    assert abs(s["book_betas"]["btc"]) < 1e-9 and abs(s["book_betas"]["eth"]) < 1e-9


def _cut_lake(src: Path, dst: Path, d: date) -> None:
    """A copy of the lake holding only rows dated <= d (flat files)."""
    dst.mkdir(parents=True)
    for p in sorted(src.iterdir()):
        name = p.name.removesuffix(".parquet")
        df = (
            pl.read_parquet(p / "**/*.parquet", hive_partitioning=True)
            if p.is_dir()
            else pl.read_parquet(p)
        )
        df = df.drop([c for c in ("year",) if c in df.columns])
        if "date" in df.columns:
            df = df.filter(pl.col("date") <= d)
        df.write_parquet(dst / f"{name}.parquet")


def test_signal_on_a_cut_lake_equals_the_full_lake(lake: Path, tmp_path: Path) -> None:
    asof = date(2023, 9, 15)
    cut = tmp_path / "cut"
    _cut_lake(lake, cut, asof)
    outs = []
    for lk in (lake, cut):
        root = tmp_path / f"o_{lk.name}"
        assert (
            cli.main(
                [
                    "signals",
                    "--lake",
                    str(lk),
                    "--output-root",
                    str(root),
                    "--quiet",
                    "--asof",
                    asof.isoformat(),
                ]
            )
            == 0
        )
        s = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
        s.pop("generated_at")
        outs.append(s)
    assert outs[0] == outs[1]


def _signals(lake: Path, root: Path, *extra: str) -> int:
    return cli.main(["signals", "--lake", str(lake), "--output-root", str(root), "--quiet", *extra])


def _signal_file(root: Path) -> dict:
    return json.loads((root / "reports/majors_alts/signals_today.json").read_text())


def test_stale_asof_is_refused_naming_the_lakes_end(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Past data.stale_days (1) after the lake's last date: exit 2 naming that date, unless
    --allow-stale (exit 0, stale: true and a STALE warning). Within stale_days: exit 0, stale."""
    assert _signals(lake, tmp_path, "--asof", "2024-07-10") == 2
    err = capsys.readouterr().err
    assert "2024-06-30" in err and "--allow-stale" in err and "stale_days" in err
    assert "later --asof" not in err
    assert not (tmp_path / "reports/majors_alts/signals_today.json").exists()
    assert _signals(lake, tmp_path, "--asof", "2024-07-10", "--allow-stale") == 0
    s = _signal_file(tmp_path)
    assert s["stale"] is True and s["decision_date"] == "2024-06-30"
    assert any("STALE" in w and "2024-06-30" in w for w in s["warnings"])
    assert "STALE" in capsys.readouterr().out
    assert _signals(lake, tmp_path, "--asof", "2024-07-01") == 0  # 1 day late: allowed, loud
    assert _signal_file(tmp_path)["stale"] is True


def test_repeated_stale_asof_cannot_change_the_signal(lake: Path, tmp_path: Path) -> None:
    """Days with no new data change nothing but asof, stale and the STALE warning."""
    outs = []
    for k in range(4):
        asof = date(2024, 6, 30) + timedelta(days=k)
        assert _signals(lake, tmp_path, "--asof", asof.isoformat(), "--allow-stale") == 0
        s = _signal_file(tmp_path)
        assert s["stale"] is (k > 0)
        outs.append(
            {k: v for k, v in s.items() if k not in {"asof", "generated_at", "stale", "warnings"}}
        )
    assert all(o == outs[0] for o in outs[1:])


def test_short_train_window_same_message_as_run(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A window too short for one fold: signals refuses with run's message (one function)."""
    args = ["--lake", str(lake), "--output-root", str(tmp_path), "--quiet"]
    assert cli.main(["run", *args, "--start", "2023-06-01", "--end", "2024-06-30"]) == 2
    run_err = capsys.readouterr().err
    assert cli.main(["signals", *args, "--start", "2023-06-01", "--asof", "2024-06-30"]) == 2
    sig_err = capsys.readouterr().err
    assert "too short for one walk-forward fold" in run_err
    assert sig_err == run_err


def test_demo_with_a_lake_is_an_error(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for flag, val in (("--lake", str(lake)), ("--duckdb", str(tmp_path / "x.duckdb"))):
        for cmd in ("run", "signals"):
            assert cli.main([cmd, "--demo", flag, val, "--output-root", str(tmp_path)]) == 2
            err = capsys.readouterr().err
            assert "--demo" in err and flag in err and "What to do" in err
    assert not (tmp_path / "cache").exists(), "no demo lake generated"


def test_unusable_output_root_is_refused_before_any_work(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """An output root that is a file, or has a file where reports/ would go, or cannot be
    created: exit 2 naming the path, before the lake is read (no traceback); sweeps too."""
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "reports").write_text("in the way")
    cases = [(a_file, str(a_file)), (blocked, str(blocked / "reports")), (a_file / "sub", "afile")]
    for root, named in cases:
        for cmd in (["run"], ["signals", "--asof", "2024-06-30"]):
            assert cli.main([*cmd, "--lake", str(lake), "--output-root", str(root)]) == 2
            err = capsys.readouterr().err
            assert named in err and "What to do" in err and "Traceback" not in err
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"lake: {lake}\ngrid:\n  costs.taker_fee_bps: [2, 5]\n")
    assert cli.main(["sweep", str(sweep_file), "--workers", "0", "--output-root", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert str(a_file) in err and "What to do" in err and "Traceback" not in err
    assert a_file.read_text() == "not a folder"


def test_sweep_holds_the_output_lock(lake: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """A sweep into an output root another process holds refuses (exit 2) naming the owner."""
    root = tmp_path / "out"
    (root / "reports").mkdir(parents=True)
    lock = root / "reports" / ".majors_alts.lock"  # the root's own lock, beside the reports
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o644)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, f'{os.getpid()} test-host'.encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("MAJORS_ALTS_LOCK_WAIT_S", "0.5")
        sweep_file = tmp_path / "sweep.yaml"
        sweep_file.write_text(f"lake: {lake}\ngrid:\n  costs.taker_fee_bps: [2, 5]\n")
        rc = cli.main(["sweep", str(sweep_file), "--workers", "0", "--output-root", str(root)])
        err = capsys.readouterr().err
        assert rc == 2 and "lock" in err.lower() and "Traceback" not in err
        assert not (root / "reports/majors_alts").exists(), "nothing written meanwhile"
    finally:
        holder.kill()
        holder.wait()


def test_failed_run_leaves_previous_outputs_whole(
    run_output: tuple[Path, dict], lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = run_output
    before = file_stat_snapshot(root / "reports")
    from majors_alts_monitor.report import write

    def boom(*a: object, **k: object) -> str:
        raise RuntimeError("dashboard failed")

    monkeypatch.setattr(write, "dashboard_html", boom)
    code = cli.main(["run", "--lake", str(lake), "--output-root", str(root), "--quiet"])
    assert code == 1
    assert file_stat_snapshot(root / "reports") == before


def test_exit_codes_and_messages(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("universe:\n  basket_sise: 10\n")
    assert cli.main(["run", "--config", str(bad), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "basket_sise" in err and str(bad) in err
    bad.write_text("book:\n  max_weight: lots\n")
    assert cli.main(["run", "--config", str(bad), "--lake", str(lake)]) == 2
    assert "book.max_weight" in capsys.readouterr().err
    assert cli.main(["run", "--lake", str(tmp_path / "nowhere")]) == 2
    assert "--lake" in capsys.readouterr().err
    assert cli.main(["run", "--lake", str(lake), "--output-root", str(lake / "x")]) == 2
    assert "inside the lake" in capsys.readouterr().err
    assert (
        cli.main(
            ["run", "--lake", str(lake), "--start", "2024-06-01", "--output-root", str(tmp_path)]
        )
        == 2
    )
    assert "too short" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--start", "2024-13-01"])
    assert e.value.code == 2


def test_the_numba_warm_up_loads_the_signatures_the_run_uses(lake: Path) -> None:
    """The background warm-up of ``run``/``signals`` calls kernels with the argument types of
    the run's own calls: after a preparation each of them holds one compiled signature (a
    second would be a compilation in the background, holding numba's lock)."""
    code = f"""
import threading
from datetime import date
from pathlib import Path
from majors_alts_monitor import cli, pipeline
from majors_alts_monitor.market.beta_neutral import _ewma_clip
from majors_alts_monitor.config import load_config
from majors_alts_monitor.market.rolling import _rolling
from majors_alts_monitor.market.row_median import _row_nanmedian
cli._warm_numba_in_background()
[t.join() for t in threading.enumerate() if t.name == "numba-warm-up"]
warmed = [len(f.signatures) for f in (_rolling, _row_nanmedian, _ewma_clip)]
cfg = load_config(None).with_overrides(lake=Path({str(lake)!r}))
data = pipeline.make_reader(cfg).read(None, None)
s, e, _ = pipeline.effective_window(data, data.start, data.end)
pipeline.prepare(cfg, data, s, e)
print(warmed, [len(f.signatures) for f in (_rolling, _row_nanmedian, _ewma_clip)])
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[1, 1, 1] [1, 1, 1]", r.stdout + r.stderr


@pytest.mark.parametrize("entry", ["run", "signals"])
def test_the_entry_points_pause_the_garbage_collector_only_while_loading(
    entry: str, lake: Path, tmp_path: Path
) -> None:
    """``python -m majors_alts_monitor.run``/``.signals`` pause the cyclic garbage collector while
    the modules load and the command resumes it (with the imports frozen) before it works; merely
    importing the modules changes nothing."""
    code = f"""
import gc, os, runpy, sys
import majors_alts_monitor.run, majors_alts_monitor.signals
print("imported", gc.isenabled())
from majors_alts_monitor import cli
from majors_alts_monitor.config import load_config
seen = []
real_config = cli._config
def config(*a, **k):  # the command's first step after its imports
    seen.append(gc.isenabled())
    return real_config(*a, **k)
cli._config = config
def exit_now(code):
    print("command", code, seen, gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold())
    sys.stdout.flush()
    os._exit(0)
cli._exit_now = exit_now
gc.enable()
sys.argv = [{entry!r}, "--lake", {str(lake)!r}, "--output-root", {str(tmp_path)!r}, "--quiet"]
runpy.run_module("majors_alts_monitor.{entry}", run_name="__main__")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    said = [line for line in r.stdout.splitlines() if line.startswith(("imported", "command"))]
    assert said == ["imported True", "command 0 [True] True True (10000, 10, 10)"], (
        r.stdout + r.stderr
    )


def test_the_demo_lake_is_keyed_by_the_generator_without_importing_it(tmp_path: Path) -> None:
    """``demo_lake_root`` names the demo lake by a hash of the ``synthetic`` package's sources (a
    changed generator makes a new lake) and does not import it: a warm demo run never does."""
    code = f"""
import hashlib, sys
from pathlib import Path
from majors_alts_monitor import cli
from majors_alts_monitor.lake import demo
root = demo.demo_lake_root(Path({str(tmp_path)!r}))
h = hashlib.sha256()
for f in sorted((Path(demo.__file__).parent / "synthetic").glob("*.py")):
    h.update(f.name.encode() + b"\\0" + f.read_bytes())
print(root.name == f"demo_lake_{{demo.DEMO_SEED}}_{{h.hexdigest()[:10]}}")
print("majors_alts_monitor.lake.synthetic" in sys.modules)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["True", "False"], r.stdout + r.stderr


def _imported(importtime: str, module: str) -> bool:
    """Whether ``python -X importtime`` output lists ``module`` as imported."""
    return any(
        line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module
        for line in importtime.splitlines()
    )


def test_seed_commands_as_subprocesses(lake: Path, tmp_path: Path) -> None:
    """The README's entry points, exactly as a user types them (with a lake override)."""
    cfg = Path(__file__).resolve().parents[1] / "config.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",  # to check below what the commands import
            "-m",
            "majors_alts_monitor.run",
            "--start",
            "2020-01-01",
            "--end",
            "2024-06-30",
            "--config",
            str(cfg),
            "--lake",
            str(lake),
            "--output-root",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "dashboard" in r.stdout
    # the entry points end the process without the interpreter's teardown: the summary is
    # flushed whole before that
    assert r.stdout.rstrip().splitlines()[-1].split()[0] == "artifacts", r.stdout
    assert _imported(r.stderr, "numba.np.arraymath") and not _imported(r.stderr, "scipy.linalg")
    r = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "majors_alts_monitor.signals",
            "--asof",
            "2024-06-30",
            "--config",
            str(cfg),
            "--lake",
            str(lake),
            "--output-root",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "action" in r.stdout
    # numba's BLAS probe is answered without importing scipy.linalg (``scipy_blas``)
    assert _imported(r.stderr, "numba.np.arraymath") and not _imported(r.stderr, "scipy.linalg")
    missing = tmp_path / "no_such_lake"
    r = subprocess.run(
        [sys.executable, "-m", "majors_alts_monitor.run", "--lake", str(missing)]
        + ["--output-root", str(tmp_path / "o2")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 2 and r.stderr.startswith("error:"), r.stderr
    # a summary that cannot be written (full disk) is reported, exit 120 as Python's own
    # exit; the outputs were committed before it
    out3 = tmp_path / "o3"
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-m", "majors_alts_monitor.run", "--lake", str(lake)]
            + ["--output-root", str(out3), "--quiet"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=600,
        )
    assert r.returncode == 120 and "could not write to standard output" in r.stderr, r.stderr
    assert (out3 / "reports" / "majors_alts" / "kpis.json").is_file()
    # the allocator tuning of the entry points is harmless where it applies and where not
    r = subprocess.run(
        [sys.executable, "-c", "from majors_alts_monitor import cli; cli._keep_freed_memory()"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0 and not r.stderr, r.stderr


def test_interrupt_wrapped_by_a_compiled_kernel_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A SIGINT inside numba's parallel kernel surfaces as ``SystemError: ... returned a result
    with an exception set`` caused by the KeyboardInterrupt: the same clean exit 130."""

    def kernel_interrupted(args: object) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise SystemError(
                "CPUDispatcher(_kernel) returned a result with an exception set"
            ) from ki

    monkeypatch.setattr(cli, "cmd_run", kernel_interrupted)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # main() silences it
    assert cli.main(["run"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == cli.INTERRUPTED and "Traceback" not in err


@pytest.mark.parametrize("point", ["import", "reading the lake", "walk-forward"])
def test_ctrl_c_anywhere_exits_130_without_traceback(
    lake: Path, tmp_path: Path, point: str
) -> None:
    """SIGINT sent to a real ``run`` while its modules load, while it reads the lake, and while
    the compiled grid search runs (a grid of 60,000 sets keeps each fold's kernel busy)."""
    import signal
    import time

    cfg = tmp_path / "big_grid.yaml"
    cfg.write_text("regime:\n  grid:\n    max_sets: 60000\n")
    # -X importtime reports each finished import on stderr: the first pydantic line means the
    # package's modules are loading (Python's own start-up, before any of our code, is not ours)
    importtime = ["-X", "importtime"] if point == "import" else []
    proc = subprocess.Popen(
        [
            sys.executable,
            *importtime,
            "-m",
            "majors_alts_monitor.run",
            "--config",
            str(cfg),
            "--lake",
            str(lake),
            "--output-root",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        # a child of a non-interactive shell may inherit SIGINT ignored: restore the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        marker = "pydantic" if point == "import" else point
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                break
        time.sleep(0.5 if point == "walk-forward" else 0.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert cli.INTERRUPTED in err and "Traceback" not in err and "report" not in err
    # (the root's lock file lives in reports/: no output is there)
    assert not (tmp_path / "out/reports/majors_alts").exists(), (
        "nothing written by an interrupted run"
    )


def test_sigint_is_held_during_the_kernel_and_raised_after() -> None:
    """``sigint_deferred``: a SIGINT inside the block runs no KeyboardInterrupt there (the
    compiled kernel's Python callbacks must not raise); it is raised when the block ends, and
    the previous handler is back."""
    import signal

    from majors_alts_monitor.regime.search import sigint_deferred

    # Python's own handler, whatever the suite inherited (a process started in the background
    # may have SIGINT ignored, and an ignored signal raises nothing after the block)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        before = signal.getsignal(signal.SIGINT)
        finished = False
        with pytest.raises(KeyboardInterrupt):
            with sigint_deferred():
                signal.raise_signal(signal.SIGINT)
                sum(range(1000))  # bytecode runs: a KeyboardInterrupt would be raised here
                finished = True
        assert finished and signal.getsignal(signal.SIGINT) is before
        with sigint_deferred():  # no signal: nothing raised
            pass
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_a_ctrl_c_swallowed_by_a_library_still_stops_the_run(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A KeyboardInterrupt that a library swallows (polars/pyo3 print "Exception ignored" for
    one raised inside their Python callbacks, and go on) is remembered: the run stops at the
    next stage boundary with exit 130 and writes nothing."""
    import signal

    from majors_alts_monitor import interrupts, pipeline

    real_run = pipeline.run

    class Dropped:
        def __del__(self) -> None:  # a finaliser: what it raises is unraisable, as in pyo3
            signal.raise_signal(signal.SIGINT)

    def run_swallowing(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C inside a library's callback ...
        except KeyboardInterrupt:
            pass  # ... which drops it
        Dropped()  # and one dropped through sys.unraisablehook ("Exception ignored in")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run", run_swallowing)
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "out"
    code = cli.main(["run", "--lake", str(lake), "--output-root", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 130 and cli.INTERRUPTED in err and "Traceback" not in err
    assert not (out / "reports/majors_alts").exists(), "nothing written by an interrupted run"
    assert signal.getsignal(signal.SIGINT) is before
    interrupts.raise_if_interrupted()  # forgotten once the command is over


def test_signals_with_the_runs_start_reproduces_the_run(lake: Path, tmp_path: Path) -> None:
    """A run from a later --start (origin) is reproduced by signals --start with that origin:
    the same file, generated_at aside."""
    args = ["--lake", str(lake), "--quiet"]
    run_root, sig_root = tmp_path / "run", tmp_path / "sig"
    assert cli.main(["run", *args, "--output-root", str(run_root), "--start", "2020-03-17"]) == 0
    s = ["signals", *args, "--output-root", str(sig_root), "--start", "2020-03-17"]
    assert cli.main([*s, "--asof", END.isoformat()]) == 0
    a, b = _signal_file(run_root), _signal_file(sig_root)
    assert a["model"]["origin"] == "2020-03-17"
    a.pop("generated_at"), b.pop("generated_at")
    # the run also warns about its whole span (thin data, one-sided funding): not the signal's
    a["warnings"] = [w for w in a["warnings"] if not w.startswith(RUN_ONLY_WARNINGS)]
    # the run without --end is today's call, signals --asof END a backfill: the freshness
    # notes say so (report/freshness.py); on this synthetic lake neither is stale
    assert a.pop("freshness")["checked"] is b.pop("freshness")["checked"] is False
    assert a == b


def test_funding_skews_definition_is_on_every_surface(run_output: tuple[Path, dict]) -> None:
    """kpis.json, the manifest, signals_today.json and the dashboard say how the majors'
    funding in funding_skew was taken (open-interest weighted on how many days)."""
    root, kpis = run_output
    d = kpis["feature_definitions"]["funding_skew"]
    assert d["majors_funding"] in ("open-interest weighted", "mixed", "plain mean")
    assert d["oi_weighted_days"] + d["plain_mean_days"] > 0
    man = json.loads((root / "artifacts/majors_alts/run_manifest.json").read_text())
    assert man["feature_definitions"] == kpis["feature_definitions"]
    sig = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
    assert (
        sig["model"]["feature_definitions"]["funding_skew"]["majors_funding"] == d["majors_funding"]
    )
    html = (root / "reports/majors_alts/dashboard.html").read_text()
    assert "funding_skew: the majors&#x27; funding" in html
