"""Scorecard journeys in a real browser: a hub lead reads 12 months for 10 practices and opens a red
cell onto the right patients; a practice manager downloads the monthly PDF and the CQC pack."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from tests.web.factories import MonitoringCaseFactory, OrganisationFactory, PracticeFactory, staff

from rxwatch.web.cases.models import FlagStatus, IndicatorCount, SearchRun
from rxwatch.web.organisations.models import Role
from rxwatch.web.scorecards.services import add_months, month_end

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MONTH = dt.date(2026, 6, 1)
RED = "Z00003"  # the practice whose safety-alert cell is red in June


@pytest.fixture
def world(transactional_db):
    """Ten practices, a year of month-end runs, and the cases behind one red cell."""
    from django.utils import timezone

    org = OrganisationFactory(code="FED1", name="Test Federation")
    practices = [
        PracticeFactory(organisation=org, ods_code=f"Z{i:05d}", name=f"Practice {i}")
        for i in range(1, 11)
    ]
    runs = {}
    for k in range(12):
        month = add_months(MONTH, k - 11)
        run = SearchRun.objects.create(
            as_of=month_end(month), started_at=timezone.now(), finished_at=timezone.now()
        )
        runs[month] = run
        rows = []
        for i, p in enumerate(practices, start=1):
            rows.append(IndicatorCount(run=run, practice_ods=p.ods_code,
                                       indicator_id="methotrexate.fbc",
                                       numerator=80 + i + k // 3, denominator=100))  # fmt: skip
            flagged = 9 if p.ods_code == RED else 1
            rows.append(IndicatorCount(run=run, practice_ods=p.ods_code,
                                       indicator_id="pincer.gi_p3a",
                                       numerator=flagged, denominator=40))  # fmt: skip
        IndicatorCount.objects.bulk_create(rows)
    red = next(p for p in practices if p.ods_code == RED)
    cases = [
        MonitoringCaseFactory(
            practice=red,
            patient_id=f"RED-GI-{n}",
            rule_id="pincer.gi_p3a",
            rule="pincer.gi_p3a",
            drug_group="nsaid",
            flag_status=FlagStatus.SAFETY_ALERT,
            reason="NSAID without gastroprotection, aged 65 or over",
            first_flagged_run=runs[add_months(MONTH, -1)],
            last_seen_run=runs[MONTH],
        )
        for n in range(3)
    ]
    MonitoringCaseFactory(practice=practices[0], patient_id="OTHER-PRACTICE",
                          rule_id="pincer.gi_p3a", rule="pincer.gi_p3a",
                          first_flagged_run=runs[MONTH], last_seen_run=runs[MONTH])  # fmt: skip
    staff(Role.HUB_LEAD, organisation=org, username="hub")
    staff(Role.PRACTICE_MANAGER, red, username="manager")
    return practices, cases


def test_hub_lead_opens_a_red_cell_and_lands_on_its_patients(journey, world):
    _practices, cases = world
    page = journey.page
    journey.sign_in("hub")
    page.get_by_role("link", name="Scorecards").first.click()
    page.get_by_role("link", name="Practices side by side").click()
    page.wait_for_load_state()
    page.goto(journey.base_url + "/scorecards/organisation/?month=2026-06&indicator=pincer.gi_p3a")
    journey.shot("organisation")
    history = page.get_by_test_id("org-history")
    assert history.locator("tbody tr").count() == 10
    assert history.locator("thead th").count() == 13  # practice + 12 months
    assert "Jul 25" in history.inner_text() and "Jun 26" in history.inner_text()
    assert page.get_by_test_id("funnel").locator("svg").count() == 1
    red = page.locator(f'td[data-practice="{RED}"][data-indicator="pincer.gi_p3a"]')
    assert red.get_attribute("data-rag") == "red" and "Below target" in red.inner_text()
    assert page.get_by_test_id("matrix").locator('td[data-rag="red"]').count() == 1
    red.get_by_role("link").click()
    page.wait_for_load_state()
    journey.shot("patients")
    table = page.get_by_test_id("patients").inner_text()
    assert sorted(c.patient_id for c in cases) == sorted(
        line.split()[0] for line in table.splitlines() if line.startswith("RED-GI-")
    )
    assert "OTHER-PRACTICE" not in table
    assert "9 / 40" in page.get_by_test_id("cell-summary").inner_text()


def _pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


def test_practice_manager_downloads_the_monthly_pdf_and_cqc_pack(journey, world, tmp_path):
    page = journey.page
    journey.sign_in("manager")
    page.get_by_role("link", name="Scorecards").first.click()
    page.wait_for_load_state()
    page.goto(journey.base_url + "/scorecards/?month=2026-06")
    journey.shot("practice-scorecard")
    assert "9 / 40" in page.get_by_test_id("scorecard-2").inner_text()
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_test_id("download-monthly").click(no_wait_after=True)
    monthly = tmp_path / dl.value.suggested_filename
    dl.value.save_as(monthly)
    assert monthly.name == f"rxwatch-monthly-{RED}-2026-06.pdf"
    text = _pdf_text(monthly)
    assert "9 / 40" in text and "22.5%" in text
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_test_id("download-cqc").click(no_wait_after=True)
    pack = tmp_path / dl.value.suggested_filename
    dl.value.save_as(pack)
    text = _pdf_text(pack)
    assert "CQC evidence pack" in text and "RED-GI-0" in text
    assert "No documented patient contact" in text
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pack),
                    str(journey.folder / "cqc-page")], check=True)  # fmt: skip
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(monthly),
                    str(journey.folder / "monthly-page")], check=True)  # fmt: skip
