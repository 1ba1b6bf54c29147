"""The read side of the audit trail: who did what in the practices a user oversees (the "who did
what" page and the API's ``/activity``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db.models import QuerySet

from rxwatch.web.audit.chain import SYSTEM
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import User


def oversight_practices(user: User) -> list[str]:
    """ODS codes of the practices where ``user`` is a practice manager, hub lead or administrator:
    a practice manager at A who is a technician at B sees A's trail, not B's."""
    return list(
        access.practices_where(user, access.OVERSIGHT_ROLES).values_list("ods_code", flat=True)
    )


def activity(
    ods: Collection[str],
    *,
    practice: str | None = None,
    who: str | None = None,
    action: str | None = None,
    kind: str | None = None,
    day: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit events of the practices ``ods``, newest first. ``practice`` narrows to one of them
    (one outside ``ods`` matches nothing); ``kind`` is ``people`` (not the search), ``changes`` or
    ``views``."""
    qs = AuditEvent.objects.filter(practice_ods__in=ods)
    if practice:
        qs = qs.filter(practice_ods=practice)
    if who:
        qs = qs.filter(actor_username=who)
    if kind == "people":
        qs = qs.exclude(actor_username=SYSTEM)
    elif kind == "changes":
        qs = qs.exclude(action__startswith="viewed.")
    elif kind == "views":
        qs = qs.filter(action__startswith="viewed.")
    if action:
        qs = qs.filter(action=action)
    if day:
        qs = qs.filter(occurred_at__date=day)
    return qs.order_by("-seq")
