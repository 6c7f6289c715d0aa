"""The console's book to trade: the trade day's names, sides and weights (and US dollars at
``--capital``), the orders against ``--positions``, and the regime lines with what each regime
holds. ``summary_text`` (run) and ``signal_text`` (signals) print these lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..labels import num, regime_label, usd

INDENT = " " * 11


def regime_line(sig: Mapping[str, Any]) -> str:
    """``BALANCED (flat, exposure 0.00) -> RISK_ON_MAJORS (long majors, short alts, exposure
    1.00)``: yesterday's regime and tomorrow's, with what each holds."""
    levels = sig.get("exposure_by_regime")
    return (
        f"{regime_label(sig['previous_regime'], levels)} -> {regime_label(sig['regime'], levels)}"
    )


def _summary(rows: list[Mapping[str, Any]]) -> str:
    longs = [t for t in rows if t["side"] == "long"]
    shorts = [t for t in rows if t["side"] == "short"]
    return (
        ", ".join(f"{t['asset_id']} {num(t['weight'], 3, sign=True)}" for t in longs)
        + f"; {len(shorts)} shorts, gross {num(sum(abs(t['weight']) for t in shorts), 2)}"
    )


def held_when(sig: Mapping[str, Any]) -> str:
    """The day the book is held, as the console and the dashboard say it: "tomorrow" only when
    the trade day (decision day + 1) is after today; "today (D)" for the call made on its trade
    day; "on D, a day already over" for a late call or a backfill; "on D" when the clock does
    not apply (a synthetic lake: its calendar is its spec's; ``report.freshness``)."""
    trade, today = sig.get("trade_day"), sig.get("today")
    if trade is None or today is None:
        return "tomorrow"
    fr = sig.get("freshness")
    if (
        isinstance(fr, Mapping)
        and fr.get("checked") is False
        and "synthetic" in str(fr.get("note"))
    ):
        return f"on {trade}"
    if trade > today:
        return f"tomorrow ({trade})"
    if trade == today:
        return f"today ({trade})"
    return f"on {trade}, a day already over"


def book_lines(sig: Mapping[str, Any]) -> list[str]:
    """The book held on the trade day (``held_when``), one name a line (side, asset, weight of equity, US dollars when
    ``amounts`` is set); when flat, one line with the book it would hold if entered; then the
    orders when ``orders`` is set."""
    targets = sorted(sig.get("targets") or [], key=lambda t: (t["weight"] < 0, t["asset_id"]))
    book = list(sig.get("book") or [])
    am = sig.get("amounts")
    by_asset = {r["asset_id"]: r["usd"] for r in am["rows"]} if am else {}
    lines: list[str] = []
    if not targets:
        what = (
            f"flat {held_when(sig)} (exposure {num(sig.get('exposure') or 0.0, 2)}): hold nothing"
        )
        if book:
            what += f"; if entered: {_summary(book)}"
        lines.append(f"  book     {what}")
    else:
        money = f"; USD at capital {usd(am['capital_usd'])}" if am else ""
        lines.append(
            f"  book     to hold {held_when(sig)} at exposure {num(sig['exposure'], 2)} "
            f"(weights of equity{money})"
        )
        width = max(len(t["asset_id"]) for t in targets)
        for t in targets:
            line = f"{INDENT}{t['side']:<5}  {t['asset_id']:<{width}}  {num(t['weight'], 4, sign=True):>8}"
            if am:
                line += f"  {usd(by_asset.get(t['asset_id'], 0.0), sign=True):>14}"
            lines.append(line)
        gl = sum(t["weight"] for t in targets if t["weight"] > 0)
        gs = -sum(t["weight"] for t in targets if t["weight"] < 0)
        tail = f"{INDENT}gross    long {num(gl, 3)}, short {num(gs, 3)}"
        if am:
            tail += f" ({usd(am['long_usd'])} / {usd(-am['short_usd'])} USD)"
        lines.append(tail)
    return lines + order_lines(sig)


def order_lines(sig: Mapping[str, Any]) -> list[str]:
    od = sig.get("orders")
    if not od:
        return []
    rows = od["rows"]
    lines = [
        f"  orders   against {od.get('positions_file') or od.get('source') or od.get('against')}, min order "
        f"{usd(od['min_order_usd'])} USD: {len(rows)} order{'s' if len(rows) != 1 else ''}, "
        f"{usd(od['traded_usd'])} USD traded"
    ]
    if rows:
        width = max(len(r["asset_id"]) for r in rows)
        for r in rows:
            lines.append(
                f"{INDENT}{r['side']:<4}  {r['asset_id']:<{width}}  "
                f"{usd(r['order_usd'], sign=True):>13}  {r['kind']:<8}  "
                f"{usd(r['current_usd'])} -> {usd(r['target_usd'])}"
            )
    small = od.get("below_min_order") or []
    if small:
        lines.append(
            f"{INDENT}below the min order (not sent): "
            + ", ".join(f"{s['asset_id']} {usd(s['delta_usd'], sign=True)}" for s in small)
        )
    return lines
