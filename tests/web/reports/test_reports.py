"""Monthly audit summary and CQC evidence pack: the PDFs' text (pdftotext) against the numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess

import pytest
from click.testing import CliRunner

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases import actions
from rxwatch.web.cases.models import CaseObservation, FlagStatus
from rxwatch.web.reports.cqc import NO_CONTACT, NO_REVIEW, build_cqc_pack
from rxwatch.web.reports.monthly import build_monthly
from rxwatch.web.scorecards import services

from ..factories import MonitoringCaseFactory

MONTH = dt.date(2026, 6, 1)


def pdftotext(data: bytes) -> str:
    """The PDF's text as ``pdftotext -layout`` lays it out (pages separated by form feeds)."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode()


def pdf_text(data: bytes) -> str:
    return " ".join(pdftotext(data).split())


def test_practice_pdf_text_matches_the_scorecard(year_of_runs, practice_a):
    report = build_monthly([practice_a], MONTH, title="Alpha Surgery (A81001): monthly audit")
    text = pdf_text(report.pdf())
    assert "monthly audit" in text and "June 2026" in text
    card = services.practice_scorecard(practice_a, MONTH)
    for row in card.rows:
        c = row.current
        assert f"{c.numerator} / {c.denominator} {c.percentage:.1f}% {row.target.text}" in text
        assert f"{row.change:.1f}" in text
    assert "Below or near target this month" in text and "Actions outstanding" in text
    assert "Practice B" not in text and "B82002" not in text


def test_organisation_pdf_compares_practices(year_of_runs, practice_a, practice_b):
    report = build_monthly([practice_a, practice_b], MONTH, title="Test Federation")
    text = pdf_text(report.pdf())
    assert "A81001" in text and "B82002" in text
    assert "Indicators to act on" in text and "Indicators across practices" in text
    # pincer.gi_p3a: A is below target (20% > 5% + 5): its funnel and league table are shown
    assert "6 / 30 20.0% Below target" in text and "1 / 40 2.5% Meets target" in text
    # methotrexate.fbc: 135/150 together, 2 points better than May (133/150)
    assert "90.0% 1.3" in text


def test_download_page_and_access(client, manager_a, year_of_runs):
    client.force_login(manager_a)
    r = client.get("/reports/monthly.pdf?practice=A81001&month=2026-06")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert "40 / 50" in pdf_text(r.content)
    assert client.get("/reports/monthly.pdf?practice=B82002&month=2026-06").status_code == 404
    assert AuditEvent.objects.filter(action="viewed.monthly_report").count() == 1


def test_cli_report_monthly(year_of_runs, practice_a, tmp_path, monkeypatch):
    from rxwatch.cli import main

    monkeypatch.setattr("rxwatch.web.bootstrap.setup", lambda **kw: None)
    out = tmp_path / "r.pdf"
    result = CliRunner().invoke(
        main, ["report", "monthly", "--month", "2026-06", "--practice", "A81001", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "40 / 50" in pdf_text(out.read_bytes())


@pytest.fixture
def evidence(practice_a, tech_a, pharm_a):
    """Three cases: contacted and reviewed; out of range with nothing done; overdue, old, silent."""
    good = MonitoringCaseFactory(practice=practice_a, patient_id="GOOD", flag_status="out_of_range")
    actions.record_contact_attempt(user=tech_a, case=good, method="phone", outcome="booked")
    from rxwatch.web.reviews import actions as reviews

    reviews.record_review(user=pharm_a, case=good, decision="continue", note="fine")
    bad = MonitoringCaseFactory(practice=practice_a, patient_id="NO-REVIEW")
    CaseObservation.objects.create(
        case=bad,
        run=bad.first_flagged_run,
        flag_status=FlagStatus.OUT_OF_RANGE,
        reason="ALT 150 above 100",
        recorded_at=bad.opened_at,
    )
    silent = MonitoringCaseFactory(
        practice=practice_a,
        patient_id="SILENT",
        opened_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    return good, bad, silent


def test_cqc_pack_findings_pdf_and_csv(evidence, practice_a, client, manager_a):
    _good, _bad, _silent = evidence
    pack = build_cqc_pack(practice_a, today=dt.date(2026, 11, 23))
    findings = {k: [e.case.patient_id for e in v] for k, v in pack.findings.items()}
    assert findings[NO_REVIEW] == ["NO-REVIEW"]
    assert "SILENT" in findings[NO_CONTACT] and "GOOD" not in findings[NO_CONTACT]
    assert any(s.group == "dmard" and s.sources for s in pack.schedules)
    text = pdf_text(pack.pdf())
    assert "No documented patient contact" in text and "SILENT" in text
    assert "Methotrexate" in text and "every 84 days" in text
    assert "Pharmacist review: Continue" in text and "Contact by phone: booked" in text
    rows = list(csv.DictReader(io.StringIO(pack.csv())))
    assert {r["patient_id"] for r in rows} == {"GOOD", "NO-REVIEW", "SILENT"}
    assert any(r["event"] == "review" for r in rows if r["patient_id"] == "GOOD")

    client.force_login(manager_a)
    r = client.get("/reports/cqc.pdf?practice=A81001&patient=GOOD")
    assert r.status_code == 200 and "NO-REVIEW" not in pdf_text(r.content)
    r = client.get("/reports/cqc.csv?practice=A81001")
    assert r.status_code == 200 and b"NO-REVIEW" in r.content
    assert client.get("/reports/cqc.pdf?practice=B82002").status_code == 404
    assert AuditEvent.objects.filter(action="viewed.cqc_pack").count() == 2


def test_cli_report_monthly_refuses_unknown_scope(practice_a, tmp_path, monkeypatch):
    from rxwatch.cli import main

    monkeypatch.setattr("rxwatch.web.bootstrap.setup", lambda **kw: None)
    out = tmp_path / "r.pdf"
    for args in (["--practice", "Z99999"], ["--pcn", "Nowhere PCN"], ["--month", "June"]):
        month = [] if "--month" in args else ["--month", "2026-06"]
        result = CliRunner().invoke(main, ["report", "monthly", *month, *args, "--out", str(out)])
        assert result.exit_code != 0 and not out.exists()
        assert "Z99999" in result.output or "PCN" in result.output or "YYYY-MM" in result.output
