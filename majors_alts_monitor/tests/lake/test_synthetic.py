"""Tests for the synthetic lake generator: determinism, contract schema, planted truth,
life cycle, quirks and the atomic writer. Seeds are fixed; small lakes keep it fast."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from majors_alts_monitor.errors import OutputLocationError
from majors_alts_monitor.lake.synthetic import (
    QUIRKS,
    REGIMES,
    SyntheticLake,
    SyntheticSpec,
    generate,
    synth_command,
    write_lake,
)

SEED = 7
SMALL = SyntheticSpec(n_assets=30, start=date(2020, 1, 1), end=date(2021, 12, 31), seed=SEED)
CONTRACT: dict[str, dict[str, pl.DataType]] = {
    "fact_price": {"asset_id": pl.String(), "date": pl.Date(), "close": pl.Float64()},
    "fact_marketcap": {"asset_id": pl.String(), "date": pl.Date(), "marketcap": pl.Float64()},
    "fact_volume": {"asset_id": pl.String(), "date": pl.Date(), "volume": pl.Float64()},
    "fact_funding": {
        "asset_id": pl.String(),
        "instrument_id": pl.String(),
        "date": pl.Date(),
        "funding_rate": pl.Float64(),
    },
    "fact_open_interest": {
        "asset_id": pl.String(),
        "date": pl.Date(),
        "open_interest_usd": pl.Float64(),
    },
    "dim_asset": {
        "asset_id": pl.String(),
        "symbol": pl.String(),
        "name": pl.String(),
        "is_stable": pl.Boolean(),
    },
}
KEYS = {
    "fact_price": ["asset_id", "date"],
    "fact_marketcap": ["asset_id", "date"],
    "fact_volume": ["asset_id", "date"],
    "fact_funding": ["asset_id", "instrument_id", "date"],
    "fact_open_interest": ["asset_id", "date"],
    "dim_asset": ["asset_id"],
}
STABLES = {"USDT", "USDC", "FDUSD"}


@pytest.fixture(scope="module")
def planted() -> SyntheticLake:
    return generate(SMALL)


@pytest.fixture(scope="module")
def null() -> SyntheticLake:
    return generate(
        SyntheticSpec(n_assets=30, start=SMALL.start, end=SMALL.end, world="null", seed=SEED)
    )


@pytest.fixture(scope="module")
def long_planted() -> SyntheticLake:
    """Default span (7 years), for statistics that need many days per regime."""
    return generate(SyntheticSpec(n_assets=40, seed=SEED))


@pytest.fixture(scope="module")
def long_null() -> SyntheticLake:
    return generate(SyntheticSpec(n_assets=40, seed=SEED, world="null"))


def _returns(lake: SyntheticLake) -> pl.DataFrame:
    """Wide simple returns (date x asset), null where either close is missing."""
    wide = lake.tables["fact_price"].pivot("asset_id", index="date", values="close").sort("date")
    return wide.select("date", pl.exclude("date").pct_change())


def _non_stable_alts(lake: SyntheticLake) -> list[str]:
    return [
        a
        for a in lake.tables["dim_asset"]["asset_id"].to_list()
        if a not in STABLES and a not in {"BTC", "ETH"}
    ]


def _collapsed(lake: SyntheticLake) -> str:
    return lake.truth.lifecycle.filter(pl.col("fate") == "collapsed")["asset_id"].item()


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(planted: SyntheticLake) -> None:
    again = generate(SMALL)
    assert planted.tables.keys() == again.tables.keys()
    for name, df in planted.tables.items():
        assert df.equals(again.tables[name]), name
    for name in ("regimes", "spread", "betas", "lifecycle"):
        assert getattr(planted.truth, name).equals(getattr(again.truth, name)), name


def test_different_seed_gives_different_frames(planted: SyntheticLake) -> None:
    other = generate(SyntheticSpec(n_assets=30, start=SMALL.start, end=SMALL.end, seed=SEED + 1))
    assert not planted.tables["fact_price"].equals(other.tables["fact_price"])
    assert not planted.truth.betas.equals(other.truth.betas)


def test_null_world_shares_draws_but_not_drift(planted: SyntheticLake, null: SyntheticLake) -> None:
    assert planted.truth.regimes["regime"].equals(null.truth.regimes["regime"])
    assert planted.truth.betas.equals(null.truth.betas)
    btc = pl.col("asset_id") == "BTC"
    assert planted.tables["fact_price"].filter(btc).equals(null.tables["fact_price"].filter(btc))
    assert (null.truth.regimes["spread_drift"] == 0.0).all()
    drifts = planted.truth.regimes.group_by("regime").agg(pl.col("spread_drift").first())
    assert dict(drifts.iter_rows()) == {
        "RISK_ON_MAJORS": -0.004,
        "BALANCED": 0.0,
        "RISK_ON_ALTS": 0.004,
    }


def test_written_files_are_byte_identical(tmp_path: Path) -> None:
    spec = SyntheticSpec(n_assets=10, start=date(2021, 1, 1), end=date(2021, 12, 31), seed=3)
    lake_a, truth_a = write_lake(generate(spec), tmp_path / "a", partitioned=True)
    lake_b, truth_b = write_lake(generate(spec), tmp_path / "b", partitioned=True)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


# --- schema -------------------------------------------------------------------------------------


def test_tables_follow_the_contract(planted: SyntheticLake) -> None:
    assert set(planted.tables) == set(CONTRACT)
    for name, schema in CONTRACT.items():
        df = planted.tables[name]
        assert dict(df.schema) == schema, name
        assert df.null_count().sum_horizontal().item() == 0, name
        assert df.select(KEYS[name]).is_duplicated().sum() == 0, name
        assert df.equals(df.sort(KEYS[name])), f"{name} is sorted by its key"
    t = planted.tables
    assert (t["fact_price"]["close"] > 0).all()
    assert (t["fact_marketcap"]["marketcap"] > 0).all()
    assert (t["fact_volume"]["volume"] > 0).all()
    assert (t["fact_open_interest"]["open_interest_usd"] > 0).all()
    ids = t["dim_asset"]["asset_id"]
    assert (ids == ids.str.to_uppercase()).all()
    assert {"BTC", "ETH", "1000SATS", "ALT001", "USDT", "USDC", "FDUSD"} <= set(ids)
    assert len(ids) == SMALL.n_assets + len(STABLES)
    assert set(t["fact_price"]["asset_id"].unique()) == set(ids)
    flags = dict(t["dim_asset"].select("asset_id", "is_stable").iter_rows())
    assert flags["USDT"] and flags["USDC"] and not flags["FDUSD"]
    assert sum(flags.values()) == 2
    inst = t["fact_funding"].select("asset_id", "instrument_id").unique()
    assert (inst["instrument_id"] == inst["asset_id"] + "USDT").all()


def test_stablecoins_look_stable(planted: SyntheticLake) -> None:
    t = planted.tables
    stables = t["fact_price"].filter(pl.col("asset_id").is_in(STABLES))
    assert stables["close"].is_between(0.97, 1.03).all()
    assert stables["close"].std() < 0.002
    last = t["fact_marketcap"].filter(pl.col("date") == SMALL.end)
    caps = dict(last.select("asset_id", "marketcap").iter_rows())
    alts = [a for a in _non_stable_alts(planted) if a in caps]
    assert caps["USDT"] > 10 * float(np.median([caps[a] for a in alts]))
    vol = t["fact_volume"].group_by("asset_id").agg(pl.col("volume").median())
    vols = dict(vol.iter_rows())
    assert vols["USDT"] > 10 * float(np.median([vols[a] for a in alts]))
    assert not set(t["fact_funding"]["asset_id"]) & STABLES


def test_spec_is_validated() -> None:
    with pytest.raises(ValueError, match="quirks"):
        SyntheticSpec(quirks=frozenset({"typos"}))
    with pytest.raises(ValueError, match="n_assets"):
        SyntheticSpec(n_assets=3)
    with pytest.raises(ValueError, match="world"):
        SyntheticSpec(world="bull")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="days"):
        SyntheticSpec(start=date(2020, 1, 1), end=date(2020, 2, 1))
    with pytest.raises(ValueError, match="seed"):
        SyntheticSpec(seed=-1)
    assert SyntheticSpec(quirks={"gaps"}).quirks == frozenset({"gaps"})  # type: ignore[arg-type]


# --- planted truth ------------------------------------------------------------------------------


def test_majors_have_the_stated_statistics(long_planted: SyntheticLake) -> None:
    r = _returns(long_planted).select("BTC", "ETH").drop_nulls()
    btc, eth = r["BTC"].to_numpy(), r["ETH"].to_numpy()
    assert 0.028 < btc.std() < 0.042
    assert 0.55 < np.corrcoef(btc, eth)[0, 1] < 0.8  # ~0.68; t(4) tails make it noisy
    z = (btc - btc.mean()) / btc.std()
    assert np.mean(z**4) > 4.0, "fat tails: kurtosis above the normal's 3"


def test_rolling_ols_recovers_planted_betas(long_planted: SyntheticLake) -> None:
    """Joint OLS (with intercept) of each alt on BTC and ETH over 90-day windows, every 30 days.

    On the 7-year lake: the spread noise is common to all alts, so one window's error is shared
    by every alt, and a 2-year lake's median swings between seeds (0.06-0.10).
    """
    planted = long_planted
    r = _returns(planted)
    alts = [a for a in _non_stable_alts(planted) if a != _collapsed(planted)]
    y_all = r.select(alts).to_numpy()
    x_all = r.select("BTC", "ETH").to_numpy()
    truth = planted.truth.betas.filter(pl.col("asset_id").is_in(alts))
    order = {a: i for i, a in enumerate(truth["asset_id"])}
    planted_b = truth.select("beta_btc", "beta_eth").to_numpy()[[order[a] for a in alts]]
    errors = []
    for s in range(1, len(r) - 90 + 1, 30):
        y, x = y_all[s : s + 90], x_all[s : s + 90]
        ok = ~np.isnan(y).any(axis=0)
        design = np.column_stack([np.ones(90), x])
        coef, *_ = np.linalg.lstsq(design, y[:, ok], rcond=None)
        errors.append(np.abs(coef[1:].T - planted_b[ok]))
    err = np.concatenate(errors)
    assert len(err) > 1000
    med = np.median(err, axis=0)
    assert (med < 0.1).all(), f"median abs error (btc, eth) = {med}"


def test_residual_basket_tracks_the_spread_factor(planted: SyntheticLake) -> None:
    """Cross-sectional mean of r_i - beta_i' (r_btc, r_eth) is s_t plus averaged-out noise."""
    r = _returns(planted).slice(1)
    alts = [a for a in _non_stable_alts(planted) if a != _collapsed(planted)]
    betas = planted.truth.betas.filter(pl.col("asset_id").is_in(alts)).sort("asset_id")
    alts = betas["asset_id"].to_list()
    y = r.select(alts).to_numpy()
    x = r.select("BTC", "ETH").to_numpy()
    resid = y - x @ betas.select("beta_btc", "beta_eth").to_numpy().T
    basket = np.nanmean(resid, axis=1)
    s = planted.truth.spread.filter(pl.col("date").is_in(r["date"].implode()))["spread_return"]
    assert np.corrcoef(basket, s.to_numpy())[0, 1] > 0.75


def _spread_by_regime(lake: SyntheticLake) -> dict[str, tuple[float, float]]:
    joined = lake.truth.spread.join(lake.truth.regimes, on="date")
    stats = joined.group_by("regime").agg(
        pl.col("spread_return").mean().alias("mean"),
        (pl.col("spread_return").std() / pl.len().sqrt()).alias("se"),
    )
    return {row[0]: (row[1], row[2]) for row in stats.iter_rows()}


def test_spread_mean_follows_the_regime_in_the_planted_world(long_planted: SyntheticLake) -> None:
    stats = _spread_by_regime(long_planted)
    assert set(stats) == set(REGIMES)
    mean, se = stats["RISK_ON_MAJORS"]
    assert mean < 0 and mean / se < -3
    mean, se = stats["RISK_ON_ALTS"]
    assert mean > 0 and mean / se > 3
    assert abs(stats["BALANCED"][0]) < 3 * stats["BALANCED"][1]
    for regime, target in zip(REGIMES, (-0.004, 0.0, 0.004), strict=True):
        assert abs(stats[regime][0] - target) < 4 * stats[regime][1], regime


def test_spread_mean_is_zero_in_the_null_world(long_null: SyntheticLake) -> None:
    stats = _spread_by_regime(long_null)
    for regime, (mean, se) in stats.items():
        assert abs(mean) < 3 * se, regime
        assert abs(mean) < 0.002, regime


def test_regime_chain_is_persistent(long_planted: SyntheticLake) -> None:
    regimes = long_planted.truth.regimes["regime"]
    switches = int((regimes != regimes.shift(1)).sum())
    n = len(regimes)
    assert 0.005 * n < switches < 0.03 * n, "stay probability ~0.985"


def _alt_lean(lake: SyntheticLake, table: str, value: pl.Expr) -> dict[str, float]:
    alts = _non_stable_alts(lake)
    df = lake.tables[table].filter(pl.col("asset_id").is_in(alts))
    if table == "fact_volume":
        df = df.join(lake.tables["fact_marketcap"], on=["asset_id", "date"])
    out = df.join(lake.truth.regimes, on="date").group_by("regime").agg(value.median())
    return dict(out.iter_rows())


def test_funding_and_turnover_lean_only_in_the_planted_world(
    long_planted: SyntheticLake, long_null: SyntheticLake
) -> None:
    funding = pl.col("funding_rate")
    turnover = (pl.col("volume") / pl.col("marketcap")).log()
    f = _alt_lean(long_planted, "fact_funding", funding)
    assert f["RISK_ON_ALTS"] > f["BALANCED"] + 0.0003 > f["RISK_ON_MAJORS"] + 0.0003
    v = _alt_lean(long_planted, "fact_volume", turnover)
    assert v["RISK_ON_ALTS"] > v["BALANCED"] + 0.2 > v["RISK_ON_MAJORS"] + 0.25
    f0 = _alt_lean(long_null, "fact_funding", funding)
    assert max(f0.values()) - min(f0.values()) < 0.0001
    v0 = _alt_lean(long_null, "fact_volume", turnover)
    assert max(v0.values()) - min(v0.values()) < 0.1
    majors = long_planted.tables["fact_funding"].filter(pl.col("asset_id").is_in(["BTC", "ETH"]))
    assert 0.0002 < majors["funding_rate"].mean() < 0.0004


def test_market_caps_rank_btc_then_eth_and_span_orders_of_magnitude(
    long_planted: SyntheticLake,
) -> None:
    caps = long_planted.tables["fact_marketcap"].filter(~pl.col("asset_id").is_in(STABLES))
    ranked = caps.with_columns(
        pl.col("marketcap").rank("ordinal", descending=True).over("date").alias("rank")
    )
    assert (ranked.filter(pl.col("asset_id") == "BTC")["rank"] == 1).all()
    assert (ranked.filter(pl.col("asset_id") == "ETH")["rank"] == 2).all()
    first_caps = caps.group_by("asset_id").agg(pl.col("marketcap").first())["marketcap"]
    assert np.log10(first_caps.max() / first_caps.min()) > 3


# --- life cycle ---------------------------------------------------------------------------------


def test_life_cycle_listings_delistings_and_collapse(planted: SyntheticLake) -> None:
    price = planted.tables["fact_price"]
    span = price.group_by("asset_id").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
    )
    alts = span.filter(pl.col("asset_id").is_in(_non_stable_alts(planted)))
    n_alts = len(alts)
    late = int((alts["first"] > SMALL.start).sum())
    early = int((alts["last"] < SMALL.end).sum())
    assert 0.2 * n_alts <= late <= 0.45 * n_alts
    assert 2 <= early <= 0.25 * n_alts  # delisted ~10% plus the collapse
    life = planted.truth.lifecycle.join(span, on="asset_id")
    assert (life["first_date"] == life["first"]).all()
    assert (life["last_date"] == life["last"]).all()
    assert planted.truth.lifecycle.filter(pl.col("fate") == "collapsed").height == 1
    # every day in between is present (no gaps without the quirk)
    days = span.join(price.group_by("asset_id").len(), on="asset_id")
    assert (days["len"] == (days["last"] - days["first"]).dt.total_days() + 1).all()


def test_the_collapse_loses_more_than_99_percent_in_about_ten_days(planted: SyntheticLake) -> None:
    asset = _collapsed(planted)
    close = planted.tables["fact_price"].filter(pl.col("asset_id") == asset)["close"]
    assert close[-1] / close[-11] < 0.01
    last = planted.tables["fact_price"].filter(pl.col("asset_id") == asset)["date"].max()
    assert last < SMALL.end
    for name in ("fact_marketcap", "fact_volume", "fact_funding", "fact_open_interest"):
        df = planted.tables[name].filter(pl.col("asset_id") == asset)
        assert df.is_empty() or df["date"].max() <= last, name
    # no other asset loses 99% in ten days
    wide = planted.tables["fact_price"].with_columns(
        (pl.col("close") / pl.col("close").shift(10).over("asset_id")).alias("ratio")
    )
    crashes = wide.filter(pl.col("ratio") < 0.01)["asset_id"].unique().to_list()
    assert crashes == [asset]


def test_funding_coverage(long_planted: SyntheticLake) -> None:
    life = long_planted.truth.lifecycle
    alts = life.filter(pl.col("asset_id").is_in(_non_stable_alts(long_planted)))
    funded = alts.filter(pl.col("funding_start").is_not_null())
    assert 0.5 < funded.height / alts.height < 0.9
    assert (funded["funding_start"] > funded["first_date"]).sum() >= 3, "some perps list late"
    starts = long_planted.tables["fact_funding"].group_by("asset_id").agg(pl.col("date").min())
    check = starts.join(life, on="asset_id")
    assert (check["date"] == check["funding_start"]).all()
    oi = long_planted.tables["fact_open_interest"].select("asset_id", "date")
    fund = long_planted.tables["fact_funding"].select("asset_id", "date")
    assert oi.equals(fund)


# --- quirks -------------------------------------------------------------------------------------


def _with_quirks(*quirks: str) -> SyntheticLake:
    return generate(
        SyntheticSpec(
            n_assets=30, start=SMALL.start, end=SMALL.end, seed=SEED, quirks=frozenset(quirks)
        )
    )


def test_quirk_duplicates(planted: SyntheticLake) -> None:
    lake = _with_quirks("duplicates")
    for name in ("fact_price", "fact_volume"):
        df = lake.tables[name]
        assert df.is_duplicated().sum() > 0, name
        assert df.unique(maintain_order=True).equals(planted.tables[name]), name
    for name in ("fact_marketcap", "fact_funding", "fact_open_interest"):
        assert lake.tables[name].equals(planted.tables[name]), name


def test_quirk_gaps(planted: SyntheticLake) -> None:
    lake = _with_quirks("gaps")
    keys = ["asset_id", "date"]
    missing = planted.tables["fact_price"].join(lake.tables["fact_price"], on=keys, how="anti")
    assert 3 <= missing.height < 0.01 * planted.tables["fact_price"].height
    for name in ("fact_marketcap", "fact_volume"):
        gone = planted.tables[name].join(lake.tables[name], on=keys, how="anti").select(keys)
        assert gone.sort(keys).equals(missing.select(keys).sort(keys)), name
    span = [pl.col("date").min().alias("first"), pl.col("date").max().alias("last")]
    before = planted.tables["fact_price"].group_by("asset_id").agg(span).sort("asset_id")
    after = lake.tables["fact_price"].group_by("asset_id").agg(span).sort("asset_id")
    assert before.equals(after), "gaps never move an asset's first or last day"
    assert lake.tables["fact_funding"].equals(planted.tables["fact_funding"])


def test_quirk_ragged_ends(planted: SyntheticLake) -> None:
    lake = _with_quirks("ragged_ends")
    t = lake.tables
    assert t["fact_price"]["date"].max() == SMALL.end
    assert t["fact_volume"]["date"].max() == SMALL.end - timedelta(days=2)
    assert t["fact_funding"]["date"].max() == SMALL.end - timedelta(days=5)
    assert t["fact_price"].equals(planted.tables["fact_price"])
    cut = planted.tables["fact_volume"].filter(pl.col("date") <= SMALL.end - timedelta(days=2))
    assert t["fact_volume"].equals(cut)


def _normalise(asset_id: pl.Expr, known: set[str]) -> pl.Expr:
    """The contract's rule: strip suffixes where what remains is known; alias SATS."""
    expr = asset_id
    for suffix in ("-PERP", "PERP", "-USDT", "USDT", "-USD", "USD"):
        stripped = expr.str.strip_suffix(suffix)
        expr = pl.when(stripped.is_in(list(known))).then(stripped).otherwise(expr)
    return expr.replace({"SATS": "1000SATS"})


def test_quirk_spellings(planted: SyntheticLake) -> None:
    lake = _with_quirks("spellings")
    known = set(planted.tables["dim_asset"]["asset_id"])
    for name in ("fact_funding", "fact_open_interest"):
        ids = set(lake.tables[name]["asset_id"])
        assert {"BTCUSDT", "ETH-PERP", "SATS"} <= ids, name
        assert not ids <= known, name
        fixed = lake.tables[name].with_columns(_normalise(pl.col("asset_id"), known))
        assert fixed.sort(KEYS[name]).equals(planted.tables[name]), name
    funding_ids = set(lake.tables["fact_funding"]["asset_id"])
    assert any(i.startswith("ALT") and i.endswith("USDT") for i in funding_ids)
    assert lake.tables["fact_price"].equals(planted.tables["fact_price"])
    assert set(lake.tables["fact_funding"]["instrument_id"]) == set(
        planted.tables["fact_funding"]["instrument_id"]
    )


def test_all_quirks_together() -> None:
    lake = _with_quirks(*QUIRKS)
    assert lake.tables["fact_price"].is_duplicated().any()
    assert lake.tables["fact_volume"]["date"].max() < lake.tables["fact_price"]["date"].max()


# --- writing ------------------------------------------------------------------------------------


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]


def test_write_lake_flat(planted: SyntheticLake, tmp_path: Path) -> None:
    lake_dir, truth_dir = write_lake(planted, tmp_path / "out")
    assert lake_dir.parent == truth_dir.parent == tmp_path / "out"
    assert not truth_dir.is_relative_to(lake_dir)
    assert sorted(p.name for p in lake_dir.iterdir()) == sorted(f"{n}.parquet" for n in CONTRACT)
    for name, df in planted.tables.items():
        assert pl.read_parquet(lake_dir / f"{name}.parquet").equals(df), name
    betas = pl.read_parquet(truth_dir / "betas.parquet")
    assert betas.equals(planted.truth.betas)
    assert {p.name for p in truth_dir.iterdir()} >= {
        "regimes.parquet",
        "spread.parquet",
        "betas.parquet",
        "spec.json",
    }
    assert _leftovers(tmp_path) == []


def test_write_lake_partitioned_and_rewrite(planted: SyntheticLake, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_lake(planted, out)  # a flat lake first, then replaced by a partitioned one
    lake_dir, _ = write_lake(planted, out, partitioned=True)
    assert not (lake_dir / "fact_price.parquet").exists()
    assert (lake_dir / "fact_price" / "year=2020" / "part-0.parquet").is_file()
    assert (lake_dir / "dim_asset.parquet").is_file()
    scanned = (
        pl.scan_parquet(lake_dir / "fact_price" / "**/*.parquet", hive_partitioning=True)
        .filter(pl.col("date") >= date(2021, 6, 1))
        .collect()
    )
    assert "year" in scanned.columns and (scanned["year"] == 2021).all()
    expected = planted.tables["fact_price"].filter(pl.col("date") >= date(2021, 6, 1))
    assert scanned.drop("year").sort("asset_id", "date").equals(expected)
    for name in ("fact_funding", "fact_open_interest", "fact_volume", "fact_marketcap"):
        df = pl.scan_parquet(lake_dir / name / "**/*.parquet", hive_partitioning=True).collect()
        assert df.height == planted.tables[name].height, name
    assert _leftovers(tmp_path) == []


def test_write_lake_refuses_a_foreign_folder(planted: SyntheticLake, tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "fact_price.parquet").write_bytes(b"someone else's")
    with pytest.raises(OutputLocationError):
        write_lake(planted, tmp_path)
    assert (tmp_path / "lake" / "fact_price.parquet").read_bytes() == b"someone else's"


def test_synth_command(tmp_path: Path) -> None:
    lake_dir, truth_dir = synth_command(
        tmp_path / "demo",
        seed=5,
        world="null",
        n_assets=10,
        start="2022-01-01",
        end=date(2022, 12, 31),
        quirks=frozenset({"gaps"}),
        partitioned=True,
    )
    assert (lake_dir / "fact_price").is_dir()
    spec = (truth_dir / "spec.json").read_text()
    assert '"world": "null"' in spec and '"seed": 5' in spec and '"gaps"' in spec
    regimes = pl.read_parquet(truth_dir / "regimes.parquet")
    assert regimes["date"].min() == date(2022, 1, 1)
    assert regimes["date"].max() == date(2022, 12, 31)
