"""The HTML pages with Django's test client: each renders, filters filter, forms show their errors at
the top, the domain's refusals reach the user, and another practice's case is a 404 on every page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases import actions
from rxwatch.web.cases.models import CaseStatus, FlagStatus, MonitoringCase
from rxwatch.web.organisations.models import Membership, Role
from rxwatch.web.reviews import actions as review_actions
from rxwatch.web.reviews.models import Escalation

from .factories import MonitoringCaseFactory, PracticeFactory, staff
from .searchresults import close_by_search

pytestmark = pytest.mark.django_db

CASE_PAGES = (
    "case",
    "contact_attempt",
    "booking",
    "non_responder",
    "suppress",
    "review",
    "sign_off",
    "escalate",
)
LIST_PAGES = ("home", "worklist", "review_queue", "escalations", "reminder")


def url(name: str, **kw) -> str:
    return reverse(name, kwargs=kw or None)


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def out_of_range_a(practice_a):
    return MonitoringCaseFactory(
        practice=practice_a,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="methotrexate.alt",
        reason="ALT 112 U/L is above 100",
        last_value=112.0,
        days_overdue=None,
    )


# --- signing in ----------------------------------------------------------------------------------


def test_pages_need_sign_in(client, case_a):
    for name in LIST_PAGES:
        response = client.get(url(name))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    response = client.get(url("case", case_id=case_a.pk))
    assert response.status_code == 302


def test_sign_in_page_and_error_summary(client, tech_a):
    assert "Sign in to RxWatch" in html(client.get(url("login")))
    response = client.post(url("login"), {"username": "tech_a", "password": "wrong"})
    page = html(response)
    assert "There is a problem" in page and 'href="#id_username"' in page
    response = client.post(url("login"), {"username": "tech_a", "password": "password"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_header_shows_name_role_and_sign_out(client, tech_a):
    client.force_login(tech_a)
    page = html(client.get(url("home")))
    assert "Pharmacy technician" in page and tech_a.last_name in page
    assert 'action="/accounts/logout/"' in page
    assert 'class="nhsuk-skip-link" href="#maincontent"' in page
    assert client.post(url("logout")).status_code == 302


# --- each page renders for the roles that use it ---------------------------------------------------


@pytest.mark.parametrize("who", ["tech_a", "pharm_a", "gp_a", "manager_a", "hub_lead"])
def test_every_page_renders_for_every_role(client, request, who, case_a):
    user = request.getfixturevalue(who)
    client.force_login(user)
    for name in LIST_PAGES:
        assert client.get(url(name)).status_code == 200, name
    for name in CASE_PAGES:
        assert client.get(url(name, case_id=case_a.pk)).status_code == 200, name


def test_home_counts_and_data_age(client, tech_a, case_a, out_of_range_a):
    client.force_login(tech_a)
    page = html(client.get(url("home")))
    assert 'data-testid="worklist-total">2<' in page
    assert f"search of {case_a.last_seen_run.as_of:%-d %B %Y}" in page


def test_home_shows_each_role_its_queue(client, gp_a, pharm_a, hub_lead, case_a):
    client.force_login(gp_a)
    page = html(client.get(url("home")))
    assert "escalation-total" in page and "worklist-total" not in page
    client.force_login(pharm_a)
    assert "review-total" in html(client.get(url("home")))
    client.force_login(hub_lead)
    page = html(client.get(url("home")))
    assert all(k in page for k in ("worklist-total", "review-total", "escalation-total"))


# --- the worklist ---------------------------------------------------------------------------------


def test_worklist_sorted_by_priority_then_days_overdue(client, tech_a, practice_a):
    late = MonitoringCaseFactory(practice=practice_a, days_overdue=200, patient_id="LATE")
    soon = MonitoringCaseFactory(
        practice=practice_a, flag_status=FlagStatus.DUE_SOON, days_overdue=None, patient_id="SOON"
    )
    bad = MonitoringCaseFactory(
        practice=practice_a,
        flag_status=FlagStatus.OUT_OF_RANGE,
        days_overdue=None,
        patient_id="BAD",
    )
    less = MonitoringCaseFactory(practice=practice_a, days_overdue=10, patient_id="LESS")
    client.force_login(tech_a)
    page = html(client.get(url("worklist")))
    order = [page.index(f">{c.patient_id}<") for c in (bad, late, less, soon)]
    assert order == sorted(order)


def test_worklist_filters(client, hub_lead, practice_a, practice_b):
    MonitoringCaseFactory(practice=practice_a, patient_id="A-DMARD")
    MonitoringCaseFactory(
        practice=practice_b,
        patient_id="B-LITHIUM",
        drug_group="lithium",
        rule_id="lithium.level",
        flag_status=FlagStatus.DUE_SOON,
    )
    booked = MonitoringCaseFactory(
        practice=practice_a, patient_id="A-BOOKED", status=CaseStatus.BOOKED
    )
    client.force_login(hub_lead)
    page = html(client.get(url("worklist")))
    assert all(p in page for p in ("A-DMARD", "B-LITHIUM", "A-BOOKED"))
    page = html(client.get(url("worklist"), {"practice": "B82002"}))
    assert "B-LITHIUM" in page and "A-DMARD" not in page
    page = html(client.get(url("worklist"), {"drug_group": "dmard"}))
    assert "A-DMARD" in page and "B-LITHIUM" not in page
    page = html(client.get(url("worklist"), {"flag": "due_soon"}))
    assert "B-LITHIUM" in page and "A-DMARD" not in page
    page = html(client.get(url("worklist"), {"stage": "booked"}))
    assert booked.patient_id in page and "A-DMARD" not in page


def test_worklist_paginates(client, tech_a, practice_a):
    for i in range(55):
        MonitoringCaseFactory(practice=practice_a, days_overdue=100 + i)
    client.force_login(tech_a)
    page = html(client.get(url("worklist")))
    assert "55 cases: 1 to 50" in page and 'rel="next"' in page
    page = html(client.get(url("worklist"), {"page": 2}))
    assert "51 to 55" in page and 'rel="prev"' in page


def test_worklist_htmx_returns_only_the_results(client, tech_a, case_a):
    client.force_login(tech_a)
    response = client.get(url("worklist"), HTTP_HX_REQUEST="true")
    page = html(response)
    assert page.lstrip().startswith('<div id="results"') and "<html" not in page


def test_worklist_view_is_audited_without_patient_identifiers(client, tech_a, case_a):
    client.force_login(tech_a)
    client.get(url("worklist"))
    event = AuditEvent.objects.get(action="viewed.worklist")
    assert event.actor_username == "tech_a" and event.after["shown"] == [case_a.pk]
    assert case_a.nhs_number not in str(event.after) and case_a.patient_id not in str(event.after)


def test_worklist_shows_attempts_so_far(client, tech_a, case_a):
    actions.record_contact_attempt(user=tech_a, case=case_a, method="sms", outcome="no_answer")
    client.force_login(tech_a)
    page = html(client.get(url("worklist")))
    assert "Attempts </span>1<" in page


def test_practice_switcher_sets_the_default_practice(client, practice_a, practice_b):
    user = staff(Role.TECHNICIAN, practice_a, username="two_practices")
    Membership.objects.create(
        user=user, organisation=practice_b.organisation, practice=practice_b, role=Role.TECHNICIAN
    )
    MonitoringCaseFactory(practice=practice_a, patient_id="IN-A")
    MonitoringCaseFactory(practice=practice_b, patient_id="IN-B")
    client.force_login(user)
    page = html(client.get(url("worklist")))
    assert "practice-switcher" in page and "IN-A" in page and "IN-B" in page
    response = client.post(url("switch_practice"), {"practice": "B82002", "next": "/worklist/"})
    assert response["Location"] == "/worklist/"
    page = html(client.get(url("worklist")))
    assert "IN-B" in page and "IN-A" not in page
    client.post(url("switch_practice"), {"practice": "NOT-MINE"})
    assert "IN-A" in html(client.get(url("worklist")))


# --- the case page --------------------------------------------------------------------------------


def test_case_page_shows_rule_reason_timeline_and_is_audited(client, tech_a, case_a):
    actions.record_contact_attempt(
        user=tech_a, case=case_a, method="phone", outcome="left_message", note="voicemail"
    )
    client.force_login(tech_a)
    page = html(client.get(url("case", case_id=case_a.pk)))
    assert case_a.reason in page and "Methotrexate" in page
    assert "Contact by phone: left a message" in page and "voicemail" in page
    assert "Record a contact attempt" in page and "Book bloods" in page
    assert AuditEvent.objects.filter(action="viewed.case", object_id=str(case_a.pk)).exists()


def test_nhs_number_only_for_roles_that_need_it(client, tech_a, manager_a, hub_lead, case_a):
    shown = f"{case_a.nhs_number[:3]} {case_a.nhs_number[3:6]} {case_a.nhs_number[6:]}"
    client.force_login(tech_a)
    assert shown in html(client.get(url("case", case_id=case_a.pk)))
    assert shown in html(client.get(url("worklist")))
    for oversight in (manager_a, hub_lead):
        client.force_login(oversight)
        assert shown not in html(client.get(url("case", case_id=case_a.pk)))
        assert shown not in html(client.get(url("worklist")))


def test_read_only_roles_see_no_forms_and_cannot_act(client, manager_a, hub_lead, case_a):
    for user in (manager_a, hub_lead):
        client.force_login(user)
        page = html(client.get(url("case", case_id=case_a.pk)))
        assert "Record attempt" not in page and "your role does not record work" in page
        response = client.post(
            url("contact_attempt", case_id=case_a.pk), {"method": "sms", "outcome": "no_answer"}
        )
        assert response.status_code == 403
    assert not case_a.contacts.exists()


def test_non_responder_banner(client, tech_a, case_a):
    for _ in range(3):
        actions.record_contact_attempt(
            user=tech_a, case=case_a, method="phone", outcome="no_answer"
        )
    client.force_login(tech_a)
    page = html(client.get(url("case", case_id=case_a.pk)))
    assert 'data-testid="non-responder-banner"' in page and "<strong>14 days</strong>" in page


# --- recall forms -------------------------------------------------------------------------------


def test_contact_attempt_errors_link_to_fields(client, tech_a, case_a):
    client.force_login(tech_a)
    response = client.post(url("contact_attempt", case_id=case_a.pk), {"note": "x"})
    page = html(response)
    assert response.status_code == 200 and "There is a problem" in page
    assert 'href="#id_method_0">Select how you contacted the patient' in page
    assert 'href="#id_outcome_0">Select the outcome of the contact' in page
    assert "<title>Error: " in page
    assert not case_a.contacts.exists()


def test_contact_attempt_recorded(client, tech_a, case_a):
    client.force_login(tech_a)
    response = client.post(
        url("contact_attempt", case_id=case_a.pk), {"method": "sms", "outcome": "booked"}
    )
    assert response.status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.BOOKED


def test_booking_form_errors(client, tech_a, case_a):
    client.force_login(tech_a)
    page = html(
        client.post(
            url("booking", case_id=case_a.pk),
            {"date_0": "31", "date_1": "2", "date_2": "2027", "location": ""},
        )
    )
    assert "Enter a real date" in page and 'href="#id_date_0"' in page
    assert "Enter where the test is booked" in page
    past = timezone.localdate() - dt.timedelta(days=3)
    page = html(
        client.post(
            url("booking", case_id=case_a.pk),
            {"date_0": past.day, "date_1": past.month, "date_2": past.year, "location": "Practice"},
        )
    )
    assert "the booking date is in the past" in page  # the domain's refusal, shown on the form
    soon = timezone.localdate() + dt.timedelta(days=5)
    response = client.post(
        url("booking", case_id=case_a.pk),
        {"date_0": soon.day, "date_1": soon.month, "date_2": soon.year, "location": "Practice"},
    )
    assert response.status_code == 302 and case_a.bookings.get().date == soon


def test_suppression_needs_a_pharmacist(client, tech_a, pharm_a, case_a):
    review = timezone.localdate() + dt.timedelta(days=90)
    data = {
        "reason": "monitored_elsewhere",
        "note": "Hospital rheumatology clinic",
        "review_date_0": review.day,
        "review_date_1": review.month,
        "review_date_2": review.year,
    }
    client.force_login(tech_a)
    assert client.post(url("suppress", case_id=case_a.pk), data).status_code == 403
    client.force_login(pharm_a)
    too_far = review + dt.timedelta(days=400)
    page = html(
        client.post(
            url("suppress", case_id=case_a.pk),
            {
                **data,
                "review_date_0": too_far.day,
                "review_date_1": too_far.month,
                "review_date_2": too_far.year,
            },
        )
    )
    assert "within a year" in page
    assert client.post(url("suppress", case_id=case_a.pk), data).status_code == 302
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.SUPPRESSED


def test_mark_non_responder_by_hand(client, tech_a, case_a):
    client.force_login(tech_a)
    page = html(client.post(url("non_responder", case_id=case_a.pk), {"note": "No phone"}))
    assert "record at least one contact attempt" in page
    actions.record_contact_attempt(user=tech_a, case=case_a, method="letter", outcome="no_answer")
    assert (
        client.post(
            url("non_responder", case_id=case_a.pk), {"note": "Letters returned"}
        ).status_code
        == 302
    )


# --- review, sign-off, escalation, GP decision --------------------------------------------------


def test_review_queue_lists_out_of_range_and_non_responders(
    client, pharm_a, tech_a, case_a, out_of_range_a
):
    client.force_login(pharm_a)
    page = html(client.get(url("review_queue")))
    assert out_of_range_a.patient_id in page and case_a.patient_id not in page
    for _ in range(3):
        actions.record_contact_attempt(user=tech_a, case=case_a, method="sms", outcome="no_answer")
    page = html(client.get(url("review_queue")))
    assert case_a.patient_id in page and "recommend 14-day prescriptions" in page
    assert AuditEvent.objects.filter(action="viewed.review_queue").count() == 2


def test_review_queue_filters_by_reason(client, pharm_a, practice_a, practice_b, hub_lead):
    MonitoringCaseFactory(
        practice=practice_a, patient_id="A-ALERT", flag_status=FlagStatus.SAFETY_ALERT
    )
    MonitoringCaseFactory(
        practice=practice_a, patient_id="A-NONRESP", status=CaseStatus.NON_RESPONDER
    )
    MonitoringCaseFactory(
        practice=practice_b, patient_id="B-ALERT", flag_status=FlagStatus.SAFETY_ALERT
    )
    client.force_login(pharm_a)
    page = html(client.get(url("review_queue")))
    assert 'id="filter-reason"' in page and 'name="reason"' in page
    assert "A-ALERT" in page and "A-NONRESP" in page
    page = html(client.get(url("review_queue"), {"reason": "safety_alert"}))
    assert "A-ALERT" in page and "A-NONRESP" not in page and "B-ALERT" not in page
    assert '<option value="safety_alert" selected>Safety alert</option>' in page
    event = AuditEvent.objects.filter(action="viewed.review_queue").latest("seq")
    assert event.after["filters"]["reason"] == "safety_alert"
    page = html(client.get(url("review_queue"), {"reason": "missed_diagnosis"}))
    assert "No cases match these filters." in page
    # an unknown reason is ignored: the whole queue, and the select says so
    page = html(client.get(url("review_queue"), {"reason": "overdue"}))
    assert "A-ALERT" in page and "A-NONRESP" in page
    assert '<option value="" selected>All reasons</option>' in page
    # a hub role filters across its practices, and by practice too
    client.force_login(hub_lead)
    page = html(client.get(url("review_queue"), {"reason": "safety_alert"}))
    assert "A-ALERT" in page and "B-ALERT" in page and "A-NONRESP" not in page
    page = html(client.get(url("review_queue"), {"reason": "safety_alert", "practice": "B82002"}))
    assert "B-ALERT" in page and "A-ALERT" not in page


def test_review_note_required(client, pharm_a, out_of_range_a):
    client.force_login(pharm_a)
    page = html(
        client.post(url("review", case_id=out_of_range_a.pk), {"decision": "treatment_paused"})
    )
    assert 'href="#id_note">Enter a note explaining the decision' in page


def test_review_in_scope_then_sign_off(client, pharm_a, out_of_range_a):
    client.force_login(pharm_a)
    response = client.post(
        url("review", case_id=out_of_range_a.pk),
        {"decision": "dose_adjusted", "note": "Reduced", "dose_change": "on"},
    )
    assert response.status_code == 302
    page = html(client.get(url("case", case_id=out_of_range_a.pk)))
    assert "Sign off and close the case" in page
    assert client.post(url("sign_off", case_id=out_of_range_a.pk), {}).status_code == 302
    out_of_range_a.refresh_from_db()
    assert out_of_range_a.status == CaseStatus.CLOSED


def test_out_of_scope_dose_change_refused_with_escalation_offered(client, pharm_a, lithium_a):
    client.force_login(pharm_a)
    response = client.post(
        url("review", case_id=lithium_a.pk),
        {"decision": "dose_adjusted", "note": "Reduce to 600 mg"},
    )
    page = html(response)
    assert "outside your scope of practice" in page and 'href="#escalate"' in page
    assert f'action="/cases/{lithium_a.pk}/escalate/"' in page and "Reduce to 600 mg" in page
    assert page.count('id="id_note"') == 1  # the escalation form's note has its own id
    assert not lithium_a.reviews.exists()
    response = client.post(url("escalate", case_id=lithium_a.pk), {"note": "Reduce to 600 mg"})
    assert response.status_code == 302
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.ESCALATED


def test_escalate_note_required(client, pharm_a, lithium_a):
    client.force_login(pharm_a)
    page = html(client.post(url("escalate", case_id=lithium_a.pk), {"note": ""}))
    assert "Enter a note for the GP" in page


def test_gp_decision(client, pharm_a, gp_a, lithium_a):
    escalation = review_actions.escalate_to_gp(user=pharm_a, case=lithium_a, note="Please review")
    client.force_login(gp_a)
    page = html(client.get(url("escalations")))
    assert lithium_a.patient_id in page and "Please review" in page
    target = url("gp_decision", escalation_id=escalation.pk)
    page = html(client.post(target, {"decision": "continue"}))
    assert "Enter a note explaining the decision" in page and "Select close or return" in page
    response = client.post(target, {"decision": "continue", "note": "Fine", "outcome": "return"})
    assert response.status_code == 302
    lithium_a.refresh_from_db()
    assert lithium_a.status == CaseStatus.IN_REVIEW
    assert Escalation.objects.get(pk=escalation.pk).outcome == "returned"


def test_pharmacist_cannot_decide_for_a_gp(client, pharm_a, lithium_a):
    escalation = review_actions.escalate_to_gp(user=pharm_a, case=lithium_a, note="Please review")
    client.force_login(pharm_a)
    response = client.post(
        url("gp_decision", escalation_id=escalation.pk),
        {"decision": "continue", "note": "x", "outcome": "close"},
    )
    assert response.status_code == 403


# --- access: another practice's case is a 404 everywhere -----------------------------------------


def test_other_practices_cases_are_404_on_every_page(
    client, tech_a, pharm_a, gp_a, manager_a, case_b
):
    other_pharm = staff(Role.PHARMACIST, case_b.practice, scope=("dmard",), username="pharm_b")
    case_b.flag_status = FlagStatus.OUT_OF_RANGE
    case_b.save()
    escalation = review_actions.escalate_to_gp(user=other_pharm, case=case_b, note="B only")
    for user in (tech_a, pharm_a, gp_a, manager_a):
        client.force_login(user)
        for name in CASE_PAGES:
            assert client.get(url(name, case_id=case_b.pk)).status_code == 404, name
            assert client.post(url(name, case_id=case_b.pk), {"note": "x"}).status_code == 404
        target = url("gp_decision", escalation_id=escalation.pk)
        assert client.get(target).status_code == 404
        assert (
            client.post(
                target, {"decision": "continue", "note": "x", "outcome": "close"}
            ).status_code
            == 404
        )
        for name in ("worklist", "review_queue", "escalations"):
            assert "Practice B secret reason" not in html(client.get(url(name)))
            assert "B only" not in html(client.get(url(name)))
    case_b.refresh_from_db()
    assert case_b.status == CaseStatus.ESCALATED and not case_b.contacts.exists()


# --- reactive reminder ------------------------------------------------------------------------


def test_reminder_validates_and_is_audited(client, tech_a, case_a, case_b):
    client.force_login(tech_a)
    page = html(client.post(url("reminder"), {"nhs_number": "123"}))
    assert 'href="#id_nhs_number">NHS number must be 10 digits' in page
    bad_check = case_a.nhs_number[:9] + str((int(case_a.nhs_number[9]) + 1) % 10)
    assert "check digit" in html(client.post(url("reminder"), {"nhs_number": bad_check}))
    spaced = f"{case_a.nhs_number[:3]} {case_a.nhs_number[3:6]} {case_a.nhs_number[6:]}"
    page = html(client.post(url("reminder"), {"nhs_number": spaced}))
    assert "Monitoring is OVERDUE" in page and f"/cases/{case_a.pk}/" in page
    page = html(client.post(url("reminder"), {"nhs_number": case_b.nhs_number}))
    assert "No open monitoring actions" in page  # practice B's patient: not this user's
    events = AuditEvent.objects.filter(action="viewed.reminder")
    assert events.count() == 2
    assert all(case_a.nhs_number not in str(e.after) for e in events)


def test_reminder_lookup_is_post_only(client, tech_a, case_a):
    client.force_login(tech_a)
    page = html(client.get(url("reminder"), {"nhs_number": case_a.nhs_number}))
    assert "Monitoring is OVERDUE" not in page


# --- who did what ---------------------------------------------------------------------------------


def test_activity_for_managers_only_and_their_practices(client, tech_a, manager_a, case_a, case_b):
    actions.record_contact_attempt(user=tech_a, case=case_a, method="sms", outcome="no_answer")
    other = staff(Role.TECHNICIAN, case_b.practice, username="tech_b")
    actions.record_contact_attempt(user=other, case=case_b, method="sms", outcome="no_answer")
    client.force_login(tech_a)
    assert client.get(url("activity")).status_code == 403
    client.force_login(manager_a)
    page = html(client.get(url("activity")))
    assert "tech_a" in page and "Contact attempt" in page and "tech_b" not in page
    page = html(client.get(url("activity"), {"kind": "views"}))
    assert "Contact attempt" not in page.split("Apply filters", 1)[1]
    assert "tech_a" in html(client.get(url("activity"), {"who": "tech_a"}))


def test_activity_only_where_the_viewer_has_an_oversight_role(client, manager_a, case_a, case_b):
    """A practice manager at A who is only a technician at B sees A's trail, not B's."""
    Membership.objects.create(
        user=manager_a,
        organisation=case_b.practice.organisation,
        practice=case_b.practice,
        role=Role.TECHNICIAN,
    )
    other = staff(Role.TECHNICIAN, case_b.practice, username="tech_b")
    actions.record_contact_attempt(user=other, case=case_b, method="sms", outcome="no_answer")
    client.force_login(manager_a)
    assert "tech_b" not in html(client.get(url("activity"), {"practice": ""}))
    assert "tech_b" not in html(client.get(url("activity"), {"practice": "B82002"}))


def test_hub_lead_sees_all_practices_activity(client, hub_lead, case_a, case_b):
    other = staff(Role.TECHNICIAN, case_b.practice, username="tech_b")
    actions.record_contact_attempt(user=other, case=case_b, method="sms", outcome="no_answer")
    client.force_login(hub_lead)
    page = html(client.get(url("activity"), {"practice": "B82002"}))
    assert "tech_b" in page


def test_practice_of_another_organisation_is_invisible(client, hub_lead):
    stranger = PracticeFactory(ods_code="Z99999")
    case = MonitoringCaseFactory(practice=stranger)
    client.force_login(hub_lead)
    assert client.get(url("case", case_id=case.pk)).status_code == 404
    assert MonitoringCase.objects.filter(pk=case.pk).exists()


def test_activity_people_only_hides_the_search(client, hub_lead, tech_a, case_a):
    actions.record_contact_attempt(user=tech_a, case=case_a, method="sms", outcome="no_answer")
    close_by_search(case_a)  # an event of the search (the system), for the filter to hide
    client.force_login(hub_lead)
    everyone = html(client.get(url("activity"), {"kind": ""})).split("Apply filters", 1)[1]
    assert ">system<" in everyone
    page = html(client.get(url("activity"), {"kind": "people"}))
    table = page.split("Apply filters", 1)[1]
    assert "tech_a" in table and ">system<" not in table
