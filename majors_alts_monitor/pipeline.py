"""The one orchestration: lake -> panel -> universe -> features -> book -> walk-forward regimes
-> backtest -> statistics. Returns frames and dicts; writing them is ``outputs.py``'s job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from . import __version__, stats
from .backtest import BacktestResult, run_backtest, vol_target_scale
from .beta_neutral import Betas, Book, build_book, rolling_betas
from .config import REGIMES, Config
from .data_io import LakeData, LakeReader, check_output_root
from .errors import MonitorError
from .features import FeatureSet, compute_features
from .panel import MarketPanel, build_panel
from .regime.composite import CompositeRegime
from .regime.hysteresis import BALANCED, REGIME_NAMES
from .regime.search import SearchInputs, evaluate_grid, sharpe_from_stats, transition_costs
from .regime.unsupervised import HMMRegime, KMeansRegime
from .universe import Universe, build_universe
from .walkforward import Fold, make_folds

log = logging.getLogger("majors_alts_monitor")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    lake: LakeData
    panel: MarketPanel
    universe: Universe
    features: FeatureSet
    score_features: tuple[str, ...]
    betas: Betas
    book: Book
    base: BacktestResult  # the always-held book at exposure 1, every day
    inputs: SearchInputs
    first_day: int  # first decision day after burn-in
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class FoldFit:
    fold: Fold
    params: dict[str, object]
    score: np.ndarray  # test decisions
    codes: np.ndarray  # test decisions
    train_objective: float
    trial_sharpe: np.ndarray  # per-period (not annualised) train Sharpe of every trial
    n_trials: int
    state_at: tuple[np.ndarray, np.ndarray] = field(default=(np.empty(0), np.empty(0)))


@dataclass(frozen=True)
class RunResult:
    timeline: pl.DataFrame
    features: pl.DataFrame
    pnl: pl.DataFrame
    equity: pl.DataFrame
    kpis: dict
    regime_metrics: pl.DataFrame
    betas: pl.DataFrame
    folds: list[dict]
    trials: pl.DataFrame
    manifest: dict
    warnings: tuple[str, ...]


def _noop(_: str) -> None:
    return None


def make_reader(cfg: Config) -> LakeReader:
    duck = cfg.paths.duckdb if cfg.paths.duckdb is not None and cfg.paths.duckdb.is_file() else None
    return LakeReader(
        cfg.paths.data_lake,
        duck,
        aliases=cfg.universe.aliases,
        exclude=cfg.universe.exclude,
        on_bad_values=cfg.data.on_bad_values,
    )


def prepare(cfg: Config, lake: LakeData, start: date, end: date) -> Prepared:
    """Panel, universe, features, betas, book and the per-day search inputs for ``[start, end]``."""
    warns = list(lake.warnings)
    for m in cfg.universe.majors:
        if lake.tables["fact_price"].filter(pl.col("asset_id") == m).height == 0:
            from .errors import LakeError

            raise LakeError(
                "fact_price",
                f"has no prices for the major {m} in the window",
                column="asset_id",
                key=m,
                hint="check universe.majors and the lake's asset ids",
            )
    panel = build_panel(lake, start, end, cfg.data.max_gap_days)
    snaps = lake.tables.get("universe_snapshots")
    universe = build_universe(
        panel, cfg.universe, max_gap_days=cfg.data.max_gap_days, snapshots=snaps
    )
    feats = compute_features(
        panel,
        universe,
        zscore_window=cfg.features.zscore_window,
        zscore_min_periods=cfg.features.zscore_min_periods,
        enabled=cfg.features.enabled,
    )
    warns += feats.warnings
    if not panel.has_funding:
        warns.append("fact_funding absent: funding costs are not modelled (funding_pnl is 0)")
    score_features = tuple(f for f in cfg.regime.grid.score_features if f in feats.names)
    dropped = [f for f in cfg.regime.grid.score_features if f not in feats.names]
    if dropped:
        warns.append(f"score features {dropped} unavailable in this lake; searched without them")
    if not score_features:
        raise MonitorError("none of regime.grid.score_features is available: nothing to score")
    betas = rolling_betas(panel, universe, cfg.book)
    book = build_book(panel, universe, betas, cfg.book)
    costs0 = cfg.costs.model_copy(
        update={
            "taker_fee_bps": 0.0,
            "maker_fee_bps": 0.0,
            "slippage_floor_bps": 0.0,
            "slippage_impact_bps": 0.0,
        }
    )
    base = run_backtest(
        book.weights,
        panel.ret,
        panel.funding if panel.has_funding else None,
        universe.median_volume,
        costs0,
        basket=universe.basket,
    )
    book_pnl = base.gross + base.funding
    if cfg.vol_target.enabled:
        v = vol_target_scale(
            np.where(base.gross_leverage > 0, book_pnl, np.nan),
            cfg.vol_target.target_ann_vol,
            cfg.vol_target.lookback_days,
            cfg.vol_target.max_leverage,
        )
    else:
        v = np.ones(panel.n_days)
    levels = np.array([cfg.regime.exposure[r] for r in REGIMES], dtype=np.float64)
    cost = transition_costs(book.weights, v, levels, universe.median_volume, cfg.costs)
    burn = cfg.burn_in_days()
    built = np.flatnonzero(book.built)
    first_day = max(burn, int(built[0]) if built.size else panel.n_days)
    return Prepared(
        lake,
        panel,
        universe,
        feats,
        score_features,
        betas,
        book,
        base,
        SearchInputs(levels, v, book_pnl, cost),
        first_day,
        tuple(warns),
    )


def _z_for(p: Prepared) -> np.ndarray:
    return p.features.z[:, [p.features.column(f) for f in p.score_features]]


def fit_fold(cfg: Config, p: Prepared, fold: Fold, label_end: int | None = None) -> FoldFit:
    """Fit the configured model on the fold's train decisions and label its test decisions
    (through ``label_end`` when given: the run's last day, whose next-day return is unknown)."""
    z = _z_for(p)
    mode = cfg.regime.mode
    a, b, t0 = fold.train_start, fold.train_end, fold.test_start
    t1 = fold.test_end if label_end is None else max(fold.test_end, label_end)
    if mode == "composite":
        default = {
            "weights": cfg.regime.default_weights,
            "lower": cfg.regime.lower,
            "upper": cfg.regime.upper,
            "band": cfg.regime.band,
            "min_dwell": cfg.regime.min_dwell,
        }
        m = CompositeRegime(
            p.score_features,
            cfg.regime.grid,
            cfg.regime.objective,
            default,
            n_blocks=cfg.stats.pbo_blocks,
        )
        m.fit(z, p.inputs, a, b)
        score, codes = m.predict(z, a, t1)
        assert m.objective_ is not None and m.stats_ is not None and m.params_ is not None
        trial_sr = sharpe_from_stats(m.stats_, periods=1)
        return FoldFit(
            fold,
            m.params_,
            score[t0 - a :],
            codes[t0 - a :],
            float(m.objective_[m.best_]),
            trial_sr,
            len(trial_sr),
        )
    cls = HMMRegime if mode == "hmm" else KMeansRegime
    model = cls(n_states=cfg.regime.n_states, min_dwell=cfg.regime.min_dwell, seed=cfg.stats.seed)
    next_ret = p.inputs.book_pnl[a + 1 : b + 2]
    model.fit(z[a : b + 1], next_ret)
    score, codes = model.predict(z[a : t1 + 1])
    train_codes = codes[: b - a + 1]
    lv = p.inputs.levels[train_codes] * p.inputs.vscale[a : b + 1]
    tr = lv * next_ret
    sr = stats.sharpe(tr)
    assert model.params_ is not None
    return FoldFit(
        fold,
        dict(model.params_),
        score[t0 - a :],
        codes[t0 - a :],
        float(sr) if np.isfinite(sr) else 0.0,
        np.array([sr / np.sqrt(365) if np.isfinite(sr) else 0.0]),
        1,
    )


def _dates(p: MarketPanel, idx: np.ndarray | slice) -> np.ndarray:
    return p.dates[idx]


def _iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))


def run(cfg: Config, start: date, end: date, progress: Progress = _noop) -> RunResult:
    t_start = time.time()
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        timings[name] = round(time.time() - t0, 3)
        return time.time()

    reader = make_reader(cfg)
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    if end < start:
        raise MonitorError(f"--end {end} is before --start {start}")
    progress("reading the lake")
    t = time.time()
    lake = reader.read(start, end)
    last_price = lake.tables["fact_price"]["date"].max()
    first_price = lake.tables["fact_price"]["date"].min()
    eff_start = max(start, first_price)
    eff_end = min(end, last_price)
    warns: list[str] = []
    if eff_end < end:
        warns.append(f"the lake's prices end on {eff_end}, before --end {end}: the run stops there")
    if eff_start > start:
        warns.append(f"the lake's prices start on {eff_start}, after --start {start}")
    t = lap("read", t)
    progress("building panel, universe, features and book")
    p = prepare(cfg, lake, eff_start, eff_end)
    warns += p.warnings
    t = lap("prepare", t)
    n = p.panel.n_days
    wf = cfg.walkforward
    folds = make_folds(
        p.first_day,
        n - 2,
        train_days=wf.train_days,
        test_days=wf.test_days,
        purge_days=wf.purge_days,
        scheme=wf.scheme,
    )
    if not folds:
        need = p.first_day + wf.train_days + wf.purge_days + 2
        raise MonitorError(
            f"the window {eff_start}..{eff_end} ({n} days) is too short for one walk-forward fold: "
            f"it needs burn-in ({p.first_day} days) + train ({wf.train_days}) + purge "
            f"({wf.purge_days}) + at least one test day, about {need} days. What to do: widen "
            "--start/--end or shorten walkforward.train_days"
        )
    progress(f"walk-forward: {len(folds)} folds, mode {cfg.regime.mode}")
    fits = [fit_fold(cfg, p, f, n - 1 if f is folds[-1] else None) for f in folds]
    t = lap("walk_forward", t)
    # stitch the out-of-sample regimes
    codes = np.full(n, BALANCED, dtype=np.int8)
    score = np.full(n, np.nan)
    fold_of = np.full(n, -1, dtype=np.int64)
    for ff in fits:
        sl = slice(ff.fold.test_start, ff.fold.test_start + len(ff.codes))
        codes[sl], score[sl], fold_of[sl] = ff.codes, ff.score, ff.fold.index
    oos_dec = fold_of >= 0
    v = p.inputs.vscale
    exposure = np.where(oos_dec, p.inputs.levels[codes] * v, 0.0)
    bench_exposure = np.where(oos_dec, v, 0.0)
    panel, uni, book = p.panel, p.universe, p.book
    fund = panel.funding if panel.has_funding else None
    strat = run_backtest(
        book.weights * exposure[:, None],
        panel.ret,
        fund,
        uni.median_volume,
        cfg.costs,
        basket=uni.basket,
    )
    bench = run_backtest(
        book.weights * bench_exposure[:, None],
        panel.ret,
        fund,
        uni.median_volume,
        cfg.costs,
        basket=uni.basket,
    )
    t = lap("backtest", t)
    progress("statistics")
    # pnl days: d + 1 for OOS decisions d
    pnl_idx = np.flatnonzero(oos_dec) + 1
    pnl_idx = pnl_idx[pnl_idx < n]
    held_codes = codes[pnl_idx - 1]
    held_exp = exposure[pnl_idx - 1]
    r = strat.net[pnl_idx]
    rb = bench.net[pnl_idx]
    btc_r = panel.ret[pnl_idx, uni.btc]
    eth_r = panel.ret[pnl_idx, uni.eth]
    pnl_dates = panel.dates[pnl_idx]
    pnl = pl.DataFrame(
        {
            "date": pnl_dates,
            "regime": [REGIME_NAMES[c] for c in held_codes],
            "exposure": held_exp,
            "gross_return": strat.gross[pnl_idx],
            "fee_cost": strat.fee[pnl_idx],
            "slippage_cost": strat.slippage[pnl_idx],
            "funding_pnl": strat.funding[pnl_idx],
            "net_return": r,
            "turnover": strat.turnover[pnl_idx],
            "gross_leverage": strat.gross_leverage[pnl_idx],
            "long_notional": strat.long_notional[pnl_idx],
            "short_notional": strat.short_notional[pnl_idx],
            "beta_btc": held_exp * book.beta_btc[pnl_idx - 1],
            "beta_eth": held_exp * book.beta_eth[pnl_idx - 1],
            "fold": fold_of[pnl_idx - 1],
            "benchmark_net_return": rb,
            "unfunded_share": strat.unfunded_share[pnl_idx],
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    eq = stats.equity_curve(r)
    equity = pl.DataFrame(
        {
            "date": pnl_dates,
            "equity": eq,
            "drawdown": eq / np.maximum.accumulate(np.r_[1.0, eq])[1:] - 1.0,
            "benchmark_equity": stats.equity_curve(rb),
            "btc_equity": stats.equity_curve(np.nan_to_num(btc_r)),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    # KPIs
    k_strat = stats.kpis(
        r,
        turnover=strat.turnover[pnl_idx],
        fees=strat.fee[pnl_idx],
        slippage=strat.slippage[pnl_idx],
        funding=strat.funding[pnl_idx],
        exposure=held_exp,
    )
    k_bench = stats.kpis(
        rb,
        turnover=bench.turnover[pnl_idx],
        fees=bench.fee[pnl_idx],
        slippage=bench.slippage[pnl_idx],
        funding=bench.funding[pnl_idx],
        exposure=bench_exposure[pnl_idx - 1],
    )
    oos_sr = stats.sharpe(r)
    ci = stats.sharpe_ci(
        r, n_boot=cfg.stats.n_boot, mean_block=cfg.stats.mean_block, seed=cfg.stats.seed
    )
    sr_pp, n_obs, skew, kurt = stats.sharpe_moments(r)
    n_trials = max(ff.n_trials for ff in fits)
    var_trials = float(
        np.mean([np.var(ff.trial_sharpe, ddof=1) if ff.n_trials > 1 else 0.0 for ff in fits])
    )
    dsr = (
        stats.deflated_sharpe(sr_pp, n_obs, skew, kurt, n_trials=n_trials, var_trials=var_trials)
        if np.isfinite(sr_pp)
        else float("nan")
    )
    pbo = float("nan")
    if cfg.regime.mode == "composite":
        d0, d1 = folds[0].test_start, min(folds[-1].test_end, n - 2)
        m = CompositeRegime(
            p.score_features,
            cfg.regime.grid,
            cfg.regime.objective,
            {
                "weights": cfg.regime.default_weights,
                "lower": cfg.regime.lower,
                "upper": cfg.regime.upper,
                "band": cfg.regime.band,
                "min_dwell": cfg.regime.min_dwell,
            },
        )
        from .regime.search import build_grid

        grid = build_grid(p.score_features, cfg.regime.grid, m.default)
        if grid.size > 1 and d1 - d0 + 1 >= 2 * cfg.stats.pbo_blocks:
            _, blocks = evaluate_grid(_z_for(p), grid, p.inputs, d0, d1, cfg.stats.pbo_blocks)
            cnt = np.broadcast_to(
                np.bincount(
                    (np.arange(d1 - d0 + 1) * cfg.stats.pbo_blocks) // (d1 - d0 + 1),
                    minlength=cfg.stats.pbo_blocks,
                ).astype(np.float64)[:, None],
                (cfg.stats.pbo_blocks, grid.size),
            )
            pbo = stats.pbo_from_blocks(
                blocks[:, :, 0].T.copy(), blocks[:, :, 1].T.copy(), np.ascontiguousarray(cnt)
            )
    invested = held_exp > 0
    bb, be = (
        stats.realized_betas(r[invested], btc_r[invested], eth_r[invested])
        if invested.sum() >= 10
        else (float("nan"), float("nan"))
    )
    ab, ae = stats.realized_betas(rb, btc_r, eth_r)
    fold_rows = []
    for ff in fits:
        f = ff.fold
        mask = (pnl_idx - 1 >= f.test_start) & (pnl_idx - 1 <= f.test_end)
        fold_rows.append(
            {
                "fold": f.index,
                "train_start": _iso(panel.dates[f.train_start + 1]),
                "train_end": _iso(panel.dates[f.train_end + 1]),
                "test_start": _iso(panel.dates[f.test_start + 1]),
                "test_end": _iso(panel.dates[min(f.test_end + 1, n - 1)]),
                "params": ff.params,
                "train_sharpe": ff.train_objective
                if cfg.regime.objective == "sharpe"
                else _train_sharpe(ff),
                "test_sharpe": stats.sharpe(r[mask]),
                "n_trials": ff.n_trials,
            }
        )
    edge_rows = stats.regime_metrics(
        rb,
        np.array([REGIME_NAMES[c] for c in held_codes]),
        r,
        list(REGIMES),
        n_boot=cfg.stats.n_boot,
        mean_block=cfg.stats.mean_block,
        seed=cfg.stats.seed,
    )
    regime_metrics = pl.DataFrame(edge_rows)
    neutrality = {
        "beta_btc_realized": bb,
        "beta_eth_realized": be,
        "mean_abs_beta_btc_ex_ante": float(np.nanmean(np.abs(pnl["beta_btc"].to_numpy()[invested])))
        if invested.any()
        else float("nan"),
        "mean_abs_beta_eth_ex_ante": float(np.nanmean(np.abs(pnl["beta_eth"].to_numpy()[invested])))
        if invested.any()
        else float("nan"),
        "neutrality_error": float(np.sqrt(bb**2 + be**2)),
        "always_on_beta_btc_realized": ab,
        "always_on_beta_eth_realized": ae,
        "infeasible_days": int((book.built & ~book.feasible)[pnl_idx - 1].sum()),
        "beta_fallback_name_days": int(book.n_fallback[pnl_idx - 1].sum()),
    }
    kpis = {
        "period": {"start": _iso(pnl_dates[0]), "end": _iso(pnl_dates[-1]), "days": int(len(r))},
        "conventions": {
            "periods_per_year": 365,
            "risk_free": 0.0,
            "returns": "simple, net of costs",
        },
        "strategy": k_strat,
        "benchmark_always_on": k_bench,
        "walk_forward": {
            "folds": fold_rows,
            "oos_sharpe": oos_sr,
            "oos_sharpe_ci95": list(ci),
            "n_trials": int(n_trials),
            "deflated_sharpe": dsr,
            "pbo": pbo,
            "mode": cfg.regime.mode,
            "grid_combinations": _grid_total(cfg, p),
            "trial_sharpe_variance_per_period": var_trials,
            "deflated_sharpe_hurdle": stats.expected_max_sharpe(n_trials, var_trials) * np.sqrt(365)
            if n_trials > 1
            else 0.0,
            "deflated_sharpe_note": "probability that the stitched out-of-sample Sharpe beats "
            "the expected best of n_trials null trials (hurdle, annualised, from the spread of "
            "the trials' train Sharpes); conservative: trials are correlated, so the effective "
            "number of independent trials is smaller than n_trials",
            "scheme": cfg.walkforward.scheme,
        },
        "neutrality": neutrality,
        "regime_edge": {
            row["regime"]: {"edge": row.get("edge"), "p_value": row.get("edge_p_value")}
            for row in edge_rows
        },
        "costs": {
            "unfunded_share_mean": float(np.mean(strat.unfunded_share[pnl_idx][invested]))
            if invested.any()
            else float("nan"),
            "missing_funding_rule": cfg.costs.missing_funding,
        },
    }
    t = lap("statistics", t)
    # timeline (every day of the run) and features
    tl = (
        pl.DataFrame(
            {
                "date": panel.dates,
                "fold": fold_of,
                "score": score,
                "regime": [REGIME_NAMES[c] for c in codes],
                "exposure": exposure,
                "lower": _thresholds(fits, n, "lower"),
                "upper": _thresholds(fits, n, "upper"),
                "basket_size": book.n_names,
                "book_beta_btc": book.beta_btc,
                "book_beta_eth": book.beta_eth,
            }
        )
        .with_columns(pl.col("date").cast(pl.Date))
        .fill_nan(None)
    )
    book_r = np.where(book.built[np.r_[0, np.arange(n - 1)]], p.base.gross, np.nan)
    book_r[0] = np.nan
    rb_btc, rb_eth = stats.rolling_realized_betas(
        book_r, panel.ret[:, uni.btc], panel.ret[:, uni.eth], 60
    )
    betas_df = (
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
    trials = pl.DataFrame(
        {
            "fold": np.concatenate([np.full(ff.n_trials, ff.fold.index) for ff in fits]),
            "trial": np.concatenate([np.arange(ff.n_trials) for ff in fits]),
            "train_sharpe_per_period": np.concatenate([ff.trial_sharpe for ff in fits]),
        }
    )
    manifest = {
        "package_version": __version__,
        "config": cfg.resolved(),
        "config_hash": cfg.hash(),
        "command": {"start": start.isoformat(), "end": end.isoformat()},
        "effective_window": {"start": eff_start.isoformat(), "end": eff_end.isoformat()},
        "lake": reader.fingerprint(),
        "tables": {
            name: {
                "rows": int(df.height),
                "start": str(df["date"].min()) if "date" in df.columns and df.height else None,
                "end": str(df["date"].max()) if "date" in df.columns and df.height else None,
                "source": p.lake.sources[name].kind,
            }
            for name, df in p.lake.tables.items()
        },
        "notes": list(p.lake.notes),
        "warnings": warns,
        "universe": {
            "assets": len(panel.assets),
            "mean_basket_size": float(book.n_names[book.built].mean()) if book.built.any() else 0.0,
        },
        "timings_s": timings,
        "started_at": datetime.fromtimestamp(t_start, UTC).isoformat(),
    }
    timings["total_pipeline"] = round(time.time() - t_start, 3)
    return RunResult(
        tl,
        p.features.frame(panel.dates),
        pnl,
        equity,
        kpis,
        regime_metrics,
        betas_df,
        fold_rows,
        trials,
        manifest,
        tuple(warns),
    )


def _train_sharpe(ff: FoldFit) -> float:
    return float(ff.trial_sharpe.max() * np.sqrt(365)) if ff.trial_sharpe.size else float("nan")


def _grid_total(cfg: Config, p: Prepared) -> int | None:
    if cfg.regime.mode != "composite":
        return None
    from .regime.search import build_grid

    return int(
        build_grid(
            p.score_features, cfg.regime.grid.model_copy(update={"max_sets": 1})
        ).total_combinations
    )


def _thresholds(fits: list[FoldFit], n: int, key: str) -> np.ndarray:
    out = np.full(n, np.nan)
    for ff in fits:
        if key in ff.params:
            end = ff.fold.test_start + len(ff.codes)
            out[ff.fold.test_start : end] = float(ff.params[key])  # type: ignore[arg-type]
    return out


# ---- signals ---------------------------------------------------------------------------------
def signal(cfg: Config, asof: date, progress: Progress = _noop) -> dict:
    """Tomorrow's book from data dated ``<= asof`` only (see OUTPUTS.md, signals_today.json)."""
    reader = make_reader(cfg)
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    start = asof - timedelta(days=cfg.history_days())
    progress(f"reading the lake {start}..{asof}")
    lake = reader.read(start, asof)
    warns: list[str] = []
    through = lake.data_through()
    price_end = lake.tables["fact_price"]["date"].max()
    stale = price_end < asof
    if stale:
        warns.append(
            f"STALE: fact_price ends on {price_end}, before --asof {asof}; the signal "
            f"is for the day after {price_end}"
        )
    for tname, d in through.items():
        if d is not None and tname != "fact_price":
            lag_days = (price_end - date.fromisoformat(d)).days
            if lag_days > cfg.data.stale_days:
                warns.append(f"table {tname} ends on {d}, {lag_days} days before fact_price")
    first = max(start, lake.tables["fact_price"]["date"].min())
    p = prepare(cfg, lake, first, price_end)
    warns += p.warnings
    n = p.panel.n_days
    T = n - 1
    wf = cfg.walkforward
    train_end = T - 1 - wf.purge_days
    train_start = (
        max(p.first_day, train_end - wf.train_days + 1) if wf.scheme == "rolling" else p.first_day
    )
    if train_end - train_start + 1 < 60:
        raise MonitorError(
            f"not enough history before {asof} to train: {n} days loaded, burn-in {p.first_day}. "
            "What to do: choose a later --asof or raise signals.history_days"
        )
    if train_end - train_start + 1 < wf.train_days:
        warns.append(f"train window shortened to {train_end - train_start + 1} days (history)")
    # test "window" = the single decision T; decisions T-1 and T give previous/current regime
    fold = Fold(0, train_start, train_end, T - 1, T)
    ff = fit_fold(cfg, p, fold)
    prev_code, code = int(ff.codes[0]), int(ff.codes[1])
    v = p.inputs.vscale
    exp_prev = float(p.inputs.levels[prev_code] * v[T - 1])
    exp_now = float(p.inputs.levels[code] * v[T])
    action = (
        ("HOLD" if exp_now > 0 else "EXIT")
        if exp_prev > 0
        else ("ENTER" if exp_now > 0 else "STAY_FLAT")
    )
    w = p.book.weights[T]
    targets = []
    for i in np.argsort(p.panel.assets):
        if w[i] != 0:
            targets.append(
                {
                    "asset_id": p.panel.assets[i],
                    "side": "long" if w[i] > 0 else "short",
                    "weight": float(w[i] * exp_now),
                    "book_weight": float(w[i]),
                }
            )
    if not p.book.built[T]:
        warns.append(
            "no book on the decision day: the basket is empty (universe filters too strict?)"
        )
    elif not p.book.feasible[T]:
        warns.append(
            f"exact neutrality infeasible under the bounds: residual betas "
            f"btc {p.book.beta_btc[T]:.3f}, eth {p.book.beta_eth[T]:.3f}"
        )
    if p.book.n_fallback[T]:
        warns.append(f"{int(p.book.n_fallback[T])} basket names use prior betas (short history)")
    return {
        "asof": asof.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_through": through,
        "stale": bool(stale),
        "decision_date": price_end.isoformat(),
        "regime": REGIME_NAMES[code],
        "previous_regime": REGIME_NAMES[prev_code],
        "score": float(ff.score[1]) if np.isfinite(ff.score[1]) else None,
        "exposure": exp_now,
        "action": action,
        "targets": targets,
        "book_betas": {
            "btc": float(np.nan_to_num(p.book.beta_btc[T]) * exp_now),
            "eth": float(np.nan_to_num(p.book.beta_eth[T]) * exp_now),
        },
        "model": {
            "mode": cfg.regime.mode,
            "trained_through": _iso(p.panel.dates[train_end + 1]),
            "train_window": [_iso(p.panel.dates[train_start]), _iso(p.panel.dates[train_end + 1])],
            "params": ff.params,
            "config_hash": cfg.hash(),
            "n_trials": ff.n_trials,
        },
        "warnings": warns,
    }
