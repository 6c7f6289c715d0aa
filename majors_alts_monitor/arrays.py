"""Array aliases that say their shape. All float arrays are float64 with NaN for missing."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Panel: TypeAlias = npt.NDArray[np.float64]
"""(n_days, n_assets) float64, NaN where the asset has no value that day."""

Mask: TypeAlias = npt.NDArray[np.bool_]
"""(n_days, n_assets) bool."""

Series: TypeAlias = npt.NDArray[np.float64]
"""(n_days,) float64."""

Dates: TypeAlias = npt.NDArray[np.datetime64]
"""(n_days,) datetime64[D], consecutive calendar days."""

Matrix: TypeAlias = npt.NDArray[np.float64]
"""(n_days, n_features) float64."""


def shift(x: np.ndarray, k: int = 1, fill: object = np.nan) -> np.ndarray:
    """``x`` moved ``k >= 0`` rows down (row ``d`` holds row ``d - k``: the value known ``k``
    days earlier), the first ``k`` rows set to ``fill``, which must fit ``x``'s dtype."""
    out = np.empty_like(x)
    out[:k] = fill
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def as_1d(r: npt.ArrayLike, name: str = "r") -> npt.NDArray[np.float64]:
    """``r`` as a one-dimensional float64 array (a scalar becomes length 1); a ValueError
    naming ``name`` for anything of more dimensions."""
    a = np.asarray(r, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a
