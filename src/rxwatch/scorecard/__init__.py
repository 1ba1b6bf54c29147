"""Scorecard statistics: funnel-plot control limits, RAG status against a target, trend.

Pure Python (no Django, no NumPy/SciPy) so that the web app, the PDF reports and scripts share one
definition of "below target" and "outside the control limits".
"""

from rxwatch.scorecard.stats import (
    FunnelLimits,
    Rag,
    Trend,
    binomial_band,
    binomial_limit,
    funnel_limits,
    normal_limit,
    pct,
    rag_status,
    trend,
)

__all__ = [
    "FunnelLimits",
    "Rag",
    "Trend",
    "binomial_band",
    "binomial_limit",
    "funnel_limits",
    "normal_limit",
    "pct",
    "rag_status",
    "trend",
]
