"""Tomorrow's signal (signals_today.json) from data dated <= asof only.

The one rule (README, "One signal per run"): the walk-forward fold schedule is a pure function
of the config, the origin (the first day of data used: ``--start``, else the lake's first
price date) and the decision day. The decision day is the lake's last price date ``<= asof``.
``signals`` fits exactly the fold whose test window contains the decision day (and the fold
before it when yesterday belongs to it) and labels through the decision day, so with the same
origin it gives the regime and score ``run``'s timeline shows for that day.
"""

from __future__ import annotations

from datetime import date, timedelta

from .config import Config
from .data_io import check_output_root, lake_span
from .decision import signal_record
from .errors import MonitorError
from .pipeline import fit_fold, fold_schedule, make_reader, prepare, require_one_fold
from .stages import Progress, noop


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
    asof: date,
    progress: Progress = noop,
    *,
    start: date | None = None,
    allow_stale: bool = False,
) -> dict:
    """Tomorrow's book from data dated ``<= asof`` only (see OUTPUTS.md, signals_today.json).

    ``start`` is the origin of the fold schedule (default: the lake's first price date, the
    same default as ``run``; with ``signals.history_days`` set, the decision day minus that
    many days). A decision day more than ``data.stale_days`` before ``asof`` is refused unless
    ``allow_stale``; the result then depends on the lake only, never on ``asof``."""
    reader = make_reader(cfg)
    check_output_root(cfg.paths.output_root, cfg.paths.data_lake, cfg.paths.duckdb)
    lake_first, lake_last = lake_span(reader)
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
    lake = reader.read(origin, asof)
    price_end = lake.tables["fact_price"]["date"].max()
    if (asof - price_end).days > cfg.data.stale_days and not allow_stale:
        raise stale_error(asof, price_end, cfg.data.stale_days)
    first = max(origin, lake.tables["fact_price"]["date"].min())
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
    return signal_record(cfg, p, fits, asof=asof, through=lake.data_through(), origin=first)
