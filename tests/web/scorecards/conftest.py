"""Scorecard fixtures: search runs with indicator counts for practices A and B over a year."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.cases.models import IndicatorCount, SearchRun
from rxwatch.web.scorecards import services
from rxwatch.web.scorecards.services import add_months, month_end

MONTH = dt.date(2026, 6, 1)
# indicator → (numerator, denominator) for A and B in the last month; earlier months drift
COUNTS = {
    "methotrexate.fbc": {"A81001": (40, 50), "B82002": (95, 100)},
    "lithium.level": {"A81001": (9, 10), "B82002": (18, 20)},
    "pincer.gi_p3a": {"A81001": (6, 30), "B82002": (1, 40)},
}


def make_run(as_of: dt.date, counts: dict[str, dict[str, tuple[int, int]]]) -> SearchRun:
    run = SearchRun.objects.create(
        as_of=as_of, started_at=timezone.now(), finished_at=timezone.now(), backend="duckdb"
    )
    IndicatorCount.objects.bulk_create(
        IndicatorCount(run=run, practice_ods=p, indicator_id=i, numerator=n, denominator=d)
        for i, per in counts.items()
        for p, (n, d) in per.items()
    )
    return run


@pytest.fixture
def year_of_runs(practice_a, practice_b):
    """Two weekly runs per month for 12 months; the month-end one carries the month's counts (the
    mid-month one is deliberately different, to prove the month-end snapshot is used)."""
    for i in range(12):
        month = add_months(MONTH, i - 11)
        back = 11 - i  # months before MONTH
        counts = {
            ind: {p: (max(n - back, 0), d) for p, (n, d) in per.items()}
            for ind, per in COUNTS.items()
        }
        make_run(month.replace(day=10), {k: {p: (0, 1) for p in v} for k, v in counts.items()})
        make_run(month_end(month) - dt.timedelta(days=2), counts)
    return MONTH


@pytest.fixture
def fresh_catalogue(monkeypatch):
    """The indicator catalogue read again, with no organisation codelists (valproate-ppp and
    secondary-care-monitoring unsupplied)."""
    monkeypatch.delenv("RXWATCH_CODELISTS", raising=False)
    services.indicator_catalogue.cache_clear()
    yield
    services.indicator_catalogue.cache_clear()


@pytest.fixture
def valproate(year_of_runs):
    """valproate.ppp at 100% for both practices in June: more practices below target than any."""
    make_run(
        dt.date(2026, 6, 29),
        {
            "valproate.ppp": {"A81001": (4, 4), "B82002": (3, 3)},
            "pincer.gi_p3a": {"A81001": (6, 30), "B82002": (1, 40)},
        },
    )
    return year_of_runs
