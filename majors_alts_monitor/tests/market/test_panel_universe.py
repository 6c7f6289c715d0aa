"""Tests of the aligned panel (``panel.py``) and the point-in-time universe (``universe.py``).

The panel's one rule for gaps, listings and delistings is checked on hand-made lakes whose
answers can be read off by eye; the universe's eligibility rule against a slow per-day reference;
point-in-time by a property test (cutting the lake at any date leaves everything up to that date
unchanged); the real fixture lakes for a usable basket. Seeds are fixed.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor.config import Config, UniverseConfig
from majors_alts_monitor.lake.data_io import LakeData, LakeReader
from majors_alts_monitor.lake.synthetic import SyntheticLake, SyntheticSpec, generate, write_lake
from majors_alts_monitor.market.panel import MarketPanel, build_panel, carry_forward
from majors_alts_monitor.market.universe import Universe, build_universe

SEED = 13
SPEC = SyntheticSpec(
    n_assets=24,
    start=date(2020, 1, 1),
    end=date(2021, 6, 30),
    seed=SEED,
    quirks=frozenset({"gaps", "duplicates", "ragged_ends"}),
)
CFG = Config()
# thresholds lowered for a 24-asset lake so that eligibility and the top-N cut both bind
UCFG: UniverseConfig = CFG.universe.model_copy(
    update={
        "basket_size": 6,
        "min_history_days": 30,
        "min_marketcap": 3e7,
        "min_volume": 1e6,
        "volume_lookback_days": 20,
    }
)
MAX_GAP = CFG.data.max_gap_days
D0 = date(2021, 1, 1)


# ---- hand-made lakes ---------------------------------------------------------------------------
def hand_lake(closes: dict[str, list[float | None]], start: date = D0) -> LakeData:
    """A validated-looking lake from per-asset daily closes (None = no row that day)."""
    rows = [
        (a, start + timedelta(days=i), c)
        for a, series in closes.items()
        for i, c in enumerate(series)
        if c is not None
    ]
    px = pl.DataFrame(
        rows, schema={"asset_id": pl.String, "date": pl.Date, "close": pl.Float64}, orient="row"
    )
    cap = px.select("asset_id", "date", (pl.col("close") * 1e9).alias("marketcap"))
    vol = px.select("asset_id", "date", (pl.col("close") * 1e8).alias("volume"))
    n = max(len(s) for s in closes.values())
    return LakeData(
        tables={"fact_price": px, "fact_marketcap": cap, "fact_volume": vol},
        sources={},
        start=start,
        end=start + timedelta(days=n - 1),
    )


def panel_of(lake: LakeData, max_gap: int = MAX_GAP) -> MarketPanel:
    return build_panel(lake, lake.start, lake.end, max_gap)


FLAT = [100.0] * 12


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.0, 7.0]),
        min_size=0,
        max_size=48,
    ),
    n_cols=st.integers(1, 4),
    limit=st.integers(0, 5),
)
def test_carry_forward_equals_a_loop(cells: list[float], n_cols: int, limit: int) -> None:
    """Each missing (non-finite) cell takes the last finite value of its column when that is at
    most ``limit`` rows back, else NaN; never before the first value; signed zeros kept."""
    x = np.array(cells[: len(cells) // n_cols * n_cols], dtype=np.float64).reshape(-1, n_cols)
    want = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        last = None
        for i in range(x.shape[0]):
            if np.isfinite(x[i, j]):
                last = i
            if last is not None and i - last <= limit:
                want[i, j] = x[last, j]
    assert carry_forward(x, limit).tobytes() == want.tobytes()


def test_one_day_gap_earns_zero_then_the_full_move() -> None:
    aaa: list[float | None] = [100.0, 101, 102, 103, 104, None, 114.4, 115, 116, 117, 118, 119]
    p = panel_of(hand_lake({"BTC": FLAT, "ETH": FLAT, "AAA": aaa}))
    j = p.idx("AAA")
    assert np.isnan(p.close[5, j])  # never filled
    assert p.ret[5, j] == 0.0  # a held position earns nothing on the missing day
    assert p.ret[6, j] == pytest.approx(114.4 / 104 - 1)  # and the whole move on the next
    assert not p.active[5, j] and p.active[4, j] and p.active[6, j]
    # holding through the gap earns exactly close[6] / close[4]
    assert (1 + p.ret[5, j]) * (1 + p.ret[6, j]) == pytest.approx(114.4 / 104)


@pytest.mark.parametrize("max_gap", [1, 3])
def test_gap_of_exactly_max_gap_days_is_bridged(max_gap: int) -> None:
    aaa: list[float | None] = [100.0, 101, 102] + [None] * max_gap + [120.0] * 4
    p = panel_of(hand_lake({"BTC": FLAT[:10], "ETH": FLAT[:10], "AAA": aaa}), max_gap)
    j, k = p.idx("AAA"), 3 + max_gap
    assert np.all(p.ret[3:k, j] == 0.0)
    assert p.ret[k, j] == pytest.approx(120 / 102 - 1) and p.active[k, j]


def test_gap_longer_than_max_gap_days_is_nan_and_inactive() -> None:
    aaa: list[float | None] = [100.0, 101, 102] + [None] * 5 + [130.0, 131, 132, 133]
    p = panel_of(hand_lake({"BTC": FLAT, "ETH": FLAT, "AAA": aaa}), max_gap=3)
    j = p.idx("AAA")
    assert np.all(p.ret[3:6, j] == 0.0)  # the first max_gap_days missing days are carried
    assert np.all(np.isnan(p.ret[6:9, j]))  # then undefined, including the first day back
    assert not p.active[3:9, j].any()
    assert p.active[9, j] and p.ret[9, j] == pytest.approx(131 / 130 - 1)


def test_listing_is_inactive_on_the_first_priced_day() -> None:
    aaa: list[float | None] = [None] * 4 + [50.0, 55, 60, 61, 62, 63, 64, 65]
    p = panel_of(hand_lake({"BTC": FLAT, "ETH": FLAT, "AAA": aaa}))
    j = p.idx("AAA")
    assert np.all(np.isnan(p.close[:4, j])) and np.all(np.isnan(p.ret[:5, j]))
    assert not p.active[:5, j].any()
    assert p.active[5, j] and p.ret[5, j] == pytest.approx(0.1)
    assert p.active[5:, j].all()


def test_delisting_is_inactive_after_the_last_close() -> None:
    aaa: list[float | None] = [100.0, 90, 80, 70, 60, 50, 40] + [None] * 5
    p = panel_of(hand_lake({"BTC": FLAT, "ETH": FLAT, "AAA": aaa}), max_gap=3)
    j = p.idx("AAA")
    assert p.active[1:7, j].all()
    assert not p.active[7:, j].any()
    assert np.all(np.isnan(p.close[7:, j]))
    after = p.ret[7:, j]
    # nothing is earned after the last close: 0 while a gap is still possible, then undefined
    assert np.all((after == 0.0) | np.isnan(after))
    assert np.all(np.isnan(p.ret[7 + 3 :, j]))


def test_dates_assets_and_funding_aggregation() -> None:
    lake = hand_lake({"ETH": FLAT, "BTC": FLAT, "AAA": FLAT})
    fund = pl.DataFrame(
        {
            "asset_id": ["BTC", "BTC", "AAA"],
            "instrument_id": ["BTCUSDT", "BTCUSD_PERP", "AAAUSDT"],
            "date": [D0 + timedelta(days=2)] * 3,
            "funding_rate": [0.0003, 0.0001, -0.0006],
        }
    )
    oi = pl.DataFrame(
        {
            "asset_id": ["BTC", "BTC"],
            "instrument_id": ["BTCUSDT", "BTCUSD_PERP"],
            "date": [D0 + timedelta(days=2)] * 2,
            "open_interest_usd": [1e9, 5e8],
        }
    )
    lake = dataclasses.replace(
        lake, tables={**lake.tables, "fact_funding": fund, "fact_open_interest": oi}
    )
    p = panel_of(lake)
    assert p.assets == ("AAA", "BTC", "ETH")  # sorted by asset_id
    assert p.n_days == 12 and p.dates[0] == np.datetime64(D0)
    assert np.all(np.diff(p.dates).astype(int) == 1)
    assert p.funding[2, p.idx("BTC")] == pytest.approx(0.0002)  # mean over instruments
    assert p.funding[2, p.idx("AAA")] == pytest.approx(-0.0006)
    assert p.oi[2, p.idx("BTC")] == pytest.approx(1.5e9)  # sum over instruments
    assert np.isnan(p.funding[3, p.idx("BTC")])  # never filled
    assert p.has_funding and p.has_oi


# ---- synthetic lake ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticLake, LakeData]:
    lake = generate(SPEC)
    lake_dir, _ = write_lake(lake, tmp_path_factory.mktemp("panel_universe"))
    data = LakeReader(lake_dir, aliases=CFG.universe.aliases, exclude=CFG.universe.exclude).read()
    return lake, data


@pytest.fixture(scope="module")
def full(synth: tuple[SyntheticLake, LakeData]) -> tuple[MarketPanel, Universe]:
    _, data = synth
    p = build_panel(data, SPEC.start, SPEC.end, MAX_GAP)
    return p, build_universe(p, UCFG, max_gap_days=MAX_GAP)


PANEL_FIELDS = ("close", "ret", "mcap", "volume", "funding", "oi", "active")
UNIVERSE_FIELDS = ("eligible", "basket", "rank_value", "median_volume")


def test_permuting_input_rows_changes_nothing(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe]
) -> None:
    _, data = synth
    p, u = full
    tables = {k: v.sample(fraction=1.0, shuffle=True, seed=99) for k, v in data.tables.items()}
    q = build_panel(dataclasses.replace(data, tables=tables), SPEC.start, SPEC.end, MAX_GAP)
    v = build_universe(q, UCFG, max_gap_days=MAX_GAP)
    assert q.assets == p.assets
    for f in PANEL_FIELDS:
        np.testing.assert_array_equal(getattr(q, f), getattr(p, f), err_msg=f)
    for f in UNIVERSE_FIELDS:
        np.testing.assert_array_equal(getattr(v, f), getattr(u, f), err_msg=f)


def test_panel_matches_the_lake(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe]
) -> None:
    _, data = synth
    p, _ = full
    px = data.tables["fact_price"]
    assert p.assets == tuple(sorted(px["asset_id"].unique().to_list()))
    assert int(np.isfinite(p.close).sum()) == px.height
    row = px.row(px.height // 2, named=True)
    assert p.close[p.day(row["date"]), p.idx(row["asset_id"])] == row["close"]
    assert np.all(p.active <= np.isfinite(p.close))
    assert np.all(p.active <= np.isfinite(p.ret))


# ---- universe ------------------------------------------------------------------------------------
def test_majors_and_stables_never_in_the_basket(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe]
) -> None:
    _, data = synth
    p, u = full
    assert (p.assets[u.btc], p.assets[u.eth]) == ("BTC", "ETH")
    assert not u.basket[:, [u.btc, u.eth]].any() and not u.eligible[:, [u.btc, u.eth]].any()
    assert not {"USDT", "USDC", "FDUSD"} & set(p.assets)
    assert {"USDT", "USDC", "FDUSD"} <= data.stables
    assert u.basket.any(axis=1)[200:].all()


def test_basket_is_the_top_n_eligible_by_market_cap(full: tuple[MarketPanel, Universe]) -> None:
    _, u = full
    count = u.basket.sum(axis=1)
    n_elig = u.eligible.sum(axis=1)
    assert count.max() <= UCFG.basket_size
    np.testing.assert_array_equal(count, np.minimum(n_elig, UCFG.basket_size))
    assert np.all(u.basket <= u.eligible)
    assert (n_elig > UCFG.basket_size).sum() > 50, "the top-N cut should bind on many days"
    for d in np.flatnonzero(n_elig > UCFG.basket_size):
        inside = u.rank_value[d, u.basket[d]]
        outside = u.rank_value[d, u.eligible[d] & ~u.basket[d]]
        assert inside.min() >= outside.max()


def _reference_eligible(p: MarketPanel, cfg: UniverseConfig, max_gap: int) -> np.ndarray:
    """Slow, obviously correct eligibility: one day and one asset at a time."""
    n_days, n_assets = p.close.shape
    out = np.zeros((n_days, n_assets), dtype=bool)
    w = cfg.volume_lookback_days
    for j, a in enumerate(p.assets):
        if a in cfg.majors:
            continue
        priced = np.flatnonzero(np.isfinite(p.close[:, j]))
        if not priced.size:
            continue
        first = priced[0]
        for d in range(n_days):
            if not p.active[d, j] or d - first < cfg.min_history_days:
                continue
            caps = [p.mcap[k, j] for k in range(d, max(-1, d - max_gap - 1), -1)]
            cap = next((c for c in caps if np.isfinite(c)), np.nan)
            vols = p.volume[max(0, d - w + 1) : d + 1, j]
            vols = vols[np.isfinite(vols)]
            med = float(np.median(vols)) if len(vols) >= max(1, w // 2) else np.nan
            out[d, j] = cap >= cfg.min_marketcap and med >= cfg.min_volume
    return out


def test_eligibility_thresholds_hold_at_every_date(full: tuple[MarketPanel, Universe]) -> None:
    p, u = full
    ref = _reference_eligible(p, UCFG, MAX_GAP)
    assert ref.sum() > 1000
    np.testing.assert_array_equal(u.eligible, ref)
    # and the median volume the universe reports is the trailing one
    d, j = p.n_days - 10, int(np.flatnonzero(u.eligible[p.n_days - 10])[0])
    window = p.volume[d - UCFG.volume_lookback_days + 1 : d + 1, j]
    assert u.median_volume[d, j] == pytest.approx(np.nanmedian(window))


def test_later_delisted_asset_is_eligible_while_it_trades(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe]
) -> None:
    lake, _ = synth
    p, u = full
    life = lake.truth.lifecycle.filter(pl.col("fate").is_in(["delisted", "collapsed"]))
    assert life.height >= 2
    # a wider basket so that the (small-cap) leavers can make the cut
    wide = build_universe(p, UCFG.model_copy(update={"basket_size": 12}), max_gap_days=MAX_GAP)
    seen_in_basket = 0
    for r in life.iter_rows(named=True):
        j, last = p.idx(r["asset_id"]), p.day(r["last_date"])
        assert u.eligible[: last + 1, j].any(), f"{r['asset_id']} never eligible before it went"
        for uu in (u, wide):
            assert not uu.eligible[last + 1 :, j].any() and not uu.basket[last + 1 :, j].any()
        seen_in_basket += int(wide.basket[: last + 1, j].any())
    assert seen_in_basket >= 1


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
)
@given(offset=st.integers(min_value=5, max_value=SPEC.n_days - 2))
def test_cutting_the_lake_at_any_date_changes_nothing_before_it(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe], offset: int
) -> None:
    """Point in time: the panel and universe up to D built from data dated <= D are exactly
    those built from the whole lake."""
    _, data = synth
    p, u = full
    cut_day = SPEC.start + timedelta(days=offset)
    tables = {
        k: v.filter(pl.col("date") <= cut_day) if "date" in v.columns else v
        for k, v in data.tables.items()
    }
    cut = dataclasses.replace(data, tables=tables, end=cut_day)
    q = build_panel(cut, SPEC.start, cut_day, MAX_GAP)
    v = build_universe(q, UCFG, max_gap_days=MAX_GAP)
    n = offset + 1
    assert q.n_days == n
    cols = [p.idx(a) for a in q.assets]
    missing = [j for j, a in enumerate(p.assets) if a not in q.assets]
    for f in PANEL_FIELDS:
        a, b = getattr(q, f), getattr(p, f)[:n]
        np.testing.assert_array_equal(a, b[:, cols], err_msg=f)
        if f != "active":
            assert np.isnan(b[:, missing]).all(), f  # assets not yet listed have nothing yet
        else:
            assert not b[:, missing].any()
    for f in UNIVERSE_FIELDS:
        a, b = getattr(v, f), getattr(u, f)[:n]
        np.testing.assert_array_equal(a, b[:, cols], err_msg=f)
    assert not u.basket[:n, missing].any()


# ---- published universes -------------------------------------------------------------------------
def _snapshots(p: MarketPanel) -> tuple[pl.DataFrame, list[str], list[str]]:
    alts = [a for a in p.assets if a not in ("BTC", "ETH")]
    # the smallest-cap alts the lake prices on the first rebalance: the filters would refuse
    # some of them, a published universe overrides the filters
    first, second = alts[:4], alts[4:7]
    snaps = pl.DataFrame(
        {
            "rebalance_date": [date(2020, 6, 1)] * 4 + [date(2020, 12, 1)] * 3,
            "asset_id": first + second,
            "rank": [3, 1, 4, 2, 1, 2, 3],
        },
        schema={"rebalance_date": pl.Date, "asset_id": pl.String, "rank": pl.Int64},
    )
    return snaps, first, second


def test_universe_snapshots_are_honoured(full: tuple[MarketPanel, Universe]) -> None:
    p, _ = full
    snaps, first, second = _snapshots(p)
    cfg = UCFG.model_copy(update={"basket_size": 2})
    u = build_universe(p, cfg, max_gap_days=MAX_GAP, snapshots=snaps)
    r1, r2 = p.day(date(2020, 6, 1)), p.day(date(2020, 12, 1))
    assert not u.eligible[:r1].any() and not u.basket[:r1].any()  # nothing published yet
    in1 = np.zeros(p.n_assets, dtype=bool)
    in1[[p.idx(a) for a in first]] = True
    in2 = np.zeros(p.n_assets, dtype=bool)
    in2[[p.idx(a) for a in second]] = True
    np.testing.assert_array_equal(u.eligible[r1:r2], p.active[r1:r2] & in1)
    np.testing.assert_array_equal(u.eligible[r2:], p.active[r2:] & in2)
    # rank orders the basket: ranks 1 and 2 whenever they trade
    for d in range(r1, p.n_days):
        members = first if d < r2 else second
        ranks = snaps.filter(pl.col("asset_id").is_in(members)).sort("rank")["asset_id"]
        live = [a for a in ranks.to_list() if p.active[d, p.idx(a)]]
        got = {a for a in p.assets if u.basket[d, p.idx(a)]}
        assert got == set(live[:2]), d


def test_universe_snapshots_read_from_the_lake(
    synth: tuple[SyntheticLake, LakeData], full: tuple[MarketPanel, Universe], tmp_path: Path
) -> None:
    lake, _ = synth
    p, _ = full
    snaps, _, _ = _snapshots(p)
    lake_dir, _ = write_lake(lake, tmp_path)
    snaps.write_parquet(lake_dir / "universe_snapshots.parquet")
    data = LakeReader(lake_dir, aliases=CFG.universe.aliases, exclude=CFG.universe.exclude).read()
    got = data.tables["universe_snapshots"]
    assert got.sort("rebalance_date", "asset_id").equals(snaps.sort("rebalance_date", "asset_id"))
    q = build_panel(data, SPEC.start, SPEC.end, MAX_GAP)
    a = build_universe(q, UCFG, max_gap_days=MAX_GAP, snapshots=got)
    b = build_universe(p, UCFG, max_gap_days=MAX_GAP, snapshots=snaps)
    np.testing.assert_array_equal(a.basket, b.basket)


# ---- real lakes ------------------------------------------------------------------------------------
@pytest.mark.real_data
@pytest.mark.parametrize("which", ["real_lake", "real_binance_lake"])
def test_real_lakes_build_a_usable_universe(which: str, request: pytest.FixtureRequest) -> None:
    lake_dir: Path = request.getfixturevalue(which)
    cfg = Config()
    data = LakeReader(lake_dir, aliases=cfg.universe.aliases, exclude=cfg.universe.exclude).read()
    p = build_panel(data, data.start, data.end, cfg.data.max_gap_days)
    u = build_universe(
        p,
        cfg.universe,
        max_gap_days=cfg.data.max_gap_days,
        snapshots=data.tables.get("universe_snapshots"),
    )
    # burn-in counts from the first day the lake prices at least 10 alts (the real lake starts
    # in 2013 with a handful of coins whose volume is below the default threshold)
    n_alts = np.isfinite(p.close).sum(axis=1) - 2
    start = int(np.flatnonzero(n_alts >= 10)[0]) + cfg.burn_in_days()
    assert start < p.n_days - 365
    count = u.basket.sum(axis=1)
    assert count[start:].min() >= 1, f"empty basket on {p.dates[start:][count[start:] == 0][:5]}"
    assert count.max() <= cfg.universe.basket_size
    assert not u.basket[:, [u.btc, u.eth]].any()
    in_basket = {a for j, a in enumerate(p.assets) if u.basket[:, j].any()}
    stables = set(data.stables) | set(cfg.universe.exclude)
    dim = data.tables.get("dim_asset")
    if dim is not None:
        stables |= set(dim.filter(pl.col("is_stable"))["asset_id"].to_list())
    assert not in_basket & stables
    assert not in_basket & {"BTC", "ETH", "USDT", "USDC", "DAI", "FDUSD"}
    assert not set(p.assets) & stables
