"""Monthly PDF layout, read back with pdftotext -layout: a heading is on the page of the table it
introduces, and n / d and the status stay on one line."""

from __future__ import annotations

import datetime as dt
import re

from tests.web.scorecards.conftest import make_run

from rxwatch.web.reports.monthly import build_monthly
from rxwatch.web.scorecards import services

from .test_reports import MONTH, pdftotext


def pdf_pages(data: bytes) -> list[list[str]]:
    return [
        [ln.strip() for ln in p.splitlines() if ln.strip()] for p in pdftotext(data).split("\f")
    ]


def test_scorecard_heading_is_on_the_page_of_its_table(practice_a):
    # 26 monitoring indicators, 8 below target: the scorecard table fits on a page, but not under
    # the summary; it used to move to the next page as a whole, leaving its headings behind.
    ids = [i for i, ind in services.indicator_catalogue().items() if ind.kind == "monitoring"]
    make_run(
        dt.date(2026, 6, 28),
        {i: {"A81001": (5 if k < 8 else 10, 10)} for k, i in enumerate(ids[:26])},
    )
    report = build_monthly([practice_a], MONTH, title="Alpha Surgery (A81001): monthly audit")
    pages = [p for p in pdf_pages(report.pdf()) if "Monitoring in date" in p]
    assert len(pages) == 1
    after = pages[0][pages[0].index("Monitoring in date") + 1 :]
    assert any(ln.startswith("Indicator") and "Trend" in ln for ln in after)


def test_counts_and_status_do_not_wrap(year_of_runs, practice_a, practice_b):
    lines = [ln for p in pdf_pages(build_monthly([practice_a], MONTH, title="A").pdf()) for ln in p]
    assert any(re.search(r"40 / 50 +80\.0% +≥ 90% +Near target", ln) for ln in lines)
    assert any(re.search(r"6 / 30 +20\.0% +≤ 5% +Below target", ln) for ln in lines)
    report = build_monthly([practice_a, practice_b], MONTH, title="Test Federation")
    lines = [ln for p in pdf_pages(report.pdf()) for ln in p]
    assert any(re.search(r"A81001 +6 / 30 +20\.0% +Below target", ln) for ln in lines)
    assert any(re.search(r"Outside 99\.8% +Below target$", ln) for ln in lines)
