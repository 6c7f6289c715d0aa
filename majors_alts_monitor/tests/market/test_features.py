"""Tests of the feature registry and the rolling z-score (``features.py``).

Every registered feature computes on a synthetic panel; the z-score obeys its metamorphic
relations (shift and positive scale leave it unchanged), is NaN in burn-in and equals a hand
computation; features are point-in-time (appending days never changes the past); a missing
optional table removes exactly the features that need it, with one warning. Seeds are fixed.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor.config import Config, UniverseConfig
from majors_alts_monitor.lake.data_io import LakeData, LakeReader
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.market.features import REGISTRY, FeatureSet, compute_features, zscore
from majors_alts_monitor.market.panel import MarketPanel, build_panel
from majors_alts_monitor.market.universe import Universe, build_universe

SEED = 21
SPEC = SyntheticSpec(n_assets=24, start=date(2020, 1, 1), end=date(2021, 6, 30), seed=SEED)
CFG = Config()
UCFG: UniverseConfig = CFG.universe.model_copy(
    update={"basket_size": 8, "min_history_days": 30, "min_marketcap": 2e7, "min_volume": 5e5}
)
ZW, ZMP = CFG.features.zscore_window, CFG.features.zscore_min_periods
FUNDING_FEATURES = ("funding_skew", "funding_heating")
OI_FEATURES = ("oi_change_7d",)


def features_of(
    data: LakeData, end: date | None = None
) -> tuple[MarketPanel, Universe, FeatureSet]:
    p = build_panel(data, SPEC.start, end or SPEC.end, CFG.data.max_gap_days)
    u = build_universe(p, UCFG, max_gap_days=CFG.data.max_gap_days)
    fs = compute_features(p, u, zscore_window=ZW, zscore_min_periods=ZMP)
    return p, u, fs


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> LakeData:
    lake_dir, _ = write_lake(generate(SPEC), tmp_path_factory.mktemp("features"))
    return LakeReader(lake_dir, aliases=CFG.universe.aliases, exclude=CFG.universe.exclude).read()


@pytest.fixture(scope="module")
def full(data: LakeData) -> tuple[MarketPanel, Universe, FeatureSet]:
    return features_of(data)


def test_every_registered_feature_computes(full: tuple[MarketPanel, Universe, FeatureSet]) -> None:
    p, u, fs = full
    assert fs.names == tuple(REGISTRY)
    assert fs.removed == () and fs.warnings == ()
    assert fs.raw.shape == fs.z.shape == (p.n_days, len(REGISTRY))
    start = 60  # past every raw window and the universe's history requirement
    for j, name in enumerate(fs.names):
        col = fs.raw[start:, j]
        assert np.isfinite(col).mean() > 0.9, name
        assert np.nanstd(col) > 0, f"{name} is constant"
        assert np.isfinite(fs.z[start + ZMP :, j]).mean() > 0.9, name
    # spot checks of two formulas against the panel
    d = p.n_days - 5
    r = p.ret[d, u.basket[d]]
    assert fs.raw[d, fs.column("alt_median_ret_1d")] == pytest.approx(np.median(r))
    assert fs.raw[d, fs.column("breadth_1d")] == pytest.approx(np.mean(r > 0))
    dom = fs.raw[:, fs.column("btc_dom")]
    assert np.nanmin(dom) > 0 and np.nanmax(dom) < 1


def test_shared_parts_give_each_feature_its_own_values(
    full: tuple[MarketPanel, Universe, FeatureSet],
) -> None:
    """Features that build on one another (btc_dom and its changes, breadth_7d and its slope,
    ...) share the common part through the context's memo: each column equals the feature
    computed alone on a fresh context, to the bit, and nothing shared was written in place."""
    from majors_alts_monitor.market.features import FeatureContext, cumulative_log_returns

    p, u, fs = full

    def fresh() -> FeatureContext:
        return FeatureContext(p, u, u.basket, *cumulative_log_returns(p), CFG.data.max_gap_days)

    for j, name in enumerate(fs.names):
        alone = np.asarray(REGISTRY[name].func(fresh()), dtype=np.float64)
        alone = np.where(np.isfinite(alone), alone, np.nan)
        assert alone.tobytes() == fs.raw[:, j].tobytes(), name
    ctx = fresh()
    first = {n: np.array(REGISTRY[n].func(ctx), copy=True) for n in fs.names}
    assert {"btc_dom", "breadth_7d", "funding_skew"} <= set(ctx.memo)
    for n in reversed(fs.names):  # again, in another order, on the same context
        assert np.array_equal(REGISTRY[n].func(ctx), first[n], equal_nan=True), n


# ---- z-score ------------------------------------------------------------------------------------
def _reference_z(x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """(x[d] - mean) / std(ddof=1) over the trailing window ending at d, by hand."""
    out = np.full(len(x), np.nan)
    for d in range(len(x)):
        w = x[max(0, d - window + 1) : d + 1]
        w = w[np.isfinite(w)]
        if not np.isfinite(x[d]) or len(w) < min_periods:
            continue
        sd = np.std(w, ddof=1)
        if sd > 1e-12:
            out[d] = (x[d] - np.mean(w)) / sd
    return out


@pytest.mark.parametrize("name", ["alt_mom_7d", "btc_dom_chg_20d", "alt_volume_share"])
def test_z_equals_a_hand_computation(
    full: tuple[MarketPanel, Universe, FeatureSet], name: str
) -> None:
    _, _, fs = full
    j = fs.column(name)
    want = _reference_z(fs.raw[:, j], ZW, ZMP)
    assert np.isfinite(want).sum() > 200
    np.testing.assert_allclose(fs.z[:, j], want, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_z_with_gaps_in_the_input_equals_a_hand_computation() -> None:
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(400)
    x[:17] = np.nan
    x[rng.choice(400, 40, replace=False)] = np.nan
    np.testing.assert_allclose(
        zscore(x, 60, 30), _reference_z(x, 60, 30), rtol=1e-9, atol=1e-12, equal_nan=True
    )


def test_z_burn_in_rows_are_nan_not_zero(full: tuple[MarketPanel, Universe, FeatureSet]) -> None:
    _, _, fs = full
    for j, name in enumerate(fs.names):
        x = fs.raw[:, j]
        first = int(np.flatnonzero(np.isfinite(x))[0])
        seen = np.cumsum(np.isfinite(x))
        burn = seen < ZMP
        assert burn[first : first + ZMP - 1].all()
        assert np.isnan(fs.z[burn, j]).all(), name
        assert not (fs.z[burn, j] == 0).any(), name
        assert np.isfinite(fs.z[~burn, j]).any(), name


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    shift=st.floats(min_value=-100.0, max_value=100.0, allow_nan=False),
    scale=st.floats(min_value=1e-3, max_value=1e3, allow_nan=False),
    column=st.sampled_from(["alt_mom_20d", "breadth_7d", "btc_dom", "vol_spread_7d"]),
)
def test_z_is_unchanged_by_adding_a_constant_or_scaling(
    full: tuple[MarketPanel, Universe, FeatureSet], shift: float, scale: float, column: str
) -> None:
    _, _, fs = full
    x = fs.raw[:, fs.column(column)]
    z = zscore(x, ZW, ZMP)
    # a shift by `shift` standard deviations of the feature (so it is a real shift at any scale)
    c = shift * float(np.nanstd(x))
    np.testing.assert_allclose(zscore(x + c, ZW, ZMP), z, rtol=1e-6, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(zscore(x * scale, ZW, ZMP), z, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_z_of_a_constant_series_is_nan() -> None:
    x = np.full(300, 0.25)
    assert np.isnan(zscore(x, 60, 30)).all()


# ---- point in time -------------------------------------------------------------------------------
@pytest.mark.parametrize("cut", [date(2020, 4, 20), date(2020, 11, 3), date(2021, 6, 1)])
def test_appending_future_days_never_changes_past_features(
    data: LakeData, full: tuple[MarketPanel, Universe, FeatureSet], cut: date
) -> None:
    _, _, fs = full
    tables = {
        k: v.filter(pl.col("date") <= cut) if "date" in v.columns else v
        for k, v in data.tables.items()
    }
    _, _, part = features_of(dataclasses.replace(data, tables=tables, end=cut), end=cut)
    n = (cut - SPEC.start).days + 1
    assert part.names == fs.names and part.raw.shape[0] == n
    np.testing.assert_allclose(part.raw, fs.raw[:n], rtol=1e-12, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(part.z, fs.z[:n], rtol=1e-9, atol=1e-12, equal_nan=True)


# ---- missing optional tables ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "needs"), [("fact_funding", FUNDING_FEATURES), ("fact_open_interest", OI_FEATURES)]
)
def test_missing_table_removes_exactly_its_features_with_one_warning(
    data: LakeData,
    full: tuple[MarketPanel, Universe, FeatureSet],
    table: str,
    needs: tuple[str, ...],
) -> None:
    _, _, fs = full
    tables = {k: v for k, v in data.tables.items() if k != table}
    p, _, part = features_of(dataclasses.replace(data, tables=tables))
    assert part.removed == needs
    assert part.names == tuple(n for n in REGISTRY if n not in needs)
    assert len(part.warnings) == 1
    w = part.warnings[0]
    assert table in w and all(n in w for n in needs)
    # the other features are exactly those of the full lake: nothing was filled with zeros
    # (funding_skew weighs the majors' funding by open interest when it has it, so it changes
    # without fact_open_interest, as documented, but is still computed)
    for j, name in enumerate(part.names):
        if table == "fact_open_interest" and name in FUNDING_FEATURES:
            assert np.isfinite(part.raw[:, j]).mean() > 0.9
            continue
        np.testing.assert_array_equal(part.raw[:, j], fs.raw[:, fs.column(name)], err_msg=name)
    frame = part.frame(p.dates)
    for n in needs:
        assert n not in frame.columns and f"z_{n}" not in frame.columns


def test_features_wide_frame(full: tuple[MarketPanel, Universe, FeatureSet]) -> None:
    p, _, fs = full
    frame = fs.frame(p.dates)
    assert frame.columns == ["date", *fs.names, *(f"z_{n}" for n in fs.names)]
    assert frame.schema["date"] == pl.Date
    assert frame.height == p.n_days
    assert frame["date"][0] == SPEC.start and frame["date"][-1] == SPEC.end
    assert frame["date"].diff().drop_nulls().unique().to_list() == [timedelta(days=1)]
    for n in fs.names:
        assert frame.schema[n] == pl.Float64 and frame.schema[f"z_{n}"] == pl.Float64
        # missing values are nulls, never NaN or 0 stand-ins
        assert frame[n].is_nan().sum() == 0
        assert frame[n].null_count() == int(np.isnan(fs.raw[:, fs.column(n)]).sum())
    assert frame["z_alt_mom_7d"][: ZMP - 1].null_count() == ZMP - 1


def test_funding_skew_says_which_definition_each_day_had(
    full: tuple[MarketPanel, Universe, FeatureSet],
) -> None:
    """funding_skew weights the majors' funding by open interest on days where BTC and ETH both
    have it, else takes their plain mean: the feature set says on how many days each held (a
    key of kpis.json, the manifest and the signal), and warns when a window holds both."""
    p, u, fs = full
    d = fs.definitions["funding_skew"]
    assert d["majors_funding"] == "open-interest weighted" and d["plain_mean_days"] == 0
    n = p.n_days
    oi = p.oi.copy()
    oi[: n // 2, u.btc] = np.nan  # BTC's open interest starts half-way
    p2 = dataclasses.replace(p, oi=oi)
    fs2 = compute_features(p2, u, zscore_window=ZW, zscore_min_periods=ZMP)
    d2 = fs2.definitions["funding_skew"]
    col = fs2.raw[:, fs2.column("funding_skew")]
    assert d2["majors_funding"] == "mixed"
    assert d2["oi_weighted_days"] + d2["plain_mean_days"] == int(np.isfinite(col).sum())
    assert d2["oi_weighted_from"] == str(p.dates[n // 2])
    assert any("two definitions" in w for w in fs2.warnings)
    # a hand computation on one day of each kind
    for t, weighted in ((n // 4, False), (3 * n // 4, True)):
        alt = np.nanmedian(np.where(u.basket[t], p.funding[t], np.nan))
        fb, fe = p.funding[t, u.btc], p.funding[t, u.eth]
        ob, oe = oi[t, u.btc], oi[t, u.eth]
        majors = (ob * fb + oe * fe) / (ob + oe) if weighted else (fb + fe) / 2
        assert col[t] == pytest.approx(alt - majors, rel=1e-12)
    # no open interest at all: one definition, said, no warning
    p3 = dataclasses.replace(p, oi=np.full_like(p.oi, np.nan), has_oi=False)
    fs3 = compute_features(p3, u, zscore_window=ZW, zscore_min_periods=ZMP)
    assert fs3.definitions["funding_skew"]["majors_funding"] == "plain mean"
    assert not any("two definitions" in w for w in fs3.warnings)
