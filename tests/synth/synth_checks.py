"""Independent, simple checks of a synthetic extract (DuckDB SQL), used by tests and the docs.

Deliberately not the engine: a second, plain reading of the catalogue's "on treatment" and "overdue"
so that the generator can be tuned before (and checked against) the real search engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import duckdb

from rxwatch.extract.schema import TABLES

AS_OF = dt.date(2026, 6, 30)  # the as-of date of the test population

# (rule, drug codelists, test codelist, phases ((until, interval), …), maintenance or None)
MONITORING = [
    ("methotrexate", ("methotrexate",), "fbc", ((42, 14), (133, 28)), 84),
    ("leflunomide", ("leflunomide",), "fbc", ((42, 14), (133, 28)), 84),
    ("azathioprine", ("azathioprine",), "fbc", ((42, 14), (133, 28)), 91),
    ("mercaptopurine", ("mercaptopurine",), "fbc", ((84, 28),), 91),
    ("sulfasalazine", ("sulfasalazine",), "fbc", ((42, 14), (133, 28), (365, 84)), None),
    ("mycophenolate", ("mycophenolate",), "fbc", ((42, 14),), 84),
    ("lithium", ("lithium",), "lithium-level", ((28, 7), (365, 91)), 91),
    ("lithium.renal", ("lithium",), "renal", (), 182),
    ("amiodarone", ("amiodarone",), "tft", (), 182),
    ("warfarin", ("warfarin",), "inr", (), 84),
    ("doac.fbc", ("doac",), "fbc", (), 365),
    ("antipsychotic", ("antipsychotic",), "hba1c", (), 365),
    ("levothyroxine", ("levothyroxine",), "tsh", ((182, 91),), 365),
    ("spironolactone", ("spironolactone",), "renal", ((28, 7), (120, 30)), 182),
    ("digoxin", ("digoxin",), "renal", (), 365),
]


def connect(extract: Path, codelists: Mapping[str, object]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ext = "parquet" if (Path(extract) / "patients.parquet").exists() else "csv"
    for t in TABLES:
        path = (Path(extract) / f"{t.name}.{ext}").as_posix()
        types = ", ".join(f"'{c.name}': '{c.sql_type}'" for c in t.columns)
        reader = (
            f"read_parquet('{path}')"
            if ext == "parquet"
            else f"read_csv('{path}', header=true, types={{{types}}})"
        )
        con.execute(f"CREATE VIEW {t.name} AS SELECT * FROM {reader}")
    rows = [(name, str(c)) for name, cl in codelists.items() for c in getattr(cl, "codes", cl)]
    con.execute("CREATE TABLE cl (name VARCHAR, code VARCHAR)")
    con.executemany("INSERT INTO cl VALUES (?, ?)", rows)
    return con


def population(con: duckdb.DuckDBPyConnection, as_of: dt.date, adults: bool = True) -> None:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE pop AS SELECT patient_id, sex,
              date_diff('year', date_of_birth, DATE '{as_of}')
                - CASE WHEN strftime(DATE '{as_of}', '%m%d') < strftime(date_of_birth, '%m%d')
                       THEN 1 ELSE 0 END AS age
            FROM patients
            WHERE (date_of_death IS NULL OR date_of_death > DATE '{as_of}')
              AND (registration_end IS NULL OR registration_end > DATE '{as_of}')"""
    )
    if adults:
        con.execute("DELETE FROM pop WHERE age < 18")


def prevalence(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, float]:
    """Share of registered living adults with an issue of each drug list in (T − 90, T]."""
    population(con, as_of)
    n = con.execute("SELECT count(*) FROM pop").fetchone()[0]
    rows = con.execute(
        f"""SELECT cl.name, count(DISTINCT m.patient_id) FROM medications m
            JOIN cl ON cl.code = m.dmd_code JOIN pop USING (patient_id)
            WHERE m.issue_date > DATE '{as_of}' - 90 AND m.issue_date <= DATE '{as_of}'
            GROUP BY 1"""
    ).fetchall()
    return {name: k / n for name, k in rows}


def overdue(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, tuple[int, int]]:
    """(overdue, treated and not excluded) per monitoring check, read as the catalogue says."""
    population(con, as_of, adults=False)
    T = f"DATE '{as_of}'"
    out: dict[str, tuple[int, int]] = {}
    for rule, drugs, test, phases, maint in MONITORING:
        names = ", ".join(f"'{d}'" for d in drugs)
        case = " ".join(f"WHEN since <= {u} THEN {i}" for u, i in phases)
        interval = f"CASE {case} ELSE {maint if maint else 'NULL'} END" if phases else str(maint)
        row = con.execute(
            f"""WITH issues AS (
                  SELECT m.patient_id, min(issue_date) AS first, max(issue_date) AS last
                  FROM medications m JOIN cl ON cl.code = m.dmd_code AND cl.name IN ({names})
                  WHERE issue_date <= {T} GROUP BY 1),
                treated AS (
                  SELECT i.patient_id, date_diff('day', first, {T}) AS since FROM issues i
                  JOIN pop USING (patient_id)
                  WHERE last > {T} - 90 AND patient_id NOT IN (
                    SELECT patient_id FROM events e JOIN cl ON cl.code = e.snomed_code
                    AND cl.name = 'secondary-care-monitoring'
                    WHERE e.date > {T} - 365 AND e.date <= {T})),
                need AS (SELECT patient_id, {interval} AS iv FROM treated),
                tests AS (
                  SELECT e.patient_id, max(e.date) AS lt FROM events e
                  JOIN cl ON cl.code = e.snomed_code AND cl.name = '{test}'
                  WHERE e.date <= {T} GROUP BY 1)
                SELECT count(*) FILTER (WHERE lt IS NULL OR lt <= {T} - iv), count(*)
                FROM need LEFT JOIN tests USING (patient_id) WHERE iv IS NOT NULL"""
        ).fetchone()
        out[rule] = (int(row[0]), int(row[1]))
    return out
