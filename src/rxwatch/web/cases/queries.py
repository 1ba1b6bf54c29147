"""Read side: worklists, queues, the reactive reminder and a case's timeline.

Every function takes the user and starts from ``visible_to(user)``: there is no way to list cases
without the access filter. Viewing is audited by the caller (``actions.record_view``) because only the
caller knows what was actually shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from rxwatch.web.cases.models import (
    ACTIVE_STATUSES,
    RECALL_STATUSES,
    REVIEW_FLAGS,
    TECHNICIAN_FLAGS,
    CaseStatus,
    FlagStatus,
    MonitoringCase,
    ReviewReason,
    SearchRun,
)
from rxwatch.web.organisations.models import User
from rxwatch.web.reviews.models import Decision, Escalation


def _filtered(
    qs: QuerySet[MonitoringCase],
    *,
    practice: str | None = None,
    drug_group: str | None = None,
    status: Iterable[str] | None = None,
    flag: Iterable[str] | None = None,
) -> QuerySet[MonitoringCase]:
    if practice:
        qs = qs.filter(practice__ods_code=practice)
    if drug_group:
        qs = qs.filter(drug_group=drug_group)
    if status:
        qs = qs.filter(status__in=list(status))
    if flag:
        qs = qs.filter(flag_status__in=list(flag))
    return qs


def cases_for(user: User) -> QuerySet[MonitoringCase]:
    return MonitoringCase.objects.visible_to(user).select_related("practice")


def worklist(
    user: User,
    *,
    practice: str | None = None,
    drug_group: str | None = None,
    status: Iterable[str] | None = None,
    flag: Iterable[str] | None = None,
) -> QuerySet[MonitoringCase]:
    """The technician's worklist: cases in recall (open, contacting, booked) that are overdue, due
    soon or out of range, most urgent first (out of range and safety alerts, then overdue: never
    tested, then by days overdue; then due soon by due date). ``status``/``flag`` narrow or widen the default sets."""
    qs = cases_for(user).filter(status__in=list(status or RECALL_STATUSES))
    qs = qs.filter(flag_status__in=list(flag or TECHNICIAN_FLAGS))
    return _filtered(qs, practice=practice, drug_group=drug_group).by_priority()


# What each review-queue reason means: a non-responder is a recall outcome (the case's status),
# the others are what the latest search says (its flag status).
REVIEW_REASON_FILTERS: dict[str, Q] = {
    ReviewReason.OUT_OF_RANGE: Q(flag_status=FlagStatus.OUT_OF_RANGE),
    ReviewReason.NON_RESPONDER: Q(status=CaseStatus.NON_RESPONDER),
    ReviewReason.SAFETY_ALERT: Q(flag_status=FlagStatus.SAFETY_ALERT),
    ReviewReason.MISSED_DIAGNOSIS: Q(flag_status=FlagStatus.MISSED_DIAGNOSIS),
}


def review_queue(
    user: User,
    *,
    practice: str | None = None,
    drug_group: str | None = None,
    reason: Iterable[str] | None = None,
) -> QuerySet[MonitoringCase]:
    """The pharmacist's queue: out-of-range results, safety alerts, possible missed diagnoses,
    non-responders and cases handed to a pharmacist (``in_review``), not yet escalated or closed.
    ``reason`` (``ReviewReason`` values) keeps the cases in the queue for any of those reasons;
    an unknown value matches nothing rather than widening the queue."""
    qs = (
        cases_for(user)
        .filter(status__in=[s for s in ACTIVE_STATUSES if s != CaseStatus.ESCALATED])
        .filter(
            Q(flag_status__in=REVIEW_FLAGS)
            | Q(status__in=[CaseStatus.NON_RESPONDER, CaseStatus.IN_REVIEW])
        )
    )
    if reason:
        wanted = Q(pk__in=[])
        for r in reason:
            if r in REVIEW_REASON_FILTERS:
                wanted |= REVIEW_REASON_FILTERS[r]
        qs = qs.filter(wanted)
    return _filtered(qs, practice=practice, drug_group=drug_group).by_priority()


def escalation_queue(user: User, *, practice: str | None = None) -> QuerySet[Escalation]:
    """The GP's queue: escalations not yet decided, oldest first."""
    qs = (
        Escalation.objects.visible_to(user)
        .pending()
        .select_related("case", "case__practice", "escalated_by")
    )
    if practice:
        qs = qs.filter(case__practice__ods_code=practice)
    return qs.order_by("escalated_at", "id")


@dataclass(frozen=True)
class Reminder:
    """What a prescription clerk needs at the moment of issuing a repeat."""

    nhs_number_found: bool
    monitoring_due: bool
    monitoring_overdue: bool
    non_responder: bool
    recommended_prescription_days: int | None
    cases: list[MonitoringCase] = field(default_factory=list)

    @property
    def message(self) -> str:
        if not self.cases:
            return "No open monitoring actions for this patient."
        parts = []
        if self.monitoring_overdue:
            parts.append("Monitoring is OVERDUE")
        elif self.monitoring_due:
            parts.append("Monitoring is due soon")
        if any(c.flag_status in REVIEW_FLAGS for c in self.cases):
            parts.append("a result or alert is awaiting pharmacist review")
        if self.non_responder:
            days = self.recommended_prescription_days
            parts.append(
                "the patient has not responded to recall"
                + (f": consider a {days}-day prescription" if days else "")
            )
        return "; ".join(parts) + "."


def reactive_reminder(user: User, nhs_number: str) -> Reminder:
    """Open monitoring actions for the patient with this NHS number, in the user's practices only."""
    nhs_number = "".join(ch for ch in nhs_number if ch.isdigit())
    cases = list(
        cases_for(user).filter(nhs_number=nhs_number, status__in=ACTIVE_STATUSES).by_priority()
    )
    non_responders = [c for c in cases if c.status == CaseStatus.NON_RESPONDER]
    days = [
        c.recommended_prescription_days for c in non_responders if c.recommended_prescription_days
    ]
    return Reminder(
        nhs_number_found=bool(cases),
        monitoring_due=any(c.flag_status == "due_soon" for c in cases),
        monitoring_overdue=any(c.flag_status == "overdue" for c in cases),
        non_responder=bool(non_responders),
        recommended_prescription_days=min(days) if days else None,
        cases=cases,
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # flagged | observation | contact | booking | review | sign_off | escalation |
    #            gp_decision | suppression | closed
    summary: str
    actor: str = ""
    note: str = ""


def _who(user) -> str:
    if user is None:
        return "RxWatch search"
    return user.display_name


def timeline(case: MonitoringCase) -> list[TimelineEntry]:
    """Everything that happened to a case, oldest first, in words (the UI and the CQC pack use it)."""
    out: list[TimelineEntry] = []
    first = True
    for o in case.observations.select_related("run").order_by("recorded_at", "id"):
        verb = "Flagged" if first else "Search updated"
        out.append(
            TimelineEntry(
                o.recorded_at,
                "flagged" if first else "observation",
                f"{verb} ({o.get_flag_status_display().lower()}, search of "
                f"{o.run.as_of.isoformat()}): {o.reason}",
                _who(None),
            )
        )
        first = False
    for c in case.contacts.select_related("recorded_by"):
        out.append(
            TimelineEntry(
                c.attempted_at,
                "contact",
                f"Contact by {c.get_method_display().lower()}: {c.get_outcome_display().lower()}",
                _who(c.recorded_by),
                c.note,
            )
        )
    for b in case.bookings.select_related("booked_by"):
        out.append(
            TimelineEntry(
                b.booked_at,
                "booking",
                f"Bloods booked for {b.date.isoformat()} at {b.location}",
                _who(b.booked_by),
                b.note,
            )
        )
    escalations = list(case.escalations.select_related("escalated_by", "decided_by"))
    # A pharmacist's "escalate to GP" decision is stored as a review *and* its escalation: the
    # timeline shows it once, as the escalation (which carries the GP's answer).
    escalated_reviews = {e.review_id for e in escalations if e.review_id is not None}
    for r in case.reviews.select_related("reviewer"):
        if r.pk in escalated_reviews:
            continue
        label = Decision(r.decision).label
        dose = " (dose change)" if r.dose_change else ""
        out.append(
            TimelineEntry(
                r.reviewed_at,
                "review",
                f"Pharmacist review: {label}{dose}",
                _who(r.reviewer),
                r.note,
            )
        )
    for s in case.sign_offs.select_related("signed_by"):
        out.append(TimelineEntry(s.signed_at, "sign_off", "Signed off", _who(s.signed_by), s.note))
    for e in escalations:
        out.append(
            TimelineEntry(
                e.escalated_at, "escalation", "Escalated to GP", _who(e.escalated_by), e.note
            )
        )
        if e.decided_at:
            out.append(
                TimelineEntry(
                    e.decided_at,
                    "gp_decision",
                    f"GP decision: {Decision(e.gp_decision).label} — {e.get_outcome_display()}",
                    _who(e.decided_by),
                    e.gp_note,
                )
            )
    if hasattr(case, "suppression"):
        s = case.suppression
        out.append(
            TimelineEntry(
                s.suppressed_at,
                "suppression",
                f"Suppressed ({s.get_reason_display().lower()}) until {s.review_date.isoformat()}",
                _who(s.suppressed_by),
                s.note,
            )
        )
    elif case.status == CaseStatus.CLOSED and case.closed_at:
        # who closed it: a person (closed_by), else the search (closed_by_run, ``_who(None)``)
        known = case.closed_by_id is not None or case.closed_by_run_id is not None
        closer = _who(case.closed_by) if known else ""
        out.append(TimelineEntry(case.closed_at, "closed", f"Closed: {case.closed_reason}", closer))
    if case.non_responder_at:
        days = case.recommended_prescription_days
        out.append(
            TimelineEntry(
                case.non_responder_at,
                "non_responder",
                "Non-responder: sent to a pharmacist"
                + (f"; recommend {days}-day prescriptions" if days else ""),
            )
        )
    out.sort(key=lambda e: e.at)
    return out


def latest_run() -> SearchRun | None:
    """The newest synced search: its date is the data's age shown beside every worklist."""
    return SearchRun.objects.filter(finished_at__isnull=False).order_by("-as_of", "-id").first()
