"""One convention per quantity, said where it is shown: what a regime means, how costs and P&L
are signed, what each unfunded share divides by, and how numbers are printed (never "-0.0",
tiny p-values as "< 0.001"). The console (``report/``) and the dashboard (``dashboard/``) both
read these, so a figure reads the same on every surface."""

from __future__ import annotations

import math
from collections.abc import Mapping

COST = "cost, positive = paid"
PNL = "P&L, signed, negative = paid"

SIGNS: dict[str, str] = {
    "total_fees": f"{COST}: the sum of the daily fee_cost",
    "total_slippage": f"{COST}: the sum of the daily slippage_cost",
    "total_funding": f"{PNL}: the sum of the daily funding_pnl (a long pays a positive rate, a "
    "short earns it)",
    "total_costs": f"{COST}: fees + slippage (funding is a P&L, not included)",
    "funding_by_leg": f"{PNL}: summed funding_pnl of each leg",
}
"""kpis.json ``conventions.signs``: the sign convention of every summed cost or P&L."""

UNFUNDED_OF: dict[str, str] = {
    "unfunded_share_mean": "held notional without funding data / gross notional held (long + "
    "short), mean over the strategy's invested out-of-sample days",
    "unfunded_short_share": "short notional without funding data / short notional held, mean "
    "over the strategy's out-of-sample days with a short book",
    "unfunded_short_share_always_on": "short notional without funding data / short notional "
    "held, mean over the always-held book's out-of-sample days with a short book",
    "unfunded_share": "held notional without funding data / gross notional held (long + "
    "short) that day",
}
"""What each "unfunded share" divides by (kpis.json keys and the bt_daily_pnl.csv column)."""

FOLD_DAYS = (
    "train_start, train_end, test_start, test_end are P&L days: the days whose returns fall in "
    "each window, one day after the decision days; train_decision_start/_end and "
    "test_decision_start/_end are the decision days, as regime_timeline.csv labels them with "
    "the fold (the last fold's last decision has no P&L day yet)"
)


def meaning(level: float) -> str:
    """What an exposure level holds: "flat", or the book's direction."""
    if level == 0:
        return "flat"
    return "long majors, short alts" if level > 0 else "short majors, long alts"


def regime_label(name: object, levels: Mapping[str, float] | None, short: bool = False) -> str:
    """``RISK_ON_ALTS (flat, exposure 0.00)``: a regime with what it holds (its
    ``regime.exposure`` level; the exposure actually held may be scaled by vol targeting or
    refused on a thin day). ``short``: ``RISK_ON_ALTS (flat)`` / ``RISK_ON_MAJORS (1.00)`` for
    tables that show the exposure beside it. Without ``levels`` the bare name."""
    text = "" if name is None else str(name)
    if not levels or text not in levels:
        return text
    lvl = float(levels[text])
    if short:
        return f"{text} ({'flat' if lvl == 0 else num(lvl, 2)})"
    return f"{text} ({meaning(lvl)}, exposure {num(lvl, 2)})"


def num(x: float, nd: int = 2, *, sign: bool = False, pct: bool = False) -> str:
    """``x`` with ``nd`` decimals (times 100 with a % when ``pct``), never "-0.00": a value
    that rounds to zero prints unsigned. ``sign`` adds "+" to positive values."""
    v = float(x) * (100.0 if pct else 1.0)
    v = round(v, nd) + 0.0  # -0.0 + 0.0 is 0.0
    text = f"{v:+.{nd}f}" if sign and v != 0 else f"{v:.{nd}f}"
    return text + ("%" if pct else "")


def usd(x: float, *, sign: bool = False) -> str:
    """Whole US dollars with thousands separators, never "-0"."""
    v = round(float(x))  # an int: no negative zero
    return f"{v:+,d}" if sign and v != 0 else f"{v:,d}"


def p_value(p: object, nd: int = 3) -> str:
    """A p-value: "< 0.001" below the printed resolution (never "0"), else ``nd`` decimals;
    "n/a" when missing."""
    if p is None:
        return "n/a"
    try:
        v = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    floor = 10.0**-nd
    if v < floor:
        return f"< {floor:.{nd}f}"
    return f"{v:.{nd}f}"
