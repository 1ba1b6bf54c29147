"""The read side (``cases.queries``): a case's timeline and the pharmacist's review queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.cases import queries
from rxwatch.web.cases.models import CaseStatus, FlagStatus, ReviewReason
from rxwatch.web.reviews import actions as reviews
from rxwatch.web.reviews.models import Decision

from .factories import MonitoringCaseFactory
from .searchresults import close_by_search

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))


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


# --- the review queue, filtered by reason -----------------------------------------------------------


@pytest.fixture
def queue(practice_a, practice_b):
    """One case in practice A for each way into the review queue, one that is not in it, and an
    out-of-range case in practice B (which pharm_a may not see)."""

    def make(patient_id, practice=practice_a, **kw):
        return MonitoringCaseFactory(practice=practice, patient_id=patient_id, **kw)

    return {
        "out_of_range": make("OOR", flag_status=FlagStatus.OUT_OF_RANGE, days_overdue=None),
        "safety_alert": make("ALERT", flag_status=FlagStatus.SAFETY_ALERT, days_overdue=None),
        "missed_diagnosis": make(
            "MISSED", flag_status=FlagStatus.MISSED_DIAGNOSIS, days_overdue=None
        ),
        "non_responder": make("NONRESP", status=CaseStatus.NON_RESPONDER),
        "in_review": make("DECLINED", status=CaseStatus.IN_REVIEW),
        "recall": make("RECALL"),
        "other_practice": make(
            "B-OOR", practice=practice_b, flag_status=FlagStatus.OUT_OF_RANGE, days_overdue=None
        ),
    }


def _ids(qs) -> set[str]:
    return set(qs.values_list("patient_id", flat=True))


def test_review_queue_without_a_reason_is_the_whole_queue(pharm_a, queue):
    assert _ids(queries.review_queue(pharm_a)) == {
        "OOR",
        "ALERT",
        "MISSED",
        "NONRESP",
        "DECLINED",
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (ReviewReason.OUT_OF_RANGE, {"OOR"}),
        (ReviewReason.NON_RESPONDER, {"NONRESP"}),
        (ReviewReason.SAFETY_ALERT, {"ALERT"}),
        (ReviewReason.MISSED_DIAGNOSIS, {"MISSED"}),
    ],
)
def test_review_queue_filtered_by_reason_stays_in_the_users_practices(
    pharm_a, queue, reason, expected
):
    assert _ids(queries.review_queue(pharm_a, reason=[reason])) == expected


def test_review_queue_reasons_combine_and_an_unknown_one_matches_nothing(pharm_a, hub_lead, queue):
    both = queries.review_queue(pharm_a, reason=["safety_alert", "non_responder"])
    assert _ids(both) == {"ALERT", "NONRESP"}
    # "overdue" is a flag, but not a reason to be in the queue: it must not widen the filter
    assert _ids(queries.review_queue(pharm_a, reason=["overdue"])) == set()
    # a hub role sees both practices, filtered the same way
    assert _ids(queries.review_queue(hub_lead, reason=["out_of_range"])) == {"OOR", "B-OOR"}
    assert _ids(queries.review_queue(hub_lead, reason=["out_of_range"], practice="A81001")) == {
        "OOR"
    }


def test_a_closure_on_the_timeline_names_who_closed_the_case(pharm_a, practice_a):
    signed = MonitoringCaseFactory(practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE)
    reviews.record_review(user=pharm_a, case=signed, decision=Decision.CONTINUE, at=T0)
    reviews.sign_off(user=pharm_a, case=signed, at=T0 + dt.timedelta(minutes=5))
    signed.refresh_from_db()
    closed = queries.timeline(signed)[-1]
    assert (closed.kind, closed.actor) == ("closed", pharm_a.get_full_name())

    by_search = MonitoringCaseFactory(practice=practice_a)
    close_by_search(by_search)
    by_search.refresh_from_db()
    closed = queries.timeline(by_search)[-1]
    assert (closed.kind, closed.actor) == ("closed", "RxWatch search")
