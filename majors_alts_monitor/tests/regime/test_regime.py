"""Tests for the regime package: the hysteresis state machine, the fused grid-search kernel,
the grid builder, the composite model against the backtest engine, and the unsupervised models
(HMM, k-means and the statistical jump model): recovery of planted states and strict filtering
(no look-ahead).

References: a plain Python loop of the state machine and of the kernel's statistics (read from
the module docs); the backtest engine (``backtest.run_backtest``) for the kernel's net returns;
hmmlearn's own forward-backward posterior at the last row (which equals the filtered
probability there) and a hand-written forward recursion for the HMM filter; the jumpmodels
package's own ``predict_online`` for the jump model's online labels. Seeds are fixed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from majors_alts_monitor import pipeline
from majors_alts_monitor.backtest.engine import run_backtest
from majors_alts_monitor.config import REGIMES, Config, GridConfig
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.regime.composite import CompositeRegime, composite_score
from majors_alts_monitor.regime.hysteresis import (
    ALTS,
    BALANCED,
    MAJORS,
    apply_hysteresis,
    dwell_filter,
)
from majors_alts_monitor.regime.jump import JumpRegime, online_values
from majors_alts_monitor.regime.search import (
    STAT_DOWNSQ,
    STAT_LOGEQ,
    STAT_MDD,
    STAT_N,
    STAT_SUM,
    STAT_SUMSQ,
    ParamGrid,
    SearchInputs,
    build_grid,
    evaluate_grid,
    evaluate_grid_costs,
)
from majors_alts_monitor.regime.unsupervised import HMMRegime, KMeansRegime

M, B, A = MAJORS, BALANCED, ALTS
NAN = float("nan")


# ---- hysteresis: hand cases ----------------------------------------------------------------
def _h(scores, lower=-0.5, upper=0.5, band=0.1, dwell=1) -> list[int]:
    return apply_hysteresis(np.array(scores, dtype=float), lower, upper, band, dwell).tolist()


def test_hysteresis_starts_balanced_and_nan_keeps_state() -> None:
    assert _h([0.0]) == [B]
    assert _h([NAN, NAN, 0.0]) == [B, B, B]
    assert _h([0.7, NAN, NAN, 0.45]) == [M, M, M, M]
    assert _h([-0.7, NAN, -0.45]) == [A, A, A]
    assert _h([]) == []


def test_hysteresis_enter_and_exit_with_band() -> None:
    # BALANCED -> MAJORS needs s > upper + band = 0.6
    assert _h([0.55, 0.6, 0.61]) == [B, B, M]
    # MAJORS stays while s >= upper - band = 0.4
    assert _h([0.61, 0.45, 0.4, 0.39]) == [M, M, M, B]
    # BALANCED -> ALTS needs s < lower - band = -0.6; ALTS stays while s <= -0.4
    assert _h([-0.55, -0.6, -0.61, -0.45, -0.4, -0.39]) == [B, B, A, A, A, B]
    # straight across when the other side's entry is met
    assert _h([0.7, -0.7, 0.7]) == [M, A, M]
    assert _h([0.7, -0.55]) == [M, B]  # below 0.4 but not below -0.6: back to BALANCED
    # band 0: the thresholds themselves are strict for entry, inclusive for staying
    assert _h([0.5, 0.51, 0.5, 0.49], band=0.0) == [B, M, M, B]
    assert _h([-0.5, -0.51, -0.5, -0.49], band=0.0) == [B, A, A, B]


def test_hysteresis_min_dwell_blocks_early_switch() -> None:
    # entered on day 0 (counts as one): a switch is possible from day 3 on with dwell 3
    assert _h([0.7, -0.7, -0.7, -0.7], dwell=3) == [M, M, M, A]
    assert _h([0.7, 0.0, 0.0, 0.0, 0.0], dwell=3) == [M, M, M, B, B]
    # the leaving signal must still be there when the dwell is over
    assert _h([0.7, 0.0, 0.0, 0.7, 0.0], dwell=3) == [M, M, M, M, B]
    # the first switch out of the initial BALANCED is never blocked
    assert _h([-0.7], dwell=7) == [A]
    with pytest.raises(ValueError):
        apply_hysteresis(np.zeros(3), 0.5, -0.5)


def test_dwell_filter() -> None:
    codes = np.array([-1, 0, 2, 2, -1, 1, 1, 1], dtype=np.int8)
    assert dwell_filter(codes, 1).tolist() == [B, M, A, A, A, B, B, B]
    # day 4 has no signal (keeps MAJORS); day 5's BALANCED comes after the dwell
    assert dwell_filter(codes, 3).tolist() == [B, M, M, M, M, B, B, B]
    assert dwell_filter(np.array([0, 2, 2, 2], dtype=np.int8), 3).tolist() == [M, M, M, A]


# ---- kernel vs a slow Python reference -----------------------------------------------------
def _ref_transition(state: int, s: float, lo: float, hi: float, h: float) -> int:
    if not math.isfinite(s):
        return state
    if state == B:
        return M if s > hi + h else (A if s < lo - h else B)
    if state == M:
        return M if s >= hi - h else (A if s < lo - h else B)
    return A if s <= lo + h else (M if s > hi + h else B)


def _ref_kernel(z, grid: ParamGrid, inputs: SearchInputs, d0: int, d1: int, n_blocks: int):
    n = d1 - d0 + 1
    n_blocks = max(1, min(n_blocks, n))
    bp = np.nan_to_num(inputs.book_pnl)
    stats = np.zeros((grid.size, 6))
    blocks = np.zeros((grid.size, n_blocks, 2))
    daily = np.zeros((grid.size, n))
    for s in range(grid.size):
        state, prev, dwell = B, B, 10**9
        eq = peak = 1.0
        mdd = 0.0
        for d in range(d0, d1 + 1):
            terms = [
                grid.weights[s, f] * z[d, f]
                for f in range(z.shape[1])
                if grid.weights[s, f] != 0 and math.isfinite(z[d, f])
            ]
            score = sum(terms) if terms else NAN
            new = state
            if dwell >= grid.dwell[s]:
                new = _ref_transition(state, score, grid.lower[s], grid.upper[s], grid.band[s])
            if new != state:
                state, dwell = new, 1
            else:
                dwell += 1
            p = (
                inputs.levels[state] * inputs.vscale[d] * bp[d + 1]
                - inputs.cost[d + 1, prev, state]
            )
            prev = state
            daily[s, d - d0] = p
            eq *= 1 + p
            peak = max(peak, eq)
            mdd = min(mdd, eq / peak - 1)
            b = (d - d0) * n_blocks // n
            blocks[s, b, 0] += p
            blocks[s, b, 1] += p * p
        x = daily[s]
        stats[s, STAT_SUM] = x.sum()
        stats[s, STAT_SUMSQ] = (x * x).sum()
        stats[s, STAT_N] = n
        stats[s, STAT_DOWNSQ] = (np.minimum(x, 0) ** 2).sum()
        stats[s, STAT_LOGEQ] = np.log1p(x).sum()
        stats[s, STAT_MDD] = mdd
    return stats, blocks


def _random_problem(seed: int, n_days: int = 120, n_feat: int = 4, n_sets: int = 25):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1, (n_days, n_feat))
    z[rng.random((n_days, n_feat)) < 0.1] = np.nan
    z[:8] = np.nan  # burn-in
    w = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(n_sets, n_feat))
    w[np.abs(w).sum(axis=1) == 0, 0] = 1.0
    w /= np.sqrt((w * w).sum(axis=1, keepdims=True))
    lo = rng.choice([-1.0, -0.5, 0.0], n_sets)
    hi = lo + rng.choice([0.0, 0.25, 1.0], n_sets)
    grid = ParamGrid(
        features=tuple(f"f{i}" for i in range(n_feat)),
        weights=np.ascontiguousarray(w),
        lower=lo,
        upper=hi,
        band=rng.choice([0.0, 0.1, 0.25], n_sets),
        dwell=rng.choice([1, 2, 5], n_sets).astype(np.int64),
        total_combinations=n_sets,
    )
    book_pnl = rng.normal(0.0005, 0.02, n_days)
    book_pnl[rng.random(n_days) < 0.05] = np.nan
    inputs = SearchInputs(
        levels=np.array([1.0, rng.uniform(-0.5, 0.5), rng.uniform(-1, 0.2)]),
        vscale=rng.uniform(0.5, 2.0, n_days),
        book_pnl=book_pnl,
        cost=rng.uniform(0, 1e-3, (n_days, 3, 3)),
    )
    return z, grid, inputs


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_blocks", [1, 7, 16])
def test_kernel_equals_slow_reference(seed: int, n_blocks: int) -> None:
    z, grid, inputs = _random_problem(seed)
    d0, d1 = 3 + seed, 110 - seed
    stats, blocks = evaluate_grid(z, grid, inputs, d0, d1, n_blocks)
    ref_stats, ref_blocks = _ref_kernel(z, grid, inputs, d0, d1, n_blocks)
    np.testing.assert_allclose(stats, ref_stats, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(blocks, ref_blocks, rtol=1e-10, atol=1e-10)
    # the block sums add up to the totals
    np.testing.assert_allclose(blocks[:, :, 0].sum(axis=1), stats[:, STAT_SUM], atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_kernel_with_several_cost_tables_equals_one_call_per_table(seed: int) -> None:
    """The regime paths are shared across cost tables: each table's results are the same bits
    as a call with that table alone (the robustness cost multipliers rely on it)."""
    z, grid, inputs = _random_problem(seed)
    d0, d1 = 5, 100 - seed
    costs = (inputs.cost * 0.5, inputs.cost, inputs.cost * 2.0, np.zeros_like(inputs.cost))
    stats, blocks = evaluate_grid_costs(z, grid, inputs, d0, d1, 7, costs)
    assert stats.shape == (4, grid.size, 6) and blocks.shape == (4, grid.size, 7, 2)
    for k, c in enumerate(costs):
        one_s, one_b = evaluate_grid(z, grid, dataclasses.replace(inputs, cost=c), d0, d1, 7)
        np.testing.assert_array_equal(stats[k], one_s)
        np.testing.assert_array_equal(blocks[k], one_b)
    fits = CompositeRegime(grid.features, GridConfig(max_sets=50)).fit_costs(
        z, inputs, d0, d1, costs
    )
    alone = CompositeRegime(grid.features, GridConfig(max_sets=50)).fit(
        z, dataclasses.replace(inputs, cost=costs[2]), d0, d1
    )
    assert fits[2].params_ == alone.params_ and fits[2].best_ == alone.best_
    np.testing.assert_array_equal(fits[2].stats_, alone.stats_)


def test_kernel_refuses_a_window_past_the_data() -> None:
    z, grid, inputs = _random_problem(0)
    with pytest.raises(ValueError):
        evaluate_grid(z, grid, inputs, 10, len(inputs.book_pnl) - 1)


# ---- kernel vs engine on a synthetic lake --------------------------------------------------
@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec(n_assets=30, start=date(2019, 1, 1), end=date(2021, 6, 30), seed=3)
    lake, _ = write_lake(generate(spec), tmp_path_factory.mktemp("regime_lake"))
    return lake


def _config(lake: Path, out: Path, variant: str) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    if variant == "default":
        return cfg
    return cfg.model_copy(
        update={
            "vol_target": cfg.vol_target.model_copy(update={"enabled": True}),
            "regime": cfg.regime.model_copy(
                update={"exposure": {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.4, "RISK_ON_ALTS": -0.3}}
            ),
            "costs": cfg.costs.model_copy(update={"missing_funding": "basket_median"}),
        }
    )


def _one_set(grid: ParamGrid, i: int) -> ParamGrid:
    sl = slice(i, i + 1)
    return dataclasses.replace(
        grid,
        weights=np.ascontiguousarray(grid.weights[sl]),
        lower=grid.lower[sl].copy(),
        upper=grid.upper[sl].copy(),
        band=grid.band[sl].copy(),
        dwell=grid.dwell[sl].copy(),
    )


@pytest.mark.parametrize("variant", ["default", "voltarget_levels_basket_median"])
def test_kernel_net_returns_equal_engine(lake_dir: Path, tmp_path: Path, variant: str) -> None:
    cfg = _config(lake_dir, tmp_path, variant)
    start, end = date(2019, 1, 1), date(2021, 6, 30)
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(start, end), start, end)
    z = p.features.z[:, [p.features.column(f) for f in p.score_features]]
    d0, d1 = p.first_day + 5, p.first_day + 400
    small = cfg.regime.grid.model_copy(update={"max_sets": 150})
    model = CompositeRegime(p.score_features, small, "sharpe").fit(z, p.inputs, d0, d1)
    assert model.grid_ is not None
    rng = np.random.default_rng(0)
    chosen = [model.best_, *rng.choice(model.grid_.size, 3, replace=False).tolist()]
    n = d1 - d0 + 1
    levels, v = p.inputs.levels, p.inputs.vscale
    assert np.allclose(levels, [cfg.regime.exposure[r] for r in REGIMES])
    for i in chosen:
        g1 = _one_set(model.grid_, int(i))
        stats, blocks = evaluate_grid(z, g1, p.inputs, d0, d1, n_blocks=n)
        kernel_daily = blocks[0, :, 0]  # one block per day: the daily net returns
        m1 = CompositeRegime(p.score_features, small)
        m1.grid_, m1.best_ = g1, 0
        score, codes = m1.predict(z, d0, d1)
        np.testing.assert_allclose(
            score, composite_score(z[d0 : d1 + 1], g1.weights[0]), equal_nan=True
        )
        exposure = np.zeros(p.panel.n_days)
        exposure[d0 - 1] = levels[BALANCED] * v[d0 - 1]  # the kernel starts from BALANCED
        exposure[d0 : d1 + 1] = levels[codes] * v[d0 : d1 + 1]
        res = run_backtest(
            p.book.weights * exposure[:, None],
            p.panel.ret,
            p.panel.funding if p.panel.has_funding else None,
            p.universe.median_volume,
            cfg.costs,
            basket=p.universe.basket,
        )
        engine = res.net[d0 + 1 : d1 + 2]
        np.testing.assert_allclose(kernel_daily, engine, rtol=1e-10, atol=1e-12)
        assert stats[0, STAT_SUM] == pytest.approx(engine.sum(), abs=1e-10)
        if len(np.unique(codes)) > 1:  # transitions happened: costs were part of it
            assert (res.fee[d0 + 1 : d1 + 2] > 0).any()


# ---- build_grid ----------------------------------------------------------------------------
FEATURES = GridConfig().score_features
DEFAULT = {
    "weights": {"alt_mom_7d": -1.0, "alt_mom_20d": -1.0, "btc_dom_chg_20d": 1.0},
    "lower": -0.5,
    "upper": 0.5,
    "band": 0.1,
    "min_dwell": 3,
}


@pytest.mark.parametrize("max_sets", [1, 7, 500, 2000, 100_000])
def test_build_grid_shape_default_norm_signs(max_sets: int) -> None:
    gc = GridConfig(max_sets=max_sets)
    g = build_grid(FEATURES, gc, DEFAULT)
    assert 1 <= g.size <= max_sets
    assert g.size == min(max_sets, g.size)
    # the default is set 0 (normalised)
    dw = np.array([DEFAULT["weights"].get(f, 0.0) for f in FEATURES])  # type: ignore[union-attr]
    np.testing.assert_allclose(g.weights[0], dw / np.linalg.norm(dw), atol=1e-15)
    assert (g.lower[0], g.upper[0], g.band[0], g.dwell[0]) == (-0.5, 0.5, 0.1, 3)
    np.testing.assert_allclose(np.linalg.norm(g.weights, axis=1), 1.0, atol=1e-12)
    for j, f in enumerate(FEATURES):
        col = g.weights[:, j]
        assert np.all((col == 0) | (np.sign(col) == gc.signs[f])), f
    assert np.all(g.lower <= g.upper)
    assert set(g.band) <= set(gc.bands) and set(g.dwell) <= set(gc.min_dwells)
    assert g.total_combinations == 3**7 * 12 * 3 * 3


def test_build_grid_small_grid_is_exhaustive_and_unsigned_features_take_both_signs() -> None:
    gc = GridConfig(
        weight_values=(0.0, 1.0),
        signs={"a": 1.0},
        lower_thresholds=(-0.5, 0.5),
        upper_thresholds=(0.0,),
        bands=(0.1,),
        min_dwells=(2,),
        max_sets=1000,
    )
    g = build_grid(("a", "b"), gc)
    # a in {0, 1}, b in {-1, 0, 1}; one (lower, upper) pair has lower <= upper; no all-zero
    assert g.total_combinations == 2 * 3 * 1
    assert g.size == 5
    rows = {tuple(np.sign(r)) for r in g.weights}
    assert rows == {(0.0, -1.0), (0.0, 1.0), (1.0, -1.0), (1.0, 0.0), (1.0, 1.0)}
    assert np.all(g.lower == -0.5) and np.all(g.upper == 0.0)


def test_build_grid_is_deterministic_for_a_seed() -> None:
    a = build_grid(FEATURES, GridConfig(max_sets=300, seed=5), DEFAULT)
    b = build_grid(FEATURES, GridConfig(max_sets=300, seed=5), DEFAULT)
    c = build_grid(FEATURES, GridConfig(max_sets=300, seed=6), DEFAULT)
    for name in ("weights", "lower", "upper", "band", "dwell"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.weights, c.weights)
    np.testing.assert_array_equal(a.weights[0], c.weights[0])  # the default stays first


# ---- unsupervised models -------------------------------------------------------------------
MEANS = np.array([[1.5, -1.0, 0.5], [0.0, 1.2, -1.0], [-1.5, -0.5, 1.0]])
RET_BY_STATE = np.array([0.01, 0.0, -0.01])  # state 0 pays: MAJORS; 2: ALTS


def _planted(seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    states = np.empty(n, dtype=int)
    states[0] = 0
    for t in range(1, n):
        stay = rng.random() < 0.97
        states[t] = (
            states[t - 1] if stay else rng.choice([k for k in range(3) if k != states[t - 1]])
        )
    z = MEANS[states] + rng.normal(0, 0.5, (n, 3))
    next_ret = RET_BY_STATE[states] + rng.normal(0, 0.004, n)
    return z, states, next_ret


def _agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    best = 0.0
    for perm in itertools.permutations(range(3)):
        mapped = np.array(perm)[truth]
        best = max(best, float((labels == mapped).mean()))
    return best


@pytest.mark.parametrize("cls", [HMMRegime, KMeansRegime, JumpRegime])
@pytest.mark.parametrize("seed", [0, 1])
def test_unsupervised_recovers_planted_states(cls, seed: int) -> None:
    z, states, next_ret = _planted(seed)
    model = cls(n_states=3, seed=seed).fit(z[:1000], next_ret[:1000])
    _, codes = model.predict(z)
    acc_train = _agreement(codes[:1000], states[:1000])
    acc_test = _agreement(codes[1000:], states[1000:])
    print(f"{cls.__name__} seed {seed}: agreement train {acc_train:.3f} test {acc_test:.3f}")
    assert acc_train > 0.8 and acc_test > 0.8
    # the state that pays is mapped to MAJORS, the one that loses to ALTS
    assert (codes[states == 0] == MAJORS).mean() > 0.8
    assert (codes[states == 2] == ALTS).mean() > 0.8


@pytest.mark.parametrize("cls", [HMMRegime, KMeansRegime, JumpRegime])
def test_unsupervised_predict_is_filtered_not_smoothed(cls) -> None:
    z, _, next_ret = _planted(5, n=600)
    z[[50, 51, 300]] = np.nan  # missing rows take the no-update path
    z[200, 1] = np.nan
    model = cls(n_states=3, min_dwell=3, seed=0).fit(z[:400], next_ret[:400])
    full_score, full_codes = model.predict(z)
    rng = np.random.default_rng(9)
    for k in (1, 2, 30, 52, 199, 201, 399, 450, 599):
        head_score, head_codes = model.predict(z[:k])
        np.testing.assert_allclose(head_score, full_score[:k], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(head_codes, full_codes[:k])
        other = z.copy()
        other[k:] = rng.normal(0, 3, (len(z) - k, 3))[:, ::-1]  # a different future
        other[k::7] = np.nan
        o_score, o_codes = model.predict(other)
        np.testing.assert_allclose(o_score[:k], full_score[:k], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(o_codes[:k], full_codes[:k])


def _hand_forward(model: HMMRegime, z: np.ndarray) -> np.ndarray:
    """alpha_t ~ b_t * (A' alpha_{t-1}); b_t = product of 1-d normal densities, 1 on a row with
    a missing feature; alpha_0 ~ pi * b_0. Plain loops in probability space."""
    m = model.model_
    means, covars = m.means_, m.covars_  # type: ignore[attr-defined]
    A, pi = m.transmat_, m.startprob_  # type: ignore[attr-defined]
    k = len(pi)
    out = np.zeros((len(z), k))
    alpha = None
    for t in range(len(z)):
        b = np.ones(k)
        if np.isfinite(z[t]).all():
            for j in range(k):
                for f in range(z.shape[1]):
                    b[j] *= norm.pdf(z[t, f], means[j, f], math.sqrt(covars[j][f, f]))
        if alpha is None:
            new = pi * b
        else:
            new = np.array([b[j] * sum(alpha[i] * A[i, j] for i in range(k)) for j in range(k)])
        alpha = new / new.sum()
        out[t] = alpha
    return out


def test_hmm_filtered_probabilities_equal_forward_recursion() -> None:
    z, _, next_ret = _planted(2, n=500)
    z[[10, 11, 250]] = np.nan
    model = HMMRegime(n_states=3, seed=0).fit(z[:400], next_ret[:400])
    filt = model.filtered_proba(z)
    np.testing.assert_allclose(filt, _hand_forward(model, z), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(filt.sum(axis=1), 1.0, atol=1e-12)
    # hmmlearn's forward-backward posterior of the LAST row is the filtered probability there
    clean = np.isfinite(z).all(axis=1)
    zc = z[clean]
    filt_c = model.filtered_proba(zc)
    for k in (1, 5, 60, 200, len(zc)):
        post = model.model_.predict_proba(zc[:k])  # type: ignore[attr-defined]
        np.testing.assert_allclose(filt_c[k - 1], post[-1], atol=1e-8)


# ---- statistical jump model (regime.mode: jump) --------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("penalty", [0.5, 10.0, 80.0])
def test_jump_online_labels_equal_the_package_predict_online(seed: int, penalty: float) -> None:
    from jumpmodels.jump import JumpModel

    z, _, _ = _planted(seed, n=700)
    jm = JumpModel(n_components=3, jump_penalty=penalty, random_state=seed).fit(
        z[:500], sort_by=None
    )
    ours = online_values(z, np.asarray(jm.centers_), penalty).argmin(axis=1)
    np.testing.assert_array_equal(ours, np.asarray(jm.predict_online(z)))


def test_jump_penalty_is_chosen_by_train_sharpe_net_of_costs() -> None:
    z, _, next_ret = _planted(4, n=600)
    rng = np.random.default_rng(1)
    vscale = rng.uniform(0.5, 1.5, 600)
    levels = np.array([1.0, 0.25, 0.0])
    cost = rng.uniform(0.0, 0.004, (600, 3, 3))
    for k in range(3):
        cost[:, k, k] = 0.0  # staying costs nothing
    pens = (0.2, 5.0, 40.0)
    m = JumpRegime(n_states=3, penalties=pens, min_dwell=2, seed=0)
    m.fit(z, next_ret, vscale, levels, cost)
    assert m.trial_sharpe_ is not None and len(m.trial_sharpe_) == len(pens)
    for i in range(len(pens)):
        _, codes = m.predict_trial(z, i)
        prev = np.r_[BALANCED, codes[:-1]]
        pnl = levels[codes] * vscale * next_ret - cost[np.arange(600), prev, codes]
        assert m.trial_sharpe_[i] == pytest.approx(pnl.mean() / pnl.std(ddof=1), rel=1e-10)
    assert m.best_ == int(np.argmax(m.trial_sharpe_))
    assert m.params_ is not None and m.params_["jump_penalty"] == pens[m.best_]
    # a larger penalty switches less often (the penalty does what it says)
    switches = [int(np.sum(np.diff(m.predict_trial(z, i)[1]) != 0)) for i in range(len(pens))]
    assert switches[0] >= switches[1] >= switches[2]
    all_codes = m.predict_all(z)
    np.testing.assert_array_equal(all_codes[m.best_], m.predict(z)[1])


def _jump_config(lake: Path, out: Path) -> Config:
    cfg = Config().with_overrides(lake=lake, output_root=out)
    return cfg.model_copy(
        update={
            "stats": cfg.stats.model_copy(update={"n_boot": 100}),
            "regime": cfg.regime.model_copy(
                update={
                    "mode": "jump",
                    "jump": cfg.regime.jump.model_copy(update={"n_init": 3}),
                }
            ),
        }
    )


def test_jump_mode_pipeline_counts_penalties_and_ignores_the_future(tmp_path: Path) -> None:
    """The HMM's future-rewrite test (test_walkforward) for the jump model: changing every table
    after a fold's last training label leaves that fold's and earlier folds' fits unchanged."""
    from datetime import timedelta

    from majors_alts_monitor.tests.backtest.test_walkforward import _rewrite_after

    start, end = date(2020, 1, 1), date(2023, 6, 30)
    lake, _ = write_lake(
        generate(SyntheticSpec(n_assets=25, start=start, end=end, seed=11)), tmp_path / "s"
    )
    base = pipeline.run(_jump_config(lake, tmp_path / "a"), start, end)
    wf = base.kpis["walk_forward"]
    n_pen = len(Config().regime.jump.penalties)
    assert wf["mode"] == "jump" and wf["n_trials"] == n_pen
    assert all(f["n_trials"] == n_pen for f in wf["folds"])
    assert {f["params"]["jump_penalty"] for f in wf["folds"]} <= set(Config().regime.jump.penalties)
    assert 1.0 <= wf["effective_n_trials"] <= n_pen
    assert wf["trial_sharpe_variance_per_period"] > 0.0
    assert 0.0 <= wf["deflated_sharpe"] <= wf["deflated_sharpe_effective"] <= 1.0
    folds = wf["folds"]
    assert len(folds) >= 4
    k = 1
    cutoff = date.fromisoformat(folds[k]["train_end"])
    _rewrite_after(lake, tmp_path / "changed", cutoff)
    changed = pipeline.run(_jump_config(tmp_path / "changed", tmp_path / "b"), start, end)
    cfolds = changed.kpis["walk_forward"]["folds"]
    for j in range(k + 1):
        assert cfolds[j]["params"] == folds[j]["params"], f"fold {j} saw the future"
        assert cfolds[j]["train_sharpe"] == folds[j]["train_sharpe"]
    # labels of fold k's test days up to the cutoff's pnl day are online: unchanged
    t_a = base.timeline.filter(base.timeline["date"] <= cutoff + timedelta(days=1))
    t_b = changed.timeline.filter(changed.timeline["date"] <= cutoff + timedelta(days=1))
    assert t_a["regime"].to_list() == t_b["regime"].to_list()


def _jump_yaml(tmp_path: Path) -> Path:
    p = tmp_path / "jump.yaml"
    p.write_text("regime:\n  mode: jump\n  jump:\n    n_init: 3\nstats:\n  n_boot: 200\n")
    return p


def test_jump_signal_on_a_cut_lake_equals_the_full_lake(tmp_path: Path) -> None:
    """The cut-lake test of test_cli_e2e for mode jump: tomorrow's signal from a lake cut at
    ``asof`` equals the signal from the full lake (labels are online, fits end before asof)."""
    import json

    from majors_alts_monitor import cli
    from majors_alts_monitor.tests.test_cli_e2e import _cut_lake

    start, end = date(2020, 1, 1), date(2023, 3, 31)
    spec = SyntheticSpec(n_assets=20, start=start, end=end, world="planted", seed=5)
    lake, _ = write_lake(generate(spec), tmp_path / "full")
    asof = date(2022, 11, 20)
    _cut_lake(lake, tmp_path / "cut", asof)
    cfg = _jump_yaml(tmp_path)
    outs = []
    for lk in (lake, tmp_path / "cut"):
        root = tmp_path / f"o_{lk.name}"
        args = ["signals", "--config", str(cfg), "--lake", str(lk), "--output-root", str(root)]
        assert cli.main([*args, "--quiet", "--asof", asof.isoformat()]) == 0
        s = json.loads((root / "reports/majors_alts/signals_today.json").read_text())
        s.pop("generated_at")
        outs.append(s)
    assert outs[0]["model"]["mode"] == "jump"
    assert outs[0] == outs[1]


@pytest.mark.slow
def test_jump_mode_runs_end_to_end_on_the_demo(tmp_path: Path) -> None:
    """``python -m majors_alts_monitor.run --demo --config <mode: jump>`` as a user types it."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "majors_alts_monitor.run", "--demo", "--quiet"]
    cmd += ["--config", str(_jump_yaml(tmp_path)), "--output-root", str(tmp_path / "o")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    rep = tmp_path / "o" / "reports" / "majors_alts"
    k = json.loads((rep / "kpis.json").read_text())
    wf = k["walk_forward"]
    assert wf["mode"] == "jump" and wf["n_trials"] == len(Config().regime.jump.penalties)
    assert wf["effective_n_method"] == "participation_ratio"
    for key in (
        "effective_n_trials",
        "deflated_sharpe_effective",
        "deflated_sharpe_hurdle_effective",
        "min_track_record_days",
    ):
        assert key in wf
    assert all("jump_penalty" in f["params"] for f in wf["folds"])
    assert (rep / "dashboard.html").is_file()
    # the selection test's family: the walk-forward book and every penalty, stitched
    assert wf["spa"]["family_size"] == wf["n_trials"] + 1 == wf["spa"]["family_evaluated"]
    assert k["headline"]["spa_p_value"] == wf["spa"]["p_value"]


def test_trial_daily_returns_are_the_kernel_returns_of_the_sampled_sets(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-day series behind the effective number of trials: one kernel block per day, in
    chunks of sets, for a seeded sample of the grid; their sums are the kernel's statistics."""
    from majors_alts_monitor.backtest import trials
    from majors_alts_monitor.stats import multiple_testing as mt

    cfg = Config().with_overrides(lake=lake_dir)
    cfg = cfg.model_copy(
        update={"stats": cfg.stats.model_copy(update={"effective_n_max_trials": 40, "seed": 3})}
    )
    start, end = date(2019, 1, 1), date(2021, 6, 30)
    p = pipeline.prepare(cfg, pipeline.make_reader(cfg).read(start, end), start, end)
    grid = build_grid(p.score_features, cfg.regime.grid.model_copy(update={"max_sets": 150}), None)
    d0, d1 = p.first_day + 5, p.first_day + 300
    monkeypatch.setattr(trials, "_DAILY_CHUNK_ELEMENTS", 2 * (d1 - d0 + 1) * 7)  # 6 chunks
    got = trials.trial_daily_returns(cfg, p, grid, [], d0, d1)
    assert got is not None
    x, n = got
    take = mt.sample_trials(grid.size, 40, 3)
    assert n == grid.size and x.shape == (d1 - d0 + 1, 40)
    stats, _ = evaluate_grid(
        p.features.z[:, [p.features.column(f) for f in p.score_features]], grid, p.inputs, d0, d1
    )
    np.testing.assert_allclose(x.sum(axis=0), stats[take, STAT_SUM], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose((x * x).sum(axis=0), stats[take, STAT_SUMSQ], rtol=1e-10)
    eff = trials.effective_trial_statistics(cfg, p, grid, [], d0, d1)
    assert eff is not None and eff.n_trials == grid.size and eff.n_sampled == 40
    assert 1.0 <= eff.n_effective <= grid.size
