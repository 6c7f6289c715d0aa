"""Selection-aware tests of a family of strategies against a benchmark: Hansen's test of
superior predictive ability (SPA, with White's Reality Check as its upper bound) and the
Romano-Wolf stepwise procedure (StepM). Pure numpy on a ``(T, K)`` matrix of daily returns;
the resamples are the project's stationary bootstrap (``resample``). No file I/O.

**What is tested.** ``returns[:, k]`` is strategy ``k``'s daily return, ``benchmark`` the
benchmark's (``None``: the always-flat book, returns 0), ``d_k = returns[:, k] - benchmark``
the excess. The null is that *no* strategy of the family beats the benchmark in expectation,
``max_k E[d_k] <= 0``. The statistic is the largest standardised mean excess::

    T_SPA = max_k  sqrt(n) * mean(d_k) / s_k

with ``s_k`` the standard deviation of ``d_k`` (``scale="sd"``, the default: ``T_SPA /
sqrt(n)`` is the best per-period Sharpe ratio of the excess returns). Because the maximum is
taken over the whole family, picking the best strategy after the fact is priced in: the
p-value is that of the *selected* strategy.

**Bootstrap.** Each resample ``b`` draws day indices by the stationary bootstrap (mean block
``mean_block``), which carries the returns' autocorrelation and their correlation across
strategies; the resample means of every column are one matrix product per batch,
``counts_b @ returns / n`` (``counts_b[t]``: how often day ``t`` was drawn), so the cost is
``n_boot x n x K`` multiply-adds (``benchmarks/calibration.py --timing`` prints it). The
recentred resample statistic is::

    T*_b = max_k sqrt(n) * (mean*_b(d_k) - g(mean(d_k))) / s_k

with Hansen's three recentrings: ``upper`` g(x) = x (White's Reality Check: every model is
treated as on the boundary of the null, conservative), ``consistent`` g(x) = x when
``x >= -sqrt(omega^2 / n * 2 log log n)`` and 0 otherwise (clearly poor models are left
centred at their own mean, so they do not dilute the test; Hansen's recommended p-value),
``lower`` g(x) = max(x, 0). ``p = mean_b(T*_b >= T_SPA)``. The headline is the consistent
p-value; "claims an edge" means ``p < 0.05``. ``omega^2`` is the stationary bootstrap's
long-run variance of ``d_k`` (Hansen 2005, eq. 8; the kernel of ``arch.bootstrap.SPA``)::

    omega^2 = g_0 + 2 sum_{i=1}^{n-1} k_i g_i,   k_i = (1 - i/n) q^i + (i/n) q^(n - i),
    q = 1 - 1 / mean_block,  g_i = sum_{t < n - i} e_t e_{t+i} / n,  e = d - mean(d),

computed for every column at once through a zero-padded real FFT (the same sums, without
the ``O(n^2 K)`` loop).

**Which scale.** Any fixed per-strategy scale gives a valid test (the bootstrap prices the
same scale); the choice matters for size in finite samples and for power. Hansen divides by
``omega_k`` (``scale="long_run"``); but ``omega_k`` is an estimate with a relative error of
about 5% at mean block 10 over 2,000 days, the bootstrap treats it as known, and the maximum
over many strategies of ``t_k`` with a noisy denominator has a heavier tail than its
bootstrap: measured against the exact null distribution on the same draws
(``benchmarks/calibration.py --compare-scales``) it claims an edge 0.5-1.5 points more often
than an exact test (5.1-6.1% where the exact test is at 4.3-5.6%). ``s_k`` has a relative
error of about 1.6%, and the daily standard deviation tracked the exact test within 0.4 point
in every cell; it is the default. ``scale="none"`` is arch's statistic (fine when every
strategy has the same volatility; otherwise the most volatile ones dominate the maximum).

**Pinned to arch.** ``arch.bootstrap.SPA`` (8.0) computes the same kernel variance and the
same recentring but does not scale its statistic (its ``studentize`` flag only labels the
output): its statistic is ``max_k mean(d_k)``. ``scale="none"`` here is exactly arch's test
(the tests feed arch's own resample indices and get its p-values to 1e-12); ``scale="sd"``
and ``scale="long_run"`` equal arch's on the columns divided by ``s_k`` or ``omega_k``
(pinned the same way).

Two conventions differ from Hansen's paper, both on the conservative side: the statistic is
not floored at 0 (``max(T_SPA, 0)`` would give p = 0 when every model is clearly worse than the
benchmark), and a resample equal to the statistic counts as exceeding it (``>=``; arch uses
``>``: they differ only on exact ties). Columns whose excess is constant (a strategy
identical to the benchmark, e.g. never invested against the flat book) have no variance and
can never be superior: they are kept out of the maximum (and counted in ``n_models``); a
family of such columns only gets ``p = 1``.

**StepM** (Romano & Wolf 2005) names *which* strategies beat the benchmark with the
family-wise error rate at ``size``: reject every ``k`` with ``t_k`` above the ``1 - size``
quantile of the resampled maximum, drop them, recompute the quantile over the rest, repeat
until nothing more is rejected. As in ``arch.bootstrap.StepM`` the resampled maximum uses
Hansen's consistent recentring (the SPA-based stepwise test of Hsu, Hsu & Kuan 2010), and the
quantile is numpy's linear percentile (arch's; pinned to it).

References: White (2000) Econometrica 68(5); Hansen (2005) JBES 23(4); Romano & Wolf (2005)
Econometrica 73(4); Hsu, Hsu & Kuan (2010) J. Empirical Finance 17(3); Politis & Romano
(1994) JASA 89(428).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from .resample import _bootstrap_draws

__all__ = [
    "ALPHA",
    "SCALES",
    "SPABootstrap",
    "SPAResult",
    "StepMResult",
    "bootstrap_variance",
    "holm",
    "selection_bootstraps",
    "spa_test",
    "stepm",
]

FloatArray = npt.NDArray[np.float64]

ALPHA = 0.05
"""The level at which a p-value "claims an edge" (``p < ALPHA``) and StepM's default size."""

Scale = Literal["sd", "long_run", "none"]
SCALES: tuple[str, ...] = ("sd", "long_run", "none")
"""What each strategy's mean excess is divided by (module doc, "Which scale")."""

_FFT_COLUMNS = 256  # columns transformed at a time by ``bootstrap_variance`` (bounded memory)
_ROW_BLOCK = 256  # resamples whose maxima are taken at a time (bounded temporaries)


def bootstrap_variance(d: npt.ArrayLike, mean_block: float) -> FloatArray:
    """Hansen's (2005) stationary-bootstrap long-run variance of each column of ``d``,
    ``omega^2 = g_0 + 2 sum_i k_i g_i`` (module doc), the kernel of ``arch.bootstrap.SPA``'s
    ``_compute_variance``; the lagged sums by a zero-padded real FFT, a block of columns at a
    time."""
    x = np.asarray(d, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"d must be (T,) or (T, K), got shape {x.shape}")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block must be >= 1, got {mean_block}")
    n, k = x.shape
    if n == 0:
        return np.full(k, math.nan)
    q = 1.0 - 1.0 / float(mean_block)
    i = np.arange(1, n, dtype=np.float64)
    with np.errstate(under="ignore"):
        kappa = (1.0 - i / n) * q**i + (i / n) * q ** (n - i)
    weights = np.concatenate([[1.0], 2.0 * kappa])  # lag 0 .. n - 1
    nfft = _fast_length(2 * n - 1)  # zero padding: no circular wrap
    out = np.empty(k)
    for c0 in range(0, k, _FFT_COLUMNS):
        e = x[:, c0 : c0 + _FFT_COLUMNS]
        e = e - e.mean(axis=0)
        f = np.fft.rfft(e, n=nfft, axis=0)
        acov = np.fft.irfft(f.real**2 + f.imag**2, n=nfft, axis=0)[:n]  # sum_t e_t e_{t+i}
        acov[0] = np.einsum("ij,ij->j", e, e)  # lag 0 exactly
        out[c0 : c0 + _FFT_COLUMNS] = weights @ acov / n
    return out


def _fast_length(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n``: a length pocketfft transforms fast."""
    best = 1 << max(0, (n - 1).bit_length())
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            v = f35
            while v < n:
                v *= 2
            best = min(best, v)
            f35 *= 3
        f5 *= 5
    return best


@dataclass(frozen=True)
class SPAResult:
    """Hansen's SPA of a family against one benchmark (module doc). Statistics are
    ``sqrt(n) mean(d_k) / s_k`` (``scale="sd"``), ``/ omega_k`` (``"long_run"``) or plain mean
    excess returns per day (``"none"``, arch's statistic)."""

    p_value: float  # consistent recentring: the headline
    p_value_lower: float
    p_value_upper: float  # White's Reality Check
    statistic: float  # max_k t_k over the non-constant columns (nan when there is none)
    best: int  # the column attaining it (-1 when there is none)
    statistics: FloatArray  # t_k of every column (nan for constant columns)
    critical_value: float  # 1 - ALPHA quantile of the consistent resampled maximum
    n_models: int  # columns in the family tested (constant ones included)
    n_constant: int  # columns whose excess over the benchmark is constant
    n_obs: int
    n_boot: int
    mean_block: float
    scale: str

    @property
    def p_value_se(self) -> float:
        """Monte Carlo standard error of ``p_value`` from the finite number of resamples."""
        p = self.p_value
        return math.sqrt(p * (1.0 - p) / self.n_boot) if self.n_boot > 0 else math.nan

    def p_values(self) -> dict[str, float]:
        """The test's figures as reported (kpis.json, the sweep summary): the three p-values,
        the consistent one's Monte Carlo standard error, the statistic and its critical value."""
        return {
            "p_value": self.p_value,
            "p_value_lower": self.p_value_lower,
            "p_value_upper": self.p_value_upper,
            "p_value_se": self.p_value_se,
            "statistic": self.statistic,
            "critical_value": self.critical_value,
        }

    def claims_edge(self, alpha: float = ALPHA) -> bool:
        """``p_value < alpha``."""
        return bool(self.p_value < alpha)


@dataclass(frozen=True)
class StepMResult:
    """Romano-Wolf StepM: the columns that beat the benchmark with family-wise error ``size``."""

    superior: npt.NDArray[np.int64]  # column indices, ascending
    size: float
    critical_values: FloatArray  # the critical value of each step (the last rejected nothing)
    statistics: FloatArray  # t_k of every column (nan for constant columns)
    scale: str

    @property
    def n_superior(self) -> int:
        return int(self.superior.size)


@dataclass(frozen=True)
class SPABootstrap:
    """One family's excess returns over one benchmark and their resample means: the SPA's
    p-values of the whole family or of any sub-family (``spa(columns)``) and StepM come from
    it without another resample. Built by ``selection_bootstraps``."""

    mean: FloatArray  # (K,) mean excess per day
    sd: FloatArray  # (K,) standard deviation of the excess (ddof 1; 0 for constant columns)
    omega: FloatArray  # (K,) sqrt of the long-run variance (0 for constant columns)
    boot_mean: FloatArray  # (B, K) resample means of the excess
    live: npt.NDArray[np.bool_]  # (K,) non-constant columns
    n_obs: int
    mean_block: float
    scale: str = "sd"

    @property
    def n_boot(self) -> int:
        return int(self.boot_mean.shape[0])

    def _scale(self) -> FloatArray:
        if self.scale == "none":
            return np.ones_like(self.omega)
        by = self.sd if self.scale == "sd" else self.omega
        return np.divide(math.sqrt(self.n_obs), by, out=np.zeros_like(by), where=self.live)

    def statistics(self) -> FloatArray:
        """``t_k`` of every column (nan for constant columns)."""
        return np.where(self.live, self.mean * self._scale(), math.nan)

    def _centres(self) -> dict[str, FloatArray]:
        n = self.n_obs
        upper = self.mean.copy()
        loglog = math.log(math.log(n)) if n > math.e else 0.0
        threshold = -np.sqrt(self.omega**2 / n * 2.0 * max(loglog, 0.0))
        consistent = np.where(self.mean >= threshold, self.mean, 0.0)
        lower = np.maximum(self.mean, 0.0)
        return {"lower": lower, "consistent": consistent, "upper": upper}

    @cached_property
    def _scaled_boot(self) -> FloatArray:
        """``boot_mean * scale`` (B, K), once per bootstrap (the sub-families reuse it)."""
        return self.boot_mean * self._scale()

    def _max_boot(self, centre: FloatArray, cols: npt.NDArray[np.int64]) -> FloatArray:
        """``max_k`` over ``cols`` of the recentred, scaled resample means, per resample
        (``_ROW_BLOCK`` resamples at a time: a bounded temporary)."""
        sb = self._scaled_boot
        shift = (centre * self._scale())[cols]
        every = cols.size == sb.shape[1] and bool(np.all(cols == np.arange(cols.size)))
        out = np.empty(sb.shape[0])
        for r0 in range(0, sb.shape[0], _ROW_BLOCK):
            block = sb[r0 : r0 + _ROW_BLOCK] if every else sb[r0 : r0 + _ROW_BLOCK, cols]
            out[r0 : r0 + _ROW_BLOCK] = (block - shift).max(axis=1)
        return out

    def nested_p_values(self, order: Iterable[int], sizes: Iterable[int]) -> list[float]:
        """Consistent p-values of the nested sub-families ``order[:size]`` for each ``size``
        (one pass: running maxima along ``order``); constant columns are skipped as in
        ``spa``. The same resamples as the whole family's."""
        cols = self._columns(order)
        want = [int(s) for s in sizes]
        if any(s < 1 or s > cols.size for s in want):
            raise ValueError(f"sizes must be in [1, {cols.size}]")
        keep = self.live[cols]
        t_all = self.statistics()[cols]
        t_run = np.maximum.accumulate(np.where(keep, t_all, -np.inf))
        shift = (self._centres()["consistent"] * self._scale())[cols]
        sb = self._scaled_boot
        ends = np.asarray(want) - 1
        boot_max = np.empty((sb.shape[0], len(want)))
        for r0 in range(0, sb.shape[0], _ROW_BLOCK):
            z = np.where(keep, sb[r0 : r0 + _ROW_BLOCK, cols] - shift, -np.inf)
            boot_max[r0 : r0 + _ROW_BLOCK] = np.maximum.accumulate(z, axis=1)[:, ends]
        out = []
        for j, e in enumerate(ends):
            stat = t_run[e]
            out.append(1.0 if not np.isfinite(stat) else float(np.mean(boot_max[:, j] >= stat)))
        return out

    def _columns(self, columns: Iterable[int] | None) -> npt.NDArray[np.int64]:
        k = self.mean.size
        cols = np.arange(k) if columns is None else np.asarray(list(columns), dtype=np.int64)
        if cols.size and (cols.min() < 0 or cols.max() >= k):
            raise ValueError(f"columns must be in [0, {k})")
        return cols

    def spa(self, columns: Iterable[int] | None = None, alpha: float = ALPHA) -> SPAResult:
        """The SPA of the columns ``columns`` (default: all) against the benchmark."""
        cols = self._columns(columns)
        stats_all = self.statistics()
        live = cols[self.live[cols]]
        n_const = int(cols.size - live.size)
        if live.size == 0 or self.n_boot == 0:
            return SPAResult(
                1.0 if live.size == 0 else math.nan,
                1.0 if live.size == 0 else math.nan,
                1.0 if live.size == 0 else math.nan,
                math.nan,
                -1,
                stats_all[cols],
                math.nan,
                int(cols.size),
                n_const,
                self.n_obs,
                self.n_boot,
                self.mean_block,
                self.scale,
            )
        t = stats_all[live]
        j = int(np.argmax(t))
        stat = float(t[j])
        centres = self._centres()
        p = {name: float(np.mean(self._max_boot(c, live) >= stat)) for name, c in centres.items()}
        crit = float(np.percentile(self._max_boot(centres["consistent"], live), 100 * (1 - alpha)))
        return SPAResult(
            p["consistent"],
            p["lower"],
            p["upper"],
            stat,
            int(live[j]),
            stats_all[cols],
            crit,
            int(cols.size),
            n_const,
            self.n_obs,
            self.n_boot,
            self.mean_block,
            self.scale,
        )

    def stepm(self, size: float = ALPHA) -> StepMResult:
        """Romano-Wolf StepM with Hansen's consistent recentring, arch's ``StepM.compute``
        step for step: reject the columns whose statistic exceeds the ``1 - size`` linear
        percentile of the resampled maximum over the columns not yet rejected; repeat while a
        step rejects something and not every column is rejected."""
        if not 0.0 < size < 1.0:
            raise ValueError(f"size must be in (0, 1), got {size}")
        t = self.statistics()
        centre = self._centres()["consistent"]
        k = t.size
        active = self.live.copy()
        rejected: list[int] = []
        crits: list[float] = []
        while active.any() and self.n_boot > 0:
            cols = np.flatnonzero(active)
            crit = float(np.percentile(self._max_boot(centre, cols), 100.0 * (1.0 - size)))
            crits.append(crit)
            new = [int(c) for c in cols if t[c] > crit]
            rejected += new
            if not new or len(new) >= k:
                break
            active[new] = False
        return StepMResult(
            np.array(sorted(rejected), dtype=np.int64),
            float(size),
            np.array(crits),
            t,
            self.scale,
        )


def _as_matrix(x: npt.ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (T,) or (T, K), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (count a day without a position as 0)")
    return a


def _counts(idx: npt.NDArray[np.int64], n: int) -> FloatArray:
    """``counts[b, t]``: how often day ``t`` appears in resample ``b``."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def selection_bootstraps(
    returns: npt.ArrayLike,
    benchmarks: Sequence[npt.ArrayLike | None] = (None,),
    *,
    n_boot: int = 1000,
    mean_block: float = 10.0,
    seed: int = 0,
    scale: Scale = "sd",
    indices: npt.ArrayLike | None = None,
) -> list[SPABootstrap]:
    """The family ``returns`` (T, K) against each benchmark of ``benchmarks`` (each ``None``
    for the always-flat book, a (T,) series common to every column, or a (T, K) matrix: one
    benchmark per column), on one set of resamples with one matrix product per batch of them
    for every benchmark together (resample means are linear: the excess's mean is the
    strategy's minus the benchmark's).

    ``scale``: what each mean excess is divided by (module doc). Resamples: ``n_boot``
    stationary-bootstrap index rows of mean block ``mean_block`` from
    ``numpy.random.default_rng(seed)`` (``resample._bootstrap_draws``, the draws of the run's
    Sharpe interval), or the rows of ``indices`` (B, T) when given (e.g. arch's, to pin).
    Returns must be finite; days are rows."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    x = _as_matrix(returns, "returns")
    n, k = x.shape
    if n < 2:
        raise ValueError(f"need at least 2 days, got {n}")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block must be >= 1, got {mean_block}")
    bench: list[FloatArray | None] = []
    for i, b in enumerate(benchmarks):
        if b is None:
            bench.append(None)
            continue
        m = _as_matrix(b, f"benchmarks[{i}]")
        if m.shape[0] != n or m.shape[1] not in (1, k):
            raise ValueError(f"benchmarks[{i}] must be ({n},) or ({n}, {k}), got {m.shape}")
        bench.append(m)
    # one matrix of every distinct series: the family, then each benchmark's column(s)
    blocks = [x] + [m for m in bench if m is not None]
    allx = np.ascontiguousarray(np.hstack(blocks)) if len(blocks) > 1 else x
    if indices is not None:
        idx_all = np.asarray(indices, dtype=np.int64)
        if idx_all.ndim != 2 or idx_all.shape[1] != n:
            raise ValueError(f"indices must be (B, {n}), got {idx_all.shape}")
        if idx_all.size and (idx_all.min() < 0 or idx_all.max() >= n):
            raise ValueError(f"indices must be in [0, {n})")
        chunks: Iterable[npt.NDArray[np.int64]] = [idx_all]
    else:
        if n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {n_boot}")
        chunks = _bootstrap_draws(n, n_boot, mean_block, seed)
    parts = [_counts(idx, n) @ allx / n for idx in chunks]
    boot_all = np.vstack(parts) if parts else np.zeros((0, allx.shape[1]))
    out = []
    col = k
    for m in bench:
        d = x if m is None else x - m
        boot = boot_all[:, :k]
        if m is not None:
            w = m.shape[1]
            boot = boot - boot_all[:, col : col + w]
            col += w
        live = d.max(axis=0) > d.min(axis=0)
        omega2 = bootstrap_variance(d, mean_block)
        gamma0 = d.var(axis=0)
        # the kernel estimate is a weighted sum of autocovariances: floor it at a sliver of
        # the plain variance rather than divide by ~0 or take the root of a negative number
        omega = np.sqrt(np.where(live, np.maximum(omega2, 1e-12 * gamma0), 0.0))
        sd = np.where(live, d.std(axis=0, ddof=1), 0.0)
        out.append(
            SPABootstrap(
                d.mean(axis=0),
                sd,
                omega,
                np.ascontiguousarray(boot),
                live,
                n,
                float(mean_block),
                scale,
            )
        )
    return out


def spa_test(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike | None = None,
    *,
    n_boot: int = 1000,
    mean_block: float = 10.0,
    seed: int = 0,
    scale: Scale = "sd",
    indices: npt.ArrayLike | None = None,
    alpha: float = ALPHA,
) -> SPAResult:
    """Hansen's SPA: do any of the strategies ``returns`` (T, K) of daily returns beat the
    ``benchmark`` (T,) (or (T, K), one per column; ``None``: the always-flat book)? The
    consistent p-value is ``result.p_value``; see the module doc. Resamples as in
    ``selection_bootstraps``.

    With one strategy (K = 1) this is a one-sided stationary-bootstrap test of a positive mean
    excess; ``p_value_upper`` is then the usual p-value, and for a strategy clearly worse
    than the benchmark the consistent ``p_value`` sits near 0.5 rather than near 1 (Hansen's
    recentring leaves such a model at its own mean): neither claims an edge. Several separate
    tests (one model against several baselines) are combined with ``holm``."""
    (boot,) = selection_bootstraps(
        returns,
        (benchmark,),
        n_boot=n_boot,
        mean_block=mean_block,
        seed=seed,
        scale=scale,
        indices=indices,
    )
    return boot.spa(alpha=alpha)


def stepm(
    returns: npt.ArrayLike,
    benchmark: npt.ArrayLike | None = None,
    *,
    size: float = ALPHA,
    n_boot: int = 1000,
    mean_block: float = 10.0,
    seed: int = 0,
    scale: Scale = "sd",
    indices: npt.ArrayLike | None = None,
) -> StepMResult:
    """Romano-Wolf StepM: which columns of ``returns`` beat ``benchmark``, with the
    family-wise error rate at ``size`` (module doc)."""
    (boot,) = selection_bootstraps(
        returns,
        (benchmark,),
        n_boot=n_boot,
        mean_block=mean_block,
        seed=seed,
        scale=scale,
        indices=indices,
    )
    return boot.stepm(size)


def holm(p_values: npt.ArrayLike) -> FloatArray:
    """Holm's (1979) step-down adjusted p-values (family-wise error control over separate
    tests, e.g. one model against each of several baseline rules): the ``i``-th smallest
    ``p`` becomes ``max_{j <= i} min(1, (m - j) p_(j))`` (0-based ``j``); nan stays nan and is
    not counted in ``m``."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out
