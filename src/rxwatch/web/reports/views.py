"""Report downloads: the monthly audit summary (PDF) and the CQC evidence pack (PDF, CSV). Thin:
practices come from ``scope.report_practices`` (access-checked), content from ``monthly``/``cqc``;
each download is audited (the CQC pack names patients)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse

from rxwatch.web.audit import chain
from rxwatch.web.organisations import access
from rxwatch.web.reports.cqc import build_cqc_pack, counts
from rxwatch.web.reports.monthly import build_monthly
from rxwatch.web.reports.scope import NoPractices, report_practices
from rxwatch.web.scorecards import services


def _audit(request: HttpRequest, what: str, practice, detail: dict) -> None:
    with transaction.atomic():
        chain.record(
            action=f"viewed.{what}",
            user=request.user,
            role=access.role_for_audit(request.user, practice),
            practice_ods=practice.ods_code if practice else "",
            after=detail,
        )


def _pdf(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def monthly(request: HttpRequest) -> HttpResponse:
    try:
        month = (
            services.parse_month(request.GET["month"])
            if request.GET.get("month")
            else services.latest_month()
        )
        practices, title = report_practices(
            request.user,
            practice=request.GET.get("practice"),
            pcn=request.GET.get("pcn"),
            organisation=request.GET.get("organisation"),
        )
    except (ValueError, NoPractices):
        raise Http404("no such report") from None
    report = build_monthly(practices, month, title=f"{title}: monthly audit summary")
    one = practices[0] if len(practices) == 1 else None
    _audit(
        request,
        "monthly_report",
        one,
        {"month": month.strftime("%Y-%m"), "practices": [p.ods_code for p in practices]},
    )
    slug = one.ods_code if one else "practices"
    return _pdf(report.pdf(), f"rxwatch-monthly-{slug}-{month:%Y-%m}.pdf")


def _pack(request: HttpRequest):
    try:
        (practice,), _ = report_practices(request.user, practice=request.GET.get("practice") or "-")
    except NoPractices:
        raise Http404("no such practice") from None
    patient = request.GET.get("patient") or None
    pack = build_cqc_pack(practice, patient_id=patient)
    if patient and not pack.cases:
        raise Http404("no cases for that patient")
    _audit(
        request,
        "cqc_pack",
        practice,
        {"patient": bool(patient), "cases": [e.case.pk for e in pack.cases], **counts(pack)},
    )
    return practice, patient, pack


@login_required
def cqc_pdf(request: HttpRequest) -> HttpResponse:
    practice, patient, pack = _pack(request)
    suffix = "-patient" if patient else ""
    return _pdf(pack.pdf(), f"rxwatch-cqc-{practice.ods_code}{suffix}.pdf")


@login_required
def cqc_csv(request: HttpRequest) -> HttpResponse:
    practice, patient, pack = _pack(request)
    response = HttpResponse(pack.csv(), content_type="text/csv; charset=utf-8")
    suffix = "-patient" if patient else ""
    response["Content-Disposition"] = (
        f'attachment; filename="rxwatch-cqc-{practice.ods_code}{suffix}.csv"'
    )
    return response
