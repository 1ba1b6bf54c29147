"""Data migrations: cases people ended before ``closed_by`` existed get their closer back."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from rxwatch.web.cases import actions
from rxwatch.web.cases.models import FlagStatus, MonitoringCase
from rxwatch.web.reviews import actions as reviews
from rxwatch.web.reviews.models import Decision

from .factories import MonitoringCaseFactory
from .searchresults import close_by_search

pytestmark = pytest.mark.django_db

closed_by = importlib.import_module("rxwatch.web.cases.migrations.0004_closed_by")


def test_backfill_closed_by_from_sign_offs_gp_decisions_and_suppressions(practice_a, pharm_a, gp_a):
    def out_of_range():
        return MonitoringCaseFactory(practice=practice_a, flag_status=FlagStatus.OUT_OF_RANGE)

    def pharmacist_signs_off(case):
        reviews.record_review(user=pharm_a, case=case, decision=Decision.CONTINUE)
        reviews.sign_off(user=pharm_a, case=case)

    def gp_decides(case, *, close: bool):
        escalation = reviews.escalate_to_gp(user=pharm_a, case=case, note="advise")
        reviews.gp_decide(
            user=gp_a, escalation=escalation, decision=Decision.CONTINUE, note="ok", close=close
        )

    signed = out_of_range()
    pharmacist_signs_off(signed)
    # returned by the GP once, then signed off by the pharmacist: the pharmacist closed it
    returned = out_of_range()
    gp_decides(returned, close=False)
    pharmacist_signs_off(returned)
    by_gp = out_of_range()
    gp_decides(by_gp, close=True)
    suppressed = MonitoringCaseFactory(practice=practice_a)
    actions.suppress_case(
        user=pharm_a,
        case=suppressed,
        reason="not_applicable",
        review_date=timezone.localdate() + dt.timedelta(days=90),
    )
    by_search = MonitoringCaseFactory(practice=practice_a)
    close_by_search(by_search)
    expected = {
        signed.pk: pharm_a.pk,
        returned.pk: pharm_a.pk,
        by_gp.pk: gp_a.pk,
        suppressed.pk: pharm_a.pk,
        by_search.pk: None,
    }

    def closers() -> dict[int, int | None]:
        return dict(MonitoringCase.objects.values_list("pk", "closed_by_id"))

    assert closers() == expected
    MonitoringCase.objects.update(closed_by=None)  # as before the field existed
    closed_by.backfill_closed_by(apps, None)
    assert closers() == expected
