"""The weekly search as the workflow app runs it: clinical store → engine → ``sync_search_run``.

``rxwatch run-search`` and the demo's replay call ``run_weekly_search``. The clinical store is opened
read-only for the whole run; besides the search it gives the NHS numbers of flagged patients (for the
reactive reminder) and, for cases the search no longer flags, whether the patient is still on the drug
(so a closure can say "monitoring found done" rather than only "no longer flagged").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from rxwatch.engine.api import SearchResult
from rxwatch.web.cases.models import SearchRun
from rxwatch.web.cases.sync import (
    APPLIES,
    EXCLUDED,
    NOT_IN_POPULATION,
    Verdict,
    check_as_of,
    rule_info,
    sync_search_run,
)
from rxwatch.web.organisations.models import Organisation

if TYPE_CHECKING:
    from rxwatch.rules.catalogue import Catalogue

log = logging.getLogger(__name__)


def run_weekly_search(
    *,
    store: Path,
    as_of: dt.date,
    codelists_dir: Path | None = None,
    organisation: str | None = None,
    user=None,
    result: SearchResult | None = None,
    at: dt.datetime | None = None,
    catalogue: Catalogue | None = None,
) -> SearchRun:
    """Search the clinical store as of ``as_of`` and sync the result into cases.

    Practices new to the workflow store are added to ``organisation`` (its code; created if need
    be), or to the only organisation there is; otherwise their rows are skipped and counted.

    For a replay (the demo): ``result`` is a search already run as of ``as_of`` on this store (it
    is synced instead of searching again); ``at`` is the run's recorded time (its start, its
    cases' and audit events' times; default now); ``catalogue`` is one already loaded, instead of
    loading it (with ``codelists_dir``, else the organisation's codelists) on every call.
    """
    from rxwatch.config import organisation_catalogue
    from rxwatch.engine.backends import connect
    from rxwatch.engine.search import run_search
    from rxwatch.extract.store import connect_store

    if result is not None and result.as_of != as_of:
        raise ValueError(f"the search given is as of {result.as_of}, not {as_of}")
    if catalogue is not None and codelists_dir is not None:
        raise ValueError("give either a loaded catalogue or its codelists, not both")
    check_as_of(as_of)
    if catalogue is None:
        catalogue = organisation_catalogue(codelists_dir)
    duck = connect_store(store, read_only=True)
    try:
        if result is None:
            con = connect("duckdb", duckdb_con=duck)
            result = run_search(con, as_of=as_of, catalogue=catalogue)
        import_ids = _current_imports(duck)
        flagged = {
            (r["practice"], r["patient_id"])
            for r in result.results.select(["practice", "patient_id"]).to_pylist()
        }
        return sync_search_run(
            result=result,
            rules=rule_info(catalogue),
            store_import_ids=import_ids,
            user=user,
            nhs_numbers=_nhs_numbers(duck, flagged),
            in_population=lambda keys: population_verdicts(duck, catalogue, as_of, keys),
            organisation=_organisation(organisation),
            practice_names=dict(duck.execute("SELECT ods_code, name FROM practices").fetchall()),
            at=at,
        )
    finally:
        duck.close()


def _organisation(code: str | None) -> Organisation | None:
    if code:
        org, _ = Organisation.objects.get_or_create(code=code, defaults={"name": code})
        return org
    orgs = list(Organisation.objects.all()[:2])
    return orgs[0] if len(orgs) == 1 else None


def _current_imports(duck) -> list[str]:
    """The ids of the imports whose snapshots are current (what this search ran on)."""
    try:
        rows = duck.execute(
            "SELECT id, practices FROM imports WHERE cardinality(practices) > 0 ORDER BY id"
        ).fetchall()
    except Exception:  # a store without an imports table (tests, hand-made stores)
        return []
    latest: dict[str, int] = {}
    for import_id, practices in rows:
        for p in practices:
            latest[p] = import_id
    return sorted({str(i) for i in latest.values()})


def _nhs_numbers(duck, flagged: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(ODS code, patient_id) → NHS number for the flagged patients. The keys go in as an Arrow
    table, not ``executemany`` (which inserts ~2k rows/s: 10 s for a federation's week)."""
    if not flagged:
        return {}
    practices, patient_ids = zip(*sorted(flagged), strict=True)
    keys = pa.table(
        {
            "practice": pa.array(practices, pa.string()),
            "patient_id": pa.array(patient_ids, pa.string()),
        }
    )
    duck.register("_flagged", keys)
    try:
        rows = duck.execute(
            "SELECT p.practice, p.patient_id, p.nhs_number FROM patients p "
            "JOIN _flagged f USING (practice, patient_id) WHERE p.nhs_number IS NOT NULL"
        ).fetchall()
    finally:
        duck.unregister("_flagged")
    return {(practice, pid): nhs for practice, pid, nhs in rows}


def population_verdicts(
    duck, catalogue, as_of: dt.date, keys: Collection[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Verdict]:
    """For cases no longer flagged, (ODS, patient_id, rule_id) → why, for monitoring rules:

    ``NOT_IN_POPULATION`` when the patient has no issue of the rule's drug in its look-back, or has
    died or left the practice; ``EXCLUDED`` when an exclusion code (e.g. monitoring by secondary care)
    is recorded in its look-back; else ``APPLIES`` (so the monitoring was done). Alert rules: unknown
    (None). A simplification of the engine's denominator (it ignores age and sex limits), used only to
    word the closure.
    """
    by_rule: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for practice, pid, rule_id in keys:
        by_rule[rule_id].append((practice, pid))
    out: dict[tuple[str, str, str], Verdict] = {}
    duck.execute("CREATE OR REPLACE TEMP TABLE _gone (practice VARCHAR, patient_id VARCHAR)")
    for rule_id, patients in by_rule.items():
        try:
            rule = catalogue.rule(rule_id)
        except KeyError:
            continue
        if rule.kind != "monitoring" or rule.treatment is None:
            continue
        duck.execute("DELETE FROM _gone")
        duck.executemany("INSERT INTO _gone VALUES (?, ?)", patients)
        codes = sorted(catalogue.codes(*rule.treatment.codelists))
        on_drug = _patients(
            duck,
            """
            SELECT DISTINCT g.practice, g.patient_id FROM _gone g
            JOIN patients p USING (practice, patient_id)
            JOIN medications m ON m.practice = g.practice AND m.patient_id = g.patient_id
            WHERE m.dmd_code IN (SELECT unnest(?))
              AND m.issue_date > ?::DATE - ?::INTEGER AND m.issue_date <= ?::DATE
              AND (p.date_of_death IS NULL OR p.date_of_death > ?::DATE)
              AND (p.registration_end IS NULL OR p.registration_end > ?::DATE)
        """,
            [codes, as_of, rule.treatment.lookback_days, as_of, as_of, as_of],
        )
        excluded: set[tuple[str, str]] = set()
        for exclusion in rule.exclusions:
            excluded |= _patients(
                duck,
                """
                SELECT DISTINCT g.practice, g.patient_id FROM _gone g
                JOIN events e ON e.practice = g.practice AND e.patient_id = g.patient_id
                WHERE e.snomed_code IN (SELECT unnest(?))
                  AND e.date > ?::DATE - ?::INTEGER AND e.date <= ?::DATE
            """,
                [
                    sorted(catalogue.codes(exclusion.codelist)),
                    as_of,
                    exclusion.lookback_days,
                    as_of,
                ],
            )
        for practice, pid in patients:
            if (practice, pid) not in on_drug:
                verdict = NOT_IN_POPULATION
            elif (practice, pid) in excluded:
                verdict = EXCLUDED
            else:
                verdict = APPLIES
            out[(practice, pid, rule_id)] = verdict
    return out


def _patients(duck, sql: str, params: list) -> set[tuple[str, str]]:
    return {(p, pid) for p, pid in duck.execute(sql, params).fetchall()}
