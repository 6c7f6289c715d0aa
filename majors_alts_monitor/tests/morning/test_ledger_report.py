"""Issue 21, item 3: ``majors-alts ledger``. The P&L of having followed the issued calls is the
backtest's own P&L when the calls are the backtest's (a metamorphic check of the pricing: same
engine, same costs), calls that disagree with the backtest are reported as such, and the
command prints the agreement and the P&L (``--json`` the whole report)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from majors_alts_monitor import cli, pipeline
from majors_alts_monitor.backtest.stages import iso
from majors_alts_monitor.config import load_config
from majors_alts_monitor.morning import ledger, ledger_report

from .conftest import END, START


def test_following_the_backtests_own_calls_earns_the_backtests_pnl(
    synth_lake: Path, quick_config: Path
) -> None:
    cfg = load_config(quick_config).with_overrides(lake=synth_lake)
    lake = pipeline.make_reader(cfg).read(START, END)
    s, e, _ = pipeline.effective_window(lake, START, END)
    p = pipeline.prepare(cfg, lake, s, e)
    res = pipeline.run(cfg, START, END, lake=lake, prepared=p)
    tl = res.timeline
    exposure = tl["exposure"].to_numpy()
    dates = [iso(d) for d in p.panel.dates]
    a, b = len(dates) - 200, len(dates) - 30  # 170 decision days of the last test windows
    calls = {}
    for t in range(a, b + 1):
        w = p.book.weights[t] * exposure[t]
        targets = [
            {"asset_id": p.panel.assets[j], "weight": float(w[j])} for j in np.flatnonzero(w)
        ]
        calls[dates[t]] = {"decision_date": dates[t], "targets": targets}
    got = ledger_report.followed_pnl(cfg, p, calls)
    assert got["pnl_days"] == b - a + 1 and got["first_pnl_date"] == dates[a + 1]
    mine = pl.DataFrame(got["daily"]).select("pnl_date", "net")
    bt = res.pnl.with_columns(pl.col("date").cast(pl.Utf8)).rename({"date": "pnl_date"})
    j = mine.join(bt.select("pnl_date", "net_return"), on="pnl_date")
    assert j.height == got["pnl_days"]
    # the first day enters from a flat book (the backtest held yesterday's): equal after it
    later = j.filter(pl.col("pnl_date") > dates[a + 1])
    assert np.allclose(later["net"], later["net_return"], rtol=0, atol=1e-15)
    # one day left out: its book is kept (carried), so the P&L is the same but for the trade
    del calls[dates[a + 50]]
    kept = ledger_report.followed_pnl(cfg, p, calls)
    assert kept["days_without_a_call"] == 1 and kept["pnl_days"] == got["pnl_days"]
    # a call's sign flipped: its next day's gross P&L flips
    t = a + 100
    calls[dates[t]] = {
        **calls[dates[t]],
        "targets": [{**x, "weight": -x["weight"]} for x in calls[dates[t]]["targets"]],
    }
    flipped = ledger_report.followed_pnl(cfg, p, calls)
    day = {r["pnl_date"]: r for r in got["daily"]}[dates[t + 1]]
    day2 = {r["pnl_date"]: r for r in flipped["daily"]}[dates[t + 1]]
    assert day2["gross"] == pytest.approx(-day["gross"], abs=1e-15)


def test_ledger_command_reports_agreement_revisions_and_pnl(
    synth_lake: Path,
    quick_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "out"
    # robustness on (as the packaged config): the ledger's backtest turns it off, and must still
    # say the configuration's own hash, the one signals records (review defect 5)
    cfg = tmp_path / "robust.yaml"
    y = yaml.safe_load(quick_config.read_text())
    y["report"]["robustness"] = True
    cfg.write_text(yaml.safe_dump(y))
    common = ["--lake", str(synth_lake), "--output-root", str(root), "--config", str(cfg)]
    assert cli.main(["ledger", *common]) == 2  # no ledger yet: says what to do
    assert "no ledger" in capsys.readouterr().err
    days = [date(2023, 6, d) for d in (24, 25, 26)]
    for d in days:
        argv = ["signals", *common, "--asof", d.isoformat(), "--today", "2023-06-27", "--quiet"]
        assert cli.main(argv) == 0
    folder = root / "reports/majors_alts/ledger"
    # a revision for the first day that disagrees with the backtest
    first = ledger.read(folder)[0]
    other = {**first, "regime": "RISK_ON_ALTS" if first["regime"] != "RISK_ON_ALTS" else "BALANCED"}
    other.pop("_file")
    other["answer"] = ledger.answer_hash(other)
    other["config_hash"] = "0123456789abcdef"  # issued under another configuration
    ledger.append(folder, other)
    capsys.readouterr()
    assert cli.main(["ledger", *common, "--json", "--today", "2023-06-27"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["config_hash"] == load_config(cfg).hash() == first["config_hash"]
    assert rep["other_config"] == [
        {
            "decision_date": days[0].isoformat(),
            "file": f"{days[0].isoformat()}_{other['answer']}.json",
            "config_hash": "0123456789abcdef",
        }
    ]
    a = rep["agreement"]
    assert a["calls"] == 3 and a["records"] == 4 and a["agree"] == 3 and a["disagree"] == []
    assert a["revised_days"] == [days[0].isoformat()]
    p = rep["pnl"]
    assert p["pnl_days"] == 3 and p["last_pnl_date"] == "2023-06-27"
    assert p["net"] == pytest.approx(p["gross"] - p["fees"] - p["slippage"] + p["funding"])
    assert "funding" in p["costs_included"]
    assert cli.main(["ledger", *common, "--today", "2023-06-27"]) == 0
    out = capsys.readouterr().out
    assert "agreement: 3 of 3" in out and "P&L of the issued calls" in out
    assert "fees (cost)" in out and "funding (P&L)" in out
    assert f"config {load_config(cfg).hash()}" in out
    assert "1 of 4 records were issued under another config (hash 0123456789abcdef)" in out
    assert "(other config)" not in out  # the judged calls (first issues) are this config's
