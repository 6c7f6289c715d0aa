"""The compiled bootstrap statistics (``bootstrap_kernel``) against numpy, bit for bit: the
kernels against numpy's row reductions of ``a[idx]``, and ``sharpe_ci``/``regime_edges``/
``regime_metrics`` against a copy of their numpy implementation before the kernels (kept
below as the reference), on the shape of the demo's book returns."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

from majors_alts_monitor import stats as st
from majors_alts_monitor.stats import regimes, resample
from majors_alts_monitor.stats.bootstrap_kernel import _plan, boot_edge_sums, boot_sharpe
from majors_alts_monitor.tests.bootstrap_reference import (
    _row_sharpe,
    ref_regime_edges,
    ref_sharpe_ci,
)

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    """Same shape, same NaN positions, same bits elsewhere (so +0.0 differs from -0.0)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        return False
    nx, ny = np.isnan(x), np.isnan(y)
    return bool(
        np.array_equal(nx, ny) and np.array_equal(x[~nx].view(np.int64), y[~ny].view(np.int64))
    )


def _ref_edge_sums(a, idx, labels):
    rb = a[idx]
    lbs = [lab[idx] for lab in labels]
    return (
        rb.sum(axis=1),
        np.array([lb.sum(axis=1) for lb in lbs]).reshape(len(labels), idx.shape[0]),
        np.array([np.where(lb, rb, 0.0).sum(axis=1) for lb in lbs]).reshape(
            len(labels), idx.shape[0]
        ),
    )


def _check_against_numpy(a: np.ndarray, idx: np.ndarray, labels: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        ref = _row_sharpe(a[idx], 365) if a.size >= 2 else None
    if ref is not None:
        assert _same_bits(boot_sharpe(a, idx, 365), ref)
    s_all, k_in, s_in = boot_edge_sums(a, idx, labels)
    r_all, r_k, r_in = _ref_edge_sums(a, idx, labels)
    assert _same_bits(s_all, r_all)
    assert k_in.dtype == r_k.dtype and np.array_equal(k_in, r_k)
    assert _same_bits(s_in, r_in)


def _returns(rng: np.random.Generator, n: int, kind: int) -> np.ndarray:
    if kind == 0:  # daily returns
        return rng.normal(0.0005, 0.02, n)
    if kind == 1:  # mixed magnitudes, 1e-8 to 1e8, both signs
        return rng.normal(size=n) * 10.0 ** rng.uniform(-8, 8, n)
    if kind == 2:  # two values
        return rng.choice([0.01, -0.02], size=n)
    if kind == 3:  # coarse grid: many equal values and exact cancellations
        return np.round(rng.normal(0, 2, n), 1)
    return np.full(n, 0.013)  # flat


# --------------------------------------------------------------------------------------------
# the kernels against numpy's row reductions
# --------------------------------------------------------------------------------------------


def _pairwise_leaves(lo: int, n: int) -> list[tuple[int, int]]:
    """numpy's recursion (loops_utils.h.src ``pairwise_sum``), written recursively."""
    if n <= 128:
        return [(lo, n)]
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_leaves(lo, n2) + _pairwise_leaves(lo + n2, n - n2) + [(-1, 0)]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 127, 128, 129, 136, 255, 1000, 2069, 5000, 70001])
def test_plan_is_numpys_recursion(n: int) -> None:
    assert [tuple(s) for s in _plan(n).tolist()] == _pairwise_leaves(0, n)


@pytest.mark.parametrize("seed", range(60))
def test_kernels_equal_numpy_bit_for_bit(seed: int) -> None:
    """n from 1 to 5000 (every pairwise regime: under 8, eight partial sums up to 128, the
    split above), 1 to 50 resamples, daily, mixed-magnitude, two-valued, coarse and flat
    returns, flat resamples, labels from never to always."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5001)) if seed % 3 else int(rng.integers(1, 300))
    rows = int(rng.integers(1, 51))
    a = _returns(rng, n, seed % 5)
    idx = rng.integers(0, n, size=(rows, n))
    idx[0] = idx[0, 0]  # a flat resample
    if rows > 1:
        idx[1] = np.arange(n)  # the sample itself
    share = rng.uniform(0.0, 1.0, size=(4, 1))
    share[0] = 0.0  # a label never present
    share[1] = 1.0  # a label present every day
    labels = rng.random((4, n)) < share
    _check_against_numpy(a, idx, labels)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hst.integers(1, 300),
        elements=hst.floats(-1e100, 1e100, allow_nan=False, allow_infinity=False),
    ),
    hst.integers(1, 6),
    hst.integers(0, 2**32 - 1),
)
def test_kernels_equal_numpy_property(a: np.ndarray, rows: int, seed: int) -> None:
    """Any finite values, subnormals and signed zeros included."""
    rng = np.random.default_rng(seed)
    n = a.size
    idx = rng.integers(0, n, size=(rows, n))
    labels = rng.random((2, n)) < rng.uniform(0.0, 1.0, size=(2, 1))
    _check_against_numpy(a, idx, labels)


def test_nan_and_degenerate_resamples() -> None:
    a = np.array([0.01, -0.02, 0.03, 0.01])
    idx = np.array([[0, 0, 0, 0], [0, 3, 0, 3], [0, 1, 2, 3], [1, 1, 2, 2]])
    sr = boot_sharpe(a, idx, 365)
    assert np.isnan(sr[0]) and np.isnan(sr[1])  # flat, also when two days hold equal values
    assert _same_bits(sr, _row_sharpe(a[idx], 365)) and np.isfinite(sr[2:]).all()
    # n == 2: two distinct values have a Sharpe, two equal ones are flat
    two = np.array([0.01, -0.03])
    sr2 = boot_sharpe(two, np.array([[0, 1], [1, 1]]), 365)
    assert sr2[0] == pytest.approx(-0.01 / np.std(two, ddof=1) * math.sqrt(365), rel=1e-15)
    assert np.isnan(sr2[1])
    # a label with no day in a resample: k_in 0, s_in +0.0; present every day: s_in == s_all
    labels = np.array([[False, True, False, False], [True, True, True, True]])
    s_all, k_in, s_in = boot_edge_sums(a, idx, labels)
    assert k_in[0].tolist() == [0, 0, 1, 2]
    assert s_in[0, 0] == 0.0 and not np.signbit(s_in[0, 0])
    assert k_in[1].tolist() == [4, 4, 4, 4] and _same_bits(s_in[1], s_all)
    # numpy's reduction starts from +0.0: negative zeros sum to +0.0 (any length)
    for n in (3, 20, 300):
        z = np.full(n, -0.0)
        s_all, _, s_in = boot_edge_sums(z, np.zeros((1, n), np.int64), np.ones((1, n), bool))
        assert _same_bits(s_all, z[None].sum(axis=1)) and not np.signbit(s_all[0])
        assert not np.signbit(s_in[0, 0])


def test_more_labels_than_one_pass_holds() -> None:
    """Labels go through the kernel 32 at a time (bits of a day code): 70 labels, 3 passes."""
    rng = np.random.default_rng(11)
    n = 300
    a = rng.normal(0.0, 0.02, n)
    idx = rng.integers(0, n, size=(9, n))
    labels = rng.random((70, n)) < rng.uniform(0.0, 1.0, size=(70, 1))
    _check_against_numpy(a, idx, labels)


def test_same_bits_on_one_or_two_threads() -> None:
    rng = np.random.default_rng(5)
    n = 2069
    a = rng.normal(0.0, 0.02, n)
    idx = rng.integers(0, n, size=(97, n))
    labels = rng.random((3, n)) < 0.3
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (boot_sharpe(a, idx, 365), *boot_edge_sums(a, idx, labels))
    finally:
        numba.set_num_threads(threads)
    many = (boot_sharpe(a, idx, 365), *boot_edge_sums(a, idx, labels))
    assert all(_same_bits(x, y) for x, y in zip(one, many, strict=True))


def test_kernel_argument_errors() -> None:
    a = np.array([0.01, -0.02, 0.03])
    with pytest.raises(ValueError, match="outside"):
        boot_sharpe(a, np.array([[0, 1, 3]]), 365)
    with pytest.raises(ValueError, match="outside"):
        boot_edge_sums(a, np.array([[0, -1, 2]]), np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="int64"):
        boot_sharpe(a, np.array([[0, 1, 2]], dtype=np.int32), 365)
    with pytest.raises(ValueError, match="float64"):
        boot_sharpe(a.astype(np.float32), np.array([[0, 1, 2]]), 365)
    with pytest.raises(ValueError, match="labels"):
        boot_edge_sums(a, np.array([[0, 1, 2]]), np.ones((1, 2), bool))
    assert boot_sharpe(a, np.zeros((0, 3), np.int64), 365).shape == (0,)


# --------------------------------------------------------------------------------------------
# the public statistics against the numpy reference, at the demo's size
# --------------------------------------------------------------------------------------------


def _book(seed: int, n: int = 2069) -> tuple[np.ndarray, np.ndarray]:
    """Seeded book returns with a few missing days and a 3-state sticky regime path."""
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, n) * 0.015 - 0.0003
    r[rng.random(n) < 0.01] = np.nan
    reg = np.empty(n, dtype=np.int64)
    reg[0] = 0
    for t in range(1, n):
        reg[t] = reg[t - 1] if rng.random() < 0.97 else rng.integers(0, 3)
    return r, np.array(["RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS"])[reg]


@pytest.mark.parametrize("seed", [0, 1])
def test_public_statistics_equal_the_reference_at_demo_size(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """n = 2069 book days (two index chunks for n_boot = 2000), the demo's n_boot: the
    interval, each regime's edge and p-value and the whole regime_metrics rows are the same
    floats as the numpy implementation's."""
    r, reg = _book(seed)
    names = ["RISK_ON_MAJORS", "BALANCED", "RISK_ON_ALTS", "ABSENT"]
    kw = {"n_boot": 2000, "mean_block": 10.0, "seed": seed}
    ci = st.sharpe_ci(r, **kw)
    assert ci == ref_sharpe_ci(r, **kw) and all(map(math.isfinite, ci))
    masks = [reg == name for name in names]
    edges = st.regime_edges(r, masks, **kw)
    ref = ref_regime_edges(r, masks, **kw)
    assert _same_bits(np.array(edges), np.array(ref))
    assert all(0.0 <= p <= 1.0 for _, p in edges[:3]) and all(map(math.isnan, edges[3]))
    strat = np.where(np.arange(r.size) % 3 == 0, 0.0, r)
    rows = st.regime_metrics(r, reg, strat, names, **kw)
    monkeypatch.setattr(regimes, "regime_edges", ref_regime_edges)
    ref_rows = st.regime_metrics(r, reg, strat, names, **kw)
    for got, want in zip(rows, ref_rows, strict=True):
        assert got.keys() == want.keys()
        for k in got:
            assert got[k] == want[k] or (
                isinstance(got[k], float) and math.isnan(got[k]) and math.isnan(want[k])
            ), k


def test_many_chunks_and_shared_draws_equal_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small chunks (many index arrays) and draws shared under ``bootstrap_reuse``."""
    r, reg = _book(3, 700)
    masks = [reg == "BALANCED", reg != "BALANCED"]
    kw = {"n_boot": 301, "mean_block": 5.0, "seed": 4}
    monkeypatch.setattr(resample, "_BOOT_CHUNK_ELEMENTS", 700 * 37)
    want = (ref_sharpe_ci(r, **kw), ref_regime_edges(r, masks, **kw))
    with st.bootstrap_reuse():
        got = (st.sharpe_ci(r, **kw), st.regime_edges(r, masks, **kw))
    assert got[0] == want[0] and _same_bits(np.array(got[1]), np.array(want[1]))
