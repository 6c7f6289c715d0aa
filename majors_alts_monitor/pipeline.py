"""The one orchestration: lake -> panel -> universe -> features -> book -> walk-forward regimes
-> backtest -> statistics. Returns frames and dicts; writing them is ``outputs.py``'s job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from . import __version__, stats
from .backtest import BacktestResult, run_backtest, vol_target_scale
from .beta_neutral import Betas, Book, build_book, rolling_betas
from .config import REGIMES, Config
from .data_io import LakeData, LakeReader, check_output_root
from .errors import LakeError, MonitorError
from .features import FeatureSet, compute_features
from .panel import MarketPanel, build_panel
from .regime.composite import CompositeRegime
from .regime.hysteresis import BALANCED, REGIME_NAMES
from .regime.search import (
    ParamGrid,
    SearchInputs,
    build_grid,
    evaluate_grid,
    sharpe_from_stats,
    transition_costs,
)
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
    score: np.ndarray  # test decisions (and the run's last day for the last fold)
    codes: np.ndarray
    trial_sharpe: np.ndarray  # per-period (not annualised) train Sharpe of every trial
    best: int  # index of the chosen trial


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
        max_gap_days=cfg.data.max_gap_days,
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


def default_params(cfg: Config) -> dict[str, object]:
    """The config's composite parameters (always trial 0 of the grid)."""
    r = cfg.regime
    return {
        "weights": r.default_weights,
        "lower": r.lower,
        "upper": r.upper,
        "band": r.band,
        "min_dwell": r.min_dwell,
    }


def search_grid(cfg: Config, p: Prepared) -> ParamGrid:
    """The parameter sets every fold searches (the same sets in every fold)."""
    return build_grid(p.score_features, cfg.regime.grid, default_params(cfg))


def fit_fold(cfg: Config, p: Prepared, fold: Fold, label_end: int | None = None) -> FoldFit:
    """Fit the configured model on the fold's train decisions and label its test decisions
    (through ``label_end`` when given: the run's last day, whose next-day return is unknown)."""
    z = _z_for(p)
    a, b, t0 = fold.train_start, fold.train_end, fold.test_start
    t1 = fold.test_end if label_end is None else max(fold.test_end, label_end)
    if cfg.regime.mode == "composite":
        m = CompositeRegime(
            p.score_features,
            cfg.regime.grid,
            cfg.regime.objective,
            default_params(cfg),
            n_blocks=cfg.stats.pbo_blocks,
        )
        m.fit(z, p.inputs, a, b)
        score, codes = m.predict(z, a, t1)
        assert m.stats_ is not None and m.params_ is not None
        return FoldFit(
            fold,
            m.params_,
            score[t0 - a :],
            codes[t0 - a :],
            sharpe_from_stats(m.stats_, periods=1),
            m.best_,
        )
    cls = HMMRegime if cfg.regime.mode == "hmm" else KMeansRegime
    model = cls(n_states=cfg.regime.n_states, min_dwell=cfg.regime.min_dwell, seed=cfg.stats.seed)
    next_ret = p.inputs.book_pnl[a + 1 : b + 2]
    try:
        model.fit(z[a : b + 1], next_ret)
    except ValueError as err:
        raise MonitorError(
            f"fold {fold.index} ({_iso(p.panel.dates[a])}..{_iso(p.panel.dates[b])}): {err}. "
            "What to do: lengthen walkforward.train_days or use regime.mode: composite"
        ) from None
    score, codes = model.predict(z[a : t1 + 1])
    train_codes = codes[: b - a + 1]
    train_ret = p.inputs.levels[train_codes] * p.inputs.vscale[a : b + 1] * next_ret
    sr = stats.sharpe(train_ret, periods=1)
    assert model.params_ is not None
    return FoldFit(
        fold,
        dict(model.params_),
        score[t0 - a :],
        codes[t0 - a :],
        np.array([sr if np.isfinite(sr) else 0.0]),
        0,
    )


def _iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "D"))


@dataclass(frozen=True)
class Stitched:
    """The out-of-sample regimes and the backtests of the gated and always-on books."""

    codes: np.ndarray  # per decision day
    score: np.ndarray
    fold_of: np.ndarray
    exposure: np.ndarray
    bench_exposure: np.ndarray
    strat: BacktestResult
    bench: BacktestResult
    pnl_idx: np.ndarray  # pnl days of the out-of-sample span


def stitch(cfg: Config, p: Prepared, fits: list[FoldFit]) -> Stitched:
    n = p.panel.n_days
    codes = np.full(n, BALANCED, dtype=np.int8)
    score = np.full(n, np.nan)
    fold_of = np.full(n, -1, dtype=np.int64)
    for ff in fits:
        sl = slice(ff.fold.test_start, ff.fold.test_start + len(ff.codes))
        codes[sl], score[sl], fold_of[sl] = ff.codes, ff.score, ff.fold.index
    oos = fold_of >= 0
    v = p.inputs.vscale
    exposure = np.where(oos, p.inputs.levels[codes] * v, 0.0)
    bench_exposure = np.where(oos, v, 0.0)
    uni, fund = p.universe, (p.panel.funding if p.panel.has_funding else None)

    def bt(e: np.ndarray) -> BacktestResult:
        w = p.book.weights * e[:, None]
        return run_backtest(w, p.panel.ret, fund, uni.median_volume, cfg.costs, basket=uni.basket)

    pnl_idx = np.flatnonzero(oos) + 1
    pnl_idx = pnl_idx[pnl_idx < n]
    return Stitched(
        codes, score, fold_of, exposure, bench_exposure, bt(exposure), bt(bench_exposure), pnl_idx
    )


def trial_statistics(
    cfg: Config, p: Prepared, grid: ParamGrid | None, d0: int, d1: int
) -> tuple[float, float, np.ndarray | None]:
    """Variance of the trials' per-period Sharpe over the out-of-sample decisions ``[d0, d1]``
    (the same span and length as the Sharpe being deflated), PBO by CSCV over that span, and
    each trial's Sharpe there. Unsupervised modes have one trial: variance 0, PBO nan."""
    if grid is None or grid.size < 2 or d1 <= d0:
        return 0.0, float("nan"), None
    nb = cfg.stats.pbo_blocks
    span = d1 - d0 + 1
    st, blocks = evaluate_grid(_z_for(p), grid, p.inputs, d0, d1, min(nb, span))
    sr = sharpe_from_stats(st, periods=1)
    var = float(np.var(sr, ddof=1))
    pbo = float("nan")
    if span >= 2 * nb:
        cnt = np.bincount((np.arange(span) * nb) // span, minlength=nb).astype(np.float64)
        cnt = np.ascontiguousarray(np.broadcast_to(cnt[:, None], (nb, grid.size)))
        pbo = stats.pbo_from_blocks(
            np.ascontiguousarray(blocks[:, :, 0].T), np.ascontiguousarray(blocks[:, :, 1].T), cnt
        )
    return var, pbo, sr


def run(cfg: Config, start: date, end: date, progress: Progress = _noop) -> RunResult:
    t_start = time.time()
    timings: dict[str, float] = {}
    t = time.time()

    def lap(name: str) -> None:
        nonlocal t
        timings[name] = round(time.time() - t, 3)
        t = time.time()

    reader = make_reader(cfg)
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    if end < start:
        raise MonitorError(f"--end {end} is before --start {start}")
    progress("reading the lake")
    lake = reader.read(start, end)
    first_price = lake.tables["fact_price"]["date"].min()
    last_price = lake.tables["fact_price"]["date"].max()
    eff_start, eff_end = max(start, first_price), min(end, last_price)
    warns: list[str] = []
    if eff_end < end:
        warns.append(f"the lake's prices end on {eff_end}, before --end {end}: the run stops there")
    if eff_start > start:
        warns.append(f"the lake's prices start on {eff_start}, after --start {start}")
    lap("read")
    progress("building panel, universe, features and book")
    p = prepare(cfg, lake, eff_start, eff_end)
    warns += p.warnings
    lap("prepare")
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
    lap("walk_forward")
    s = stitch(cfg, p, fits)
    lap("backtest")
    progress("statistics")
    grid = search_grid(cfg, p) if cfg.regime.mode == "composite" else None
    d0, d1 = folds[0].test_start, int(s.pnl_idx[-1] - 1)
    var_trials, pbo, _ = trial_statistics(cfg, p, grid, d0, d1)
    kpis, regime_metrics = assemble_kpis(cfg, p, fits, s, grid, var_trials, pbo)
    lap("statistics")
    frames = assemble_frames(cfg, p, fits, s, grid)
    manifest = {
        "package_version": __version__,
        "config": cfg.resolved(),
        "config_hash": cfg.hash(),
        "command": {"start": start.isoformat(), "end": end.isoformat()},
        "effective_window": {"start": eff_start.isoformat(), "end": eff_end.isoformat()},
        "lake": reader.fingerprint(),
        "tables_read": {
            name: {
                "rows": int(df.height),
                "start": str(df["date"].min()) if "date" in df.columns and df.height else None,
                "end": str(df["date"].max()) if "date" in df.columns and df.height else None,
                "source": p.lake.sources[name].kind,
            }
            for name, df in p.lake.tables.items()
        },
        "tables_read_note": "rows and spans of each table as read for the run's window, after "
        "validation (stablecoins removed, duplicates dropped); the lake's files are in `lake`",
        "notes": list(p.lake.notes),
        "warnings": warns,
        "universe": {
            "assets": len(p.panel.assets),
            "mean_basket_size": float(p.book.n_names[p.book.built].mean())
            if p.book.built.any()
            else 0.0,
        },
        "timings_s": timings,
        "started_at": datetime.fromtimestamp(t_start, UTC).isoformat(timespec="seconds"),
    }
    timings["pipeline_total"] = round(time.time() - t_start, 3)
    return RunResult(
        frames["timeline"],
        p.features.frame(p.panel.dates),
        frames["pnl"],
        frames["equity"],
        kpis,
        regime_metrics,
        frames["betas"],
        kpis["walk_forward"]["folds"],
        frames["trials"],
        manifest,
        tuple(warns),
    )


def assemble_kpis(
    cfg: Config,
    p: Prepared,
    fits: list[FoldFit],
    s: Stitched,
    grid: ParamGrid | None,
    var_trials: float,
    pbo: float,
) -> tuple[dict, pl.DataFrame]:
    """kpis.json (OUTPUTS.md) and the by-regime metrics, over the out-of-sample pnl days."""
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
    n_trials = grid.size if grid is not None else 1
    finite = bool(np.isfinite(sr_pp))
    dsr = (
        stats.deflated_sharpe(sr_pp, n_obs, skew, kurt, n_trials=n_trials, var_trials=var_trials)
        if finite
        else float("nan")
    )
    psr = stats.probabilistic_sharpe(sr_pp, n_obs, skew, kurt) if finite else float("nan")
    hurdle = stats.expected_max_sharpe(n_trials, var_trials) * np.sqrt(365) if n_trials > 1 else 0.0
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
                "train_start": _iso(panel.dates[f.train_start + 1]),
                "train_end": _iso(panel.dates[f.train_end + 1]),
                "test_start": _iso(panel.dates[f.test_start + 1]),
                "test_end": _iso(panel.dates[min(f.test_end + 1, panel.n_days - 1)]),
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
        "period": {
            "start": _iso(panel.dates[idx[0]]),
            "end": _iso(panel.dates[idx[-1]]),
            "days": int(len(r)),
        },
        "conventions": {
            "periods_per_year": 365,
            "risk_free": 0.0,
            "returns": "simple, net of costs",
        },
        "strategy": k_strat,
        "benchmark_always_on": k_bench,
        "walk_forward": {
            "folds": fold_rows,
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
            "are independent than n_trials. probabilistic_sharpe is the same test against 0",
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
        },
    }
    return kpis, pl.DataFrame(rows)


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


def _thresholds(fits: list[FoldFit], n: int, key: str) -> np.ndarray:
    out = np.full(n, np.nan)
    for ff in fits:
        if key in ff.params:
            end = ff.fold.test_start + len(ff.codes)
            out[ff.fold.test_start : end] = float(ff.params[key])  # type: ignore[arg-type]
    return out


# ---- signals ---------------------------------------------------------------------------------
def signal(cfg: Config, asof: date, progress: Progress = _noop) -> dict:
    """Tomorrow's book from data dated ``<= asof`` only (see OUTPUTS.md, signals_today.json).

    The model is refit on the latest walk-forward train window before ``asof``: train decisions
    end ``purge_days`` before the first labelled decision (yesterday's, for ``previous_regime``).
    The state machine runs from the train start, so ``previous_regime`` is this model's regime
    yesterday and ``action`` compares yesterday's and today's exposure under the same model."""
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
    train_end = T - 2 - wf.purge_days
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
    ff = fit_fold(cfg, p, Fold(0, train_start, train_end, T - 1, T))
    prev_code, code = int(ff.codes[0]), int(ff.codes[1])
    v = p.inputs.vscale
    exp_prev = float(p.inputs.levels[prev_code] * v[T - 1])
    exp_now = float(p.inputs.levels[code] * v[T])
    if exp_prev > 0:
        action = "HOLD" if exp_now > 0 else "EXIT"
    else:
        action = "ENTER" if exp_now > 0 else "STAY_FLAT"
    w = p.book.weights[T]
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
    if not p.book.built[T]:
        warns.append(
            "no book on the decision day: the basket is empty (universe filters too strict?)"
        )
    elif not p.book.feasible[T]:
        warns.append(
            "exact neutrality infeasible under the bounds: residual betas "
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
        "book": book_rows,
        "book_betas": {
            "btc": float(np.nan_to_num(p.book.beta_btc[T]) * exp_now) + 0.0,
            "eth": float(np.nan_to_num(p.book.beta_eth[T]) * exp_now) + 0.0,
        },
        "model": {
            "mode": cfg.regime.mode,
            "trained_through": _iso(p.panel.dates[train_end + 1]),
            "train_decisions": [_iso(p.panel.dates[train_start]), _iso(p.panel.dates[train_end])],
            "params": ff.params,
            "config_hash": cfg.hash(),
            "n_trials": len(ff.trial_sharpe),
        },
        "warnings": warns,
    }
