"""One convention per quantity, said where it is shown (issue 21, items 6 and 8), on one run of
a synthetic lake: costs labelled as costs (positive = paid) and funding as a signed P&L on the
console and the dashboard; every unfunded share says what it divides by; the fold windows of
the timeline, ``kpis.json`` and the dashboard agree (decision days) or say their convention;
no "-0.0" in any file or table; each regime shown with what it holds."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from majors_alts_monitor import cli
from majors_alts_monitor.labels import SIGNS, UNFUNDED_OF
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

FAST = {"regime": {"grid": {"max_sets": 60}}, "stats": {"n_boot": 200, "pbo_blocks": 8}}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("conv_lake")
    spec = SyntheticSpec(n_assets=24, start=date(2020, 1, 1), end=date(2022, 12, 31), seed=5)
    lake = write_lake(generate(spec), out)[0]
    root = tmp_path_factory.mktemp("conv_run")
    (root / "c.yaml").write_text(yaml.safe_dump(FAST))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(
            ["run", "--lake", str(lake), "--config", str(root / "c.yaml")]
            + ["--output-root", str(root), "--quiet"]
        )
    assert code == 0
    return root, buf.getvalue()


def _rep(root: Path) -> Path:
    return root / "reports" / "majors_alts"


def test_console_labels_costs_and_pnl(run: tuple[Path, str]) -> None:
    root, console = run
    kpis = json.loads((_rep(root) / "kpis.json").read_text())
    s = kpis["strategy"]
    costs = next(line for line in console.splitlines() if "costs (paid, sum)" in line)
    assert f"fees {100 * s['total_fees']:.2f}%" in costs and "funding" not in costs
    funding = next(line for line in console.splitlines() if "funding P&L (sum)" in line)
    assert "(signed: negative = paid)" in funding and "of the short notional" in funding
    assert "of the gross" in funding
    assert "P&L days" in console  # the out-of-sample period's day convention


def test_kpis_say_their_sign_conventions_and_denominators(run: tuple[Path, str]) -> None:
    kpis = json.loads((_rep(run[0]) / "kpis.json").read_text())
    assert kpis["conventions"]["signs"] == SIGNS
    assert kpis["costs"]["unfunded_share_mean_of"] == UNFUNDED_OF["unfunded_share_mean"]
    fb = kpis["funding_by_leg"]
    assert fb["unfunded_short_share_of"] == UNFUNDED_OF["unfunded_short_share"]
    assert "short notional" in fb["unfunded_short_share_always_on_of"]
    if fb["warning"]:
        assert "mean over its days with a short book" in fb["warning"]
    # existing keys keep their signs: costs >= 0, funding a signed P&L summing the daily column
    pnl = pl.read_csv(_rep(run[0]) / "bt_daily_pnl.csv")
    assert kpis["strategy"]["total_fees"] >= 0 and kpis["strategy"]["total_slippage"] >= 0
    assert kpis["strategy"]["total_funding"] == pytest.approx(pnl["funding_pnl"].sum())


def test_fold_windows_agree_between_timeline_kpis_and_dashboard(run: tuple[Path, str]) -> None:
    root = run[0]
    kpis = json.loads((_rep(root) / "kpis.json").read_text())
    tl = pl.read_csv(_rep(root) / "regime_timeline.csv", try_parse_dates=True)
    page = (_rep(root) / "dashboard.html").read_text()
    table = page[page.index('<table id="folds-table">') :]
    spans = re.findall(r'<td class="span">(\d{4}-\d\d-\d\d) → (\d{4}-\d\d-\d\d) \((\d+) d\)', table)
    assert "Test (decision days)" in table and "kpis.json" in html.unescape(page)
    wf = kpis["walk_forward"]
    assert "decision days" in wf["fold_dates_note"]
    for k, f in enumerate(wf["folds"]):
        rows = tl.filter(pl.col("fold") == f["fold"])
        first, last = rows["date"].min(), rows["date"].max()
        assert (f["test_decision_start"], f["test_decision_end"]) == (str(first), str(last))
        # kpis.json's P&L days are one day after the decisions (the last P&L day at most)
        assert f["test_start"] == str(first + timedelta(days=1))
        assert f["train_start"] == str(date.fromisoformat(f["train_decision_start"]) + timedelta(1))
        train, test = spans[2 * k], spans[2 * k + 1]
        assert (test[0], test[1], int(test[2])) == (str(first), str(last), rows.height)
        assert (train[0], train[1]) == (f["train_decision_start"], f["train_decision_end"])


def test_no_negative_zero_in_files_or_tables(run: tuple[Path, str]) -> None:
    rep = _rep(run[0])
    zero = re.compile(r"(^|[,\s:\[>(])-0(\.0+)?(?=[,\s\]<%)]|$)", re.M)
    for name in (
        "regime_timeline.csv",
        "bt_daily_pnl.csv",
        "bt_equity_curve.csv",
        "regime_metrics.csv",
        "pnl_attribution.csv",
        "kpis.json",
        "signals_today.json",
    ):
        text = (rep / name).read_text()
        assert not zero.search(text), (name, zero.search(text))
    page = (rep / "dashboard.html").read_text()
    tables = "".join(re.findall(r"<table.*?</table>", page, flags=re.S))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", tables)
    assert cells and not [c for c in cells if re.fullmatch(r"-0(\.0+)?%?", c.strip())]
    assert not zero.search(run[1])  # the console


def test_regimes_are_shown_with_what_they_hold(run: tuple[Path, str]) -> None:
    root, console = run
    sig = json.loads((_rep(root) / "signals_today.json").read_text())
    levels = sig["exposure_by_regime"]
    assert levels == {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.0, "RISK_ON_ALTS": 0.0}
    flat = "(flat, exposure 0.00)"
    held = "(long majors, short alts, exposure 1.00)"
    expect = held if levels[sig["regime"]] else flat
    assert f"{sig['regime']} {expect}" in console
    page = html.unescape((_rep(root) / "dashboard.html").read_text())
    meaning = re.search(r'id="latest-meaning">\(([^)]*)\)<', page).group(1)
    assert f"({meaning})" == expect
    assert "RISK_ON_ALTS (flat)" in page  # the by-regime table and the trades
    assert "RISK_ON_MAJORS trigger (upper \\u00b1 band)" in page  # the charts' switch lines
