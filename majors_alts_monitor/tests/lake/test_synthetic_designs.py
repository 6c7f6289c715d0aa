"""Tests of the synthetic designs (``Design``, ``DESIGNS``, ``synth --design``): each channel
changes exactly the tables it owns and leans the way its docstring says; none moves the
spread's mean (the edge); the null world ignores them; the truth records the design. Small
lakes, fixed seeds."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.lake.synthetic import (
    DESIGNS,
    REGIMES,
    Design,
    SyntheticLake,
    SyntheticSpec,
    generate,
    synth_command,
)

SPEC = SyntheticSpec(n_assets=30, start=date(2020, 1, 1), end=date(2021, 12, 31), seed=5)
FACTS = ("fact_price", "fact_marketcap", "fact_volume", "fact_funding", "fact_open_interest")


@pytest.fixture(scope="module")
def base() -> SyntheticLake:
    return generate(SPEC)


def _with(**kw: object) -> SyntheticLake:
    return generate(replace(SPEC, design=Design(name="t", **kw)))  # type: ignore[arg-type]


def _changed(a: SyntheticLake, b: SyntheticLake) -> set[str]:
    return {t for t in FACTS if not a.tables[t].equals(b.tables[t])}


def _wide(lake: SyntheticLake, table: str, col: str) -> np.ndarray:
    df = lake.tables[table].filter(pl.col("asset_id").str.starts_with("ALT"))
    return df.pivot(on="asset_id", index="date", values=col).sort("date").drop("date").to_numpy()


def _signed(lake: SyntheticLake) -> np.ndarray:
    reg = lake.truth.regimes["regime"].to_list()
    return np.array([REGIMES.index(r) - 1 for r in reg], dtype=np.float64)  # -1 majors, +1 alts


def test_the_default_design_is_the_baseline_and_explicit_defaults_change_nothing(base) -> None:
    assert SPEC.design == DESIGNS["baseline"] == Design()
    same = _with()  # every field at its default value, another name
    assert _changed(base, same) == set()
    assert base.truth.regimes.equals(same.truth.regimes)


@pytest.mark.parametrize(
    ("kw", "owned"),
    [
        ({"funding": 0.0}, {"fact_funding"}),
        ({"volume": 0.0}, {"fact_volume", "fact_open_interest"}),
        ({"dominance": 0.3}, {"fact_marketcap"}),
    ],
)
def test_a_channel_changes_only_its_tables(base, kw: dict, owned: set[str]) -> None:
    got = _with(**kw)
    assert _changed(base, got) == owned
    assert got.truth.spread.equals(base.truth.spread)


def test_breadth_leans_the_median_alt_not_the_mean(base) -> None:
    b = 0.004
    got = _with(breadth=b)
    assert got.truth.spread.equals(base.truth.spread)  # the edge is untouched
    close_b, close_0 = _wide(got, "fact_price", "close"), _wide(base, "fact_price", "close")
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.diff(np.log(close_b), axis=0) - np.diff(np.log(close_0), axis=0)
    s = _signed(base)[1:]
    ok = np.isfinite(d)
    # the mean shift over every alt-day is 0 (within 4 standard errors) ...
    se = b * 2.0 * 1.6 / np.sqrt(ok.sum())  # |1 - D/0.2| has sd 2; vol level up to ~1.6
    assert abs(np.nanmean(d)) < 4 * se
    # ... while the median alt moves with the regime
    med = np.nanmedian(d, axis=1)
    assert np.nanmean(med[s > 0]) > 0.5 * b and np.nanmean(med[s < 0]) < -0.5 * b


def test_volatility_makes_alts_wilder_in_risk_on_majors(base) -> None:
    got = _with(volatility=1.0)
    close = _wide(got, "fact_price", "close")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(np.log(close), axis=0)
    disp = np.nanstd(r, axis=1)
    s = _signed(got)[1:]
    assert np.nanmedian(disp[s < 0]) > 1.5 * np.nanmedian(disp[s > 0])


def test_dominance_moves_caps_with_the_regime_and_keeps_the_order(base) -> None:
    got = _with(dominance=0.3)
    ratio = _wide(got, "fact_marketcap", "marketcap") / _wide(base, "fact_marketcap", "marketcap")
    lean = np.log(np.nanmedian(ratio, axis=1))
    s = _signed(base)
    assert np.mean(lean[s > 0]) > 0.1 and np.mean(lean[s < 0]) < -0.1
    caps = got.tables["fact_marketcap"]
    eth = caps.filter(pl.col("asset_id") == "ETH").select("date", eth="marketcap")
    alts = caps.filter(pl.col("asset_id").str.starts_with("ALT")).join(eth, on="date")
    assert (alts["marketcap"] < alts["eth"]).all()


def test_spells_follow_stay_prob() -> None:
    long = replace(SPEC, start=date(2010, 1, 1), end=date(2025, 12, 31), n_assets=8)
    for p in (0.97, 0.99):
        reg = generate(replace(long, design=Design(name="s", stay_prob=p))).truth.regimes
        codes = reg["regime"].to_numpy()
        spells = 1 + int(np.sum(codes[1:] != codes[:-1]))
        assert len(codes) / spells == pytest.approx(1 / (1 - p), rel=0.3)


def test_the_drift_is_the_design_s() -> None:
    got = _with(drift=0.003)
    mu = got.truth.regimes.select("regime", "spread_drift").unique().sort("regime")
    assert dict(mu.iter_rows()) == {
        "BALANCED": 0.0,
        "RISK_ON_ALTS": 0.003,
        "RISK_ON_MAJORS": -0.003,
    }


def test_the_null_world_ignores_every_channel() -> None:
    null = replace(SPEC, world="null")
    a = generate(null)
    for name in ("momentum", "weak_mix", "breadth_dominance", "volatility"):
        b = generate(replace(null, design=replace(DESIGNS[name], stay_prob=0.985)))
        assert _changed(a, b) == set(), name
        assert (b.truth.regimes["spread_drift"] == 0).all()


@pytest.mark.parametrize(
    "bad",
    [
        {"stay_prob": 1.0},
        {"stay_prob": 0.2},
        {"drift": -0.001},
        {"funding": float("nan")},
        {"volatility": 5.0},
    ],
)
def test_a_design_is_validated(bad: dict) -> None:
    with pytest.raises(ValueError, match="Design"):
        Design(**bad)


def test_synth_writes_the_design_into_the_truth(tmp_path: Path) -> None:
    _, truth = synth_command(
        tmp_path / "m", seed=3, world="planted", n_assets=10, end="2019-06-30", design="momentum"
    )
    meta = json.loads((truth / "spec.json").read_text())
    assert meta["spec"]["design"] == DESIGNS["momentum"].to_json()
    assert meta["spec"]["design"]["name"] == "momentum"
    with pytest.raises(ValueError, match="unknown design"):
        synth_command(tmp_path / "x", seed=3, world="planted", design="nope")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["synth", str(tmp_path / "y"), "--design", "nope"])
    assert code == 2 and "is not a design" in err.getvalue()
    assert not (tmp_path / "y").exists()
