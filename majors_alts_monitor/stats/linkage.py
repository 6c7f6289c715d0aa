"""Average-linkage (UPGMA) hierarchical clustering cut into at most ``k`` flat clusters.

The same dendrogram and the same cut as ``scipy.cluster.hierarchy.linkage(method="average")``
followed by ``fcluster(criterion="maxclust")``, compiled: importing ``scipy.cluster`` costs
about 0.3 s a run (it pulls in ``scipy.spatial``), more than the clustering itself.

The tree is built by the nearest-neighbour chain algorithm exactly as scipy's ``nn_chain``
does it (the same scan order, the same tie rule, the same Lance-Williams update
``d(x u y, i) = (n_x d(x, i) + n_y d(y, i)) / (n_x + n_y)``, so the same merge heights to the
bit). ``maxclust`` then takes the smallest merge height ``r`` at which at most ``k`` clusters
remain (``k >= n``: every point its own cluster) and joins every merge at a height ``<= r``; average linkage has no inversions, so that is a cut of the tree.
Labels are ``0..K-1`` in the order of each cluster's smallest member (scipy numbers clusters
in its own tree order; the partition is the same, tests pin it against scipy).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True)
def _nn_chain(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merges of average linkage on the full symmetric matrix ``dist`` (overwritten): the two
    slots merged and the height of each merge, in the order the chain found them."""
    n = dist.shape[0]
    size = np.ones(n, dtype=np.int64)
    chain = np.empty(n, dtype=np.int64)
    mx = np.empty(n - 1, dtype=np.int64)
    my = np.empty(n - 1, dtype=np.int64)
    mh = np.empty(n - 1)
    length = 0
    for k in range(n - 1):
        if length == 0:
            length = 1
            for i in range(n):
                if size[i] > 0:
                    chain[0] = i
                    break
        while True:
            x = chain[length - 1]
            y = -1
            if length > 1:  # prefer the previous element of the chain: no cycles
                y = chain[length - 2]
                current = dist[x, y]
            else:
                current = np.inf
            for i in range(n):
                if size[i] == 0 or i == x:
                    continue
                if dist[x, i] < current:
                    current = dist[x, i]
                    y = i
            if length > 1 and y == chain[length - 2]:
                break
            chain[length] = y
            length += 1
        length -= 2
        if x > y:
            x, y = y, x
        nx = size[x]
        ny = size[y]
        mx[k] = x
        my[k] = y
        mh[k] = current
        size[x] = 0
        size[y] = nx + ny
        for i in range(n):
            ni = size[i]
            if ni == 0 or i == y:
                continue
            d = (nx * dist[i, x] + ny * dist[i, y]) / (nx + ny)
            dist[i, y] = d
            dist[y, i] = d
    return mx, my, mh


def average_linkage_clusters(dist: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Flat cluster labels ``0..K-1`` (``K <= k``) of average linkage on the symmetric distance
    matrix ``dist`` (zero diagonal), cut as ``fcluster(..., t=k, criterion="maxclust")``."""
    d = np.array(dist, dtype=np.float64, order="C", copy=True)
    n = d.shape[0]
    if d.ndim != 2 or d.shape[1] != n:
        raise ValueError(f"dist must be square, got shape {d.shape}")
    if n <= 1 or k <= 1:
        return np.zeros(n, dtype=np.int64)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    mx, my, mh = _nn_chain(d)
    order = np.argsort(mh, kind="mergesort")  # scipy sorts the merges by height, stably
    heights = mh[order]
    cut = heights[n - k - 1]
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # an active slot always holds its own leaf, so joining the two slots' leaves joins the
    # two clusters
    for j in order[heights <= cut]:
        a, b = find(int(mx[j])), find(int(my[j]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    # the root of a cluster is its smallest leaf (the smaller root always wins)
    roots = np.array([find(i) for i in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(np.int64)
