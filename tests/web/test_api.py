"""The REST API: authentication, the OpenAPI document, and each endpoint going through the actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.api.models import ApiToken
from rxwatch.web.api.tokens import issue_token, revoke_token
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases.models import CaseStatus, FlagStatus
from rxwatch.web.errors import PermissionDenied

from .factories import MonitoringCaseFactory, staff

SOON = (timezone.localdate() + dt.timedelta(days=5)).isoformat()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def api(client):
    """A JSON client: api.get(path, user=…), api.post(path, body, user=…)."""

    class Api:
        def get(self, path, user=None, **params):
            if user:
                client.force_login(user)
            return client.get(f"/api{path}", params)

        def post(self, path, body=None, user=None):
            if user:
                client.force_login(user)
            return client.post(f"/api{path}", body or {}, content_type="application/json")

    return Api()


def test_openapi_document_lists_the_endpoints(client):
    doc = client.get("/api/openapi.json").json()
    paths = set(doc["paths"])
    assert {
        "/api/worklist",
        "/api/cases/{case_id}",
        "/api/cases/{case_id}/contact-attempts",
        "/api/escalations/{escalation_id}/decision",
        "/api/reactive-reminder",
    } <= paths
    assert client.get("/api/docs").status_code == 200


def test_anonymous_requests_are_refused(client, case_a):
    assert client.get("/api/worklist").status_code == 401
    assert client.get(f"/api/cases/{case_a.pk}").status_code == 401
    r = client.post(
        f"/api/cases/{case_a.pk}/contact-attempts",
        {"method": "phone", "outcome": "no_answer"},
        content_type="application/json",
    )
    assert r.status_code == 401
    assert not case_a.contacts.exists()


def test_bearer_token(client, tech_a, case_a):
    token, plain = issue_token(user=tech_a, name="script")
    assert plain.startswith("rxw_") and token.key_hash != plain and plain not in token.hint * 2
    r = client.get("/api/worklist", **bearer(plain))
    assert r.status_code == 200 and r.json()["count"] == 1
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.get("/api/worklist", **bearer(plain + "x")).status_code == 401
    revoke_token(user=tech_a, token=token)
    assert client.get("/api/worklist", **bearer(plain)).status_code == 401


def test_token_of_inactive_user_is_refused(client, tech_a):
    _, plain = issue_token(user=tech_a, name="script")
    tech_a.is_active = False
    tech_a.save()
    assert client.get("/api/worklist", **bearer(plain)).status_code == 401


def test_tokens_are_managed_by_their_owner(api, tech_a, pharm_a):
    r = api.post("/tokens", {"name": "EMIS reminder"}, user=tech_a)
    assert r.status_code == 201
    body = r.json()
    assert body["token"].startswith("rxw_")
    assert [t["name"] for t in api.get("/tokens").json()] == ["EMIS reminder"]
    assert "token" not in api.get("/tokens").json()[0]
    # another user cannot revoke it
    assert api.post(f"/tokens/{body['id']}/revoke", user=pharm_a).status_code == 404
    with pytest.raises(PermissionDenied):
        revoke_token(user=pharm_a, token=ApiToken.objects.get(pk=body["id"]))
    assert api.post(f"/tokens/{body['id']}/revoke", user=tech_a).status_code == 200
    assert api.post(f"/tokens/{body['id']}/revoke").status_code == 409
    assert AuditEvent.objects.filter(action__startswith="api_token.").count() == 2


def test_me(api, pharm_a):
    body = api.get("/me", user=pharm_a).json()
    assert body == {
        "username": "pharm_a",
        "memberships": [{"organisation": "FED1", "practice": "A81001", "role": "pharmacist"}],
        "scope_of_practice": ["dmard"],
    }


def test_worklist_is_sorted_by_clinical_priority_and_audited(api, tech_a, practice_a, case_b):
    due_soon = MonitoringCaseFactory(
        practice=practice_a, flag_status=FlagStatus.DUE_SOON, days_overdue=None
    )
    overdue_a_little = MonitoringCaseFactory(practice=practice_a, days_overdue=3)
    overdue_a_lot = MonitoringCaseFactory(practice=practice_a, days_overdue=90)
    never_tested = MonitoringCaseFactory(
        practice=practice_a, days_overdue=None, due_date=None, last_date=None
    )
    oor = MonitoringCaseFactory(
        practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE, days_overdue=None
    )
    MonitoringCaseFactory(practice=practice_a, status=CaseStatus.CLOSED)
    MonitoringCaseFactory(practice=practice_a, flag_status=FlagStatus.MISSED_DIAGNOSIS)
    body = api.get("/worklist", user=tech_a).json()
    ids = [c["id"] for c in body["items"]]
    assert ids == [oor.pk, never_tested.pk, overdue_a_lot.pk, overdue_a_little.pk, due_soon.pk]
    assert body["count"] == 5 and body["data_as_of"] == "2026-11-23"
    event = AuditEvent.objects.filter(action="viewed.worklist").latest("seq")
    assert event.after["shown"] == ids and event.actor_username == "tech_a"
    # filters
    assert api.get("/worklist", flag="due_soon").json()["count"] == 1
    assert api.get("/worklist", drug_group="lithium").json()["count"] == 0
    assert api.get("/worklist", practice="B82002").json()["count"] == 0
    assert api.get("/worklist", limit=2, offset=1).json()["items"][0]["id"] == never_tested.pk


def test_case_detail_has_a_timeline_and_is_audited(api, tech_a, case_a):
    api.post(
        f"/cases/{case_a.pk}/contact-attempts",
        {"method": "sms", "outcome": "left_message", "note": "sent"},
        user=tech_a,
    )
    api.post(f"/cases/{case_a.pk}/bookings", {"date": SOON, "location": "Alpha Surgery"})
    body = api.get(f"/cases/{case_a.pk}").json()
    assert body["status"] == "booked" and body["practice"] == "A81001"
    assert [e["kind"] for e in body["timeline"]] == ["contact", "booking"]
    assert AuditEvent.objects.filter(action="viewed.case", object_id=str(case_a.pk)).exists()


def test_three_attempts_through_the_api_make_a_non_responder(api, tech_a, case_a):
    for _ in range(3):
        r = api.post(
            f"/cases/{case_a.pk}/contact-attempts",
            {"method": "phone", "outcome": "no_answer"},
            user=tech_a,
        )
        assert r.status_code == 200
    assert r.json()["status"] == "non_responder"
    assert r.json()["recommended_prescription_days"] == 14


def test_out_of_scope_dose_change_is_403_then_escalation_and_gp_decision(
    api, pharm_a, gp_a, tech_a, practice_a
):
    case = MonitoringCaseFactory(
        practice=practice_a,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        flag_status=FlagStatus.OUT_OF_RANGE,
    )
    r = api.post(
        f"/cases/{case.pk}/reviews", {"decision": "dose_adjusted", "note": "reduce"}, user=pharm_a
    )
    assert r.status_code == 403 and r.json()["code"] == "outside_scope_of_practice"
    assert case.pk in [c["id"] for c in api.get("/review-queue").json()["items"]]
    r = api.post(f"/cases/{case.pk}/escalation", {"note": "needs dose change"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert case.pk not in [c["id"] for c in api.get("/review-queue").json()["items"]]
    queue = api.get("/escalations", user=gp_a).json()
    assert queue["count"] == 1 and queue["items"][0]["case"]["id"] == case.pk
    escalation_id = queue["items"][0]["id"]
    assert (
        api.post(
            f"/escalations/{escalation_id}/decision",
            {"decision": "continue", "note": "x", "close": True},
            user=tech_a,
        ).status_code
        == 403
    )
    r = api.post(
        f"/escalations/{escalation_id}/decision",
        {"decision": "dose_adjusted", "note": "reduced", "close": True},
        user=gp_a,
    )
    assert r.status_code == 200 and r.json()["outcome"] == "closed"
    assert api.get("/escalations").json()["count"] == 0


def test_review_and_sign_off(api, pharm_a, practice_a):
    case = MonitoringCaseFactory(practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE)
    assert api.post(f"/cases/{case.pk}/sign-off", user=pharm_a).status_code == 409
    assert (
        api.post(
            f"/cases/{case.pk}/reviews", {"decision": "dose_adjusted", "note": "10 mg"}
        ).status_code
        == 200
    )
    r = api.post(f"/cases/{case.pk}/sign-off", {"note": "done"})
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_review_queue_filters_by_reason(api, pharm_a, practice_a, practice_b):
    alert = MonitoringCaseFactory(practice=practice_a, flag_status=FlagStatus.SAFETY_ALERT)
    nonresp = MonitoringCaseFactory(practice=practice_a, status=CaseStatus.NON_RESPONDER)
    MonitoringCaseFactory(practice=practice_b, flag_status=FlagStatus.SAFETY_ALERT)
    assert api.get("/review-queue", user=pharm_a).json()["count"] == 2
    body = api.get("/review-queue", reason="safety_alert").json()
    assert [c["id"] for c in body["items"]] == [alert.pk]  # not practice B's
    body = api.get("/review-queue", reason=["safety_alert", "non_responder"]).json()
    assert {c["id"] for c in body["items"]} == {alert.pk, nonresp.pk}
    assert api.get("/review-queue", reason="overdue").json()["count"] == 0
    event = AuditEvent.objects.filter(action="viewed.review_queue").latest("seq")
    assert event.after["filters"] == {"reason": ["overdue"]}


def test_errors_map_to_status_codes(api, tech_a, pharm_a, case_a):
    assert (
        api.post(
            f"/cases/{case_a.pk}/contact-attempts",
            {"method": "pigeon", "outcome": "no_answer"},
            user=tech_a,
        ).status_code
        == 422
    )
    assert api.post(f"/cases/{case_a.pk}/contact-attempts", {"method": "phone"}).status_code == 422
    r = api.post(
        f"/cases/{case_a.pk}/suppression", {"reason": "not_applicable", "review_date": SOON}
    )
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert (
        api.post(
            f"/cases/{case_a.pk}/suppression",
            {"reason": "not_applicable", "review_date": SOON},
            user=pharm_a,
        ).status_code
        == 200
    )
    assert (
        api.post(
            f"/cases/{case_a.pk}/suppression", {"reason": "not_applicable", "review_date": SOON}
        ).status_code
        == 409
    )
    assert api.get("/cases/999999").status_code == 404


def test_manual_non_responder(api, tech_a, case_a):
    assert (
        api.post(f"/cases/{case_a.pk}/non-responder", {"note": "x"}, user=tech_a).status_code == 422
    )
    api.post(f"/cases/{case_a.pk}/contact-attempts", {"method": "letter", "outcome": "no_answer"})
    r = api.post(f"/cases/{case_a.pk}/non-responder", {"note": "letter returned"})
    assert r.status_code == 200 and r.json()["status"] == "non_responder"


def test_practice_manager_and_hub_lead_read_but_do_not_act(
    api, manager_a, hub_lead, case_a, case_b
):
    assert api.get("/worklist", user=manager_a).json()["count"] == 1
    assert api.get(f"/cases/{case_a.pk}").status_code == 200
    assert (
        api.post(
            f"/cases/{case_a.pk}/contact-attempts", {"method": "phone", "outcome": "no_answer"}
        ).status_code
        == 403
    )
    body = api.get("/worklist", user=hub_lead).json()
    assert {c["practice"] for c in body["items"]} == {"A81001", "B82002"}
    assert api.post(f"/cases/{case_b.pk}/reviews", {"decision": "continue"}).status_code == 403


# --- reactive reminder ----------------------------------------------------------------------------


def test_reactive_reminder(api, tech_a, practice_a, case_b):
    overdue = MonitoringCaseFactory(practice=practice_a, nhs_number="9434765919")
    MonitoringCaseFactory(
        practice=practice_a,
        nhs_number="9434765919",
        rule_id="methotrexate.lft",
        flag_status=FlagStatus.DUE_SOON,
        status=CaseStatus.NON_RESPONDER,
        recommended_prescription_days=7,
    )
    MonitoringCaseFactory(
        practice=practice_a, nhs_number="9434765919", rule_id="x.closed", status=CaseStatus.CLOSED
    )
    r = api.post("/reactive-reminder", {"nhs_number": "943 476 5919"}, user=tech_a)
    body = r.json()
    assert r.status_code == 200
    assert (body["found"], body["monitoring_overdue"], body["monitoring_due"]) == (True, True, True)
    assert body["non_responder"] and body["recommended_prescription_days"] == 7
    assert "OVERDUE" in body["message"] and "7-day prescription" in body["message"]
    assert body["cases"][0]["id"] == overdue.pk and len(body["cases"]) == 2
    event = AuditEvent.objects.filter(action="viewed.reminder").latest("seq")
    assert "9434765919" not in str(event.after)
    # another practice's patient: nothing, not even that they exist
    other = api.post("/reactive-reminder", {"nhs_number": case_b.nhs_number}).json()
    assert other["found"] is False and other["cases"] == []
    assert other["message"] == "No open monitoring actions for this patient."


def test_activity_for_oversight_roles_only(api, tech_a, manager_a, hub_lead, case_a, case_b, org):
    from rxwatch.web.cases import actions

    actions.record_contact_attempt(user=tech_a, case=case_a, method="phone", outcome="no_answer")
    assert api.get("/activity", user=tech_a).status_code == 403
    body = api.get("/activity", user=manager_a).json()
    assert {e["practice_ods"] for e in body["items"]} == {"A81001"}
    assert body["items"][-1]["action"] == "case.contact_attempt"
    assert api.get("/activity", who="tech_a").json()["count"] == 1
    assert api.get("/activity", practice="B82002").json()["count"] == 0
    # a hub lead sees every practice of the organisation
    pharm_b = staff("pharmacist", case_b.practice)
    actions.suppress_case(
        user=pharm_b,
        case=case_b,
        reason="not_applicable",
        review_date=timezone.localdate() + dt.timedelta(days=9),
    )
    practices = {e["practice_ods"] for e in api.get("/activity", user=hub_lead).json()["items"]}
    assert practices == {"A81001", "B82002"}
