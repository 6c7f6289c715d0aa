"""The compiled row median against numpy's ``nanmedian`` (the outside reference), bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from majors_alts_monitor.market.row_median import row_nanmedian


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return bool(
        np.array_equal(nan_a, nan_b)
        and np.array_equal(a[~nan_a].view(np.int64), b[~nan_b].view(np.int64))
    )


@pytest.mark.parametrize("seed", range(30))
def test_row_nanmedian_equals_numpy_bit_for_bit(seed: int) -> None:
    """Both numpy paths (masked-array median under 600 columns, ``np.median`` per row above),
    odd and even counts, signed zeros, infinities, huge values and all-NaN rows."""
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 80))
    cols = int(rng.integers(590, 700)) if seed % 5 == 0 else int(rng.integers(1, 70))
    x = rng.normal(size=(rows, cols)) * 10 ** rng.uniform(-8, 3)
    x = np.round(x, 1) if seed % 3 == 0 else x
    x[rng.random(x.shape) < 0.2] = 0.0
    x[rng.random(x.shape) < 0.2] = -0.0
    x[rng.random(x.shape) < 0.03] = np.inf
    x[rng.random(x.shape) < 0.03] = -np.inf
    x[rng.random(x.shape) < 0.02] = 1.7e308
    x[rng.random(x.shape) < rng.uniform(0.0, 0.9)] = np.nan
    x[: rows // 5] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmedian(x, axis=1)
    assert _same_bits(row_nanmedian(x), ref)


def test_row_nanmedian_edges() -> None:
    x = np.array([[np.nan, np.nan], [1.0, np.nan], [3.0, 1.0], [-0.0, -0.0]])
    out = row_nanmedian(x)
    assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == 2.0
    assert out[3] == 0.0 and not np.signbit(out[3])  # as numpy: +0.0
    assert row_nanmedian(np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="2-D"):
        row_nanmedian(np.zeros(3))
