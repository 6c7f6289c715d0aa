"""A statistical jump model (Nystrup, Lindstrom & Madsen 2020; Shu, Yu & Mulvey 2024) as a regime
model: ``regime.mode: jump``.

The discrete jump model clusters the z-scored feature rows into ``n_states`` centroids while
charging a penalty ``lambda`` for every change of state: it minimises

    sum_t 1/2 |z_t - mu_{s_t}|^2 + lambda * sum_t 1[s_t != s_{t-1}]

by coordinate descent (k-means++ initial centroids, a dynamic-programming label step, a centroid
step; ``n_init`` restarts). The fit is the ``jumpmodels`` package's ``JumpModel`` (Shu's
reference implementation), on the training window's complete feature rows only.

**Labels are online (causal).** The label of day t is the state with the smallest value of the
forward DP over days <= t:

    V_0(k) = L_0(k),   V_t(k) = L_t(k) + min_j (V_{t-1}(j) + lambda * 1[j != k]),   s_t = argmin V_t

never the backward (Viterbi) pass, which would use later days. This is the package's
``predict_online``, re-implemented here so that a day with a missing feature can add no loss
(every state costs the same that day; the penalty then keeps the state), as the HMM skips its
emission update. A test pins it to the package's ``predict_online`` on complete rows. The
score is the ``RISK_ON_MAJORS`` share of a softmax of the negative DP values (loss units).

**The jump penalty is chosen inside the training window.** Every penalty in
``regime.jump.penalties`` is fitted; its states are mapped to regimes by the always-held book's
mean next-day return per state over the training days (best state -> ``RISK_ON_MAJORS``, worst
-> ``RISK_ON_ALTS``, as for the HMM), and the penalty whose mapped, dwell-filtered exposure has
the highest training Sharpe **net of the transition costs** wins. Each penalty is one trial of
the walk-forward's ``n_trials``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from .hysteresis import BALANCED, MAJORS, dwell_filter
from .unsupervised import _state_map


def online_values(z: np.ndarray, centers: np.ndarray, penalty: float) -> np.ndarray:
    """Forward DP values ``V_t(k)`` (each row shifted so its minimum is 0); row t uses rows <= t.

    ``L_t(k) = |z_t - mu_k|^2 / 2``; a row with a missing feature has ``L_t = 0``; a state whose
    centroid is NaN (left empty by the fit) has ``L_t = inf``.
    """
    n, k = len(z), len(centers)
    ok = np.isfinite(z).all(axis=1)
    zz = np.where(np.isfinite(z), z, 0.0)
    loss = 0.5 * ((zz[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    loss[~ok] = 0.0
    # a centroid left empty by the fit is NaN: that state is unreachable (as in the package)
    loss[:, ~np.isfinite(centers).all(axis=1)] = np.inf
    pen = penalty * (1.0 - np.eye(k))
    out = np.empty((n, k))
    v = np.zeros(k)
    for t in range(n):
        v = loss[t] + ((v[:, None] + pen).min(axis=0) if t else 0.0)
        v = v - v.min()
        out[t] = v
    return out


@dataclass
class JumpRegime:
    """Discrete jump model fitted at every penalty; the best penalty by training Sharpe is used."""

    n_states: int = 3
    penalties: tuple[float, ...] = (3.0, 10.0, 30.0, 100.0)
    min_dwell: int = 1
    seed: int = 0
    n_init: int = 10
    max_iter: int = 100
    centers_: list[np.ndarray] = field(default_factory=list, init=False)
    state_regime_: list[np.ndarray] = field(default_factory=list, init=False)
    trial_sharpe_: np.ndarray | None = field(default=None, init=False)
    best_: int = field(default=0, init=False)
    params_: dict[str, object] | None = field(default=None, init=False)

    def fit(
        self,
        z: np.ndarray,
        next_ret: np.ndarray,
        vscale: np.ndarray | None = None,
        levels: np.ndarray | None = None,
        cost: np.ndarray | None = None,
    ) -> JumpRegime:
        """Fit on training decisions ``z`` (n, F); ``next_ret[t]`` is the book's return on the
        pnl day after decision t, ``vscale[t]`` its vol-target multiplier (default 1),
        ``cost[t, a, b]`` the cost on that pnl day of moving regime a -> b (default 0),
        ``levels`` the exposure per regime code (default 1, 0, 0)."""
        from jumpmodels.jump import JumpModel

        n = len(z)
        vscale = np.ones(n) if vscale is None else vscale
        levels = np.array([1.0, 0.0, 0.0]) if levels is None else levels
        cost = np.zeros((n, 3, 3)) if cost is None else cost

        if not self.penalties:
            raise ValueError("regime.jump.penalties is empty")
        ok = np.isfinite(z).all(axis=1)
        if ok.sum() < 10 * self.n_states:
            raise ValueError(
                "too few complete feature rows in the training window for the jump model"
            )
        ret = np.nan_to_num(next_ret)
        self.centers_, self.state_regime_ = [], []
        sharpe = np.zeros(len(self.penalties))
        for i, lam in enumerate(self.penalties):
            jm = JumpModel(
                n_components=self.n_states,
                jump_penalty=float(lam),
                random_state=self.seed,
                n_init=self.n_init,
                max_iter=self.max_iter,
            )
            jm.fit(z[ok], sort_by=None)
            centers = np.asarray(jm.centers_, dtype=np.float64)
            states = online_values(z, centers, float(lam)).argmin(axis=1)
            states = np.where(np.isfinite(z).any(axis=1), states, -1)
            mapping = _state_map(states, next_ret, self.n_states)
            self.centers_.append(centers)
            self.state_regime_.append(mapping)
            codes = self._codes(states, mapping)
            prev = np.r_[BALANCED, codes[:-1]]
            pnl = levels[codes] * vscale * ret - cost[np.arange(n), prev, codes]
            sd = float(np.std(pnl, ddof=1)) if n > 1 else 0.0
            sharpe[i] = float(np.mean(pnl)) / sd if sd > 1e-12 else 0.0
        self.trial_sharpe_ = sharpe
        self.best_ = int(np.argmax(sharpe))
        self.params_ = {
            "n_states": self.n_states,
            "jump_penalty": float(self.penalties[self.best_]),
            "penalties": [float(x) for x in self.penalties],
            "state_regime": [int(x) for x in self.state_regime_[self.best_]],
            "centers": np.round(self.centers_[self.best_], 4).tolist(),
            "min_dwell": self.min_dwell,
        }
        return self

    def _codes(self, states: np.ndarray, mapping: np.ndarray) -> np.ndarray:
        raw = np.where(states >= 0, mapping[np.maximum(states, 0)], -1).astype(np.int8)
        return dwell_filter(raw, self.min_dwell)

    def predict_trial(self, z: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Score and regime codes of penalty ``i`` from online labels (row t uses rows <= t)."""
        lam = float(self.penalties[i])
        values = online_values(z, self.centers_[i], lam)
        seen = np.isfinite(z).any(axis=1)  # burn-in rows carry no information: keep the state
        states = np.where(seen, values.argmin(axis=1), -1)
        logits = -values
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        majors = self.state_regime_[i] == MAJORS
        score = np.where(seen, p[:, majors].sum(axis=1), np.nan)
        return score, self._codes(states, self.state_regime_[i])

    def predict(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score and regime codes of the chosen penalty."""
        if self.trial_sharpe_ is None:
            raise ValueError("fit the jump model first")
        return self.predict_trial(z, self.best_)

    def predict_all(self, z: np.ndarray) -> np.ndarray:
        """Regime codes of every penalty, shape (n_penalties, n)."""
        return np.stack([self.predict_trial(z, i)[1] for i in range(len(self.penalties))])
