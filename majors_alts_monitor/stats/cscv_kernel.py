"""Compiled inner step of CSCV (``cscv.cscv_logits``): for each split, its pooled in-sample
sums (added block by block), each trial's in-sample and out-of-sample Sharpe, the best trial on
one side and its rank on the other, in one pass per split without ``(splits x trials)``
temporaries. From the pooled sums on, every operation is the one numpy performs in
``cscv._sharpe_from_sums`` and ``cscv._logits_for``, element by element in the same order,
so the results are the same bits; the logarithm is left to numpy."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _sharpe(s: float, q: float, c: float) -> float:
    """Per-period Sharpe from a sum, a sum of squares and a count (``cscv._sharpe_from_sums``,
    the same operations); 0 for a (near) zero variance or fewer than two values. Computed
    without branches, then selected, so that a loop of it vectorises."""
    mean = s / c
    v = q - s * mean
    sr = mean / np.sqrt(v / (c - 1.0))
    ok = (v > 1e-10 * q) and (c >= 2.0)
    return sr if ok else 0.0


@numba.njit(cache=True)
def _odds(best_from: np.ndarray, rank_in: np.ndarray) -> float:
    """``w / (1 - w)``, ``w`` the relative rank in ``rank_in`` (ties averaged) of the trial
    with the largest ``best_from`` (the first of equals)."""
    best = 0
    for j in range(1, best_from.shape[0]):
        if best_from[j] > best_from[best]:
            best = j
    perf = rank_in[best]
    n_less = 0
    n_equal = 0
    for j in range(rank_in.shape[0]):
        if rank_in[j] < perf:
            n_less += 1
        elif rank_in[j] == perf:
            n_equal += 1
    w = (n_less + (n_equal + 1) / 2.0) / (rank_in.shape[0] + 1.0)
    return w / (1.0 - w)


_ROWS = 64  # splits per parallel task (one set of scratch rows per task)


@numba.njit(cache=True, parallel=True)
def cscv_odds(
    bs: np.ndarray,
    bq: np.ndarray,
    bc: np.ndarray,
    in_blocks: np.ndarray,
    tot_s: np.ndarray,
    tot_q: np.ndarray,
    tot_c: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
) -> None:
    """Block sums ``bs``/``bq`` (blocks x trials) and counts ``bc`` (blocks x trials, or x 1
    when every trial has the same counts, with ``tot_c`` of length 1); ``in_blocks`` (splits x
    S/2) the in-sample blocks of each split in increasing order. Writes each split's odds
    (IS-best ranked OOS) to ``first`` and its complement's (OOS-best ranked IS) to ``second``.
    A split's pooled in-sample sums are added block by block in that order (no ``(splits x
    trials)`` array); splits are independent, tasks of ``_ROWS`` run in parallel."""
    n_rows, half = in_blocks.shape
    n_trials = bs.shape[1]
    n_c = bc.shape[1]
    one_count = n_c == 1
    n_tasks = (n_rows + _ROWS - 1) // _ROWS
    for task in numba.prange(n_tasks):
        s_in = np.empty(n_trials)
        q_in = np.empty(n_trials)
        c_in = np.empty(n_c)
        sr_in = np.empty(n_trials)
        sr_out = np.empty(n_trials)
        for r in range(task * _ROWS, min(n_rows, (task + 1) * _ROWS)):
            s_in[:] = 0.0
            q_in[:] = 0.0
            c_in[:] = 0.0
            for h in range(half):
                k = in_blocks[r, h]
                for j in range(n_trials):
                    s_in[j] += bs[k, j]
                for j in range(n_trials):
                    q_in[j] += bq[k, j]
                for j in range(n_c):
                    c_in[j] += bc[k, j]
            if one_count:  # a loop without the count's gather: LLVM vectorises it
                ci = c_in[0]
                co = tot_c[0] - ci
                for j in range(n_trials):
                    sr_in[j] = _sharpe(s_in[j], q_in[j], ci)
                    sr_out[j] = _sharpe(tot_s[j] - s_in[j], tot_q[j] - q_in[j], co)
            else:
                for j in range(n_trials):
                    ci = c_in[j]
                    sr_in[j] = _sharpe(s_in[j], q_in[j], ci)
                    sr_out[j] = _sharpe(tot_s[j] - s_in[j], tot_q[j] - q_in[j], tot_c[j] - ci)
            first[r] = _odds(sr_in, sr_out)
            second[r] = _odds(sr_out, sr_in)
