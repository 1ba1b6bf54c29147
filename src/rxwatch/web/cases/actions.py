"""Recall actions on a monitoring case: contact attempts, bookings, non-responders, suppression, and
audited views.

Each action takes keyword arguments only, the acting user first; checks role, practice access and the
case's state itself; and makes its change and its audit event in one transaction. Views, the API,
commands and the demo call these and nothing else to change a case.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxwatch.web.audit import chain
from rxwatch.web.cases import state
from rxwatch.web.cases.models import (
    ACTIVE_STATUSES,
    PHARMACIST_OUTCOMES,
    RECALL_STATUSES,
    UNSUCCESSFUL_OUTCOMES,
    Booking,
    CaseStatus,
    ContactAttempt,
    ContactMethod,
    ContactOutcome,
    MonitoringCase,
    RecallPolicy,
    Suppression,
    SuppressionReason,
)
from rxwatch.web.errors import PermissionDenied, ValidationFailed
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import Practice, User

MAX_SUPPRESSION_DAYS = 366  # a suppression is looked at again at least yearly


def record_contact_attempt(
    *,
    user: User,
    case: MonitoringCase,
    method: str,
    outcome: str,
    note: str = "",
    at: dt.datetime | None = None,
) -> ContactAttempt:
    """Record one attempt to reach the patient and move the case on.

    Booked → ``booked``; declined, moved away or monitored elsewhere → ``in_review`` (a pharmacist
    decides: suppress, close or act); otherwise ``contacting``, and when the organisation's recall
    procedure is exhausted (by default 3 unanswered attempts within 21 days) the case becomes a
    non-responder in the same transaction.
    """
    at = state.now(at)
    state.require_choice(method, ContactMethod, "method")
    state.require_choice(outcome, ContactOutcome, "outcome")
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(
            user, case.practice, access.RECALL_ROLES, doing="record a contact attempt"
        )
        state.require_status(
            case, (*RECALL_STATUSES, CaseStatus.NON_RESPONDER), doing="record a contact attempt"
        )
        before = state.snapshot(case)
        attempt = ContactAttempt.objects.create(
            case=case,
            method=method,
            outcome=outcome,
            note=note.strip(),
            attempted_at=at,
            recorded_by=user,
        )
        if outcome == ContactOutcome.BOOKED:
            new_status = CaseStatus.BOOKED
        elif outcome in PHARMACIST_OUTCOMES:
            new_status = CaseStatus.IN_REVIEW
        elif case.status == CaseStatus.NON_RESPONDER:
            new_status = CaseStatus.NON_RESPONDER  # further tries do not undo the referral
        else:
            new_status = CaseStatus.CONTACTING
        if new_status != case.status:
            state.set_status(case, new_status, at)
        state.audit_case(
            case,
            action="case.contact_attempt",
            user=user,
            role=role,
            before=before,
            at=at,
            after={
                **state.snapshot(case),
                "contact_attempt": {
                    "id": attempt.pk,
                    "method": method,
                    "outcome": outcome,
                    "note": attempt.note,
                },
            },
        )
        if case.status == CaseStatus.CONTACTING and recall_exhausted(case, at=at):
            _make_non_responder(case, user=user, role=role, at=at, automatic=True, note="")
    return attempt


def recall_exhausted(case: MonitoringCase, *, at: dt.datetime) -> bool:
    """Unanswered attempts within the policy window (and since the last booking) reach the policy's
    number of attempts."""
    policy = RecallPolicy.for_organisation(case.practice.organisation_id)
    since = at - dt.timedelta(days=policy.window_days)
    last_booking = case.bookings.order_by("-booked_at").values_list("booked_at", flat=True).first()
    if last_booking and last_booking > since:
        since = last_booking
    tries = case.contacts.filter(
        outcome__in=UNSUCCESSFUL_OUTCOMES, attempted_at__gt=since, attempted_at__lte=at
    ).count()
    return tries >= policy.attempts


def mark_non_responder(
    *, user: User, case: MonitoringCase, note: str, at: dt.datetime | None = None
) -> MonitoringCase:
    """Mark a case as a non-responder by hand (the procedure does it automatically after the last
    attempt); needs at least one recorded attempt and a note saying why."""
    at = state.now(at)
    note = state.require_text(note, "a note")
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(
            user, case.practice, access.RECALL_ROLES, doing="mark a non-responder"
        )
        state.require_status(case, RECALL_STATUSES, doing="mark the case as a non-responder")
        if not case.contacts.exists():
            raise ValidationFailed("record at least one contact attempt before a non-responder")
        _make_non_responder(case, user=user, role=role, at=at, automatic=False, note=note)
    return case


def _make_non_responder(
    case: MonitoringCase, *, user: User, role: str, at: dt.datetime, automatic: bool, note: str
) -> None:
    policy = RecallPolicy.for_organisation(case.practice.organisation_id)
    before = state.snapshot(case)
    state.set_status(
        case,
        CaseStatus.NON_RESPONDER,
        at,
        non_responder_at=at,
        recommended_prescription_days=policy.shortened_prescription_days,
    )
    state.audit_case(
        case,
        action="case.non_responder",
        user=user,
        role=role,
        before=before,
        at=at,
        after={
            **state.snapshot(case),
            "automatic": automatic,
            "policy": {"attempts": policy.attempts, "window_days": policy.window_days},
            "note": note,
        },
    )


def book_bloods(
    *,
    user: User,
    case: MonitoringCase,
    date: dt.date,
    location: str,
    note: str = "",
    at: dt.datetime | None = None,
) -> Booking:
    """Record the appointment the patient has for their test."""
    at = state.now(at)
    location = state.require_text(location, "where the test is booked")
    if date < timezone.localdate(at):
        raise ValidationFailed("the booking date is in the past")
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(user, case.practice, access.RECALL_ROLES, doing="book bloods")
        state.require_status(
            case, (*RECALL_STATUSES, CaseStatus.NON_RESPONDER), doing="book bloods"
        )
        before = state.snapshot(case)
        booking = Booking.objects.create(
            case=case,
            date=date,
            location=location,
            note=note.strip(),
            booked_at=at,
            booked_by=user,
        )
        state.set_status(case, CaseStatus.BOOKED, at)
        state.audit_case(
            case,
            action="case.booking",
            user=user,
            role=role,
            before=before,
            at=at,
            after={
                **state.snapshot(case),
                "booking": {"id": booking.pk, "date": date, "location": location},
            },
        )
    return booking


def suppress_case(
    *,
    user: User,
    case: MonitoringCase,
    reason: str,
    review_date: dt.date,
    note: str = "",
    at: dt.datetime | None = None,
) -> Suppression:
    """Hide the flag until ``review_date`` (pharmacists only): searches before then do not reopen it."""
    at = state.now(at)
    state.require_choice(reason, SuppressionReason, "reason")
    if review_date <= timezone.localdate(at):
        raise ValidationFailed("the review date must be in the future")
    if review_date > timezone.localdate(at) + dt.timedelta(days=MAX_SUPPRESSION_DAYS):
        raise ValidationFailed("a suppression must be reviewed within a year")
    with transaction.atomic():
        case = state.lock(case)
        role = access.require_role(
            user, case.practice, access.REVIEW_ROLES, doing="suppress a case"
        )
        state.require_status(case, ACTIVE_STATUSES, doing="suppress the case")
        before = state.snapshot(case)
        suppression = Suppression.objects.create(
            case=case,
            reason=reason,
            note=note.strip(),
            review_date=review_date,
            suppressed_at=at,
            suppressed_by=user,
        )
        label = SuppressionReason(reason).label.lower()
        state.set_status(
            case,
            CaseStatus.SUPPRESSED,
            at,
            closed_at=at,
            closed_by=user,
            closed_reason=f"Suppressed ({label}) until {review_date.isoformat()}",
        )
        state.audit_case(
            case,
            action="case.suppressed",
            user=user,
            role=role,
            before=before,
            at=at,
            after={
                **state.snapshot(case),
                "suppression": {
                    "id": suppression.pk,
                    "reason": reason,
                    "review_date": review_date,
                    "note": suppression.note,
                },
            },
        )
    return suppression


_OBJECT_TYPES = {"MonitoringCase": "case", "Escalation": "escalation"}
VIEWS = ("case", "worklist", "review_queue", "escalation_queue", "reminder", "search_runs")


def record_view(
    *,
    user: User,
    what: str,
    practice: Practice | None = None,
    obj: Any = None,
    detail: dict | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Audit that ``user`` saw patient-identifiable data: a case, a worklist, a lookup.

    Refuses (and so records nothing) if the user may not see the case: a view must never be the way
    round an access check.
    """
    if what not in VIEWS:
        raise ValueError(f"unknown view {what!r}")
    at = state.now(at)
    if isinstance(obj, MonitoringCase):
        practice = obj.practice
        if not access.can_see(user, practice):
            raise PermissionDenied("You do not have access to this practice.")
    role = access.role_for_audit(user, practice)
    with transaction.atomic():
        chain.record(
            action=f"viewed.{what}",
            user=user,
            role=role,
            practice_ods=practice.ods_code if practice else "",
            object_type=_OBJECT_TYPES.get(type(obj).__name__, type(obj).__name__.lower())
            if obj is not None
            else "",
            object_id=getattr(obj, "pk", "") if obj is not None else "",
            after=detail or None,
            at=at,
        )
