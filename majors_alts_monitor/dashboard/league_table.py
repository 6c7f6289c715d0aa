"""The league table: the run's model against the traders' indicators (``kpis.json``
``league``), each on the same book, costs and out-of-sample days, on time and one day late,
with the model's SPA p-value against each baseline (raw and Holm-adjusted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .tables import DASH, _int, _pct, _ratio, _sign_class, _table

HEADER = (
    "Rule",
    "OOS Sharpe",
    "95% CI",
    "1 day late",
    "Ann. return",
    "Max drawdown",
    "Turnover / day",
    "Fees + slippage",
    "Funding",
    "Days invested",
    "SPA p (model beats it)",
    "Holm p",
)
CAPTION = (
    "Every rule runs through the run's engine, costs and walk-forward test days: invested = "
    "the long-majors / short-alts book on over the next day. '1 day late' holds the same "
    "decisions one day later. SPA p: Hansen's test (consistent p-value) that the model's net "
    "returns beat the rule's; Holm p adjusts it over the baselines (below 0.05: the model "
    "beats that rule at 5% after the adjustment)."
)


def _ci(ci: Any) -> str:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        lo, hi = _ratio(ci[0]), _ratio(ci[1])
        return DASH if lo == DASH and hi == DASH else f"[{lo}, {hi}]"
    return DASH


def _p(x: Any) -> str:
    return _ratio(x, 3)


def _note(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry.get("coverage_note"):
        parts.append(str(entry["coverage_note"]))
    chosen = entry.get("chosen_per_fold")
    if isinstance(chosen, Sequence) and not isinstance(chosen, str) and chosen:
        top = Counter(str(c) for c in chosen).most_common(3)
        parts.append(
            "chosen per fold: "
            + ", ".join(f"{name} ({k} of {len(chosen)})" for name, k in top)
            + ("; + = high favours majors, - = high favours alts")
        )
    return "; ".join(parts)


def league_table(kpis: Mapping[str, Any]) -> str:
    """The HTML table, or '' when the run has no league block."""
    league = kpis.get("league")
    if not isinstance(league, Mapping) or not league.get("entries"):
        return ""
    rows, notes = [], {}
    for i, en in enumerate(league["entries"]):
        late = en.get("late") or {}
        costs = None
        if en.get("total_fees") is not None and en.get("total_slippage") is not None:
            costs = float(en["total_fees"]) + float(en["total_slippage"])
        name = str(en.get("rule", ""))
        label = f"{name}: {en.get('description', '')}"
        rows.append(
            [
                (label, "label model" if name == "model" else "label"),
                (_ratio(en.get("oos_sharpe")), _sign_class(en.get("oos_sharpe"))),
                (_ci(en.get("oos_sharpe_ci95")), "num"),
                (_ratio(late.get("oos_sharpe")), _sign_class(late.get("oos_sharpe"))),
                (_pct(en.get("ann_return")), _sign_class(en.get("ann_return"))),
                (_pct(en.get("max_drawdown")), "num"),
                (_pct(en.get("avg_daily_turnover"), 2), "num"),
                (_pct(costs), "num"),
                (_pct(en.get("total_funding")), _sign_class(en.get("total_funding"))),
                (_int(en.get("days_invested")), "num"),
                (_p(en.get("spa_p_value")) if name != "model" else DASH, "num"),
                (_p(en.get("spa_p_value_holm")) if name != "model" else DASH, "num"),
            ]
        )
        note = _note(en)
        if note:
            notes[i] = note
    return _table("league-table", HEADER, rows, caption=CAPTION, notes=notes)
