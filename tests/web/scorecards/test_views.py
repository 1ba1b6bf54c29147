"""Scorecard pages: practice, organisation (matrix, funnel, 12 months), drill-down with access."""

from __future__ import annotations

import datetime as dt

import pytest

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases.models import FlagStatus, SearchRun

from ..factories import MonitoringCaseFactory

Q = "?month=2026-06"


@pytest.fixture
def flagged(year_of_runs, practice_a, practice_b):
    """Cases behind A's and B's pincer.gi_p3a cells in June (and one closed in May at A)."""
    june = SearchRun.objects.get(as_of=dt.date(2026, 6, 28))
    may = SearchRun.objects.get(as_of=dt.date(2026, 5, 29))
    mk = dict(rule_id="pincer.gi_p3a", rule="pincer.gi_p3a", drug_group="nsaid")
    a = [
        MonitoringCaseFactory(
            practice=practice_a,
            patient_id=f"A-GI-{i}",
            flag_status=FlagStatus.SAFETY_ALERT,
            first_flagged_run=may,
            last_seen_run=june,
            **mk,
        )
        for i in range(3)
    ]
    old = MonitoringCaseFactory(
        practice=practice_a,
        patient_id="A-GI-OLD",
        status="closed",
        first_flagged_run=may,
        last_seen_run=may,
        **mk,
    )
    b = MonitoringCaseFactory(
        practice=practice_b,
        patient_id="SECRET-B-GI",
        first_flagged_run=june,
        last_seen_run=june,
        **mk,
    )
    return a, old, b


def test_practice_scorecard_page(client, manager_a, year_of_runs):
    client.force_login(manager_a)
    r = client.get("/scorecards/" + Q)
    body = r.content.decode()
    assert r.status_code == 200
    assert "Alpha Surgery" in body and "40 / 50" in body and "80.0%" in body
    assert "Near target" in body and "Below target" in body  # words, not only colour
    assert "<svg" in body and 'data-testid="history-1"' in body
    assert "Jul 25" in body and "Jun 26" in body  # 12 months
    assert client.get("/scorecards/?practice=B82002&month=2026-06").status_code == 404


def test_organisation_view_for_hub_lead(client, hub_lead, year_of_runs):
    client.force_login(hub_lead)
    r = client.get("/scorecards/organisation/" + Q + "&indicator=methotrexate.fbc")
    body = r.content.decode()
    assert r.status_code == 200
    assert body.count('data-practice="A81001"') == 3 and 'data-practice="B82002"' in body
    assert 'data-testid="funnel"' in body and "<svg" in body and "99.8%" in body
    league = body.split('data-testid="league"')[1].split("</table>")[0]
    assert league.index("B82002") < league.index("A81001")
    assert "outside 95%" in league
    history = body.split('data-testid="org-history"')[1].split("</table>")[0]
    assert history.count("<tr") == 3  # header + two practices
    assert history.count('data-rag="') == 24


def test_drill_down_lands_on_the_patients_behind_the_cell(client, hub_lead, flagged):
    a, _old, _b = flagged
    client.force_login(hub_lead)
    r = client.get("/scorecards/patients/?practice=A81001&indicator=pincer.gi_p3a&month=2026-06")
    body = r.content.decode()
    assert r.status_code == 200
    for c in a:
        assert c.patient_id in body
    assert "A-GI-OLD" not in body and "SECRET-B-GI" not in body
    assert "6 / 30" in body and "Below target" in body
    event = AuditEvent.objects.get(action="viewed.scorecard_patients")
    assert event.practice_ods == "A81001" and sorted(event.after["shown"]) == sorted(
        c.pk for c in a
    )
    # in May the closed case was flagged too
    r = client.get("/scorecards/patients/?practice=A81001&indicator=pincer.gi_p3a&month=2026-05")
    assert "A-GI-OLD" in r.content.decode()


def test_drill_down_respects_access(client, manager_a, flagged):
    client.force_login(manager_a)
    url = "/scorecards/patients/?practice=B82002&indicator=pincer.gi_p3a&month=2026-06"
    r = client.get(url)
    assert r.status_code == 404 and b"SECRET-B-GI" not in r.content
    r = client.get("/scorecards/organisation/" + Q)
    assert b"B82002" not in r.content


def test_workflow_measures_page(client, hub_lead, tech_a, case_a):
    from rxwatch.web.cases import actions

    actions.record_contact_attempt(user=tech_a, case=case_a, method="phone", outcome="no_answer")
    client.force_login(hub_lead)
    month = dt.date.today().strftime("%Y-%m")
    r = client.get(f"/scorecards/workflow/?month={month}")
    body = r.content.decode()
    assert r.status_code == 200
    staff = body.split('data-testid="workflow-staff"')[1]
    assert "tech_a" in staff or tech_a.get_full_name() in staff


def test_monitoring_drill_down_lists_the_overdue_only(client, hub_lead, year_of_runs, practice_a):
    june = SearchRun.objects.get(as_of=dt.date(2026, 6, 28))
    for pid, flag in (("OVERDUE-1", "overdue"), ("SOON-1", "due_soon"), ("OOR-1", "out_of_range")):
        MonitoringCaseFactory(
            practice=practice_a,
            patient_id=pid,
            flag_status=flag,
            first_flagged_run=june,
            last_seen_run=june,
        )
    client.force_login(hub_lead)
    r = client.get("/scorecards/patients/?practice=A81001&indicator=methotrexate.fbc&month=2026-06")
    body = r.content.decode()
    assert "OVERDUE-1" in body and "SOON-1" not in body and "OOR-1" not in body
    assert "10 patients not in date" in " ".join(body.split())


def test_drill_down_shows_cases_held_by_a_decision(client, hub_lead, flagged, practice_a):
    from django.utils import timezone

    may = SearchRun.objects.get(as_of=dt.date(2026, 5, 29))
    MonitoringCaseFactory(
        practice=practice_a,
        patient_id="HELD-1",
        rule_id="pincer.gi_p3a",
        rule="pincer.gi_p3a",
        status="closed",
        closed_at=timezone.make_aware(dt.datetime(2026, 6, 2, 10)),
        covered_until=dt.date(2026, 7, 1),
        first_flagged_run=may,
        last_seen_run=may,
    )
    client.force_login(hub_lead)
    r = client.get("/scorecards/patients/?practice=A81001&indicator=pincer.gi_p3a&month=2026-06")
    held = r.content.decode().split('data-testid="held"')[1].split("</table>")[0]
    assert "HELD-1" in held and "A-GI-OLD" not in held
