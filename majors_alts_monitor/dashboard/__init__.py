"""Figures and the self-contained HTML page of the regime monitor, split by story:

- ``plot``: plotly figures as plain dicts (traces, axes, subplot grids, JSON), no plotly.py;
- ``common``: :class:`DashboardData`, colours, frame helpers, plot style, display thinning;
- ``figures``: equity, drawdown, regime, feature heat map, betas, costs;
- ``tearsheet_figures``: rolling Sharpe/volatility, score contributions, P&L attribution,
  robustness, the trials' Sharpe heat map (``None`` when their input is absent);
- ``tables`` / ``tearsheet_tables``: formatting and every HTML table;
- ``page``: CSS, the probe scripts, the compressed plotly.js and :func:`render_dashboard`.

Every ``fig_*`` function is pure: it takes a :class:`DashboardData` and returns a plotly
figure as a plain dict, ``{"data": [...], "layout": {...}}`` (what plotly.js takes; no
plotly.py module is imported at run time, see ``plot``). :func:`render_dashboard` returns the whole page as a string;
the caller (``outputs.py``) writes it atomically. Nothing here touches the filesystem or the
network. Series go to plotly as plain lists (5 significant digits, ``None`` for NaN); daily
series longer than ``MAX_DISPLAY_POINTS`` are thinned for DRAWING only (per bucket the
first row and every series' min and max, plus the change days of step series); every number
in a table is computed on the full series.

Probes make rendering testable from the DOM: ``<body data-figures-expected>`` is the number of
figures, ``data-figures-rendered`` the number of plotly graphs that drew an ``svg.main-svg``,
``data-script-errors`` counts errors (messages in the hidden ``<pre id="script-errors">``),
``data-scroll-width``/``data-inner-width`` record horizontal overflow.
"""

from .common import MAX_DISPLAY_POINTS, MAX_HEATMAP_COLUMNS, DashboardData, display_index
from .figures import (
    FIGURES,
    _block_means,
    fig_betas,
    fig_costs,
    fig_drawdown,
    fig_equity,
    fig_feature_heatmap,
    fig_regime,
)
from .page import render_dashboard
from .tearsheet_figures import (
    fig_attribution,
    fig_contributions,
    fig_robustness,
    fig_rolling,
    fig_trials,
)

__all__ = [
    "FIGURES",
    "MAX_DISPLAY_POINTS",
    "MAX_HEATMAP_COLUMNS",
    "DashboardData",
    "_block_means",
    "display_index",
    "fig_attribution",
    "fig_betas",
    "fig_contributions",
    "fig_costs",
    "fig_drawdown",
    "fig_equity",
    "fig_feature_heatmap",
    "fig_regime",
    "fig_robustness",
    "fig_rolling",
    "fig_trials",
    "render_dashboard",
]
