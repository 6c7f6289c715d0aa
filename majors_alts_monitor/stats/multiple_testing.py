"""How many independent trials a search ran, the deflated Sharpe ratio at that number, and the
minimum track record length. Pure numpy; no file I/O.

**Effective number of trials.** A grid of 2,000 composite-score parameter sets is not 2,000
independent bets: neighbouring sets hold the same regime on most days. The deflated Sharpe
ratio (Bailey & Lopez de Prado 2014) wants the number of *independent* trials, so the raw count
makes it far too strict. The reported figure is the **participation ratio of the trials'
correlation matrix** (the eigenvalue method)::

    N_eff = (sum_i lambda_i)^2 / sum_i lambda_i^2 = N^2 / sum_ij rho_ij^2
          = N / (1 + (N - 1) * mean_{i != j} rho_ij^2)

with ``lambda`` the eigenvalues of the N x N correlation matrix of the trials' out-of-sample
daily returns. K blocks of perfectly correlated trials give exactly K; N uncorrelated trials
give N. Two corrections make it usable on samples:

- each squared correlation is bias-corrected for the sample length T,
  ``rho^2_adj = 1 - (1 - r^2) (T - 1) / (T - 2)`` (a pair of independent series has
  ``E[r^2] = 1 / (T - 1)``, which would otherwise cap N_eff near T), and the mean is floored at 0;
- when only a subsample of the trials is evaluated day by day (memory), the mean squared
  correlation of the subsample is applied to the full count N (an unbiased extension: the mean
  over pairs of a random subsample estimates the mean over all pairs).

Trials whose out-of-sample returns are flat (never invested, no costs) are one trial between
them (they are the same series) and take no part in the correlations.

Why not the clustering of Lopez de Prado (2019, "A Data Science Solution to the
Multiple-Testing Crisis in Financial Research")? Its silhouette-chosen k is searched over
k = 2 .. N - 1 with k-means restarts (slow at N = 2,000), is unstable across seeds, and cannot
return N for uncorrelated trials (noise has no cluster structure, the silhouette is poor at every
k). The participation ratio is deterministic, O(N^2) on a subsample and exact in both limits.
The clustering idea is kept for the **variance of the trials' Sharpe ratios**: as in the 2019
paper, the deflation at N_eff uses the variance over *cluster representatives*, not over all
trials. The trials are cut into ``K = round(N_eff)`` clusters by average-linkage hierarchical
clustering on the correlation distance ``sqrt((1 - rho) / 2)``; each cluster is aggregated
into one daily return series with inverse-variance weights; the representatives' per-period
Sharpe ratios give ``V_rep``. With two or three clusters ``V_rep`` has one or two degrees of
freedom and can come out near 0 (which would remove the deflation altogether), so the deflation
uses ``V = max(V_rep, V_trials)``, ``V_trials`` the variance of the evaluated trials' own Sharpe
ratios (what the raw-N deflated Sharpe uses), and ``SR0 = expected_max_sharpe(N_eff, V)``.

Calibration: a diagnostic, not a test. The participation ratio counts *decorrelated
directions*, not the multiplicity of a maximum, and the spread of the trials' Sharpe ratios it
is paired with already excludes their common factor: the correlation is counted twice and the
hurdle collapses. For trials that share one common factor plus their own noise it gives
N_eff about 2 of 200 trials, and the deflated Sharpe of the in-sample best of N null trials
exceeds 0.95 in 4-21% of nulls at rho 0.3 and 22-39% at rho 0.7 (N 50-500, 2,000 days;
``benchmarks/calibration.py``, ``docs/statistics.md``; the one-factor test in
``tests/stats/test_stats.py`` asserts the over-claim). ``deflated_sharpe_effective`` keeps
its key and meaning as a diagnostic; the run's selection-aware headline is Hansen's SPA
(``stats.selection``), and the raw-N figure stays as the conservative one.

**Minimum track record length** (Bailey & Lopez de Prado 2012, "The Sharpe Ratio Efficient
Frontier"): the number of observations needed for ``PSR(sr*) >= 1 - alpha``::

    MinTRL = 1 + (1 - skew * SR + (kurt - 1) / 4 * SR^2) * (z_{1 - alpha} / (SR - sr*))^2

Sharpe ratios per period, ``kurt`` non-excess; ``inf`` when ``SR <= sr*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import deflated_sharpe, expected_max_sharpe, norm_ppf
from .linkage import average_linkage_clusters

__all__ = [
    "EffectiveTrials",
    "cluster_representative_sharpes",
    "cluster_trials",
    "deflated_sharpe_effective",
    "effective_number_of_trials",
    "effective_trials",
    "minimum_track_record",
    "participation_ratio",
    "sample_trials",
]

EFFECTIVE_N_METHOD = "participation_ratio"
"""The name reported as ``effective_n_method`` in kpis.json."""

FloatArray = npt.NDArray[np.float64]


def minimum_track_record(
    sr: float, skew: float, kurt: float, sr_benchmark: float = 0.0, confidence: float = 0.95
) -> float:
    """Observations needed for the PSR against ``sr_benchmark`` to reach ``confidence``.

    All Sharpe ratios per period; ``kurt`` non-excess (normal = 3). ``inf`` when ``sr`` does not
    exceed the benchmark (no track record is long enough), nan on non-finite inputs or a
    non-positive variance factor.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not all(np.isfinite(v) for v in (sr, skew, kurt, sr_benchmark)):
        return math.nan
    factor = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if not factor > 0.0:
        return math.nan
    if sr <= sr_benchmark:
        return math.inf
    z = norm_ppf(confidence)
    return 1.0 + factor * (z / (sr - sr_benchmark)) ** 2


def participation_ratio(corr: npt.ArrayLike) -> float:
    """``(sum lambda)^2 / sum lambda^2`` of a correlation matrix, from its entries."""
    c = np.asarray(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"corr must be square, got shape {c.shape}")
    n = c.shape[0]
    if n == 0:
        return math.nan
    return float(np.trace(c) ** 2 / np.sum(c * c))


def effective_number_of_trials(mean_sq_corr: float, n_trials: int) -> float:
    """``N / (1 + (N - 1) * mean_sq_corr)``: the participation ratio of ``n_trials`` trials whose
    off-diagonal squared correlations average ``mean_sq_corr`` (clipped to [0, 1])."""
    if n_trials < 1:
        return math.nan
    m = min(max(float(mean_sq_corr), 0.0), 1.0)
    return n_trials / (1.0 + (n_trials - 1) * m)


def _flat_columns(x: FloatArray) -> npt.NDArray[np.bool_]:
    return (
        ~(np.nanmax(x, axis=0) > np.nanmin(x, axis=0)) if x.shape[0] else np.ones(x.shape[1], bool)
    )


def _correlation(x: FloatArray) -> FloatArray:
    """Pearson correlation of the columns of a finite (T, m) matrix without flat columns."""
    d = x - x.mean(axis=0)
    d /= np.sqrt(np.einsum("ij,ij->j", d, d))
    c = d.T @ d
    np.clip(c, -1.0, 1.0, out=c)
    np.fill_diagonal(c, 1.0)
    return c


def cluster_trials(corr: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Labels 0..K-1 (``K <= k``, numbered by smallest member) from average-linkage clustering
    on the distance ``sqrt((1 - rho) / 2)``, cut as scipy's ``fcluster`` ``maxclust``."""
    c = np.asarray(corr, dtype=np.float64)
    n = c.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = int(min(max(k, 1), n))
    if k == 1 or n == 1:
        return np.zeros(n, dtype=np.int64)
    dist = np.sqrt(np.clip((1.0 - c) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2.0
    return average_linkage_clusters(dist, k)


def cluster_representative_sharpes(x: npt.ArrayLike, labels: npt.ArrayLike) -> FloatArray:
    """Per-period Sharpe of each cluster's inverse-variance-weighted daily return series.

    A one-trial cluster's series is the trial itself (its weight is exactly 1), so only the
    larger clusters need a weighted sum; the Sharpe ratios of all representatives are then
    taken row by row in one pass (numpy's per-row reductions: the same bits as one series at
    a time)."""
    a = np.asarray(x, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    if a.ndim != 2 or lab.shape != (a.shape[1],):
        raise ValueError("x must be (T, m) and labels (m,)")
    if lab.size and lab.min() < 0:
        raise ValueError("labels must be >= 0")
    n_k = int(lab.max()) + 1 if lab.size else 0
    if n_k == 0:
        return np.empty(0)
    var = a.var(axis=0, ddof=1)
    size = np.bincount(lab, minlength=n_k)
    reps = np.zeros((n_k, a.shape[0]))  # a label without members: a flat series, Sharpe 0
    single = size[lab] == 1
    reps[lab[single]] = a[:, single].T
    for k in np.flatnonzero(size > 1):
        cols = np.flatnonzero(lab == k)
        w = 1.0 / var[cols]
        w /= w.sum()
        reps[k] = a[:, cols] @ w
    sd = reps.std(axis=1, ddof=1)
    mean = reps.mean(axis=1)
    return np.divide(mean, sd, out=np.zeros(n_k), where=sd > 0.0)


@dataclass(frozen=True)
class EffectiveTrials:
    """What ``effective_trials`` measured (all Sharpe ratios per period)."""

    n_trials: int  # the raw count the estimate extends to
    n_sampled: int  # trials whose daily returns were evaluated
    n_flat: int  # sampled trials with flat returns (one trial between them)
    n_days: int
    mean_sq_corr: float  # bias-corrected mean off-diagonal squared correlation (non-flat)
    n_effective: float
    n_clusters: int
    representative_sharpe: FloatArray
    var_representatives: float
    var_trials: float  # variance of the sampled trials' own Sharpe ratios
    method: str = EFFECTIVE_N_METHOD

    @property
    def var_deflation(self) -> float:
        """The variance the deflation uses: the representatives', or the trials' own when that is
        larger (with two or three clusters the representatives' variance has one or two degrees
        of freedom and can come out near 0, which would remove the deflation)."""
        return max(self.var_representatives, self.var_trials)


def effective_trials(returns: npt.ArrayLike, n_trials: int | None = None) -> EffectiveTrials:
    """Effective number of independent trials from a (T, m) matrix of daily returns.

    ``returns`` holds ``m`` trials (all of them, or a uniform random subsample of
    ``n_trials``); non-finite values count as 0 (a day without a position). See the module doc
    for the estimator, the flat trials and the cluster representatives.
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"returns must be (T, m), got shape {x.shape}")
    t, m = x.shape
    n_total = m if n_trials is None else int(n_trials)
    if n_total < m:
        raise ValueError(f"n_trials ({n_total}) is smaller than the sampled trials ({m})")
    x = np.where(np.isfinite(x), x, 0.0)
    flat = _flat_columns(x) if m else np.zeros(0, bool)
    live = x[:, ~flat]
    m_live, m_flat = live.shape[1], int(flat.sum())
    if m == 0 or t < 3:
        return EffectiveTrials(n_total, m, m_flat, t, math.nan, math.nan, 0, np.zeros(0), 0.0, 0.0)
    sd = x.std(axis=0, ddof=1)
    own = np.divide(x.mean(axis=0), sd, out=np.zeros(m), where=~flat & (sd > 0.0))
    var_own = float(np.var(own, ddof=1)) if m >= 2 else 0.0
    if m_live >= 2:
        corr = _correlation(live)
        r2 = corr * corr
        adj = 1.0 - (1.0 - r2) * (t - 1.0) / (t - 2.0)
        np.fill_diagonal(adj, 0.0)
        mean_sq = max(float(adj.sum() / (m_live * (m_live - 1.0))), 0.0)
    else:
        corr = np.ones((m_live, m_live))
        mean_sq = 1.0
    n_live_total = n_total * m_live / m
    n_eff = (
        effective_number_of_trials(mean_sq, max(1, round(n_live_total))) if m_live else 0.0
    ) + (1.0 if m_flat else 0.0)
    n_eff = float(min(max(n_eff, 1.0), n_total))
    k_live = int(min(m_live, max(1, round(n_eff - (1.0 if m_flat else 0.0))))) if m_live else 0
    reps = (
        cluster_representative_sharpes(live, cluster_trials(corr, k_live))
        if m_live
        else np.zeros(0)
    )
    if m_flat:
        reps = np.append(reps, 0.0)
    var_rep = float(np.var(reps, ddof=1)) if reps.size >= 2 else 0.0
    return EffectiveTrials(
        n_total, m, m_flat, t, mean_sq, n_eff, int(reps.size), reps, var_rep, var_own
    )


def deflated_sharpe_effective(
    sr: float, n_obs: int, skew: float, kurt: float, eff: EffectiveTrials
) -> tuple[float, float]:
    """``(DSR, SR0)`` at the effective number of trials and ``eff.var_deflation``."""
    if not np.isfinite(eff.n_effective):
        return math.nan, math.nan
    sr0 = expected_max_sharpe(eff.n_effective, eff.var_deflation)
    if not np.isfinite(sr):
        return math.nan, sr0
    dsr = deflated_sharpe(
        sr, n_obs, skew, kurt, n_trials=eff.n_effective, var_trials=eff.var_deflation
    )
    return dsr, sr0


def sample_trials(n_trials: int, max_trials: int, seed: int) -> npt.NDArray[np.int64]:
    """Indices of the trials to evaluate day by day: all of them, or a seeded sorted sample."""
    if n_trials <= max_trials:
        return np.arange(n_trials, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_trials, size=max_trials, replace=False)).astype(np.int64)
