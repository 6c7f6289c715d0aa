"""Tests of rolling dual betas, the short basket and the neutral book (``beta_neutral.py``).

Recovery: on a planted synthetic lake (5 years, 40 assets, seed 0) the 90-day betas find the
planted ones and the always-held book is neutral to BTC and ETH and short the planted spread
factor. Reference: the ridge at 0 is plain OLS with intercept (``np.linalg.lstsq``); with
orthogonal factors it moves exactly ``ridge / (1 + ridge)`` of the way to the prior. Properties
(hypothesis) of the basket shares, the per-name cap, the neutral legs and the whole book.

Measured on the planted lake (seed 0, 2019-01-01..2024-01-01, 40 assets, default config):
median |beta - truth| over alt-days with a full window 0.074 (BTC) and 0.062 (ETH); realized
betas of the always-held book over the sample +0.038 (BTC) and -0.038 (ETH) (-0.004 and +0.001
with ridge 0: the default ridge's pull toward the prior (1, 0) is what is left); correlation of
the book's daily return with minus the planted spread factor 0.916.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from majors_alts_monitor.config import BookConfig, Config, UniverseConfig
from majors_alts_monitor.lake.data_io import LakeReader
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.market import beta_neutral as bn
from majors_alts_monitor.market.panel import MarketPanel, build_panel
from majors_alts_monitor.market.universe import Universe, build_universe

CFG = Config()
BOOK = CFG.book
PLANTED = SyntheticSpec(n_assets=40, start=date(2019, 1, 1), end=date(2024, 1, 1), seed=0)
SMALL = SyntheticSpec(n_assets=16, start=date(2021, 1, 1), end=date(2021, 12, 31), seed=4)


def panel_and_universe(
    lake_dir: Path, spec: SyntheticSpec, ucfg: UniverseConfig | None = None
) -> tuple[MarketPanel, Universe]:
    data = LakeReader(lake_dir, aliases=CFG.universe.aliases, exclude=CFG.universe.exclude).read()
    p = build_panel(data, spec.start, spec.end, CFG.data.max_gap_days)
    return p, build_universe(p, ucfg or CFG.universe, max_gap_days=CFG.data.max_gap_days)


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[MarketPanel, Universe, Path]:
    lake_dir, truth_dir = write_lake(generate(PLANTED), tmp_path_factory.mktemp("planted"))
    p, u = panel_and_universe(lake_dir, PLANTED)
    return p, u, truth_dir


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[MarketPanel, Universe]:
    lake_dir, _ = write_lake(generate(SMALL), tmp_path_factory.mktemp("small"))
    ucfg = CFG.universe.model_copy(
        update={"basket_size": 6, "min_history_days": 10, "min_marketcap": 1e7, "min_volume": 1e5}
    )
    return panel_and_universe(lake_dir, SMALL, ucfg)


def truth_betas(p: MarketPanel, truth_dir: Path) -> tuple[list[int], np.ndarray, np.ndarray]:
    t = pl.read_parquet(truth_dir / "betas.parquet")
    tb = dict(zip(t["asset_id"].to_list(), t["beta_btc"].to_list(), strict=True))
    te = dict(zip(t["asset_id"].to_list(), t["beta_eth"].to_list(), strict=True))
    alts = [j for j, a in enumerate(p.assets) if a not in ("BTC", "ETH")]
    return (
        alts,
        np.array([tb[p.assets[j]] for j in alts]),
        np.array([te[p.assets[j]] for j in alts]),
    )


# ---- recovery on the planted lake ---------------------------------------------------------------
def test_rolling_betas_recover_the_planted_betas(
    planted: tuple[MarketPanel, Universe, Path],
) -> None:
    p, u, truth_dir = planted
    b = bn.rolling_betas(p, u, BOOK)
    alts, tb, te = truth_betas(p, truth_dir)
    full = b.n_obs[:, alts] >= BOOK.beta_window
    assert full.sum() > 40_000
    err_btc = float(np.median(np.abs(b.btc[:, alts] - tb)[full]))
    err_eth = float(np.median(np.abs(b.eth[:, alts] - te)[full]))
    # measured: 0.074 (BTC), 0.062 (ETH)
    assert err_btc < 0.1 and err_eth < 0.1, (err_btc, err_eth)
    # the majors' own betas are (1, 0) and (0, 1) by definition
    assert np.all(b.btc[:, u.btc] == 1) and np.all(b.eth[:, u.btc] == 0)
    assert np.all(b.btc[:, u.eth] == 0) and np.all(b.eth[:, u.eth] == 1)
    lo, hi = BOOK.beta_clamp
    assert b.btc.min() >= lo and b.btc.max() <= hi and b.eth.min() >= lo and b.eth.max() <= hi


def _lstsq_betas(rw: np.ndarray, j: int, d: int, u: Universe, window: int) -> np.ndarray:
    rows = slice(d - window + 1, d + 1)
    y, x1, x2 = rw[rows, j], rw[rows, u.btc], rw[rows, u.eth]
    ok = np.isfinite(y) & np.isfinite(x1) & np.isfinite(x2)
    x = np.column_stack([np.ones(ok.sum()), x1[ok], x2[ok]])
    coef, *_ = np.linalg.lstsq(x, y[ok], rcond=None)
    return coef[1:]


def test_ridge_zero_is_ols_with_intercept(planted: tuple[MarketPanel, Universe, Path]) -> None:
    p, u, _ = planted
    cfg0 = BOOK.model_copy(update={"ridge": 0.0})
    b = bn.rolling_betas(p, u, cfg0)
    rw, _ = bn.winsorise(p.ret, BOOK.vol_halflife, BOOK.winsor_sigma)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):
        j = int(rng.integers(p.n_assets))
        d = int(rng.integers(BOOK.beta_window, p.n_days))
        if j in (u.btc, u.eth) or b.fallback[d, j]:
            continue
        want = _lstsq_betas(rw, j, d, u, BOOK.beta_window)
        if np.any(want <= BOOK.beta_clamp[0]) or np.any(want >= BOOK.beta_clamp[1]):
            continue
        assert (b.btc[d, j], b.eth[d, j]) == pytest.approx(tuple(want), rel=1e-7, abs=1e-9)
        checked += 1
    assert checked >= 20


def _orthogonal_panel(n: int = 120, seed: int = 0) -> tuple[MarketPanel, Universe]:
    """BTC and ETH returns exactly orthogonal and zero-mean over the last ``n`` days."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, 3)))
    x = q[:, 1:] - q[:, 1:].mean(axis=0)
    x -= np.outer(np.ones(n), x.mean(axis=0))
    # Gram-Schmidt after centering keeps them orthogonal
    x[:, 1] -= x[:, 0] * (x[:, 0] @ x[:, 1]) / (x[:, 0] @ x[:, 0])
    btc, eth = 0.03 * x[:, 0] / x[:, 0].std(), 0.04 * x[:, 1] / x[:, 1].std()
    alt = 0.7 * btc + 0.3 * eth + 0.02 * rng.standard_normal(n)
    ret = np.column_stack([alt, btc, eth])
    close = 100 * np.cumprod(1 + ret, axis=0)
    ones = np.ones_like(ret)
    p = MarketPanel(
        dates=np.arange(np.datetime64("2022-01-01"), np.datetime64("2022-01-01") + n),
        assets=("ALT", "BTC", "ETH"),
        close=close,
        ret=ret,
        mcap=ones * 1e9,
        volume=ones * 1e8,
        funding=ones * np.nan,
        oi=ones * np.nan,
        active=np.ones_like(ret, dtype=bool),
        has_funding=False,
        has_oi=False,
    )
    basket = np.zeros_like(ret, dtype=bool)
    basket[:, 0] = True
    u = Universe(basket, basket, ones, ones, btc=1, eth=2)
    return p, u


@pytest.mark.parametrize("ridge", [0.05, 0.5, 3.0])
def test_ridge_with_orthogonal_factors_moves_ridge_over_one_plus_ridge_to_the_prior(
    ridge: float,
) -> None:
    n = 120
    p, u = _orthogonal_panel(n)
    base = BOOK.model_copy(
        update={"beta_window": n, "beta_min_obs": 30, "winsor_sigma": 1e6, "ridge": 0.0}
    )
    ols = bn.rolling_betas(p, u, base)
    shrunk = bn.rolling_betas(p, u, base.model_copy(update={"ridge": ridge}))
    d, f = n - 1, ridge / (1 + ridge)
    b0 = np.array([BOOK.prior_beta_btc, BOOK.prior_beta_eth])
    b_ols = np.array([ols.btc[d, 0], ols.eth[d, 0]])
    assert b_ols == pytest.approx(_lstsq_betas(p.ret, 0, d, u, n), rel=1e-9)
    want = b_ols + f * (b0 - b_ols)
    assert (shrunk.btc[d, 0], shrunk.eth[d, 0]) == pytest.approx(tuple(want), rel=1e-9)


def test_larger_ridge_moves_toward_the_prior(planted: tuple[MarketPanel, Universe, Path]) -> None:
    """The penalty ``sum_k var_k (b_k - b0_k)^2`` of the solution never grows with the ridge,
    and a huge ridge returns the prior."""
    p, u, _ = planted
    rw, _ = bn.winsorise(p.ret, BOOK.vol_halflife, BOOK.winsor_sigma)
    ridges = [0.0, 0.05, 0.2, 1.0, 5.0, 1e6]
    bs = [bn.rolling_betas(p, u, BOOK.model_copy(update={"ridge": r})) for r in ridges]
    w = BOOK.beta_window
    rng = np.random.default_rng(1)
    for _ in range(30):
        j = int(rng.integers(p.n_assets))
        d = int(rng.integers(w, p.n_days))
        if j in (u.btc, u.eth) or bs[0].fallback[d, j]:
            continue
        rows = slice(d - w + 1, d + 1)
        ok = np.isfinite(rw[rows, j]) & np.isfinite(rw[rows, u.btc]) & np.isfinite(rw[rows, u.eth])
        var = np.array([rw[rows, u.btc][ok].var(), rw[rows, u.eth][ok].var()])
        b0 = np.array([BOOK.prior_beta_btc, BOOK.prior_beta_eth])
        pen = [float(var @ (np.array([b.btc[d, j], b.eth[d, j]]) - b0) ** 2) for b in bs]
        assert all(a >= b - 1e-15 for a, b in zip(pen, pen[1:], strict=False)), pen
        assert (bs[-1].btc[d, j], bs[-1].eth[d, j]) == pytest.approx(tuple(b0), abs=1e-4)


def test_fallback_to_the_prior_below_min_obs_is_counted(
    small: tuple[MarketPanel, Universe],
) -> None:
    p, u = small
    b = bn.rolling_betas(p, u, BOOK)
    alts = np.array([j not in (u.btc, u.eth) for j in range(p.n_assets)])
    few = b.n_obs < BOOK.beta_min_obs
    assert np.all(b.fallback[:, alts][few[:, alts]])
    assert np.all(b.btc[:, alts][few[:, alts]] == BOOK.prior_beta_btc)
    assert np.all(b.eth[:, alts][few[:, alts]] == BOOK.prior_beta_eth)
    assert not b.fallback[:, alts][~few[:, alts]].any()
    # a young basket (min_history_days 10 < beta_min_obs 45) holds names on prior betas
    book = bn.build_book(p, u, b, BOOK)
    np.testing.assert_array_equal(book.n_fallback, (u.basket & b.fallback).sum(axis=1))
    assert book.n_fallback.sum() > 0
    assert np.all(book.n_fallback <= book.n_names)


# ---- properties of the pieces ----------------------------------------------------------------------
@st.composite
def share_rows(draw: st.DrawFn) -> np.ndarray:
    n_rows = draw(st.integers(1, 6))
    n = draw(st.integers(1, 25))
    raw = draw(
        hnp.arrays(np.float64, (n_rows, n), elements=st.floats(0.0, 100.0, allow_subnormal=False))
    )
    raw[raw < 1e-6] = 0.0
    tot = raw.sum(axis=1, keepdims=True)
    return np.where(tot > 0, raw / np.where(tot > 0, tot, 1.0), 0.0)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(s=share_rows(), cap=st.floats(0.01, 1.0))
def test_cap_weights_caps_hold_and_excess_is_redistributed(s: np.ndarray, cap: float) -> None:
    w = bn.cap_weights(s, cap)
    assert np.all(w <= cap + 1e-12) and np.all(w >= 0)
    assert np.all(w[s == 0] == 0)
    n_pos = (s > 0).sum(axis=1)
    want = np.where(n_pos > 0, np.minimum(1.0, n_pos * cap), 0.0)
    np.testing.assert_allclose(w.sum(axis=1), want, atol=1e-9)
    # nothing over the cap: unchanged
    fine = (s <= cap).all(axis=1)
    np.testing.assert_array_equal(w[fine], s[fine])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 20),
    scheme=st.sampled_from(["equal", "cap", "inverse_vol"]),
)
def test_basket_shares_sum_to_one_on_the_basket(seed: int, n: int, scheme: str) -> None:
    rng = np.random.default_rng(seed)
    basket = rng.random((5, n)) < 0.5
    mcap = np.exp(rng.normal(18, 2, (5, n)))
    vol = rng.uniform(0.01, 0.1, (5, n))
    s = bn.basket_shares(basket, scheme, mcap, vol)
    assert np.all(s >= 0) and np.all(s[~basket] == 0)
    has = basket.any(axis=1)
    np.testing.assert_allclose(s.sum(axis=1), has.astype(float), atol=1e-12)
    if scheme == "equal":
        for row, members in zip(s, basket, strict=True):
            np.testing.assert_allclose(row[members], 1.0 / max(1, members.sum()))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    b=hnp.arrays(np.float64, (2, 30), elements=st.floats(-3.0, 3.0, allow_subnormal=False)),
    lo=st.floats(-1.0, 0.0),
    hi=st.floats(0.1, 2.0),
)
def test_neutral_legs_stay_in_bounds_and_are_exact_when_nothing_binds(
    b: np.ndarray, lo: float, hi: float
) -> None:
    bb, be = b
    w1, w2, scale, exact = bn.neutral_legs(bb, be, (lo, hi))
    assert np.all((w1 >= lo) & (w1 <= hi) & (w2 >= lo) & (w2 <= hi))
    assert np.all((scale > 0) & (scale <= 1))
    free = (-bb >= lo) & (-bb <= hi) & (-be >= lo) & (-be <= hi)
    assert np.all(exact[free]) and np.all(scale[free] == 1)
    np.testing.assert_array_equal(w1[free], -bb[free])
    np.testing.assert_array_equal(w2[free], -be[free])
    # exact legs neutralise the (scaled) basket
    np.testing.assert_allclose(w1[exact], -bb[exact] * scale[exact], atol=1e-12)
    np.testing.assert_allclose(w2[exact], -be[exact] * scale[exact], atol=1e-12)


def _random_market(
    rng: np.random.Generator, n_days: int, n: int
) -> tuple[MarketPanel, Universe, bn.Betas]:
    ret = rng.normal(0, 0.03, (n_days, n))
    ones = np.ones((n_days, n))
    p = MarketPanel(
        dates=np.arange(np.datetime64("2023-01-01"), np.datetime64("2023-01-01") + n_days),
        assets=tuple(f"A{i:02d}" for i in range(n)),
        close=np.cumprod(1 + ret, axis=0),
        ret=ret,
        mcap=np.exp(rng.normal(18, 2, (n_days, n))),
        volume=ones * 1e7,
        funding=ones * np.nan,
        oi=ones * np.nan,
        active=np.ones((n_days, n), dtype=bool),
        has_funding=False,
        has_oi=False,
    )
    btc, eth = (int(x) for x in rng.choice(n, 2, replace=False))
    basket = rng.random((n_days, n)) < 0.6
    basket[:, [btc, eth]] = False
    basket[0] = False  # one day without a book
    betas = bn.Betas(
        btc=rng.uniform(-0.5, 2.0, (n_days, n)),
        eth=rng.uniform(-0.8, 1.5, (n_days, n)),
        n_obs=ones * 90,
        fallback=rng.random((n_days, n)) < 0.1,
    )
    betas.btc[:, btc], betas.eth[:, btc] = 1.0, 0.0
    betas.btc[:, eth], betas.eth[:, eth] = 0.0, 1.0
    return p, Universe(basket, basket, ones, ones * 1e7, btc, eth), betas


def _permuted(
    p: MarketPanel, u: Universe, b: bn.Betas, perm: np.ndarray
) -> tuple[MarketPanel, Universe, bn.Betas]:
    inv = np.argsort(perm)
    q = dataclasses.replace(
        p,
        assets=tuple(p.assets[i] for i in perm),
        **{
            f: getattr(p, f)[:, perm]
            for f in ("close", "ret", "mcap", "volume", "funding", "oi", "active")
        },
    )
    v = Universe(
        u.eligible[:, perm],
        u.basket[:, perm],
        u.rank_value[:, perm],
        u.median_volume[:, perm],
        int(inv[u.btc]),
        int(inv[u.eth]),
    )
    c = bn.Betas(b.btc[:, perm], b.eth[:, perm], b.n_obs[:, perm], b.fallback[:, perm])
    return q, v, c


book_configs = st.builds(
    lambda weighting, max_weight, short_gross, lo, hi, gross_cap: BookConfig(
        weighting=weighting,
        max_weight=max_weight,
        short_gross=short_gross,
        major_bounds=(lo, hi),
        gross_cap=gross_cap,
    ),
    weighting=st.sampled_from(["equal", "cap", "inverse_vol"]),
    max_weight=st.floats(0.02, 0.5),
    short_gross=st.floats(0.3, 1.5),
    lo=st.sampled_from([0.0, -0.5]),
    hi=st.floats(0.2, 2.0),
    gross_cap=st.floats(1.0, 4.0),
)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(4, 14),
    cfg=book_configs,
    data=st.data(),
)
def test_build_book_properties(seed: int, n: int, cfg: BookConfig, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    p, u, b = _random_market(rng, 12, n)
    book = bn.build_book(p, u, b, cfg)
    w = book.weights
    alts = np.ones(n, dtype=bool)
    alts[[u.btc, u.eth]] = False
    # shorts only, only in the basket, each within the per-name cap
    assert np.all(w[:, alts] <= 0)
    assert np.all(w[:, alts][~u.basket[:, alts]] == 0)
    assert np.all(-w[:, alts] <= cfg.max_weight + 1e-12)
    lo, hi = cfg.major_bounds
    for m in (u.btc, u.eth):
        assert np.all((w[:, m] >= lo - 1e-12) & (w[:, m] <= hi + 1e-12))
    assert np.all(book.gross <= cfg.gross_cap + 1e-9)
    # no book without a basket
    assert not book.built[0] and np.all(w[0] == 0) and np.isnan(book.beta_btc[0])
    np.testing.assert_array_equal(book.built, u.basket.any(axis=1))
    # ex-ante betas are zero whenever no lower bound binds (upper bounds only scale the book)
    f = book.feasible
    np.testing.assert_allclose(book.beta_btc[f], 0.0, atol=1e-12)
    np.testing.assert_allclose(book.beta_eth[f], 0.0, atol=1e-12)
    ex_btc = (w * b.btc).sum(axis=1)
    np.testing.assert_allclose(book.beta_btc[book.built], ex_btc[book.built], atol=1e-12)
    # permuting asset columns permutes the weights and changes nothing else
    perm = np.array(data.draw(st.permutations(range(n))))
    q, v, c = _permuted(p, u, b, perm)
    other = bn.build_book(q, v, c, cfg)
    np.testing.assert_allclose(other.weights, w[:, perm], rtol=1e-12, atol=1e-15)
    for fld in ("beta_btc", "beta_eth", "scale"):
        np.testing.assert_allclose(getattr(other, fld), getattr(book, fld), rtol=1e-12, atol=1e-14)
    for fld in ("feasible", "n_names", "n_fallback", "built"):
        np.testing.assert_array_equal(getattr(other, fld), getattr(book, fld))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    c=st.floats(0.1, 10.0),
    weighting=st.sampled_from(["equal", "cap", "inverse_vol"]),
)
def test_scaling_all_returns_leaves_betas_and_weights_unchanged(
    small: tuple[MarketPanel, Universe], c: float, weighting: str
) -> None:
    p, u = small
    cfg = BOOK.model_copy(update={"weighting": weighting})
    q = dataclasses.replace(p, ret=p.ret * c)
    b, bq = bn.rolling_betas(p, u, cfg), bn.rolling_betas(q, u, cfg)
    np.testing.assert_array_equal(bq.n_obs, b.n_obs)
    np.testing.assert_array_equal(bq.fallback, b.fallback)
    np.testing.assert_allclose(bq.btc, b.btc, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(bq.eth, b.eth, rtol=1e-7, atol=1e-9)
    w, wq = bn.build_book(p, u, b, cfg).weights, bn.build_book(q, u, bq, cfg).weights
    np.testing.assert_allclose(wq, w, rtol=1e-7, atol=1e-10)


# ---- the always-held book on the planted lake ------------------------------------------------------
def _held_book(p: MarketPanel, u: Universe, cfg: BookConfig) -> tuple[np.ndarray, np.ndarray]:
    b = bn.rolling_betas(p, u, cfg)
    book = bn.build_book(p, u, b, cfg)
    r = bn.book_returns(book.weights, p.ret)
    held = np.zeros(p.n_days, dtype=bool)
    held[1:] = book.built[:-1] & np.isfinite(r[1:])
    return r, held


def _realized(r: np.ndarray, p: MarketPanel, u: Universe, held: np.ndarray) -> np.ndarray:
    x = np.column_stack([np.ones(held.sum()), p.ret[held, u.btc], p.ret[held, u.eth]])
    coef, *_ = np.linalg.lstsq(x, r[held], rcond=None)
    return coef[1:]


def test_always_held_book_is_neutral_and_short_the_spread(
    planted: tuple[MarketPanel, Universe, Path],
) -> None:
    p, u, truth_dir = planted
    r, held = _held_book(p, u, BOOK)
    assert held.sum() > 1500
    beta_btc, beta_eth = _realized(r, p, u, held)
    # measured: +0.038 (BTC), -0.038 (ETH)
    assert abs(beta_btc) < 0.05 and abs(beta_eth) < 0.05, (beta_btc, beta_eth)
    spread = pl.read_parquet(truth_dir / "spread.parquet")
    assert spread["date"].to_list() == [d.item() for d in p.dates]
    s = spread["spread_return"].to_numpy()
    corr = float(np.corrcoef(r[held], -s[held])[0, 1])
    # measured: 0.916
    assert corr > 0.8, corr
    # without the ridge's pull toward the prior (1, 0) the book is neutral to a few thousandths
    r0, held0 = _held_book(p, u, BOOK.model_copy(update={"ridge": 0.0}))
    b0 = _realized(r0, p, u, held0)
    # measured: -0.004 (BTC), +0.001 (ETH)
    assert np.all(np.abs(b0) < 0.02), b0


def test_book_returns_timing() -> None:
    """Weights decided at d earn the returns of d + 1; an undefined return contributes 0."""
    w = np.array([[1.0, -0.5], [0.5, -1.0], [0.0, 0.0]])
    ret = np.array([[0.9, 0.9], [0.1, 0.2], [np.nan, 0.3]])
    r = bn.book_returns(w, ret)
    assert np.isnan(r[0])
    assert r[1] == pytest.approx(1.0 * 0.1 - 0.5 * 0.2)
    assert r[2] == pytest.approx(0.5 * 0.0 - 1.0 * 0.3)


# ---- realised neutrality on the market and spread axes (``neutrality.py``) --------------------
def _factor_sample(seed: int, n: int = 400, b_m: float = 0.3, b_s: float = -0.2):
    """BTC and ETH strongly correlated (as in the data), MA(3) noise so HAC matters."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.03, n)
    btc = common + rng.normal(0, 0.01, n)
    eth = 1.2 * common + rng.normal(0, 0.015, n)
    eps = np.convolve(rng.normal(0, 0.01, n + 3), [1.0, 0.6, 0.4, 0.2], "valid")[:n]
    y = 0.0002 + b_m * (btc + eth) / 2 + b_s * (btc - eth) + eps
    return y, btc, eth


@pytest.mark.parametrize("lags", [0, 1, 4, 9])
def test_hac_standard_errors_equal_statsmodels(lags: int) -> None:
    sm = pytest.importorskip("statsmodels.api")
    from majors_alts_monitor.stats.neutrality import market_spread_betas, ols_hac

    y, btc, eth = _factor_sample(lags)
    x = np.column_stack([np.ones(len(y)), (btc + eth) / 2, btc - eth])
    ref = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    beta, se = ols_hac(y, x, lags)
    np.testing.assert_allclose(beta, ref.params, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(se, ref.bse, rtol=1e-10)
    out = market_spread_betas(y, btc, eth, lags)
    assert out["beta_market"] == pytest.approx(ref.params[1], rel=1e-10)
    assert out["se_spread"] == pytest.approx(ref.bse[2], rel=1e-10)
    assert out["t_spread"] == pytest.approx(ref.tvalues[2], rel=1e-10)
    assert out["n_days"] == len(y)


def test_market_spread_betas_are_the_btc_eth_betas_rotated() -> None:
    """``m`` and ``s`` span the same plane as BTC and ETH, so beta_market = beta_btc + beta_eth
    and beta_spread = (beta_btc - beta_eth) / 2 exactly (stats.realized_betas as reference)."""
    from majors_alts_monitor.stats import realized_betas
    from majors_alts_monitor.stats.neutrality import market_spread_betas

    y, btc, eth = _factor_sample(3)
    y[::17] = np.nan
    bb, be = realized_betas(y, btc, eth)
    out = market_spread_betas(y, btc, eth, 5)
    assert out["beta_market"] == pytest.approx(bb + be, rel=1e-9)
    assert out["beta_spread"] == pytest.approx((bb - be) / 2, rel=1e-9)
    assert out["n_days"] == int(np.isfinite(y).sum())


@pytest.mark.parametrize("seed", range(3))
def test_market_spread_betas_recover_planted_tilts(seed: int) -> None:
    from majors_alts_monitor.stats.neutrality import market_spread_betas

    y, btc, eth = _factor_sample(seed, n=1500, b_m=0.0, b_s=0.25)
    out = market_spread_betas(y, btc, eth, 8)
    assert abs(out["beta_spread"] - 0.25) < 4 * out["se_spread"]
    assert abs(out["beta_market"]) < 4 * out["se_market"]
    assert out["t_spread"] > 3


def test_market_spread_betas_degenerate_inputs() -> None:
    from majors_alts_monitor.stats.neutrality import market_spread_betas, newey_west_lags

    y, btc, eth = _factor_sample(0, n=20)
    short = market_spread_betas(y, btc, eth, 2)  # below min_obs
    assert short["n_days"] == 20 and np.isnan(short["beta_spread"])
    y, btc, _ = _factor_sample(0)
    same = market_spread_betas(y, btc, btc.copy(), 2)  # the spread factor is 0: collinear
    assert np.isnan(same["beta_spread"]) and np.isnan(same["se_market"])
    with pytest.raises(ValueError):
        market_spread_betas(y, btc, btc[:-1], 2)
    # the Newey-West (1994) plug-in: floor(4 (n/100)^(2/9))
    assert [newey_west_lags(n) for n in (1, 100, 523, 1153)] == [1, 4, 5, 6]
