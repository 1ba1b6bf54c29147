"""The CQC evidence pack for a practice (or one patient): the documented monitoring schedule per drug
group (from the rule files, with sources), the dates the searches ran, and each case's timeline.

It puts two findings first, so the practice sees them before an inspector does:

* **no documented patient contact**: a case that needed the patient (overdue, due soon or out of
  range) open for more than ``CONTACT_GRACE_DAYS`` days, or closed other than by a search finding the
  monitoring done, with no contact attempt and no booking recorded;
* **out of range with no review or escalation**: a case flagged out of range at any point with no
  pharmacist review and no escalation to a GP.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone

from rxwatch.web.cases.models import (
    ACTIVE_STATUSES,
    Booking,
    CaseObservation,
    ContactAttempt,
    FlagStatus,
    MonitoringCase,
    SearchRun,
)
from rxwatch.web.cases.queries import TimelineEntry, timeline
from rxwatch.web.organisations.models import Practice
from rxwatch.web.reviews.models import Escalation, Review
from rxwatch.web.scorecards.models import BackfillRun

CONTACT_GRACE_DAYS = 14
CONTACT_FLAGS = (FlagStatus.OVERDUE, FlagStatus.DUE_SOON, FlagStatus.OUT_OF_RANGE)
NO_CONTACT = "No documented patient contact"
NO_REVIEW = "Out of range with no review or escalation"


@dataclass
class Schedule:
    group: str
    rule: str
    title: str
    kind: str
    lines: list[str]
    sources: list[str]


@dataclass
class CaseEvidence:
    case: MonitoringCase
    events: list[TimelineEntry]
    findings: list[str] = field(default_factory=list)


@dataclass
class CqcPack:
    practice: Practice
    patient_id: str | None
    generated: dt.datetime
    since: dt.date
    schedules: list[Schedule]
    search_dates: list[dt.date]
    backfill_dates: list[dt.date]
    cases: list[CaseEvidence]

    @property
    def findings(self) -> dict[str, list[CaseEvidence]]:
        out: dict[str, list[CaseEvidence]] = {NO_CONTACT: [], NO_REVIEW: []}
        for ev in self.cases:
            for f in ev.findings:
                out[f].append(ev)
        return out

    def html(self) -> str:
        return render_to_string("reports/cqc.html", {"pack": self, "findings": self.findings})

    def pdf(self) -> bytes:
        from weasyprint import HTML

        return HTML(string=self.html()).write_pdf()

    def csv(self) -> str:
        """One row per timeline event (a case with no events still has its 'flagged' row)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(
            [
                "practice",
                "case_id",
                "patient_id",
                "rule_id",
                "drug_group",
                "case_status",
                "findings",
                "event_at",
                "event",
                "summary",
                "by",
                "note",
            ]
        )
        for ev in self.cases:
            c = ev.case
            for e in ev.events:
                w.writerow(
                    [
                        self.practice.ods_code,
                        c.pk,
                        c.patient_id,
                        c.rule_id,
                        c.drug_group,
                        c.status,
                        "; ".join(ev.findings),
                        timezone.localtime(e.at).isoformat(timespec="minutes"),
                        e.kind,
                        e.summary,
                        e.actor,
                        e.note,
                    ]
                )
        return buf.getvalue()


def schedules() -> list[Schedule]:
    """The monitoring schedule per drug group, in words, from the rule files."""
    from rxwatch.config import organisation_catalogue
    from rxwatch.rules.describe import schedule_words, threshold_words
    from rxwatch.web.scorecards.services import codelist_warnings

    out = []
    catalogue = organisation_catalogue()
    unsupplied = set(catalogue.unsupplied_codelists)
    for rule in sorted(catalogue.rules, key=lambda r: (r.group, r.id)):
        if rule.kind == "monitoring":
            lines = []
            for t in rule.tests:
                text = f"{t.title.capitalize()}: {schedule_words(t)}"
                if t.thresholds:
                    text += "; out of range if " + "; ".join(
                        threshold_words(th) for th in t.thresholds
                    )
                lines.append(text.replace("`", ""))
        else:
            lines = [(rule.reason or rule.description).strip()]
        # a local codelist not supplied: the figures are the fail-safe reading (HAZ-103, HAZ-104)
        lines += [f"Warning: {text}" for _name, text in codelist_warnings(rule, unsupplied)]
        out.append(
            Schedule(
                rule.group,
                rule.id,
                rule.title,
                rule.kind,
                lines,
                [s.citation + (f" {s.url}" if s.url else "") for s in rule.sources],
            )
        )
    return out


def _findings(cases: Iterable[MonitoringCase], today: dt.date) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for c in cases:
        needed_contact = c.flag_status in CONTACT_FLAGS or c.ever_out_of_range
        if needed_contact and not (c.has_contact or c.has_booking):
            age = (today - timezone.localtime(c.opened_at).date()).days
            closed_by_search = c.closed_by_run_id is not None
            if (c.status in ACTIVE_STATUSES and age > CONTACT_GRACE_DAYS) or (
                c.status not in ACTIVE_STATUSES and not closed_by_search
            ):
                out[c.pk].append(NO_CONTACT)
        if c.ever_out_of_range and not (c.has_review or c.has_escalation):
            out[c.pk].append(NO_REVIEW)
    return out


def build_cqc_pack(
    practice: Practice,
    *,
    patient_id: str | None = None,
    since: dt.date | None = None,
    today: dt.date | None = None,
) -> CqcPack:
    """The pack for ``practice`` (callers check access first), for cases opened since ``since``
    (default: the last 12 months) or still open; for one patient when ``patient_id`` is given."""
    today = today or timezone.localdate()
    since = since or today - dt.timedelta(days=365)
    cases = MonitoringCase.objects.filter(practice=practice).filter(
        Q(opened_at__date__gte=since) | Q(status__in=ACTIVE_STATUSES)
    )
    if patient_id:
        cases = cases.filter(patient_id=patient_id)
    cases = (
        cases.annotate(
            has_contact=Exists(ContactAttempt.objects.filter(case=OuterRef("pk"))),
            has_booking=Exists(Booking.objects.filter(case=OuterRef("pk"))),
            has_review=Exists(Review.objects.filter(case=OuterRef("pk"))),
            has_escalation=Exists(Escalation.objects.filter(case=OuterRef("pk"))),
            ever_out_of_range=Exists(
                CaseObservation.objects.filter(
                    case=OuterRef("pk"), flag_status=FlagStatus.OUT_OF_RANGE
                )
            ),
        )
        .select_related("practice")
        .order_by("opened_at", "id")
    )
    cases = list(cases)
    for c in cases:  # a case flagged out of range before observations existed still counts
        c.ever_out_of_range = c.ever_out_of_range or c.flag_status == FlagStatus.OUT_OF_RANGE
    found = _findings(cases, today)
    evidence = [
        CaseEvidence(
            c,
            # a case opened before observations were kept still shows when it was flagged
            timeline(c) or [TimelineEntry(c.opened_at, "flagged", f"Flagged: {c.reason}")],
            found.get(c.pk, []),
        )
        for c in cases
    ]
    evidence.sort(key=lambda e: (not e.findings, e.case.opened_at))
    runs = [
        r.as_of
        for r in SearchRun.objects.filter(finished_at__isnull=False, as_of__gte=since)
        .order_by("as_of")
        .only("as_of", "practices")
        if not r.practices or practice.ods_code in r.practices
    ]
    backfills = [
        r.as_of
        for r in BackfillRun.objects.filter(as_of__gte=since).order_by("as_of")
        if practice.ods_code in r.practices
    ]
    return CqcPack(
        practice,
        patient_id,
        timezone.localtime(),
        since,
        schedules(),
        sorted(set(runs)),
        backfills,
        evidence,
    )


def counts(pack: CqcPack) -> dict[str, int]:
    f = pack.findings
    return {"cases": len(pack.cases), **{k: len(v) for k, v in f.items()}}


__all__ = ["CqcPack", "build_cqc_pack", "counts"]
