"""The REST API (django-ninja): worklists, cases, actions, escalations, the reactive reminder.

Thin on purpose: every endpoint finds objects through the access querysets (``cases_for``,
``Escalation.objects.visible_to``: another practice's id is a 404) and changes them only through the
domain actions (which check role, scope and state: 403 / 409 / 422). Reads of patient data are audited
with ``record_view``. OpenAPI: /api/openapi.json, browsable at /api/docs.
"""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Query, Router
from ninja.responses import Status

from rxwatch.web.api import schemas as s
from rxwatch.web.api import tokens
from rxwatch.web.api.auth import AUTH
from rxwatch.web.api.models import ApiToken
from rxwatch.web.audit import queries as audit_queries
from rxwatch.web.cases import actions, queries
from rxwatch.web.cases.models import MonitoringCase, SearchRun
from rxwatch.web.errors import (
    DomainError,
    InvalidTransition,
    PermissionDenied,
    ScopeError,
    ValidationFailed,
)
from rxwatch.web.organisations import access
from rxwatch.web.reviews import actions as review_actions
from rxwatch.web.reviews.models import Escalation

api = NinjaAPI(
    title="RxWatch API",
    version="1",
    description="High-risk drug monitoring: worklists, recall, review, escalation, reminders. "
    "Authenticate with a browser session or `Authorization: Bearer <token>`.",
    auth=AUTH,
    urls_namespace="api",
)

ERRORS = {403: s.Problem, 404: s.Problem, 409: s.Problem, 422: s.Problem}
MAX_PAGE = 500


def _problem(request, status: int, exc: Exception, code: str):
    return api.create_response(request, {"detail": str(exc), "code": code}, status=status)


@api.exception_handler(ScopeError)
def _scope(request, exc):
    return _problem(request, 403, exc, "outside_scope_of_practice")


@api.exception_handler(PermissionDenied)
def _denied(request, exc):
    return _problem(request, 403, exc, "permission_denied")


@api.exception_handler(InvalidTransition)
def _transition(request, exc):
    return _problem(request, 409, exc, "invalid_transition")


@api.exception_handler(ValidationFailed)
def _invalid(request, exc):
    return _problem(request, 422, exc, "invalid")


@api.exception_handler(DomainError)
def _domain(request, exc):
    return _problem(request, 400, exc, "refused")


def _user(request):
    return request.auth


def _case(request, case_id: int) -> MonitoringCase:
    return get_object_or_404(queries.cases_for(_user(request)), pk=case_id)


def _page(qs, limit: int, offset: int):
    limit = max(1, min(limit, MAX_PAGE))
    return qs.count(), list(qs[max(offset, 0) : max(offset, 0) + limit])


def _data_as_of():
    run = queries.latest_run()
    return run.as_of if run else None


def _listing(request, what: str, qs, filters: dict, limit: int, offset: int) -> dict:
    count, items = _page(qs, limit, offset)
    actions.record_view(
        user=_user(request),
        what=what,
        detail={
            "filters": {k: v for k, v in filters.items() if v},
            "count": count,
            "shown": [c.pk for c in items],
        },
    )
    return {"count": count, "data_as_of": _data_as_of(), "items": items}


# --- who am I -------------------------------------------------------------------------------------

me_router = Router(tags=["me"])


@me_router.get("/me", response=s.MeOut)
def me(request):
    user = _user(request)
    rows = access.memberships(user).select_related("organisation", "practice")
    return {
        "username": user.get_username(),
        "memberships": [
            {
                "organisation": m.organisation.code,
                "practice": m.practice.ods_code if m.practice_id else None,
                "role": m.role,
            }
            for m in rows
        ],
        "scope_of_practice": sorted(access.scope_of_practice(user)),
    }


@me_router.get("/tokens", response=list[s.TokenOut])
def list_tokens(request):
    return list(ApiToken.objects.filter(user=_user(request)).order_by("-created_at"))


@me_router.post("/tokens", response={201: s.NewTokenOut, **ERRORS})
def create_token(request, payload: s.TokenIn):
    token, plain = tokens.issue_token(user=_user(request), name=payload.name)
    token.token = plain  # shown this once; only its hash is stored
    return Status(201, token)


@me_router.post("/tokens/{token_id}/revoke", response={200: s.TokenOut, **ERRORS})
def revoke_token(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=_user(request))
    return tokens.revoke_token(user=_user(request), token=token)


# --- worklists and cases --------------------------------------------------------------------------

cases_router = Router(tags=["cases"])


@cases_router.get("/worklist", response=s.CaseListOut)
def worklist(
    request,
    practice: str | None = None,
    drug_group: str | None = None,
    status: list[str] = Query(None),  # noqa: B008
    flag: list[str] = Query(None),  # noqa: B008
    limit: int = 50,
    offset: int = 0,
):
    """The technician worklist, most urgent first."""
    qs = queries.worklist(
        _user(request), practice=practice, drug_group=drug_group, status=status, flag=flag
    )
    filters = {"practice": practice, "drug_group": drug_group, "status": status, "flag": flag}
    return _listing(request, "worklist", qs, filters, limit, offset)


@cases_router.get("/review-queue", response=s.CaseListOut)
def review_queue(
    request,
    practice: str | None = None,
    drug_group: str | None = None,
    reason: list[str] = Query(None),  # noqa: B008
    limit: int = 50,
    offset: int = 0,
):
    """The pharmacist queue: out of range, safety alerts, missed diagnoses, non-responders.
    ``reason`` (repeatable: out_of_range, non_responder, safety_alert, missed_diagnosis) keeps
    the cases in the queue for any of those reasons."""
    qs = queries.review_queue(
        _user(request), practice=practice, drug_group=drug_group, reason=reason
    )
    filters = {"practice": practice, "drug_group": drug_group, "reason": reason}
    return _listing(request, "review_queue", qs, filters, limit, offset)


@cases_router.get("/cases/{case_id}", response={200: s.CaseDetailOut, **ERRORS})
def case_detail(request, case_id: int):
    """One case and its timeline (audited as a view of the patient's case)."""
    case = _case(request, case_id)
    actions.record_view(user=_user(request), what="case", obj=case)
    case.pending_escalation_id = case.escalations.pending().values_list("id", flat=True).first()
    case.timeline = queries.timeline(case)
    case.data_as_of = _data_as_of()
    return case


def _reply(case_id: int):
    return Status(200, MonitoringCase.objects.select_related("practice").get(pk=case_id))


@cases_router.post("/cases/{case_id}/contact-attempts", response={200: s.CaseOut, **ERRORS})
def contact_attempt(request, case_id: int, payload: s.ContactAttemptIn):
    case = _case(request, case_id)
    actions.record_contact_attempt(
        user=_user(request),
        case=case,
        method=payload.method,
        outcome=payload.outcome,
        note=payload.note,
    )
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/bookings", response={200: s.CaseOut, **ERRORS})
def booking(request, case_id: int, payload: s.BookingIn):
    case = _case(request, case_id)
    actions.book_bloods(
        user=_user(request),
        case=case,
        date=payload.date,
        location=payload.location,
        note=payload.note,
    )
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/non-responder", response={200: s.CaseOut, **ERRORS})
def non_responder(request, case_id: int, payload: s.NoteIn):
    case = _case(request, case_id)
    actions.mark_non_responder(user=_user(request), case=case, note=payload.note)
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/reviews", response={200: s.CaseOut, **ERRORS})
def review(request, case_id: int, payload: s.ReviewIn):
    """A pharmacist decision. A dose change outside scope of practice is a 403
    (``outside_scope_of_practice``): escalate instead."""
    case = _case(request, case_id)
    review_actions.record_review(
        user=_user(request),
        case=case,
        decision=payload.decision,
        note=payload.note,
        dose_change=payload.dose_change,
    )
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/sign-off", response={200: s.CaseOut, **ERRORS})
def sign_off(request, case_id: int, payload: s.OptionalNoteIn):
    case = _case(request, case_id)
    review_actions.sign_off(user=_user(request), case=case, note=payload.note)
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/escalation", response={200: s.CaseOut, **ERRORS})
def escalate(request, case_id: int, payload: s.NoteIn):
    case = _case(request, case_id)
    review_actions.escalate_to_gp(user=_user(request), case=case, note=payload.note)
    return _reply(case.pk)


@cases_router.post("/cases/{case_id}/suppression", response={200: s.CaseOut, **ERRORS})
def suppress(request, case_id: int, payload: s.SuppressIn):
    case = _case(request, case_id)
    actions.suppress_case(
        user=_user(request),
        case=case,
        reason=payload.reason,
        review_date=payload.review_date,
        note=payload.note,
    )
    return _reply(case.pk)


@cases_router.get("/search-runs", response=list[s.SearchRunOut])
def search_runs(request, limit: int = 20):
    """Recent synced searches: how old the data behind the worklists is."""
    return list(SearchRun.objects.filter(finished_at__isnull=False)[: max(1, min(limit, 200))])


# --- escalations (GP) -----------------------------------------------------------------------------

escalations_router = Router(tags=["escalations"])


@escalations_router.get("/escalations", response=s.EscalationListOut)
def escalation_queue(request, practice: str | None = None, limit: int = 50, offset: int = 0):
    """Escalations awaiting a GP decision, oldest first."""
    qs = queries.escalation_queue(_user(request), practice=practice)
    count, items = _page(qs, limit, offset)
    actions.record_view(
        user=_user(request),
        what="escalation_queue",
        detail={
            "filters": {"practice": practice} if practice else {},
            "count": count,
            "shown": [e.case_id for e in items],
        },
    )
    return {"count": count, "items": items}


@escalations_router.post(
    "/escalations/{escalation_id}/decision", response={200: s.EscalationOut, **ERRORS}
)
def gp_decision(request, escalation_id: int, payload: s.GpDecisionIn):
    escalation = get_object_or_404(Escalation.objects.visible_to(_user(request)), pk=escalation_id)
    review_actions.gp_decide(
        user=_user(request),
        escalation=escalation,
        decision=payload.decision,
        note=payload.note,
        close=payload.close,
    )
    return Status(
        200,
        Escalation.objects.select_related("case__practice", "escalated_by").get(pk=escalation.pk),
    )


# --- who did what (oversight) ---------------------------------------------------------------------

activity_router = Router(tags=["audit"])


@activity_router.get("/activity", response={200: s.ActivityOut, **ERRORS})
def activity(
    request,
    practice: str | None = None,
    who: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """The audit trail of the practices where the user is a practice manager, hub lead or admin,
    newest first. Events name objects by id, never a patient."""
    ods = audit_queries.oversight_practices(_user(request))
    if not ods:
        raise PermissionDenied("Only a practice manager, hub lead or administrator can see this.")
    qs = audit_queries.activity(ods, practice=practice, who=who, action=action)
    count, items = _page(qs, limit, offset)
    return {"count": count, "items": items}


# --- reactive reminder ----------------------------------------------------------------------------

reminders_router = Router(tags=["reactive reminder"])


@reminders_router.post("/reactive-reminder", response=s.ReminderOut)
def reactive_reminder(request, payload: s.ReminderIn):
    """At the moment of issuing a repeat: is monitoring due or overdue, is the patient a
    non-responder? POST so that the NHS number never appears in a URL (and so in no access log)."""
    user = _user(request)
    with transaction.atomic():
        reminder = queries.reactive_reminder(user, payload.nhs_number)
        actions.record_view(
            user=user,
            what="reminder",
            detail={"found": reminder.nhs_number_found, "cases": [c.pk for c in reminder.cases]},
        )
    return {
        "found": reminder.nhs_number_found,
        "monitoring_due": reminder.monitoring_due,
        "monitoring_overdue": reminder.monitoring_overdue,
        "non_responder": reminder.non_responder,
        "recommended_prescription_days": reminder.recommended_prescription_days,
        "message": reminder.message,
        "cases": reminder.cases,
    }


api.add_router("/", me_router)
api.add_router("/", cases_router)
api.add_router("/", escalations_router)
api.add_router("/", reminders_router)
api.add_router("/", activity_router)
