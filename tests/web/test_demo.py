"""The demo's replay of past weeks over a small clinical store: each week's search is synced by
``run_weekly_search`` (as ``rxwatch run-search`` does), at that week's time, then worked."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from rxwatch.web import demo
from rxwatch.web.audit import chain
from rxwatch.web.cases import weekly
from rxwatch.web.cases.models import MonitoringCase, SearchRun

from .clinicalstore import P1_NHS, build_store, stub_catalogue
from .searchresults import result, row

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 23)
WEEKS = (dt.date(2026, 11, 9), dt.date(2026, 11, 16), AS_OF)


def test_replay_syncs_each_week_through_run_weekly_search(tmp_path, monkeypatch):
    store = build_store(tmp_path / "clinical.duckdb")
    catalogue = stub_catalogue()
    flagged = {WEEKS[0]: ("P1", "P2"), WEEKS[1]: ("P1", "P2", "P3"), AS_OF: ("P3",)}

    def run_search(con, *, as_of, catalogue):
        rows = [
            row(
                "A81001",
                p,
                "methotrexate.fbc",
                "overdue",
                as_of=as_of,
                last_date=dt.date(2026, 5, 1),
                due_date=dt.date(2026, 8, 1),
            )
            for p in flagged[as_of]
        ]
        return result(as_of, rows, ("A81001",))

    synced = []
    real = weekly.run_weekly_search

    def spy(**kwargs):
        synced.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr("rxwatch.engine.search.run_search", run_search)
    monkeypatch.setattr("rxwatch.rules.catalogue.load_catalogue", lambda **kw: catalogue)
    monkeypatch.setattr(weekly, "run_weekly_search", spy)
    # the stub store's imports table has only ids and practices (what the weekly sync reads)
    monkeypatch.setattr(
        "rxwatch.extract.store.current_practices", lambda store: {"A81001": SimpleNamespace(id=2)}
    )

    org = demo.setup_organisation(store)
    demo.replay(store=store, as_of=AS_OF, organisation=org, weeks=3, seed=1, cache_dir=tmp_path)

    assert [s["as_of"] for s in synced] == list(WEEKS)
    assert all(s["result"].as_of == s["as_of"] and s["catalogue"] is catalogue for s in synced)
    runs = SearchRun.objects.order_by("as_of")
    assert [r.as_of for r in runs] == list(WEEKS)
    assert [r.started_at for r in runs] == [demo._at(day, 6) for day in WEEKS]
    assert all(r.store_import_ids == ["2"] for r in runs)
    p1 = MonitoringCase.objects.filter(patient_id="P1").earliest("id")
    assert p1.nhs_number == P1_NHS and p1.opened_at == demo._at(WEEKS[0], 6)
    assert chain.verify_chain().ok
