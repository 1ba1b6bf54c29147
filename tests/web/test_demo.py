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

from .clinicalstore import P1_NHS, build_store, overdue, stub_catalogue

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 23)
WEEKS = (dt.date(2026, 11, 9), dt.date(2026, 11, 16), AS_OF)


def test_replay_syncs_each_week_through_run_weekly_search(tmp_path, monkeypatch, capsys):
    store = build_store(tmp_path / "clinical.duckdb")
    catalogue = stub_catalogue()
    flagged = {WEEKS[0]: ("P1", "P2"), WEEKS[1]: ("P1", "P2", "P3"), AS_OF: ("P3",)}

    def run_search(con, *, as_of, catalogue):
        return overdue(as_of, *flagged[as_of])

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
    # the newcomer's summary line is this week's search, the last one replayed (no second search)
    out = capsys.readouterr().out
    assert f"Search as of {AS_OF} on test: 1 flagged rows (1 overdue," in out


@pytest.mark.parametrize("restart", [False, True])
def test_build_runs_no_standalone_search(tmp_path, monkeypatch, capsys, restart):
    """The replay searches as of the demo date; ``rxwatch.demo`` itself only synthesises and
    imports (once), on a first build as on a restart."""
    from rxwatch import demo as top

    made = []

    def generate(*, out, **kw):
        made.append(out)
        out.mkdir(parents=True)
        return "generated"

    def import_extract(store, extract):
        store.write_text("store")
        return SimpleNamespace(summary=lambda: "imported")

    def search_extract(*a, **kw):
        raise AssertionError("rxwatch.demo ran a standalone weekly search")

    monkeypatch.setattr("rxwatch.synth.population.generate", generate)
    monkeypatch.setattr("rxwatch.extract.store.import_extract", import_extract)
    monkeypatch.setattr("rxwatch.engine.search.search_extract", search_extract)
    out = tmp_path / "demo"
    monkeypatch.setenv("RXWATCH_STORE", str(out / "clinical.duckdb"))  # build sets it; restored
    kw = dict(as_of=AS_OF, patients=10, practices=1, seed=1)
    if restart:
        top.build(out, **kw)
        capsys.readouterr()
    store = top.build(out, **kw)
    printed = capsys.readouterr().out
    assert store == out / "clinical.duckdb" and store.exists()
    assert len(made) == 1
    assert ("already built" in printed) is restart
    assert "Weekly search" not in printed and not (out / "search").exists()
