"""Tomorrow's signal (signals_today.json) from data dated <= asof only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from .config import Config
from .data_io import check_output_root
from .errors import MonitorError
from .pipeline import fit_fold, make_reader, prepare
from .regime.hysteresis import REGIME_NAMES
from .stages import Progress, iso, noop
from .walkforward import Fold


def signal(cfg: Config, asof: date, progress: Progress = noop) -> dict:
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
            "trained_through": iso(p.panel.dates[train_end + 1]),
            "train_decisions": [iso(p.panel.dates[train_start]), iso(p.panel.dates[train_end])],
            "params": ff.params,
            "config_hash": cfg.hash(),
            "n_trials": len(ff.trial_sharpe),
        },
        "warnings": warns,
    }
