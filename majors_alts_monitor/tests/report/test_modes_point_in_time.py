"""Point in time, for every regime mode: ``signals --asof D`` on the lake cut at ``D`` equals
the full lake's (the default mode is also covered by ``test_cli_e2e`` and the demo and real
lakes by ``test_one_signal``; the jump model by ``test_regime``), and the run's timeline
agrees with ``signals --asof`` at the run's last day. One small synthetic lake, fixed seed."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.tests.test_cli_e2e import _cut_lake

START, END = date(2020, 1, 1), date(2023, 3, 31)
ASOF = date(2022, 11, 20)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("modes_pit")
    spec = SyntheticSpec(n_assets=20, start=START, end=END, seed=8)
    full, _ = write_lake(generate(spec), root / "full")
    _cut_lake(full, root / "cut", ASOF)
    return full, root / "cut"


def _yaml(tmp: Path, mode: str) -> Path:
    p = tmp / f"{mode}.yaml"
    p.write_text(f"regime:\n  mode: {mode}\nstats:\n  n_boot: 200\nreport:\n  robustness: false\n")
    return p


def _quiet(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(args)


@pytest.mark.parametrize("mode", ["forecast", "composite", "hmm", "kmeans"])
def test_signal_on_a_cut_lake_equals_the_full_lake(lakes, tmp_path: Path, mode: str) -> None:
    cfg = _yaml(tmp_path, mode)
    outs = []
    for lk in lakes:
        root = tmp_path / f"o_{lk.name}"
        args = ["signals", "--config", str(cfg), "--lake", str(lk), "--output-root", str(root)]
        assert _quiet([*args, "--quiet", "--asof", ASOF.isoformat()]) == 0
        s = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
        s.pop("generated_at")
        outs.append(s)
    assert outs[0]["model"]["mode"] == mode
    assert outs[0] == outs[1]


@pytest.mark.parametrize("mode", ["forecast", "composite"])
def test_run_on_the_cut_lake_ends_with_the_signal(lakes, tmp_path: Path, mode: str) -> None:
    """The run on the lake cut at ``ASOF``: its league and its last day's regime are its own,
    and the signal file it writes equals ``signals --asof`` on the full lake."""
    cfg = _yaml(tmp_path, mode)
    full, cut = lakes
    root = tmp_path / "run"
    assert (
        _quiet(["run", "--config", str(cfg), "--lake", str(cut), "--output-root", str(root)]) == 0
    )
    rep = root / "reports/majors_alts"
    kpis = json.loads((rep / "kpis.json").read_text())
    assert kpis["walk_forward"]["mode"] == mode
    assert kpis["league"]["entries"][0]["rule"] == "model"
    page = (rep / "dashboard.html").read_text()
    assert '<table id="league-table">' in page and "bitcoin_season" in page
    if mode == "forecast":  # the forecast's parts of the score are drawn as the composite's
        assert 'id="fig-contributions"' in page
    ran = json.loads((rep / "signals_today.json").read_text())
    other = tmp_path / "sig"
    args = ["signals", "--config", str(cfg), "--lake", str(full), "--output-root", str(other)]
    assert _quiet([*args, "--quiet", "--asof", ASOF.isoformat()]) == 0
    sig = json.loads((other / "reports/majors_alts/signals_today.json").read_text())
    for k in ("regime", "previous_regime", "exposure", "score", "explain", "targets"):
        assert sig[k] == ran[k], k
