"""kpis.json, the by-regime metrics and the daily frames of OUTPUTS.md, assembled from a run's stages."""

from __future__ import annotations

import numpy as np
import polars as pl

from .. import labels, stats
from ..backtest.engine import funding_by_leg
from ..backtest.stages import FoldFit, Prepared, Stitched, iso, param_in_force
from ..backtest.trials import TrialFamily
from ..config import REGIMES, Config
from ..regime.hysteresis import REGIME_NAMES
from ..regime.search import ParamGrid
from ..stats import multiple_testing
from ..stats.neutrality import beta_warning, market_spread_betas, newey_west_lags
from ..stats.tearsheet import pnl_attribution
from .decision import explain_arrays
from .spa_keys import headline, spa_keys
from .thin_report import no_trade_reasons


@stats.bootstrap_reuse()  # the Sharpe interval and the regime edges share their draws
def assemble_kpis(
    cfg: Config,
    p: Prepared,
    fits: list[FoldFit],
    s: Stitched,
    grid: ParamGrid | None,
    var_trials: float,
    pbo: float,
    eff: multiple_testing.EffectiveTrials | None = None,
    family: TrialFamily | None = None,
) -> tuple[dict, pl.DataFrame]:
    """kpis.json (OUTPUTS.md) and the by-regime metrics, over the out-of-sample pnl days.
    ``family``: the trials' out-of-sample returns for the selection tests (``walk_forward.spa``,
    ``headline``); without it a search of several trials gets no SPA (a sweep point's row)."""
    panel, uni, book, idx = p.panel, p.universe, p.book, s.pnl_idx
    strat, bench = s.strat, s.bench
    held_exp = s.exposure[idx - 1]
    r, rb = strat.net[idx], bench.net[idx]
    btc_r, eth_r = panel.ret[idx, uni.btc], panel.ret[idx, uni.eth]
    k_strat = stats.kpis(
        r,
        turnover=strat.turnover[idx],
        fees=strat.fee[idx],
        slippage=strat.slippage[idx],
        funding=strat.funding[idx],
        exposure=held_exp,
    )
    k_bench = stats.kpis(
        rb,
        turnover=bench.turnover[idx],
        fees=bench.fee[idx],
        slippage=bench.slippage[idx],
        funding=bench.funding[idx],
        exposure=s.bench_exposure[idx - 1],
    )
    ci = stats.sharpe_ci(
        r, n_boot=cfg.stats.n_boot, mean_block=cfg.stats.mean_block, seed=cfg.stats.seed
    )
    sr_pp, n_obs, skew, kurt = stats.sharpe_moments(r)
    n_trials = grid.size if grid is not None else len(fits[0].trial_sharpe) if fits else 1
    finite = bool(np.isfinite(sr_pp))
    dsr = (
        stats.deflated_sharpe(sr_pp, n_obs, skew, kurt, n_trials=n_trials, var_trials=var_trials)
        if finite
        else float("nan")
    )
    psr = stats.probabilistic_sharpe(sr_pp, n_obs, skew, kurt) if finite else float("nan")
    hurdle = stats.expected_max_sharpe(n_trials, var_trials) * np.sqrt(365) if n_trials > 1 else 0.0
    effective = effective_n_block(sr_pp, n_obs, skew, kurt, n_trials, dsr, hurdle, eff)
    spa = (
        spa_keys(cfg, family, r, rb)
        if family is not None or n_trials <= 1
        else {"p_value": None, "p_value_always_on": None, "claims_edge": False, "note": NO_SPA}
    )
    invested = held_exp > 0
    if invested.sum() >= 10:
        bb, be = stats.realized_betas(r[invested], btc_r[invested], eth_r[invested])
    else:
        bb, be = float("nan"), float("nan")
    ab, ae = stats.realized_betas(rb, btc_r, eth_r)
    fold_rows = []
    for ff in fits:
        f = ff.fold
        mask = (idx - 1 >= f.test_start) & (idx - 1 <= f.test_end)
        fold_rows.append(
            {
                "fold": f.index,
                "train_start": iso(panel.dates[f.train_start + 1]),
                "train_end": iso(panel.dates[f.train_end + 1]),
                "test_start": iso(panel.dates[f.test_start + 1]),
                "test_end": iso(panel.dates[min(f.test_end + 1, panel.n_days - 1)]),
                "train_decision_start": iso(panel.dates[f.train_start]),
                "train_decision_end": iso(panel.dates[f.train_end]),
                "test_decision_start": iso(panel.dates[f.test_start]),
                "test_decision_end": iso(panel.dates[f.test_start + len(ff.codes) - 1]),
                "params": ff.params,
                "train_sharpe": float(ff.trial_sharpe[ff.best] * np.sqrt(365)),
                "train_objective": cfg.regime.objective
                if cfg.regime.mode == "composite"
                else "sharpe",
                "test_sharpe": stats.sharpe(r[mask]),
                "n_trials": len(ff.trial_sharpe),
            }
        )
    rows = stats.regime_metrics(
        rb,
        np.array([REGIME_NAMES[c] for c in s.codes[idx - 1]]),
        r,
        list(REGIMES),
        n_boot=cfg.stats.n_boot,
        mean_block=cfg.stats.mean_block,
        seed=cfg.stats.seed,
    )
    ex_b, ex_e = held_exp * book.beta_btc[idx - 1], held_exp * book.beta_eth[idx - 1]
    kpis = {
        "headline": {},  # filled below from walk_forward: first in the file
        "period": {
            "start": iso(panel.dates[idx[0]]),
            "end": iso(panel.dates[idx[-1]]),
            "days": int(len(r)),
        },
        "conventions": {
            "periods_per_year": 365,
            "risk_free": 0.0,
            "returns": "simple, net of costs",
            "signs": dict(labels.SIGNS),
        },
        "strategy": k_strat,
        "benchmark_always_on": k_bench,
        "walk_forward": {
            "spa": spa,
            "folds": fold_rows,
            "fold_dates_note": labels.FOLD_DAYS,
            "oos_sharpe": stats.sharpe(r),
            "oos_sharpe_ci95": list(ci),
            "n_trials": int(n_trials),
            "deflated_sharpe": dsr,
            "pbo": pbo,
            "probabilistic_sharpe": psr,
            "deflated_sharpe_hurdle": hurdle,
            "trial_sharpe_variance_per_period": var_trials,
            "deflated_sharpe_note": "probability that the stitched out-of-sample Sharpe beats "
            "the expected best of n_trials null trials; the trials' Sharpe spread is measured "
            "over the same out-of-sample days. Conservative: trials are correlated, so fewer "
            "are independent than n_trials. deflated_sharpe_effective deflates by "
            "effective_n_trials instead: a diagnostic that over-claims when the trials share a "
            "common factor (docs/statistics.md); the selection-aware headline is spa.p_value. "
            "probabilistic_sharpe is the same test against 0",
            **effective,
            "pbo_note": "CSCV over the out-of-sample span, every trial evaluated on every day",
            "mode": cfg.regime.mode,
            "grid_combinations": grid.total_combinations if grid is not None else None,
            "scheme": cfg.walkforward.scheme,
        },
        "neutrality": {
            "beta_btc_realized": bb,
            "beta_eth_realized": be,
            "mean_abs_beta_btc_ex_ante": float(np.nanmean(np.abs(ex_b[invested])))
            if invested.any()
            else float("nan"),
            "mean_abs_beta_eth_ex_ante": float(np.nanmean(np.abs(ex_e[invested])))
            if invested.any()
            else float("nan"),
            "neutrality_error": float(np.sqrt(bb**2 + be**2)),
            "always_on_beta_btc_realized": ab,
            "always_on_beta_eth_realized": ae,
            "infeasible_days": int((book.built & ~book.feasible)[idx - 1].sum()),
            "beta_fallback_name_days": int(book.n_fallback[idx - 1].sum()),
        },
        "regime_edge": {
            row["regime"]: {"edge": row.get("edge"), "p_value": row.get("edge_p_value")}
            for row in rows
        },
        "costs": {
            "unfunded_share_mean": float(np.mean(strat.unfunded_share[idx][invested]))
            if invested.any()
            else float("nan"),
            "missing_funding_rule": cfg.costs.missing_funding,
            "unfunded_share_mean_of": labels.UNFUNDED_OF["unfunded_share_mean"],
        },
    }
    kpis["headline"] = headline(kpis["walk_forward"])
    add_fidelity_keys(cfg, p, s, kpis)
    return kpis, pl.DataFrame(rows)


NO_SPA = "not computed: the trials' out-of-sample returns were not evaluated (a sweep point)"


GROSS_KEYS = ("sharpe", "ann_return", "ann_vol", "cagr", "max_drawdown", "sortino", "calmar")
UNFUNDED_WARN = 0.20  # share of the short notional without funding data that triggers a warning


def add_fidelity_keys(cfg: Config, p: Prepared, s: Stitched, kpis: dict) -> None:
    """Issue 9's keys, added in place: target-to-target turnover beside the drift-aware one,
    the always-on book's gross figures, funding by leg with the unfunded-short warning, and the
    market/spread betas with Newey-West standard errors (README, "Backtest fidelity")."""
    panel, uni, idx = p.panel, p.universe, s.pnl_idx
    kpis["strategy"]["avg_daily_turnover_target"] = float(np.mean(s.strat.turnover_target[idx]))
    bench = kpis["benchmark_always_on"]
    bench["avg_daily_turnover_target"] = float(np.mean(s.bench.turnover_target[idx]))
    g = stats.kpis(s.bench.gross[idx])
    bench["gross"] = {k: g[k] for k in GROSS_KEYS}
    fund = panel.funding if panel.has_funding else None
    legs = {
        name: funding_by_leg(
            p.book.weights * e[:, None],
            fund,
            cfg.costs,
            [uni.btc, uni.eth],
            idx,
            basket=uni.basket,
        )
        for name, e in (("strategy", s.exposure), ("always_on", s.bench_exposure))
    }
    share = legs["strategy"]["unfunded_short_share"]
    share_on = legs["always_on"]["unfunded_short_share"]
    book, worst = max(
        (
            (b, x)
            for b, x in (("strategy", share), ("always-held book", share_on))
            if np.isfinite(x)
        ),
        key=lambda bx: bx[1],
        default=("strategy", float("nan")),
    )
    # how data-dependent features were defined in this window (funding_skew's majors leg)
    kpis["feature_definitions"] = dict(p.features.definitions)
    kpis["funding_by_leg"] = {
        "strategy": {k: legs["strategy"][k] for k in ("majors_long", "alts_short")},
        "always_on": {k: legs["always_on"][k] for k in ("majors_long", "alts_short")},
        "unfunded_short_share": share,
        "unfunded_short_share_always_on": share_on,
        "warning": unfunded_warning(worst, cfg, legs["always_on"]["majors_long"], book),
        "rule": cfg.costs.missing_funding,
        "unfunded_short_share_of": labels.UNFUNDED_OF["unfunded_short_share"],
        "unfunded_short_share_always_on_of": labels.UNFUNDED_OF["unfunded_short_share_always_on"],
    }
    btc, eth = panel.ret[idx, uni.btc], panel.ret[idx, uni.eth]
    invested = s.exposure[idx - 1] > 0
    r = np.where(invested, s.strat.net[idx], np.nan)
    # the Newey-West lag from each regression's own length: the gated book's invested days
    # (its own nw_lags), the always-on book's whole out-of-sample span (nw_lags, as before)
    lags = newey_west_lags(len(idx))
    strat = market_spread_betas(r, btc, eth)
    kpis["neutrality"]["market_spread"] = {
        "strategy": strat,
        "always_on": market_spread_betas(s.bench.net[idx], btc, eth, lags),
        "nw_lags": lags,
        "warning": beta_warning(strat),
    }


def unfunded_warning(
    share: float, cfg: Config, majors_funding: float, book: str = "strategy"
) -> str | None:
    """The run warning when more than 20% of the short notional of ``book`` (the strategy or
    the always-held book, whichever is larger) has no funding data."""
    if not (share > UNFUNDED_WARN):
        return None
    rule = cfg.costs.missing_funding
    if not cfg.costs.funding:
        how = "costs.funding is off: no leg pays or earns funding"
    elif rule == "zero":
        how = "missing_funding: zero counts it as 0, so the shorts earn nothing there"
    elif rule == "majors_median":
        how = (
            "missing_funding: majors_median fills it with the median of the majors' rates "
            "that day, an estimate (README, funding)"
        )
    else:
        how = (
            "missing_funding: basket_median fills it with the median rate of the basket alts "
            "that have data (0 on days when none has)"
        )
    longs = (
        f", while the long majors' funding is charged in full ({majors_funding:+.1%} over the "
        "span on the always-on book)"
        if cfg.costs.funding
        else ""
    )
    return (
        f"funding is one-sided: {share:.0%} of the short notional has no funding data (the "
        f"{book}'s, mean over its days with a short book) ({how}){longs}; read net figures "
        "with benchmark_always_on.gross and funding_by_leg in kpis.json"
    )


def assemble_frames(
    cfg: Config, p: Prepared, fits: list[FoldFit], s: Stitched, grid: ParamGrid | None
) -> dict[str, pl.DataFrame]:
    """The daily frames of OUTPUTS.md and the trial table of the artifacts."""
    panel, uni, book, idx = p.panel, p.universe, p.book, s.pnl_idx
    strat, r, rb = s.strat, s.strat.net[idx], s.bench.net[idx]
    held_exp = s.exposure[idx - 1]
    dates = panel.dates[idx]
    pnl = pl.DataFrame(
        {
            "date": dates,
            "regime": [REGIME_NAMES[c] for c in s.codes[idx - 1]],
            "exposure": held_exp,
            "gross_return": strat.gross[idx],
            "fee_cost": strat.fee[idx],
            "slippage_cost": strat.slippage[idx],
            "funding_pnl": strat.funding[idx],
            "net_return": r,
            "turnover": strat.turnover[idx],
            "gross_leverage": strat.gross_leverage[idx],
            "long_notional": strat.long_notional[idx],
            "short_notional": strat.short_notional[idx],
            "beta_btc": held_exp * book.beta_btc[idx - 1],
            "beta_eth": held_exp * book.beta_eth[idx - 1],
            "fold": s.fold_of[idx - 1],
            "benchmark_net_return": rb,
            "unfunded_share": strat.unfunded_share[idx],
            "turnover_target": strat.turnover_target[idx],
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    eq = stats.equity_curve(r)
    equity = pl.DataFrame(
        {
            "date": dates,
            "equity": eq,
            "drawdown": stats.drawdown(r),
            "benchmark_equity": stats.equity_curve(rb),
            "btc_equity": stats.equity_curve(np.nan_to_num(panel.ret[idx, uni.btc])),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    n = panel.n_days
    timeline = (
        pl.DataFrame(
            {
                "date": panel.dates,
                "fold": s.fold_of,
                "score": s.score,
                "regime": [REGIME_NAMES[c] for c in s.codes],
                "exposure": s.exposure,
                "lower": thresholds(fits, n, "lower"),
                "upper": thresholds(fits, n, "upper"),
                "basket_size": book.n_names,
                "book_beta_btc": book.beta_btc,
                "book_beta_eth": book.beta_eth,
            }
        )
        .with_columns(pl.col("date").cast(pl.Date))
        .fill_nan(None)
    )
    held_built = np.r_[False, book.built[:-1]]
    book_r = np.where(held_built, p.base.gross, np.nan)
    rb_btc, rb_eth = stats.rolling_realized_betas(
        book_r, panel.ret[:, uni.btc], panel.ret[:, uni.eth], cfg.stats.rolling_beta_window
    )
    betas = (
        pl.DataFrame(
            {
                "date": panel.dates,
                "beta_btc_realized": rb_btc,
                "beta_eth_realized": rb_eth,
                "beta_btc_ex_ante": book.beta_btc,
                "beta_eth_ex_ante": book.beta_eth,
            }
        )
        .with_columns(pl.col("date").cast(pl.Date))
        .fill_nan(None)
    )
    trials = pl.concat(
        [
            pl.DataFrame(
                {
                    "fold": np.full(len(ff.trial_sharpe), ff.fold.index),
                    "trial": np.arange(len(ff.trial_sharpe)),
                    "train_sharpe_per_period": ff.trial_sharpe,
                    "chosen": np.arange(len(ff.trial_sharpe)) == ff.best,
                }
            )
            for ff in fits
        ]
    )
    if grid is not None:
        params = pl.DataFrame(
            {
                "trial": np.arange(grid.size),
                **{f"w_{f}": grid.weights[:, j] for j, f in enumerate(grid.features)},
                "lower": grid.lower,
                "upper": grid.upper,
                "band": grid.band,
                "min_dwell": grid.dwell,
            }
        )
        trials = trials.join(params, on="trial", how="left")
    return {"pnl": pnl, "equity": equity, "timeline": timeline, "betas": betas, "trials": trials}


def thresholds(fits: list[FoldFit], n: int, key: str) -> np.ndarray:
    return param_in_force(fits, n, key)


def explain_frame(cfg: Config, p: Prepared, fits: list[FoldFit]) -> pl.DataFrame:
    """The timeline's "why this regime" columns (README): ``contrib_<feature>`` per score
    feature (composite and forecast modes; they sum to ``score``), ``band``, ``min_dwell``,
    ``days_in_regime``, ``dwell_left``; null outside the test windows."""
    ex = explain_arrays(cfg, p, fits)
    outside = pl.Series(ex.fold_of < 0)
    cols: dict[str, pl.Series] = {}
    if ex.contrib is not None:
        for j, f in enumerate(p.score_features):
            cols[f"contrib_{f}"] = pl.Series(ex.contrib[:, j])
    cols["band"] = pl.Series(ex.band)
    cols["min_dwell"] = pl.Series(ex.min_dwell).cast(pl.Int64, strict=False)
    cols["days_in_regime"] = pl.Series(ex.days_in_regime).set(outside, None)
    cols["dwell_left"] = pl.Series(ex.dwell_left).set(outside, None)
    cols["no_trade_reason"] = no_trade_reasons(p)
    return pl.DataFrame(cols).fill_nan(None)


def effective_n_block(
    sr_pp: float,
    n_obs: int,
    skew: float,
    kurt: float,
    n_trials: int,
    dsr: float,
    hurdle: float,
    eff: multiple_testing.EffectiveTrials | None,
) -> dict:
    """kpis.json ``walk_forward`` keys of the effective number of trials and the minimum track
    record length (``multiple_testing``); with one trial the effective figures equal the raw."""
    mintrl = multiple_testing.minimum_track_record(sr_pp, skew, kurt)
    nan = float("nan")
    method: str | None = multiple_testing.EFFECTIVE_N_METHOD
    if eff is None and n_trials > 1:  # not computed (e.g. a sweep's runs): no figure
        n_eff, dsr_eff, hurdle_eff, var_rep, sr0_pp = nan, nan, nan, nan, nan
        sampled, clusters, msq, method = 0, 0, nan, None
    elif eff is None:  # one trial: nothing to deflate, the effective figures are the raw ones
        n_eff, dsr_eff, hurdle_eff, var_rep = float(n_trials), dsr, hurdle, nan
        sampled, clusters, msq = n_trials, n_trials, nan
        sr0_pp = hurdle / np.sqrt(365)
    else:
        dsr_eff, sr0_pp = multiple_testing.deflated_sharpe_effective(sr_pp, n_obs, skew, kurt, eff)
        n_eff, hurdle_eff = eff.n_effective, sr0_pp * np.sqrt(365)
        var_rep, sampled, clusters, msq = (
            eff.var_deflation,
            eff.n_sampled,
            eff.n_clusters,
            eff.mean_sq_corr,
        )
    vs_hurdle = multiple_testing.minimum_track_record(sr_pp, skew, kurt, sr_benchmark=sr0_pp)
    return {
        "effective_n_trials": n_eff,
        "effective_n_method": method,
        "effective_n_sampled_trials": sampled,
        "effective_n_mean_sq_corr": msq,
        "effective_n_clusters": clusters,
        "trial_sharpe_variance_effective": var_rep,
        "deflated_sharpe_effective": dsr_eff,
        "deflated_sharpe_hurdle_effective": hurdle_eff,
        "min_track_record_days": mintrl,
        "min_track_record_days_vs_hurdle": vs_hurdle,
        "effective_n_note": "participation ratio N / (1 + (N - 1) mean rho^2) of the trials' "
        "out-of-sample daily returns (bias-corrected rho^2, a seeded subsample of at most "
        "stats.effective_n_max_trials trials); deflated_sharpe_effective uses it with the Sharpe "
        "variance of round(N_eff) correlation clusters' inverse-variance representatives, or of "
        "the trials themselves when larger (trial_sharpe_variance_effective). "
        "min_track_record_days: days of this Sharpe, skew and kurtosis needed for 95% confidence "
        "that the true Sharpe exceeds 0 (vs_hurdle: exceeds the effective hurdle); null when "
        "the Sharpe does not exceed it",
    }


def with_trial_oos_sharpe(trials: pl.DataFrame, sr: np.ndarray | None) -> pl.DataFrame:
    """``oos_sharpe_per_period``: every trial's per-period (not annualised) Sharpe over the
    whole stitched out-of-sample span (the one the deflated Sharpe uses); null when the
    search has a single trial."""
    if sr is None or "trial" not in trials.columns:
        return trials.with_columns(pl.lit(None, dtype=pl.Float64).alias("oos_sharpe_per_period"))
    oos = pl.DataFrame({"trial": np.arange(len(sr)), "oos_sharpe_per_period": sr})
    return trials.join(
        oos.with_columns(pl.col("trial").cast(trials.schema["trial"])), on="trial", how="left"
    ).with_columns(pl.col("oos_sharpe_per_period").fill_nan(None))


def pnl_attribution_frame(p: Prepared, s: Stitched) -> pl.DataFrame:
    """Per-asset gross P&L of the strategy's held book over the out-of-sample pnl days
    (weights decided the day before, times exposure, times the day's return)."""
    idx = s.pnl_idx
    held = p.book.weights[idx - 1] * s.exposure[idx - 1][:, None]
    uni = p.universe
    return pnl_attribution(held, p.panel.ret[idx], p.panel.assets, uni.btc, uni.eth)
