"""Regime models: the ridge forecast of the book's return (the default), the composite score with
hysteresis and a fused grid search, the jump model, HMM and k-means.

Regime codes: 0 = RISK_ON_MAJORS (the book pays), 1 = BALANCED, 2 = RISK_ON_ALTS.
"""

from .hysteresis import ALTS, BALANCED, MAJORS, REGIME_NAMES, apply_hysteresis, dwell_filter

__all__ = ["ALTS", "BALANCED", "MAJORS", "REGIME_NAMES", "apply_hysteresis", "dwell_filter"]
