"""The one orchestration: lake -> panel -> universe -> features -> book -> walk-forward regimes
-> backtest -> statistics (``run``), and tomorrow's signal from data dated <= asof only
(``signal``). Returns frames and dicts; writing them is ``report.outputs``'s job.

The one rule of ``signal`` (README, "One signal per run"): the walk-forward fold schedule is a
pure function of the config, the origin (the first day of data used: ``--start``, else the
lake's first price date) and the decision day. The decision day is the lake's last price date
``<= asof``. ``signal`` fits exactly the fold whose test window contains the decision day (and
the fold before it when yesterday belongs to it) and labels through the decision day, so with
the same origin it gives the regime and score ``run``'s timeline shows for that day."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from . import __version__, clock
from .backtest.engine import run_backtest, vol_target_scale
from .backtest.stages import Market, Prepared, Progress, RunResult, noop
from .backtest.trials import effective_trial_statistics, trial_family
from .backtest.walk import fit_fold, fold_schedule, require_one_fold, walk_forward
from .config import REGIMES, Config
from .errors import LakeError, MonitorError
from .lake.data_io import LakeData, LakeReader, check_output_root, lake_span, reader_for
from .lake.wide import WideLake, read_wide
from .market.beta_neutral import build_book, rolling_betas
from .market.features import compute_features
from .market.panel import build_panel
from .market.scope import scoped
from .market.thin import tradeable
from .market.universe import build_universe
from .regime.search import SearchInputs, transition_costs
from .report.assembly import (
    assemble_frames,
    assemble_kpis,
    explain_frame,
    pnl_attribution_frame,
    with_trial_oos_sharpe,
)
from .report.decision import signal_record
from .report.freshness import Freshness, assess, refuse_future, stamp
from .report.outputs import positive_zero
from .report.thin_report import thin_data_block, thin_warnings

log = logging.getLogger("majors_alts_monitor")


def make_reader(cfg: Config) -> LakeReader:
    duck = cfg.paths.duckdb if cfg.paths.duckdb is not None and cfg.paths.duckdb.is_file() else None
    return reader_for(cfg, cfg.paths.data_lake, duck)


def read_lake(cfg: Config, reader: LakeReader, start: date | None, end: date | None) -> LakeData:
    """The lake for ``[start, end]`` as a run reads it: every asset on narrow columns for the
    candidate rule and the market-wide totals, the candidates' rows for the panel
    (``market.scope``, docs/scale.md)."""
    return scope_lake(cfg, read_wide(reader, start, end))


def scope_lake(cfg: Config, wide: WideLake) -> LakeData:
    """The candidates' rows of ``wide`` for this configuration's ``universe`` section."""
    return scoped(wide, cfg.universe, cfg.data.max_gap_days)


def prepare(cfg: Config, lake: LakeData, start: date, end: date) -> Prepared:
    """Panel, universe, features, betas, book and the per-day search inputs for ``[start, end]``."""
    return prepare_from(cfg, build_market(cfg, lake, start, end))


def build_market(cfg: Config, lake: LakeData, start: date, end: date) -> Market:
    """The config-heavy half of ``prepare``: panel, universe, features, betas and book. Depends on
    the lake, the window and the ``data``, ``universe``, ``features`` and ``book`` sections."""
    warns = list(lake.warnings)
    for m in cfg.universe.majors:
        if m in lake.stables:
            flagged = "dim_asset.is_stable" if m not in cfg.universe.exclude else "universe.exclude"
            raise LakeError(
                "dim_asset" if flagged == "dim_asset.is_stable" else "fact_price",
                f"the major {m} is removed as a stablecoin or excluded asset ({flagged})",
                column="is_stable" if flagged == "dim_asset.is_stable" else None,
                key=m,
                hint=f"set is_stable false for {m} in dim_asset, or take it out of "
                "universe.exclude (a major is never a stablecoin)",
            )
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
        why = "; ".join(feats.warnings) or "their inputs are missing in this window"
        raise MonitorError(
            f"none of regime.grid.score_features ({', '.join(cfg.regime.grid.score_features)}) "
            f"is available: nothing to score ({why}). What to do: check the lake's tables for "
            "the window (`majors-alts check-lake`), or choose score features the lake can feed"
        )
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
    # thin data is refused: a day the book may not be traded holds nothing (market/thin.py)
    tr = tradeable(panel, universe, book, cfg.universe.min_names(), cfg.universe.basket_drop_warn)
    v = np.where(tr.ok, v, 0.0)
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
        tr,
    )


def run(
    cfg: Config,
    start: date,
    end: date,
    progress: Progress = noop,
    *,
    lake: LakeData | None = None,
    prepared: Prepared | None = None,
    fresh: Freshness | None = None,
    reader: LakeReader | None = None,
) -> RunResult:
    """The whole run. ``lake`` (read for ``[start, end]``) and ``prepared`` (for the effective
    window) skip those stages when a caller already holds them (the sweep's workers).
    ``fresh``: the lake's age against today as the command measured it (``run`` without
    ``--end`` is today's run); by default ``end`` counts as an ``--end`` the caller asked
    for (``report.freshness``)."""
    t_start = time.time()
    timings: dict[str, float] = {}
    t = time.time()

    def lap(name: str) -> None:
        nonlocal t
        timings[name] = round(time.time() - t, 3)
        t = time.time()

    reader = make_reader(cfg) if reader is None else reader
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    if end < start:
        raise MonitorError(f"--end {end} is before --start {start}")
    progress("reading the lake")
    lake = read_lake(cfg, reader, start, end) if lake is None else lake
    eff_start, eff_end, warns = effective_window(lake, start, end)
    if fresh is None:
        fresh = assess(
            eff_end,
            clock.today(),
            cfg.data.max_age_days,
            lake_dir=cfg.paths.data_lake,
            requested=end,
            option="--end",
        )
    fresh = replace(fresh, data_end=eff_end)  # the run's last day: its signal's decision day
    if fresh.banner() is not None:  # STALE, or LATE: the call's trade day is over
        warns.insert(0, fresh.banner())
    lap("read")
    progress("building panel, universe, features and book")
    p = prepare(cfg, lake, eff_start, eff_end) if prepared is None else prepared
    warns += p.warnings
    lap("prepare")
    mults = tuple(cfg.report.cost_multipliers) if cfg.report.robustness else ()
    wf = walk_forward(cfg, p, eff_start, eff_end, progress, lap, mults)
    fits, all_fits, s, grid = wf.fits, wf.all_fits, wf.stitched, wf.grid
    d0, d1 = wf.folds[0].test_start, int(s.pnl_idx[-1] - 1)
    family = trial_family(cfg, p, grid, fits, d0, d1)
    eff = effective_trial_statistics(cfg, p, grid, fits, d0, d1)
    kpis, regime_metrics = assemble_kpis(cfg, p, fits, s, grid, wf.var_trials, wf.pbo, eff, family)
    del family  # days x trials floats: not kept past the statistics
    if cfg.report.league:
        from .backtest.league import league_block

        progress("league: the traders' indicators on the same book, costs and folds")
        kpis["league"] = league_block(cfg, p, s, wf.folds)
    for w in (kpis["funding_by_leg"]["warning"], kpis["neutrality"]["market_spread"]["warning"]):
        if w:
            warns.append(w)
    kpis["thin_data"] = thin_data_block(cfg, p, s)
    warns += thin_warnings(p, s, kpis["thin_data"])
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
    sig = stamp(sig, fresh)
    kpis["freshness"] = fresh.block()
    # One run, one set of warnings: the run's (window, data, backtest) and the signal's (lagging
    # tables, the decision day's book), deduplicated in order, on every surface of the run.
    warns = list(dict.fromkeys([*warns, *sig["warnings"]]))
    sig["warnings"] = list(warns)
    kpis["warnings"] = list(warns)
    if cfg.report.robustness:
        from .backtest.robustness import robustness

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
                "rows": st.rows,
                "start": str(st.first) if st.first is not None else None,
                "end": str(st.last) if st.last is not None else None,
                "source": p.lake.sources[name].kind,
            }
            for name, st in p.lake.table_stats().items()
        },
        "tables_read_note": "rows and spans of each table as read for the run's window, after "
        "validation (stablecoins removed, duplicates dropped); the lake's files are in `lake`",
        "notes": [*p.lake.notes, *p.features.notes],
        "rejected_rows": p.lake.rejected,
        "rejected_rows_note": "rows of each table left out as read for the run's window, by "
        "reason, with the first offending key (data.on_bad_values, limits.rejected_rows_*)",
        "warnings": warns,
        "freshness": fresh.block(),
        "feature_definitions": dict(p.features.definitions),
        "universe": {
            "assets": p.lake.scope.n_assets if p.lake.scope is not None else len(p.panel.assets),
            "mean_basket_size": float(p.book.n_names[p.book.built].mean())
            if p.book.built.any()
            else 0.0,
        },
        "timings_s": timings,
        "started_at": datetime.fromtimestamp(t_start, UTC).isoformat(timespec="seconds"),
    }
    timings["pipeline_total"] = round(time.time() - t_start, 3)
    frames = {k: positive_zero(v) for k, v in frames.items()}  # no "-0.0" in a frame or file
    return RunResult(
        frames["timeline"],
        p.features.frame(p.panel.dates),
        frames["pnl"],
        frames["equity"],
        kpis,
        positive_zero(regime_metrics),
        frames["betas"],
        kpis["walk_forward"]["folds"],
        frames["trials"],
        manifest,
        tuple(warns),
        signal=sig,
        attribution=positive_zero(pnl_attribution_frame(p, s)),
    )


def effective_window(lake: LakeData, start: date, end: date) -> tuple[date, date, list[str]]:
    """The span of the lake's prices inside ``[start, end]``, with a warning per cut end."""
    first_price, last_price = lake.price_span()
    eff_start, eff_end = max(start, first_price), min(end, last_price)
    warns: list[str] = []
    if eff_end < end:
        warns.append(f"the lake's prices end on {eff_end}, before --end {end}: the run stops there")
    if eff_start > start:
        warns.append(f"the lake's prices start on {eff_start}, after --start {start}")
    return eff_start, eff_end, warns


def stale_error(asof: date, price_end: date, stale_days: int) -> MonitorError:
    gap = (asof - price_end).days
    return MonitorError(
        f"--asof {asof} is {gap} days after the lake's last price date {price_end} (more than "
        f"data.stale_days = {stale_days}): the signal would be stale. What to do: update the "
        f"lake, pass --asof {price_end} (or earlier), or pass --allow-stale to get the signal "
        f"for the day after {price_end}, marked stale"
    )


def signal(
    cfg: Config,
    asof: date | None,
    progress: Progress = noop,
    *,
    start: date | None = None,
    allow_stale: bool = False,
    reader: LakeReader | None = None,
) -> dict:
    """Tomorrow's book from data dated ``<= asof`` only (see OUTPUTS.md, signals_today.json);
    ``asof=None``: today's call, from the lake's last date.

    ``start`` is the origin of the fold schedule (default: the lake's first price date, the
    same default as ``run``; with ``signals.history_days`` set, the decision day minus that
    many days). A decision day more than ``data.stale_days`` before ``asof`` is refused unless
    ``allow_stale``; the result then depends on the lake only, never on ``asof``. Today's call
    on a lake older than ``data.max_age_days`` is refused the same way, an ``asof`` after today
    always (``report.freshness``). ``reader``: the command's reader (its generation of the
    lake is what the ledger's lake fingerprint describes)."""
    today = clock.today()
    refuse_future(asof, today)
    reader = make_reader(cfg) if reader is None else reader
    reader.fingerprint()  # taken now: the generation read, however late it is recorded
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    lake_first, lake_last = lake_span(reader)
    fresh = assess(
        lake_last if asof is None else min(lake_last, asof),  # the decision day, at the latest
        today,
        cfg.data.max_age_days,
        lake_dir=cfg.paths.data_lake,
        requested=asof,
        option="--asof",
    )
    if fresh.stale and not allow_stale:
        raise fresh.error()
    if fresh.banner() is not None:  # STALE, or LATE: the call's trade day is already over
        log.warning(fresh.banner())
    asof = lake_last if asof is None else asof
    if start is not None:
        origin = start
    elif cfg.signals.history_days is not None:
        origin = min(asof, lake_last) - timedelta(days=cfg.signals.history_days)
    else:
        origin = lake_first
    if asof < origin:
        raise MonitorError(
            f"--asof {asof} is before the origin {origin} of the fold schedule (the lake's "
            f"prices span {lake_first}..{lake_last}). What to do: choose an --asof in that span"
        )
    progress(f"reading the lake {origin}..{asof}")
    lake = read_lake(cfg, reader, origin, asof)
    price_first, price_end = lake.price_span()
    if (asof - price_end).days > cfg.data.stale_days and not allow_stale:
        raise stale_error(asof, price_end, cfg.data.stale_days)
    first = max(origin, price_first)
    progress("building panel, universe, features and book")
    p = prepare(cfg, lake, first, price_end)
    n = p.panel.n_days
    require_one_fold(cfg, p.first_day, n, first, price_end)
    folds = fold_schedule(cfg, p.first_day, n - 1)
    need = [folds[-1]]
    if folds[-1].test_start == n - 1 and len(folds) > 1:
        need.insert(0, folds[-2])  # yesterday was labelled by the previous fold's model
    progress(f"fitting fold {folds[-1].index} ({cfg.regime.mode})")
    fits = [fit_fold(cfg, p, f) for f in need]
    sig = stamp(
        signal_record(cfg, p, fits, asof=asof, through=lake.data_through(), origin=first), fresh
    )
    if sig["freshness"]["stale"] and not allow_stale:  # the lake's prices end before its last date
        raise replace(fresh, data_end=price_end).error()
    return sig
