"""Shared helpers for the HTML pages: who is signed in, which practice they are looking at, paging.

Pages stay thin: they read through the domain querysets (``cases.queries``, ``organisations.access``)
and change things only through the domain actions. This module only assembles what every page's header
needs (name, roles, practice switcher) and turns domain errors into form errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from rxwatch.web.errors import DomainError, PermissionDenied, ScopeError
from rxwatch.web.organisations import access
from rxwatch.web.organisations.models import Practice, Role

SESSION_PRACTICE = "rxwatch.practice"
PAGE_SIZE = 50

# Roles whose work needs the NHS number (to contact the patient or find them in the clinical system).
# Practice managers and hub leads oversee the work: they see the pseudonymous id only.
NHS_NUMBER_ROLES = frozenset({Role.TECHNICIAN, Role.PHARMACIST, Role.GP})
OVERSIGHT_ROLES = frozenset(access.OVERSIGHT_ROLES)


@dataclass
class Viewer:
    """The signed-in user as the pages need them: roles, practices, the practice in focus."""

    request: HttpRequest

    @property
    def user(self):
        return self.request.user

    @cached_property
    def roles(self) -> set[str]:
        return set(access.memberships(self.user).values_list("role", flat=True))

    @cached_property
    def practices(self) -> list[Practice]:
        return list(access.visible_practices(self.user).select_related("pcn").order_by("name"))

    @cached_property
    def practice(self) -> Practice | None:
        """The practice chosen in the header switcher (None: all of the user's practices)."""
        if len(self.practices) == 1:
            return self.practices[0]
        ods = self.request.session.get(SESSION_PRACTICE)
        return next((p for p in self.practices if p.ods_code == ods), None)

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in Role.values if r in self.roles]

    @property
    def sees_nhs_number(self) -> bool:
        return bool(self.roles & NHS_NUMBER_ROLES)

    @property
    def is_oversight(self) -> bool:
        return bool(self.roles & OVERSIGHT_ROLES)

    # Which queues the header offers: the ones the user works from, and all of them for oversight.
    # (Only navigation: every list is filtered by access, whoever opens it.)
    @property
    def shows_worklist(self) -> bool:
        return self.is_oversight or self.has(Role.TECHNICIAN, Role.PHARMACIST)

    @property
    def shows_review_queue(self) -> bool:
        return self.is_oversight or self.has(Role.PHARMACIST)

    @property
    def shows_escalations(self) -> bool:
        return self.is_oversight or self.has(Role.GP, Role.PHARMACIST)

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def practice_filter(self, value: str | None) -> str | None:
        """A ``practice`` query parameter, else the switcher's practice; '' means all."""
        if value is None:
            return self.practice.ods_code if self.practice else None
        return value or None


def page(
    request: HttpRequest, template: str, context: dict | None = None, *, status: int = 200
) -> HttpResponse:
    """Render a page with the header's context (the viewer)."""
    viewer = getattr(request, "viewer", None) or Viewer(request)
    return render(request, template, {"viewer": viewer, **(context or {})}, status=status)


def viewer(request: HttpRequest) -> Viewer:
    request.viewer = Viewer(request)  # type: ignore[attr-defined]
    return request.viewer  # type: ignore[attr-defined]


def paginate(request: HttpRequest, qs, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def query_string(request: HttpRequest, **changes) -> str:
    """The current query string with ``changes`` (None removes a key): for pagination links."""
    params = request.GET.copy()
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return urlencode(list(params.lists()), doseq=True)


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def apply_domain_error(form: forms.Form, exc: DomainError, field: str | None = None) -> None:
    """Show a domain refusal on the form (top error summary), or 403 when the role is missing.

    A scope refusal is a form error, not a 403: the pharmacist can act on it (escalate to a GP).
    """
    if isinstance(exc, PermissionDenied) and not isinstance(exc, ScopeError):
        raise HttpForbidden(str(exc))
    form.add_error(field, str(exc))


def pager(request: HttpRequest, page_obj: Page) -> dict:
    """Links for the NHS.UK numbered pagination: previous, next and a window of page numbers."""

    def href(n: int) -> str:
        return "?" + query_string(request, page=str(n))

    numbers = page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=2, on_ends=1)
    return {
        "previous": href(page_obj.previous_page_number()) if page_obj.has_previous() else None,
        "next": href(page_obj.next_page_number()) if page_obj.has_next() else None,
        "items": [
            {"ellipsis": True}
            if n == page_obj.paginator.ELLIPSIS
            else {"number": n, "href": href(n), "current": n == page_obj.number}
            for n in numbers
        ],
        "show": page_obj.paginator.num_pages > 1,
        "start": page_obj.start_index(),
        "end": page_obj.end_index(),
        "count": page_obj.paginator.count,
    }
