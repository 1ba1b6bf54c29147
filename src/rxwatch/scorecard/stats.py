"""Funnel-plot control limits for proportions, RAG status and trend.

Control limits follow Spiegelhalter DJ. Funnel plots for comparing institutional performance.
Statistics in Medicine 2005;24(8):1185-1202 (doi:10.1002/sim.1970), section 3.1 and appendix A.1:
for a target proportion ``p0`` and a denominator ``n`` the ``p``-quantile of Binomial(n, p0) is
``r_p``, the smallest r with P(X <= r) >= p, and the plotted limit is ``(r_p - alpha) / n`` with
``alpha = (P(X <= r_p) - p) / (P(X <= r_p) - P(X <= r_p - 1))`` so that the limits are smooth in n.
The normal approximation ``p0 +/- z * sqrt(p0 (1 - p0) / n)`` is offered too (it is what most
published NHS funnel plots draw); it is poor for small n or p0 near 0 or 1, hence exact by default.

95% limits are ``p = 0.025, 0.975`` (z = 1.960); 99.8% limits are ``p = 0.001, 0.999`` (z = 3.090):
a practice outside 99.8% is very unlikely (about 1 in 500 under the target) to be chance variation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

Z = {0.95: 1.959963984540054, 0.998: 3.090232306167813}


def pct(numerator: int, denominator: int) -> float | None:
    """Percentage, or None when there is no one to count (a 0% of nobody is not a result)."""
    return None if denominator <= 0 else 100.0 * numerator / denominator


def _binomial_cdf_table(n: int, p0: float) -> list[float]:
    """P(X <= r) for r = 0..n, computed in log space (stable for n in the tens of thousands)."""
    if p0 <= 0.0:
        return [1.0] * (n + 1)
    if p0 >= 1.0:
        return [0.0] * n + [1.0]
    lp, lq = math.log(p0), math.log1p(-p0)
    logpmf = [
        math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1) + r * lp + (n - r) * lq
        for r in range(n + 1)
    ]
    top = max(logpmf)
    pmf = [math.exp(v - top) for v in logpmf]
    total = sum(pmf)
    cdf, acc = [], 0.0
    for v in pmf:
        acc += v / total
        cdf.append(min(acc, 1.0))
    return cdf


def binomial_limit(n: int, p0: float, p: float, *, _cdf: list[float] | None = None) -> float:
    """The exact ``p``-quantile limit (a proportion in [0, 1]) of Spiegelhalter's appendix A.1."""
    if n <= 0:
        raise ValueError("a limit needs a denominator of at least 1")
    cdf = _cdf if _cdf is not None else _binomial_cdf_table(n, p0)
    r = next(i for i, c in enumerate(cdf) if c >= p - 1e-12)
    below = cdf[r - 1] if r > 0 else 0.0
    step = cdf[r] - below
    alpha = (cdf[r] - p) / step if step > 0 else 0.0
    return min(max((r - alpha) / n, 0.0), 1.0)


def normal_limit(n: int, p0: float, z: float) -> float:
    """``p0 + z * sqrt(p0 (1 - p0) / n)``, clipped to [0, 1]."""
    if n <= 0:
        raise ValueError("a limit needs a denominator of at least 1")
    return min(max(p0 + z * math.sqrt(p0 * (1.0 - p0) / n), 0.0), 1.0)


@dataclass(frozen=True)
class FunnelLimits:
    """Control limits (proportions) at one denominator."""

    n: int
    lower95: float
    upper95: float
    lower998: float
    upper998: float

    def band(self, proportion: float) -> str:
        """Where a practice's proportion falls: 'within', 'outside 95%' or 'outside 99.8%'."""
        if proportion < self.lower998 or proportion > self.upper998:
            return "outside 99.8%"
        if proportion < self.lower95 or proportion > self.upper95:
            return "outside 95%"
        return "within"


def funnel_limits(n: int, p0: float, *, method: str = "exact") -> FunnelLimits:
    """95% and 99.8% limits around target ``p0`` for denominator ``n`` (method exact | normal)."""
    if method == "normal":
        return FunnelLimits(
            n,
            normal_limit(n, p0, -Z[0.95]),
            normal_limit(n, p0, Z[0.95]),
            normal_limit(n, p0, -Z[0.998]),
            normal_limit(n, p0, Z[0.998]),
        )
    if method != "exact":
        raise ValueError(f"unknown method {method!r}")
    cdf = _binomial_cdf_table(n, p0)
    return FunnelLimits(
        n,
        binomial_limit(n, p0, 0.025, _cdf=cdf),
        binomial_limit(n, p0, 0.975, _cdf=cdf),
        binomial_limit(n, p0, 0.001, _cdf=cdf),
        binomial_limit(n, p0, 0.999, _cdf=cdf),
    )


def binomial_band(r: int, n: int, p0: float) -> str:
    """Classify an observed count ``r`` of ``n`` by its exact binomial tails under ``p0``.

    The interpolated limits are for drawing smooth curves; near a discrete step a point can sit
    just beyond the curve while its tail probability is above 2.5% (e.g. 95/100 against 0.9:
    P(X >= 95) = 5.8%). The tails decide, so the table never calls such a point unusual.
    """
    if n <= 0:
        raise ValueError("a band needs a denominator of at least 1")
    cdf = _binomial_cdf_table(n, p0)
    lower_tail = cdf[r]  # P(X <= r)
    upper_tail = 1.0 - (cdf[r - 1] if r > 0 else 0.0)  # P(X >= r)
    tail = min(lower_tail, upper_tail)
    if tail < 0.001:
        return "outside 99.8%"
    if tail < 0.025:
        return "outside 95%"
    return "within"


class Rag(StrEnum):
    """RAG status with the words shown beside the colour (never colour alone)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"

    @property
    def label(self) -> str:
        return {
            "green": "Meets target",
            "amber": "Near target",
            "red": "Below target",
            "none": "No patients",
        }[self.value]


def rag_status(
    percentage: float | None,
    target: float,
    *,
    lower_is_better: bool = False,
    amber_margin: float = 10.0,
) -> Rag:
    """Green when the target is met, amber within ``amber_margin`` percentage points of it, else red.

    For hazards (safety alerts, possible missed diagnoses) the target is a ceiling: fewer is better.
    """
    if percentage is None:
        return Rag.NONE
    gap = (percentage - target) if lower_is_better else (target - percentage)
    if gap <= 1e-9:
        return Rag.GREEN
    if gap <= amber_margin:
        return Rag.AMBER
    return Rag.RED


class Trend(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    STABLE = "stable"
    UNKNOWN = "not enough data"


def trend(
    percentages: list[float | None],
    *,
    lower_is_better: bool = False,
    window: int = 3,
    threshold: float = 2.0,
) -> Trend:
    """Direction over the last ``window`` months: the latest value against the mean of the
    ``window`` months before it; a move under ``threshold`` points is stable, because a few
    patients either way is noise at practice level."""
    values = [v for v in percentages if v is not None]
    if len(values) < 2:
        return Trend.UNKNOWN
    before = values[-1 - window : -1] or values[:1]
    change = values[-1] - sum(before) / len(before)
    if abs(change) < threshold:
        return Trend.STABLE
    better = change < 0 if lower_is_better else change > 0
    return Trend.IMPROVING if better else Trend.WORSENING
