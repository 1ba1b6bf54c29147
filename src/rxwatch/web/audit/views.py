""" "Who did what": the audit trail of the viewer's practices, for practice managers and hub leads.

Audit events carry no patient identifier (objects are named by type and id), so this page shows none;
it links to the case, whose own page checks access and records the view.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from rxwatch.web.audit import queries
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.pages import page, pager, paginate, viewer

# What an action means in words, for the table (unknown actions show as they are).
ACTIONS = {
    "case.opened": "Case opened by the search",
    "case.updated": "Search updated the case",
    "case.closed": "Case closed by the search",
    "case.contact_attempt": "Contact attempt",
    "case.non_responder": "Non-responder",
    "case.booking": "Bloods booked",
    "case.review": "Pharmacist review",
    "case.escalated": "Escalated to GP",
    "case.signed_off": "Signed off",
    "case.suppressed": "Suppressed",
    "escalation.decided": "GP decision",
    "viewed.case": "Viewed a case",
    "viewed.worklist": "Viewed the worklist",
    "viewed.review_queue": "Viewed the review queue",
    "viewed.escalation_queue": "Viewed the escalation queue",
    "viewed.reminder": "Reactive reminder lookup",
}
KINDS = {
    "people": "People only (not the search)",
    "changes": "Changes only",
    "views": "Views only",
}


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    """Every change and view in the viewer's practices, newest first, filterable."""
    v = viewer(request)
    if not v.is_oversight:
        raise PermissionDenied("Only a practice manager or hub lead can see who did what.")
    ods = queries.oversight_practices(request.user)
    chosen = v.practice_filter(request.GET.get("practice"))
    who = (request.GET.get("who") or "").strip()
    kind = request.GET.get("kind") or ""
    action = request.GET.get("action") or ""
    day = request.GET.get("day") or ""
    try:
        on = dt.date.fromisoformat(day) if day else None
    except ValueError:
        day, on = "", None
    qs = queries.activity(
        ods,
        practice=chosen,  # one the viewer does not oversee shows an empty trail
        who=who,
        action=action,
        kind=kind,
        day=on,
    )
    practice = chosen if chosen in ods else None  # the select then says "all"
    page_obj = paginate(request, qs)
    people = sorted(
        set(
            AuditEvent.objects.filter(practice_ods__in=ods)
            .values_list("actor_username", flat=True)
            .distinct()
        )
    )
    for e in page_obj.object_list:
        e.label = ACTIONS.get(e.action, e.action)
    return page(
        request,
        "audit/activity.html",
        {
            "page_obj": page_obj,
            "events": page_obj.object_list,
            "people": people,
            "actions": ACTIONS,
            "kinds": KINDS,
            "filters": {
                "practice": practice or "",
                "who": who,
                "kind": kind,
                "action": action,
                "day": day,
            },
            "pager": pager(request, page_obj),
        },
    )
