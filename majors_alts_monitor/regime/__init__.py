"""Regime models: composite score with hysteresis and a fused grid search; HMM and k-means.

Regime codes: 0 = RISK_ON_MAJORS (the book pays), 1 = BALANCED, 2 = RISK_ON_ALTS.
"""

from .hysteresis import ALTS, BALANCED, MAJORS, REGIME_NAMES, apply_hysteresis, dwell_filter

__all__ = ["ALTS", "BALANCED", "MAJORS", "REGIME_NAMES", "apply_hysteresis", "dwell_filter"]
