"""Access changes (memberships, scope of practice) are audited, through the admin too."""

from __future__ import annotations

import pytest

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.organisations import access, actions
from rxwatch.web.organisations.models import Membership, Practice, Role, ScopeOfPractice

from .factories import PracticeFactory, UserFactory


@pytest.fixture
def superuser(db):
    """Who uses the admin site."""
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_grant_and_revoke_are_audited(org, practice_a, hub_lead):
    user = UserFactory(username="new_pharmacist")
    m = actions.grant_membership(
        by=hub_lead, user=user, role=Role.PHARMACIST, organisation=org, practice=practice_a
    )
    s = actions.grant_scope(by=hub_lead, user=user, drug_group="dmard")
    assert access.roles_at(user, practice_a) == {"pharmacist"} and access.in_scope(user, "dmard")
    actions.revoke_scope(by=hub_lead, scope=s)
    actions.revoke_membership(by=hub_lead, membership=m)
    assert access.roles_at(user, practice_a) == set()
    events = list(AuditEvent.objects.order_by("seq").values_list("action", "actor_username"))
    assert events == [
        ("membership.granted", "hub_lead"),
        ("scope.granted", "hub_lead"),
        ("scope.revoked", "hub_lead"),
        ("membership.revoked", "hub_lead"),
    ]
    assert AuditEvent.objects.get(action="membership.granted").after == {
        "user": "new_pharmacist",
        "role": "pharmacist",
        "organisation": "FED1",
        "practice": "A81001",
    }


def test_admin_inline_changes_are_audited(client, superuser, org, practice_a):
    user = UserFactory(username="tech_new")
    client.force_login(superuser)
    url = f"/admin/organisations/user/{user.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "username": "tech_new",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-organisation": str(org.pk),
        "memberships-0-practice": str(practice_a.pk),
        "memberships-0-role": "technician",
        "scope_of_practice-TOTAL_FORMS": "1",
        "scope_of_practice-INITIAL_FORMS": "0",
        "scope_of_practice-MIN_NUM_FORMS": "0",
        "scope_of_practice-MAX_NUM_FORMS": "1000",
        "scope_of_practice-0-drug_group": "dmard",
    }
    r = client.post(url, data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Membership.objects.filter(user=user, role="technician", practice=practice_a).exists()
    assert ScopeOfPractice.objects.filter(user=user, drug_group="dmard").exists()
    actions_seen = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.changed", "membership.granted", "scope.granted"} <= actions_seen


def test_admin_delete_action_is_audited(client, superuser, org):
    practice = PracticeFactory(organisation=org, ods_code="C83003")
    client.force_login(superuser)
    r = client.post(
        "/admin/organisations/practice/",
        {"action": "delete_selected", "_selected_action": [practice.pk], "post": "yes"},
    )
    assert r.status_code == 302
    assert not Practice.objects.filter(pk=practice.pk).exists()
    event = AuditEvent.objects.get(action="practice.deleted")
    assert (event.actor_username, event.practice_ods) == ("root", "C83003")
