"""The traders' indicators (``market/indicators.py``) against a hand calculation on a small
lake written to disk and read by the reader (so stablecoins and the wrapped tokens of the
exclude list are removed exactly as in a run).

The lake: BTC, ETH and five alts whose closes grow at constant daily rates, so every 90-day
return is known in closed form; market caps are constant except BBB's, which jumps above
CCC's on day 140 (the top N is taken as of the date); NEWC has the largest alt cap but lists on
day 70 (no 90-day return before day 160); USDT (``is_stable``) and WBTC (in
``universe.exclude``) have caps that would enter the top 3, and returns that would change the
count, if they were ranked. CCC misses the close of day 30 (carried over the gap).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from majors_alts_monitor.config import Config
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.market.features import compute_features
from majors_alts_monitor.market.indicators import altcoin_season, ranked_top
from majors_alts_monitor.market.panel import build_panel
from majors_alts_monitor.market.universe import build_universe

START = date(2024, 1, 1)
N = 200
RET90 = {  # 90-day return of each asset
    "BTC": 0.10,
    "ETH": 0.05,
    "AAA": 0.20,
    "BBB": 0.15,
    "CCC": -0.10,
    "DDD": 0.30,
    "NEWC": 1.00,
    "USDT": 0.0,
    "WBTC": 0.50,
}
CAP = {  # billions USD
    "BTC": 2000.0,
    "ETH": 500.0,
    "AAA": 400.0,
    "BBB": 50.0,
    "CCC": 300.0,
    "DDD": 30.0,
    "NEWC": 1000.0,
    "USDT": 10000.0,
    "WBTC": 900.0,
}
LIST_DAY = {"NEWC": 70}
BBB_JUMP = (140, 350.0)
GAP = ("CCC", 30)


def _rows() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    price, cap, vol = [], [], []
    for a, r in RET90.items():
        g = (1.0 + r) ** (1.0 / 90.0)
        for t in range(LIST_DAY.get(a, 0), N):
            d = START + timedelta(days=t)
            c = CAP[a] * 1e9
            if a == "BBB" and t >= BBB_JUMP[0]:
                c = BBB_JUMP[1] * 1e9
            if (a, t) != GAP:
                price.append((a, d, 10.0 * g**t))
            cap.append((a, d, c))
            vol.append((a, d, 1e9))
    mk = lambda rows, col: pl.DataFrame(rows, schema=["asset_id", "date", col], orient="row")  # noqa: E731
    return mk(price, "close"), mk(cap, "marketcap"), mk(vol, "volume")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("indicators")
    price, cap, vol = _rows()
    price.write_parquet(root / "fact_price.parquet")
    cap.write_parquet(root / "fact_marketcap.parquet")
    vol.write_parquet(root / "fact_volume.parquet")
    names = list(RET90)
    pl.DataFrame(
        {
            "asset_id": names,
            "symbol": names,
            "name": names,
            "is_stable": [a == "USDT" for a in names],
        }
    ).write_parquet(root / "dim_asset.parquet")
    return root


@pytest.fixture(scope="module")
def read(lake: Path):
    cfg = Config()
    data = LakeReader(lake, aliases=cfg.universe.aliases, exclude=cfg.universe.exclude).read()
    end = START + timedelta(days=N - 1)
    panel = build_panel(data, START, end, cfg.data.max_gap_days)
    uni = build_universe(panel, cfg.universe, max_gap_days=cfg.data.max_gap_days)
    fs = compute_features(panel, uni, zscore_window=60, zscore_min_periods=30)
    return data, panel, uni, fs


def _hand(t: int, top_n: int) -> tuple[float, int]:
    """Rank the alts with a 90-day return on day t by cap, take the top N, count beats."""
    pool = []
    for a in ("ETH", "AAA", "BBB", "CCC", "DDD", "NEWC"):  # USDT, WBTC: removed; BTC: the bar
        if t - 90 < LIST_DAY.get(a, 0):
            continue
        c = BBB_JUMP[1] if a == "BBB" and t >= BBB_JUMP[0] else CAP[a]
        pool.append((c, a))
    top = [a for _, a in sorted(pool, reverse=True)[:top_n]]
    beats = sum(RET90[a] > RET90["BTC"] for a in top)
    return 100.0 * beats / len(top), len(top)


@pytest.mark.parametrize("t", [120, 151, 170, 199])
@pytest.mark.parametrize("top_n", [3, 50])
def test_altcoin_season_index_equals_the_hand_count(read, t: int, top_n: int) -> None:
    _, panel, uni, _ = read
    assert "USDT" not in panel.assets and "WBTC" not in panel.assets
    index, counted = altcoin_season(panel.close, panel.mcap, uni.btc, top_n)
    want, n = _hand(t, top_n)
    assert index[t] == pytest.approx(want, abs=1e-9)
    assert counted[t] == n


def test_hand_values_are_what_the_lake_was_built_for() -> None:
    # top 3 on day 120: ETH, AAA, CCC -> only AAA beats BTC's +10%; day 151: BBB (350) has
    # overtaken CCC -> AAA, BBB; day 170: NEWC (listed day 70) now ranks first -> NEWC, AAA
    assert _hand(120, 3) == pytest.approx((100 / 3, 3))
    assert _hand(151, 3) == pytest.approx((200 / 3, 3))
    assert _hand(170, 3) == pytest.approx((200 / 3, 3))
    assert _hand(120, 50) == pytest.approx((60.0, 5))  # coverage 5 of 50


def test_the_index_needs_ninety_days_and_btc(read) -> None:
    _, panel, uni, fs = read
    asi = fs.raw[:, fs.column("altseason_50")]
    assert np.isnan(asi[:90]).all() and np.isfinite(asi[91:]).all()
    np.testing.assert_allclose(asi, altcoin_season(panel.close, panel.mcap, uni.btc, 50)[0])
    asi100 = fs.raw[:, fs.column("altseason_100")]
    np.testing.assert_array_equal(asi100, asi)  # the lake holds fewer than 50 coins


def test_totals_dominance_and_eth_btc_by_hand(read) -> None:
    data, panel, _, fs = read
    assert data.stable_caps is not None and set(data.stable_caps["asset_id"]) == {"USDT"}
    t = 120
    crypto = sum(CAP[a] for a in ("BTC", "ETH", "AAA", "BBB", "CCC", "DDD", "NEWC"))
    total = crypto + CAP["USDT"]
    row = {n: fs.raw[t, fs.column(n)] for n in fs.names}
    assert row["btc_dom"] == pytest.approx(CAP["BTC"] / crypto)
    assert row["total2_share"] == pytest.approx((total - CAP["BTC"]) / total)
    assert row["total3_share"] == pytest.approx((total - CAP["BTC"] - CAP["ETH"]) / total)
    assert row["stable_dom"] == pytest.approx(CAP["USDT"] / total)
    g_e, g_b = (1.05) ** (1 / 90), (1.10) ** (1 / 90)
    assert row["eth_btc"] == pytest.approx((g_e / g_b) ** t)
    assert row["eth_btc_chg_50d"] == pytest.approx(50 * math.log(g_e / g_b))
    # BTC dominance 30 days on: NEWC listed on day 70 moved it, BBB's jump on day 140
    assert row["btc_dom_chg_30d"] == pytest.approx(0.0)
    t2 = 150
    crypto2 = crypto - CAP["BBB"] + BBB_JUMP[1]
    dom = fs.raw[:, fs.column("btc_dom")]
    assert dom[t2] == pytest.approx(CAP["BTC"] / crypto2)
    assert fs.raw[t2, fs.column("btc_dom_chg_30d")] == pytest.approx(dom[t2] - dom[t2 - 30])


def test_a_lake_without_stablecoin_caps_drops_stable_dom_with_a_note(read) -> None:
    _, panel, uni, _ = read
    bare = dataclasses.replace(panel, stable_mcap=None)
    fs = compute_features(bare, uni, zscore_window=60, zscore_min_periods=30)
    assert "stable_dom" not in fs.names and "stable_dom" in fs.removed
    assert not any("stable_dom" in w for w in fs.warnings)  # a note, not a warning
    assert any("stable_dom" in n for n in fs.notes)
    t = 120
    crypto = sum(CAP[a] for a in ("BTC", "ETH", "AAA", "BBB", "CCC", "DDD", "NEWC"))
    assert fs.raw[t, fs.column("total2_share")] == pytest.approx(1 - CAP["BTC"] / crypto)


def test_ranked_top_breaks_ties_by_column_order() -> None:
    key = np.array([[1.0, 3.0, 3.0, np.nan, 2.0]])
    allowed = np.array([[True, True, True, True, False]])
    np.testing.assert_array_equal(ranked_top(key, allowed, 2), [[False, True, True, False, False]])
    np.testing.assert_array_equal(ranked_top(key, allowed, 10), [[True, True, True, False, False]])
