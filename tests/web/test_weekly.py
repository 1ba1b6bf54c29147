"""``run_weekly_search`` over a small clinical store: searching it now (``rxwatch run-search``), or
syncing a search already run at the time given (the demo's replay of past weeks)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxwatch.web.audit import chain
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases import weekly
from rxwatch.web.cases.models import CaseStatus, MonitoringCase

from .clinicalstore import P1_NHS, build_store, overdue, stub_catalogue
from .searchresults import at

W1, W2 = dt.date(2026, 11, 16), dt.date(2026, 11, 23)


@pytest.fixture
def store(tmp_path):
    return build_store(tmp_path / "clinical.duckdb")


@pytest.fixture
def no_engine(monkeypatch):
    """Fails the test if the engine searches or the catalogue is loaded from disk."""

    def refuse(*args, **kwargs):
        raise AssertionError("searched again or loaded the catalogue again")

    monkeypatch.setattr("rxwatch.engine.search.run_search", refuse)
    monkeypatch.setattr("rxwatch.rules.catalogue.load_catalogue", refuse)


def test_a_search_already_run_is_synced_at_the_time_given(store, practice_a, no_engine):
    catalogue = stub_catalogue()
    run = weekly.run_weekly_search(
        store=store, as_of=W1, result=overdue(W1, "P1", "P2", "P3"), at=at(W1), catalogue=catalogue
    )
    assert (run.as_of, run.started_at, run.opened) == (W1, at(W1), 3)
    assert run.store_import_ids == ["2"]  # still read from the store
    p1 = MonitoringCase.objects.get(patient_id="P1")
    assert (p1.opened_at, p1.nhs_number) == (at(W1), P1_NHS)
    assert set(AuditEvent.objects.values_list("occurred_at", flat=True)) == {at(W1)}

    run2 = weekly.run_weekly_search(
        store=store, as_of=W2, result=overdue(W2), at=at(W2), catalogue=catalogue
    )
    assert (run2.started_at, run2.closed) == (at(W2), 3)
    closed = {c.patient_id: c for c in MonitoringCase.objects.filter(status=CaseStatus.CLOSED)}
    assert {c.closed_at for c in closed.values()} == {at(W2)}
    # the store still words the closures (population verdicts)
    assert closed["P1"].closed_reason == "Monitoring found done in the search of 2026-11-23"
    assert closed["P2"].closed_reason.startswith("Excluded from the rule")
    assert closed["P3"].closed_reason.startswith("No longer on treatment")
    assert chain.verify_chain().ok


def test_without_a_search_it_searches_the_store_now(store, practice_a, monkeypatch):
    searched = []

    def run_search(con, *, as_of, catalogue):
        searched.append(as_of)
        return overdue(as_of, "P1")

    monkeypatch.setattr("rxwatch.engine.search.run_search", run_search)
    monkeypatch.setattr("rxwatch.rules.catalogue.load_catalogue", lambda **kw: stub_catalogue())
    before = timezone.now()
    run = weekly.run_weekly_search(store=store, as_of=W1)
    assert searched == [W1]
    assert before <= run.started_at <= timezone.now()
    assert MonitoringCase.objects.get().nhs_number == P1_NHS


def test_refuses_a_search_of_another_date_and_two_catalogues(store, practice_a, tmp_path):
    with pytest.raises(ValueError, match="as of 2026-11-16, not 2026-11-23"):
        weekly.run_weekly_search(store=store, as_of=W2, result=overdue(W1))
    with pytest.raises(ValueError, match="not both"):
        weekly.run_weekly_search(
            store=store, as_of=W2, catalogue=stub_catalogue(), codelists_dir=tmp_path
        )
    assert not MonitoringCase.objects.exists()
