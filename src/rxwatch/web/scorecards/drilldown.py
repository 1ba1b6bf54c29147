"""The patients behind a scorecard cell: the cases the month-end search had flagged for that rule at
that practice. Reads start from ``MonitoringCase.objects.visible_to(user)``, so a practice the user
cannot see yields nothing (the view turns that into a 404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from rxwatch.web.cases.models import CaseObservation, FlagStatus, MonitoringCase
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import Practice, User
from rxwatch.web.scorecards.services import (
    Cell,
    Indicator,
    Targets,
    indicator,
    month_start,
    snapshots,
)


@dataclass
class DrillDown:
    practice: Practice
    indicator: Indicator
    cell: Cell | None
    as_of: dt.date | None
    cases: list[MonitoringCase]
    held: list[MonitoringCase] = field(default_factory=list)


def practice_for(user: User, ods: str) -> Practice | None:
    return (
        access.visible_practices(user).select_related("organisation").filter(ods_code=ods).first()
    )


def flagged_cases(
    user: User, practice: Practice, indicator_id: str, as_of: dt.date
) -> QuerySet[MonitoringCase]:
    """Cases of (practice, rule) that the search as of ``as_of`` flagged: first flagged on or
    before that date and still flagged by a run on or after it."""
    return (
        MonitoringCase.objects.visible_to(user)
        .filter(
            practice=practice,
            rule_id=indicator_id,
            first_flagged_run__as_of__lte=as_of,
            last_seen_run__as_of__gte=as_of,
        )
        .select_related("practice", "first_flagged_run", "last_seen_run")
        .by_priority()
    )


def held_cases(
    user: User, practice: Practice, indicator_id: str, as_of: dt.date
) -> QuerySet[MonitoringCase]:
    """Cases that, on ``as_of``, held the flag without an open case: closed by a signed-off
    decision still covering it, or suppressed until a review date after it. The search still
    counts these patients; the practice has decided about them."""
    return (
        MonitoringCase.objects.visible_to(user)
        .filter(practice=practice, rule_id=indicator_id, first_flagged_run__as_of__lte=as_of)
        .filter(
            Q(closed_at__date__lte=as_of, covered_until__gte=as_of)
            | Q(suppression__suppressed_at__date__lte=as_of, suppression__review_date__gte=as_of)
        )
        .select_related("practice")
        .order_by("patient_id", "id")
    )


def drill_down(user: User, practice: Practice, indicator_id: str, month: dt.date) -> DrillDown:
    """The month's cell and its cases, each with what the search said on the snapshot date."""
    ind = indicator(indicator_id)
    count = snapshots([month_start(month)], [practice.ods_code]).get(
        (practice.ods_code, indicator_id, month_start(month))
    )
    if count is None:
        return DrillDown(practice, ind, None, None, [])
    target = Targets(practice.organisation).for_indicator(ind)
    cell = Cell(practice.ods_code, ind, month, count, target)
    cases = list(flagged_cases(user, practice, indicator_id, count.as_of))
    # the flag status on the snapshot date: the latest observation up to then
    status: dict[int, str] = {}
    for case_id, flag in (
        CaseObservation.objects.filter(case__in=cases, run__as_of__lte=count.as_of)
        .order_by("case_id", "run__as_of", "id")
        .values_list("case_id", "flag_status")
    ):
        status[case_id] = flag
    for c in cases:
        c.flag_then = status.get(c.pk, c.flag_status)
        c.flag_then_label = FlagStatus(c.flag_then).label
    if ind.kind == "monitoring":
        # the engine's numerator is "not overdue": due soon and out of range (tested in date, the
        # result needs review) count as in date, so only overdue patients are behind the figure
        cases = [c for c in cases if c.flag_then == FlagStatus.OVERDUE]
    held = list(held_cases(user, practice, indicator_id, count.as_of))
    return DrillDown(practice, ind, cell, count.as_of, cases, held)
