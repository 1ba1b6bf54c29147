"""Monthly PDFs: an indicator whose local codelist was not supplied carries the warning, and in the
organisation report its funnel comes after the indicators that really need attention."""

from __future__ import annotations

import pytest

from rxwatch.web.reports.monthly import build_monthly
from rxwatch.web.scorecards import services

from .test_reports import MONTH, pdf_text

WARNING = (
    "Codelist valproate-ppp was not supplied: no patient can have the record, so every patient "
    "on valproate is counted. Supply the organisation's list with --codelists."
)


pytestmark = pytest.mark.usefixtures("fresh_catalogue")


def test_practice_pdf_warns(valproate, practice_a):
    report = build_monthly([practice_a], MONTH, title="Alpha Surgery (A81001): monthly audit")
    assert WARNING.replace("'", "&#x27;") in report.html
    text = pdf_text(report.pdf())
    assert WARNING in text
    assert "Codelist valproate-ppp not supplied (see warning below)" in text


def test_organisation_pdf_warns_and_puts_the_unsupplied_indicator_last(
    valproate, practice_a, practice_b
):
    report = build_monthly([practice_a, practice_b], MONTH, title="Test Federation")
    text = pdf_text(report.pdf())
    assert WARNING in text
    acting = text.split("Indicators to act on")[1]
    gi = acting.index(services.indicator("pincer.gi_p3a").title)
    assert gi < acting.index(services.indicator("valproate.ppp").title)
    assert WARNING in acting[gi:]  # by the valproate funnel too


def test_cqc_schedules_warn():
    from rxwatch.web.reports.cqc import schedules

    valproate = next(s for s in schedules() if s.rule == "valproate.ppp")
    assert f"Warning: {WARNING}" in valproate.lines
    gi = next(s for s in schedules() if s.rule == "pincer.gi_p3a")
    assert not any(line.startswith("Warning:") for line in gi.lines)
