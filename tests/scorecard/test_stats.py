"""Funnel limits (Spiegelhalter 2005), RAG and trend."""

from __future__ import annotations

import math

import pytest

from rxwatch.scorecard import (
    Rag,
    Trend,
    binomial_limit,
    funnel_limits,
    normal_limit,
    pct,
    rag_status,
    trend,
)


def test_pct_of_nobody_is_none():
    assert pct(0, 0) is None
    assert pct(3, 4) == 75.0


def test_exact_limits_approach_normal_for_large_n():
    exact = funnel_limits(5000, 0.8)
    normal = funnel_limits(5000, 0.8, method="normal")
    for a, b in [
        (exact.lower95, normal.lower95),
        (exact.upper95, normal.upper95),
        (exact.lower998, normal.lower998),
        (exact.upper998, normal.upper998),
    ]:
        assert a == pytest.approx(b, abs=0.002)


def test_normal_limit_formula():
    assert normal_limit(100, 0.5, 1.96) == pytest.approx(0.5 + 1.96 * math.sqrt(0.25 / 100))


def test_limits_are_ordered_and_narrow_with_n():
    small, large = funnel_limits(20, 0.9), funnel_limits(400, 0.9)
    for lim in (small, large):
        assert lim.lower998 <= lim.lower95 <= 0.9 <= lim.upper95 <= lim.upper998 <= 1.0
    assert large.upper95 - large.lower95 < small.upper95 - small.lower95


def test_binomial_limit_interpolates_between_counts():
    # Binomial(10, 0.5): P(X<=1)=11/1024 < 0.025 <= P(X<=2)=56/1024
    cdf2, cdf1 = 56 / 1024, 11 / 1024
    alpha = (cdf2 - 0.025) / (cdf2 - cdf1)
    assert binomial_limit(10, 0.5, 0.025) == pytest.approx((2 - alpha) / 10)


def test_band():
    lim = funnel_limits(100, 0.8)
    assert lim.band(0.8) == "within"
    assert lim.band(0.71) == "outside 95%"
    assert lim.band(0.5) == "outside 99.8%"


def test_rag_higher_is_better():
    assert rag_status(95, 90) is Rag.GREEN
    assert rag_status(85, 90) is Rag.AMBER
    assert rag_status(70, 90) is Rag.RED
    assert rag_status(None, 90) is Rag.NONE
    assert Rag.RED.label == "Below target"


def test_rag_lower_is_better_for_hazards():
    assert rag_status(1.0, 2.0, lower_is_better=True) is Rag.GREEN
    assert rag_status(4.0, 2.0, lower_is_better=True, amber_margin=3) is Rag.AMBER
    assert rag_status(9.0, 2.0, lower_is_better=True, amber_margin=3) is Rag.RED


def test_trend_direction_respects_lower_is_better():
    assert trend([80, 81, 80, 90]) is Trend.IMPROVING
    assert trend([10, 10, 10, 20], lower_is_better=True) is Trend.WORSENING
    assert trend([50, 50.5, 51]) is Trend.STABLE
    assert trend([None, 50]) is Trend.UNKNOWN


def test_binomial_band_uses_exact_tails():
    from rxwatch.scorecard import binomial_band

    assert binomial_band(95, 100, 0.9) == "within"  # P(X >= 95) = 5.8%
    assert binomial_band(40, 50, 0.9) == "outside 95%"
    assert binomial_band(30, 50, 0.9) == "outside 99.8%"


def test_statistics_do_not_import_django():
    import subprocess
    import sys

    code = "import sys, rxwatch.scorecard; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
