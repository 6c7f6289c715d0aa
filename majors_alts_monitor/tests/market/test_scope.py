"""A run that keeps only its candidates' rows (``market/scope.py``) against one that reads the
whole lake: the same universe, basket, features and book on a long-tailed lake where most coins
are never candidates; the candidate rule against a brute-force per-day reference; point in time
(the candidates of a lake cut at any day are the full lake's candidates of the days up to it)
and results that do not depend on how wide the margin is. Seeds are fixed."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import pipeline
from majors_alts_monitor.arrays import shift
from majors_alts_monitor.config import Config, UniverseConfig
from majors_alts_monitor.lake.lake_data import LakeData, TableStats
from majors_alts_monitor.lake.synthetic import SyntheticSpec
from majors_alts_monitor.lake.synthetic.long_tail import write_long_tail_lake
from majors_alts_monitor.lake.wide import WideLake, read_wide
from majors_alts_monitor.market.beta_neutral import build_book, rolling_betas
from majors_alts_monitor.market.features import compute_features
from majors_alts_monitor.market.panel import (
    MarketPanel,
    build_panel,
    carry_forward,
    listed_cap_total,
    returns,
)
from majors_alts_monitor.market.scope import candidates, cap_total
from majors_alts_monitor.market.universe import Universe, build_universe, filters

SPEC = SyntheticSpec(n_assets=400, start=date(2019, 1, 1), end=date(2021, 12, 31), seed=3)
# thresholds lowered so that about a fifth of the coins are ever eligible and both cuts bind
UNIVERSE = {
    "basket_size": 5,
    "candidate_margin": 2,
    "candidate_top_marketcap": 15,
    "min_marketcap": 5e6,
    "min_volume": 2e5,
    "min_history_days": 30,
}
G = 3
# exact in the candidates' panel: medians, shares of 0/1, quantiles, btc_dom (its total is the
# whole lake's); the others sum over the panel's columns, whose number differs: equal to 1e-12
EXACT = {
    "breadth_1d",
    "breadth_7d",
    "breadth_slope",
    "alt_median_ret_1d",
    "alt_dispersion_iqr",
    "dispersion_slope",
    "btc_dom",
    "btc_dom_chg_1d",
    "btc_dom_chg_5d",
    "btc_dom_chg_20d",
    "funding_skew",
    "funding_heating",
    "alt_volume_high_share",
    "alt_mom_3d",
    "alt_mom_7d",
    "alt_mom_20d",
    "oi_change_7d",
}


# the Altcoin Season Index ranks the top 50 / 100 alts: exact when candidate_top_marketcap >= N
TOP_N = {"altseason_50": 50, "altseason_100": 100}


def _flat(params: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in params.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _same_params(got: dict, want: dict) -> bool:
    """Fold parameters equal: numbers to rounding (rel 1e-9), everything else (names, modes)
    exactly."""
    a, b = _flat(got), _flat(want)
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        num = isinstance(x, int | float) and not isinstance(x, bool)
        if num and isinstance(y, int | float) and not isinstance(y, bool):
            if x != pytest.approx(y, rel=1e-9, abs=1e-15):
                return False
        elif x != y:
            return False
    return True


def config(lake: Path, out: Path, **universe: object) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    u = cfg.universe.model_copy(update={**UNIVERSE, **universe})
    return cfg.model_copy(update={"universe": u})


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake_dir, _ = write_long_tail_lake(
        SPEC, tmp_path_factory.mktemp("long_tail"), partitioned=True, chunk_assets=64
    )
    return lake_dir


@pytest.fixture(scope="module")
def reads(
    lake: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Config, LakeData, LakeData]:
    cfg = config(lake, tmp_path_factory.mktemp("out"))
    reader = pipeline.make_reader(cfg)
    return cfg, pipeline.read_lake(cfg, reader, None, None), reader.read(None, None)


@pytest.fixture(scope="module")
def panels(
    reads: tuple[Config, LakeData, LakeData],
) -> tuple[tuple[MarketPanel, Universe], tuple[MarketPanel, Universe]]:
    cfg, scoped, full = reads
    s, e = scoped.price_span()
    out = []
    for lk in (scoped, full):
        p = build_panel(lk, s, e, G)
        out.append((p, build_universe(p, cfg.universe, max_gap_days=G)))
    return out[0], out[1]


def test_scoped_read_keeps_the_full_reads_facts(reads: tuple[Config, LakeData, LakeData]) -> None:
    _, scoped, full = reads
    assert scoped.scope is not None and full.scope is None
    kept = scoped.scope.panel_assets
    assert 20 < len(kept) < scoped.scope.n_assets == 400  # most coins are never candidates
    assert scoped.table_stats() == {n: TableStats.of(df) for n, df in full.tables.items()}
    assert scoped.data_through() == full.data_through()
    assert scoped.price_span() == full.price_span()
    assert (scoped.start, scoped.end, scoped.stables) == (full.start, full.end, full.stables)
    assert scoped.notes[:-1] == full.notes and scoped.notes[-1].startswith("scope: ")
    assert scoped.warnings == full.warnings
    for name, df in full.tables.items():
        mine = scoped.tables[name]
        if "asset_id" in df.columns and name != "dim_asset":
            df = df.filter(pl.col("asset_id").is_in(kept)).select(mine.columns)
        assert mine.equals(df), name


def test_the_candidates_panel_gives_the_whole_lakes_universe_features_and_book(
    reads: tuple[Config, LakeData, LakeData],
    panels: tuple[tuple[MarketPanel, Universe], tuple[MarketPanel, Universe]],
) -> None:
    cfg, _, _ = reads
    (pc, uc), (pf, uf) = panels
    cols = [pf.idx(a) for a in pc.assets]
    rest = np.setdiff1d(np.arange(pf.n_assets), cols)
    for f in ("close", "ret", "mcap", "volume", "funding", "oi", "active"):
        np.testing.assert_array_equal(getattr(pc, f), getattr(pf, f)[:, cols], err_msg=f)
    for f in ("eligible", "basket", "rank_value", "median_volume"):
        np.testing.assert_array_equal(getattr(uc, f), getattr(uf, f)[:, cols], err_msg=f)
    assert not uf.basket[:, rest].any()  # a non-candidate is never in the basket
    assert uc.basket.sum(axis=1).max() == cfg.universe.basket_size
    # btc_dom's total: every listed asset of the lake, the same bits as the whole panel's
    assert pc.cap_total is not None and pf.cap_total is None
    whole = listed_cap_total(pf.close, pf.ret, carry_forward(pf.mcap, G))
    np.testing.assert_array_equal(pc.cap_total, whole)
    kw = {"zscore_window": 90, "zscore_min_periods": 30, "max_gap_days": G}
    fc, ff = compute_features(pc, uc, **kw), compute_features(pf, uf, **kw)
    assert fc.names == ff.names
    for j, n in enumerate(fc.names):
        if n in TOP_N:  # a top 50 / 100 over a panel holding the top 15: test_top_n_indices_...
            continue
        if n in EXACT:
            np.testing.assert_array_equal(fc.raw[:, j], ff.raw[:, j], err_msg=n)
        else:
            np.testing.assert_allclose(fc.raw[:, j], ff.raw[:, j], rtol=1e-12, err_msg=n)
    bc, bf = rolling_betas(pc, uc, cfg.book), rolling_betas(pf, uf, cfg.book)
    np.testing.assert_array_equal(bc.btc, bf.btc[:, cols])
    wc, wf = build_book(pc, uc, bc, cfg.book), build_book(pf, uf, bf, cfg.book)
    np.testing.assert_allclose(wc.weights, wf.weights[:, cols], rtol=1e-12, atol=1e-15)
    assert not wf.weights[:, rest].any()


def _brute_force(p: MarketPanel, ucfg: UniverseConfig) -> np.ndarray:
    """Per day and asset: a candidate of that day by the rule, computed day by day."""
    is_alt = np.array([a not in ucfg.majors for a in p.assets])
    f = filters(p.close, p.active, p.mcap, p.volume, is_alt, ucfg, G)
    px = carry_forward(p.close, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        r90 = px / shift(px, 90) - 1.0
    pool = is_alt[None, :] & np.isfinite(r90) & np.isfinite(f.mcap) & (f.mcap > 0)
    listed = np.isfinite(p.ret) | np.isfinite(p.close)
    out = np.zeros(p.close.shape, dtype=bool)
    for d in range(p.n_days):
        for keys, k in (
            (np.where(f.eligible[d] & np.isfinite(f.key[d]), f.key[d], np.nan), None),
            (np.where(listed[d], f.mcap[d], np.nan), ucfg.candidate_top_marketcap),
            (np.where(pool[d], f.mcap[d], np.nan), ucfg.candidate_top_marketcap),
        ):
            k = ucfg.basket_size * ucfg.candidate_margin if k is None else k
            have = np.sort(keys[np.isfinite(keys)])[::-1]
            if k and have.size:
                out[d] |= np.isfinite(keys) & (keys >= have[min(k, have.size) - 1])
    out[:, ~is_alt] = True
    return out


@pytest.fixture(scope="module")
def wide(reads: tuple[Config, LakeData, LakeData]) -> WideLake:
    cfg, _, _ = reads
    return read_wide(pipeline.make_reader(cfg), None, None)


def test_the_candidate_rule_matches_a_day_by_day_reference(
    reads: tuple[Config, LakeData, LakeData],
    panels: tuple[tuple[MarketPanel, Universe], tuple[MarketPanel, Universe]],
    wide: WideLake,
) -> None:
    cfg, scoped, _ = reads
    _, (pf, _) = panels
    assert wide.assets == pf.assets
    ref = _brute_force(pf, cfg.universe).any(axis=0)
    c = candidates(wide, cfg.universe, G)
    np.testing.assert_array_equal(c.any, ref)
    assert scoped.scope is not None
    assert scoped.scope.panel_assets == tuple(a for a, k in zip(pf.assets, ref, strict=True) if k)
    assert c.by_rank.sum() < c.by_marketcap.sum() < len(ref)  # both rules cut
    np.testing.assert_array_equal(cap_total(wide, G), scoped.scope.cap_total)


def _cut(w: WideLake, day: int) -> WideLake:
    """The wide arrays of the lake cut after ``day``: its first rows, the assets priced by then."""
    keep = np.isfinite(w.close[: day + 1]).any(axis=0)
    arr = {f: getattr(w, f)[: day + 1][:, keep] for f in ("close", "mcap", "volume")}
    return dataclasses.replace(w, assets=tuple(np.asarray(w.assets)[keep]), **arr)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(day=st.integers(min_value=40, max_value=SPEC.n_days - 2))
def test_candidates_of_a_lake_cut_at_any_day_are_the_days_candidates_up_to_it(
    reads: tuple[Config, LakeData, LakeData],
    panels: tuple[tuple[MarketPanel, Universe], tuple[MarketPanel, Universe]],
    wide: WideLake,
    day: int,
) -> None:
    """Point in time: a day's candidates use data dated on or before it, so the candidates of a
    lake cut at D are exactly the union of the full lake's candidates of the days up to D."""
    cfg, _, _ = reads
    _, (pf, _) = panels
    ref = _brute_force(pf, cfg.universe)[: day + 1].any(axis=0)
    cut = _cut(wide, day)
    got = dict(zip(cut.assets, candidates(cut, cfg.universe, G).any, strict=True))
    assert {a for a, k in got.items() if k} == {a for a, k in zip(pf.assets, ref, strict=True) if k}
    # the same sum of fewer columns (coins listed later are absent): equal to the last bits
    np.testing.assert_allclose(cap_total(cut, G), cap_total(wide, G)[: day + 1], rtol=1e-14)


def test_returns_of_the_scoped_blocks_are_the_panels() -> None:
    """``returns`` on a block of days from ``max_gap_days + 1`` rows early equals the whole."""
    rng = np.random.default_rng(0)
    x = np.exp(rng.standard_normal((300, 7)))
    x[rng.random(x.shape) < 0.3] = np.nan
    ret, act = returns(x, G)
    r2, a2 = returns(x[96:], G)
    np.testing.assert_array_equal(r2[G + 1 :], ret[96 + G + 1 :])
    np.testing.assert_array_equal(a2[G + 1 :], act[96 + G + 1 :])


# ---- whole runs --------------------------------------------------------------------------------
def _quick(cfg: Config) -> Config:
    return cfg.model_copy(
        update={
            "stats": cfg.stats.model_copy(update={"n_boot": 100}),
            "regime": cfg.regime.model_copy(
                update={"grid": cfg.regime.grid.model_copy(update={"max_sets": 60})}
            ),
            "walkforward": cfg.walkforward.model_copy(update={"train_days": 240}),
        }
    )


@pytest.mark.slow
def test_a_runs_results_do_not_depend_on_how_many_candidates_it_keeps(
    lake: Path, tmp_path: Path
) -> None:
    """Margins from tight to the whole lake: the same regimes, folds and book, every number
    equal to the last bits (sums over more zero columns round differently)."""
    runs = []
    for i, (margin, top) in enumerate([(1, 0), (2, 15), (1000, 100_000)]):
        cfg = _quick(config(lake, tmp_path / f"o{i}", candidate_margin=margin))
        cfg = cfg.model_copy(
            update={"universe": cfg.universe.model_copy(update={"candidate_top_marketcap": top})}
        )
        runs.append(pipeline.run(cfg, SPEC.start, SPEC.end))
    notes = [[n for n in r.manifest["notes"] if n.startswith("scope:")] for r in runs]
    assert notes[0] and notes[1] and not notes[2]  # the last run keeps every asset
    kept = [int(n[0].split()[1]) for n in notes[:2]]
    assert kept[0] < kept[1] < 400
    assert all(r.manifest["universe"]["assets"] == 400 for r in runs)
    base = runs[-1]
    for r in runs[:-1]:
        assert r.timeline["regime"].equals(base.timeline["regime"])
        for a, b in zip(r.folds, base.folds, strict=True):
            # the forecast's scaler is a mean over days of features that sum over the panel's
            # columns: equal to rounding (the composite's chosen set: exactly)
            assert _same_params(a["params"], b["params"]), (a["params"], b["params"])
            assert a["train_sharpe"] == pytest.approx(b["train_sharpe"], rel=1e-9)
        np.testing.assert_allclose(
            r.pnl["net_return"].to_numpy(),
            base.pnl["net_return"].to_numpy(),
            rtol=1e-9,
            atol=1e-15,
        )
        assert r.kpis["walk_forward"]["oos_sharpe"] == pytest.approx(
            base.kpis["walk_forward"]["oos_sharpe"], rel=1e-9
        )
        # the top 50 / 100 indices need candidate_top_marketcap >= N (here 0 and 15):
        # test_top_n_indices_are_exact_when_the_panel_holds_their_pool
        same = [c for c in base.features.columns if c != "date" and c.split("z_")[-1] not in TOP_N]
        np.testing.assert_allclose(
            r.features.select(same).to_numpy(),
            base.features.select(same).to_numpy(),
            rtol=1e-9,
            atol=1e-15,
        )


@pytest.mark.slow
def test_rewriting_the_future_changes_no_fold_before_it_on_a_long_tail_lake(
    tmp_path: Path,
) -> None:
    """The future-rewrite test of the walk forward on a lake where the rewrite (caps x 1.7,
    volumes x 1-3 after the cutoff) changes which coins are candidates."""
    from majors_alts_monitor.tests.backtest.test_walkforward import _rewrite_after

    lake, _ = write_long_tail_lake(SPEC, tmp_path / "flat", partitioned=False, chunk_assets=64)
    base = pipeline.run(_quick(config(lake, tmp_path / "a")), SPEC.start, SPEC.end)
    folds = base.kpis["walk_forward"]["folds"]
    k = 1
    cutoff = date.fromisoformat(folds[k]["train_end"])
    changed_lake = tmp_path / "changed"
    _rewrite_after(lake, changed_lake, cutoff, seed=4)
    changed = pipeline.run(_quick(config(changed_lake, tmp_path / "b")), SPEC.start, SPEC.end)
    scope = [[n for n in r.manifest["notes"] if n.startswith("scope:")][0] for r in (base, changed)]
    assert scope[0] != scope[1]  # the future's candidates changed
    cfolds = changed.kpis["walk_forward"]["folds"]
    for j in range(k + 1):
        # to rounding: the future's other candidates are other columns of the panel, and the
        # forecast's scaler averages features that sum over them (a leak moves it far more)
        got, want = cfolds[j]["params"], folds[j]["params"]
        assert _same_params(got, want), f"fold {j} saw the future: {got} vs {want}"
        assert cfolds[j]["train_sharpe"] == pytest.approx(folds[j]["train_sharpe"], rel=1e-9)


@pytest.mark.slow
def test_signal_on_a_cut_long_tail_lake_equals_the_full_lake(lake: Path, tmp_path: Path) -> None:
    from majors_alts_monitor.tests.test_cli_e2e import _cut_lake

    asof = date(2021, 9, 15)
    _cut_lake(lake, tmp_path / "cut", asof)
    out = []
    for i, lk in enumerate((lake, tmp_path / "cut")):
        sig = pipeline.signal(_quick(config(lk, tmp_path / f"s{i}")), asof)
        sig.pop("generated_at")
        out.append(sig)
    assert out[0] == out[1]


def test_a_published_universe_puts_its_members_in_the_panel(
    lake: Path, reads: tuple[Config, LakeData, LakeData], tmp_path: Path
) -> None:
    """With ``universe_snapshots`` the members replace the filters: coins far below every line
    that a snapshot names are candidates, and the basket is the whole lake's."""
    import shutil

    cfg, scoped, _ = reads
    assert scoped.scope is not None
    own = tmp_path / "lake"
    shutil.copytree(lake, own)
    names = ("ALT00003", "ALT00004", "ALT00005", "ALT00006", "ALT00007", "ALT00008")
    small = [a for a in names if a not in scoped.scope.panel_assets][:4]
    assert len(small) >= 2
    snaps = pl.DataFrame(
        {
            "rebalance_date": [date(2020, 1, 1)] * len(small) + [date(2021, 1, 1)] * 2,
            "asset_id": small + small[:2],
            "rank": list(range(1, len(small) + 1)) + [2, 1],
        },
        schema={"rebalance_date": pl.Date, "asset_id": pl.String, "rank": pl.Int64},
    )
    snaps.write_parquet(own / "universe_snapshots.parquet")
    c = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"data_lake": own})})
    reader = pipeline.make_reader(c)
    got, full = pipeline.read_lake(c, reader, None, None), reader.read(None, None)
    assert got.scope is not None and set(small) <= set(got.scope.panel_assets)
    s, e = got.price_span()
    us = []
    for lk in (got, full):
        p = build_panel(lk, s, e, G)
        u = build_universe(p, c.universe, max_gap_days=G, snapshots=lk.tables["universe_snapshots"])
        us.append((p, u))
    (pc, uc), (pf, uf) = us
    cols = [pf.idx(a) for a in pc.assets]
    np.testing.assert_array_equal(uc.basket, uf.basket[:, cols])
    assert uf.basket.sum() == uc.basket.sum() > 0


def test_top_n_indices_are_exact_when_the_panel_holds_their_pool(lake: Path, tmp_path) -> None:
    """With ``candidate_top_marketcap`` 100 (the default) the candidates' panel gives the
    whole lake's Altcoin Season Index over the top 50 and the top 100, to the last bit."""
    cfg = config(lake, tmp_path, candidate_top_marketcap=100)
    reader = pipeline.make_reader(cfg)
    scoped_lk = pipeline.read_lake(cfg, reader, None, None)
    assert scoped_lk.scope is not None and len(scoped_lk.scope.panel_assets) < 400
    out = []
    for lk in (scoped_lk, reader.read(None, None)):
        s, e = lk.price_span()
        p = build_panel(lk, s, e, G)
        u = build_universe(p, cfg.universe, max_gap_days=G)
        kw = {"zscore_window": 90, "zscore_min_periods": 30, "max_gap_days": G}
        out.append(compute_features(p, u, enabled=tuple(TOP_N), **kw))
    for n in TOP_N:
        a, b = (fs.raw[:, fs.column(n)] for fs in out)
        assert np.isfinite(a).sum() > 500
        np.testing.assert_array_equal(a, b, err_msg=n)
