"""The book to trade, on the dashboard's first screen: the trade day's names, sides and weights from
the run's own signal, with US dollars when the run was given ``--capital`` and the orders when
it was given ``--positions`` (``report/orders.py``); when the model is flat, the book it would
hold if it entered, and why a day is not traded when thin data refused it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from ..labels import num, regime_label, usd
from ..report.book_text import held_when
from .common import DashboardData
from .tables import _table

e = html.escape

BOOK_CSS = """
#book-table, #orders-table { width: 100%; }
.book-grid { margin-bottom: 0; }
#book-table th:nth-child(2), #orders-table th:nth-child(2),
#orders-table th:nth-child(4) { text-align: left; }
#book td.label { min-width: 0; }
#book .refused { color: var(--neg); font-weight: 600; }
"""


def _rows(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda t: (t["weight"] < 0, str(t["asset_id"])))


def book_card(d: DashboardData) -> str:
    """The "Book to trade" card, or "" without a signal."""
    sig = d.signal if isinstance(d.signal, Mapping) else None
    if not sig or "targets" not in sig:
        return ""
    targets = _rows(list(sig.get("targets") or []))
    book = _rows(list(sig.get("book") or []))
    am = sig.get("amounts") if isinstance(sig.get("amounts"), Mapping) else None
    od = sig.get("orders") if isinstance(sig.get("orders"), Mapping) else None
    label = regime_label(sig.get("regime"), d.levels())
    exp = num(sig.get("exposure") or 0.0, 2)
    day = e(str(sig.get("decision_date") or sig.get("asof") or ""))
    why = ((sig.get("explain") or {}) if isinstance(sig.get("explain"), Mapping) else {}).get(
        "no_trade_reason"
    )
    parts = [
        f'<p class="sub">For the day after {day}: {e(label)}, exposure held {e(exp)}'
        f" (action {e(str(sig.get('action', '')))}).</p>"
    ]
    if why:
        parts.append(f'<p class="refused" id="book-refused">{e(str(why))}</p>')
    shown, held = (targets, True) if targets else (book, False)
    if not held:
        parts.append(
            f'<p class="note">Flat {e(held_when(sig))}: hold nothing.'
            + (" If it entered, the book would be (at exposure 1):" if book else "")
            + "</p>"
        )
    left = _book_table(shown, am if held else None) if shown else ""
    if od:
        right = _orders_table(od)
    elif am is None:
        right = (
            '<p class="note">Run with <code>--capital USD</code> for amounts in dollars and '
            "<code>--positions CSV</code> (asset_id,usd_notional) for the orders.</p>"
        )
    else:
        right = (
            '<p class="note">Run with <code>--positions CSV</code> (asset_id,usd_notional) '
            "for the orders from what you hold.</p>"
        )
    # side by side on a wide screen, one under the other on a phone
    parts.append(f'<div class="grid even book-grid"><div>{left}</div><div>{right}</div></div>')
    return f'<section class="card" id="book"><h2>Book to trade</h2>{"".join(parts)}</section>'


def _book_table(rows: list[Mapping[str, Any]], am: Mapping[str, Any] | None) -> str:
    dollars = {r["asset_id"]: r["usd"] for r in am["rows"]} if am else {}
    body = []
    for t in rows:
        row = [
            (str(t["side"]), "label"),
            (str(t["asset_id"]), ""),
            (num(t["weight"], 4, sign=True), "num"),
        ]
        if am:
            row.append((usd(dollars.get(t["asset_id"], 0.0), sign=True), "num"))
        body.append(row)
    longs = sum(t["weight"] for t in rows if t["weight"] > 0)
    shorts = -sum(t["weight"] for t in rows if t["weight"] < 0)
    cap = f"Weights of equity (long > 0, short < 0); gross long {num(longs, 3)}, short {num(shorts, 3)}"
    if am:
        cap += f"; US dollars at capital {usd(am['capital_usd'])}"
    header = ["Side", "Asset", "Weight"] + (["USD"] if am else [])
    return f'<div class="scroll">{_table("book-table", header, body)}</div><p class="note">{e(cap)}</p>'


def _orders_table(od: Mapping[str, Any]) -> str:
    body = [
        [
            (str(r["side"]), "label"),
            (str(r["asset_id"]), ""),
            (usd(r["order_usd"], sign=True), "num"),
            (str(r["kind"]), ""),
            (usd(r["current_usd"]), "num"),
            (usd(r["target_usd"]), "num"),
        ]
        for r in od.get("rows") or []
    ]
    small = od.get("below_min_order") or []
    cap = (
        f"Orders against {od.get('positions_file') or od.get('source') or od.get('against')}: order = target − "
        f"current, rounded to {usd(od.get('min_order_usd') or 0)} USD (closes exact); "
        f"{usd(od.get('traded_usd') or 0)} USD traded"
    )
    if small:
        cap += "; below the minimum, not sent: " + ", ".join(
            f"{s['asset_id']} {usd(s['delta_usd'], sign=True)}" for s in small
        )
    header = ["Order", "Asset", "USD", "Kind", "Current", "Target"]
    return f'<div class="scroll">{_table("orders-table", header, body)}</div><p class="note">{e(cap)}</p>'
