"""The grid kernel (``regime.search._kernel``: days outer, sets inner in vectorised tiles) is
pinned bit for bit to the kernel it replaced (sets outer, days inner, branchy), kept here as
the reference ``_sets_outer_kernel`` (its body as it was, ``prange`` over chunks of sets
replaced by a plain loop: each set's operations, hence its bits, do not depend on the chunk).

Every entry of ``stats`` and ``blocks`` for every set, cost table and window must be the same
bits (compared as int64 views): the walk-forward picks its parameters by an argmax over them.
Problems: NaN features and burn-in, sets that weigh no finite feature, several cost tables,
dwell > 1, bands, ``n_blocks`` in {1, 7, 16, n_days}, set counts around the tile size, feature
counts around the pass width, and edge inputs (negative band, lower > upper, infinite
thresholds, a ruinous day, a NaN vol scale, an overflowing score)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor.regime.hysteresis import transition
from majors_alts_monitor.regime.search import _TILE, _kernel

_CHUNK = 16


@numba.njit(cache=True)
def _sets_outer_kernel(
    zt, fmask, w, lower, upper, band, dwell, levels, vscale, book_pnl, cost, d0, d1, n_blocks
):
    n_sets = w.shape[0]
    n_feat = zt.shape[0]
    n_cost = cost.shape[0]
    n = d1 - d0 + 1
    stats = np.zeros((n_cost, n_sets, 6))
    blocks = np.zeros((n_cost, n_sets, n_blocks, 2))
    carry = np.empty((n, 3))
    cw = np.empty((n_cost, n, 9))
    fm = np.empty(n, dtype=np.int64)
    for t in range(n):
        fm[t] = fmask[d0 + t]
        for k in range(3):
            carry[t, k] = levels[k] * vscale[d0 + t] * book_pnl[d0 + t + 1]
            for j in range(3):
                for c in range(n_cost):
                    cw[c, t, 3 * k + j] = cost[c, d0 + t + 1, k, j]
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    for k in range(n_blocks + 1):
        bounds[k] = (k * n + n_blocks - 1) // n_blocks
    n_tasks = (n_sets + _CHUNK - 1) // _CHUNK
    for task in range(n_tasks):
        sc = np.empty(n)
        gross = np.empty(n)
        path = np.empty(n, dtype=np.int64)
        for s in range(task * _CHUNK, min(n_sets, (task + 1) * _CHUNK)):
            used = 0
            sc[:] = 0.0
            for f in range(n_feat):
                wf = w[s, f]
                if wf != 0.0:
                    used |= 1 << f
                    for t in range(n):
                        sc[t] += wf * zt[f, d0 + t]
            state = 1
            prev = 1
            dw = 10**9
            lo = lower[s]
            hi = upper[s]
            bd = band[s]
            md = dwell[s]
            for t in range(n):
                x = sc[t] if (fm[t] & used) != 0 else np.nan
                new = transition(state, x, lo, hi, bd) if dw >= md else state
                if new != state:
                    state = new
                    dw = 1
                else:
                    dw += 1
                gross[t] = carry[t, state]
                path[t] = 3 * prev + state
                prev = state
            for c in range(n_cost):
                sm = 0.0
                sq = 0.0
                dn = 0.0
                ruined = False
                eq = 1.0
                peak = 1.0
                mdd = 0.0
                b = 0
                nxt = bounds[1]
                bs = 0.0
                bq = 0.0
                for t in range(n):
                    p = gross[t] - cw[c, t, path[t]]
                    sm += p
                    sq += p * p
                    q = p if p < 0.0 else 0.0
                    dn += q * q
                    ruined |= p <= -1.0
                    eq *= 1.0 + p
                    if eq > peak:
                        peak = eq
                    elif eq < peak * (1.0 + mdd):
                        mdd = eq / peak - 1.0
                    if t == nxt:
                        blocks[c, s, b, 0] = bs
                        blocks[c, s, b, 1] = bq
                        bs = 0.0
                        bq = 0.0
                        b += 1
                        nxt = bounds[b + 1]
                    bs += p
                    bq += p * p
                blocks[c, s, b, 0] = bs
                blocks[c, s, b, 1] = bq
                stats[c, s, 0] = sm
                stats[c, s, 1] = sq
                stats[c, s, 2] = n
                stats[c, s, 3] = dn
                stats[c, s, 4] = -np.inf if ruined else np.log(eq)
                stats[c, s, 5] = mdd
    return stats, blocks


def _problem(
    seed: int,
    n_sets: int,
    n_feat: int,
    n_days: int = 150,
    n_cost: int = 3,
    edge: bool = False,
) -> tuple:
    """Arguments of ``_kernel`` as ``evaluate_grid_costs`` builds them, for a random problem."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, (n_days, n_feat))
    z[rng.random((n_days, n_feat)) < 0.15] = np.nan
    z[: rng.integers(0, 12)] = np.nan  # burn-in
    w = rng.choice([-1.0, -0.5, 0.0, 0.0, 0.5, 1.0], size=(n_sets, n_feat))
    lo = rng.choice([-1.0, -0.5, 0.0, 0.2], n_sets)
    hi = lo + rng.choice([0.0, 0.25, 1.0], n_sets)
    band = rng.choice([0.0, 0.1, 0.25], n_sets)
    dwell = rng.choice([1, 2, 3, 7], n_sets).astype(np.int64)
    vscale = rng.uniform(0.5, 2.0, n_days)
    book = rng.normal(0.0005, 0.03, n_days)
    levels = np.array([1.0, rng.uniform(-0.5, 0.5), rng.uniform(-1.0, 0.2)])
    if edge:
        k = n_sets
        band[rng.random(k) < 0.1] = -0.2  # a negative band
        swap = rng.random(k) < 0.1  # lower > upper
        lo[swap], hi[swap] = hi[swap] + 0.3, lo[swap]
        hi[rng.random(k) < 0.05] = np.inf
        lo[rng.random(k) < 0.05] = -np.inf
        w[0] = 0.0  # weighs nothing: its score is NaN every day
        book[30] = -3.0  # a ruinous day for the book held long
        vscale[rng.integers(40, n_days - 2)] = np.nan  # a NaN net return, after it
        z[rng.integers(20, n_days), 0] = 1e308  # scores overflow to +-inf that day
    fin = np.isfinite(z)
    fmask = (fin.astype(np.int64) << np.arange(n_feat, dtype=np.int64)).sum(axis=1)
    cost = rng.uniform(0.0, 1e-3, (n_cost, n_days, 3, 3))
    cost[-1] = 0.0
    return (
        np.ascontiguousarray(np.where(fin, z, 0.0).T),
        np.ascontiguousarray(fmask, dtype=np.int64),
        np.ascontiguousarray(w),
        lo,
        hi,
        band,
        dwell,
        levels,
        vscale,
        np.nan_to_num(book),
        cost,
    )


def _assert_same_bits(args: tuple, d0: int, d1: int, n_blocks: int) -> None:
    new_stats, new_blocks = _kernel(*args, d0, d1, n_blocks)
    ref_stats, ref_blocks = _sets_outer_kernel(*args, d0, d1, n_blocks)
    assert new_stats.shape == ref_stats.shape and new_blocks.shape == ref_blocks.shape
    np.testing.assert_array_equal(new_stats.view(np.int64), ref_stats.view(np.int64))
    np.testing.assert_array_equal(new_blocks.view(np.int64), ref_blocks.view(np.int64))


@pytest.mark.parametrize("n_blocks", [1, 7, 16, "n_days"])
@pytest.mark.parametrize(
    ("n_sets", "n_feat"), [(1, 1), (5, 3), (_TILE, 4), (_TILE + 1, 5), (3 * _TILE - 7, 7), (70, 9)]
)
def test_kernel_is_bit_identical_to_the_sets_outer_kernel(
    n_sets: int, n_feat: int, n_blocks: int | str
) -> None:
    args = _problem(n_sets * 31 + n_feat, n_sets, n_feat)
    d0, d1 = 4, 140
    nb = d1 - d0 + 1 if n_blocks == "n_days" else int(n_blocks)
    _assert_same_bits(args, d0, d1, nb)


@pytest.mark.parametrize("seed", range(4))
def test_kernel_is_bit_identical_on_edge_inputs(seed: int) -> None:
    args = _problem(seed, 2 * _TILE + 3, 6, edge=True)
    stats, _ = _kernel(*args, 0, 148, 7)
    assert np.isneginf(stats[:, :, 4]).any()  # the ruinous day ruins some sets
    assert np.isnan(stats[:, :, 0]).any()  # the NaN vol scale reaches some sums
    _assert_same_bits(args, 0, 148, 7)
    _assert_same_bits(args, 3, 120, 16)


def test_kernel_without_features_holds_balanced() -> None:
    args = _problem(0, 9, 1)
    args = (args[0][:0], np.zeros_like(args[1]), args[2][:, :0], *args[3:])
    _assert_same_bits(args, 2, 100, 5)


def test_kernel_with_no_sets_returns_empty_arrays() -> None:
    args = _problem(0, 3, 2)
    args = (args[0], args[1], *(x[:0] for x in args[2:7]), *args[7:])
    stats, blocks = _kernel(*args, 2, 50, 4)
    assert stats.shape == (3, 0, 6) and blocks.shape == (3, 0, 4, 2)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_sets=st.integers(1, 2 * _TILE + 5),
    n_feat=st.integers(1, 10),
    n_cost=st.integers(1, 3),
    n_blocks=st.integers(1, 40),
    edge=st.booleans(),
)
def test_kernel_is_bit_identical_property(
    seed: int, n_sets: int, n_feat: int, n_cost: int, n_blocks: int, edge: bool
) -> None:
    args = _problem(seed, n_sets, n_feat, n_days=60, n_cost=n_cost, edge=edge)
    rng = np.random.default_rng(seed)
    d0 = int(rng.integers(0, 20))
    d1 = int(rng.integers(d0, 58))
    _assert_same_bits(args, d0, d1, min(n_blocks, d1 - d0 + 1))
