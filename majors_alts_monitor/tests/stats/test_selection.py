"""Hansen's SPA and Romano-Wolf StepM (``stats.selection``): pinned to ``arch.bootstrap`` (the
field's reference implementation) on arch's own resample indices, to a slow per-resample
reference on the project's draws, metamorphic properties, and a reduced null calibration that
can fail (the headline test's false-positive rate over 300 replications is bounded)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from arch.bootstrap import SPA, StationaryBootstrap, StepM

from majors_alts_monitor import stats as st
from majors_alts_monitor.stats import multiple_testing as mt
from majors_alts_monitor.stats import selection as sel
from majors_alts_monitor.stats.resample import _bootstrap_draws


def _family(seed: int, t: int = 400, k: int = 12, drift: float = 0.0004) -> tuple:
    """Trials sharing a factor, of mixed volatility, some with a drift; and a benchmark."""
    rng = np.random.default_rng(seed)
    f = rng.normal(0.0, 0.01, (t, 1))
    vol = rng.uniform(0.5, 2.0, k)
    x = 0.6 * f + rng.normal(0.0, 0.01, (t, k)) * vol + drift * rng.uniform(-1.0, 1.5, k)
    bench = 0.3 * f[:, 0] + rng.normal(0.0, 0.008, t)
    return x, bench


def _arch_indices(t: int, reps: int, block: int, seed: int) -> np.ndarray:
    """The resample indices ``arch``'s SPA draws for ``seed`` (its stationary bootstrap calls
    ``update_indices`` once per replication)."""
    bs = StationaryBootstrap(block, np.zeros(t), seed=seed)
    return np.array([bs.update_indices() for _ in range(reps)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("with_benchmark", [False, True])
def test_unscaled_spa_is_archs_spa_on_archs_indices(seed: int, with_benchmark: bool) -> None:
    """``scale="none"`` is arch's SPA (arch 8 does not studentise its statistic): the same
    resamples give the same lower, consistent and upper p-values and critical values."""
    x, bench = _family(seed)
    t, block, reps = x.shape[0], 10, 400
    b = bench if with_benchmark else None
    loss_b = -bench if with_benchmark else np.zeros(t)
    ref = SPA(loss_b, -x, block_size=block, reps=reps, seed=100 + seed)
    ref.compute()
    idx = _arch_indices(t, reps, block, 100 + seed)
    ours = sel.spa_test(x, b, indices=idx, mean_block=block, scale="none")
    got = [ours.p_value_lower, ours.p_value, ours.p_value_upper]
    np.testing.assert_allclose(got, ref.pvalues.to_numpy(), rtol=0, atol=1e-12)
    assert 0.0 < ref.pvalues["consistent"] < 1.0 or seed  # a non-degenerate case is covered
    crit = ref.critical_values(0.05)["consistent"]
    assert ours.critical_value == pytest.approx(crit, rel=1e-12)
    assert ours.statistic == pytest.approx(
        float((x - (bench[:, None] if b is not None else 0)).mean(0).max()), rel=1e-12
    )


@pytest.mark.parametrize("seed", [4, 5, 6])
@pytest.mark.parametrize("scale", ["sd", "long_run"])
def test_scaled_spa_is_archs_spa_on_scaled_columns(seed: int, scale: str) -> None:
    """The standardised statistic equals arch's on ``d_k / s_k`` (``scale="sd"``, the default)
    and Hansen's studentised one on ``d_k / omega_k`` (``"long_run"``, omega from arch's own
    kernel variance): the same p-values on the same resamples, the statistic times
    ``sqrt(T)``."""
    x, bench = _family(seed, drift=0.0002)
    t, block, reps = x.shape[0], 8, 300
    d = x - bench[:, None]
    ref0 = SPA(-bench, -x, block_size=block, reps=reps, seed=seed)
    ref0.compute()
    by = d.std(axis=0, ddof=1) if scale == "sd" else np.sqrt(ref0._loss_diff_var)
    ref = SPA(np.zeros(t), -(d / by), block_size=block, reps=reps, seed=seed)
    ref.compute()
    idx = _arch_indices(t, reps, block, seed)
    ours = sel.spa_test(x, bench, indices=idx, mean_block=block, scale=scale)
    got = [ours.p_value_lower, ours.p_value, ours.p_value_upper]
    np.testing.assert_allclose(got, ref.pvalues.to_numpy(), rtol=0, atol=1e-12)
    assert ours.statistic == pytest.approx(math.sqrt(t) * float((d / by).mean(0).max()), rel=1e-9)
    if scale == "sd":  # the default statistic is sqrt(T) times the best per-period Sharpe
        sharpe = d.mean(axis=0) / d.std(axis=0, ddof=1)
        assert ours.statistic == pytest.approx(math.sqrt(t) * sharpe.max(), rel=1e-12)
        assert sel.spa_test(x, bench, indices=idx, mean_block=block).p_value == ours.p_value


def test_long_run_variance_is_archs_kernel() -> None:
    x, bench = _family(7, t=733, k=9)
    for block in (1, 5, 10, 37):
        ref = SPA(-bench, -x, block_size=block, reps=10, seed=0)
        ref._compute_variance()
        got = sel.bootstrap_variance(x - bench[:, None], block)
        np.testing.assert_allclose(got, ref._loss_diff_var, rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_stepm_names_archs_superior_models(seed: int) -> None:
    """Romano-Wolf StepM: the same superior models as ``arch.bootstrap.StepM`` (consistent
    recentring, unstudentised there) on its resamples; several steps are exercised."""
    rng = np.random.default_rng(seed)
    t, k, block, reps = 500, 15, 10, 500
    x = rng.normal(0.0, 0.01, (t, k)) + np.linspace(-0.0005, 0.0025, k)
    ref = StepM(np.zeros(t), -x, size=0.1, block_size=block, reps=reps, seed=seed)
    ref.compute()
    idx = _arch_indices(t, reps, block, seed)
    ours = sel.stepm(x, size=0.1, indices=idx, mean_block=block, scale="none")
    assert ours.superior.tolist() == sorted(int(i) for i in ref.superior_models)
    assert 0 < ours.n_superior < k
    assert len(ours.critical_values) >= 2  # rejected, then re-tested the rest


def test_resample_means_are_the_gathered_means_of_the_projects_draws() -> None:
    """One matrix product per batch: ``counts @ x / n`` equals the mean of ``x[idx]`` for the
    run's own draws (``resample._bootstrap_draws``, seed and mean block as given)."""
    x, bench = _family(8, t=300, k=7)
    (b,) = sel.selection_bootstraps(x, (bench,), n_boot=250, mean_block=6.0, seed=11)
    (idx,) = list(_bootstrap_draws(300, 250, 6.0, 11))
    d = x - bench[:, None]
    ref = d[idx].mean(axis=1)
    np.testing.assert_allclose(b.boot_mean, ref, rtol=0, atol=1e-15)
    # a slow reference of the default (sd-scaled) consistent p-value from those resamples
    om = np.sqrt(sel.bootstrap_variance(d, 6.0))
    sd = d.std(axis=0, ddof=1)
    m = d.mean(axis=0)
    thr = -np.sqrt(om**2 / 300 * 2 * math.log(math.log(300)))
    centre = np.where(m >= thr, m, 0.0)
    stat = max(math.sqrt(300) * m / sd)
    boot = [max(math.sqrt(300) * (ref[r] - centre) / sd) for r in range(250)]
    assert b.spa().p_value == pytest.approx(np.mean(np.array(boot) >= stat), abs=1e-12)


def test_spa_metamorphic() -> None:
    x, bench = _family(9)
    kw = {"n_boot": 300, "mean_block": 10.0, "seed": 3}
    base = sel.spa_test(x, bench, **kw)
    perm = np.random.default_rng(0).permutation(x.shape[1])
    assert sel.spa_test(x[:, perm], bench, **kw).p_value == base.p_value  # order
    # standardised: a leverage per trial on the excess changes nothing
    lev = np.random.default_rng(1).uniform(0.2, 5.0, x.shape[1])
    scaled = bench[:, None] + (x - bench[:, None]) * lev
    got = sel.spa_test(scaled, bench, **kw)
    assert got.p_value == base.p_value and got.statistic == pytest.approx(base.statistic)
    # a benchmark is the flat book on the excess returns
    assert sel.spa_test(x - bench[:, None], None, **kw).p_value == base.p_value
    # a duplicated trial and a trial identical to the benchmark change nothing
    more = np.column_stack([x, x[:, :1], bench])
    got = sel.spa_test(more, bench, **kw)
    assert (got.p_value, got.p_value_upper) == (base.p_value, base.p_value_upper)
    assert got.n_models == x.shape[1] + 2 and got.n_constant == 1


def test_sub_families_and_two_benchmarks_share_the_resamples() -> None:
    x, bench = _family(10)
    kw = {"n_boot": 300, "mean_block": 10.0, "seed": 5}
    flat, on = sel.selection_bootstraps(x, (None, bench), **kw)
    assert flat.spa().p_value == sel.spa_test(x, None, **kw).p_value
    assert on.spa().p_value == sel.spa_test(x, bench, **kw).p_value
    cols = [0, 3, 5]
    assert flat.spa(cols).p_value == sel.spa_test(x[:, cols], None, **kw).p_value
    per_column = np.column_stack([bench] * x.shape[1])  # (T, K): one benchmark per column
    assert sel.spa_test(x, per_column, **kw).p_value == on.spa().p_value


def test_spa_edge_cases_and_errors() -> None:
    t = 200
    flat = sel.spa_test(np.zeros((t, 3)), n_boot=100)
    assert flat.p_value == 1.0 and flat.best == -1 and math.isnan(flat.statistic)
    assert flat.n_constant == 3 and not flat.claims_edge()
    one = sel.spa_test(np.random.default_rng(0).normal(0.001, 0.01, t), n_boot=200)
    assert one.n_models == 1 and 0.0 <= one.p_value <= 1.0
    assert one.p_value_se == pytest.approx(math.sqrt(one.p_value * (1 - one.p_value) / 200))
    strong = sel.spa_test(np.random.default_rng(1).normal(0.004, 0.01, (t, 4)), n_boot=200)
    assert strong.p_value < 0.05 and strong.claims_edge()
    with pytest.raises(ValueError, match="finite"):
        sel.spa_test(np.array([[0.1], [np.nan], [0.0]]))
    with pytest.raises(ValueError, match="benchmarks"):
        sel.spa_test(np.zeros((t, 2)), np.zeros(t - 1))
    with pytest.raises(ValueError, match="indices"):
        sel.spa_test(np.ones((t, 2)), indices=np.full((5, t), t))
    with pytest.raises(ValueError, match="size"):
        sel.stepm(np.ones((t, 2)), size=1.5)


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.20, 0.005, 0.5])
    np.testing.assert_allclose(sel.holm(p), multipletests(p, method="holm")[1], rtol=1e-15)
    with_nan = sel.holm([0.02, math.nan, 0.04])
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], multipletests([0.02, 0.04], method="holm")[1])


def _null_family(rng: np.random.Generator, n: int, rho: float, t: int) -> np.ndarray:
    f = rng.normal(0.0, 0.01, (t, 1))
    return math.sqrt(rho) * f + math.sqrt(1.0 - rho) * rng.normal(0.0, 0.01, (t, n))


@pytest.mark.slow
def test_headline_spa_false_positive_rate_is_bounded_on_correlated_nulls() -> None:
    """Reduced calibration (``benchmarks/calibration.py`` is the full one): 50 null trials
    sharing one factor (rho 0.7) over 750 days, the in-sample best picked, 300 replications
    (measured: 11 and 53 of 300). The SPA (the run's headline: p < 0.05 claims an edge) must claim an edge in at most 12%
    of them (a test at 5% exceeds 12% over 300 replications with probability below 1e-7),
    while the participation-ratio deflated Sharpe claims one far more often (the documented
    flaw of the diagnostic), and a planted trial (annualised Sharpe 3) is found."""
    reps, n, rho, t = 300, 50, 0.7, 750
    spa_fp = eff_fp = 0
    for r in range(reps):
        rng = np.random.default_rng([18, r])
        x = _null_family(rng, n, rho, t)
        spa_fp += sel.spa_test(x, n_boot=299, mean_block=10.0, seed=r).p_value < 0.05
        srs = x.mean(axis=0) / x.std(axis=0, ddof=1)
        sr, n_obs, sk, ku = st.sharpe_moments(x[:, int(np.argmax(srs))])
        eff_fp += mt.deflated_sharpe_effective(sr, n_obs, sk, ku, mt.effective_trials(x))[0] > 0.95
    print(f"SPA false positives {spa_fp}/{reps}, effective-N DSR {eff_fp}/{reps}")
    assert spa_fp / reps <= 0.12
    assert eff_fp / reps >= 0.12 and eff_fp > 2 * spa_fp
    hits = 0
    for r in range(60):
        rng = np.random.default_rng([19, r])
        x = _null_family(rng, n, rho, t)
        x[:, 0] += 3.0 / math.sqrt(365.0) * 0.01
        hits += sel.spa_test(x, n_boot=299, mean_block=10.0, seed=r).p_value < 0.05
    print(f"SPA power at annualised Sharpe 3: {hits}/60")
    assert hits / 60 >= 0.5


def test_nested_p_values_are_the_sub_families_spa() -> None:
    """The family-sampling curve in one pass equals the SPA of each nested sub-family."""
    x, bench = _family(11, k=20)
    x = np.column_stack([x, bench])  # a constant excess column inside the order
    (b,) = sel.selection_bootstraps(x, (bench,), n_boot=300, mean_block=10.0, seed=2)
    order = np.random.default_rng(3).permutation(x.shape[1])
    sizes = [1, 2, 5, 13, x.shape[1]]
    got = b.nested_p_values(order, sizes)
    want = [b.spa(np.sort(order[:s])).p_value for s in sizes]
    assert got == want
    with pytest.raises(ValueError, match="sizes"):
        b.nested_p_values(order, [0])


def test_fft_length_is_the_smallest_5_smooth_length() -> None:
    smooth = sorted(2**a * 3**b * 5**c for a in range(14) for b in range(9) for c in range(6))
    for n in range(1, 6000):
        assert sel._fast_length(n) == next(v for v in smooth if v >= n)
