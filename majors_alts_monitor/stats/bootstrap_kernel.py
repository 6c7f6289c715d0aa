"""Compiled inner steps of the stationary bootstrap's statistics (``stats.sharpe_ci`` and
``stats.regime_edges``): each resample's sums read straight from the returns through its row of
day indices, one resample at a time in a scratch row, without the ``(resamples x days)`` gather
``a[idx]`` and the numpy passes over it.

Bit for bit numpy's results: every sum is numpy's ``add.reduce`` of a C-contiguous row, the
identity ``0.0`` plus numpy's pairwise sum of the row (``numpy/_core/src/umath/loops_utils.h.src``
``pairwise_sum``: a plain loop below 8 values, eight partial sums up to 128, above that the
halves split at a multiple of 8), and every other operation (the mean's division, the
deviations, their squares, the variance's division, the square root) is the one numpy's
``_methods._mean``/``_var`` performs, in the same order, without fast-math. Resamples are
independent, so the parallel loop over them gives the same bits on any number of threads."""

from __future__ import annotations

import numba
import numpy as np

_BLOCK = 128  # numpy's PW_BLOCKSIZE
_ROWS = 16  # resamples per parallel task (one set of scratch rows per task)


@numba.njit(cache=True, inline="always")
def _leaf_sum(x: np.ndarray, lo: int, n: int) -> float:
    """numpy's ``pairwise_sum`` of ``x[lo:lo + n]`` for ``n <= 128``: a plain loop below 8
    values, else eight partial sums combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``, then
    the tail."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += x[i]
        return res
    r0 = x[lo]
    r1 = x[lo + 1]
    r2 = x[lo + 2]
    r3 = x[lo + 3]
    r4 = x[lo + 4]
    r5 = x[lo + 5]
    r6 = x[lo + 6]
    r7 = x[lo + 7]
    end8 = lo + n - n % 8
    i = lo + 8
    while i < end8:
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += x[i]
        i += 1
    return res


def _plan(n: int) -> np.ndarray:
    """numpy's pairwise recursion over ``n`` values as a postfix program, ``(steps, 2)``: a row
    ``(lo, m)`` pushes the block sum of ``x[lo:lo + m]`` (``m <= 128``), a row ``(-1, 0)`` pops
    two sums and pushes ``left + right``. Above 128 values a block splits at ``n2 = n // 2``
    rounded down to a multiple of 8. (numba cannot cache a recursive function, so the recursion
    runs here, once per length, and the kernels run its program.)"""
    steps: list[tuple[int, int]] = []
    todo = [(0, n, False)]
    while todo:
        lo, m, combine = todo.pop()
        if combine:
            steps.append((-1, 0))
        elif m <= _BLOCK:
            steps.append((lo, m))
        else:
            m2 = m // 2
            m2 -= m2 % 8
            todo += [(lo, m, True), (lo + m2, m - m2, False), (lo, m2, False)]
    return np.array(steps, dtype=np.int64).reshape(-1, 2)


@numba.njit(cache=True, inline="always")
def _row_sum(x: np.ndarray, plan: np.ndarray, stack: np.ndarray) -> float:
    """``np.add.reduce`` of a row: the identity ``0.0`` plus numpy's pairwise sum, run from the
    row length's ``plan`` with ``stack`` as scratch."""
    top = 0
    for p in range(plan.shape[0]):
        lo = plan[p, 0]
        if lo < 0:
            top -= 1
            stack[top - 1] = stack[top - 1] + stack[top]
        else:
            stack[top] = _leaf_sum(x, lo, plan[p, 1])
            top += 1
    return 0.0 + stack[0]


@numba.njit(cache=True, inline="always")
def _gather(a: np.ndarray, idx_row: np.ndarray, buf: np.ndarray) -> bool:
    """``buf[:] = a[idx_row]``; False if an index is outside ``[0, len(a))``."""
    n_a = a.shape[0]
    ok = True
    for t in range(idx_row.shape[0]):
        j = idx_row[t]
        if j < 0 or j >= n_a:
            ok = False
            j = 0
        buf[t] = a[j]
    return ok


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _boot_rows(
    a: np.ndarray,
    idx: np.ndarray,
    plan: np.ndarray,
    codes: np.ndarray,
    n_labels: int,
    ann: float,
    sharpe: np.ndarray,
    s_all: np.ndarray,
    k_in: np.ndarray,
    s_in: np.ndarray,
) -> bool:
    """For each resample ``b`` (row of ``idx``): ``s_all[b]``, the sum of ``a[idx[b]]``; for
    each label ``j < n_labels`` (bit ``j`` of ``codes[day]``) the count ``k_in[j, b]`` and the
    sum ``s_in[j, b]`` of ``where(label, a, 0.0)`` over the resample; if ``sharpe`` has a row
    per resample (else it is empty), the annualised Sharpe. False if an index is outside
    ``[0, len(a))``."""
    n_rows, n = idx.shape
    want_sharpe = sharpe.shape[0] > 0
    n_tasks = (n_rows + _ROWS - 1) // _ROWS
    ok = np.ones(n_tasks, dtype=np.bool_)
    for task in numba.prange(n_tasks):
        buf = np.empty(n)
        part = np.empty(n)
        code = np.empty(n, dtype=np.int64)
        buf_bits = buf.view(np.int64)
        part_bits = part.view(np.int64)
        stack = np.empty(plan.shape[0])
        for b in range(task * _ROWS, min(n_rows, (task + 1) * _ROWS)):
            row = idx[b]
            if not _gather(a, row, buf):
                ok[task] = False
                continue
            s = _row_sum(buf, plan, stack)
            s_all[b] = s
            if n_labels > 0:
                for t in range(n):
                    code[t] = codes[row[t]]
            for j in range(n_labels):
                k = 0
                for t in range(n):  # where(label, value, 0.0) as bits: no branch, no gather
                    bit = (code[t] >> j) & 1
                    part_bits[t] = buf_bits[t] & -bit
                    k += bit
                k_in[j, b] = k
                s_in[j, b] = _row_sum(part, plan, stack)
            if want_sharpe:
                hi = buf[0]
                lo = buf[0]
                for t in range(1, n):
                    v = buf[t]
                    hi = max(hi, v)
                    lo = min(lo, v)
                mean = s / n
                for t in range(n):  # numpy's std: x = arr - mean; square(x); sum; / (n - 1)
                    d = buf[t] - mean
                    buf[t] = d * d
                sd = np.sqrt(_row_sum(buf, plan, stack) / max(n - 1, 0))
                if hi == lo or not sd > 0.0:
                    sharpe[b] = np.nan
                else:
                    sharpe[b] = mean / sd * ann
    return bool(ok.all())


_LABELS_PER_PASS = 32  # labels a pass handles (bits of an int64 day code)
_NO_COUNTS = np.zeros((0, 0), dtype=np.int64)
_NO_SUMS = np.zeros((0, 0))
_NO_CODES = np.zeros(0, dtype=np.int64)


def _check(a: np.ndarray, idx: np.ndarray) -> None:
    if a.ndim != 1 or a.dtype != np.float64 or not a.flags.c_contiguous:
        raise ValueError("a must be a C-contiguous 1-D float64 array")
    if idx.ndim != 2 or idx.dtype != np.int64 or not idx.flags.c_contiguous:
        raise ValueError("idx must be a C-contiguous 2-D int64 array")
    if idx.shape[0] and idx.shape[1] == 0:
        raise ValueError("idx must have at least one column")


def _out_of_range() -> ValueError:
    return ValueError("idx holds a day index outside [0, len(a))")


def boot_sharpe(a: np.ndarray, idx: np.ndarray, periods: int) -> np.ndarray:
    """Annualised Sharpe of each resample ``a[idx[b]]``, the bits of numpy's
    ``mean(axis=1) / std(axis=1, ddof=1) * sqrt(periods)`` on ``a[idx]``; nan for a flat
    resample (max == min) or a standard deviation that is not > 0."""
    _check(a, idx)
    out = np.empty(idx.shape[0])
    s_all = np.empty(idx.shape[0])
    ann = float(np.sqrt(periods))
    plan = _plan(idx.shape[1])
    if not _boot_rows(a, idx, plan, _NO_CODES, 0, ann, out, s_all, _NO_COUNTS, _NO_SUMS):
        raise _out_of_range()
    return out


def boot_edge_sums(
    a: np.ndarray, idx: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s_all, k_in, s_in)`` of each resample ``b`` and label row ``j`` of ``labels`` (bool,
    ``(labels, len(a))``): ``s_all[b] = a[idx[b]].sum()``, ``k_in[j, b] =
    labels[j][idx[b]].sum()`` (int64) and ``s_in[j, b] = where(labels[j][idx[b]], a[idx[b]],
    0.0).sum()``, the bits of numpy's row sums."""
    _check(a, idx)
    if labels.ndim != 2 or labels.dtype != np.bool_ or labels.shape[1] != a.shape[0]:
        raise ValueError("labels must be a bool array of shape (labels, len(a))")
    rows, m = idx.shape[0], labels.shape[0]
    plan = _plan(idx.shape[1])
    s_all = np.empty(rows)
    k_in = np.empty((m, rows), dtype=np.int64)
    s_in = np.empty((m, rows))
    no_sharpe = np.empty(0)
    for g in range(0, max(m, 1), _LABELS_PER_PASS):
        group = labels[g : g + _LABELS_PER_PASS]
        bits = np.arange(group.shape[0], dtype=np.int64)[:, None]
        codes = (group.astype(np.int64) << bits).sum(axis=0)
        k, s = k_in[g : g + group.shape[0]], s_in[g : g + group.shape[0]]
        if not _boot_rows(a, idx, plan, codes, group.shape[0], 0.0, no_sharpe, s_all, k, s):
            raise _out_of_range()
    return s_all, k_in, s_in
