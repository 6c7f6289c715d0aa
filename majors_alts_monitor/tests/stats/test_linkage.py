"""The compiled average linkage + maxclust cut against scipy's (the outside reference)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from majors_alts_monitor.stats.linkage import average_linkage_clusters


def _scipy_labels(dist: np.ndarray, k: int) -> np.ndarray:
    z = linkage(squareform(dist, checks=False), method="average")
    return fcluster(z, t=k, criterion="maxclust")


def _distance(x: np.ndarray) -> np.ndarray:
    c = np.nan_to_num(np.corrcoef(x, rowvar=False), nan=0.0)
    d = np.sqrt(np.clip((1.0 - c) / 2.0, 0.0, 1.0))
    np.fill_diagonal(d, 0.0)
    return (d + d.T) / 2.0


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", range(40))
def test_partition_equals_scipy_average_linkage_maxclust(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, t = int(rng.integers(2, 60)), int(rng.integers(5, 200))
    f = max(1, n // 4)
    x = rng.normal(size=(t, f)) @ rng.normal(size=(f, n))
    x += rng.normal(size=(t, n)) * rng.uniform(0.01, 3.0)
    if seed % 5 == 0:  # exact duplicates: zero distances and tied merge heights
        x[:, n // 2 :] = x[:, : n - n // 2]
    if seed % 7 == 0:  # coarse values: many equal correlations
        x = np.round(x)
    dist = _distance(x)
    for k in sorted({2, 3, n // 2, n - 1, n, n + 3}):
        if k < 2:
            continue
        ours = average_linkage_clusters(dist, k)
        assert _same_partition(ours, _scipy_labels(dist, k)), (n, k)
        # labels 0..K-1 numbered by each cluster's smallest member
        firsts = [int(np.flatnonzero(ours == j)[0]) for j in range(int(ours.max()) + 1)]
        assert firsts == sorted(firsts)


def test_degenerate_sizes_and_input_untouched() -> None:
    assert average_linkage_clusters(np.zeros((0, 0)), 3).tolist() == []
    assert average_linkage_clusters(np.zeros((1, 1)), 3).tolist() == [0]
    d = np.array([[0.0, 0.1, 0.9], [0.1, 0.0, 0.8], [0.9, 0.8, 0.0]])
    before = d.copy()
    assert average_linkage_clusters(d, 1).tolist() == [0, 0, 0]
    assert average_linkage_clusters(d, 2).tolist() == [0, 0, 1]
    assert average_linkage_clusters(d, 5).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(d, before)
    with pytest.raises(ValueError, match="square"):
        average_linkage_clusters(np.zeros((2, 3)), 2)
