"""The league: the run's model against the rules traders already use, on the same book,
engine, costs and walk-forward days (``kpis.json`` ``league``, the dashboard's league table,
``docs/regimes.md``).

Every rule decides, at the end of each out-of-sample decision day ``d`` and from data dated
``<= d``, whether the long-majors / short-alts book is on over ``d + 1`` (the exposure of
``RISK_ON_MAJORS``, times the vol-target scale) or flat. Signs are fixed in advance:

* ``always_on``: the book every day (``benchmark_always_on``); ``always_flat``: never;
* ``bitcoin_season``: the Altcoin Season Index (Blockchaincenter's top 50) at or below 25;
* ``btc_dom_up_30d``: BTC dominance higher than 30 days earlier;
* ``eth_btc_down_50d``: ETH/BTC lower than 50 days earlier;
* ``best_single_feature``: in each fold, the one score feature (sign as in the grid, both
  signs for a feature without one) whose rule "on while ``sign * z > regime.upper``" had the
  best training objective, net of costs (the fused search kernel on one-hot weights), applied
  to the fold's test days.

Each entry is also traded one day late (the archives publish a day's data hours after its
close): the exposure decided at ``d - 1`` is held over ``d + 1``. The model is tested against
each baseline by SPA (Hansen's consistent p-value: does the model's out-of-sample net return
beat the baseline's?), Holm-adjusted over the baselines, by ``stats.selection`` (the headline's
SPA and Holm); ``spa_pvalue`` is the one place the test is called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import stats
from ..config import Config
from ..regime.composite import composite_score
from ..regime.hysteresis import BALANCED, MAJORS, _hyst
from ..regime.search import ParamGrid, evaluate_grid, objective_from_stats
from ..stats.selection import holm, spa_test
from .engine import BacktestResult
from .folds import Fold
from .stages import Prepared, Stitched, backtest_exposure, z_for

BTC_SEASON = 25.0  # Blockchaincenter: at or below 25 the top coins trail BTC (bitcoin season)

RULES: dict[str, str] = {
    "always_on": "the book every day",
    "always_flat": "never invested",
    "bitcoin_season": "Altcoin Season Index (top 50) <= 25",
    "btc_dom_up_30d": "BTC dominance up over 30 days",
    "eth_btc_down_50d": "ETH/BTC down over 50 days",
    "best_single_feature": "best single score feature per training fold (sign as in the grid)",
}
NOTE = (
    "every rule on the run's book, engine, costs and out-of-sample days; invested = the "
    "RISK_ON_MAJORS exposure (long majors, short alts) held over the next day; late = the "
    "same decisions held one day later. spa_p_value: Hansen's SPA (consistent p-value, "
    "stationary bootstrap with stats.mean_block, stats.n_boot resamples) that the model's "
    "net returns beat the rule's; spa_p_value_holm: Holm-adjusted over the baselines"
)


def spa_pvalue(
    returns: np.ndarray, benchmark: np.ndarray, n_boot: int, mean_block: float, seed: int
) -> float:
    """Hansen's SPA consistent p-value that the best column of ``returns`` (T x K, daily net
    returns) beats ``benchmark`` (T,): ``stats.selection.spa_test``, the house's one SPA (the
    headline's; pinned to ``arch.bootstrap.SPA`` in its tests), on the run's stationary
    bootstrap draws (``n_boot`` resamples of mean block ``mean_block``, ``seed``), over the
    days both are defined. nan with fewer than 10 days or no difference at all; 0 or 1 when
    every difference is one constant (nothing random to test)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    b = np.asarray(benchmark, dtype=np.float64)
    ok = np.isfinite(b) & np.isfinite(r).all(axis=1)
    d = r[ok] - b[ok][:, None]
    if d.shape[0] < 10 or not np.any(np.abs(d) > 0):
        return math.nan
    if np.all(np.ptp(d, axis=0) <= 1e-12):
        return 0.0 if float(d[0].max()) > 0 else 1.0
    res = spa_test(r[ok], b[ok], n_boot=n_boot, mean_block=mean_block, seed=seed)
    return float(res.p_value)


@dataclass(frozen=True)
class Entry:
    """One rule's decisions (exposure per decision day, 0 outside the test windows) and its
    backtests on time and one day late."""

    rule: str
    description: str
    exposure: np.ndarray
    result: BacktestResult
    late: BacktestResult
    detail: dict[str, object]


def _single_feature_grid(cfg: Config, p: Prepared) -> ParamGrid:
    """One-hot weights: each score feature with its grid sign (both signs without one); on
    above ``regime.upper``, no band, dwell 1."""
    rows, signs = [], cfg.regime.grid.signs
    k = len(p.score_features)
    for j, f in enumerate(p.score_features):
        for s in (signs[f],) if f in signs else (1.0, -1.0):
            w = np.zeros(k)
            w[j] = s
            rows.append(w)
    m = len(rows)
    up = float(cfg.regime.upper)
    return ParamGrid(
        features=p.score_features,
        weights=np.ascontiguousarray(np.array(rows)),
        lower=np.full(m, -up),
        upper=np.full(m, up),
        band=np.zeros(m),
        dwell=np.ones(m, dtype=np.int64),
        total_combinations=m,
    )


def best_single_feature(
    cfg: Config, p: Prepared, folds: list[Fold], last: int
) -> tuple[np.ndarray, list[str]]:
    """Per decision day, the regime code of the fold's best single-feature rule (BALANCED
    outside the test windows) and the rule chosen per fold (``'-alt_mom_7d'``: sign -1)."""
    z = z_for(p)
    grid = _single_feature_grid(cfg, p)
    codes = np.full(p.panel.n_days, BALANCED, dtype=np.int8)
    chosen = []
    for f in folds:
        st, _ = evaluate_grid(z, grid, p.inputs, f.train_start, f.train_end, 1)
        i = int(np.argmax(objective_from_stats(st, cfg.regime.objective)))
        end = min(f.test_end, last)
        score = composite_score(z[f.train_start : end + 1], grid.weights[i])
        c = _hyst(score, float(grid.lower[i]), float(grid.upper[i]), 0.0, 1, BALANCED, 10**9)
        codes[f.test_start : end + 1] = c[f.test_start - f.train_start :]
        j = int(np.flatnonzero(grid.weights[i])[0])
        chosen.append(("+" if grid.weights[i, j] > 0 else "-") + p.score_features[j])
    return codes, chosen


def _raw(p: Prepared, name: str) -> np.ndarray | None:
    return p.features.raw[:, p.features.column(name)] if name in p.features.names else None


def rule_exposures(
    cfg: Config, p: Prepared, s: Stitched, folds: list[Fold]
) -> dict[str, tuple[np.ndarray | None, dict[str, object]]]:
    """Each baseline's exposure per decision day (None when the lake lacks its input) and
    what it says about itself."""
    oos = s.fold_of >= 0
    on = np.where(oos, p.inputs.levels[MAJORS] * p.inputs.vscale, 0.0)
    out: dict[str, tuple[np.ndarray | None, dict[str, object]]] = {
        "always_on": (on, {}),
        "always_flat": (np.zeros_like(on), {}),
    }
    asi = _raw(p, "altseason_50")
    detail: dict[str, object] = {}
    if asi is not None:
        detail = coverage(altseason_counts_of(cfg, p, 50)[1], s.pnl_idx - 1, 50)
    with np.errstate(invalid="ignore"):
        season = None if asi is None else np.where(asi <= BTC_SEASON, on, 0.0)
        out["bitcoin_season"] = (season, detail)
        dom = _raw(p, "btc_dom_chg_30d")
        out["btc_dom_up_30d"] = (None if dom is None else np.where(dom > 0, on, 0.0), {})
        eb = _raw(p, "eth_btc_chg_50d")
        out["eth_btc_down_50d"] = (None if eb is None else np.where(eb < 0, on, 0.0), {})
    codes, chosen = best_single_feature(cfg, p, folds, p.panel.n_days - 1)
    single = np.where(oos, p.inputs.levels[codes] * p.inputs.vscale, 0.0)
    out["best_single_feature"] = (single, {"chosen_per_fold": chosen})
    return out


def altseason_counts_of(cfg: Config, p: Prepared, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The Altcoin Season Index over the top ``n`` and the coins it counts, per day."""
    from ..market.indicators import altcoin_season

    gap = cfg.data.max_gap_days
    return altcoin_season(p.panel.close, p.panel.mcap, p.universe.btc, n, max_gap_days=gap)


def coverage(counted: np.ndarray, days: np.ndarray, top_n: int) -> dict[str, object]:
    """How much of an index's top-N the lake holds over ``days``."""
    c = counted[days] if days.size else np.zeros(0)
    share = c / top_n
    full = float(np.mean(c >= top_n)) if c.size else math.nan
    out: dict[str, object] = {
        "top_n": top_n,
        "coins_mean": float(np.mean(c)) if c.size else math.nan,
        "coins_min": int(np.min(c)) if c.size else 0,
        "coverage_mean": float(np.mean(np.minimum(share, 1.0))) if c.size else math.nan,
        "full_coverage_share": full,
    }
    if c.size and full < 1.0:
        out["coverage_note"] = (
            f"the lake holds fewer coins than the index's top {top_n} on {1 - full:.0%} of "
            f"the out-of-sample days (on average {np.mean(c):.1f} of {top_n} counted): the "
            "index is the share among the coins it has"
        )
    return out


def late(exposure: np.ndarray, oos: np.ndarray) -> np.ndarray:
    """The decisions held one day later: the exposure decided at ``d - 1``, on the same
    out-of-sample days (flat on the first, whose day-earlier decision is not the rule's)."""
    e = np.zeros_like(exposure)
    e[1:] = exposure[:-1]
    return np.where(oos & np.r_[False, oos[:-1]], e, 0.0)


def entries(cfg: Config, p: Prepared, s: Stitched, folds: list[Fold]) -> list[Entry]:
    """The model (first) and every baseline the lake can compute, each backtested on time
    and one day late by the run's engine and costs."""
    oos = s.fold_of >= 0
    mode = cfg.regime.mode
    out = [
        Entry(
            "model",
            f"the run's model (regime.mode {mode})",
            s.exposure,
            s.strat,
            backtest_exposure(cfg, p, late(s.exposure, oos)),
            {},
        )
    ]
    for rule, (e, detail) in rule_exposures(cfg, p, s, folds).items():
        if e is None:
            continue
        res = s.bench if rule == "always_on" else backtest_exposure(cfg, p, e)
        out.append(
            Entry(rule, RULES[rule], e, res, backtest_exposure(cfg, p, late(e, oos)), detail)
        )
    return out


def _perf(cfg: Config, res: BacktestResult, exposure: np.ndarray, idx: np.ndarray) -> dict:
    r = res.net[idx]
    st = cfg.stats
    ci = stats.sharpe_ci(r, n_boot=st.n_boot, mean_block=st.mean_block, seed=st.seed)
    return {
        "oos_sharpe": stats.sharpe(r),
        "oos_sharpe_ci95": list(ci),
        "ann_return": float(np.mean(r) * stats.PERIODS) if r.size else math.nan,
        "max_drawdown": stats.max_drawdown(r),
        "avg_daily_turnover": float(np.mean(res.turnover[idx])) if r.size else math.nan,
        "total_fees": float(np.sum(res.fee[idx])),
        "total_slippage": float(np.sum(res.slippage[idx])),
        "total_funding": float(np.sum(res.funding[idx])),
        "days_invested": int(np.sum(exposure[idx - 1] > 0)),
    }


@stats.bootstrap_reuse()  # every entry's interval over the same days: one set of draws
def league_block(cfg: Config, p: Prepared, s: Stitched, folds: list[Fold]) -> dict:
    """kpis.json ``league`` (module doc): the model and each baseline on time and one day
    late, the model's SPA p-value against each baseline (raw and Holm-adjusted) and the
    coverage of the Altcoin Season Index's top N in this lake."""
    idx = s.pnl_idx
    es = entries(cfg, p, s, folds)
    st = cfg.stats
    model_r = es[0].result.net[idx]
    rows = []
    for e in es:
        row: dict[str, object] = {"rule": e.rule, "description": e.description}
        row |= _perf(cfg, e.result, e.exposure, idx)
        lt = _perf(cfg, e.late, late(e.exposure, s.fold_of >= 0), idx)
        row["late"] = {k: lt[k] for k in ("oos_sharpe", "oos_sharpe_ci95", "ann_return")} | {
            "days_invested": lt["days_invested"]
        }
        if e.rule != "model":
            row["spa_p_value"] = spa_pvalue(
                model_r, e.result.net[idx], st.n_boot, st.mean_block, st.seed
            )
        rows.append(row | e.detail)
    adj = holm([float(r["spa_p_value"]) for r in rows[1:]])  # type: ignore[arg-type]
    for r, a in zip(rows[1:], adj, strict=True):
        r["spa_p_value_holm"] = float(a)
    days = idx - 1
    indicators = {
        f"altseason_{n}": coverage(altseason_counts_of(cfg, p, n)[1], days, n)
        for n in (50, 100)
        if f"altseason_{n}" in p.features.names
    }
    return {
        "entries": rows,
        "indicators": indicators,
        "spa": {
            "test": "Hansen SPA, consistent p-value (model vs each baseline)",
            "n_boot": st.n_boot,
            "mean_block": st.mean_block,
            "seed": st.seed,
            "adjustment": f"holm over {len(rows) - 1} baselines",
        },
        "note": NOTE,
    }
