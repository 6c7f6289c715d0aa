"""Compiled inner step of CSCV (``stats.cscv_logits``): from one chunk of splits' pooled
in-sample sums, each split's in-sample and out-of-sample Sharpe of every trial, the best trial
on one side and its rank on the other, in one pass per split without ``(splits x trials)``
temporaries. Every operation is the one numpy performs in ``stats._sharpe_from_sums`` and
``stats._logits_for``, element by element in the same order, so the results are the same bits;
the logarithm is left to numpy."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _sharpe(s: float, q: float, c: float) -> float:
    mean = s / c
    v = q - s * mean  # (n - 1) * var
    if not (v > 1e-10 * q) or not (c >= 2.0):
        return 0.0
    return mean / np.sqrt(v / (c - 1.0))


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


_ROWS = 64  # splits per parallel task (one pair of scratch rows per task)


@numba.njit(cache=True, parallel=True)
def cscv_odds(
    s_in: np.ndarray,
    q_in: np.ndarray,
    c_in: np.ndarray,
    tot_s: np.ndarray,
    tot_q: np.ndarray,
    tot_c: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
) -> None:
    """Rows of ``s_in``/``q_in`` (splits x trials) and ``c_in`` (splits x trials, or x 1
    when every trial has the same counts, with ``tot_c`` of length 1): writes each split's odds
    (IS-best ranked OOS) to ``first`` and its complement's (OOS-best ranked IS) to ``second``.
    Splits are independent: tasks of ``_ROWS`` splits run in parallel, each row's arithmetic
    is unchanged."""
    n_rows, n_trials = s_in.shape
    one_count = c_in.shape[1] == 1
    n_tasks = (n_rows + _ROWS - 1) // _ROWS
    for task in numba.prange(n_tasks):
        sr_in = np.empty(n_trials)
        sr_out = np.empty(n_trials)
        for r in range(task * _ROWS, min(n_rows, (task + 1) * _ROWS)):
            for j in range(n_trials):
                jc = 0 if one_count else j
                ci = c_in[r, jc]
                sr_in[j] = _sharpe(s_in[r, j], q_in[r, j], ci)
                sr_out[j] = _sharpe(tot_s[j] - s_in[r, j], tot_q[j] - q_in[r, j], tot_c[jc] - ci)
            first[r] = _odds(sr_in, sr_out)
            second[r] = _odds(sr_out, sr_in)
