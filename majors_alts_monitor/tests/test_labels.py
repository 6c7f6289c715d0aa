"""One convention per quantity (``labels.py``): what a regime holds, numbers never printed as
"-0.0", tiny p-values as "< 0.001"."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from majors_alts_monitor.labels import meaning, num, p_value, regime_label, usd

LEVELS = {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.0, "RISK_ON_ALTS": 0.0}


def test_regime_labels_say_what_the_regime_holds() -> None:
    assert regime_label("RISK_ON_ALTS", LEVELS) == "RISK_ON_ALTS (flat, exposure 0.00)"
    assert (
        regime_label("RISK_ON_MAJORS", LEVELS)
        == "RISK_ON_MAJORS (long majors, short alts, exposure 1.00)"
    )
    assert regime_label("BALANCED", {**LEVELS, "BALANCED": 0.5}, short=True) == "BALANCED (0.50)"
    assert regime_label("RISK_ON_ALTS", LEVELS, short=True) == "RISK_ON_ALTS (flat)"
    assert regime_label("RISK_ON_ALTS", None) == "RISK_ON_ALTS"  # no levels: the bare name
    assert regime_label(None, LEVELS) == ""
    assert meaning(-0.5) == "short majors, long alts"


def test_numbers_never_print_negative_zero() -> None:
    assert num(-0.0001, 2) == "0.00" and num(-0.0, 3) == "0.000"
    assert num(-0.00001, 1, pct=True) == "0.0%" and num(-0.0012, 1, pct=True) == "-0.1%"
    assert num(0.0, 2, sign=True) == "0.00" and num(0.5, 2, sign=True) == "+0.50"
    assert usd(-0.4) == "0" and usd(-1234.6, sign=True) == "-1,235" and usd(5, sign=True) == "+5"


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 4), st.booleans())
def test_num_is_the_rounded_value_without_a_negative_zero(x: float, nd: int, pct: bool) -> None:
    text = num(x, nd, pct=pct)
    assert not text.startswith("-0") or float(text.rstrip("%")) != 0
    assert math.isclose(float(text.rstrip("%")), round(x * (100 if pct else 1), nd), abs_tol=1e-9)


def test_p_values_below_the_resolution_are_bounded_not_zero() -> None:
    assert p_value(0.0) == "< 0.001" and p_value(0.0004) == "< 0.001"
    assert p_value(0.001) == "0.001" and p_value(0.41234) == "0.412"
    assert p_value(0.0, 2) == "< 0.01"
    assert p_value(None) == "n/a" and p_value(float("nan")) == "n/a" and p_value("x") == "n/a"
