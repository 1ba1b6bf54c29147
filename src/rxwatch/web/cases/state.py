"""Small helpers every action shares: re-reading a case under lock, status guards, snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import TextChoices
from django.utils import timezone

from rxwatch.web.cases.models import CaseStatus, MonitoringCase
from rxwatch.web.errors import InvalidTransition, ValidationFailed


def now(at: dt.datetime | None) -> dt.datetime:
    """The action's clock: real time, or a given time when replaying past work (the demo)."""
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise ValidationFailed("a time given to an action must carry a time zone")
    return at


def lock(case: MonitoringCase) -> MonitoringCase:
    """Re-read the case inside the action's transaction, locked against concurrent actions
    (PostgreSQL row lock; SQLite transactions are IMMEDIATE and so already exclusive)."""
    return MonitoringCase.objects.select_for_update().select_related("practice").get(pk=case.pk)


def require_status(case: MonitoringCase, allowed: Iterable[str], *, doing: str) -> None:
    allowed = tuple(allowed)
    if case.status not in allowed:
        label = CaseStatus(case.status).label.lower()
        raise InvalidTransition(f"Cannot {doing}: the case is {label}.")


def require_choice(value: str, choices: type[TextChoices], what: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(f"{what} must be one of: {', '.join(choices.values)}")
    return value


def require_text(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{what} is required")
    return value


def snapshot(case: MonitoringCase) -> dict:
    """The case fields an audit event records before and after a change."""
    return {
        "status": case.status,
        "flag_status": case.flag_status,
        "recommended_prescription_days": case.recommended_prescription_days,
        "closed_reason": case.closed_reason or None,
        "covered_until": case.covered_until,
    }


def set_status(case: MonitoringCase, status: str, at: dt.datetime, **fields) -> None:
    case.status = status
    case.status_changed_at = at
    for k, v in fields.items():
        setattr(case, k, v)
    case.save(update_fields=["status", "status_changed_at", *fields])


def audit_case(
    case: MonitoringCase,
    *,
    action: str,
    user,
    role: str,
    before: dict,
    after: dict,
    at: dt.datetime,
) -> None:
    from rxwatch.web.audit import chain

    chain.record(
        action=action,
        user=user,
        role=role,
        practice_ods=case.practice.ods_code,
        object_type="case",
        object_id=case.pk,
        before=before,
        after=after,
        at=at,
    )
