"""Pages for recall work: the technician worklist, a case and its timeline, contact attempts,
bookings, non-responders, suppression, and the reactive reminder.

Thin on purpose: cases are found through ``queries.cases_for`` (another practice's case is a 404),
changed only through ``cases.actions`` (which check role and state), and every page that shows
patient-identifiable data records the view with ``actions.record_view``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from rxwatch.web.cases import actions, queries
from rxwatch.web.cases.forms import (
    BookingForm,
    ContactAttemptForm,
    NonResponderForm,
    ReminderForm,
    SuppressionForm,
    filter_selects,
)
from rxwatch.web.cases.models import (
    ACTIVE_STATUSES,
    RECALL_STATUSES,
    TECHNICIAN_FLAGS,
    CaseStatus,
    ContactAttempt,
    MonitoringCase,
    RecallPolicy,
)
from rxwatch.web.errors import DomainError
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import Role, User
from rxwatch.web.pages import apply_domain_error, page, pager, paginate, viewer
from rxwatch.web.reviews.forms import ReviewForm, SignOffForm
from rxwatch.web.reviews.models import Decision, SignOff

RECALL_OPEN = (*RECALL_STATUSES, CaseStatus.NON_RESPONDER)


@lru_cache(maxsize=1)
def _catalogue():
    from rxwatch.rules.catalogue import load_catalogue

    return load_catalogue()


def rule_of(case: MonitoringCase):
    """The catalogue rule behind a case (title, sources), or None if the catalogue has changed."""
    try:
        return _catalogue().rule(case.rule_id)
    except Exception:  # a rule retired since the case was opened still shows its case
        return None


def get_case(user: User, case_id: int) -> MonitoringCase:
    return get_object_or_404(
        queries.cases_for(user).select_related(
            "practice__pcn", "first_flagged_run", "last_seen_run"
        ),
        pk=case_id,
    )


def attempt_counts(case_ids: list[int]) -> dict[int, int]:
    rows = (
        ContactAttempt.objects.filter(case_id__in=case_ids)
        .values("case_id")
        .annotate(n=Count("id"))
        .values_list("case_id", "n")
    )
    return dict(rows)


def drug_groups() -> list[str]:
    """The catalogue's drug groups (no query: the filter lists every group a rule can flag)."""
    return sorted({r.group for r in _catalogue().rules})


def _listing_filters(request: HttpRequest, v) -> dict:
    practice = v.practice_filter(request.GET.get("practice"))
    return {
        "practice": practice,
        "drug_group": request.GET.get("drug_group") or None,
        "flag": request.GET.get("flag") or None,
        "stage": request.GET.get("stage") or None,
    }


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    """Overdue, due soon and out of range cases in recall, most urgent first."""
    v = viewer(request)
    f = _listing_filters(request, v)
    qs = queries.worklist(
        v.user,
        practice=f["practice"],
        drug_group=f["drug_group"],
        status=[f["stage"]] if f["stage"] else None,
        flag=[f["flag"]] if f["flag"] else None,
    )
    page_obj = paginate(request, qs)
    cases = list(page_obj.object_list)
    attempts = attempt_counts([c.pk for c in cases])
    for c in cases:
        c.attempts = attempts.get(c.pk, 0)
    totals = dict(
        queries.worklist(
            v.user,
            practice=f["practice"],
            drug_group=f["drug_group"],
            status=[f["stage"]] if f["stage"] else None,
        )
        .order_by()
        .values("flag_status")
        .annotate(n=Count("id"))
        .values_list("flag_status", "n")
    )
    practice = next((p for p in v.practices if p.ods_code == f["practice"]), None)
    actions.record_view(
        user=v.user,
        what="worklist",
        practice=practice,
        detail={
            "filters": {k: val for k, val in f.items() if val},
            "count": page_obj.paginator.count,
            "page": page_obj.number,
            "shown": [c.pk for c in cases],
        },
    )
    selects = filter_selects(
        f,
        fields=("practice", "drug_group", "flag", "stage")
        if len(v.practices) > 1
        else ("drug_group", "flag", "stage"),
        practices=v.practices,
        drug_groups=drug_groups(),
    )
    template = (
        "cases/_worklist_results.html"
        if request.headers.get("HX-Request")
        else ("cases/worklist.html")
    )
    return page(
        request,
        template,
        {
            "selects": selects,
            "page_obj": page_obj,
            "cases": cases,
            "filters": f,
            "totals": [
                (flag.label, totals.get(flag.value, 0), flag.value) for flag in TECHNICIAN_FLAGS
            ],
            "data_run": queries.latest_run(),
            "pager": pager(request, page_obj),
            "multi_practice": len(v.practices) > 1,
        },
    )


def _latest_review(case: MonitoringCase):
    return case.reviews.select_related("reviewer").order_by("-reviewed_at", "-id").first()


def awaiting_sign_off(case: MonitoringCase):
    """The review a pharmacist can sign off now, if any."""
    if case.status != CaseStatus.IN_REVIEW:
        return None
    review = _latest_review(case)
    if review is None or review.decision == Decision.ESCALATE_TO_GP:
        return None
    if SignOff.objects.filter(review=review).exists():
        return None
    return review


def case_context(v, case: MonitoringCase) -> dict:
    """What every page about one case shows: summary, rule, roles the viewer holds here."""
    roles = access.roles_at(v.user, case.practice)
    policy = RecallPolicy.for_organisation(case.practice.organisation_id)
    return {
        "case": case,
        "rule": rule_of(case),
        "policy": policy,
        "attempts": case.contacts.count(),
        "can_recall": bool(roles & {Role.TECHNICIAN, Role.PHARMACIST})
        and case.status in RECALL_OPEN,
        "can_review": Role.PHARMACIST in roles
        and case.status in ACTIVE_STATUSES
        and case.status != CaseStatus.ESCALATED,
        "can_suppress": Role.PHARMACIST in roles and case.status in ACTIVE_STATUSES,
        "pending_escalation": case.escalations.pending().first(),
        "can_decide": Role.GP in roles,
        "sees_nhs_number": bool(roles & {Role.TECHNICIAN, Role.PHARMACIST, Role.GP}),
    }


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """One case: who, which rule and why, its whole timeline, and the forms for the next step."""
    v = viewer(request)
    case = get_case(v.user, case_id)
    actions.record_view(user=v.user, what="case", obj=case)
    ctx = case_context(v, case)
    review = awaiting_sign_off(case) if ctx["can_review"] else None
    return page(
        request,
        "cases/case.html",
        {
            **ctx,
            "timeline": list(reversed(queries.timeline(case))),
            "contact_form": ContactAttemptForm() if ctx["can_recall"] else None,
            "booking_form": BookingForm() if ctx["can_recall"] else None,
            "review_form": ReviewForm() if ctx["can_review"] and review is None else None,
            "sign_off_review": review,
            "sign_off_form": SignOffForm() if review else None,
            "suppression": getattr(case, "suppression", None)
            if case.status == CaseStatus.SUPPRESSED
            else None,
            "previous_case": case.previous_case_id,
        },
    )


def case_action(
    request: HttpRequest,
    case_id: int,
    *,
    form_class: type[forms.Form],
    template: str,
    title: str,
    do: Callable[[User, MonitoringCase, dict], str],
    extra: Callable[[MonitoringCase], dict] | None = None,
) -> HttpResponse:
    """GET: the form on its own page. POST: validate, call the domain action, back to the case with
    a confirmation; a refusal is shown at the top of the form (the error summary)."""
    v = viewer(request)
    case = get_case(v.user, case_id)
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            message = do(v.user, case, form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, message)
            return redirect("case", case_id=case.pk)
    actions.record_view(user=v.user, what="case", obj=case)
    return page(
        request,
        template,
        {
            **case_context(v, case),
            "form": form,
            "title": title,
            **(extra(case) if extra else {}),
        },
    )


def _contact(user: User, case: MonitoringCase, data: dict) -> str:
    actions.record_contact_attempt(
        user=user, case=case, method=data["method"], outcome=data["outcome"], note=data["note"]
    )
    case.refresh_from_db()
    if case.status == CaseStatus.NON_RESPONDER:
        return (
            "Contact attempt recorded. The recall procedure is complete: the patient is now a "
            "non-responder and the case has gone to a pharmacist."
        )
    return "Contact attempt recorded."


@login_required
@require_http_methods(["GET", "POST"])
def contact_attempt(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=ContactAttemptForm,
        template="cases/action_form.html",
        title="Record a contact attempt",
        do=_contact,
    )


def _book(user: User, case: MonitoringCase, data: dict) -> str:
    actions.book_bloods(
        user=user, case=case, date=data["date"], location=data["location"], note=data["note"]
    )
    return f"Bloods booked for {data['date']:%-d %B %Y}."


@login_required
@require_http_methods(["GET", "POST"])
def booking(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=BookingForm,
        template="cases/action_form.html",
        title="Book bloods",
        do=_book,
    )


def _non_responder(user: User, case: MonitoringCase, data: dict) -> str:
    actions.mark_non_responder(user=user, case=case, note=data["note"])
    return "Marked as a non-responder: the case has gone to a pharmacist."


@login_required
@require_http_methods(["GET", "POST"])
def non_responder(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=NonResponderForm,
        template="cases/action_form.html",
        title="Mark as a non-responder",
        do=_non_responder,
    )


def _suppress(user: User, case: MonitoringCase, data: dict) -> str:
    actions.suppress_case(
        user=user,
        case=case,
        reason=data["reason"],
        review_date=data["review_date"],
        note=data["note"],
    )
    return f"Suppressed until {data['review_date']:%-d %B %Y}."


@login_required
@require_http_methods(["GET", "POST"])
def suppress(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=SuppressionForm,
        template="cases/action_form.html",
        title="Suppress: monitored elsewhere or not applicable",
        do=_suppress,
    )


@login_required
@require_http_methods(["GET", "POST"])
def reminder(request: HttpRequest) -> HttpResponse:
    """The reactive reminder: at the moment of issuing a repeat, by NHS number. POST only for the
    lookup, so the NHS number never appears in a URL or an access log."""
    v = viewer(request)
    form = ReminderForm(request.POST if request.method == "POST" else None)
    result = None
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            result = queries.reactive_reminder(v.user, form.cleaned_data["nhs_number"])
            actions.record_view(
                user=v.user,
                what="reminder",
                detail={"found": result.nhs_number_found, "cases": [c.pk for c in result.cases]},
            )
    # htmx swaps the form column (errors, form and answer) in place: the same page either way.
    return page(request, "cases/reminder.html", {"form": form, "result": result})
