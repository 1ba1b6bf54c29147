"""Pages for pharmacists and GPs: the review queue, the review form (with the scope-of-practice
refusal and its way out, escalation), sign-off, the GP escalation queue and the GP decision.

Scope of practice is the domain's to enforce (``reviews.actions.record_review`` raises ScopeError);
this page only shows the refusal clearly and offers the escalation form.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from rxwatch.web.cases import actions, queries
from rxwatch.web.cases.forms import filter_selects
from rxwatch.web.cases.models import CaseStatus, MonitoringCase, ReviewReason
from rxwatch.web.cases.views import (
    attempt_counts,
    awaiting_sign_off,
    case_action,
    case_context,
    drug_groups,
    get_case,
)
from rxwatch.web.errors import DomainError, ScopeError
from rxwatch.web.organisations.models import User
from rxwatch.web.pages import apply_domain_error, page, pager, paginate, viewer
from rxwatch.web.reviews import actions as review_actions
from rxwatch.web.reviews.forms import EscalationForm, GpDecisionForm, ReviewForm, SignOffForm
from rxwatch.web.reviews.models import Decision, Escalation, Review, SignOff


def _awaiting(case_ids: list[int]) -> set[int]:
    """Cases of this page whose latest review waits for sign-off (one query each way)."""
    latest: dict[int, Review] = {}
    for r in Review.objects.filter(case_id__in=case_ids).order_by("case_id", "reviewed_at", "id"):
        latest[r.case_id] = r
    signed = set(
        SignOff.objects.filter(review__in=[r.pk for r in latest.values()]).values_list(
            "review_id", flat=True
        )
    )
    return {
        cid
        for cid, r in latest.items()
        if r.decision != Decision.ESCALATE_TO_GP and r.pk not in signed
    }


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Out-of-range results, safety alerts, possible missed diagnoses, non-responders, and cases
    handed to a pharmacist: most urgent first."""
    v = viewer(request)
    practice = v.practice_filter(request.GET.get("practice"))
    drug_group = request.GET.get("drug_group") or None
    reason = request.GET.get("reason") or None
    if reason not in ReviewReason.values:
        reason = None  # an unknown reason shows the whole queue, as the select then says
    filters = {"practice": practice, "drug_group": drug_group, "reason": reason}
    qs = queries.review_queue(
        v.user, practice=practice, drug_group=drug_group, reason=[reason] if reason else None
    )
    page_obj = paginate(request, qs)
    cases = list(page_obj.object_list)
    ids = [c.pk for c in cases]
    awaiting, attempts = _awaiting(ids), attempt_counts(ids)
    for c in cases:
        c.awaiting_sign_off = c.pk in awaiting and c.status == CaseStatus.IN_REVIEW
        c.attempts = attempts.get(c.pk, 0)
    chosen = next((p for p in v.practices if p.ods_code == practice), None)
    actions.record_view(
        user=v.user,
        what="review_queue",
        practice=chosen,
        detail={
            "filters": {k: val for k, val in filters.items() if val},
            "count": page_obj.paginator.count,
            "page": page_obj.number,
            "shown": ids,
        },
    )
    selects = filter_selects(
        filters,
        fields=("practice", "drug_group", "reason")
        if len(v.practices) > 1
        else ("drug_group", "reason"),
        practices=v.practices,
        drug_groups=drug_groups(),
    )
    return page(
        request,
        "reviews/queue.html",
        {
            "selects": selects,
            "page_obj": page_obj,
            "cases": cases,
            "pager": pager(request, page_obj),
            "multi_practice": len(v.practices) > 1,
            "data_run": queries.latest_run(),
            "filtered": any(filters.values()),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, case_id: int) -> HttpResponse:
    """Record a decision. A dose change outside the pharmacist's scope is refused by the domain: the
    page says so at the top and offers the escalation form, the note carried over."""
    v = viewer(request)
    case = get_case(v.user, case_id)
    form = ReviewForm(request.POST if request.method == "POST" else None)
    escalation_form = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            review_actions.record_review(
                user=v.user,
                case=case,
                decision=d["decision"],
                note=d["note"],
                dose_change=d["dose_change"],
            )
        except ScopeError as exc:
            form.add_error(None, str(exc))
            escalation_form = EscalationForm(initial={"note": d["note"]}, auto_id="escalate_%s")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if d["decision"] == Decision.ESCALATE_TO_GP:
                messages.success(request, "Escalated to a GP.")
            else:
                messages.success(request, "Review recorded. Sign off the case to close it.")
            return redirect("case", case_id=case.pk)
    actions.record_view(user=v.user, what="case", obj=case)
    return page(
        request,
        "reviews/review.html",
        {
            **case_context(v, case),
            "form": form,
            "escalation_form": escalation_form,
            "timeline": list(reversed(queries.timeline(case))),
        },
    )


def _sign_off(user: User, case: MonitoringCase, data: dict) -> str:
    review_actions.sign_off(user=user, case=case, note=data["note"])
    return "Signed off. The case is closed."


@login_required
@require_http_methods(["GET", "POST"])
def sign_off(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=SignOffForm,
        template="reviews/sign_off.html",
        title="Sign off",
        do=_sign_off,
        extra=lambda case: {"sign_off_review": awaiting_sign_off(case)},
    )


def _escalate(user: User, case: MonitoringCase, data: dict) -> str:
    review_actions.escalate_to_gp(user=user, case=case, note=data["note"])
    return "Escalated to a GP. The case is in the GP escalation queue."


@login_required
@require_http_methods(["GET", "POST"])
def escalate(request: HttpRequest, case_id: int) -> HttpResponse:
    return case_action(
        request,
        case_id,
        form_class=EscalationForm,
        template="cases/action_form.html",
        title="Escalate to a GP",
        do=_escalate,
    )


@login_required
def escalation_queue(request: HttpRequest) -> HttpResponse:
    """Escalations awaiting a GP decision, oldest first."""
    v = viewer(request)
    practice = v.practice_filter(request.GET.get("practice"))
    qs = queries.escalation_queue(v.user, practice=practice)
    page_obj = paginate(request, qs)
    items = list(page_obj.object_list)
    chosen = next((p for p in v.practices if p.ods_code == practice), None)
    actions.record_view(
        user=v.user,
        what="escalation_queue",
        practice=chosen,
        detail={
            "filters": {"practice": practice} if practice else {},
            "count": page_obj.paginator.count,
            "shown": [e.case_id for e in items],
        },
    )
    selects = filter_selects(
        {"practice": practice},
        fields=("practice",) if len(v.practices) > 1 else (),
        practices=v.practices,
    )
    return page(
        request,
        "reviews/escalations.html",
        {
            "selects": selects,
            "page_obj": page_obj,
            "escalations": items,
            "pager": pager(request, page_obj),
            "multi_practice": len(v.practices) > 1,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def gp_decision(request: HttpRequest, escalation_id: int) -> HttpResponse:
    """The GP's decision: close the case, or return it to the pharmacist."""
    v = viewer(request)
    escalation = get_object_or_404(
        Escalation.objects.visible_to(v.user).select_related("case", "escalated_by"),
        pk=escalation_id,
    )
    case = get_case(v.user, escalation.case_id)
    form = GpDecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            review_actions.gp_decide(
                user=v.user,
                escalation=escalation,
                decision=d["decision"],
                note=d["note"],
                close=d["outcome"] == "close",
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(
                request,
                "Decision recorded. The case is closed."
                if d["outcome"] == "close"
                else "Decision recorded. The case is back with the pharmacist.",
            )
            return redirect("escalations")
    actions.record_view(user=v.user, what="case", obj=case)
    return page(
        request,
        "reviews/gp_decision.html",
        {
            **case_context(v, case),
            "form": form,
            "escalation": escalation,
            "timeline": list(reversed(queries.timeline(case))),
        },
    )
