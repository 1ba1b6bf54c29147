"""Pharmacist and GP actions: review, sign-off, escalation, GP decision.

Scope of practice is enforced here: a dose change in a drug group outside the pharmacist's scope is
refused with ``ScopeError`` and the case must be escalated to a GP (``escalate_to_gp``).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from rxwatch.web.cases import state
from rxwatch.web.cases.models import ACTIVE_STATUSES, CaseStatus, MonitoringCase, RecallPolicy
from rxwatch.web.errors import InvalidTransition, ScopeError, ValidationFailed
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import User
from rxwatch.web.reviews.models import (
    DOSE_CHANGING,
    GP_DECISIONS,
    Decision,
    Escalation,
    EscalationOutcome,
    Review,
    SignOff,
)

REVIEWABLE = tuple(s for s in ACTIVE_STATUSES if s != CaseStatus.ESCALATED)


def record_review(
    *,
    user: User,
    case: MonitoringCase,
    decision: str,
    note: str = "",
    dose_change: bool = False,
    at: dt.datetime | None = None,
) -> Review:
    """Record a pharmacist's decision. The case waits for sign-off (``in_review``), or, for
    ``escalate_to_gp``, goes to the GP queue. A note is required for anything but "continue"."""
    at = state.now(at)
    state.require_choice(decision, Decision, "decision")
    dose_change = dose_change or decision in DOSE_CHANGING
    if decision != Decision.CONTINUE:
        note = state.require_text(note, "a note")
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(
            user, case.practice, access.REVIEW_ROLES, doing="record a review"
        )
        state.require_status(case, REVIEWABLE, doing="record a review")
        if dose_change and not access.in_scope(user, case.drug_group):
            raise ScopeError(
                f"A dose change for {case.drug_group} is outside your scope of practice: "
                "escalate the case to a GP."
            )
        before = state.snapshot(case)
        review = Review.objects.create(
            case=case,
            decision=decision,
            note=note.strip(),
            dose_change=dose_change,
            flag_status=case.flag_status,
            last_date=case.last_date,
            last_value=case.last_value,
            reviewed_at=at,
            reviewer=user,
        )
        after_review = {
            "id": review.pk,
            "decision": decision,
            "dose_change": dose_change,
            "note": review.note,
            "evidence": case.evidence(),
        }
        if decision == Decision.ESCALATE_TO_GP:
            escalation = Escalation.objects.create(
                case=case, review=review, note=review.note, escalated_at=at, escalated_by=user
            )
            state.set_status(case, CaseStatus.ESCALATED, at)
            state.audit_case(
                case,
                action="case.escalated",
                user=user,
                role=role,
                before=before,
                at=at,
                after={
                    **state.snapshot(case),
                    "review": after_review,
                    "escalation": {"id": escalation.pk},
                },
            )
        else:
            if case.status != CaseStatus.IN_REVIEW:
                state.set_status(case, CaseStatus.IN_REVIEW, at)
            state.audit_case(
                case,
                action="case.review",
                user=user,
                role=role,
                before=before,
                at=at,
                after={**state.snapshot(case), "review": after_review},
            )
    return review


def escalate_to_gp(
    *, user: User, case: MonitoringCase, note: str, at: dt.datetime | None = None
) -> Escalation:
    """Hand the case to a GP (e.g. after a dose change was refused as outside scope)."""
    review = record_review(user=user, case=case, decision=Decision.ESCALATE_TO_GP, note=note, at=at)
    return review.escalation


def sign_off(
    *, user: User, case: MonitoringCase, note: str = "", at: dt.datetime | None = None
) -> SignOff:
    """Sign off the latest review and close the case. The decision covers the evidence it was made
    on for the organisation's ``decision_cover_days``: a search in that time that still shows the
    same result does not reopen it; a new result does."""
    at = state.now(at)
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(user, case.practice, access.REVIEW_ROLES, doing="sign off")
        state.require_status(case, (CaseStatus.IN_REVIEW,), doing="sign off")
        review = case.reviews.order_by("-reviewed_at", "-id").first()
        if review is None or review.decision == Decision.ESCALATE_TO_GP:
            raise InvalidTransition("Record a review decision before signing off.")
        if SignOff.objects.filter(review=review).exists():
            raise InvalidTransition("This review is already signed off.")
        before = state.snapshot(case)
        signoff = SignOff.objects.create(
            case=case, review=review, note=note.strip(), signed_at=at, signed_by=user
        )
        policy = RecallPolicy.for_organisation(case.practice.organisation_id)
        state.set_status(
            case,
            CaseStatus.CLOSED,
            at,
            closed_at=at,
            closed_by=user,
            closed_reason=f"Reviewed and signed off: {Decision(review.decision).label.lower()}",
            covered_until=timezone.localdate(at) + dt.timedelta(days=policy.decision_cover_days),
        )
        state.audit_case(
            case,
            action="case.signed_off",
            user=user,
            role=role,
            before=before,
            at=at,
            after={
                **state.snapshot(case),
                "sign_off": {"id": signoff.pk, "review": review.pk, "note": signoff.note},
            },
        )
    return signoff


def gp_decide(
    *,
    user: User,
    escalation: Escalation,
    decision: str,
    note: str,
    close: bool,
    at: dt.datetime | None = None,
) -> Escalation:
    """A GP's decision on an escalation: close the case, or return it to the pharmacist queue."""
    at = state.now(at)
    if decision not in GP_DECISIONS:
        raise ValidationFailed(f"decision must be one of: {', '.join(GP_DECISIONS)}")
    note = state.require_text(note, "a note")
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
        case = state.lock(escalation.case)
        role = access.require_role(
            user, case.practice, access.GP_ROLES, doing="decide on an escalation"
        )
        if escalation.decided_at is not None:
            raise InvalidTransition("This escalation has already been decided.")
        state.require_status(case, (CaseStatus.ESCALATED,), doing="record a GP decision")
        before = state.snapshot(case)
        escalation.gp_decision = decision
        escalation.gp_note = note
        escalation.outcome = EscalationOutcome.CLOSED if close else EscalationOutcome.RETURNED
        escalation.decided_at = at
        escalation.decided_by = user
        escalation.save()
        if close:
            policy = RecallPolicy.for_organisation(case.practice.organisation_id)
            state.set_status(
                case,
                CaseStatus.CLOSED,
                at,
                closed_at=at,
                closed_by=user,
                closed_reason=f"Closed by GP: {Decision(decision).label.lower()}",
                covered_until=timezone.localdate(at)
                + dt.timedelta(days=policy.decision_cover_days),
            )
        else:
            state.set_status(case, CaseStatus.IN_REVIEW, at)
        state.audit_case(
            case,
            action="escalation.decided",
            user=user,
            role=role,
            before=before,
            at=at,
            after={
                **state.snapshot(case),
                "escalation": {
                    "id": escalation.pk,
                    "decision": decision,
                    "note": note,
                    "outcome": escalation.outcome,
                },
            },
        )
    return escalation
