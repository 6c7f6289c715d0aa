"""Thin data is refused or flagged (issue 21, item 7).

A synthetic lake (planted world, 22 alts) is cut the way the real lakes are: 17 of the alts
print no price for three months (the basket falls to a handful of names, as ``real/``'s early
years with 0-1 names), they stop together (``real_binance``'s 30 assets ending on one day) and
ETH has a ten-day hole. On every refused decision day the book is not traded (exposure 0,
nothing held the next day), the timeline and the signal's explain say why, the run warns, and
``kpis.json`` counts the days; a unit test pins ``market.thin`` on a hand-built panel.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from majors_alts_monitor import cli
from majors_alts_monitor.config import UniverseConfig, parse_config
from majors_alts_monitor.errors import ConfigError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.market.beta_neutral import Book
from majors_alts_monitor.market.panel import MarketPanel
from majors_alts_monitor.market.thin import tradeable
from majors_alts_monitor.market.universe import Universe

GONE = [f"ALT{i:03d}" for i in range(5, 22)]  # 17 of the 22 alts
HOLE = (date(2022, 3, 1), date(2022, 5, 31))  # they print no price in this span
ETH_HOLE = (date(2022, 8, 1), date(2022, 8, 10))
FAST = {
    "regime": {"grid": {"max_sets": 60}},
    "stats": {"n_boot": 200, "pbo_blocks": 8},
    "report": {"robustness": False},
}


@pytest.fixture(scope="module")
def thin_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("thin_lake")
    spec = SyntheticSpec(n_assets=24, start=date(2020, 1, 1), end=date(2022, 12, 31), seed=5)
    lake = write_lake(generate(spec), out)[0]
    price = pl.read_parquet(lake / "fact_price.parquet")
    gone = pl.col("asset_id").is_in(GONE) & pl.col("date").is_between(*HOLE)
    eth = (pl.col("asset_id") == "ETH") & pl.col("date").is_between(*ETH_HOLE)
    price.filter(~(gone | eth)).write_parquet(lake / "fact_price.parquet")
    return lake


@pytest.fixture(scope="module")
def thin_run(thin_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("thin_run")
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(FAST))
    args = ["run", "--lake", str(thin_lake), "--config", str(cfg), "--output-root", str(root)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([*args, "--quiet"]) == 0
    return root


def _timeline(root: Path) -> pl.DataFrame:
    rep = root / "reports" / "majors_alts"
    return pl.read_csv(rep / "regime_timeline.csv", try_parse_dates=True, infer_schema_length=None)


def test_thin_days_are_not_traded_and_say_why(thin_run: Path) -> None:
    tl = _timeline(thin_run)
    oos = tl.filter(pl.col("fold") >= 0)
    thin = oos.filter(pl.col("basket_size") < 10)
    assert thin.height >= 60, "the hole must thin the out-of-sample basket"
    # refused: exposure 0 whatever the regime, and the reason on the row
    assert (thin["exposure"] == 0).all()
    assert thin["no_trade_reason"].str.contains("below universe.min_basket_names 10").all()
    # among them days whose regime would have held the book (exposure 1 before this issue)
    assert thin.filter(pl.col("regime") == "RISK_ON_MAJORS").height > 0
    no_eth = oos.filter(pl.col("date").is_between(date(2022, 8, 4), date(2022, 8, 11)))
    assert no_eth.height == 8 and (no_eth["exposure"] == 0).all()
    assert no_eth["no_trade_reason"].str.contains("no ETH price").all()
    # every other day is traded at its regime's level, with no reason
    ok = oos.filter(pl.col("no_trade_reason").is_null())
    level = ok["regime"].replace_strict(
        {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.0, "RISK_ON_ALTS": 0.0}, return_dtype=pl.Float64
    )
    assert (ok["exposure"] == level).all()
    assert oos.filter(pl.col("no_trade_reason").is_not_null()).height == thin.height + 8


def test_nothing_is_held_the_day_after_a_refused_decision(thin_run: Path) -> None:
    rep = thin_run / "reports" / "majors_alts"
    pnl = pl.read_csv(rep / "bt_daily_pnl.csv", try_parse_dates=True)
    refused = _timeline(thin_run).filter(pl.col("no_trade_reason").is_not_null())
    after = refused.select(pl.col("date").dt.offset_by("1d"))
    held = pnl.join(after, on="date", how="semi")
    assert held.height > 60
    assert (held["gross_leverage"] == 0).all() and (held["exposure"] == 0).all()
    assert (held["gross_return"] == 0).all()


def test_kpis_count_the_refused_days_and_the_run_warns(thin_run: Path) -> None:
    rep = thin_run / "reports" / "majors_alts"
    kpis = json.loads((rep / "kpis.json").read_text())
    td = kpis["thin_data"]
    pnl = pl.read_csv(rep / "bt_daily_pnl.csv", try_parse_dates=True)
    decisions = pnl.select(pl.col("date").dt.offset_by("-1d"))
    tl = _timeline(thin_run).join(decisions, on="date", how="semi")  # as kpis count them
    assert td["min_basket_names"] == 10 and td["decision_days"] == tl.height
    assert td["thin_basket_days"] == tl.filter(pl.col("basket_size") < 10).height
    assert td["no_eth_days"] == 8 and td["no_btc_days"] == 0
    refused = tl.filter(pl.col("no_trade_reason").is_not_null())
    assert td["untraded_days"] == refused.height
    assert (
        td["untraded_invested_days"] == refused.filter(pl.col("regime") == "RISK_ON_MAJORS").height
    )
    drop = next(d for d in td["basket_drops"] if d["date"] == "2022-03-01")
    assert drop["names_before"] >= 15 and drop["names_after"] < 10
    assert drop["basket_names_ended"] >= 10 and len(GONE) - 2 <= drop["alts_ended"] <= len(GONE)
    warns = json.loads((thin_run / "artifacts/majors_alts/run_manifest.json").read_text())[
        "warnings"
    ]
    assert any(w.startswith("thin basket: fewer than 10 names") for w in warns)
    assert any("no ETH price on 8 of" in w for w in warns)
    shrank = f"the short basket shrank from {drop['names_before']} to {drop['names_after']} names"
    assert any(w.startswith(f"{shrank} on 2022-03-01") for w in warns)


def test_signal_on_a_thin_day_refuses_the_book(thin_lake: Path, thin_run: Path) -> None:
    """``signals --asof`` a thin day: exposure 0, no targets, the reason in explain and the
    warnings, and the timeline's numbers for that day."""
    asof = date(2022, 4, 15)
    out = io.StringIO()
    cfg = thin_run / "config.yaml"
    args = ["signals", "--lake", str(thin_lake), "--config", str(cfg), "--asof", str(asof)]
    with contextlib.redirect_stdout(out):
        assert cli.main([*args, "--output-root", str(thin_run / "sig"), "--quiet"]) == 0
    sig = json.loads((thin_run / "sig/reports/majors_alts/signals_today.json").read_text())
    row = _timeline(thin_run).filter(pl.col("date") == asof).row(0, named=True)
    assert sig["exposure"] == 0 and sig["targets"] == [] and sig["book"]
    assert sig["explain"]["no_trade_reason"] == row["no_trade_reason"]
    assert sig["regime"] == row["regime"] and sig["score"] == pytest.approx(row["score"], abs=1e-12)
    assert any(w.startswith("not traded: short basket") for w in sig["warnings"])
    assert "refused  not traded: short basket" in out.getvalue()


def test_min_basket_names_is_checked_and_defaults_to_half_the_basket() -> None:
    assert UniverseConfig().min_names() == 10
    assert UniverseConfig(basket_size=7).min_names() == 4
    assert UniverseConfig(basket_size=8, min_basket_names=3).min_names() == 3
    with pytest.raises(ConfigError, match="min_basket_names"):
        parse_config({"universe": {"basket_size": 8, "min_basket_names": 9}})


def _panel(close: np.ndarray) -> MarketPanel:
    n, m = close.shape
    ret = np.full_like(close, np.nan)
    ret[1:] = close[1:] / close[:-1] - 1
    z = np.zeros_like(close)
    return MarketPanel(
        np.datetime64("2024-01-01") + np.arange(n),
        tuple(f"A{j}" for j in range(m)),
        close,
        ret,
        z,
        z,
        z,
        z,
        np.isfinite(close) & np.isfinite(ret),
        False,
        False,
    )


def test_tradeable_on_a_hand_built_panel() -> None:
    """Columns 0, 1 are BTC and ETH; 2..9 alts. Day 0 has no return (refused: no BTC/ETH
    price); days 1-3 a basket of 6 (min 4: traded); day 4 the basket falls to 2 as four
    names stop printing (refused, and a drop of 67% > 25% with names ended); on day 5 ETH has
    no price."""
    n, m = 6, 10
    close = np.ones((n, m))
    close[4:, 4:8] = np.nan  # four basket names stop after day 3
    close[5, 1] = np.nan  # ETH has no price on day 5
    basket = np.zeros((n, m), dtype=bool)
    basket[:, 2:8] = True
    basket[4:, 4:8] = False
    panel = _panel(close)
    uni = Universe(basket, basket, np.zeros((n, m)), np.zeros((n, m)), 0, 1)
    names = basket.sum(axis=1)
    book = Book(
        np.zeros((n, m)),
        np.zeros(n),
        np.zeros(n),
        np.ones(n),
        np.ones(n, dtype=bool),
        names,
        np.zeros(n, dtype=np.int64),
        names > 0,
    )
    tr = tradeable(panel, uni, book, 4, 0.25)
    assert tr.ok.tolist() == [False, True, True, True, False, False]
    assert tr.thin.tolist() == [False, False, False, False, True, True]
    assert tr.no_eth.tolist() == [True, False, False, False, False, True]
    assert [(d.day, d.before, d.after, d.ended, d.ended_all) for d in tr.drops] == [(4, 6, 2, 4, 4)]
    assert tr.reason(1, 6) is None
    assert tr.reason(4, 2) == "not traded: short basket 2 names, below universe.min_basket_names 4"
    assert tr.reason(5, 2).endswith("; no ETH price")
    assert tr.reason(0, 6) == "not traded: no BTC price; no ETH price"
