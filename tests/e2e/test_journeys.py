"""One browser journey per role, end to end through the pages (issue 4's "done when")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from tests.web import searchresults
from tests.web.factories import (
    MonitoringCaseFactory,
    OrganisationFactory,
    PracticeFactory,
    nhs_number,
    staff,
)

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases.models import CaseStatus, FlagStatus, MonitoringCase
from rxwatch.web.cases.sync import APPLIES, sync_search_run
from rxwatch.web.organisations.models import Role
from rxwatch.web.reviews import actions as review_actions
from rxwatch.web.reviews.models import Escalation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def practice(transactional_db):
    org = OrganisationFactory(code="FED1", name="Test Federation")
    return PracticeFactory(organisation=org, ods_code="A81001", name="Alpha Surgery")


def _named(user, first: str, last: str):
    user.first_name, user.last_name = first, last
    user.save()
    return user


def test_technician_three_attempts_make_a_non_responder(journey, practice):
    _named(staff(Role.TECHNICIAN, practice, username="tech"), "Tara", "Tech")
    case = MonitoringCaseFactory(
        practice=practice, reason="Full blood count overdue: last 1 Jun 2026"
    )
    page = journey.page

    journey.sign_in("tech")
    page.get_by_role("link", name="Worklist").first.click()
    journey.shot("worklist")
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet in landscape
    journey.shot("worklist-tablet")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # no sideways scroll
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name=case.patient_id).click()
    journey.shot("case")
    for attempt in (1, 2, 3):
        page.get_by_label("Phone").check()
        page.get_by_label("No answer").check()
        page.get_by_label("Note (optional)").first.fill(f"Attempt {attempt}")
        page.get_by_role("button", name="Record attempt").click()
        page.wait_for_load_state()
        journey.shot(f"after-attempt-{attempt}")
        assert "Contact attempt recorded" in page.get_by_test_id("message").inner_text()

    banner = page.get_by_test_id("non-responder-banner")
    assert "14 days" in banner.inner_text()
    assert page.get_by_test_id("case-status").inner_text() == "Non-responder"
    assert "Non-responder: sent to a pharmacist" in page.get_by_test_id("timeline").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.NON_RESPONDER
    assert case.recommended_prescription_days == 14


def test_pharmacist_reviews_out_of_range_in_scope_and_signs_off(journey, practice):
    _named(staff(Role.PHARMACIST, practice, scope=("dmard",), username="pharm"), "Priya", "Pharm")
    case = MonitoringCaseFactory(
        practice=practice,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="methotrexate.alt",
        reason="ALT 112 U/L on 2 Nov 2026 is above 100",
        last_value=112.0,
        last_date=dt.date(2026, 11, 2),
        days_overdue=None,
    )
    page = journey.page

    journey.sign_in("pharm")
    page.get_by_role("link", name="Review queue").first.click()
    journey.shot("review-queue")
    page.get_by_role("link", name=case.patient_id).click()
    journey.shot("case")
    page.get_by_label("Dose adjusted").check()
    page.get_by_label("Note", exact=True).fill(
        "Methotrexate reduced to 10 mg weekly; repeat LFTs in 2 weeks"
    )
    page.get_by_label("The dose was changed").check()
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    journey.shot("reviewed")
    assert "Review recorded" in page.get_by_test_id("message").inner_text()
    page.get_by_role("button", name="Sign off and close the case").click()
    page.wait_for_load_state()
    journey.shot("signed-off")
    assert page.get_by_test_id("case-status").inner_text() == "Closed"
    assert "Signed off" in page.get_by_test_id("timeline").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.sign_offs.count() == 1


def test_out_of_scope_dose_change_is_refused_and_escalated(journey, practice):
    _named(staff(Role.PHARMACIST, practice, scope=("dmard",), username="pharm"), "Priya", "Pharm")
    case = MonitoringCaseFactory(
        practice=practice,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        reason="Lithium level 1.2 mmol/L is above 1.0",
        last_value=1.2,
        days_overdue=None,
    )
    page = journey.page

    journey.sign_in("pharm")
    journey.goto(f"/cases/{case.pk}/review/")
    journey.shot("review-form")
    page.get_by_label("Dose adjusted").check()
    page.get_by_label("Note", exact=True).fill("Reduce lithium to 600 mg at night")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    journey.shot("refused")
    summary = page.get_by_test_id("error-summary").inner_text()
    assert "outside your scope of practice" in summary
    assert page.get_by_test_id("scope-refusal").is_visible()
    assert not case.reviews.exists()  # the refusal recorded nothing

    page.get_by_role("button", name="Escalate to GP").click()
    page.wait_for_load_state()
    journey.shot("escalated")
    assert "Escalated to a GP" in page.get_by_test_id("message").inner_text()
    assert page.get_by_test_id("case-status").inner_text() == "Escalated to GP"
    escalation = Escalation.objects.get(case=case)
    assert "600 mg" in escalation.note and escalation.decided_at is None


def test_gp_closes_an_escalation(journey, practice):
    pharmacist = staff(Role.PHARMACIST, practice, scope=("dmard",), username="pharm")
    _named(staff(Role.GP, practice, username="gp"), "Gita", "GP")
    case = MonitoringCaseFactory(
        practice=practice,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        reason="Lithium level 1.2 mmol/L is above 1.0",
        last_value=1.2,
        days_overdue=None,
    )
    review_actions.escalate_to_gp(
        user=pharmacist, case=case, note="Lithium 1.2: please review the dose"
    )
    page = journey.page

    journey.sign_in("gp")
    page.get_by_role("link", name="GP escalations").first.click()
    journey.shot("escalation-queue")
    page.get_by_role("link", name="Decide").click()
    journey.shot("decision-form")
    page.get_by_label("Dose adjusted").check()
    page.get_by_label("Note", exact=True).fill("Lithium reduced to 400 mg; level in 1 week")
    page.get_by_label("Close the case").check()
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    journey.shot("queue-after")
    assert "The case is closed" in page.get_by_test_id("message").inner_text()
    assert page.get_by_test_id("empty").is_visible()
    journey.goto(f"/cases/{case.pk}/")
    journey.shot("case-closed")
    assert page.get_by_test_id("case-status").inner_text() == "Closed"
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED


def test_next_search_closes_a_case_whose_test_is_recorded(journey, practice):
    _named(staff(Role.TECHNICIAN, practice, username="tech"), "Tara", "Tech")
    week1 = dt.date(2026, 11, 16)
    flagged = searchresults.row(
        "A81001",
        "P-SYNC-1",
        "methotrexate.fbc",
        "overdue",
        as_of=week1,
        last_date=dt.date(2026, 6, 1),
        due_date=dt.date(2026, 9, 1),
        reason="Full blood count overdue: last 1 Jun 2026",
    )
    sync_search_run(
        result=searchresults.result(week1, [flagged], ("A81001",)),
        rules=searchresults.RULES,
        store_import_ids=["imp-1"],
        at=timezone.now() - dt.timedelta(days=7),
    )
    case = MonitoringCase.objects.get(patient_id="P-SYNC-1")
    page = journey.page

    journey.sign_in("tech")
    journey.goto("/worklist/")
    journey.shot("worklist-week-1")
    assert page.get_by_role("link", name="P-SYNC-1").is_visible()

    # The practice records the blood test; next week's search no longer flags the patient.
    sync_search_run(
        result=searchresults.result(week1 + dt.timedelta(days=7), [], ("A81001",)),
        rules=searchresults.RULES,
        store_import_ids=["imp-2"],
        in_population=lambda keys: dict.fromkeys(keys, APPLIES),
    )
    page.reload()
    journey.shot("worklist-week-2")
    assert page.get_by_test_id("empty").is_visible()
    assert "23 November 2026" in page.get_by_test_id("data-age").inner_text()
    journey.goto(f"/cases/{case.pk}/")
    journey.shot("case-closed")
    assert page.get_by_test_id("case-status").inner_text() == "Closed"
    assert "Monitoring found done" in page.get_by_test_id("timeline").inner_text()


def test_prescription_clerk_checks_the_reactive_reminder(journey, practice):
    """Before a repeat is issued: a patient overdue and a non-responder, one due soon, another
    practice's patient (not shown) and a mistyped NHS number. No clerk role exists: whoever issues
    repeats here is a technician of the practice."""
    _named(staff(Role.TECHNICIAN, practice, username="clerk"), "Cara", "Clerk")
    other = PracticeFactory(organisation=practice.organisation, ods_code="B82002")
    overdue_nhs, due_soon_nhs, elsewhere_nhs = nhs_number(101), nhs_number(102), nhs_number(103)
    MonitoringCaseFactory(
        practice=practice,
        patient_id="P-OVERDUE",
        nhs_number=overdue_nhs,
        reason="Full blood count overdue: last 1 Jun 2026",
    )
    MonitoringCaseFactory(
        practice=practice,
        patient_id="P-OVERDUE",
        nhs_number=overdue_nhs,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        status=CaseStatus.NON_RESPONDER,
        non_responder_at=timezone.now(),
        recommended_prescription_days=14,
        reason="Lithium level overdue: last 2 May 2026",
    )
    MonitoringCaseFactory(
        practice=practice,
        patient_id="P-DUE-SOON",
        nhs_number=due_soon_nhs,
        flag_status=FlagStatus.DUE_SOON,
        reason="Full blood count due by 30 Nov 2026",
        days_overdue=None,
    )
    MonitoringCaseFactory(practice=other, patient_id="P-ELSEWHERE", nhs_number=elsewhere_nhs)
    page = journey.page

    def check(number: str) -> None:
        page.get_by_label("NHS number", exact=True).fill(number)
        page.get_by_role("button", name="Check").click()

    def result(text: str):
        found = page.get_by_test_id("reminder-result").filter(has_text=text)
        found.wait_for()  # htmx swaps the answer in place; without JavaScript the page reloads
        return found

    journey.sign_in("clerk")
    page.get_by_role("link", name="Reactive reminder").first.click()
    page.wait_for_load_state()
    journey.shot("reminder")

    mistyped = overdue_nhs[:9] + str((int(overdue_nhs[9]) + 1) % 10)
    check(mistyped)
    page.get_by_test_id("error-summary").wait_for()
    journey.shot("invalid-number")
    assert "check digit" in page.get_by_test_id("error-summary").inner_text()

    check(f"{overdue_nhs[:3]} {overdue_nhs[3:6]} {overdue_nhs[6:]}")  # spaces, as printed
    answer = result("Monitoring is OVERDUE")
    journey.shot("overdue-non-responder")
    assert "Before you issue" in answer.inner_text()
    assert "consider a 14-day prescription" in answer.inner_text()
    actions = page.get_by_role("table").filter(has_text="Open monitoring actions")
    assert "Non-responder" in actions.inner_text() and "lithium.level" in actions.inner_text()
    assert overdue_nhs not in page.url  # the NHS number travels in the form, never the address

    check(due_soon_nhs)
    answer = result("Monitoring is due soon")
    journey.shot("due-soon")
    assert "Before you issue" not in answer.inner_text()

    check(elsewhere_nhs)
    result("No open monitoring actions for this NHS number in your practices")
    journey.shot("other-practice")

    lookups = AuditEvent.objects.filter(action="viewed.reminder", actor_username="clerk")
    assert lookups.count() == 3  # the mistyped number looked nothing up
    assert not any(
        n in str(e.after) for e in lookups for n in (overdue_nhs, due_soon_nhs, elsewhere_nhs)
    )
