"""The compiled trailing median and maximum against polars' rolling functions (the outside
reference they replace), bit for bit once zeros are read as +0.0."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor.market.rolling import rolling_max, rolling_median

VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 2.0, -3.5, 1e300, 5e-324, 0.1, 0.3]


def _polars(x: np.ndarray, window: int, min_periods: int, how: str) -> np.ndarray:
    df = pl.DataFrame(x, schema=[f"c{i}" for i in range(x.shape[1])], orient="row")
    e = pl.all().fill_nan(None)
    e = (e.rolling_median if how == "median" else e.rolling_max)(window, min_samples=min_periods)
    return df.select(e).to_numpy().astype(np.float64)


def _same(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Equal bits where both are finite (+0.0 for any zero); NaN (a missing value) and the
    infinities are read alike, as every caller does (``np.where(np.isfinite(out), out, nan)``)."""
    a = np.where(np.isfinite(ours), ours, np.nan)
    b = np.where(np.isfinite(theirs), theirs + 0.0, np.nan)
    return a.tobytes() == b.tobytes()


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(st.sampled_from(VALUES), min_size=1, max_size=90),
    n_cols=st.integers(1, 3),
    window=st.integers(1, 12),
    data=st.data(),
)
def test_equal_to_polars_on_awkward_values(cells, n_cols, window, data) -> None:
    n_cols = min(n_cols, len(cells))
    x = np.array(cells[: len(cells) // n_cols * n_cols], dtype=np.float64).reshape(-1, n_cols)
    min_periods = data.draw(st.integers(0, window))
    assert _same(rolling_median(x, window, min_periods), _polars(x, window, min_periods, "median"))
    assert _same(rolling_max(x, window, min_periods), _polars(x, window, min_periods, "max"))


@pytest.mark.parametrize("seed", range(4))
def test_equal_to_polars_on_a_volume_panel(seed: int) -> None:
    """The universe's use: 30-day median volume (min 15) of a panel with listings, gaps and
    ties; even counts take polars' ``lo + (hi - lo) * 0.5``."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(12, 2, size=(700, 25)), int(rng.integers(-3, 3)))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[: rng.integers(0, 300), :5] = np.nan  # not listed yet
    for w, m in ((30, 15), (7, 1), (60, 0)):
        assert _same(rolling_median(x, w, m), _polars(x, w, m, "median"))
        assert _same(rolling_max(x, w, m), _polars(x, w, m, "max"))


def test_a_zero_is_positive_and_arguments_are_checked() -> None:
    x = np.array([[-0.0], [-0.0], [np.nan]])
    assert np.signbit(rolling_median(x, 2, 1)[:2, 0]).tolist() == [False, False]
    assert np.signbit(rolling_max(x, 3, 1)[:, 0]).tolist() == [False, False, False]
    with pytest.raises(ValueError, match="window"):
        rolling_median(x, 0, 0)
    with pytest.raises(ValueError, match="2-D"):
        rolling_max(np.ones(3), 2, 1)
