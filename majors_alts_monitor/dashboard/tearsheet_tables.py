"""Tearsheet tables: monthly returns heat map, worst drawdowns, trades with costs, P&L
attribution and the robustness re-runs. Numbers come from :mod:`majors_alts_monitor.stats.tearsheet`
applied to the run's full daily P&L (never to the downsampled display series)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from ..labels import num, regime_label
from ..stats import tearsheet
from .common import DashboardData, _prep, _values
from .tables import DASH, _generic, _int, _pct, _ratio, _sign_class, _table

e = html.escape
TRADE_ROWS = 200  # the most recent trades shown (the full list is derivable from bt_daily_pnl.csv)


def _heat(v: float | None, scale: float) -> str:
    """Inline background for a monthly cell: green up, red down, saturating at ``scale``."""
    if v is None or not np.isfinite(v) or scale <= 0:
        return ""
    a = min(1.0, abs(v) / scale) * 0.55
    rgb = "46,157,91" if v >= 0 else "214,69,69"
    return f"background:rgba({rgb},{a:.2f})"


def monthly_table(d: DashboardData) -> str:
    """Compounded monthly net returns, year x month, with the compounded year (EOY)."""
    pnl = _prep(d.pnl)
    if pnl.height == 0 or "net_return" not in pnl.columns:
        return '<p class="note">No daily P&amp;L rows.</p>'
    m = tearsheet.monthly_returns(pnl["date"].to_numpy(), _values(pnl, "net_return"))
    cells = np.array(
        [[v for v in row if v is not None] for row in m.select(tearsheet.MONTHS).rows()],
        dtype=object,
    )
    flat = [abs(v) for row in cells for v in row]
    scale = float(np.quantile(flat, 0.9)) if flat else 0.0
    head = "".join(f"<th>{mo.title()}</th>" for mo in tearsheet.MONTHS)
    out = [
        '<table id="monthly-table" class="heat"><thead><tr><th>Year</th>'
        f"{head}<th>Year</th></tr></thead><tbody>"
    ]
    for rec in m.iter_rows(named=True):
        tds = []
        for mo in tearsheet.MONTHS:
            v = rec[mo]
            text = DASH if v is None else num(v * 100, 1)  # never "-0.0"
            tds.append(f'<td class="num" style="{_heat(v, scale)}">{text}</td>')
        eoy = rec["EOY"]
        tds.append(f'<td class="num eoy {_sign_class(eoy)}">{_pct(eoy)}</td>')
        out.append(f"<tr><td>{rec['year']}</td>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def drawdown_table(d: DashboardData) -> str:
    pnl = _prep(d.pnl)
    if pnl.height == 0 or "net_return" not in pnl.columns:
        return _table("drawdown-table", ("#",), [])
    dd = tearsheet.drawdown_details(pnl["date"].to_numpy(), _values(pnl, "net_return"), top=5)
    rows = [
        [
            (str(k), "num"),
            (str(r["start"]), "span"),
            (str(r["trough"]), "span"),
            ("open" if r["recovery"] is None else str(r["recovery"]), "span"),
            (_pct(r["depth"]), "num neg"),
            (_int(r["length_days"]), "num"),
        ]
        for k, r in enumerate(dd.iter_rows(named=True), start=1)
    ]
    header = ("#", "Start", "Trough", "Recovery", "Depth", "Length (days)")
    return _table("drawdown-table", header, rows)


def trades_table(d: DashboardData) -> str:
    """Regime changes with the day's exposure change, turnover, fees and slippage."""
    pnl = _prep(d.pnl)
    need = {"regime", "exposure", "turnover", "fee_cost", "slippage_cost"}
    if pnl.height == 0 or not need <= set(pnl.columns):
        return '<p class="note">No regime or cost columns in the daily P&amp;L.</p>'
    t = tearsheet.trade_list(
        pnl["date"].to_numpy(),
        [None if r is None else str(r) for r in pnl["regime"].to_list()],
        _values(pnl, "exposure"),
        _values(pnl, "turnover"),
        _values(pnl, "fee_cost"),
        _values(pnl, "slippage_cost"),
    )
    traded = t.filter(pl.col("kind") != "no trade")
    summary = (
        f"{t.height} regime changes, {traded.height} with a trade (changes between two flat "
        f"regimes are not listed); their days' fees {_pct(traded['fee_cost'].sum(), 2)}, "
        f"slippage {_pct(traded['slippage_cost'].sum(), 2)} (a day's costs include its "
        "ordinary rebalancing)"
    )
    shown = traded.tail(TRADE_ROWS).reverse()
    if traded.height > TRADE_ROWS:
        summary += f"; the latest {TRADE_ROWS} shown"
    lv = d.levels()
    rows = [
        [
            (str(r["date"]), "span"),
            (
                f"{regime_label(r['from_regime'], lv, short=True) or DASH} → "
                f"{regime_label(r['to_regime'], lv, short=True)}",
                "span",
            ),
            (r["kind"], ""),
            (f"{_ratio(r['exposure_before'])} → {_ratio(r['exposure_after'])}", "num"),
            (_pct(r["turnover"]), "num"),
            (_pct(r["fee_cost"], 3), "num"),
            (_pct(r["slippage_cost"], 3), "num"),
            (_pct(r["total_cost"], 3), "num"),
        ]
        for r in shown.iter_rows(named=True)
    ]
    header = (
        "Date",
        "Regime (exposure level)",
        "Kind",
        "Exposure",
        "Turnover",
        "Fees (cost)",
        "Slippage (cost)",
        "Total cost",
    )
    return _table("trades-table", header, rows, caption=summary)


def attribution_table(d: DashboardData) -> str:
    at = d.attribution
    if at is None or at.height == 0 or not {"asset_id", "leg", "pnl"} <= set(at.columns):
        return ""
    rows = []
    total = float(at["pnl"].sum())
    for leg, label in (("BTC", "BTC leg"), ("ETH", "ETH leg"), ("basket", "Short basket total")):
        sub = at.filter(pl.col("leg") == leg)
        v = float(sub["pnl"].sum()) if sub.height else None
        names = _int(sub.height) if leg == "basket" else ""
        rows.append([(label, "label"), (_pct(v, 2), _sign_class(v)), (names, "num")])
    rows.append([("All legs (gross)", "label"), (_pct(total, 2), _sign_class(total)), ("", "num")])
    return _table(
        "attribution-table",
        ("", "Gross P&L", "Names"),
        rows,
        caption="sums of daily weight × return; costs and funding are not attributed",
    )


def robustness_tables(kpis: Mapping[str, Any]) -> str:
    rb = kpis.get("robustness")
    if not isinstance(rb, Mapping):
        return ""
    shifts = [
        [
            (f"+{_int(r.get('shift_days'))} d", "label"),
            (_generic(r.get("oos_start")), "span"),
            (_ratio(r.get("oos_sharpe")), _sign_class(r.get("oos_sharpe"))),
            (_pct(r.get("ann_return")), _sign_class(r.get("ann_return"))),
            (_pct(r.get("max_drawdown")), "num"),
            (_int(r.get("n_days")), "num"),
        ]
        for r in rb.get("start_shift") or []
        if isinstance(r, Mapping)
    ]
    mults = [
        [
            (f"{_generic(r.get('multiplier'))}×", "label"),
            (_ratio(r.get("oos_sharpe")), _sign_class(r.get("oos_sharpe"))),
            (_pct(r.get("ann_return")), _sign_class(r.get("ann_return"))),
            (_pct(r.get("max_drawdown")), "num"),
            (_pct(r.get("total_costs"), 2), "num"),
        ]
        for r in rb.get("cost_multiplier") or []
        if isinstance(r, Mapping)
    ]
    a = _table(
        "robustness-start-table",
        ("Start shift", "OOS start", "Sharpe", "Ann. return", "Max DD", "Days"),
        shifts,
    )
    b = _table(
        "robustness-cost-table",
        ("Costs", "Sharpe", "Ann. return", "Max DD", "Fees + slippage (cost)"),
        mults,
    )
    note = f'<p class="note">{e(str(rb.get("note", "")))}</p>' if rb.get("note") else ""
    return f'<div class="scroll">{a}</div><div class="scroll">{b}</div>{note}'
