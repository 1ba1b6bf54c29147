"""Sign in, sign out, the home page (each role's queue, with counts and the age of the data) and
the practice switcher."""

from __future__ import annotations

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from rxwatch.web.cases import queries
from rxwatch.web.cases.models import ACTIVE_STATUSES, TECHNICIAN_FLAGS, CaseStatus
from rxwatch.web.organisations.models import Role
from rxwatch.web.pages import SESSION_PRACTICE, page, safe_next, viewer


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Enter a correct username and password (both are case-sensitive)",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"class": "nhsuk-input nhsuk-input--width-20", "spellcheck": "false"}
        )
        self.fields["password"].widget = forms.PasswordInput(
            attrs={"class": "nhsuk-input nhsuk-input--width-20", "autocomplete": "current-password"}
        )


class SignIn(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOut(auth_views.LogoutView):
    next_page = "login"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What matters to each role, counted, and which search the lists come from."""
    v = viewer(request)
    practice = v.practice.ods_code if v.practice else None
    ctx: dict = {"run": queries.latest_run()}
    if ctx["run"]:
        ctx["age_days"] = (timezone.localdate() - ctx["run"].as_of).days
    oversight = v.is_oversight
    if v.has(Role.TECHNICIAN, Role.PHARMACIST) or oversight:
        by_flag = dict(
            queries.worklist(v.user, practice=practice)
            .order_by()
            .values("flag_status")
            .annotate(n=Count("id"))
            .values_list("flag_status", "n")
        )
        ctx["worklist"] = [(f.label, by_flag.get(f.value, 0), f.value) for f in TECHNICIAN_FLAGS]
        ctx["worklist_total"] = sum(by_flag.values())
    cases = queries.cases_for(v.user)
    if practice:
        cases = cases.filter(practice__ods_code=practice)
    by_status = dict(
        cases.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    ctx["non_responders"] = by_status.get(CaseStatus.NON_RESPONDER, 0)
    ctx["in_review"] = by_status.get(CaseStatus.IN_REVIEW, 0)
    ctx["open_total"] = sum(by_status.values())
    if v.has(Role.PHARMACIST) or oversight:
        ctx["review_total"] = queries.review_queue(v.user, practice=practice).count()
    if v.has(Role.GP) or oversight:
        ctx["escalation_total"] = queries.escalation_queue(v.user, practice=practice).count()
    ctx["show_recall"] = "worklist" in ctx
    ctx["show_review"] = "review_total" in ctx
    ctx["show_gp"] = "escalation_total" in ctx
    return page(request, "home.html", ctx)


@login_required
@require_POST
def switch_practice(request: HttpRequest) -> HttpResponse:
    """Remember which practice a multi-practice user is looking at ('' for all of them)."""
    v = viewer(request)
    ods = request.POST.get("practice", "")
    if ods and ods not in {p.ods_code for p in v.practices}:
        ods = ""
    request.session[SESSION_PRACTICE] = ods
    return redirect(safe_next(request, "/"))
