"""The walk forward of one configuration on prepared arrays: the fold schedule, each fold's
model fitted on its training window and labelling its test window, the stitched out-of-sample
labels and backtests, and the trials' statistics. ``pipeline.run`` and ``pipeline.signal`` call
it after the preparation; the robustness re-runs call it on the same arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import numpy as np

from .. import stats
from ..config import Config
from ..errors import MonitorError
from ..regime.composite import CompositeRegime
from ..regime.forecast import ForecastRegime
from ..regime.hysteresis import regime_age
from ..regime.search import ParamGrid, build_grid, sharpe_from_stats
from .folds import Fold, make_folds
from .stages import (
    FoldFit,
    Prepared,
    Progress,
    Stitched,
    backtest_exposure,
    iso,
    noop,
    raw_for,
    stitch_labels,
    z_for,
)
from .trials import trial_statistics


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


def forecast_model(cfg: Config, p: Prepared) -> ForecastRegime:
    """The configured forecast model, unfitted: the score features with the grid's signs and
    the composite's thresholds, band and dwell (``regime.lower`` ... ``regime.min_dwell``)."""
    r, fc = cfg.regime, cfg.regime.forecast
    return ForecastRegime(
        p.score_features,
        tuple(float(r.grid.signs.get(f, 0.0)) for f in p.score_features),
        horizon=fc.horizon_days,
        ridge=fc.ridge,
        smooth_halflife=fc.smooth_halflife,
        lower=r.lower,
        upper=r.upper,
        band=r.band,
        min_dwell=r.min_dwell,
    )


def fit_start(cfg: Config, p: Prepared, fold: Fold, origin: int | None = None) -> int:
    """The forecast's first training day: up to ``regime.forecast.history_days`` before the
    fold's train end, never before ``origin`` (the fold schedule's first usable day) nor after
    the fold's own train start."""
    first = p.first_day if origin is None else origin
    reach = fold.train_end - cfg.regime.forecast.history_days + 1
    return min(fold.train_start, max(first, reach))


def _fit_forecast(cfg: Config, p: Prepared, fold: Fold, t1: int, origin: int | None) -> FoldFit:
    a, b, t0 = fold.train_start, fold.train_end, fold.test_start
    a0 = fit_start(cfg, p, fold, origin)
    raw, inp = raw_for(p), p.inputs
    model = forecast_model(cfg, p)
    with _fold_errors(p, fold):
        model.fit(
            raw[a0 : b + 1],
            inp.vscale[a0 : b + 1] * inp.book_pnl[a0 + 1 : b + 2],
            inp.levels,
            inp.cost[a0 + 1 : b + 2],
        )
    # the EMA and the state machine run from the fold's own train start (as the composite's)
    score, codes = model.predict(raw[a : t1 + 1])
    parts = model.contributions(raw[a : t1 + 1])
    assert model.params_ is not None
    params = dict(model.params_) | {"fit_start": iso(p.panel.dates[a0 + 1])}
    days, left = regime_age(codes, cfg.regime.min_dwell)
    return FoldFit(
        fold,
        params,
        score[t0 - a :],
        codes[t0 - a :],
        np.array([model.train_sharpe_]),
        0,
        days[t0 - a :],
        left[t0 - a :],
        contrib=parts[t0 - a :],
    )


def fit_fold(
    cfg: Config,
    p: Prepared,
    fold: Fold,
    label_end: int | None = None,
    fitted: CompositeRegime | None = None,
    origin: int | None = None,
) -> FoldFit:
    """Fit the configured model on the fold's train decisions and label its test decisions
    (through ``label_end`` when given: the run's last day, whose next-day return is unknown).
    ``fitted``: a composite model already fitted on this fold's train window (not refitted).
    ``origin``: the fold schedule's first usable day (default ``p.first_day``; the robustness
    re-runs move it), which bounds how far back the forecast mode's fit reaches."""
    z = z_for(p)
    a, b, t0 = fold.train_start, fold.train_end, fold.test_start
    t1 = fold.test_end if label_end is None else max(fold.test_end, label_end)
    if cfg.regime.mode == "forecast":
        return _fit_forecast(cfg, p, fold, t1, origin)
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
        from ..regime.jump import JumpRegime

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
    from ..regime.unsupervised import HMMRegime, KMeansRegime

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
