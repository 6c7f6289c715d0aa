"""The Python API (``majors_alts_monitor.api``): the same results and files as the command line,
nothing written unless asked, the same validation and errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import api, cli
from majors_alts_monitor.config import Config
from majors_alts_monitor.errors import ConfigError, LakeError, OutputLocationError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.report.outputs import to_json_bytes
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

START, END = date(2020, 1, 1), date(2023, 6, 30)
CLOCK = ("generated_at", "started_at", "finished_at", "timings_s")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    spec = SyntheticSpec(n_assets=25, start=START, end=END, world="planted", seed=11)
    return write_lake(generate(spec), out)[0]


@pytest.fixture(scope="module")
def cli_root(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    args = ["run", "--lake", str(lake), "--output-root", str(root), "--quiet"]
    assert cli.main([*args, "--start", "2020-03-01"]) == 0
    return root


@pytest.fixture(scope="module")
def result(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> api.RunOutput:
    cwd = tmp_path_factory.mktemp("cwd")
    before = sorted(p.name for p in cwd.iterdir())
    res = api.run(lake=lake, start="2020-03-01", config={"paths.output_root": str(cwd)})
    assert sorted(p.name for p in cwd.iterdir()) == before  # nothing written unless asked
    return res


def _strip(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in CLOCK}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_the_frames_are_the_cli_run_files(result: api.RunOutput, cli_root: Path) -> None:
    rep = cli_root / "reports" / "majors_alts"
    for name, frame in (
        ("regime_timeline.csv", result.timeline),
        ("bt_daily_pnl.csv", result.pnl),
        ("bt_equity_curve.csv", result.equity),
        ("regime_metrics.csv", result.regime_metrics),
        ("pnl_attribution.csv", result.attribution),
    ):
        assert frame is not None
        buf = frame.write_csv()
        assert buf == (rep / name).read_text(), name
    assert result.features.equals(pl.read_parquet(rep / "features_wide.parquet"))
    kpis = json.loads((rep / "kpis.json").read_text())
    wf = result.kpis["walk_forward"]
    assert kpis["walk_forward"]["oos_sharpe"] == wf["oos_sharpe"]
    assert kpis["walk_forward"]["folds"] == json.loads(to_json_bytes(wf["folds"]))
    assert kpis["strategy"] == json.loads(to_json_bytes(result.kpis["strategy"]))
    sig = json.loads((rep / "signals_today.json").read_text())
    assert _strip(sig) == _strip(json.loads(to_json_bytes(result.signal)))
    assert result.signal["regime"] == result.timeline["regime"][-1]


def test_write_gives_the_cli_files(
    result: api.RunOutput, cli_root: Path, tmp_path: Path, lake: Path
) -> None:
    reports = result.write(tmp_path / "nb")
    assert reports == tmp_path / "nb" / "reports" / "majors_alts"

    def documented(root: Path) -> list[Path]:  # what readers open: the documented folders
        return sorted(
            p.relative_to(root)
            for sub in ("reports/majors_alts", "artifacts/majors_alts")
            for p in (root / sub).iterdir()
            if p.is_file()
        )

    assert documented(cli_root) == documented(tmp_path / "nb")
    # the clock (generated_at, started_at, timings) and paths differ there only
    same = {"run_manifest.json", "run.log", "signals_today.json"}
    for rel in documented(cli_root):
        if rel.name not in same:
            assert (cli_root / rel).read_bytes() == (tmp_path / "nb" / rel).read_bytes(), rel
    a = json.loads((cli_root / "artifacts/majors_alts/run_manifest.json").read_text())
    b = json.loads((tmp_path / "nb/artifacts/majors_alts/run_manifest.json").read_text())
    assert a["run_id"] == b["run_id"]
    for d in (a, b):
        d["config"].pop("paths")
        for f in ("run.log", "signals_today.json", "run_manifest.json"):  # their clocks differ
            d["files"].pop(f"reports/majors_alts/{f}", None)
            d["files"].pop(f"artifacts/majors_alts/{f}", None)
    assert _strip(a) == _strip(b)
    with pytest.raises(OutputLocationError):
        result.write(lake / "inside")
    assert not (lake / "inside").exists()


def test_signal_is_the_cli_signal(lake: Path, tmp_path: Path) -> None:
    asof = "2023-01-15"
    args = ["signals", "--lake", str(lake), "--output-root", str(tmp_path), "--asof", asof]
    assert cli.main([*args, "--start", "2020-03-01", "--quiet"]) == 0
    got = json.loads((tmp_path / "reports" / "majors_alts" / "signals_today.json").read_text())
    sig = api.signal(asof=date(2023, 1, 15), lake=lake, start="2020-03-01")
    assert _strip(json.loads(to_json_bytes(sig))) == _strip(got)


def test_load_lake_reads_the_tables_without_touching_them(lake: Path) -> None:
    before = file_stat_snapshot(lake)
    data = api.load_lake(lake, start="2021-01-01", end="2021-03-31")
    px = data.tables["fact_price"]
    assert px["date"].min() >= date(2021, 1, 1) and px["date"].max() <= date(2021, 3, 31)
    assert {"BTC", "ETH"} <= set(px["asset_id"].unique().to_list())
    assert file_stat_snapshot(lake) == before


def test_config_forms_and_errors(lake: Path, tmp_path: Path) -> None:
    cfg = api.resolve_config({"universe.basket_size": 7, "regime.mode": "kmeans"}, lake=lake)
    assert isinstance(cfg, Config)
    assert cfg.universe.basket_size == 7 and cfg.regime.mode == "kmeans"
    assert cfg.paths.data_lake == lake
    path = tmp_path / "c.yaml"
    path.write_text("universe:\n  basket_size: 9\n")
    assert api.resolve_config(path).universe.basket_size == 9
    assert api.resolve_config(cfg) is not None
    with pytest.raises(ConfigError, match="universe.basket_sise"):
        api.resolve_config({"universe.basket_sise": 7})
    with pytest.raises(ConfigError, match="universe.basket_size"):
        api.resolve_config({"universe.basket_size": -1})
    with pytest.raises(ConfigError, match="start"):
        api.run(lake=lake, start="2021-13-01")
    with pytest.raises(LakeError):
        api.load_lake(tmp_path / "no_lake_here")
    with pytest.raises(TypeError):
        api.resolve_config(3)  # type: ignore[arg-type]


def test_demo_lake_is_generated_once(tmp_path: Path) -> None:
    lake_dir = api.demo_lake(tmp_path)
    assert (lake_dir / "fact_price.parquet").is_file()
    stamp = (lake_dir / "fact_price.parquet").stat().st_mtime_ns
    assert api.demo_lake(tmp_path) == lake_dir
    assert (lake_dir / "fact_price.parquet").stat().st_mtime_ns == stamp
