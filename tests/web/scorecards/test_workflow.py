"""Workflow measures by member of staff: each closure counts for whoever closed the case, and the
weekly search's closures for the weekly search."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.cases.models import FlagStatus
from rxwatch.web.cases.sync import APPLIES, sync_search_run
from rxwatch.web.reviews import actions as reviews
from rxwatch.web.reviews.models import Decision
from rxwatch.web.scorecards import workflow

from ..factories import MonitoringCaseFactory
from ..searchresults import RULES, result

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2026, 11, 1)


def at(day: int, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, 11, day, hour))


@pytest.fixture
def closures(practice_a, pharm_a, gp_a):
    """Three cases of practice A closed in November: signed off by the pharmacist, closed by the
    GP on an escalation, and found done by the weekly search."""
    case = MonitoringCaseFactory(
        practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE, opened_at=at(2)
    )
    reviews.record_review(user=pharm_a, case=case, decision=Decision.CONTINUE, at=at(10))
    reviews.sign_off(user=pharm_a, case=case, at=at(10, 10))
    escalated = MonitoringCaseFactory(
        practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE, opened_at=at(2)
    )
    escalation = reviews.escalate_to_gp(user=pharm_a, case=escalated, note="advise", at=at(11))
    reviews.gp_decide(
        user=gp_a,
        escalation=escalation,
        decision=Decision.CONTINUE,
        note="continue",
        close=True,
        at=at(12),
    )
    MonitoringCaseFactory(practice=practice_a, opened_at=at(2))
    sync_search_run(
        result=result(dt.date(2026, 11, 23), [], ("A81001",)),
        rules=RULES,
        in_population=lambda keys: dict.fromkeys(keys, APPLIES),
        at=at(23, 6),
    )


def test_closures_count_for_who_closed_the_case(practice_a, pharm_a, gp_a, closures):
    by_practice, by_staff = workflow.workflow_measures([practice_a], NOVEMBER)
    closed = {m.label: m.closed for m in by_staff}
    assert closed == {
        pharm_a.display_name: 1,
        gp_a.display_name: 1,
        workflow.WEEKLY_SEARCH: 1,
    }
    assert by_staff[-1].label == workflow.WEEKLY_SEARCH  # after the people
    assert sum(closed.values()) == by_practice[0].closed == 3
    pharmacist = next(m for m in by_staff if m.label == pharm_a.display_name)
    assert (pharmacist.reviews, pharmacist.signed_off, pharmacist.escalations) == (2, 1, 1)
    # another month: nobody closed anything
    _, october = workflow.workflow_measures([practice_a], dt.date(2026, 10, 1))
    assert october == []


def test_workflow_page_shows_closures_by_person_and_by_the_search(client, hub_lead, gp_a, closures):
    client.force_login(hub_lead)
    body = client.get("/scorecards/workflow/?month=2026-11").content.decode()
    staff = body.split('data-testid="workflow-staff"')[1].split("</table>")[0]
    assert "Cases closed" in staff
    assert workflow.WEEKLY_SEARCH in staff and gp_a.display_name in staff
