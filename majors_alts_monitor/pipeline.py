"""The one orchestration: lake -> panel -> universe -> features -> book -> walk-forward regimes
-> backtest -> statistics. Returns frames and dicts; writing them is ``outputs.py``'s job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial

import numpy as np
import polars as pl

from . import __version__, stats
from .assembly import (
    assemble_frames,
    assemble_kpis,
    explain_frame,
    pnl_attribution_frame,
    with_trial_oos_sharpe,
)
from .backtest import run_backtest, vol_target_scale
from .beta_neutral import build_book, rolling_betas
from .config import REGIMES, Config
from .data_io import LakeData, LakeReader, check_output_root
from .decision import signal_record
from .errors import LakeError, MonitorError
from .features import compute_features
from .panel import build_panel
from .regime.composite import CompositeRegime
from .regime.hysteresis import regime_age
from .regime.search import (
    ParamGrid,
    SearchInputs,
    build_grid,
    sharpe_from_stats,
    transition_costs,
)
from .stages import (
    FoldFit,
    Market,
    Prepared,
    Progress,
    RunResult,
    Stitched,
    backtest_exposure,
    iso,
    noop,
    stitch_labels,
    z_for,
)
from .trials import effective_trial_statistics, trial_statistics
from .universe import build_universe
from .walkforward import Fold, make_folds

log = logging.getLogger("majors_alts_monitor")


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
    return prepare_from(cfg, build_market(cfg, lake, start, end))


def build_market(cfg: Config, lake: LakeData, start: date, end: date) -> Market:
    """The config-heavy half of ``prepare``: panel, universe, features, betas and book. Depends on
    the lake, the window and the ``data``, ``universe``, ``features`` and ``book`` sections."""
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
    betas = rolling_betas(panel, universe, cfg.book)
    book = build_book(panel, universe, betas, cfg.book)
    return Market(lake, panel, universe, feats, betas, book, tuple(warns))


def prepare_from(cfg: Config, m: Market) -> Prepared:
    """The cheap half of ``prepare`` from a built market: score features, the always-held book's
    backtest, vol targeting and the transition-cost table (``costs``, ``vol_target``,
    ``regime.exposure``, ``regime.grid.score_features`` and the burn-in feed it)."""
    lake, panel, universe, feats, betas, book = (
        m.lake,
        m.panel,
        m.universe,
        m.features,
        m.betas,
        m.book,
    )
    warns = list(m.warnings)
    score_features = tuple(f for f in cfg.regime.grid.score_features if f in feats.names)
    dropped = [f for f in cfg.regime.grid.score_features if f not in feats.names]
    if dropped:
        warns.append(f"score features {dropped} unavailable in this lake; searched without them")
    if not score_features:
        raise MonitorError("none of regime.grid.score_features is available: nothing to score")
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
        majors=[universe.btc, universe.eth],
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
    cost = transition_costs(book.weights, v, levels, panel.ret, universe.median_volume, cfg.costs)
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


@contextmanager
def _fold_errors(p: Prepared, fold: Fold) -> Iterator[None]:
    """A model that cannot fit a fold's training window: a clear error naming the fold."""
    try:
        yield
    except ValueError as err:
        a, b = fold.train_start, fold.train_end
        raise MonitorError(
            f"fold {fold.index} ({iso(p.panel.dates[a])}..{iso(p.panel.dates[b])}): {err}. "
            "What to do: lengthen walkforward.train_days or use regime.mode: composite"
        ) from None


def composite_model(cfg: Config, p: Prepared) -> CompositeRegime:
    """The configured composite model, unfitted."""
    return CompositeRegime(
        p.score_features,
        cfg.regime.grid,
        cfg.regime.objective,
        default_params(cfg),
        n_blocks=cfg.stats.pbo_blocks,
    )


def fit_fold(
    cfg: Config,
    p: Prepared,
    fold: Fold,
    label_end: int | None = None,
    fitted: CompositeRegime | None = None,
) -> FoldFit:
    """Fit the configured model on the fold's train decisions and label its test decisions
    (through ``label_end`` when given: the run's last day, whose next-day return is unknown).
    ``fitted``: a composite model already fitted on this fold's train window (not refitted)."""
    z = z_for(p)
    a, b, t0 = fold.train_start, fold.train_end, fold.test_start
    t1 = fold.test_end if label_end is None else max(fold.test_end, label_end)
    if cfg.regime.mode == "composite":
        m = fitted if fitted is not None else composite_model(cfg, p).fit(z, p.inputs, a, b)
        score, codes = m.predict(z, a, t1)
        assert m.stats_ is not None and m.params_ is not None
        days, left = regime_age(codes, int(m.params_["min_dwell"]))  # type: ignore[call-overload]
        return FoldFit(
            fold,
            m.params_,
            score[t0 - a :],
            codes[t0 - a :],
            sharpe_from_stats(m.stats_, periods=1),
            m.best_,
            days[t0 - a :],
            left[t0 - a :],
            m.weights_.copy(),
        )
    next_ret = p.inputs.book_pnl[a + 1 : b + 2]
    if cfg.regime.mode == "jump":
        from .regime.jump import JumpRegime  # imported for this mode only (scipy.special)

        jc = cfg.regime.jump
        jm = JumpRegime(
            n_states=cfg.regime.n_states,
            penalties=jc.penalties,
            min_dwell=cfg.regime.min_dwell,
            seed=cfg.stats.seed,
            n_init=jc.n_init,
            max_iter=jc.max_iter,
        )
        with _fold_errors(p, fold):
            jm.fit(
                z[a : b + 1],
                next_ret,
                p.inputs.vscale[a : b + 1],
                p.inputs.levels,
                p.inputs.cost[a + 1 : b + 2],
            )
        score, codes = jm.predict(z[a : t1 + 1])
        assert jm.params_ is not None and jm.trial_sharpe_ is not None
        days, left = regime_age(codes, cfg.regime.min_dwell)
        return FoldFit(
            fold,
            jm.params_,
            score[t0 - a :],
            codes[t0 - a :],
            jm.trial_sharpe_,
            jm.best_,
            days[t0 - a :],
            left[t0 - a :],
            trial_codes=jm.predict_all(z[a : t1 + 1])[:, t0 - a :],
        )
    from .regime.unsupervised import HMMRegime, KMeansRegime  # this mode only (scipy.special)

    cls = HMMRegime if cfg.regime.mode == "hmm" else KMeansRegime
    model = cls(n_states=cfg.regime.n_states, min_dwell=cfg.regime.min_dwell, seed=cfg.stats.seed)
    with _fold_errors(p, fold):
        model.fit(z[a : b + 1], next_ret)
    score, codes = model.predict(z[a : t1 + 1])
    train_codes = codes[: b - a + 1]
    train_ret = p.inputs.levels[train_codes] * p.inputs.vscale[a : b + 1] * next_ret
    sr = stats.sharpe(train_ret, periods=1)
    assert model.params_ is not None
    days, left = regime_age(codes, cfg.regime.min_dwell)
    return FoldFit(
        fold,
        dict(model.params_),
        score[t0 - a :],
        codes[t0 - a :],
        np.array([sr if np.isfinite(sr) else 0.0]),
        0,
        days[t0 - a :],
        left[t0 - a :],
    )


def fold_schedule(cfg: Config, first_day: int, decision_day: int) -> list[Fold]:
    """The walk-forward folds whose test windows cover the decisions ``first_day + train +
    purge .. decision_day``: a pure function of the config, the first usable day (end of
    burn-in, counted from the run's origin) and the decision day. The test window of the last
    fold contains ``decision_day``; every earlier fold is the same whatever the decision day."""
    wf = cfg.walkforward
    return make_folds(
        first_day,
        decision_day,
        train_days=wf.train_days,
        test_days=wf.test_days,
        purge_days=wf.purge_days,
        scheme=wf.scheme,
    )


def require_one_fold(cfg: Config, first_day: int, n: int, start: date, end: date) -> None:
    """Refuse a window too short for one walk-forward fold with an out-of-sample day (the one
    message ``run`` and ``signals`` give)."""
    wf = cfg.walkforward
    if first_day + wf.train_days + wf.purge_days <= n - 2:
        return
    need = first_day + wf.train_days + wf.purge_days + 2
    raise MonitorError(
        f"the window {start}..{end} ({n} days) is too short for one walk-forward fold: "
        f"it needs burn-in ({first_day} days) + train ({wf.train_days}) + purge "
        f"({wf.purge_days}) + at least one test day, about {need} days. What to do: use a "
        "longer span of data (an earlier --start, a later --end or --asof) or shorten "
        "walkforward.train_days"
    )


def stitch(cfg: Config, p: Prepared, fits: list[FoldFit]) -> Stitched:
    n = p.panel.n_days
    codes, score, fold_of, _, _ = stitch_labels(n, fits)
    oos = fold_of >= 0
    v = p.inputs.vscale
    exposure = np.where(oos, p.inputs.levels[codes] * v, 0.0)
    bench_exposure = np.where(oos, v, 0.0)
    pnl_idx = np.flatnonzero(oos) + 1
    pnl_idx = pnl_idx[pnl_idx < n]
    return Stitched(
        codes,
        score,
        fold_of,
        exposure,
        bench_exposure,
        backtest_exposure(cfg, p, exposure),
        pnl_idx,
        partial(backtest_exposure, cfg, p),
    )


def run(
    cfg: Config,
    start: date,
    end: date,
    progress: Progress = noop,
    *,
    lake: LakeData | None = None,
    prepared: Prepared | None = None,
) -> RunResult:
    """The whole run. ``lake`` (read for ``[start, end]``) and ``prepared`` (for the effective
    window) skip those stages when a caller already holds them (the sweep's workers)."""
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
    lake = reader.read(start, end) if lake is None else lake
    eff_start, eff_end, warns = effective_window(lake, start, end)
    lap("read")
    progress("building panel, universe, features and book")
    p = prepare(cfg, lake, eff_start, eff_end) if prepared is None else prepared
    warns += p.warnings
    lap("prepare")
    mults = tuple(cfg.report.cost_multipliers) if cfg.report.robustness else ()
    wf = walk_forward(cfg, p, eff_start, eff_end, progress, lap, mults)
    fits, all_fits, s, grid = wf.fits, wf.all_fits, wf.stitched, wf.grid
    d0, d1 = wf.folds[0].test_start, int(s.pnl_idx[-1] - 1)
    eff = effective_trial_statistics(cfg, p, grid, fits, d0, d1)
    kpis, regime_metrics = assemble_kpis(cfg, p, fits, s, grid, wf.var_trials, wf.pbo, eff)
    if kpis["funding_by_leg"]["warning"]:
        warns.append(kpis["funding_by_leg"]["warning"])
    lap("statistics")
    frames = assemble_frames(cfg, p, all_fits, s, grid)
    frames["timeline"] = frames["timeline"].hstack(explain_frame(cfg, p, all_fits))
    frames["trials"] = with_trial_oos_sharpe(
        frames["trials"].filter(pl.col("fold") < len(fits)), wf.trial_sharpe
    )
    sig = signal_record(
        cfg,
        p,
        all_fits,
        asof=eff_end,
        through=lake.data_through(),
        origin=eff_start,
    )
    # One run, one set of warnings: the run's (window, data, backtest) and the signal's (lagging
    # tables, the decision day's book), deduplicated in order, on every surface of the run.
    warns = list(dict.fromkeys([*warns, *sig["warnings"]]))
    sig["warnings"] = list(warns)
    if cfg.report.robustness:
        from .robustness import robustness  # it calls back into fit_fold and stitch

        progress("robustness: shifted starts and scaled costs on the prepared arrays")
        kpis["robustness"] = robustness(cfg, p, s, wf.models)
        lap("robustness")
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
        signal=sig,
        attribution=pnl_attribution_frame(p, s),
    )


def effective_window(lake: LakeData, start: date, end: date) -> tuple[date, date, list[str]]:
    """The span of the lake's prices inside ``[start, end]``, with a warning per cut end."""
    first_price = lake.tables["fact_price"]["date"].min()
    last_price = lake.tables["fact_price"]["date"].max()
    eff_start, eff_end = max(start, first_price), min(end, last_price)
    warns: list[str] = []
    if eff_end < end:
        warns.append(f"the lake's prices end on {eff_end}, before --end {end}: the run stops there")
    if eff_start > start:
        warns.append(f"the lake's prices start on {eff_start}, after --start {start}")
    return eff_start, eff_end, warns


@dataclass(frozen=True)
class WalkForward:
    """Folds, fits and the stitched out-of-sample backtest of one configuration, with the
    trials' statistics over the out-of-sample decisions (``trial_sharpe`` per period)."""

    folds: list[Fold]  # the scored folds (with out-of-sample returns)
    fits: list[FoldFit]  # their fits
    all_fits: list[FoldFit]  # plus, when the last day opens a new fold, that fold's label-only fit
    stitched: Stitched
    grid: ParamGrid | None
    var_trials: float
    pbo: float
    trial_sharpe: np.ndarray | None
    # composite fits by (cost multiplier, train_start, train_end), for the robustness re-runs
    models: dict[tuple[float, int, int], CompositeRegime] = field(default_factory=dict)


def fit_folds(
    cfg: Config, p: Prepared, folds: list[Fold], cost_multipliers: tuple[float, ...] = ()
) -> tuple[list[FoldFit], dict[tuple[float, int, int], CompositeRegime]]:
    """``fit_fold`` for each fold (no ``label_end``). Composite mode also fits every fold with
    the fee and slippage table scaled by each of ``cost_multipliers`` in the same kernel pass
    (the regime paths do not depend on costs) and returns all fits by ``(multiplier,
    train_start, train_end)``, 1.0 being the run's own costs; their PBO blocks are dropped."""
    if cfg.regime.mode != "composite":
        return [fit_fold(cfg, p, f) for f in folds], {}
    mults = (1.0,) + tuple(m for m in dict.fromkeys(float(x) for x in cost_multipliers) if m != 1.0)
    costs = tuple(p.inputs.cost if m == 1.0 else p.inputs.cost * m for m in mults)
    z, fits, models = z_for(p), [], {}
    for f in folds:
        a, b = f.train_start, f.train_end
        fitted = composite_model(cfg, p).fit_costs(z, p.inputs, a, b, costs)
        for m, model in zip(mults, fitted, strict=True):
            models[(m, a, b)] = model
        fits.append(fit_fold(cfg, p, f, fitted=models[(1.0, a, b)]))
    for model in models.values():
        model.blocks_ = None
    return fits, models


def walk_forward(
    cfg: Config,
    p: Prepared,
    eff_start: date,
    eff_end: date,
    progress: Progress = noop,
    lap: Callable[[str], None] = noop,
    cost_multipliers: tuple[float, ...] = (),
) -> WalkForward:
    """Everything of ``run`` after ``prepare`` and before the KPIs: folds, fits, stitching,
    the trials' statistics. ``lap(name)`` is called after each stage (timings).
    ``cost_multipliers``: fit the folds at these scaled costs too (``fit_folds``), for the
    robustness panel."""
    n = p.panel.n_days
    require_one_fold(cfg, p.first_day, n, eff_start, eff_end)
    # One signal per run: the last day is labelled by the fold whose test window contains it
    # in the schedule from this run's origin, exactly as `signals --asof` labels it. When the
    # last day opens a new fold, that fold is fitted for the label only (no out-of-sample
    # return yet): it is not among the scored folds of kpis.json or trials.parquet.
    folds = fold_schedule(cfg, p.first_day, n - 1)
    scored = [f for f in folds if f.test_start <= n - 2]
    progress(f"walk-forward: {len(scored)} folds, mode {cfg.regime.mode}")
    all_fits, models = fit_folds(cfg, p, folds, cost_multipliers)
    fits = all_fits[: len(scored)]
    lap("walk_forward")
    s = stitch(cfg, p, all_fits)
    lap("backtest")
    progress("statistics")
    grid = search_grid(cfg, p) if cfg.regime.mode == "composite" else None
    d0, d1 = folds[0].test_start, int(s.pnl_idx[-1] - 1)
    var_trials, pbo, sr = trial_statistics(cfg, p, grid, d0, d1, fits)
    return WalkForward(scored, fits, all_fits, s, grid, var_trials, pbo, sr, models)
