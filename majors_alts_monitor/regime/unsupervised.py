"""Unsupervised regimes: a Gaussian HMM (hmmlearn) and k-means (scikit-learn).

Both are fit on the training window's z-scored features (rows with any NaN left out). States
are mapped to regimes by the always-held book's mean next-day return in each state over the
training days: the best state is ``RISK_ON_MAJORS``, the worst ``RISK_ON_ALTS``, the rest
``BALANCED``. At test time labels come from **filtered** probabilities only: the HMM forward
recursion ``alpha_t ~ b_t * (A' alpha_{t-1})`` (never smoothed posteriors or a Viterbi path,
which would use the future); k-means assigns each day to its nearest centroid, day by day.
The score is the probability of the ``RISK_ON_MAJORS`` state (for k-means a softmax of
negative squared distances scaled by the mean within-cluster variance). A day with a missing
feature skips the emission update (HMM) or keeps the previous label (k-means).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from .hysteresis import ALTS, BALANCED, MAJORS, dwell_filter


def _state_map(train_states: np.ndarray, next_ret: np.ndarray, n_states: int) -> np.ndarray:
    """Regime code per state from mean next-day book returns (best -> MAJORS, worst -> ALTS)."""
    means = np.full(n_states, -np.inf)
    for k in range(n_states):
        m = (train_states == k) & np.isfinite(next_ret)
        if m.sum() >= 5:
            means[k] = next_ret[m].mean()
    order = np.argsort(-means, kind="stable")
    out = np.full(n_states, BALANCED, dtype=np.int8)
    out[order[0]] = MAJORS
    out[order[-1]] = ALTS
    if not np.isfinite(means[order[0]]):
        out[:] = BALANCED
    return out


@dataclass
class HMMRegime:
    n_states: int = 3
    min_dwell: int = 1
    seed: int = 0
    n_iter: int = 100
    n_restarts: int = 5
    model_: object | None = field(default=None, init=False)
    state_regime_: np.ndarray | None = field(default=None, init=False)
    params_: dict[str, object] | None = field(default=None, init=False)

    def fit(self, z: np.ndarray, next_ret: np.ndarray) -> HMMRegime:
        from hmmlearn.hmm import GaussianHMM

        ok = np.isfinite(z).all(axis=1)
        if ok.sum() < 10 * self.n_states:
            raise ValueError("too few complete feature rows in the training window for the HMM")
        # EM from one start can settle in a poor local optimum (two states on one cluster):
        # fit from ``n_restarts`` seeded starts and keep the highest training log-likelihood.
        best, best_ll = None, -np.inf
        for k in range(max(1, self.n_restarts)):
            cand = GaussianHMM(
                n_components=self.n_states,
                covariance_type="diag",
                n_iter=self.n_iter,
                random_state=self.seed + k,
                min_covar=1e-3,
            )
            cand.fit(z[ok])
            ll = float(cand.score(z[ok]))
            if best is None or ll > best_ll:
                best, best_ll = cand, ll
        assert best is not None
        m = best
        self.model_ = m
        probs = self.filtered_proba(z)
        states = probs.argmax(axis=1)
        self.state_regime_ = _state_map(states, next_ret, self.n_states)
        self.params_ = {
            "n_states": self.n_states,
            "state_regime": [int(x) for x in self.state_regime_],
            "means": np.round(m.means_, 4).tolist(),
            "transmat_diag": np.round(np.diag(m.transmat_), 4).tolist(),
            "min_dwell": self.min_dwell,
        }
        return self

    def _loglik(self, z: np.ndarray) -> np.ndarray:
        m = self.model_
        means = m.means_  # type: ignore[attr-defined]
        var = np.array([np.diag(c) for c in m.covars_])  # type: ignore[attr-defined]
        zz = np.where(np.isfinite(z), z, 0.0)
        ll = -0.5 * (
            np.log(2 * np.pi * var)[None, :, :]
            + (zz[:, None, :] - means[None, :, :]) ** 2 / var[None, :, :]
        ).sum(axis=2)
        ll[~np.isfinite(z).all(axis=1)] = 0.0  # no emission update on incomplete rows
        return ll

    def filtered_proba(self, z: np.ndarray) -> np.ndarray:
        """Forward-filtered state probabilities: row t uses rows <= t only."""
        m = self.model_
        log_a = np.log(np.maximum(m.transmat_, 1e-300))  # type: ignore[attr-defined]
        ll = self._loglik(z)
        out = np.empty_like(ll)
        la = np.log(np.maximum(m.startprob_, 1e-300)) + ll[0]  # type: ignore[attr-defined]
        la -= logsumexp(la)
        out[0] = la
        for t in range(1, len(z)):
            la = logsumexp(la[:, None] + log_a, axis=0) + ll[t]
            la -= logsumexp(la)
            out[t] = la
        return np.exp(out)

    def predict(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = self.filtered_proba(z)
        assert self.state_regime_ is not None
        raw = self.state_regime_[probs.argmax(axis=1)]
        majors = self.state_regime_ == MAJORS
        seen = np.isfinite(z).any(axis=1)  # burn-in rows carry no information: keep the state
        score = np.where(seen, probs[:, majors].sum(axis=1), np.nan)
        raw = np.where(seen, raw, -1)
        return score, dwell_filter(raw.astype(np.int8), self.min_dwell)


@dataclass
class KMeansRegime:
    n_states: int = 3
    min_dwell: int = 1
    seed: int = 0
    model_: object | None = field(default=None, init=False)
    state_regime_: np.ndarray | None = field(default=None, init=False)
    scale_: float = field(default=1.0, init=False)
    params_: dict[str, object] | None = field(default=None, init=False)

    def fit(self, z: np.ndarray, next_ret: np.ndarray) -> KMeansRegime:
        from sklearn.cluster import KMeans

        ok = np.isfinite(z).all(axis=1)
        if ok.sum() < 10 * self.n_states:
            raise ValueError("too few complete feature rows in the training window for k-means")
        km = KMeans(n_clusters=self.n_states, n_init=10, random_state=self.seed).fit(z[ok])
        self.model_ = km
        self.scale_ = max(float(km.inertia_) / ok.sum(), 1e-6)
        states = np.where(ok, self._nearest(z), -1)
        self.state_regime_ = _state_map(states, next_ret, self.n_states)
        self.params_ = {
            "n_states": self.n_states,
            "state_regime": [int(x) for x in self.state_regime_],
            "centroids": np.round(km.cluster_centers_, 4).tolist(),
            "min_dwell": self.min_dwell,
        }
        return self

    def _d2(self, z: np.ndarray) -> np.ndarray:
        c = self.model_.cluster_centers_  # type: ignore[attr-defined]
        zz = np.where(np.isfinite(z), z, 0.0)
        return ((zz[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)

    def _nearest(self, z: np.ndarray) -> np.ndarray:
        return self._d2(z).argmin(axis=1)

    def predict(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.state_regime_ is not None
        ok = np.isfinite(z).all(axis=1)
        d2 = self._d2(z)
        logits = -d2 / (2 * self.scale_)
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        score = np.where(ok, p[:, self.state_regime_ == MAJORS].sum(axis=1), np.nan)
        raw = np.where(ok, self.state_regime_[d2.argmin(axis=1)], -1).astype(np.int8)
        return score, dwell_filter(raw, self.min_dwell)
