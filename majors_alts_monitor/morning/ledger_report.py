"""``majors-alts ledger``: the issued calls against what the backtest now says, and the P&L of
having followed them.

- **Agreement.** The walk-forward is run again on the lake as it is now (``pipeline.run``, the
  same fold schedule as ``run``: origin ``--start`` or the lake's first price date). Each
  decision day's call as first issued (revision 0) is compared with the timeline's row for that
  day: the same regime, and the same exposure to 1e-9.
- **Revisions.** Every day the ledger holds more than one answer for.
- **P&L of the issued calls.** The targets of each day's first-issued call are the book decided
  that day; a day without a call keeps the last call's book. The book's return over the next
  day is priced by the backtest's own engine (``backtest.engine.run_backtest``) on the lake's
  prices: gross, fees (``costs.taker_fee_bps``/``maker_fee_bps``), slippage
  (``costs.slippage_floor_bps`` + impact by median volume) and funding (signed, when the lake
  has ``fact_funding`` and ``costs.funding`` is on), net = gross - fees - slippage + funding;
  the first call's entry from a flat book is charged. The backtest's own net over the same P&L
  days is given beside it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from ..backtest.engine import run_backtest
from ..backtest.stages import iso
from ..config import Config
from ..lake.data_io import lake_span
from . import ledger

TOL = 1e-9


def _sum(x: np.ndarray) -> float:
    return float(np.sum(x)) + 0.0


def followed_pnl(cfg: Config, p: Any, calls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The P&L of holding each first-issued call's targets over the day after it (see the
    module doc); ``p`` a ``Prepared`` over the lake's span."""
    dates = [iso(d) for d in p.panel.dates]
    index = {d: i for i, d in enumerate(dates)}
    col = {a: j for j, a in enumerate(p.panel.assets)}
    days = sorted(d for d in calls if d in index)
    missing_days = sorted(d for d in calls if d not in index)
    if not days:
        return {"days": 0, "note": "no issued call falls on a day of the lake's prices"}
    w = np.zeros((p.panel.n_days, p.panel.n_assets))
    unknown: set[str] = set()
    first, last = index[days[0]], index[days[-1]]
    kept = 0
    cur = np.zeros(p.panel.n_assets)
    for t in range(first, last + 1):
        c = calls.get(dates[t])
        if c is not None:
            cur = np.zeros(p.panel.n_assets)
            for row in c["targets"]:
                j = col.get(row["asset_id"])
                if j is None:
                    unknown.add(row["asset_id"])
                else:
                    cur[j] = float(row["weight"])
        else:
            kept += 1
        w[t] = cur
    bt = run_backtest(
        w,
        p.panel.ret,
        p.panel.funding if p.panel.has_funding else None,
        p.universe.median_volume,
        cfg.costs,
        basket=p.universe.basket,
        majors=[p.universe.btc, p.universe.eth],
    )
    end = min(last + 1, p.panel.n_days - 1)  # the last call's P&L day, if the lake has it
    sl = slice(first + 1, end + 1)
    net = bt.net[sl]
    daily = [
        {
            "pnl_date": dates[t],
            "decision_date": dates[t - 1],
            "gross": float(bt.gross[t]),
            "fees": float(bt.fee[t]),
            "slippage": float(bt.slippage[t]),
            "funding": float(bt.funding[t]),
            "net": float(bt.net[t]),
        }
        for t in range(sl.start, sl.stop)
    ]
    return {
        "pnl_days": len(net),
        "first_pnl_date": dates[sl.start] if len(net) else None,
        "last_pnl_date": dates[end] if len(net) else None,
        "gross": _sum(bt.gross[sl]),
        "fees": _sum(bt.fee[sl]),
        "slippage": _sum(bt.slippage[sl]),
        "funding": _sum(bt.funding[sl]),
        "net": _sum(net),
        "compounded_net": float(np.prod(1.0 + net) - 1.0) if len(net) else 0.0,
        "days_without_a_call": kept,
        "calls_outside_the_lake": missing_days,
        "assets_not_in_the_lake": sorted(unknown),
        "pending": last + 1 >= p.panel.n_days,
        "daily": daily,
        "costs_included": {
            "fees": "costs.taker_fee_bps / maker_fee_bps (taker_share mix), on each trade",
            "slippage": "costs.slippage_floor_bps + slippage_impact_bps by median volume",
            "funding": "signed P&L from fact_funding"
            if p.panel.has_funding and cfg.costs.funding
            else "not included (no fact_funding, or costs.funding false)",
        },
        "note": "sums of daily simple returns (fractions of equity); fees and slippage are costs "
        "(positive = paid), funding a signed P&L; net = gross - fees - slippage + funding",
    }


def compare(records: list[dict[str, Any]], timeline: pl.DataFrame) -> dict[str, Any]:
    """Each decision day's first-issued call against the timeline's row for it."""
    calls = ledger.first_calls(records)
    rows = {r["date"]: r for r in timeline.iter_rows(named=True)}
    by_day: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_day.setdefault(r["decision_date"], []).append(r)
    days = []
    for d, c in sorted(calls.items()):
        now = rows.get(d)
        regime_now = now["regime"] if now is not None and now.get("fold", 0) >= 0 else None
        exp_now = float(now["exposure"]) if regime_now is not None else None
        agree = (
            regime_now == c["regime"]
            and exp_now is not None
            and math.isclose(exp_now, float(c["exposure"]), rel_tol=0, abs_tol=TOL)
            if regime_now is not None
            else None
        )
        latest = by_day[d][-1]
        days.append(
            {
                "decision_date": d,
                "issued_regime": c["regime"],
                "issued_exposure": float(c["exposure"]),
                "issued_on": c.get("issued_on"),
                "backfilled": bool(c.get("backfilled")),
                "late": bool(c.get("late")),
                "config_hash": c.get("config_hash"),
                "backtest_regime": regime_now,
                "backtest_exposure": exp_now,
                "agrees": agree,
                "revisions": len(by_day[d]) - 1,
                "latest_regime": latest["regime"],
                "latest_exposure": float(latest["exposure"]),
            }
        )
    judged = [x for x in days if x["agrees"] is not None]
    return {
        "calls": len(days),
        "compared": len(judged),
        "agree": sum(1 for x in judged if x["agrees"]),
        "disagree": [x["decision_date"] for x in judged if not x["agrees"]],
        "not_in_backtest": [x["decision_date"] for x in days if x["agrees"] is None],
        "revised_days": [x["decision_date"] for x in days if x["revisions"]],
        "records": len(records),
        "days": days,
    }


def other_config(records: list[dict[str, Any]], config_hash: str) -> list[dict[str, Any]]:
    """The records issued under a configuration other than ``config_hash`` (decision day,
    file, their hash): their calls are judged against this configuration's backtest."""
    return [
        {"decision_date": r["decision_date"], "file": r.get("_file"), "config_hash": h}
        for r in records
        if (h := r.get("config_hash")) != config_hash
    ]


def build(cfg: Config, records: list[dict[str, Any]], start: date | None, progress) -> dict:
    """The whole report (``--json`` prints it): agreement, revisions, P&L of the calls."""
    from .. import pipeline

    config_hash = cfg.hash()  # the configuration's own hash, as signals records it
    # (robustness is not needed to judge the calls: turned off here, the hash is not this one)
    cfg = cfg.model_copy(update={"report": cfg.report.model_copy(update={"robustness": False})})
    reader = pipeline.make_reader(cfg)
    s0, e0 = lake_span(reader)
    origin = start or s0
    progress(f"reading the lake {origin}..{e0}")
    lake = reader.read(origin, e0)
    eff_start, eff_end, _ = pipeline.effective_window(lake, origin, e0)
    progress("building panel, universe, features and book")
    p = pipeline.prepare(cfg, lake, eff_start, eff_end)
    res = pipeline.run(cfg, origin, e0, progress, lake=lake, prepared=p)
    cmp = compare(records, res.timeline.with_columns(pl.col("date").cast(pl.Utf8)))
    calls = ledger.first_calls(records)
    pnl = followed_pnl(cfg, p, calls)
    bt = res.pnl.with_columns(pl.col("date").cast(pl.Utf8))
    if pnl.get("pnl_days"):
        span = bt.filter(
            (pl.col("date") >= pnl["first_pnl_date"]) & (pl.col("date") <= pnl["last_pnl_date"])
        )
        pnl["backtest_net_same_days"] = float(span["net_return"].sum()) + 0.0
        pnl["backtest_days"] = span.height
    return {
        "lake_span": [s0.isoformat(), e0.isoformat()],
        "origin": origin.isoformat(),
        "config_hash": config_hash,
        "other_config": other_config(records, config_hash),
        "agreement": cmp,
        "pnl": pnl,
    }


def text(rep: dict[str, Any], folder: str, limit: int = 30) -> str:
    """The console's report."""
    a, p = rep["agreement"], rep["pnl"]
    lines = [
        f"ledger {folder}: {a['records']} records, {a['calls']} decision days "
        f"({len(a['revised_days'])} revised)",
        f"  backtest now: lake {rep['lake_span'][0]}..{rep['lake_span'][1]}, origin "
        f"{rep['origin']}, config {rep['config_hash']}",
        *_other_config_lines(rep),
        f"  agreement: {a['agree']} of {a['compared']} issued calls match the backtest's regime "
        f"and exposure"
        + (
            f"; {len(a['not_in_backtest'])} not in its test windows" if a["not_in_backtest"] else ""
        ),
        "",
        f"  {'decision':<10}  {'issued':<38}  {'backtest now':<38}{'rev':>3}",
    ]
    for x in a["days"][-limit:]:
        now = (
            _label(x["backtest_regime"], x["backtest_exposure"])
            if x["backtest_regime"]
            else "(not in a test window)"
        )
        mark = {True: "=", False: "!", None: " "}[x["agrees"]]
        back = " backfilled" if x["backfilled"] else (" late" if x.get("late") else "")
        if x.get("config_hash") != rep["config_hash"]:
            back += " (other config)"
        lines.append(
            f"  {x['decision_date']}  {_label(x['issued_regime'], x['issued_exposure']):<38}"
            f"{mark} {now:<38}{x['revisions']:>3}{back}"
        )
    if len(a["days"]) > limit:
        lines.append(f"  ... {len(a['days']) - limit} earlier days (--json lists them all)")
    lines.append("")
    if not p.get("pnl_days"):
        lines.append(
            "  P&L of the issued calls: no P&L day in the lake yet (each call trades the day after it)"
        )
        return "\n".join(lines)
    lines += [
        f"  P&L of the issued calls (first issue of each day), {p['first_pnl_date']}.."
        f"{p['last_pnl_date']} ({p['pnl_days']} P&L days){_pending(p)}:",
        f"    gross {p['gross']:+.4%}  fees (cost) {p['fees']:.4%}  slippage (cost) "
        f"{p['slippage']:.4%}  funding (P&L) {p['funding']:+.4%}",
        f"    net {p['net']:+.4%} (sum of daily returns; compounded {p['compounded_net']:+.4%});"
        f" the backtest's net on the same days {p.get('backtest_net_same_days', 0.0):+.4%}",
        f"    costs included: fees, slippage, funding ({p['costs_included']['funding']})",
    ]
    if p["days_without_a_call"]:
        lines.append(
            f"    {p['days_without_a_call']} days without a call kept the last call's book"
        )
    if p["assets_not_in_the_lake"]:
        lines.append(f"    not priced (not in the lake): {', '.join(p['assets_not_in_the_lake'])}")
    return "\n".join(lines)


def _other_config_lines(rep: dict[str, Any]) -> list[str]:
    others = rep.get("other_config") or []
    if not others:
        return []
    hashes = sorted({str(o["config_hash"]) for o in others})
    days = sorted({o["decision_date"] for o in others})
    shown = ", ".join(days[:5]) + (f" ... ({len(days)} days)" if len(days) > 5 else "")
    return [
        f"  config: {len(others)} of {rep['agreement']['records']} records were issued under "
        f"another config (hash {', '.join(hashes)}), on {shown}: they are judged against this "
        f"config's backtest ({rep['config_hash']}); pass that record's config to judge them by "
        "their own"
    ]


def _pending(p: dict[str, Any]) -> str:
    if p.get("pending"):
        return "; the last call's P&L day is not in the lake yet"
    return ""


def _label(regime: str, exposure: float | None) -> str:
    return f"{regime} ({exposure:.2f})" if exposure is not None else regime
