"""The read side (``cases.queries``): a case's timeline and the pharmacist's review queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.cases import queries
from rxwatch.web.cases.models import FlagStatus
from rxwatch.web.reviews import actions as reviews
from rxwatch.web.reviews.models import Decision

from .factories import MonitoringCaseFactory

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))


@pytest.fixture
def lithium_a(practice_a):
    return MonitoringCaseFactory(
        practice=practice_a,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        last_value=1.3,
        days_overdue=None,
    )


# --- the timeline ---------------------------------------------------------------------------------


def test_an_escalation_appears_once_on_the_timeline(pharm_a, gp_a, lithium_a):
    reviews.escalate_to_gp(user=pharm_a, case=lithium_a, note="level 1.3: please review", at=T0)
    entries = queries.timeline(lithium_a)
    assert [e.kind for e in entries] == ["escalation"]
    assert entries[0].note == "level 1.3: please review"

    reviews.gp_decide(
        user=gp_a,
        escalation=lithium_a.escalations.get(),
        decision=Decision.CONTINUE,
        note="continue; repeat level in a week",
        close=False,
        at=T0 + dt.timedelta(hours=1),
    )
    reviews.record_review(
        user=pharm_a, case=lithium_a, decision=Decision.CONTINUE, at=T0 + dt.timedelta(hours=2)
    )
    kinds = [e.kind for e in queries.timeline(lithium_a)]
    assert kinds == ["escalation", "gp_decision", "review"]
