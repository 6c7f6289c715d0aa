"""Grid search of composite-score parameters in one fused pass over (parameter sets x days).

The always-held book's daily return and the cost of every regime transition are computed once
per run (``SearchInputs``); a numba kernel then runs the score, thresholds, hysteresis and
dwell state machine for every parameter set in parallel and accumulates each set's sufficient
statistics (sum, sum of squares, downside, log-equity, max drawdown) and per-block sums for
PBO, without ever building a (sets x days) array. Memory is O(sets x blocks).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np

from ..arrays import Panel, Series, shift
from ..backtest import drift_weights, trade_costs
from ..config import CostsConfig, GridConfig
from .hysteresis import transition

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


_CHUNK = 16  # parameter sets per parallel task (one score buffer per task, not per set)


@numba.njit(parallel=True, cache=True)
def _kernel(
    zt, fmask, w, lower, upper, band, dwell, levels, vscale, book_pnl, cost, d0, d1, n_blocks
):
    """``zt``: the features with NaN as 0, one contiguous row per feature ``(F, n_days)``;
    ``fmask[d]``: bit ``f`` set where feature ``f`` is finite on day ``d`` (a set's score is NaN
    on a day none of its features is); ``cost``: ``(K, n_days, 3, 3)``, K cost tables charged
    to the same regime paths (``stats`` ``(K, S, 6)``, ``blocks`` ``(K, S, n_blocks, 2)``).

    Per task of ``_CHUNK`` sets, each set's score over the window is built first, feature by
    feature, in a buffer (a vectorised loop over days; the same additions in the same order as
    a per-day dot product, so the same bits), then the state machine runs over it once and
    records the regime path, then each cost table is charged along that path. The window's
    cost tables are copied once into a contiguous ``(K, days, 9)`` layout."""
    n_sets = w.shape[0]
    n_feat = zt.shape[0]
    n_cost = cost.shape[0]
    n = d1 - d0 + 1
    stats = np.zeros((n_cost, n_sets, 6))
    blocks = np.zeros((n_cost, n_sets, n_blocks, 2))
    carry = np.empty((n, 3))  # per-day gross of each regime, shared by every set
    cw = np.empty((n_cost, n, 9))  # cost of moving a -> b on pnl day d0 + t + 1: [., t, 3a + b]
    fm = np.empty(n, dtype=np.int64)
    for t in range(n):
        fm[t] = fmask[d0 + t]
        for k in range(3):
            carry[t, k] = levels[k] * vscale[d0 + t] * book_pnl[d0 + t + 1]
            for j in range(3):
                for c in range(n_cost):
                    cw[c, t, 3 * k + j] = cost[c, d0 + t + 1, k, j]
    bounds = np.empty(n_blocks + 1, dtype=np.int64)  # first day of each block, then n
    for k in range(n_blocks + 1):
        bounds[k] = (k * n + n_blocks - 1) // n_blocks
    n_tasks = (n_sets + _CHUNK - 1) // _CHUNK
    for task in numba.prange(n_tasks):
        sc = np.empty(n)
        gross = np.empty(n)  # the set's gross return on pnl day d0 + t + 1
        path = np.empty(n, dtype=np.int64)  # its move a -> b there, as 3 a + b
        for s in range(task * _CHUNK, min(n_sets, (task + 1) * _CHUNK)):
            used = 0  # the features this set weighs
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
                    q = p if p < 0.0 else 0.0  # branch-free downside: adds +0.0 when p >= 0
                    dn += q * q
                    ruined |= p <= -1.0
                    eq *= 1.0 + p
                    if eq > peak:
                        peak = eq
                    elif eq < peak * (1.0 + mdd):
                        mdd = eq / peak - 1.0
                    if t == nxt:  # block sums kept in registers, stored once per block
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
                stats[c, s, 4] = -np.inf if ruined else np.log(eq)  # sum of log1p(p)
                stats[c, s, 5] = mdd
    return stats, blocks


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) while a compiled kernel runs; it is re-raised under the previous
    handler (a KeyboardInterrupt by default) the moment the kernel returns.

    The parallel kernel calls back into Python (numba's ``_numba_unpickle``). A SIGINT that
    arrives meanwhile, on any thread, makes the interpreter raise KeyboardInterrupt inside that
    callback, which the compiled code does not expect: the process crashed (segmentation fault)
    or reported ``SystemError: ... returned a result with an exception set``. Here the handler
    in force during the kernel only records the signal, so the callback returns normally."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, _frame: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
        if hit:
            signal.raise_signal(signal.SIGINT)


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
