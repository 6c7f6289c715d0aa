"""The stationary bootstrap's resamples: numpy's draws (``stationary_bootstrap_indices``), the
resampled day indices chained from them in one compiled pass (``chain_into``: integer
arithmetic, no running-maximum or gather temporaries), the draws in chunks of bounded memory
(``_bootstrap_draws``) and shared between the statistics of one run (``bootstrap_reuse``).
``stats.sharpe_ci`` and ``stats.regime_edges`` use them."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import numba
import numpy as np
import numpy.typing as npt

# Number of float64 elements a bootstrap chunk may hold (about 32 MB a (chunk, n) array).
_BOOT_CHUNK_ELEMENTS = 4_000_000


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


def stationary_bootstrap_indices(
    n: int, n_boot: int, mean_block: float, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Politis & Romano (1994) stationary-bootstrap indices, shape ``(n_boot, n)``.

    Each resample is a chain of blocks of geometric length with mean ``mean_block``, each
    block starting at a uniform random day and wrapping around the end of the sample. The
    draws are numpy's (two arrays, in this order, drawn a piece of rows at a time: the same
    numbers); the chains are compiled (``resample.chain_into``).
    """
    if n < 0 or n_boot < 0:
        raise ValueError("n and n_boot must be non-negative")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block must be >= 1, got {mean_block}")
    if n == 0 or n_boot == 0:
        return np.zeros((n_boot, n), dtype=np.int64)
    p = 1.0 / float(mean_block)
    # rng.random((n_boot, n)), then rng.integers(0, n, (n_boot, n)): numpy's streams come out
    # the same drawn a piece of rows at a time, so only a piece of each is held, not two
    # (n_boot, n) arrays of 8-byte draws beside the result
    new_block = np.empty((n_boot, n), dtype=bool)
    u = np.empty((min(_DRAW_ROWS, n_boot), n))
    for r0 in range(0, n_boot, _DRAW_ROWS):
        k = min(_DRAW_ROWS, n_boot - r0)
        rng.random(out=u[:k])
        np.less(u[:k], p, out=new_block[r0 : r0 + k])
    out = np.empty((n_boot, n), dtype=np.int64)
    for r0 in range(0, n_boot, _DRAW_ROWS):
        k = min(_DRAW_ROWS, n_boot - r0)
        starts = rng.integers(0, n, size=(k, n), dtype=np.int64)
        chain_into(new_block[r0 : r0 + k], starts, out[r0 : r0 + k])
    return out


_DRAW_ROWS = 64
"""Resamples whose draws are made at a time (``stationary_bootstrap_indices``)."""


def _boot_chunks(n: int, n_boot: int) -> list[int]:
    size = max(1, _BOOT_CHUNK_ELEMENTS // max(n, 1))
    return [min(size, n_boot - i) for i in range(0, n_boot, size)]


_SHARE_MAX_ELEMENTS = 2 * _BOOT_CHUNK_ELEMENTS
"""Draws are shared only up to this many indices (64 MB): beyond it they are drawn again, so
the chunking's memory bound holds whatever the sample and the number of resamples."""

_shared_draws: contextvars.ContextVar[
    dict[tuple[int, int, float, int], list[npt.NDArray[np.int64]]] | None
] = contextvars.ContextVar("shared_bootstrap_draws", default=None)


@contextlib.contextmanager
def bootstrap_reuse() -> Iterator[None]:
    """Inside the block, bootstraps of the same length, count, mean block and seed (the run's
    Sharpe interval and its by-regime edges: the same finite days) share their index draws
    instead of drawing the same indices again (up to ``_SHARE_MAX_ELEMENTS`` indices); they are
    forgotten when the block ends. Per thread and context (a ``ContextVar``): runs in threads
    of one process do not see each other's draws."""
    token = _shared_draws.set(_shared_draws.get() if _shared_draws.get() is not None else {})
    try:
        yield
    finally:
        _shared_draws.reset(token)


def _bootstrap_draws(
    n: int, n_boot: int, mean_block: float, seed: int
) -> Iterator[npt.NDArray[np.int64]]:
    """The stationary-bootstrap index chunks of ``default_rng(seed)``: ``(chunk, n)`` arrays
    of at most ``_BOOT_CHUNK_ELEMENTS`` values, ``n_boot`` rows in all."""
    shared = _shared_draws.get() if n * n_boot <= _SHARE_MAX_ELEMENTS else None
    key = (n, n_boot, float(mean_block), seed)
    if shared is not None and key in shared:
        yield from shared[key]
        return
    rng = np.random.default_rng(seed)
    kept = []
    for size in _boot_chunks(n, n_boot):
        idx = stationary_bootstrap_indices(n, size, mean_block, rng)
        if shared is not None:
            kept.append(idx)
        yield idx
    if shared is not None:
        shared[key] = kept
