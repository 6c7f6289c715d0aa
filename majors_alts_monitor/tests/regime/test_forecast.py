"""Tests of the forecast regime model (``regime/forecast.py``).

The sign-constrained ridge equals scipy's bounded least squares on the same augmented system
(an outside reference) and the closed-form ridge when no sign binds; the EMA equals a slow
loop; the forward-mean target is a hand computation; the fitted model recovers a planted
feature and drops a wrong-signed one; labels are causal (rows appended later never change
earlier scores); contributions sum to the score. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

from majors_alts_monitor.regime.forecast import ForecastRegime, ema, forward_mean, signed_ridge
from majors_alts_monitor.regime.hysteresis import ALTS, BALANCED, MAJORS, apply_hysteresis


def _reference(x: np.ndarray, y: np.ndarray, signs: np.ndarray, lam: float) -> np.ndarray:
    """scipy's bounded least squares on ``[x; sqrt(lam) I] b = [y; 0]``, sign bounds per
    coefficient (an independent solver of the same problem)."""
    k = x.shape[1]
    a = np.vstack([x, np.sqrt(lam) * np.eye(k)])
    lo = np.where(signs > 0, 0.0, -np.inf)
    hi = np.where(signs < 0, 0.0, np.inf)
    return lsq_linear(a, np.r_[y, np.zeros(k)], bounds=(lo, hi), tol=1e-14).x


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 6),
    lam=st.sampled_from([0.0, 0.5, 10.0, 300.0]),
    signs=st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=6, max_size=6),
)
def test_signed_ridge_equals_bounded_least_squares(seed, k, lam, signs) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((120, k))
    y = x @ rng.standard_normal(k) + rng.standard_normal(120)
    s = np.array(signs[:k])
    got = signed_ridge(x, y, s, lam)
    ref = _reference(x, y, s, lam)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)
    assert np.all(got[s > 0] >= 0) and np.all(got[s < 0] <= 0)


def test_signed_ridge_without_binding_signs_is_the_closed_form_ridge() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 4))
    beta = np.array([0.8, -0.5, 0.3, -0.9])
    y = x @ beta + 0.1 * rng.standard_normal(200)
    lam = 40.0
    closed = np.linalg.solve(x.T @ x + lam * np.eye(4), x.T @ y)
    np.testing.assert_allclose(signed_ridge(x, y, np.sign(beta), lam), closed, rtol=1e-9)
    np.testing.assert_allclose(signed_ridge(x, y, np.zeros(4), lam), closed, rtol=1e-9)
    # the wrong sign on the first feature pins it at 0
    wrong = signed_ridge(x, y, np.array([-1.0, -1.0, 1.0, -1.0]), lam)
    assert wrong[0] == 0.0 and wrong[1] < 0


def _slow_ema(x: np.ndarray, halflife: float) -> np.ndarray:
    a = 1.0 - 0.5 ** (1.0 / halflife)
    out = np.empty_like(x)
    m = np.full(x.shape[1], np.nan)
    for t in range(len(x)):
        v = x[t]
        ok = np.isfinite(v)
        m = np.where(ok, np.where(np.isfinite(m), (1 - a) * m + a * v, v), m)
        out[t] = m
    return out


def test_ema_equals_a_slow_loop_with_gaps() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, 4))
    x[rng.random((400, 4)) < 0.15] = np.nan
    x[:11, 1] = np.nan
    x[:, 3] = np.nan
    got = ema(x, 5.0)
    np.testing.assert_allclose(got, _slow_ema(x, 5.0), rtol=1e-12, atol=1e-15)
    assert np.array_equal(np.isnan(got), np.isnan(_slow_ema(x, 5.0)))
    np.testing.assert_array_equal(ema(x, 0.0), x)
    # halflife 1: half of the new value; a causal filter: later rows never change earlier ones
    assert ema(np.array([[2.0], [4.0]]), 1.0)[1, 0] == pytest.approx(3.0)
    np.testing.assert_array_equal(ema(x[:200], 5.0), got[:200])


def test_forward_mean_is_a_hand_computation() -> None:
    pnl = np.array([np.nan, 0.01, 0.02, -0.03, 0.04, np.nan, 0.06])
    # decision 0: pnl days 1..3 -> (0.01 + 0.02 - 0.03) / 3; decision 2: days 3..5 (nan is 0)
    got = forward_mean(pnl, 0, 3, 3)
    np.testing.assert_allclose(got, [0.0, (0.02 - 0.03 + 0.04) / 3, (-0.03 + 0.04) / 3, 0.1 / 3])


def _planted(n: int = 900, seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regime (0 majors, 1 balanced, 2 alts, spells ~60 days), one feature that shows it
    (sign +1: high favours majors), one of pure noise, one that shows it with the sign its
    prior forbids; the book's daily return has drift +0.004 / 0 / -0.004."""
    rng = np.random.default_rng(seed)
    regime = np.zeros(n, dtype=int)
    for t in range(1, n):
        regime[t] = regime[t - 1] if rng.random() < 0.983 else rng.integers(0, 3)
    drift = np.array([0.004, 0.0, -0.004])[regime]
    pnl = drift + 0.012 * rng.standard_normal(n)
    level = np.array([1.0, 0.0, -1.0])[regime]
    good = 5.0 + 2.0 * level + 0.8 * rng.standard_normal(n)
    noise = rng.standard_normal(n)
    wrong = -level + 0.8 * rng.standard_normal(n)
    return np.column_stack([good, noise, wrong]), pnl, regime


def test_forecast_recovers_a_planted_feature_and_respects_signs() -> None:
    raw, pnl, regime = _planted()
    m = ForecastRegime(("good", "noise", "wrong"), (1.0, 0.0, 1.0), horizon=10, ridge=1.0)
    train = slice(0, 600)
    m.fit(raw[train], pnl[train])
    assert m.coef_ is not None and m.coef_[0] > 0
    assert m.coef_[2] == 0.0  # the prior says +1, the data say -1: left out
    assert abs(m.coef_[1]) < 0.2 * m.coef_[0]
    score, codes = m.predict(raw)
    test = slice(600, None)
    invested = codes[test] == MAJORS
    truth = regime[test] == 0
    assert np.mean(invested == truth) > 0.75
    assert set(np.unique(codes)) <= {MAJORS, BALANCED, ALTS}
    # the labels are the hysteresis state machine on the score
    np.testing.assert_array_equal(codes, apply_hysteresis(score, -0.5, 0.5, 0.1, 3))
    assert m.params_ is not None and m.params_["train_days"] == 600
    assert set(m.params_["weights"]) == {"good", "noise"} or set(m.params_["weights"]) == {"good"}


def test_forecast_labels_are_causal_and_contributions_sum_to_the_score() -> None:
    raw, pnl, _ = _planted(seed=12)
    m = ForecastRegime(("good", "noise", "wrong"), (1.0, 0.0, -1.0)).fit(raw[:500], pnl[:500])
    score, codes = m.predict(raw)
    for cut in (520, 700, 899):
        s2, c2 = m.predict(raw[:cut])
        np.testing.assert_array_equal(s2, score[:cut])
        np.testing.assert_array_equal(c2, codes[:cut])
    parts = m.contributions(raw)
    np.testing.assert_allclose(parts.sum(axis=1), score, rtol=0, atol=1e-12)
    # a burn-in of missing rows: no score, no parts, the state machine keeps BALANCED
    gap = raw.copy()
    gap[:30] = np.nan
    s3, c3 = m.predict(gap)
    assert np.isnan(s3[:30]).all() and (c3[:30] == BALANCED).all()
    assert np.isnan(m.contributions(gap)[:30]).all()


def test_forecast_training_sharpe_uses_costs_and_levels() -> None:
    raw, pnl, _ = _planted(seed=13)
    n = 400
    levels = np.array([1.0, 0.0, 0.0])
    free = ForecastRegime(("g", "n", "w"), (1.0, 0.0, -1.0)).fit(raw[:n], pnl[:n], levels)
    cost = np.full((n, 3, 3), 0.002)
    cost[:, np.arange(3), np.arange(3)] = 0.0
    paid = ForecastRegime(("g", "n", "w"), (1.0, 0.0, -1.0)).fit(raw[:n], pnl[:n], levels, cost)
    np.testing.assert_array_equal(free.coef_, paid.coef_)  # costs never change the fit
    assert paid.train_sharpe_ < free.train_sharpe_


def test_forecast_refuses_a_window_without_enough_rows() -> None:
    raw, pnl, _ = _planted()
    with pytest.raises(ValueError, match="too few"):
        ForecastRegime(("g", "n", "w"), (1.0, 0.0, -1.0)).fit(raw[:35], pnl[:35])
    with pytest.raises(ValueError, match="columns"):
        ForecastRegime(("g", "n"), (1.0, 0.0)).fit(raw[:300], pnl[:300])


def test_a_feature_missing_in_the_window_is_left_out() -> None:
    raw, pnl, _ = _planted()
    raw = raw.copy()
    raw[:590, 1] = np.nan  # seen on 10 of 600 training days
    m = ForecastRegime(("g", "n", "w"), (1.0, 0.0, -1.0)).fit(raw[:600], pnl[:600])
    assert m.coef_ is not None and m.coef_[1] == 0.0 and m.coef_[0] > 0


def test_the_fit_reaches_back_history_days_but_never_before_the_origin() -> None:
    from types import SimpleNamespace

    from majors_alts_monitor.backtest.folds import Fold
    from majors_alts_monitor.backtest.walk import fit_start
    from majors_alts_monitor.config import Config

    cfg = Config()  # history_days 1095, train_days 365
    p = SimpleNamespace(first_day=100)
    early = Fold(0, 100, 464, 485, 574)
    assert fit_start(cfg, p, early) == 100  # only the fold's own window exists
    late = Fold(9, 2000, 2364, 2385, 2474)
    assert fit_start(cfg, p, late) == 2364 - 1095 + 1
    assert fit_start(cfg, p, late, origin=1500) == 1500  # a robustness re-run's later origin
    fc = cfg.regime.forecast.model_copy(update={"history_days": 100})
    short = cfg.model_copy(update={"regime": cfg.regime.model_copy(update={"forecast": fc})})
    assert fit_start(short, p, late) == 2000  # never less than the fold's own window


def test_the_forecast_config_is_validated_and_the_default_mode() -> None:
    from majors_alts_monitor.config import Config, load_config, parse_config
    from majors_alts_monitor.errors import ConfigError

    assert Config().regime.mode == "forecast" == load_config(None).regime.mode
    assert load_config(None).regime.forecast == Config().regime.forecast  # yaml mirrors code
    for key, bad in (("horizon_days", 0), ("ridge", -1), ("history_days", 10)):
        with pytest.raises(ConfigError, match=f"regime.forecast.{key}"):
            parse_config({"regime": {"forecast": {key: bad}}})
    with pytest.raises(ConfigError, match="regime.mode"):
        parse_config({"regime": {"mode": "ridge"}})
