"""A regularised direct forecast of the book's forward return as a regime model:
``regime.mode: forecast`` (the default; its power against the other modes is measured by
``benchmarks/power.py``, ``docs/regimes.md``).

Fitted on the training window of a fold and nothing later:

1. **Features on the training window's scale.** The score features' raw values are centred
   and scaled by their mean and standard deviation over the training days (a rolling z-score
   would re-centre a feature on its own recent past, and a spell that lasts longer than its
   window then looks normal: on the planted worlds the 180-day z-scores keep markedly less of
   the regime than the raw features do).
2. **The target** is the always-held book's mean daily return (gross plus funding, at the
   vol-target scale) over the ``horizon`` pnl days after each training decision; decisions
   whose horizon would reach past the last training label are left out, so no label looks
   past pnl day ``train_end + 1``, as for every other mode.
3. **Ridge with economic signs.** ``min |y - X b|^2 + ridge * n * |b|^2`` (``n`` training
   rows, features and target centred), each coefficient constrained to the sign of
   ``regime.grid.signs`` (+1: a high value favours majors); a feature without a sign may take
   either (``signed_ridge``: coordinate descent, then the exact solve on its active set).
4. **The score** is the forecast in units of its own training standard deviation,
   ``sum_f b_f (x_f - m_f) / s_f / sd``, smoothed by an EMA of half-life ``smooth_halflife``
   days (started at the fold's first training day, so a fold's labels never depend on where a
   run starts beyond the fold), and labelled by the hysteresis state machine with the
   configured ``regime.lower``, ``upper``, ``band`` and ``min_dwell``: ``RISK_ON_MAJORS`` above
   the upper threshold, ``RISK_ON_ALTS`` below the lower. Nothing is searched: one trial.

A day whose features are all missing (burn-in) has no score and keeps the state; a missing
feature on a day with others present contributes its training mean (0 after centring). The
per-feature contributions ``b_f (x_f - m_f) / s_f / sd``, smoothed the same way, sum to the
score (the timeline's ``contrib_<feature>`` columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from .hysteresis import BALANCED, _hyst


def signed_ridge(
    x: np.ndarray, y: np.ndarray, signs: np.ndarray, penalty: float, max_iter: int = 100_000
) -> np.ndarray:
    """``argmin_b |y - x b|^2 + penalty * |b|^2`` with ``b_j >= 0`` where ``signs_j`` is +1,
    ``b_j <= 0`` where it is -1 (0: free). Cyclic coordinate descent on the normal equations
    (strictly convex for ``penalty > 0``: it converges to the one minimum), then the system
    solved exactly on the coefficients left nonzero and kept when it meets the sign and KKT
    conditions, so the result is the exact optimum to rounding. Numpy only (the run never
    imports scipy.optimize)."""
    k = x.shape[1]
    if k == 0:
        return np.zeros(0)
    g = x.T @ x + max(float(penalty), 0.0) * np.eye(k)
    c = x.T @ y
    s = np.asarray(signs, dtype=np.float64)
    b = np.zeros(k)
    for _ in range(max_iter):
        moved = 0.0
        for j in range(k):
            if g[j, j] <= 0.0:
                continue
            v = b[j] + (c[j] - g[j] @ b) / g[j, j]
            v = max(v, 0.0) if s[j] > 0 else min(v, 0.0) if s[j] < 0 else v
            moved = max(moved, abs(v - b[j]))
            b[j] = v
        if moved <= 1e-15 * (1.0 + float(np.max(np.abs(b)))):
            break
    on = b != 0.0
    if on.any():
        exact = np.zeros(k)
        try:
            exact[on] = np.linalg.solve(g[np.ix_(on, on)], c[on])
        except np.linalg.LinAlgError:
            return b
        grad = c - g @ exact  # minus half the gradient of the objective
        scale = 1e-9 * (1.0 + float(np.max(np.abs(c))))
        signs_ok = np.all(exact[on] * s[on] >= 0.0)
        kkt_ok = np.all(np.where(~on & (s > 0), grad <= scale, True)) and np.all(
            np.where(~on & (s < 0), grad >= -scale, True)
        )
        free_ok = np.all(np.abs(grad[~on & (s == 0)]) <= scale)
        if signs_ok and kkt_ok and free_ok:
            return exact
    return b


@numba.njit(cache=True)
def _ema_columns(x: np.ndarray, a: float) -> np.ndarray:
    n, k = x.shape
    out = np.empty((n, k))
    for j in range(k):
        m = np.nan
        for t in range(n):
            v = x[t, j]
            if np.isfinite(v):
                m = v if not np.isfinite(m) else (1.0 - a) * m + a * v
            out[t, j] = m
    return out


def ema(x: np.ndarray, halflife: float) -> np.ndarray:
    """Exponential moving average along axis 0, ``m_t = (1 - a) m_{t-1} + a x_t`` with
    ``a = 1 - 0.5 ** (1 / halflife)``, started at each column's first value; a NaN row keeps
    the previous value (NaN before the first). ``halflife <= 0`` returns ``x``."""
    x = np.array(x, dtype=np.float64)
    if halflife <= 0:
        return x
    a = 1.0 - 0.5 ** (1.0 / halflife)
    cols = np.ascontiguousarray(x.reshape(x.shape[0], -1))
    return _ema_columns(cols, a).reshape(x.shape)


def forward_mean(pnl: np.ndarray, start: int, stop: int, horizon: int) -> np.ndarray:
    """``mean(pnl[d + 1 : d + 1 + horizon])`` for decisions ``d`` in ``[start, stop]``
    (undefined returns count 0)."""
    c = np.r_[0.0, np.cumsum(np.nan_to_num(pnl))]
    d = np.arange(start, stop + 1)
    return (c[d + 1 + horizon] - c[d + 1]) / horizon


@dataclass
class ForecastRegime:
    """Estimator: ``fit`` on a training window, ``predict`` from the window's first day on;
    fitted attributes end in ``_``."""

    features: tuple[str, ...]
    signs: tuple[float, ...]  # +1 / -1 / 0 (free) per feature
    horizon: int = 10
    ridge: float = 1.0
    smooth_halflife: float = 5.0
    lower: float = -0.5
    upper: float = 0.5
    band: float = 0.1
    min_dwell: int = 3
    center_: np.ndarray | None = field(default=None, init=False)
    scale_: np.ndarray | None = field(default=None, init=False)
    coef_: np.ndarray | None = field(default=None, init=False)
    score_sd_: float = field(default=1.0, init=False)
    train_sharpe_: float = field(default=0.0, init=False)
    params_: dict[str, object] | None = field(default=None, init=False)

    def fit(
        self,
        raw: np.ndarray,
        book_pnl: np.ndarray,
        levels: np.ndarray | None = None,
        cost: np.ndarray | None = None,
    ) -> ForecastRegime:
        """Fit on training decisions ``raw`` (n, F) with ``book_pnl[t]`` the book's return on
        the pnl day after decision t (length n: labels end at the window's last pnl day).
        ``levels`` and ``cost`` (n, 3, 3) give the training Sharpe reported for the fold."""
        n, k = raw.shape
        if k != len(self.features) or len(self.signs) != k:
            raise ValueError("raw has a different number of columns than features")
        if self.horizon < 1:
            raise ValueError("regime.forecast.horizon_days must be >= 1")
        rows = n - self.horizon + 1  # decisions whose whole horizon is inside the labels
        seen = np.isfinite(raw).any(axis=1)
        if rows < 30 or seen[:rows].sum() < 30:
            raise ValueError(
                f"too few training decisions with features for the forecast ({int(seen.sum())})"
            )
        fin = np.isfinite(raw)
        cnt = fin.sum(axis=0)
        x0 = np.where(fin, raw, 0.0)
        center = x0.sum(axis=0) / np.maximum(cnt, 1)
        dev = np.where(fin, raw - center, 0.0)
        scale = np.sqrt((dev * dev).sum(axis=0) / np.maximum(cnt, 1))
        # a feature seen on fewer than a tenth of the training days is left out of this fold
        usable = (cnt >= max(10, n // 10)) & (scale > 1e-12)
        center = np.where(usable, center, 0.0)
        scale = np.where(usable, scale, 1.0)
        xs = self._scaled(raw, center, scale, usable)
        y = forward_mean(np.r_[np.nan, book_pnl], 0, rows - 1, self.horizon)
        keep = seen[:rows]
        x_fit, y_fit = xs[:rows][keep], y[keep]
        x_fit = x_fit - x_fit.mean(axis=0)
        y_fit = y_fit - y_fit.mean()
        signs = np.where(usable, np.asarray(self.signs, dtype=np.float64), 0.0)
        coef = signed_ridge(x_fit, y_fit, signs, self.ridge * len(y_fit))
        coef = np.where(usable, coef, 0.0)
        fitted = xs[seen] @ coef
        sd = float(np.std(fitted))
        self.center_, self.scale_, self.coef_ = center, scale, coef
        self.score_sd_ = sd if sd > 1e-15 else 1.0
        score, codes = self.predict(raw)
        if levels is not None:
            c = np.asarray(codes, dtype=np.int64)
            prev = np.r_[BALANCED, c[:-1]]
            pnl = levels[c] * np.nan_to_num(book_pnl)
            if cost is not None:
                pnl = pnl - cost[np.arange(n), prev, c]
            s = float(np.std(pnl, ddof=1)) if n > 1 else 0.0
            self.train_sharpe_ = float(np.mean(pnl)) / s if s > 1e-12 else 0.0
        self.params_ = {
            "weights": {
                f: round(float(w / self.score_sd_), 6)
                for f, w in zip(self.features, coef, strict=True)
                if w
            },
            "center": {f: float(m) for f, m in zip(self.features, center, strict=True)},
            "scale": {f: float(s) for f, s in zip(self.features, scale, strict=True)},
            "horizon_days": self.horizon,
            "ridge": self.ridge,
            "smooth_halflife": self.smooth_halflife,
            "lower": self.lower,
            "upper": self.upper,
            "band": self.band,
            "min_dwell": self.min_dwell,
            "train_days": n,
        }
        return self

    @staticmethod
    def _scaled(
        raw: np.ndarray, center: np.ndarray, scale: np.ndarray, usable: np.ndarray | None = None
    ) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            xs = (raw - center) / scale
        ok = np.isfinite(xs) if usable is None else np.isfinite(xs) & usable[None, :]
        return np.where(ok, xs, 0.0)

    def contributions(self, raw: np.ndarray) -> np.ndarray:
        """Per day and feature, ``b_f (x_f - m_f) / s_f / sd`` smoothed like the score (NaN
        on days without any feature); each row sums to the score."""
        if self.coef_ is None or self.center_ is None or self.scale_ is None:
            raise ValueError("fit the forecast model first")
        seen = np.isfinite(raw).any(axis=1)
        parts = self._scaled(raw, self.center_, self.scale_) * (self.coef_ / self.score_sd_)
        parts = ema(np.where(seen[:, None], parts, np.nan), self.smooth_halflife)
        return np.where(seen[:, None], parts, np.nan)

    def predict(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score and regime codes for the rows of ``raw`` (the state machine starts BALANCED
        at the first row, the EMA at the first row with a feature)."""
        parts = self.contributions(raw)
        seen = np.isfinite(parts).any(axis=1)
        score = np.where(seen, np.where(np.isfinite(parts), parts, 0.0).sum(axis=1), np.nan)
        codes = _hyst(
            np.ascontiguousarray(score),
            float(self.lower),
            float(self.upper),
            float(self.band),
            int(self.min_dwell),
            BALANCED,
            10**9,
        )
        return score, codes
