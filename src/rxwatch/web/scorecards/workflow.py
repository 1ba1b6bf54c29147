"""Workflow measures beside the clinical ones: what the team did in a month, by practice and by
member of staff. Counts come from the workflow store's own records (cases, contact attempts,
reviews, sign-offs, escalations), the same rows the case timelines show. A closure counts for the
person who closed the case (a sign-off, a GP's decision) or, when a search found the monitoring
done, for the weekly search: the staff rows' closures add up to the practices'."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from rxwatch.web.cases.models import ACTIVE_STATUSES, CaseStatus, ContactAttempt, MonitoringCase
from rxwatch.web.organisations.models import Practice
from rxwatch.web.reviews.models import Escalation, Review, SignOff
from rxwatch.web.scorecards.services import add_months, month_start


@dataclass
class Measures:
    label: str
    open_cases: int = 0
    closed: int = 0
    days_to_close: list[int] = field(default_factory=list)
    attempts: int = 0
    cases_contacted: int = 0
    non_responders: int = 0
    reviews: int = 0
    signed_off: int = 0
    escalations: int = 0

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_close) if self.days_to_close else None

    @property
    def attempts_per_case(self) -> float | None:
        return self.attempts / self.cases_contacted if self.cases_contacted else None

    @property
    def non_responder_rate(self) -> float | None:
        """Cases that became non-responders, per 100 cases contacted in the month."""
        return 100.0 * self.non_responders / self.cases_contacted if self.cases_contacted else None


def _window(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(month_start(month), dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(add_months(month_start(month), 1), dt.time.min, tzinfo=tz)
    return start, end


WEEKLY_SEARCH = "Weekly search"  # the row for closures no person made


def workflow_measures(
    practices: Sequence[Practice], month: dt.date
) -> tuple[list[Measures], list[Measures]]:
    """(by practice, by member of staff) for ``month``. Open cases are as at the month's end
    (opened before it ends, not closed by then)."""
    start, end = _window(month)
    ids = [p.pk for p in practices]
    by_practice = {p.pk: Measures(f"{p.name} ({p.ods_code})") for p in practices}
    staff: dict[str, Measures] = defaultdict(lambda: Measures(""))

    search = Measures(WEEKLY_SEARCH)

    cases = MonitoringCase.objects.filter(practice_id__in=ids, opened_at__lt=end)
    for pid, status, closed_at in cases.values_list("practice_id", "status", "closed_at"):
        if status in ACTIVE_STATUSES or (closed_at is not None and closed_at >= end):
            by_practice[pid].open_cases += 1
    for c in cases.filter(
        status=CaseStatus.CLOSED, closed_at__gte=start, closed_at__lt=end
    ).select_related("closed_by"):
        days = (c.closed_at - c.opened_at).days
        by_practice[c.practice_id].closed += 1
        by_practice[c.practice_id].days_to_close.append(days)
        if c.closed_by_id is not None:
            closer = staff[c.closed_by.display_name]
        elif c.closed_by_run_id is not None:
            closer = search
        else:
            continue  # closed before closures were attributed, by no action that says who
        closer.closed += 1
        closer.days_to_close.append(days)
    for pid, _ in MonitoringCase.objects.filter(
        practice_id__in=ids, non_responder_at__gte=start, non_responder_at__lt=end
    ).values_list("practice_id", "id"):
        by_practice[pid].non_responders += 1

    contacted: dict[int, set[int]] = defaultdict(set)
    per_person_cases: dict[str, set[int]] = defaultdict(set)
    for a in ContactAttempt.objects.filter(
        case__practice_id__in=ids, attempted_at__gte=start, attempted_at__lt=end
    ).select_related("recorded_by", "case"):
        m = by_practice[a.case.practice_id]
        m.attempts += 1
        contacted[a.case.practice_id].add(a.case_id)
        staff[a.recorded_by.display_name].attempts += 1
        per_person_cases[a.recorded_by.display_name].add(a.case_id)
    for pid, case_ids in contacted.items():
        by_practice[pid].cases_contacted = len(case_ids)
    for name, case_ids in per_person_cases.items():
        staff[name].cases_contacted = len(case_ids)

    for r in Review.objects.filter(
        case__practice_id__in=ids, reviewed_at__gte=start, reviewed_at__lt=end
    ).select_related("reviewer", "case"):
        by_practice[r.case.practice_id].reviews += 1
        staff[r.reviewer.display_name].reviews += 1
    for s in SignOff.objects.filter(
        case__practice_id__in=ids, signed_at__gte=start, signed_at__lt=end
    ).select_related("signed_by", "case"):
        by_practice[s.case.practice_id].signed_off += 1
        staff[s.signed_by.display_name].signed_off += 1
    for e in Escalation.objects.filter(
        case__practice_id__in=ids, escalated_at__gte=start, escalated_at__lt=end
    ).select_related("escalated_by", "case"):
        by_practice[e.case.practice_id].escalations += 1
        staff[e.escalated_by.display_name].escalations += 1

    people = []
    for name, m in sorted(staff.items()):
        m.label = name
        people.append(m)
    if search.closed:
        people.append(search)  # last: not a member of staff
    return list(by_practice.values()), people


def totals(rows: Sequence[Measures], label: str = "All practices") -> Measures:
    out = Measures(label)
    for r in rows:
        for f in (
            "open_cases",
            "closed",
            "attempts",
            "cases_contacted",
            "non_responders",
            "reviews",
            "signed_off",
            "escalations",
        ):
            setattr(out, f, getattr(out, f) + getattr(r, f))
        out.days_to_close += r.days_to_close
    return out


def outstanding(practices: Sequence[Practice]) -> Counter:
    """Actions outstanding now, by case status (for the monthly summary)."""
    return Counter(
        MonitoringCase.objects.filter(
            practice__in=practices, status__in=ACTIVE_STATUSES
        ).values_list("status", flat=True)
    )
