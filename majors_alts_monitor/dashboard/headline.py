"""The page's headline card: the selection-aware test first (Hansen's SPA p-value of the best of
the walk-forward book and every parameter set the search chose among, kpis.json
``walk_forward.spa``), then the stitched out-of-sample Sharpe, its bootstrap interval and its
probabilistic Sharpe ratio, and Romano-Wolf StepM's count of members that beat each benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..labels import p_value
from .tables import DASH, _int, _num, _ratio, _table, e


def _p(x: Any) -> str:
    """A p-value as every surface prints it (``labels.p_value``: "< 0.001", never 0)."""
    return DASH if _num(x) is None else p_value(x)


def _stepm(side: Mapping[str, Any]) -> str:
    n = side.get("stepm_n_superior")
    if n is None:
        return DASH
    wf = "yes" if side.get("stepm_walk_forward_superior") else "no"
    return f"{_int(n)} (walk-forward book: {wf})"


def headline_table(kpis: Mapping[str, Any]) -> str:
    """``<table id="headline-table">`` from ``walk_forward`` (empty when the run has no SPA)."""
    wf = kpis.get("walk_forward") or {}
    spa = wf.get("spa")
    if not isinstance(spa, Mapping):
        return ""
    flat = spa.get("vs_flat") or {}
    on = spa.get("vs_always_on") or {}
    p = _num(spa.get("p_value"))
    alpha = _num(spa.get("alpha")) or 0.05
    if p is None:
        verdict = "not computed"
    else:
        verdict = f"edge claimed at {alpha:.0%}" if p < alpha else f"no edge claimed at {alpha:.0%}"
    ci = wf.get("oos_sharpe_ci95")
    ci_text = (
        f"[{_ratio(ci[0])}, {_ratio(ci[1])}]"
        if isinstance(ci, list | tuple) and len(ci) == 2
        else DASH
    )
    fam = spa.get("family_size")
    sampled = spa.get("family_sampled")
    fam_text = _int(fam) + (f" ({_int(spa.get('family_evaluated'))} evaluated)" if sampled else "")
    rows = [
        [
            ("SPA p-value vs flat book (selection-aware)", "label strong"),
            (_p(p), "num strong"),
            (verdict, "verdict"),
        ],
        [
            ("SPA p-value vs always-held book", "label"),
            (_p(spa.get("p_value_always_on")), "num"),
            ("", ""),
        ],
        [
            ("Out-of-sample Sharpe, 95% CI (bootstrap)", "label"),
            (_ratio(wf.get("oos_sharpe")), "num"),
            (ci_text, "num"),
        ],
        [
            ("Probabilistic Sharpe vs 0", "label"),
            (_ratio(wf.get("probabilistic_sharpe"), 3), "num"),
            ("", ""),
        ],
        [
            ("StepM: members beating flat / always-held (FWER 5%)", "label"),
            (_stepm(flat), "num"),
            (_stepm(on), "num"),
        ],
        [
            ("Family: walk-forward book + parameter sets", "label"),
            (fam_text, "num"),
            (
                f"{_int(spa.get('resamples'))} resamples, mean block "
                f"{_ratio(spa.get('mean_block'), 0)}",
                "num",
            ),
        ],
    ]
    cap = (
        "Hansen's SPA (consistent p-value, stationary bootstrap; statistic: the best Sharpe ratio "
        "of the excess returns) of the best member "
        "of the family, so choosing it after the fact is priced in; an edge is claimed when "
        "p < 5%. The deflated Sharpe at the effective number of trials (below) is a diagnostic "
        "that over-claims when the trials share a common factor."
    )
    return _table("headline-table", None, rows, caption=cap)


def headline_card(kpis: Mapping[str, Any]) -> str:
    table = headline_table(kpis)
    if not table:
        return ""
    return (
        f'<section class="card headline" id="headline"><h2>{e("Headline: is there an edge?")}'
        f'</h2><div class="scroll">{table}</div></section>'
    )
