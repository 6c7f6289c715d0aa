"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV;
Bailey, Borwein, Lopez de Prado, Zhu 2017): block sums of the trials' returns, the logits of
every in-sample/out-of-sample split and the PBO. Pure numpy around one compiled pass
(``cscv_kernel.py``); no file I/O. Re-exported by ``stats``."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import numpy.typing as npt

from ..interrupts import sigint_deferred

__all__ = ["block_stats", "cscv_logits", "pbo", "pbo_from_blocks"]

FloatArray = npt.NDArray[np.float64]


def block_stats(returns: npt.ArrayLike, n_blocks: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-block sum, sum of squares and count of a ``(T, N)`` trial matrix.

    Blocks are contiguous, ``T // n_blocks`` rows each, the remainder going to the last.
    Non-finite values are left out (they add nothing to the sums and the count).
    Returns three ``(n_blocks, N)`` arrays.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"returns must be (T, N), got shape {x.shape}")
    t = x.shape[0]
    if n_blocks < 1 or t < n_blocks:
        raise ValueError(f"need 1 <= n_blocks <= T, got n_blocks={n_blocks}, T={t}")
    size = t // n_blocks
    n = x.shape[1]
    bsum = np.empty((n_blocks, n))
    bsq = np.empty((n_blocks, n))
    bcnt = np.empty((n_blocks, n))
    for k in range(n_blocks):  # one block at a time: no full-size temporaries
        stop = t if k == n_blocks - 1 else (k + 1) * size
        xb = x[k * size : stop]
        ok = np.isfinite(xb)
        xz = np.where(ok, xb, 0.0)
        bsum[k] = xz.sum(axis=0)
        bcnt[k] = ok.sum(axis=0)
        np.multiply(xz, xz, out=xz)
        bsq[k] = xz.sum(axis=0)
    return bsum, bsq, bcnt


def _sharpe_from_sums(s: FloatArray, q: FloatArray, c: FloatArray) -> FloatArray:
    """Per-period Sharpe from sums; 0 where the variance is zero or fewer than two values.

    Overwrites and returns ``s``; ``q`` is used as scratch space. ``c`` may broadcast.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.divide(s, c)
        np.multiply(s, mean, out=s)  # s <- sum * mean = sum^2 / n
        np.subtract(q, s, out=s)  # s <- (n - 1) * var
        # flat trials: the sums leave a rounding residue, not an exact zero
        bad = ~(s > 1e-10 * q)
        bad |= ~(c >= 2.0)
        np.divide(s, c - 1.0, out=s)  # var
        np.sqrt(s, out=s)
        np.divide(mean, s, out=s)
    s[bad] = 0.0
    return s


def _logits_for(best_from: FloatArray, rank_in: FloatArray) -> FloatArray:
    """Logit of the OOS relative rank of each row's IS-best trial (average rank for ties)."""
    rows = np.arange(best_from.shape[0])
    best = np.argmax(best_from, axis=1)
    perf = rank_in[rows, best][:, None]
    n_less = np.count_nonzero(rank_in < perf, axis=1)
    n_equal = np.count_nonzero(rank_in == perf, axis=1)
    rank = n_less + (n_equal + 1) / 2.0
    w = rank / (rank_in.shape[1] + 1.0)
    return np.log(w / (1.0 - w))


@functools.lru_cache(maxsize=8)
def _split_blocks(n_blk: int) -> npt.NDArray[np.int64]:
    """The in-sample blocks (increasing) of each ``C(n_blk, n_blk/2)`` split that holds block 0,
    in ``itertools.combinations`` order (block 0, then the combinations of the others): one row
    per split. Cached and read-only."""
    half = n_blk // 2
    combos = list(itertools.combinations(range(1, n_blk), half - 1))
    out = np.zeros((len(combos), half), dtype=np.int64)
    out[:, 1:] = np.array(combos, dtype=np.int64).reshape(len(combos), half - 1)
    out.flags.writeable = False
    return out


def cscv_logits(
    block_sum: npt.ArrayLike, block_sumsq: npt.ArrayLike, block_count: npt.ArrayLike
) -> FloatArray:
    """CSCV logits of all ``C(S, S/2)`` in-sample/out-of-sample splits of ``S`` blocks.

    For each split, the trial with the best in-sample Sharpe (from the pooled block sums) is
    ranked among all trials out of sample, ``w = rank / (N + 1)``, and ``log(w / (1 - w))`` is
    returned. Order: first the splits whose in-sample half holds block 0, in
    ``itertools.combinations`` order, then their complements in the same order (a split's
    out-of-sample half is its complement's in-sample half, so each pair of Sharpe matrices
    serves two splits).

    Memory is O(N) per thread: a split's pooled in-sample sums are added block by block
    (``cscv_kernel.cscv_odds``), never a ``(splits x N)`` array.
    """
    bs = np.asarray(block_sum, dtype=np.float64)
    bq = np.asarray(block_sumsq, dtype=np.float64)
    bc = np.asarray(block_count, dtype=np.float64)
    if bs.ndim != 2 or bs.shape != bq.shape or bs.shape != bc.shape:
        raise ValueError("block_sum, block_sumsq, block_count must be (S, N) of the same shape")
    n_blk, n_trials = bs.shape
    if n_blk < 2 or n_blk % 2:
        raise ValueError(f"the number of blocks must be even and >= 2, got {n_blk}")
    bs = np.where(np.isfinite(bs), bs, 0.0)
    bq = np.where(np.isfinite(bq), bq, 0.0)
    bc = np.where(np.isfinite(bc), bc, 0.0)
    # the same count in every trial (no missing values): carry one column, not N
    if n_trials > 0 and np.all(bc == bc[:, :1]):
        bc = bc[:, :1].copy()
    tot_s, tot_q, tot_c = bs.sum(axis=0), bq.sum(axis=0), bc.sum(axis=0)

    in_blocks = _split_blocks(n_blk)  # one row per split holding block 0
    first = np.empty(in_blocks.shape[0])
    second = np.empty(in_blocks.shape[0])
    from .cscv_kernel import cscv_odds

    if n_trials == 0:
        raise ValueError("cscv_logits needs at least one trial")
    # per split, the pooled sums, both Sharpe rows and both ranks in one compiled pass: the
    # same bits as the block-by-block sums then _sharpe_from_sums and _logits_for
    with sigint_deferred():  # a parallel compiled kernel: Ctrl-C is raised after it
        cscv_odds(
            np.ascontiguousarray(bs),
            np.ascontiguousarray(bq),
            np.ascontiguousarray(bc),
            np.array(in_blocks),  # a writeable copy: one compiled signature
            tot_s,
            tot_q,
            tot_c,
            first,
            second,
        )
    np.log(first, out=first)
    np.log(second, out=second)
    return np.concatenate([first, second])


def pbo_from_blocks(
    block_sum: npt.ArrayLike, block_sumsq: npt.ArrayLike, block_count: npt.ArrayLike
) -> float:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado, Zhu 2017).

    The share of the ``C(S, S/2)`` splits whose in-sample best trial ranks in the lower half
    out of sample (logit <= 0). Trials with zero variance get Sharpe 0. nan with fewer than two
    trials.
    """
    bs = np.asarray(block_sum, dtype=np.float64)
    if bs.ndim != 2 or bs.shape[1] < 2:
        return math.nan
    logits = cscv_logits(bs, block_sumsq, block_count)
    return float(np.mean(logits <= 0.0))


def pbo(returns: npt.ArrayLike, n_blocks: int = 16) -> float:
    """PBO of a ``(T, N)`` matrix of trial returns: ``block_stats`` then ``pbo_from_blocks``."""
    return pbo_from_blocks(*block_stats(returns, n_blocks))
