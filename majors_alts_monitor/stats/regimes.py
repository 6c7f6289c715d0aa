"""Statistics by regime: the mean edge of a regime over the others with its bootstrap
interval, and the always-held book's metrics on each regime's days."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..arrays import as_1d as _as_1d
from .bootstrap_kernel import boot_edge_sums
from .resample import _bootstrap_draws
from .returns import (
    PERIODS,
    _ann_return,
    _ann_vol,
    _finite,
    _hit_rate,
    max_drawdown,
    sharpe,
)

# --------------------------------------------------------------------------------------------
# regimes
# --------------------------------------------------------------------------------------------


def regime_edge(
    r: npt.ArrayLike,
    in_regime: npt.ArrayLike,
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
) -> tuple[float, float]:
    """``(edge, p_value)``: mean return in the regime minus mean return outside it.

    The two-sided p-value comes from a stationary bootstrap of the (return, label) pairs,
    re-centred under the null: ``p = mean(|edge* - edge| >= |edge|)`` over the resamples that
    hold days of both kinds. Days with a missing return are dropped. nan when either side is
    empty.
    """
    return regime_edges(r, [in_regime], n_boot=n_boot, mean_block=mean_block, seed=seed)[0]


def regime_edges(
    r: npt.ArrayLike,
    in_regimes: Sequence[npt.ArrayLike],
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """``regime_edge`` of ``r`` for each label vector in ``in_regimes``, in one pass: the
    resampled days depend only on the seed and the number of finite returns, the same for every
    label, so the indices are drawn once and each label is evaluated on them (the results are
    those of one ``regime_edge`` call per label). The resamples' sums (all days, labelled days
    and their count) are numpy's row sums of ``a[idx]`` and ``where(label[idx], a[idx], 0)``,
    computed by the compiled ``bootstrap_kernel.boot_edge_sums`` to the bit without forming
    them."""
    a = _as_1d(r)
    labs = []
    for in_regime in in_regimes:
        lab = np.asarray(in_regime, dtype=bool).reshape(-1)
        if lab.shape != a.shape:
            raise ValueError("r and in_regime must have the same length")
        labs.append(lab)
    ok = np.isfinite(a)
    a = a[ok]
    n = a.size
    out: list[tuple[float, float]] = [(math.nan, math.nan)] * len(labs)
    todo: list[tuple[int, npt.NDArray[np.bool_], float]] = []
    for i, lab in enumerate(labs):
        lab = lab[ok]
        n_in = int(lab.sum())
        if n_in == 0 or n_in == n:
            continue
        edge = float(np.mean(a[lab]) - np.mean(a[~lab]))
        out[i] = (edge, math.nan)
        if n_boot >= 1:
            todo.append((i, lab, edge))
    if not todo:
        return out
    hits = [0] * len(todo)
    valid = [0] * len(todo)
    labels = np.stack([lab for _, lab, _ in todo])
    for idx in _bootstrap_draws(n, n_boot, mean_block, seed):
        s_all, k_ins, s_ins = boot_edge_sums(a, idx, labels)
        for j, (_, _, edge) in enumerate(todo):
            k_in = k_ins[j]
            s_in = s_ins[j]
            both = (k_in > 0) & (k_in < n)
            with np.errstate(divide="ignore", invalid="ignore"):
                e_star = s_in / k_in - (s_all - s_in) / (n - k_in)
            dev = np.abs(e_star[both] - edge)
            hits[j] += int(np.count_nonzero(dev >= abs(edge)))
            valid[j] += int(both.sum())
    for j, (i, _, edge) in enumerate(todo):
        out[i] = (edge, hits[j] / valid[j] if valid[j] else math.nan)
    return out


def regime_metrics(
    r_book: npt.ArrayLike,
    regimes: npt.ArrayLike,
    r_strategy: npt.ArrayLike,
    regime_names: Sequence[str],
    *,
    n_boot: int = 2000,
    mean_block: float = 10.0,
    seed: int = 0,
    periods: int = PERIODS,
) -> list[dict]:
    """One row of ``regime_metrics.csv`` per regime name, in the order given.

    Statistics of the always-held book ``r_book`` on the days of each regime (its drawdown
    compounds those days only): regime, days, share, mean_daily_return, ann_return, ann_vol,
    sharpe, hit_rate, max_drawdown; strategy_sharpe (Sharpe of ``r_strategy`` on those days);
    edge and edge_p_value (``regime_edge`` of the book in the regime against outside it).
    """
    book = _as_1d(r_book, "r_book")
    strat = _as_1d(r_strategy, "r_strategy")
    reg = np.asarray(regimes).reshape(-1)
    if not (book.shape == strat.shape == reg.shape):
        raise ValueError("r_book, regimes and r_strategy must have the same length")
    total = reg.size
    rows = []
    masks = [reg == name for name in regime_names]
    edges = regime_edges(book, masks, n_boot=n_boot, mean_block=mean_block, seed=seed)
    for name, mask, (edge, p) in zip(regime_names, masks, edges, strict=True):
        days = int(mask.sum())
        sub = _finite(book[mask])
        rows.append(
            {
                "regime": str(name),
                "days": days,
                "share": days / total if total else math.nan,
                "mean_daily_return": float(np.mean(sub)) if sub.size else math.nan,
                "ann_return": _ann_return(sub, periods),
                "ann_vol": _ann_vol(sub, periods),
                "sharpe": sharpe(sub, periods),
                "hit_rate": _hit_rate(sub),
                "max_drawdown": max_drawdown(sub),
                "strategy_sharpe": sharpe(strat[mask], periods),
                "edge": edge,
                "edge_p_value": p,
            }
        )
    return rows
