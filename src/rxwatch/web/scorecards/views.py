"""Scorecard pages: a practice's scorecard, practices side by side, the patients behind a cell, and
the workflow measures. Thin: the numbers come from ``services`` / ``workflow``, access from
``organisations.access`` (a practice the user cannot see is a 404), charts from ``charts``."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.safestring import mark_safe

from rxwatch.web.audit import chain
from rxwatch.web.organisations import access
from rxwatch.web.pages import page, viewer
from rxwatch.web.scorecards import charts, services, workflow
from rxwatch.web.scorecards.drilldown import drill_down, practice_for


def _month(request: HttpRequest) -> dt.date:
    text = request.GET.get("month")
    if text:
        try:
            return services.parse_month(text)
        except ValueError:
            raise Http404("month must be YYYY-MM") from None
    return services.latest_month()


def _month_links(month: dt.date) -> dict:
    return {
        "month": month,
        "month_param": month.strftime("%Y-%m"),
        "previous_month": services.add_months(month, -1).strftime("%Y-%m"),
        "next_month": services.add_months(month, 1).strftime("%Y-%m"),
    }


def _practice(request: HttpRequest, v):
    ods = request.GET.get("practice") or (v.practice.ods_code if v.practice else "")
    if not ods:
        return None
    practice = practice_for(v.user, ods)
    if practice is None:
        raise Http404("no such practice")
    return practice


@login_required
def practice_scorecard(request: HttpRequest) -> HttpResponse:
    """One practice, every indicator: this month against target, and the last 12 months."""
    v = viewer(request)
    practice = _practice(request, v)
    month = _month(request)
    if practice is None:
        return page(
            request,
            "scorecards/choose_practice.html",
            {"practices": v.practices, **_month_links(month)},
        )
    card = services.practice_scorecard(practice, month)
    return page(
        request,
        "scorecards/practice.html",
        {
            "card": card,
            "practice": practice,
            "sections": charts.kind_sections(card),
            **_month_links(month),
        },
    )


@login_required
def organisation_scorecard(request: HttpRequest) -> HttpResponse:
    """Practices side by side: every indicator × practice this month, then for one indicator the
    league table, funnel plot and 12 months of history."""
    v = viewer(request)
    month = _month(request)
    practices = list(access.visible_practices(v.user).select_related("organisation", "pcn"))
    practices.sort(key=lambda p: p.ods_code)
    cards = services.practice_scorecards(practices, month)
    comps = services.compare(cards)
    chosen_id = request.GET.get("indicator")
    chosen = next((c for c in comps if c.indicator.id == chosen_id), None)
    chosen = chosen or services.default_comparison(comps)
    history = [r for card in cards if chosen and (r := card.row(chosen.indicator.id))]
    return page(
        request,
        "scorecards/organisation.html",
        {
            "practices": practices,
            "matrix": services.matrix(cards, comps),
            "comparisons": comps,
            "chosen": chosen,
            "matrix_callouts": services.codelist_callouts(c.indicator for c in comps),
            "chosen_callouts": services.codelist_callouts([chosen.indicator] if chosen else []),
            "funnel": mark_safe(charts.funnel_chart(chosen)) if chosen else "",
            "history": history,
            "months": services.months_to(month),
            **_month_links(month),
        },
    )


@login_required
def patients(request: HttpRequest) -> HttpResponse:
    """The patients behind one cell (practice × indicator × month). Audited: it lists patients."""
    v = viewer(request)
    practice = _practice(request, v)
    indicator_id = request.GET.get("indicator") or ""
    if practice is None or not indicator_id:
        raise Http404("choose a practice and an indicator")
    month = _month(request)
    dd = drill_down(v.user, practice, indicator_id, month)
    with transaction.atomic():
        chain.record(
            action="viewed.scorecard_patients",
            user=v.user,
            role=access.role_for_audit(v.user, practice),
            practice_ods=practice.ods_code,
            after={
                "indicator": indicator_id,
                "month": month.strftime("%Y-%m"),
                "shown": [c.pk for c in dd.cases],
            },
        )
    return page(
        request,
        "scorecards/patients.html",
        {
            "dd": dd,
            "callouts": services.codelist_callouts([dd.indicator]),
            **_month_links(month),
        },
    )


@login_required
def workflow_measures(request: HttpRequest) -> HttpResponse:
    """What the team did this month, by practice and by member of staff."""
    v = viewer(request)
    month = _month(request)
    practices = list(access.visible_practices(v.user).order_by("name"))
    by_practice, by_staff = workflow.workflow_measures(practices, month)
    return page(
        request,
        "scorecards/workflow.html",
        {
            "by_practice": by_practice,
            "by_staff": by_staff,
            "total": workflow.totals(by_practice),
            **_month_links(month),
        },
    )
