"""Scorecard numbers are the search's indicator counts for the month-end snapshot."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from rxwatch.engine.api import SearchResult
from rxwatch.scorecard import Rag, Trend
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.scorecards import services
from rxwatch.web.scorecards.backfill import backfill, month_ends
from rxwatch.web.scorecards.models import BackfillRun, IndicatorTarget

from ..searchresults import INDICATOR_SCHEMA, RESULT_SCHEMA, SPECIALIST_SCHEMA
from .conftest import COUNTS, MONTH, make_run


def indicators_only(as_of: dt.date, rows: list[tuple]) -> SearchResult:
    cols = ("practice", "indicator_id", "numerator", "denominator")
    return SearchResult(
        as_of=as_of,
        results=RESULT_SCHEMA.empty_table(),
        indicators=pa.Table.from_pylist(
            [dict(zip(cols, r, strict=True)) for r in rows], schema=INDICATOR_SCHEMA
        ),
        specialist_monitored=SPECIALIST_SCHEMA.empty_table(),
        backend="test",
    )


def test_month_helpers():
    assert services.parse_month("2026-06") == dt.date(2026, 6, 1)
    assert services.months_to(dt.date(2026, 2, 1), 3) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]
    assert month_ends(dt.date(2026, 3, 15), 2) == [dt.date(2026, 1, 31), dt.date(2026, 2, 28)]


def test_practice_scorecard_uses_the_last_run_of_the_month(year_of_runs, practice_a):
    card = services.practice_scorecard(practice_a, MONTH)
    assert len(card.months) == 12
    rows = {r.indicator.id: r for r in card.rows}
    assert set(rows) == set(COUNTS)
    mtx = rows["methotrexate.fbc"]
    assert (mtx.current.numerator, mtx.current.denominator) == (40, 50)
    assert mtx.current.percentage == 80.0
    assert mtx.current.count.as_of == dt.date(2026, 6, 28)
    assert mtx.target.text == "≥ 90%" and mtx.current.rag is Rag.AMBER
    assert mtx.previous.numerator == 39 and mtx.change == pytest.approx(2.0)
    assert mtx.trend is Trend.IMPROVING
    assert mtx.current.flagged == 10
    alert = rows["pincer.gi_p3a"]
    assert alert.indicator.lower_is_better and alert.current.rag is Rag.RED  # 20% > 5% + 5
    assert alert.current.flagged == 6
    assert [r.indicator.kind for r in card.rows][:2] == ["monitoring", "monitoring"]


def test_targets_most_specific_wins(year_of_runs, practice_a, org):
    IndicatorTarget.objects.create(
        indicator="monitoring", target=70, amber_margin=5, lower_is_better=False
    )
    IndicatorTarget.objects.create(
        organisation=org, indicator="methotrexate", target=85, amber_margin=2, lower_is_better=False
    )
    rows = {r.indicator.id: r for r in services.practice_scorecard(practice_a, MONTH).rows}
    assert rows["methotrexate.fbc"].target.target == 85
    assert rows["methotrexate.fbc"].current.rag is Rag.RED
    assert rows["lithium.level"].target.target == 70
    assert rows["lithium.level"].current.rag is Rag.GREEN


def test_compare_league_table_and_funnel(year_of_runs, practice_a, practice_b):
    cards = services.practice_scorecards([practice_a, practice_b], MONTH)
    comps = {c.indicator.id: c for c in services.compare(cards)}
    mtx = comps["methotrexate.fbc"]
    assert [c.practice for c in mtx.cells] == ["B82002", "A81001"]  # best first
    assert mtx.overall == pytest.approx(100 * 135 / 150)
    bands = {p.practice.ods_code: p.band for p in mtx.points}
    assert bands["A81001"] == "outside 95%" and bands["B82002"] == "within"
    assert mtx.limits[0].n == 1 and mtx.limits[-1].n == 100
    gi = comps["pincer.gi_p3a"]
    assert [c.practice for c in gi.cells] == ["B82002", "A81001"]  # lower is better


def test_backfill_fills_months_without_weekly_runs(practice_a):
    calls = []

    def search(as_of):
        calls.append(as_of)
        return indicators_only(as_of, [("A81001", "lithium.level", 3, 4)])

    dates = month_ends(dt.date(2026, 7, 3), 3)
    runs = backfill(search=search, as_of_dates=dates)
    assert calls == dates and len(runs) == 3
    assert backfill(search=search, as_of_dates=dates) == []  # idempotent
    assert AuditEvent.objects.filter(action="scorecards.backfilled").count() == 3
    card = services.practice_scorecard(practice_a, MONTH)
    (row,) = card.rows
    assert [c.numerator for c in row.cells[-3:]] == [3, 3, 3]
    assert row.cells[-4].count is None
    assert row.current.count.source == "backfill"
    # a weekly run later in the month takes over that month
    make_run(dt.date(2026, 6, 30), {"lithium.level": {"A81001": (4, 4)}})
    row = services.practice_scorecard(practice_a, MONTH).rows[0]
    assert (row.current.numerator, row.current.count.source) == (4, "search")
    assert row.previous.count.source == "backfill"
    assert BackfillRun.objects.count() == 3
