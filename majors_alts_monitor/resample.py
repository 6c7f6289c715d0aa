"""Compiled inner step of the stationary bootstrap (``stats.stationary_bootstrap_indices``):
the resampled day indices from the block-start draws, in one pass without the running-maximum
and gather temporaries of the numpy formulation. Integer arithmetic only: the same indices."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def chain_into(new_block: np.ndarray, starts: np.ndarray, out: np.ndarray) -> None:
    """``out[b, t] = (starts[b, s] + t - s) mod n`` with ``s`` the last ``t' <= t`` where
    ``new_block[b, t']`` (day 0 always starts a block)."""
    n_boot, n = new_block.shape
    for b in range(n_boot):
        first = 0
        for t in range(n):
            if t == 0 or new_block[b, t]:
                first = starts[b, t]
                j = first
            else:
                j += 1
                if j == n:
                    j = 0
            out[b, t] = j


def chain_indices(new_block: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The ``(n_boot, n)`` indices of ``chain_into``, in a new array."""
    out = np.empty(new_block.shape, dtype=np.int64)
    chain_into(new_block, starts, out)
    return out
