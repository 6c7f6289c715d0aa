"""Compiled row-wise NaN-aware median: ``np.nanmedian(x, axis=1)`` to the bit, without numpy's
masked-array path (numpy takes ``np.ma.median`` for rows shorter than 600, about 9 ms per call
on a 2,500 x 60 panel; the features and the funding fill call it on every run)."""

from __future__ import annotations

import numba
import numpy as np

_NUMPY_SMALL = 600
"""Rows shorter than this take numpy's masked-array median (``np.ma.median``), longer ones
``np.median`` of each row's non-NaN values: they treat signed zeros differently."""


@numba.njit(cache=True)
def _row_nanmedian(x: np.ndarray, masked_path: bool) -> np.ndarray:
    n_rows, n_cols = x.shape
    out = np.empty(n_rows)
    buf = np.empty(n_cols)
    for i in range(n_rows):
        m = 0
        for j in range(n_cols):  # the row's non-NaN values, insertion-sorted
            v = x[i, j]
            if v != v:
                continue
            k = m
            while k > 0 and buf[k - 1] > v:
                buf[k] = buf[k - 1]
                k -= 1
            buf[k] = v
            m += 1
        if m == 0:
            out[i] = np.nan
        elif m % 2 == 1 and not masked_path:
            out[i] = 0.0 + buf[m // 2]  # np.median: a zero-started mean of the one value
        else:
            # the mean of the two middle values (the middle one twice for an odd count on
            # numpy's masked-array path) as numpy's add.reduce forms it: the first value plus
            # the (zero-started) sum of the rest, so two zeros give +0.0
            lo = buf[(m - 1) // 2]
            hi = buf[m // 2]
            out[i] = (lo + (0.0 + hi)) / 2.0
    return out


def row_nanmedian(x: np.ndarray) -> np.ndarray:
    """Median of each row's non-NaN values (NaN for a row without any), as ``np.nanmedian(x,
    axis=1)`` computes it, without its all-NaN warning."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"x must be 2-D, got shape {a.shape}")
    return _row_nanmedian(a, a.shape[1] < _NUMPY_SMALL)
