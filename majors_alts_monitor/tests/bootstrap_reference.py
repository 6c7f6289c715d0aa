"""The reference for the compiled bootstrap statistics: ``stats.sharpe_ci`` and
``stats.regime_edges`` as numpy code, as they were before the kernels (``bootstrap_kernel``),
unchanged. ``tests/stats/test_bootstrap_kernel.py`` pins the kernels to it bit for bit and
``benchmarks/bench_bootstrap.py`` times it against them. No test framework imports here."""

from __future__ import annotations

import math

import numpy as np

from majors_alts_monitor.arrays import as_1d
from majors_alts_monitor.stats.resample import _bootstrap_draws
from majors_alts_monitor.stats.returns import _finite, _is_constant


def _row_sharpe(x: np.ndarray, periods: int) -> np.ndarray:
    """Annualised Sharpe of each row; nan for flat rows."""
    mean = x.mean(axis=1)
    sd = x.std(axis=1, ddof=1)
    flat = x.max(axis=1) == x.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / sd * math.sqrt(periods)
    out[flat | ~(sd > 0.0)] = np.nan
    return out


def ref_sharpe_ci(r, *, n_boot=2000, mean_block=10.0, alpha=0.05, seed=0, periods=365):
    a = _finite(r)
    n = a.size
    if n < 2 or n_boot < 1 or _is_constant(a):
        return (math.nan, math.nan)
    parts = []
    for idx in _bootstrap_draws(n, n_boot, mean_block, seed):
        parts.append(_row_sharpe(a[idx], periods))
    boot = np.concatenate(parts)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


def ref_regime_edges(r, in_regimes, *, n_boot=2000, mean_block=10.0, seed=0):
    a = as_1d(r)
    labs = []
    for in_regime in in_regimes:
        lab = np.asarray(in_regime, dtype=bool).reshape(-1)
        if lab.shape != a.shape:
            raise ValueError("r and in_regime must have the same length")
        labs.append(lab)
    ok = np.isfinite(a)
    a = a[ok]
    n = a.size
    out = [(math.nan, math.nan)] * len(labs)
    todo = []
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
    for idx in _bootstrap_draws(n, n_boot, mean_block, seed):
        rb = a[idx]
        s_all = rb.sum(axis=1)
        for j, (_, lab, edge) in enumerate(todo):
            lb = lab[idx]
            k_in = lb.sum(axis=1)
            s_in = np.where(lb, rb, 0.0).sum(axis=1)
            both = (k_in > 0) & (k_in < n)
            with np.errstate(divide="ignore", invalid="ignore"):
                e_star = s_in / k_in - (s_all - s_in) / (n - k_in)
            dev = np.abs(e_star[both] - edge)
            hits[j] += int(np.count_nonzero(dev >= abs(edge)))
            valid[j] += int(both.sum())
    for j, (i, _, edge) in enumerate(todo):
        out[i] = (edge, hits[j] / valid[j] if valid[j] else math.nan)
    return out
