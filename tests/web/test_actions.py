"""Every domain action: the happy path, the refusals (role, practice, state, scope), and its audit
event."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases import actions
from rxwatch.web.cases.models import CaseStatus, FlagStatus, RecallPolicy
from rxwatch.web.errors import InvalidTransition, PermissionDenied, ScopeError, ValidationFailed
from rxwatch.web.organisations.models import Role
from rxwatch.web.reviews import actions as reviews
from rxwatch.web.reviews.models import Decision, EscalationOutcome

from .factories import MonitoringCaseFactory, PracticeFactory, staff

TODAY = timezone.localdate()


def last_event(action: str | None = None) -> AuditEvent:
    qs = AuditEvent.objects.order_by("-seq")
    if action:
        qs = qs.filter(action=action)
    return qs.first()


def attempt(user, case, outcome="no_answer", **kw):
    return actions.record_contact_attempt(
        user=user, case=case, method="phone", outcome=outcome, **kw
    )


# --- contact attempts and non-responders -----------------------------------------------------------


def test_contact_attempt_moves_case_to_contacting(tech_a, case_a):
    a = attempt(tech_a, case_a, note="rang twice")
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.CONTACTING
    assert a.recorded_by == tech_a and a.note == "rang twice"
    assert last_event().action == "case.contact_attempt"


def test_three_unanswered_attempts_make_a_non_responder(tech_a, case_a):
    t0 = timezone.now() - dt.timedelta(days=14)
    attempt(tech_a, case_a, at=t0)
    attempt(tech_a, case_a, "left_message", at=t0 + dt.timedelta(days=7))
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.CONTACTING
    attempt(tech_a, case_a, at=t0 + dt.timedelta(days=14))
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.NON_RESPONDER
    assert case_a.recommended_prescription_days == 14
    assert case_a.non_responder_at is not None
    event = last_event()
    assert event.action == "case.non_responder" and event.after["automatic"] is True


def test_attempts_outside_the_policy_window_do_not_count(tech_a, case_a, org):
    RecallPolicy.objects.create(
        organisation=org, attempts=3, window_days=21, shortened_prescription_days=7
    )
    t0 = timezone.now() - dt.timedelta(days=40)
    attempt(tech_a, case_a, at=t0)
    attempt(tech_a, case_a, at=t0 + dt.timedelta(days=25))
    attempt(tech_a, case_a, at=t0 + dt.timedelta(days=30))
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.CONTACTING  # only two within 21 days
    attempt(tech_a, case_a, at=t0 + dt.timedelta(days=35))
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.NON_RESPONDER
    assert case_a.recommended_prescription_days == 7


def test_organisation_policy_sets_the_number_of_attempts(tech_a, case_a, org):
    RecallPolicy.objects.create(organisation=org, attempts=2)
    attempt(tech_a, case_a)
    attempt(tech_a, case_a)
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.NON_RESPONDER


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("booked", CaseStatus.BOOKED),
        ("declined", CaseStatus.IN_REVIEW),
        ("moved_away", CaseStatus.IN_REVIEW),
        ("monitored_elsewhere", CaseStatus.IN_REVIEW),
    ],
)
def test_contact_outcomes_route_the_case(tech_a, case_a, outcome, status):
    attempt(tech_a, case_a, outcome)
    case_a.refresh_from_db()
    assert case_a.status == status


def test_contact_attempt_refusals(tech_a, manager_a, gp_a, case_a, case_b):
    with pytest.raises(PermissionDenied, match="access to this practice"):
        attempt(tech_a, case_b)
    for user in (manager_a, gp_a):
        with pytest.raises(PermissionDenied, match="technician or clinical pharmacist"):
            attempt(user, case_a)
    with pytest.raises(ValidationFailed):
        actions.record_contact_attempt(
            user=tech_a, case=case_a, method="pigeon", outcome="no_answer"
        )
    case_a.status = CaseStatus.CLOSED
    case_a.save()
    with pytest.raises(InvalidTransition, match="closed"):
        attempt(tech_a, case_a)
    assert not AuditEvent.objects.filter(action="case.contact_attempt").exists()


def test_inactive_user_is_refused(tech_a, case_a):
    tech_a.is_active = False
    tech_a.save()
    with pytest.raises(PermissionDenied):
        attempt(tech_a, case_a)


def test_manual_non_responder(tech_a, case_a):
    with pytest.raises(ValidationFailed, match="at least one contact attempt"):
        actions.mark_non_responder(user=tech_a, case=case_a, note="no phone number")
    attempt(tech_a, case_a, "left_message")
    with pytest.raises(ValidationFailed, match="note"):
        actions.mark_non_responder(user=tech_a, case=case_a, note=" ")
    actions.mark_non_responder(user=tech_a, case=case_a, note="letters returned")
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.NON_RESPONDER
    assert last_event().after["automatic"] is False


# --- bookings -------------------------------------------------------------------------------------


def test_book_bloods(tech_a, case_a):
    booking = actions.book_bloods(
        user=tech_a,
        case=case_a,
        date=TODAY + dt.timedelta(days=3),
        location="Phlebotomy, Alpha Surgery",
    )
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.BOOKED and booking.booked_by == tech_a
    assert last_event().after["booking"]["location"] == "Phlebotomy, Alpha Surgery"


def test_booking_resets_the_recall_count(tech_a, case_a):
    attempt(tech_a, case_a)
    attempt(tech_a, case_a)
    actions.book_bloods(user=tech_a, case=case_a, date=TODAY, location="Hospital")
    attempt(tech_a, case_a)  # did not attend: the count starts again after the booking
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.CONTACTING


def test_booking_refusals(tech_a, manager_a, case_a, case_b):
    with pytest.raises(ValidationFailed, match="past"):
        actions.book_bloods(
            user=tech_a, case=case_a, date=TODAY - dt.timedelta(days=1), location="x"
        )
    with pytest.raises(ValidationFailed):
        actions.book_bloods(user=tech_a, case=case_a, date=TODAY, location="")
    with pytest.raises(PermissionDenied):
        actions.book_bloods(user=tech_a, case=case_b, date=TODAY, location="x")
    with pytest.raises(PermissionDenied):
        actions.book_bloods(user=manager_a, case=case_a, date=TODAY, location="x")


# --- review, scope of practice, sign-off ----------------------------------------------------------


@pytest.fixture
def oor_case(practice_a):
    return MonitoringCaseFactory(
        practice=practice_a,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="methotrexate.fbc",
        drug_group="dmard",
        last_value=3.1,
        days_overdue=None,
    )


def test_review_inside_scope_then_sign_off_closes_the_case(pharm_a, oor_case, org):
    review = reviews.record_review(
        user=pharm_a, case=oor_case, decision=Decision.DOSE_ADJUSTED, note="reduced to 10 mg weekly"
    )
    oor_case.refresh_from_db()
    assert oor_case.status == CaseStatus.IN_REVIEW and review.dose_change
    assert (review.flag_status, review.last_value) == ("out_of_range", 3.1)
    signoff = reviews.sign_off(user=pharm_a, case=oor_case, note="ok")
    oor_case.refresh_from_db()
    assert oor_case.status == CaseStatus.CLOSED
    assert oor_case.closed_reason == "Reviewed and signed off: dose adjusted"
    assert oor_case.closed_by == pharm_a
    assert oor_case.covered_until == signoff.signed_at.date() + dt.timedelta(days=28)
    assert [e.action for e in AuditEvent.objects.order_by("seq")][-2:] == [
        "case.review",
        "case.signed_off",
    ]


def test_dose_change_outside_scope_is_refused_then_escalated(pharm_a, gp_a, lithium_a):
    with pytest.raises(ScopeError, match="outside your scope of practice"):
        reviews.record_review(
            user=pharm_a, case=lithium_a, decision=Decision.DOSE_ADJUSTED, note="reduce dose"
        )
    with pytest.raises(ScopeError):
        reviews.record_review(
            user=pharm_a, case=lithium_a, decision=Decision.CONTINUE, dose_change=True
        )
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.OPEN and not lithium_a.reviews.exists()
    # decisions that change no dose stay within any pharmacist's remit
    escalation = reviews.escalate_to_gp(
        user=pharm_a, case=lithium_a, note="level 1.3: dose change needed, outside my scope"
    )
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.ESCALATED
    assert escalation.review.decision == Decision.ESCALATE_TO_GP
    assert last_event().action == "case.escalated"
    # a GP has no scope limit
    reviews.gp_decide(
        user=gp_a,
        escalation=escalation,
        decision=Decision.DOSE_ADJUSTED,
        note="reduced to 400 mg",
        close=True,
    )
    lithium_a.refresh_from_db()
    escalation.refresh_from_db()
    assert lithium_a.status == CaseStatus.CLOSED
    assert lithium_a.closed_reason == "Closed by GP: dose adjusted"
    assert lithium_a.closed_by == gp_a
    assert escalation.outcome == EscalationOutcome.CLOSED and escalation.decided_by == gp_a


def test_gp_can_return_a_case_to_the_pharmacist(pharm_a, gp_a, lithium_a):
    escalation = reviews.escalate_to_gp(user=pharm_a, case=lithium_a, note="please advise")
    reviews.gp_decide(
        user=gp_a,
        escalation=escalation,
        decision=Decision.CONTINUE,
        note="continue, repeat level in 1 week",
        close=False,
    )
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.IN_REVIEW and lithium_a.closed_by is None
    with pytest.raises(InvalidTransition, match="Record a review"):
        reviews.sign_off(user=pharm_a, case=lithium_a)
    reviews.record_review(user=pharm_a, case=lithium_a, decision=Decision.CONTINUE)
    reviews.sign_off(user=pharm_a, case=lithium_a)
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.CLOSED and lithium_a.closed_by == pharm_a
    with pytest.raises(InvalidTransition, match="already been decided"):
        reviews.gp_decide(
            user=gp_a, escalation=escalation, decision=Decision.CONTINUE, note="again", close=True
        )


def test_review_refusals(tech_a, pharm_a, gp_a, oor_case, case_b):
    with pytest.raises(PermissionDenied, match="clinical pharmacist"):
        reviews.record_review(user=tech_a, case=oor_case, decision=Decision.CONTINUE)
    with pytest.raises(PermissionDenied, match="clinical pharmacist"):
        reviews.record_review(user=gp_a, case=oor_case, decision=Decision.CONTINUE)
    with pytest.raises(PermissionDenied, match="access"):
        reviews.record_review(user=pharm_a, case=case_b, decision=Decision.CONTINUE)
    with pytest.raises(ValidationFailed, match="note"):
        reviews.record_review(user=pharm_a, case=oor_case, decision=Decision.TREATMENT_PAUSED)
    with pytest.raises(ValidationFailed):
        reviews.record_review(user=pharm_a, case=oor_case, decision="shrug")
    with pytest.raises(InvalidTransition):
        reviews.sign_off(user=pharm_a, case=oor_case)  # nothing reviewed yet
    reviews.record_review(user=pharm_a, case=oor_case, decision=Decision.CONTINUE)
    with pytest.raises(PermissionDenied):
        reviews.sign_off(user=tech_a, case=oor_case)
    reviews.sign_off(user=pharm_a, case=oor_case)
    with pytest.raises(InvalidTransition):
        reviews.sign_off(user=pharm_a, case=oor_case)
    with pytest.raises(InvalidTransition):
        reviews.record_review(user=pharm_a, case=oor_case, decision=Decision.CONTINUE)


def test_escalated_case_waits_for_the_gp(pharm_a, tech_a, oor_case):
    reviews.escalate_to_gp(user=pharm_a, case=oor_case, note="please review")
    with pytest.raises(InvalidTransition, match="escalated"):
        reviews.record_review(user=pharm_a, case=oor_case, decision=Decision.CONTINUE)
    with pytest.raises(InvalidTransition):
        attempt(tech_a, oor_case)
    with pytest.raises(ValidationFailed, match="note"):
        reviews.escalate_to_gp(user=pharm_a, case=oor_case, note="")


def test_gp_decision_refusals(pharm_a, gp_a, tech_a, oor_case, practice_b):
    escalation = reviews.escalate_to_gp(user=pharm_a, case=oor_case, note="please review")
    for user in (pharm_a, tech_a):
        with pytest.raises(PermissionDenied, match="GP"):
            reviews.gp_decide(
                user=user, escalation=escalation, decision=Decision.CONTINUE, note="x", close=True
            )
    gp_b = staff(Role.GP, practice_b)
    with pytest.raises(PermissionDenied, match="access"):
        reviews.gp_decide(
            user=gp_b, escalation=escalation, decision=Decision.CONTINUE, note="x", close=True
        )
    with pytest.raises(ValidationFailed):
        reviews.gp_decide(
            user=gp_a, escalation=escalation, decision=Decision.ESCALATE_TO_GP, note="x", close=True
        )
    with pytest.raises(ValidationFailed):
        reviews.gp_decide(
            user=gp_a, escalation=escalation, decision=Decision.CONTINUE, note="", close=True
        )


def test_hub_pharmacist_acts_on_every_practice_of_the_organisation(org, case_a, case_b):
    hub_pharmacist = staff(Role.PHARMACIST, organisation=org, scope=("dmard",))
    for case in (case_a, case_b):
        reviews.record_review(user=hub_pharmacist, case=case, decision=Decision.CONTINUE)
    assert last_event().actor_role == "pharmacist"


def test_practice_of_another_organisation_is_invisible_to_a_hub(hub_lead, pharm_a):
    other = PracticeFactory(ods_code="Z99999")
    case = MonitoringCaseFactory(practice=other)
    hub_pharmacist = staff(Role.PHARMACIST, organisation=hub_lead.memberships.get().organisation)
    with pytest.raises(PermissionDenied, match="access"):
        reviews.record_review(user=hub_pharmacist, case=case, decision=Decision.CONTINUE)


# --- suppression ---------------------------------------------------------------------------------


def test_suppression_by_a_pharmacist(pharm_a, case_a):
    review_date = TODAY + dt.timedelta(days=180)
    s = actions.suppress_case(
        user=pharm_a,
        case=case_a,
        reason="monitored_elsewhere",
        review_date=review_date,
        note="hospital rheumatology monitors",
    )
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.SUPPRESSED and s.suppressed_by == pharm_a
    assert case_a.closed_by == pharm_a
    assert review_date.isoformat() in case_a.closed_reason
    assert last_event().after["suppression"]["reason"] == "monitored_elsewhere"


def test_suppression_refusals(tech_a, pharm_a, case_a, case_b):
    later = TODAY + dt.timedelta(days=30)
    with pytest.raises(PermissionDenied, match="clinical pharmacist"):
        actions.suppress_case(user=tech_a, case=case_a, reason="not_applicable", review_date=later)
    with pytest.raises(PermissionDenied, match="access"):
        actions.suppress_case(user=pharm_a, case=case_b, reason="not_applicable", review_date=later)
    with pytest.raises(ValidationFailed, match="future"):
        actions.suppress_case(user=pharm_a, case=case_a, reason="not_applicable", review_date=TODAY)
    with pytest.raises(ValidationFailed, match="within a year"):
        actions.suppress_case(
            user=pharm_a,
            case=case_a,
            reason="not_applicable",
            review_date=TODAY + dt.timedelta(days=400),
        )
    with pytest.raises(ValidationFailed):
        actions.suppress_case(user=pharm_a, case=case_a, reason="bored", review_date=later)
    actions.suppress_case(user=pharm_a, case=case_a, reason="not_applicable", review_date=later)
    with pytest.raises(InvalidTransition):
        actions.suppress_case(user=pharm_a, case=case_a, reason="not_applicable", review_date=later)


# --- audited views -------------------------------------------------------------------------------


def test_viewing_a_case_is_audited(manager_a, case_a):
    actions.record_view(user=manager_a, what="case", obj=case_a)
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        "viewed.case",
        "case",
        str(case_a.pk),
    )
    assert event.actor_role == "practice_manager" and event.practice_ods == "A81001"


def test_viewing_another_practices_case_is_refused_and_not_recorded(manager_a, case_b):
    with pytest.raises(PermissionDenied):
        actions.record_view(user=manager_a, what="case", obj=case_b)
    assert not AuditEvent.objects.filter(action="viewed.case").exists()


def test_viewing_a_worklist_is_audited(tech_a):
    actions.record_view(user=tech_a, what="worklist", detail={"count": 3, "shown": [1, 2, 3]})
    event = last_event()
    assert event.action == "viewed.worklist" and event.after["shown"] == [1, 2, 3]
