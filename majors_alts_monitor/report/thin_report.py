"""Thin data in the reports: the ``thin_data`` block of kpis.json, the run's warnings about
refused days and basket drops, and the timeline's ``no_trade_reason`` column
(``market/thin.py`` decides which days are refused)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..backtest.stages import Prepared, Stitched, iso
from ..config import Config
from ..market.thin import BasketDrop

MAX_DROPS_LISTED = 5  # drop events spelled out in the warnings (all are in kpis.json)


def no_trade_reasons(p: Prepared) -> pl.Series:
    """Per day of the panel, why the book is not traded that day (null when it is)."""
    tr = p.tradeable
    if tr is None:
        return pl.Series("no_trade_reason", [None] * p.panel.n_days, dtype=pl.String)
    return pl.Series("no_trade_reason", tr.reasons(p.book.n_names), dtype=pl.String)


def _drop_row(p: Prepared, d: BasketDrop) -> dict:
    return {
        "date": iso(p.panel.dates[d.day]),
        "names_before": d.before,
        "names_after": d.after,
        "basket_names_ended": d.ended,
        "alts_ended": d.ended_all,
    }


def thin_data_block(cfg: Config, p: Prepared, s: Stitched) -> dict:
    """kpis.json ``thin_data``: counts over the out-of-sample decision days (those whose P&L
    falls in the out-of-sample span, as the other kpis.json day counts), and every basket drop
    of the run."""
    tr = p.tradeable
    dec = s.pnl_idx - 1
    nan = float("nan")
    if tr is None:  # pragma: no cover - every pipeline-built Prepared has one
        return {"min_basket_names": cfg.universe.min_names(), "untraded_days": 0}
    refused = ~tr.ok[dec]
    levels = p.inputs.levels[s.codes[dec]]
    return {
        "min_basket_names": tr.min_names,
        "basket_drop_warn": cfg.universe.basket_drop_warn,
        "decision_days": int(dec.size),
        "untraded_days": int(refused.sum()),
        "untraded_share": float(refused.mean()) if dec.size else nan,
        "untraded_invested_days": int((refused & (levels != 0)).sum()),
        "thin_basket_days": int(tr.thin[dec].sum()),
        "no_btc_days": int(tr.no_btc[dec].sum()),
        "no_eth_days": int(tr.no_eth[dec].sum()),
        "basket_drops": [_drop_row(p, d) for d in tr.drops],
        "note": "day counts are over the out-of-sample decision days (the day before each "
        "out-of-sample P&L day); an untraded day holds nothing whatever its regime "
        "(regime_timeline.csv no_trade_reason); untraded_invested_days are those whose regime "
        "would have held the book; basket_drops lists every overnight shrink of the basket by "
        "more than basket_drop_warn while its names stopped printing prices, over the whole run",
    }


def _span(p: Prepared, days: np.ndarray) -> str:
    if days.size == 1:
        return iso(p.panel.dates[days[0]])
    first, last = iso(p.panel.dates[days[0]]), iso(p.panel.dates[days[-1]])
    if days[-1] - days[0] + 1 == days.size:
        return f"{first}..{last}"
    return f"first {first}, last {last}"


def thin_warnings(p: Prepared, s: Stitched, block: dict) -> list[str]:
    """The run's warnings: refused out-of-sample days by reason, and the basket drops."""
    tr = p.tradeable
    if tr is None:
        return []
    dec = s.pnl_idx - 1
    out: list[str] = []
    n = int(dec.size)
    thin = dec[tr.thin[dec]]
    if thin.size:
        out.append(
            f"thin basket: fewer than {tr.min_names} names (universe.min_basket_names) on "
            f"{thin.size} of {n} out-of-sample decision days ({_span(p, thin)}); those days "
            f"are not traded (exposure 0; {block['untraded_invested_days']} untraded days in "
            "all were in a regime that would have held the book)"
        )
    for flag, name in ((tr.no_btc, "BTC"), (tr.no_eth, "ETH")):
        days = dec[flag[dec]]
        if days.size:
            out.append(
                f"long side incomplete: no {name} price on {days.size} of {n} out-of-sample "
                f"decision days ({_span(p, days)}); those days are not traded (exposure 0)"
            )
    for d in tr.drops[:MAX_DROPS_LISTED]:
        out.append(drop_warning(p, d))
    if len(tr.drops) > MAX_DROPS_LISTED:
        out.append(
            f"{len(tr.drops) - MAX_DROPS_LISTED} more basket drops (kpis.json thin_data "
            "basket_drops)"
        )
    return out


def drop_warning(p: Prepared, d: BasketDrop) -> str:
    before = iso(p.panel.dates[d.day - 1])
    return (
        f"the short basket shrank from {d.before} to {d.after} names on "
        f"{iso(p.panel.dates[d.day])}: {d.ended_all} alts printed no price after {before}, "
        f"{d.ended} of them in the basket (assets ending together: a source that stopped "
        "rather than delistings? check the lake's coverage)"
    )
