"""Statistics of a daily-returns backtest: KPIs (``returns``), inference on a Sharpe ratio
(``inference``: bootstrap interval, PSR, deflated Sharpe), statistics by regime (``regimes``),
the PBO by CSCV (``cscv``), realised betas (``realized_betas``), the stationary bootstrap's
draws (``resample``), how many independent trials a search ran (``multiple_testing``),
selection-aware tests of a family of strategies (``selection``: Hansen's SPA, Romano-Wolf
StepM), realised neutrality with Newey-West errors (``neutrality``) and the tearsheet numbers
(``tearsheet``). Pure numpy and compiled kernels; no file I/O. The public functions of the
first five are re-exported here, so ``from majors_alts_monitor import stats`` then
``stats.sharpe(r)`` reads as before the move into this package.

Conventions (``docs/OUTPUTS.md``, binding): simple daily returns as fractions of equity,
``PERIODS = 365`` periods a year, no risk-free rate (see ``returns``).
"""

from __future__ import annotations

from .cscv import block_stats, cscv_logits, pbo, pbo_from_blocks
from .inference import (
    deflated_sharpe,
    expected_max_sharpe,
    norm_cdf,
    norm_ppf,
    probabilistic_sharpe,
    sharpe_ci,
    sharpe_moments,
)
from .realized_betas import realized_betas, rolling_realized_betas
from .regimes import regime_edge, regime_edges, regime_metrics
from .resample import bootstrap_reuse, stationary_bootstrap_indices
from .returns import PERIODS, cagr, drawdown, equity_curve, kpis, max_drawdown, sharpe, sortino

__all__ = [
    "PERIODS",
    "block_stats",
    "bootstrap_reuse",
    "cagr",
    "cscv_logits",
    "deflated_sharpe",
    "drawdown",
    "equity_curve",
    "expected_max_sharpe",
    "norm_cdf",
    "norm_ppf",
    "kpis",
    "max_drawdown",
    "pbo",
    "pbo_from_blocks",
    "probabilistic_sharpe",
    "realized_betas",
    "regime_edge",
    "regime_edges",
    "regime_metrics",
    "rolling_realized_betas",
    "sharpe",
    "sharpe_ci",
    "sharpe_moments",
    "sortino",
    "stationary_bootstrap_indices",
]
