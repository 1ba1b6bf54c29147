"""``rxwatch run-search`` over a small hand-built clinical store, and ``rxwatch audit verify``."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from click.testing import CliRunner
from django.db import connection, transaction

from rxwatch.cli import main
from rxwatch.web.audit import chain
from rxwatch.web.audit.models import AuditEvent
from rxwatch.web.cases import weekly
from rxwatch.web.cases.models import CaseStatus, MonitoringCase
from rxwatch.web.cases.sync import APPLIES, EXCLUDED, NOT_IN_POPULATION

from .clinicalstore import P1_NHS, build_store, overdue, stub_catalogue
from .searchresults import result, row

AS_OF = dt.date(2026, 11, 23)


@pytest.fixture
def store(tmp_path):
    return build_store(tmp_path / "clinical.duckdb")


@pytest.fixture
def catalogue():
    return stub_catalogue()


def test_population_verdicts_word_the_closure(store, catalogue):
    con = duckdb.connect(str(store), read_only=True)
    keys = {("A81001", p, "methotrexate.fbc") for p in ("P1", "P2", "P3", "P4")}
    verdicts = weekly.population_verdicts(con, catalogue, AS_OF, keys)
    assert {k[1]: v for k, v in verdicts.items()} == {
        "P1": APPLIES,
        "P2": EXCLUDED,
        "P3": NOT_IN_POPULATION,
        "P4": NOT_IN_POPULATION,
    }


def test_run_search_command(store, catalogue, practice_a, monkeypatch):
    flagged = {dt.date(2026, 11, 16): ("P1", "P2", "P3"), AS_OF: ()}
    monkeypatch.setattr("rxwatch.rules.catalogue.load_catalogue", lambda **kw: catalogue)
    monkeypatch.setattr(
        "rxwatch.engine.search.run_search",
        lambda con, *, as_of, catalogue: overdue(as_of, *flagged[as_of]),
    )
    runner = CliRunner()
    out = runner.invoke(main, ["run-search", "--as-of", "2026-11-16", "--store", str(store)])
    assert out.exit_code == 0, out.output
    assert "3 flagged; 3 cases opened" in out.output
    p1 = MonitoringCase.objects.get(patient_id="P1")
    assert p1.nhs_number == P1_NHS and p1.first_flagged_run.store_import_ids == ["2"]
    out = runner.invoke(main, ["run-search", "--as-of", "2026-11-23", "--store", str(store)])
    assert out.exit_code == 0 and "3 closed" in out.output
    reasons = dict(MonitoringCase.objects.values_list("patient_id", "closed_reason"))
    assert reasons["P1"] == "Monitoring found done in the search of 2026-11-23"
    assert reasons["P2"].startswith("Excluded from the rule")
    assert reasons["P3"].startswith("No longer on treatment")
    # an older search is refused before it runs
    out = runner.invoke(main, ["run-search", "--as-of", "2026-11-09", "--store", str(store)])
    assert out.exit_code == 2 and "older than the last synced search" in out.output
    assert "P1" not in out.output and P1_NHS not in out.output


def test_run_search_uses_the_organisations_codelists(store, catalogue, tmp_path, monkeypatch, db):
    """RXWATCH_CODELISTS reaches the weekly search's catalogue (as it reaches the scorecards), and
    --codelists overrides it."""
    asked = []
    monkeypatch.setattr(
        "rxwatch.rules.catalogue.load_catalogue",
        lambda **kw: asked.append(kw["codelists_dir"]) or catalogue,
    )
    monkeypatch.setattr(
        "rxwatch.engine.search.run_search", lambda con, *, as_of, catalogue: overdue(as_of)
    )
    for name in ("setting", "option"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("RXWATCH_CODELISTS", str(tmp_path / "setting"))
    runner = CliRunner()
    args = ["run-search", "--store", str(store)]
    assert runner.invoke(main, [*args, "--as-of", "2026-11-16"]).exit_code == 0
    out = runner.invoke(
        main, [*args, "--as-of", "2026-11-23", "--codelists", str(tmp_path / "option")]
    )
    assert out.exit_code == 0, out.output
    assert asked == [tmp_path / "setting", tmp_path / "option"]


def test_scorecard_backfill_loads_the_organisations_codelists(store, tmp_path, monkeypatch, db):
    """RXWATCH_CODELISTS reaches the backfill's catalogue, and --codelists overrides it."""
    from rxwatch.rules import catalogue as rules_catalogue

    real = rules_catalogue.load_catalogue
    loaded = []
    monkeypatch.setattr(
        rules_catalogue, "load_catalogue", lambda **kw: loaded.append(real(**kw)) or loaded[-1]
    )
    monkeypatch.setattr(
        "rxwatch.engine.search.run_search", lambda con, *, as_of, catalogue: overdue(as_of)
    )
    for name, code in (("setting", "318980005"), ("option", "73211009")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "valproate-ppp.csv").write_text(f"code,term\n{code},A code\n")
    monkeypatch.setenv("RXWATCH_CODELISTS", str(tmp_path / "setting"))
    runner = CliRunner()
    args = ["scorecard", "backfill", "--store", str(store), "--months", "1", "--force"]
    out = runner.invoke(main, args)
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, [*args, "--codelists", str(tmp_path / "option")])
    assert out.exit_code == 0, out.output
    assert out.output.endswith("Backfilled 1 month-end search(es).\n")
    assert [c.codelists["valproate-ppp"].codes for c in loaded] == [{"318980005"}, {"73211009"}]


def test_audit_verify_command(case_a, tech_a):
    from rxwatch.web.cases import actions

    for outcome in ("no_answer", "left_message"):
        actions.record_contact_attempt(user=tech_a, case=case_a, method="phone", outcome=outcome)
    runner = CliRunner()
    out = runner.invoke(main, ["audit", "verify"])
    assert out.exit_code == 0 and out.output.startswith("OK: 2 audit events")
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("DROP TRIGGER audit_event_append_only_update")
        else:
            cur.execute("DROP TRIGGER audit_event_append_only ON audit_auditevent")
        cur.execute(
            "UPDATE audit_auditevent SET after = %s WHERE seq = 1", ['{"status": "booked"}']
        )
    out = runner.invoke(main, ["audit", "verify"])
    assert out.exit_code == 1
    assert "BROKEN at event #1" in out.output


def test_system_events_verify_after_a_sync(practice_a):
    from rxwatch.web.cases.sync import sync_search_run

    from .searchresults import RULES

    with transaction.atomic():
        sync_search_run(
            result=result(
                AS_OF,
                [
                    row(
                        "A81001",
                        "P1",
                        "methotrexate.fbc",
                        "due_soon",
                        as_of=AS_OF,
                        last_date=AS_OF,
                        due_date=AS_OF,
                    )
                ],
            ),
            rules=RULES,
        )
    assert AuditEvent.objects.count() == 2 and chain.verify_chain().ok
    assert MonitoringCase.objects.get().status == CaseStatus.OPEN
