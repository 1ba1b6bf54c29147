"""A small hand-built clinical store, a stub catalogue and search results over it, for the weekly
search and the demo replay. Patient ids and NHS numbers here are synthetic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import duckdb

from rxwatch.engine.api import SearchResult

from .searchresults import result, row

MTX, SHARED_CARE = "111111", "222222"
P1_NHS = "9434765919"


def build_store(path: Path) -> Path:
    """A clinical store with the canonical tables (and ``practice`` on medications and events).
    P1 still on methotrexate; P2 on it but with shared-care monitoring recorded; P3 stopped it;
    P4 on it but deceased."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE practices (ods_code VARCHAR, name VARCHAR, pcn VARCHAR)")
    con.execute(
        "CREATE TABLE patients (patient_id VARCHAR, practice VARCHAR, date_of_birth DATE, "
        "sex VARCHAR, nhs_number VARCHAR, date_of_death DATE, registration_end DATE)"
    )
    con.execute(
        "CREATE TABLE medications (patient_id VARCHAR, issue_date DATE, dmd_code VARCHAR, "
        "practice VARCHAR)"
    )
    con.execute(
        "CREATE TABLE events (patient_id VARCHAR, date DATE, snomed_code VARCHAR, practice VARCHAR)"
    )
    con.execute("CREATE TABLE imports (id INTEGER, practices VARCHAR[])")
    con.execute("INSERT INTO practices VALUES ('A81001', 'Alpha Surgery', NULL)")
    for pid, nhs, died in [
        ("P1", P1_NHS, None),
        ("P2", None, None),
        ("P3", None, None),
        ("P4", None, "2026-11-01"),
    ]:
        con.execute(
            "INSERT INTO patients VALUES (?, 'A81001', '1960-01-01', 'F', ?, ?, NULL)",
            [pid, nhs, died],
        )
    for pid in ("P1", "P2", "P4"):
        con.execute("INSERT INTO medications VALUES (?, '2026-11-01', ?, 'A81001')", [pid, MTX])
    con.execute("INSERT INTO medications VALUES ('P3', '2026-01-01', ?, 'A81001')", [MTX])
    con.execute("INSERT INTO events VALUES ('P2', '2026-10-01', ?, 'A81001')", [SHARED_CARE])
    con.execute("INSERT INTO imports VALUES (1, ['A81001']), (2, ['A81001'])")
    con.close()
    return path


def stub_catalogue() -> SimpleNamespace:
    """One monitoring rule (methotrexate FBC) with its treatment and shared-care codelists: the
    parts of ``rules.catalogue.Catalogue`` the weekly sync and the demo read."""
    rule = SimpleNamespace(
        id="methotrexate",
        version=1,
        group="dmard",
        kind="monitoring",
        rule_ids=["methotrexate.fbc"],
        treatment=SimpleNamespace(codelists=("mtx",), lookback_days=90),
        exclusions=[SimpleNamespace(codelist="shared", lookback_days=365)],
    )
    codes = {"mtx": {MTX}, "shared": {SHARED_CARE}}
    return SimpleNamespace(
        rules=[rule],
        rule=lambda rule_id: rule,
        codes=lambda *names: frozenset().union(*(codes[n] for n in names)),
        codelists={name: SimpleNamespace(codes=c) for name, c in codes.items()},
    )


def overdue(as_of: dt.date, *patients: str) -> SearchResult:
    """A search of the store as of ``as_of`` flagging ``patients`` (of A81001) overdue a
    methotrexate FBC."""
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
        for p in patients
    ]
    return result(as_of, rows, ("A81001",))
