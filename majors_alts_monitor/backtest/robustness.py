"""How much the out-of-sample result depends on where the fold schedule starts and on costs.

The run is re-done on the arrays it already prepared (no new lake reads): the fold schedule's
origin moves by ``report.start_shifts`` days (shifting ``--start`` by that much, with the
features, betas and book left as they were: their burn-in is already over), and fee and
slippage rates are scaled by ``report.cost_multipliers`` in both the search (its transition
cost table) and the backtest. Funding is a carry, not a trading cost, and is not scaled. The
shift 0 / multiplier 1 rows are the run itself and are not recomputed.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import numpy as np

from .. import stats
from ..config import Config
from .folds import make_folds
from .stages import Prepared, Stitched, iso
from .walk import fit_fold, stitch

if TYPE_CHECKING:
    from ..regime.composite import CompositeRegime

Models = dict[tuple[float, int, int], "CompositeRegime"]

NOTE = (
    "the run re-done on its prepared arrays (no new lake reads): start_shift moves the fold "
    "schedule's origin by shift_days (features, betas and book unchanged), cost_multiplier "
    "scales fee and slippage bps in the search's cost table and in the backtest (funding is "
    "not scaled); every row is a full walk-forward search, net of costs, 365 periods a year"
)


def scaled_costs(cfg: Config, m: float) -> Config:
    c = cfg.costs
    costs = c.model_copy(
        update={
            "taker_fee_bps": c.taker_fee_bps * m,
            "maker_fee_bps": c.maker_fee_bps * m,
            "slippage_floor_bps": c.slippage_floor_bps * m,
            "slippage_impact_bps": c.slippage_impact_bps * m,
        }
    )
    return cfg.model_copy(update={"costs": costs})


def _walk(
    cfg: Config, p: Prepared, first_day: int, models: Models, multiplier: float = 1.0
) -> Stitched | None:
    wf, n = cfg.walkforward, p.panel.n_days
    folds = make_folds(
        first_day,
        n - 2,
        train_days=wf.train_days,
        test_days=wf.test_days,
        purge_days=wf.purge_days,
        scheme=wf.scheme,
    )
    if not folds:
        return None
    fits = []
    for f in folds:
        # a train window the run already searched at these costs (every fold of a cost
        # multiplier; with rolling folds, a start shift of a multiple of test_days meets the
        # run's windows) is not searched again: the same search gives the same model
        model = models.get((multiplier, f.train_start, f.train_end))
        fit = fit_fold(cfg, p, f, n - 1 if f is folds[-1] else None, model, first_day)
        fits.append(fit)
    return stitch(cfg, p, fits)


def _summary(p: Prepared, s: Stitched | None) -> dict:
    if s is None or s.pnl_idx.size == 0:
        return {
            "oos_start": None,
            "oos_sharpe": float("nan"),
            "ann_return": float("nan"),
            "max_drawdown": float("nan"),
            "total_costs": float("nan"),
            "n_days": 0,
        }
    idx = s.pnl_idx
    r = s.strat.net[idx]
    return {
        "oos_start": iso(p.panel.dates[idx[0]]),
        "oos_sharpe": stats.sharpe(r),
        "ann_return": float(np.mean(r) * stats.PERIODS),
        "max_drawdown": stats.max_drawdown(r),
        "total_costs": float(np.sum(s.strat.fee[idx] + s.strat.slippage[idx])),
        "n_days": int(idx.size),
    }


def robustness(cfg: Config, p: Prepared, base: Stitched, models: Models | None = None) -> dict:
    """kpis.json ``robustness``: one row per start shift and per cost multiplier. ``models``:
    composite fits already made by ``(cost multiplier, train_start, train_end)``
    (``pipeline.fit_folds``), reused instead of searching those windows again."""
    models = {} if models is None else models
    t0 = time.perf_counter()
    rc = cfg.report
    shifts = []
    for k in dict.fromkeys(int(x) for x in rc.start_shifts):
        s = base if k == 0 else _walk(cfg, p, p.first_day + k, models)
        row = _summary(p, s)
        shifts.append(
            {"shift_days": k} | {key: row[key] for key in row if key not in ("total_costs",)}
        )
    mults = []
    for m in dict.fromkeys(float(x) for x in rc.cost_multipliers):
        if m == 1.0:
            s: Stitched | None = base
        else:
            # fees and slippage are linear in the bps scaled here (DESIGN: fee = |dw| x fee
            # rate, slippage = |dw| x (floor + impact x sqrt(participation))), so the search's
            # cost table scales by m exactly; the backtest recomputes costs from the scaled bps
            cm = scaled_costs(cfg, m)
            inputs = dataclasses.replace(p.inputs, cost=p.inputs.cost * m)
            s = _walk(cm, dataclasses.replace(p, inputs=inputs), p.first_day, models, m)
        row = _summary(p, s)
        mults.append(
            {
                "multiplier": m,
                "oos_sharpe": row["oos_sharpe"],
                "ann_return": row["ann_return"],
                "max_drawdown": row["max_drawdown"],
                "total_costs": row["total_costs"],
                "n_days": row["n_days"],
            }
        )
    return {
        "start_shift": shifts,
        "cost_multiplier": mults,
        "note": NOTE,
        "seconds": round(time.perf_counter() - t0, 3),
    }
