"""The decision for the day after the last labelled day, and why the regime is what it is.

``signal_record`` builds ``signals_today.json`` from the folds' labels: ``run`` passes its own
fits (so the file, the console summary and the timeline's last row are one model's answer)
and ``signals --asof`` passes the fit(s) of the same fold schedule, so both give the same
record. ``explain_arrays`` holds the per-day "why": each score feature's contribution
``weight x z`` (composite mode; the forecast mode's smoothed ``weight x scaled value``), the
thresholds, band and dwell in force, the days in the
current regime and the dwell left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from ..backtest.stages import FoldFit, Prepared, iso, param_in_force, stitch_labels, z_for
from ..config import Config
from ..regime.composite import composite_contributions
from ..regime.hysteresis import ALTS, BALANCED, MAJORS, REGIME_NAMES, transition
from .thin_report import drop_warning

# modes whose score is thresholded by lower / upper / band (the reason sentences say so)
SCORED_MODES = ("composite", "forecast")


@dataclass(frozen=True)
class Explain:
    """Per-day labels and their explanation over the panel's days (test windows only; NaN or
    -1 elsewhere). ``contrib`` is ``None`` for the unsupervised modes."""

    codes: np.ndarray
    score: np.ndarray
    fold_of: np.ndarray
    exposure: np.ndarray
    days_in_regime: np.ndarray
    dwell_left: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    band: np.ndarray
    min_dwell: np.ndarray
    contrib: np.ndarray | None  # (days, score features)


def explain_arrays(cfg: Config, p: Prepared, fits: list[FoldFit]) -> Explain:
    n = p.panel.n_days
    codes, score, fold_of, days, left = stitch_labels(n, fits)
    exposure = np.where(fold_of >= 0, p.inputs.levels[codes] * p.inputs.vscale, 0.0)
    contrib = None
    if cfg.regime.mode in SCORED_MODES:
        z = z_for(p)
        contrib = np.full((n, len(p.score_features)), np.nan)
        for ff in fits:
            sl = slice(ff.fold.test_start, ff.fold.test_start + len(ff.codes))
            if ff.contrib is not None:
                contrib[sl] = ff.contrib
            elif ff.weights is not None:
                contrib[sl] = composite_contributions(z[sl], ff.weights)
    return Explain(
        codes,
        score,
        fold_of,
        exposure,
        days,
        left,
        param_in_force(fits, n, "lower"),
        param_in_force(fits, n, "upper"),
        param_in_force(fits, n, "band"),
        param_in_force(fits, n, "min_dwell"),
        contrib,
    )


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def _days(k: int) -> str:
    return f"{k} day" if k == 1 else f"{k} days"


def reason(ex: Explain, t: int, mode: str, features: tuple[str, ...] = ()) -> str:
    """One sentence a trader reads: why day ``t`` has its regime (composite mode: with the
    score feature that contributes most, by absolute value)."""
    text = _reason(ex, t, mode)
    if ex.contrib is not None and features and np.isfinite(ex.contrib[t]).any():
        j = int(np.nanargmax(np.abs(ex.contrib[t])))
        text += f"; largest part {features[j]} {ex.contrib[t, j]:+.2f}"
    return text


def _reason(ex: Explain, t: int, mode: str) -> str:
    cur, s = int(ex.codes[t]), float(ex.score[t])
    name, held = REGIME_NAMES[cur], int(ex.days_in_regime[t])
    md = int(ex.min_dwell[t]) if math.isfinite(ex.min_dwell[t]) else 1
    same_model = t > 0 and ex.fold_of[t - 1] == ex.fold_of[t]
    since = f"run from its train start it is in {name} for {_days(held)} (min dwell {md})"
    if not same_model:
        takeover = f"fold {int(ex.fold_of[t])}'s model takes over today"
        prev = int(ex.codes[t - 1]) if t > 0 and ex.fold_of[t - 1] >= 0 else cur
        if prev == cur:
            return f"{takeover} (score {s:.2f}); {since}"
        return f"{takeover}: {REGIME_NAMES[prev]} -> {name}; {_where(ex, t, mode)}; {since}"
    prev, prev_held = int(ex.codes[t - 1]), int(ex.days_in_regime[t - 1])
    if not math.isfinite(s):
        return f"score undefined today (no score feature has a z-score): {name} kept"
    if mode not in SCORED_MODES:
        what = _where(ex, t, mode)
        if cur != prev:
            return (
                f"{what}; the most likely state moved to {name} after {_days(prev_held)} in "
                f"{REGIME_NAMES[prev]} (min dwell {md})"
            )
        return f"{what}: {name} held for {_days(held)} (min dwell {md})"
    lo, hi, bd = float(ex.lower[t]), float(ex.upper[t]), float(ex.band[t])
    after = f"after {_days(prev_held)} in {REGIME_NAMES[prev]} (min dwell {md}): {name}"
    if cur != prev:
        if cur == ALTS:
            return f"score {s:.2f} crossed below lower {lo:.2f} - band {bd:.2f} {after}"
        if cur == MAJORS:
            return f"score {s:.2f} crossed above upper {hi:.2f} + band {bd:.2f} {after}"
        if prev == MAJORS:
            return f"score {s:.2f} fell below upper {hi:.2f} - band {bd:.2f} {after}"
        return f"score {s:.2f} rose above lower {lo:.2f} + band {bd:.2f} {after}"
    wanted = int(transition(prev, s, lo, hi, bd))
    if wanted != prev:
        left = int(ex.dwell_left[t])
        return (
            f"score {s:.2f} points to {REGIME_NAMES[wanted]}, but {name} had been held "
            f"{_days(prev_held)} of min dwell {md}: kept ({_days(held)}, dwell left {left})"
        )
    if cur == MAJORS:
        why = f"stays at or above upper {hi:.2f} - band {bd:.2f}"
    elif cur == ALTS:
        why = f"stays at or below lower {lo:.2f} + band {bd:.2f}"
    else:
        why = f"is inside [lower - band, upper + band] = [{lo - bd:.2f}, {hi + bd:.2f}]"
    return f"score {s:.2f} {why}: {name} held for {_days(held)}"


def _where(ex: Explain, t: int, mode: str) -> str:
    """Where day ``t``'s score sits against the thresholds and band in force."""
    s = float(ex.score[t])
    if not math.isfinite(s):
        return "score undefined today (no score feature has a z-score)"
    if mode not in SCORED_MODES:
        kind = "filtered probability" if mode == "hmm" else "soft assignment"
        return f"{kind} of RISK_ON_MAJORS {s:.2f}"
    lo, hi, bd = float(ex.lower[t]), float(ex.upper[t]), float(ex.band[t])
    if s < lo - bd:
        return f"score {s:.2f} is below lower {lo:.2f} - band {bd:.2f}"
    if s > hi + bd:
        return f"score {s:.2f} is above upper {hi:.2f} + band {bd:.2f}"
    return f"score {s:.2f} is inside [lower - band, upper + band] = [{lo - bd:.2f}, {hi + bd:.2f}]"


def explain_block(
    ex: Explain, t: int, features: tuple[str, ...], mode: str, no_trade: str | None = None
) -> dict:
    """``signals_today.json``'s ``explain`` block for day ``t`` (``no_trade``: why the book is
    not traded that day, ``market/thin.py``)."""
    contributions = (
        {f: _num(ex.contrib[t, j]) for j, f in enumerate(features)}
        if ex.contrib is not None
        else {}
    )
    prev = int(ex.codes[t - 1]) if t > 0 else BALANCED
    return {
        "score": _num(ex.score[t]),
        "contributions": contributions,
        "lower": _num(ex.lower[t]),
        "upper": _num(ex.upper[t]),
        "band": _num(ex.band[t]),
        "min_dwell": int(ex.min_dwell[t]) if math.isfinite(ex.min_dwell[t]) else None,
        "days_in_regime": int(ex.days_in_regime[t]),
        "dwell_left": int(ex.dwell_left[t]),
        "previous_score": _num(ex.score[t - 1]) if t > 0 else None,
        "changed": bool(int(ex.codes[t]) != prev),
        "reason": reason(ex, t, mode, features),
        "no_trade_reason": no_trade,
    }


def signal_warnings(
    cfg: Config, p: Prepared, through: dict[str, str | None], asof: date
) -> list[str]:
    """What the signal's reader must know: stale or lagging tables, an infeasible book."""
    t = p.panel.n_days - 1
    price_end = date.fromisoformat(iso(p.panel.dates[t]))
    warns = list(p.warnings)
    if price_end < asof:
        warns.append(
            f"STALE: the lake's prices end on {price_end}, {(asof - price_end).days} days "
            f"before --asof {asof}; the signal is for the day after {price_end}"
        )
    for tname, d in through.items():
        if d is not None and tname != "fact_price":
            lag_days = (price_end - date.fromisoformat(d)).days
            if lag_days > cfg.data.stale_days:
                warns.append(f"table {tname} ends on {d}, {lag_days} days before fact_price")
    book = p.book
    if not book.built[t]:
        warns.append(
            "no book on the decision day: the basket is empty (universe filters too strict?)"
        )
    elif not book.feasible[t]:
        warns.append(
            "exact neutrality infeasible under the bounds: residual betas "
            f"btc {book.beta_btc[t]:.3f}, eth {book.beta_eth[t]:.3f}"
        )
    if book.n_fallback[t]:
        warns.append(f"{int(book.n_fallback[t])} basket names use prior betas (short history)")
    return warns + thin_signal_warnings(p, t)


def thin_signal_warnings(p: Prepared, t: int) -> list[str]:
    """A decision day whose book is refused (thin basket, a major without price), or whose
    basket shrank overnight as names stopped printing (``market/thin.py``)."""
    tr = p.tradeable
    if tr is None:
        return []
    out = []
    why = tr.reason(t, int(p.book.n_names[t]))
    if why is not None:
        out.append(f"{why} on the decision day {iso(p.panel.dates[t])}: exposure 0 tomorrow")
    out += [f"on the decision day, {drop_warning(p, d)}" for d in tr.drops if d.day == t]
    return out


def signal_record(
    cfg: Config,
    p: Prepared,
    fits: list[FoldFit],
    *,
    asof: date,
    through: dict[str, str | None],
    origin: date,
) -> dict:
    """``signals_today.json`` for the day after the panel's last day ``T`` (OUTPUTS.md): the
    regime, score and exposure of the fold whose test window holds ``T``, yesterday's under
    the fold that labelled ``T - 1``, the target book and the explain block."""
    ex = explain_arrays(cfg, p, fits)
    t = p.panel.n_days - 1
    ff = next(f for f in fits if f.fold.test_start <= t < f.fold.test_start + len(f.codes))
    code = int(ex.codes[t])
    prev_code = int(ex.codes[t - 1]) if t > 0 else BALANCED
    exp_now = float(ex.exposure[t])
    exp_prev = float(ex.exposure[t - 1]) if t > 0 else 0.0
    if exp_prev > 0:
        action = "HOLD" if exp_now > 0 else "EXIT"
    else:
        action = "ENTER" if exp_now > 0 else "STAY_FLAT"
    w = p.book.weights[t]
    book_rows = [
        {
            "asset_id": p.panel.assets[i],
            "side": "long" if w[i] > 0 else "short",
            "weight": float(w[i]),
        }
        for i in range(p.panel.n_assets)
        if w[i] != 0
    ]
    targets = [{**b, "weight": b["weight"] * exp_now} for b in book_rows] if exp_now != 0 else []
    price_end = date.fromisoformat(iso(p.panel.dates[t]))
    f = ff.fold
    return {
        "asof": asof.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_through": through,
        "stale": bool(price_end < asof),
        "decision_date": price_end.isoformat(),
        "regime": REGIME_NAMES[code],
        "previous_regime": REGIME_NAMES[prev_code],
        "score": _num(ex.score[t]),
        "exposure": exp_now,
        "action": action,
        "targets": targets,
        "book": book_rows,
        "book_betas": {
            "btc": float(np.nan_to_num(p.book.beta_btc[t]) * exp_now) + 0.0,
            "eth": float(np.nan_to_num(p.book.beta_eth[t]) * exp_now) + 0.0,
        },
        "model": {
            "mode": cfg.regime.mode,
            "fold": f.index,
            "origin": origin.isoformat(),
            "trained_through": iso(p.panel.dates[f.train_end + 1]),
            "train_decisions": [iso(p.panel.dates[f.train_start]), iso(p.panel.dates[f.train_end])],
            "test_decisions_from": iso(p.panel.dates[f.test_start]),
            "params": ff.params,
            "config_hash": cfg.hash(),
            "n_trials": len(ff.trial_sharpe),
            "feature_definitions": dict(p.features.definitions),
        },
        "exposure_by_regime": {r: float(cfg.regime.exposure[r]) for r in REGIME_NAMES},
        "amounts": None,  # at --capital (report/orders.py)
        "orders": None,  # against --positions
        "explain": explain_block(
            ex,
            t,
            p.score_features,
            cfg.regime.mode,
            p.tradeable.reason(t, int(p.book.n_names[t])) if p.tradeable is not None else None,
        ),
        "warnings": signal_warnings(cfg, p, through, asof),
    }
