"""The documented example runs on the real fixture lakes (docs/real_data.md), end to end.

No performance target: the numbers are whatever the data give. The tests check that the run
completes without touching the lake, that the book builds every day after burn-in, and that
realized betas and the walk-forward statistics are reported."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

pytestmark = pytest.mark.real_data


@pytest.mark.parametrize(
    ("fixture", "start", "end"),
    [("real_lake", "2019-01-01", "2021-10-15"), ("real_binance_lake", "2020-06-01", "2024-12-05")],
)
def test_documented_real_run(
    fixture: str, start: str, end: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    lake: Path = request.getfixturevalue(fixture)
    before = file_stat_snapshot(lake)
    code = cli.main(
        [
            "run",
            "--lake",
            str(lake),
            "--start",
            start,
            "--end",
            end,
            "--output-root",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    assert file_stat_snapshot(lake) == before
    rep = tmp_path / "reports" / "majors_alts"
    k = json.loads((rep / "kpis.json").read_text())
    print(
        fixture,
        json.dumps(
            {
                "strategy": k["strategy"],
                "always_on": k["benchmark_always_on"],
                "wf": {
                    x: k["walk_forward"][x]
                    for x in ("oos_sharpe", "oos_sharpe_ci95", "deflated_sharpe", "pbo")
                },
                "neutrality": k["neutrality"],
            },
            indent=1,
        ),
    )
    assert k["neutrality"]["beta_btc_realized"] is not None
    assert k["walk_forward"]["n_trials"] >= 1
    rules = [e["rule"] for e in k["league"]["entries"]]
    assert rules[0] == "model" and "bitcoin_season" in rules and "best_single_feature" in rules
    tl = pl.read_csv(rep / "regime_timeline.csv")
    after_burn = tl.filter(pl.col("fold") >= 0)
    assert after_burn.height > 0 and (after_burn["basket_size"] > 0).all()
    sig = json.loads((rep / "signals_today.json").read_text())
    assert sig["asof"] == end
