"""Grid search of composite-score parameters in one fused pass over (parameter sets x days).

The always-held book's daily return and the cost of every regime transition are computed once
per run (``SearchInputs``); a numba kernel then runs the score, thresholds, hysteresis and
dwell state machine for every parameter set in parallel and accumulates each set's sufficient
statistics (sum, sum of squares, downside, log-equity, max drawdown) and per-block sums for
PBO, without ever building a (sets x days) array. Memory is O(sets x blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.core.extending import intrinsic

from ..arrays import Panel, Series, shift
from ..backtest.engine import drift_weights, trade_costs
from ..config import CostsConfig, GridConfig
from ..interrupts import sigint_deferred

STAT_SUM, STAT_SUMSQ, STAT_N, STAT_DOWNSQ, STAT_LOGEQ, STAT_MDD = range(6)


@dataclass(frozen=True)
class SearchInputs:
    """Per-day inputs shared by every parameter set (indexed by pnl day)."""

    levels: np.ndarray  # (3,) exposure per regime code
    vscale: Series  # (n_days,) vol-target multiplier at decision d (1 when disabled)
    book_pnl: Series  # (n_days,) gross + funding on pnl day d of the book decided at d-1
    cost: np.ndarray  # (n_days, 3, 3) cost on pnl day d of moving regime a (at d-2) -> b (at d-1)


def transition_costs(
    book_w: Panel,
    vscale: Series,
    levels: np.ndarray,
    ret: Panel,
    median_volume: Panel,
    costs: CostsConfig,
) -> np.ndarray:
    """``C[d, a, b]``: fee + slippage on pnl day ``d`` of moving from exposure ``levels[a]`` of the
    book decided at ``d-2``, as it drifted over ``d-1``, to ``levels[b]`` of the book decided at
    ``d-1`` (the engine's trade, ``backtest`` module doc). With ``S = book_w * vscale`` the held
    book at level ``a`` is ``e_a * S[d-2]`` and drifts to ``e_a * S[d-2] * (1 + r) / (1 + e_a *
    R)`` with ``R = sum_i S[d-2, i] * r[d-1, i]``: one 3 x 3 table per day still holds."""
    n = book_w.shape[0]
    scaled = book_w * vscale[:, None]
    w1 = shift(scaled, 1, 0.0)  # decided at d-1: held over d
    mv = shift(median_volume, 1)
    out = np.zeros((n, 3, 3))
    for a in range(3):
        # level a of the book held over d-1, at d-1's close
        drifted = shift(drift_weights(levels[a] * w1, ret), 1, 0.0)
        for b in range(3):
            fee, slip = trade_costs(levels[b] * w1 - drifted, mv, costs)
            out[:, a, b] = fee + slip
    return out


@dataclass(frozen=True)
class ParamGrid:
    """Parameter sets: weights over ``features`` (unit L2 norm), thresholds, band, dwell."""

    features: tuple[str, ...]
    weights: np.ndarray  # (S, F)
    lower: np.ndarray
    upper: np.ndarray
    band: np.ndarray
    dwell: np.ndarray  # int64
    total_combinations: int

    @property
    def size(self) -> int:
        return self.weights.shape[0]

    def params(self, i: int) -> dict[str, object]:
        return {
            "weights": {
                f: round(float(w), 6)
                for f, w in zip(self.features, self.weights[i], strict=True)
                if w
            },
            "lower": float(self.lower[i]),
            "upper": float(self.upper[i]),
            "band": float(self.band[i]),
            "min_dwell": int(self.dwell[i]),
        }


def build_grid(
    features: tuple[str, ...],
    grid: GridConfig,
    default: dict[str, object] | None = None,
) -> ParamGrid:
    """Every combination of the grid (weights in ``weight_values`` per feature, no all-zero
    vector, ``lower <= upper``), sampled without replacement down to ``max_sets`` (seeded).
    ``default`` (the config's parameters) is always set 0."""
    f = len(features)
    mags = [abs(x) for x in grid.weight_values]
    per_feature = [
        np.array(sorted({grid.signs[x] * m for m in mags}))
        if x in grid.signs
        else np.array(sorted({s * m for m in mags for s in (-1.0, 1.0)}))
        for x in features
    ]
    pairs = [(lo, hi) for lo in grid.lower_thresholds for hi in grid.upper_thresholds if lo <= hi]
    dims = tuple(len(v) for v in per_feature) + (len(pairs), len(grid.bands), len(grid.min_dwells))
    total = int(np.prod(dims, dtype=np.int64))
    rng = np.random.default_rng(grid.seed)
    n_take = min(total, grid.max_sets)
    if total <= grid.max_sets:
        flat = np.arange(total)
    else:
        flat = rng.choice(
            total, size=min(total, grid.max_sets + grid.max_sets // 10), replace=False
        )
        flat.sort()
    idx = np.unravel_index(flat, dims)
    w = (
        np.column_stack([per_feature[j][idx[j]] for j in range(f)])
        if f
        else np.zeros((len(flat), 0))
    )
    keep = np.abs(w).sum(axis=1) > 0
    w, idx = w[keep], tuple(i[keep] for i in idx)
    pr = np.asarray(pairs)[idx[f]]
    lower, upper = pr[:, 0], pr[:, 1]
    band = np.asarray(grid.bands, dtype=np.float64)[idx[f + 1]]
    dwell = np.asarray(grid.min_dwells, dtype=np.int64)[idx[f + 2]]
    if default is not None:
        dw = np.array([float(default["weights"].get(x, 0.0)) for x in features])  # type: ignore[union-attr]
        if np.abs(dw).sum() > 0:
            w = np.vstack([dw, w])
            lower = np.r_[float(default["lower"]), lower]  # type: ignore[arg-type]
            upper = np.r_[float(default["upper"]), upper]  # type: ignore[arg-type]
            band = np.r_[float(default["band"]), band]  # type: ignore[arg-type]
            dwell = np.r_[int(default["min_dwell"]), dwell]  # type: ignore[call-overload]
    n_take = min(n_take, w.shape[0])
    w = w[:n_take]
    norm = np.sqrt((w * w).sum(axis=1, keepdims=True))
    w = np.divide(w, norm, out=np.zeros_like(w), where=norm > 0)
    return ParamGrid(
        features=tuple(features),
        weights=np.ascontiguousarray(w),
        lower=np.ascontiguousarray(lower[:n_take]),
        upper=np.ascontiguousarray(upper[:n_take]),
        band=np.ascontiguousarray(band[:n_take]),
        dwell=np.ascontiguousarray(dwell[:n_take]),
        total_combinations=total,
    )


_TILE = 64  # parameter sets per parallel task: the lanes of the kernel's vectorised loops (a
# multiple of AVX2's 4 float64 lanes); a task's per-set arrays (~14 KiB with 7 features and
# one cost table) stay in L1 while it walks the window
_FQ = 4  # score features added per pass over a tile (the feature count is padded to a multiple)


@intrinsic
def _pick(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select``: no branch, so the loops over the sets of a
    tile vectorise into compares, blends and plain stores (a Python conditional expression
    becomes branches that LLVM turns into masked loads and stores: 1.18x slower here)."""
    if a != b or not isinstance(cond, numba.types.Boolean):
        return None

    def codegen(context, builder, signature, args):
        return builder.select(args[0], args[1], args[2])

    return a(cond, a, b), codegen


_SLOT = 384  # bytes between the start offsets (modulo 4 KiB) of arrays one loop uses together


@numba.njit(cache=True)
def _placed(n, offset, dtype):
    """An uninitialised 1-d array of ``n`` items whose data start ``offset`` bytes past a
    4 KiB boundary (a view into a slightly larger allocation)."""
    raw = np.empty(n + 4096 // 8, dtype)
    shift = ((offset - np.int64(raw.ctypes.data)) % 4096) // raw.itemsize
    return raw[shift : shift + n]


@numba.njit(
    parallel={
        "comprehension": False,
        "reduction": False,
        "inplace_binop": False,
        "setitem": False,
        "numpy": False,
        "stencil": False,
        "fusion": False,
        "prange": True,
    },
    cache=True,
)
def _kernel(
    zt, fmask, w, lower, upper, band, dwell, levels, vscale, book_pnl, cost, d0, d1, n_blocks
):
    """``zt``: the features with NaN as 0, one contiguous row per feature ``(F, n_days)``;
    ``fmask[d]``: bit ``f`` set where feature ``f`` is finite on day ``d`` (a set's score is NaN
    on a day none of its features is); ``cost``: ``(K, n_days, 3, 3)``, K cost tables charged
    to the same regime paths (``stats`` ``(K, S, 6)``, ``blocks`` ``(K, S, n_blocks, 2)``).

    Days outer, sets inner: each parallel task takes a tile of ``_TILE`` sets and walks the
    window day by day; every step is a branch-free loop over the tile's sets that LLVM
    vectorises (AVX2: 4 sets per instruction), with each set's state in per-task arrays that
    stay in cache. Per day: the scores (``_FQ`` features per pass, in feature order), the
    state machine (``hysteresis.transition`` and the dwell as selects), then per cost table
    the net return (a lookup by the move prev -> new among the day's 9 values) and the
    statistics. Each set's floating-point operations are the ones of the set-by-set loop in
    the same order (no FMA, no reassociation), so the results are the same bits: the score is
    summed feature by feature over every feature, a zero weight adding an exact zero (which
    changes the sign of a zero score at most, and a score is only compared); ``x > a`` is
    ``x >= nextafter(a, inf)`` for a finite ``x``. Memory: O(sets x (features + K)) of state,
    no (sets x days) array."""
    n_sets = w.shape[0]
    n_feat = zt.shape[0]
    n_cost = cost.shape[0]
    n = d1 - d0 + 1
    stats = np.zeros((n_cost, n_sets, 6))
    blocks = np.zeros((n_cost, n_sets, n_blocks, 2))
    # per-day inputs: the net return of each move a -> b on pnl day d0 + t + 1, [c, t, 3a + b]
    # (the gross of regime b less the cost), the finite-feature mask, the padded features
    pt = np.empty((n_cost, n, 9))
    fm = np.empty(n, dtype=np.int64)
    nfp = max(_FQ, (n_feat + _FQ - 1) // _FQ * _FQ)
    zp = np.zeros((n, nfp))
    for t in range(n):
        fm[t] = fmask[d0 + t]
        for f in range(n_feat):
            zp[t, f] = zt[f, d0 + t]
        for a in range(3):
            for b in range(3):
                g = levels[b] * vscale[d0 + t] * book_pnl[d0 + t + 1]
                for c in range(n_cost):
                    pt[c, t, 3 * a + b] = g - cost[c, d0 + t + 1, a, b]
    bounds = np.empty(n_blocks + 1, dtype=np.int64)  # first day of each block, then n
    for k in range(n_blocks + 1):
        bounds[k] = (k * n + n_blocks - 1) // n_blocks
    n_tasks = (n_sets + _TILE - 1) // _TILE
    n2 = n_tasks * _TILE
    n3 = n_tasks * n_cost * _TILE
    f64, i64 = np.float64, np.int64
    # per-set parameters, tile-major (a padded set has no features: its state never moves).
    # Every per-set array starts on a cache line, the ones a loop uses together at distinct
    # offsets modulo 4 KiB (_SLOT apart; the state machine's own half a slot off): no split
    # 32-byte loads, no two arrays on the same L1 sets (3% faster than where the allocator
    # puts them, interleaved in one process).
    # up_in: x >= it enters MAJORS (x > upper + band); up_stay: MAJORS stays (x >= upper -
    # band); lo_stay: ALTS stays (x <= lower + band); lo_in: x <= it enters ALTS (x < lower -
    # band); used: the features a set weighs, as bits; md: its minimum dwell
    h = _SLOT // 2
    wt = _placed(n_tasks * nfp * _TILE, 8 * _SLOT + h, f64).reshape((n_tasks, nfp, _TILE))
    used = _placed(n2, h, i64).reshape((n_tasks, _TILE))
    up_in = _placed(n2, _SLOT + h, f64).reshape((n_tasks, _TILE))
    up_stay = _placed(n2, 2 * _SLOT + h, f64).reshape((n_tasks, _TILE))
    lo_stay = _placed(n2, 3 * _SLOT + h, f64).reshape((n_tasks, _TILE))
    lo_in = _placed(n2, 4 * _SLOT + h, f64).reshape((n_tasks, _TILE))
    md = _placed(n2, 5 * _SLOT + h, i64).reshape((n_tasks, _TILE))
    dw = _placed(n2, 6 * _SLOT + h, i64).reshape((n_tasks, _TILE))
    sc = _placed(n2, 7 * _SLOT + h, f64).reshape((n_tasks, _TILE))
    wt[:] = 0.0
    used[:] = 0
    up_in[:] = 0.0
    up_stay[:] = 0.0
    lo_stay[:] = 0.0
    lo_in[:] = 0.0
    md[:] = 0
    for s in range(n_sets):
        i = s // _TILE
        j = s % _TILE
        for g in range(n_feat):
            wt[i, g, j] = w[s, g]
            if w[s, g] != 0.0:
                used[i, j] |= 1 << g
        up_in[i, j] = np.nextafter(upper[s] + band[s], np.inf)
        up_stay[i, j] = upper[s] - band[s]
        lo_stay[i, j] = lower[s] + band[s]
        lo_in[i, j] = np.nextafter(lower[s] - band[s], -np.inf)
        md[i, j] = dwell[s]
    # per-set state: regime, its previous day's value, days held, score; per cost table: sum,
    # sum of squares, downside, smallest return, equity, peak, max drawdown, block sums
    st = _placed(n2, 0, i64).reshape((n_tasks, _TILE))
    pv = _placed(n2, _SLOT, i64).reshape((n_tasks, _TILE))
    sm = _placed(n3, 2 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    sq = _placed(n3, 3 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    dn = _placed(n3, 4 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    pmin = _placed(n3, 5 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    eq = _placed(n3, 6 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    pk = _placed(n3, 7 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    mdd = _placed(n3, 8 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    bs = _placed(n3, 9 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    bq = _placed(n3, 10 * _SLOT, f64).reshape((n_tasks, n_cost, _TILE))
    for task in numba.prange(n_tasks):
        lo = task * _TILE
        m = min(n_sets - lo, _TILE)
        for j in range(_TILE):
            st[task, j] = 1
            dw[task, j] = 10**9
        for c in range(n_cost):
            for j in range(_TILE):
                sm[task, c, j] = 0.0
                sq[task, c, j] = 0.0
                dn[task, c, j] = 0.0
                pmin[task, c, j] = np.inf
                eq[task, c, j] = 1.0
                pk[task, c, j] = 1.0
                mdd[task, c, j] = 0.0
                bs[task, c, j] = 0.0
                bq[task, c, j] = 0.0
        b = 0
        nxt = bounds[1]
        for t in range(n):
            if t == nxt:  # block sums stored once per block
                for c in range(n_cost):
                    for j in range(m):
                        blocks[c, lo + j, b, 0] = bs[task, c, j]
                        blocks[c, lo + j, b, 1] = bq[task, c, j]
                    for j in range(_TILE):
                        bs[task, c, j] = 0.0
                        bq[task, c, j] = 0.0
                b += 1
                nxt = bounds[b + 1]
            # the score: features in order, _FQ per pass
            for f in range(0, nfp, _FQ):
                z0 = zp[t, f]
                z1 = zp[t, f + 1]
                z2 = zp[t, f + 2]
                z3 = zp[t, f + 3]
                if f == 0:
                    for j in range(_TILE):
                        sc[task, j] = (
                            (wt[task, 0, j] * z0 + wt[task, 1, j] * z1) + wt[task, 2, j] * z2
                        ) + wt[task, 3, j] * z3
                else:
                    for j in range(_TILE):
                        sc[task, j] = (
                            ((sc[task, j] + wt[task, f, j] * z0) + wt[task, f + 1, j] * z1)
                            + wt[task, f + 2, j] * z2
                        ) + wt[task, f + 3, j] * z3
            # the state machine: hysteresis.transition and the dwell, branch-free
            ft = fm[t]
            for j in range(_TILE):
                x = sc[task, j]
                s0 = st[task, j]
                d = dw[task, j]
                ok = ((ft & used[task, j]) != 0) & (np.abs(x) < np.inf) & (d >= md[task, j])
                is2 = s0 == 2
                a_up_stay = up_stay[task, j]
                a_up_in = up_in[task, j]
                a_lo_stay = lo_stay[task, j]
                a_lo_in = lo_in[task, j]
                gm = x >= _pick(s0 == 0, a_up_stay, a_up_in)  # MAJORS now (or stays)
                ga = x <= _pick(is2, a_lo_stay, a_lo_in)  # ALTS now (or stays)
                majors_first = _pick(gm, 0, _pick(ga, 2, 1))
                alts_first = _pick(ga, 2, _pick(gm, 0, 1))
                nw = _pick(ok, _pick(is2, alts_first, majors_first), s0)
                dw[task, j] = _pick(nw != s0, 1, d + 1)
                st[task, j] = nw
                pv[task, j] = s0
            # each cost table along the paths
            for c in range(n_cost):
                v00 = pt[c, t, 0]
                v01 = pt[c, t, 1]
                v02 = pt[c, t, 2]
                v10 = pt[c, t, 3]
                v11 = pt[c, t, 4]
                v12 = pt[c, t, 5]
                v20 = pt[c, t, 6]
                v21 = pt[c, t, 7]
                v22 = pt[c, t, 8]
                for j in range(_TILE):
                    s0 = pv[task, j]
                    nw = st[task, j]
                    to0 = nw == 0
                    to2 = nw == 2
                    r0 = _pick(to0, v00, _pick(to2, v02, v01))
                    r1 = _pick(to0, v10, _pick(to2, v12, v11))
                    r2 = _pick(to0, v20, _pick(to2, v22, v21))
                    p = _pick(s0 == 0, r0, _pick(s0 == 2, r2, r1))
                    sm[task, c, j] += p
                    sq[task, c, j] += p * p
                    q = _pick(p < 0.0, p, 0.0)
                    dn[task, c, j] += q * q
                    # "+ 0.0" keeps the store unconditional (a masked store otherwise); it
                    # changes no result: pmin is only compared with -1, and mdd is never -0.0
                    # (0.0, or x - 1.0, which is +0.0 when zero)
                    pm = pmin[task, c, j]
                    pmin[task, c, j] = _pick(p < pm, p, pm + 0.0)  # a NaN p is skipped
                    e = eq[task, c, j] * (1.0 + p)
                    eq[task, c, j] = e
                    kk = pk[task, c, j]
                    dd = mdd[task, c, j]
                    r = e / kk - 1.0
                    low = (e <= kk) & (e < kk * (1.0 + dd))  # not a new peak, a new low
                    mdd[task, c, j] = _pick(low, r, dd + 0.0)
                    pk[task, c, j] = _pick(e > kk, e, kk)
                    bs[task, c, j] += p
                    bq[task, c, j] += p * p
        for c in range(n_cost):
            for j in range(m):
                s = lo + j
                blocks[c, s, b, 0] = bs[task, c, j]
                blocks[c, s, b, 1] = bq[task, c, j]
                stats[c, s, 0] = sm[task, c, j]
                stats[c, s, 1] = sq[task, c, j]
                stats[c, s, 2] = n
                stats[c, s, 3] = dn[task, c, j]
                ruined = pmin[task, c, j] <= -1.0
                stats[c, s, 4] = -np.inf if ruined else np.log(eq[task, c, j])  # sum of log1p
                stats[c, s, 5] = mdd[task, c, j]
    return stats, blocks


def evaluate_grid(
    z: np.ndarray, grid: ParamGrid, inputs: SearchInputs, d0: int, d1: int, n_blocks: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Run every parameter set over decision days ``[d0, d1]`` (pnl days ``d0+1 .. d1+1``).

    Returns ``stats`` (S, 6): sum, sum of squares, count, downside sum of squares, log equity,
    max drawdown of the net daily returns; and ``blocks`` (S, n_blocks, 2) sums and sums of
    squares over contiguous blocks (for PBO). The state machine starts BALANCED at ``d0``."""
    stats, blocks = evaluate_grid_costs(z, grid, inputs, d0, d1, n_blocks, (inputs.cost,))
    return stats[0], blocks[0]


def evaluate_grid_costs(
    z: np.ndarray,
    grid: ParamGrid,
    inputs: SearchInputs,
    d0: int,
    d1: int,
    n_blocks: int,
    costs: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """``evaluate_grid`` once per cost table in ``costs`` (each shaped like ``inputs.cost``)
    in one pass: the scores and regime paths do not depend on costs and are computed once.
    Returns ``stats`` (K, S, 6) and ``blocks`` (K, S, n_blocks, 2), each ``[k]`` equal to
    ``evaluate_grid`` with ``inputs.cost = costs[k]``."""
    if d1 + 1 >= len(inputs.book_pnl):
        raise ValueError("the window's last pnl day is past the data")
    n_blocks = max(1, min(n_blocks, d1 - d0 + 1))
    z = np.asarray(z, dtype=np.float64)
    if z.shape[1] > 62:
        raise ValueError(f"at most 62 score features (got {z.shape[1]})")
    fin = np.isfinite(z)
    fmask = (fin.astype(np.int64) << np.arange(z.shape[1], dtype=np.int64)).sum(axis=1)
    cost = (
        np.asarray(costs[0], dtype=np.float64)[None]
        if len(costs) == 1
        else np.stack([np.asarray(c, dtype=np.float64) for c in costs])
    )
    args = (
        np.ascontiguousarray(np.where(fin, z, 0.0).T),
        np.ascontiguousarray(fmask, dtype=np.int64),
        grid.weights,
        grid.lower,
        grid.upper,
        grid.band,
        grid.dwell,
        np.ascontiguousarray(inputs.levels, dtype=np.float64),
        np.ascontiguousarray(inputs.vscale, dtype=np.float64),
        np.ascontiguousarray(np.nan_to_num(inputs.book_pnl), dtype=np.float64),
        np.ascontiguousarray(cost),
        int(d0),
        int(d1),
        int(n_blocks),
    )
    with sigint_deferred():
        return _kernel(*args)


def objective_from_stats(stats: np.ndarray, objective: str, periods: int = 365) -> np.ndarray:
    """Objective per set from the kernel's sufficient statistics; flat sets score 0."""
    n = stats[:, STAT_N]
    mean = stats[:, STAT_SUM] / np.maximum(n, 1)
    var = (stats[:, STAT_SUMSQ] - n * mean * mean) / np.maximum(n - 1, 1)
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective == "sharpe":
            out = mean / sd * np.sqrt(periods)
        elif objective == "sortino":
            out = mean / np.sqrt(stats[:, STAT_DOWNSQ] / np.maximum(n, 1)) * np.sqrt(periods)
        elif objective == "calmar":
            cagr = np.expm1(stats[:, STAT_LOGEQ] * periods / np.maximum(n, 1))
            out = cagr / np.abs(stats[:, STAT_MDD])
        elif objective == "mean":
            out = mean * periods
        else:
            raise ValueError(f"unknown objective {objective!r}")
    return np.where(np.isfinite(out) & (sd > 1e-12), out, 0.0)


def sharpe_from_stats(stats: np.ndarray, periods: int = 365) -> np.ndarray:
    return objective_from_stats(stats, "sharpe", periods)
