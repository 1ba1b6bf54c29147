"""Targets are set in the admin, and every save is audited."""

from __future__ import annotations

from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.scorecards.models import IndicatorTarget

from ..factories import UserFactory


def test_admin_saves_a_target_and_audits_it(client, org):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    r = client.post(
        "/admin/scorecards/indicatortarget/add/",
        {
            "organisation": org.pk,
            "indicator": "methotrexate",
            "target": "85",
            "amber_margin": "5",
            "lower_is_better": "",
        },
    )
    assert r.status_code == 302, r.content[:500]
    target = IndicatorTarget.objects.get()
    assert (target.target, target.lower_is_better) == (85.0, False)
    assert AuditEvent.objects.filter(action="indicatortarget.created").count() == 1
