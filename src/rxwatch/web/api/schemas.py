"""Request and response shapes of the REST API (they are the OpenAPI document)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class Problem(Schema):
    detail: str
    code: str


class CaseOut(Schema):
    id: int
    practice: str
    practice_name: str
    patient_id: str
    nhs_number: str
    rule_id: str
    rule: str
    drug_group: str
    status: str
    flag_status: str
    reason: str
    last_date: dt.date | None
    last_value: float | None
    due_date: dt.date | None
    days_overdue: int | None
    opened_at: dt.datetime
    status_changed_at: dt.datetime
    recommended_prescription_days: int | None
    closed_at: dt.datetime | None
    closed_reason: str

    @staticmethod
    def resolve_practice(obj) -> str:
        return obj.practice.ods_code

    @staticmethod
    def resolve_practice_name(obj) -> str:
        return obj.practice.name


class TimelineEntryOut(Schema):
    at: dt.datetime
    kind: str
    summary: str
    actor: str
    note: str


class CaseDetailOut(CaseOut):
    timeline: list[TimelineEntryOut]
    pending_escalation_id: int | None
    data_as_of: dt.date | None


class CaseListOut(Schema):
    count: int
    data_as_of: dt.date | None
    items: list[CaseOut]


class EscalationOut(Schema):
    id: int
    case: CaseOut
    note: str
    escalated_at: dt.datetime
    escalated_by: str
    gp_decision: str
    gp_note: str
    outcome: str
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_escalated_by(obj) -> str:
        return obj.escalated_by.display_name


class EscalationListOut(Schema):
    count: int
    items: list[EscalationOut]


class ContactAttemptIn(Schema):
    method: str
    outcome: str
    note: str = ""


class BookingIn(Schema):
    date: dt.date
    location: str
    note: str = ""


class NoteIn(Schema):
    note: str


class OptionalNoteIn(Schema):
    note: str = ""


class ReviewIn(Schema):
    decision: str
    note: str = ""
    dose_change: bool = False


class GpDecisionIn(Schema):
    decision: str
    note: str
    close: bool


class SuppressIn(Schema):
    reason: str
    review_date: dt.date
    note: str = ""


class ReminderIn(Schema):
    nhs_number: str


class ReminderOut(Schema):
    found: bool
    monitoring_due: bool
    monitoring_overdue: bool
    non_responder: bool
    recommended_prescription_days: int | None
    message: str
    cases: list[CaseOut]


class MembershipOut(Schema):
    organisation: str
    practice: str | None
    role: str


class MeOut(Schema):
    username: str
    memberships: list[MembershipOut]
    scope_of_practice: list[str]


class SearchRunOut(Schema):
    id: int
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None
    flagged: int
    opened: int
    updated: int
    closed: int
    held: int


class TokenIn(Schema):
    name: str


class TokenOut(Schema):
    id: int
    name: str
    hint: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str


class AuditEventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_username: str
    actor_role: str
    practice_ods: str
    action: str
    object_type: str
    object_id: str
    before: dict | None
    after: dict | None


class ActivityOut(Schema):
    count: int
    items: list[AuditEventOut]
