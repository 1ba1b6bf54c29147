"""A user of practice A can neither read nor change practice B's cases through ANY URL.

The URL patterns are enumerated from the resolver (HTML pages and every API operation alike), never
hand-picked: a new view is covered the day it is added. Object ids in paths follow the convention
``case_id`` / ``escalation_id`` / ``token_id``; a new kind of path parameter fails this test until it
is added to ``object_ids`` below, so nobody can add an unchecked one by accident.

For each pattern, each user of practice A (every role) and a hub lead of another organisation sends GET
and POST with B's ids (and ``?practice=B82002``), with one payload that satisfies every action's form.
Each response must be a refusal (403/404/405, or a redirect) or carry none of B's patient data; after
all of it, B's case is unchanged and no audit event names it. A control run with A's own ids proves
the requests reach real views.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from rxwatch.web.api.models import ApiToken
from rxwatch.web.api.tokens import issue_token
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases.models import CaseStatus, MonitoringCase
from rxwatch.web.organisations.models import Role
from rxwatch.web.reviews import actions as reviews

from .factories import MonitoringCaseFactory, OrganisationFactory, PracticeFactory, staff

SKIP_PREFIXES = ("static/", "assets/")  # files, not data
PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def walk(patterns, prefix: str = ""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def all_routes() -> list[str]:
    routes = sorted({route for route, _ in walk(get_resolver().url_patterns)})
    return [r for r in routes if not r.lstrip("^").startswith(SKIP_PREFIXES)]


def build(route: str, ids: dict[str, object]) -> str:
    """A concrete URL for ``route`` (path() syntax or a regex), with ``ids`` for its parameters."""

    def sub(m: re.Match) -> str:
        name = m["name"] or m["rname"]
        if name not in ids:
            raise KeyError(name)
        return str(ids[name])

    url = PARAM.sub(sub, route)
    url = url.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + url


@pytest.fixture
def world(practice_a, practice_b, tech_a, pharm_a, gp_a, manager_a):
    """Practice B's case, escalation and token; practice A's equivalents for the control."""
    pharm_b = staff(Role.PHARMACIST, practice_b, scope=("dmard",), username="pharm_b")
    case_b = MonitoringCaseFactory(
        practice=practice_b, reason="Practice B secret reason", patient_id="SECRET-B-PATIENT"
    )
    escalated_b = MonitoringCaseFactory(
        practice=practice_b, reason="Practice B secret reason", patient_id="SECRET-B-PATIENT-2"
    )
    escalation_b = reviews.escalate_to_gp(user=pharm_b, case=escalated_b, note="B escalation")
    token_b, _ = issue_token(user=pharm_b, name="B's script")

    case_a = MonitoringCaseFactory(practice=practice_a)
    escalated_a = MonitoringCaseFactory(practice=practice_a)
    escalation_a = reviews.escalate_to_gp(user=pharm_a, case=escalated_a, note="A escalation")
    token_a, _ = issue_token(user=pharm_a, name="A's script")

    other_org = OrganisationFactory(code="ORG2")
    PracticeFactory(organisation=other_org, ods_code="C83003")
    outsider = staff(Role.HUB_LEAD, organisation=other_org, username="other_hub")
    return {
        "b": {"case_id": case_b.pk, "escalation_id": escalation_b.pk, "token_id": token_b.pk},
        "a": {"case_id": case_a.pk, "escalation_id": escalation_a.pk, "token_id": token_a.pk},
        "b_cases": [case_b, escalated_b],
        "b_nhs": [case_b.nhs_number, escalated_b.nhs_number],
        "users": [tech_a, pharm_a, gp_a, manager_a, outsider],
    }


def object_ids(ids: dict) -> dict[str, object]:
    """Every path parameter an URL may have. Admin parameters get harmless values: the admin is
    for staff only and holds no patient data (see organisations/admin.py)."""
    return {
        **ids,
        "app_label": "organisations",
        "id": "1",
        "object_id": "1",
        "content_type_id": "1",
        "url": "x",
        "path": "x",
    }


def payload(nhs_number: str) -> dict:
    """One body that satisfies every action's form or schema (extra keys are ignored)."""
    soon = timezone.localdate() + dt.timedelta(days=7)
    return {
        "method": "phone",
        "outcome": "no_answer",
        "note": "access test",
        "date": soon.isoformat(),
        "location": "Surgery",
        "decision": "continue",
        "dose_change": False,
        "close": True,
        "reason": "not_applicable",
        "review_date": soon.isoformat(),
        "nhs_number": nhs_number,
        "name": "access test",
    }


def send(client, method: str, url: str, body: dict):
    if method == "get":
        return client.get(url, {"practice": "B82002"})
    if url.startswith("/api/"):
        return client.post(url, body, content_type="application/json")
    return client.post(url, body)


def test_every_url_refuses_another_practices_cases(client, world):
    routes = all_routes()
    assert any(r.startswith("api/") for r in routes) and len(routes) > 10
    b_ids = object_ids(world["b"])
    for c in world["b_cases"]:
        c.refresh_from_db()
    before = {c.pk: (c.status, c.contacts.count(), c.reviews.count()) for c in world["b_cases"]}
    b_events_before = AuditEvent.objects.filter(
        object_type="case", object_id__in=[str(c.pk) for c in world["b_cases"]]
    ).count()
    leaks = []
    for user in world["users"]:
        client.force_login(user)
        for route in routes:
            try:
                url = build(route, b_ids)
            except KeyError as exc:
                pytest.fail(
                    f"URL {route!r} has a path parameter {exc} the access test does not "
                    "know: add it to object_ids()"
                )
            for method in ("get", "post"):
                r = send(client, method, url, payload(world["b_nhs"][0]))
                if r.status_code in (403, 404, 405) or 300 <= r.status_code < 400:
                    continue
                body = r.content.decode("utf-8", "replace")
                markers = ["SECRET-B-PATIENT", "Practice B secret reason"]
                if method == "get":
                    markers += world["b_nhs"]
                found = [m for m in markers if m in body]
                if found or r.status_code >= 500:
                    leaks.append((user.username, method.upper(), url, r.status_code, found))
        client.logout()
    assert not leaks, f"practice B's data reached practice A's users: {leaks}"

    for case in world["b_cases"]:
        case.refresh_from_db()
        assert (case.status, case.contacts.count(), case.reviews.count()) == before[case.pk]
    assert world["b_cases"][1].status == CaseStatus.ESCALATED
    assert (
        AuditEvent.objects.filter(
            object_type="case", object_id__in=[str(c.pk) for c in world["b_cases"]]
        ).count()
        == b_events_before
    )
    assert ApiToken.objects.filter(pk=world["b"]["token_id"], revoked_at__isnull=True).exists()


def test_control_the_same_urls_reach_practice_as_own_objects(client, world, pharm_a):
    """Without this, a test that sees only 404s could be passing because every URL is broken."""
    a_ids = object_ids(world["a"])
    client.force_login(pharm_a)
    reached = {}
    for route in all_routes():
        names = {m["name"] or m["rname"] for m in PARAM.finditer(route)}
        if not names & {"case_id", "escalation_id", "token_id"}:
            continue
        url = build(route, a_ids)
        r = send(client, "get", url, {})
        if r.status_code == 405:
            r = send(client, "post", url, payload(""))
        reached[route] = r.status_code
    not_found = {route: code for route, code in reached.items() if code == 404}
    assert reached and not not_found, f"own objects not found through: {not_found}"


def test_case_querysets_only_return_own_practices(world, practice_a):
    for user in world["users"]:
        visible = set(MonitoringCase.objects.visible_to(user).values_list("practice_id", flat=True))
        assert visible <= {practice_a.pk}
