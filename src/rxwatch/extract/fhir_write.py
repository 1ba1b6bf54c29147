"""FHIR R4 (UK Core) writer: the four canonical tables as bulk-export NDJSON, built in DuckDB SQL.

Each resource is one string concatenated in SQL (keys in a fixed order, absent values left out, as FHIR
JSON requires) and written with COPY, so a million patients take seconds and Python never loops over
rows. Ids are deterministic (a patient's own id, an ODS code, or an md5 of a row's content plus its
ordinal among identical rows), and rows are written in a fixed order, so re-exporting the same tables
gives byte-identical files.

Every event becomes an Observation: events.csv does not say which codes are diagnoses, and an
Observation with a SNOMED CT code and no value is how UK Core carries a coded entry, so a round trip
returns the same rows. See docs/extracts.md, "FHIR R4 UK Core".
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from rxwatch.extract.fhir_codes import (
    DMD,
    NHS_NUMBER,
    ODS,
    ODS_ROLE_GP_PRACTICE,
    ODS_ROLE_SYSTEM,
    PROFILES,
    REGISTRATION_DETAILS,
    RXWATCH_PATIENT_ID,
    SNOMED,
    UCUM,
)

DEFAULT_SUPPLY_DAYS = 28  # for "active or completed" only, when an issue has no days_supply
FILES = ("Organization", "Patient", "MedicationRequest", "Observation")


def _s(value: str) -> str:
    """A JSON string of one of our constants, as a SQL literal."""
    import json

    return "'" + json.dumps(value).replace("'", "''") + "'"


def _j(expr: str) -> str:
    """A SQL value as JSON text (strings quoted and escaped, numbers as numbers)."""
    return f"CAST(to_json({expr}) AS VARCHAR)"


def _opt(key: str, expr: str, value_sql: str | None = None) -> str:
    """',"key":<json>' when ``expr`` is not null, else ''."""
    return f"""CASE WHEN {expr} IS NULL THEN '' ELSE ',"{key}":' || {value_sql or _j(expr)} END"""


def _meta(rtype: str) -> str:
    return f""",\"meta\":{{\"profile\":[\"{PROFILES[rtype]}\"]}}"""


def _fhir_id(expr: str) -> str:
    """The value itself if it is a valid FHIR id, else a stable hash of it."""
    return f"""CASE WHEN regexp_full_match({expr}, '[A-Za-z0-9.-]{{1,64}}') THEN {expr}
                    ELSE md5({expr}) END"""


def tables_to_ndjson(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write practices, patients, medications, events of ``con`` as NDJSON files in ``out_dir``.

    Returns resources written per type. Extra columns (the store's ``practice``) are ignored.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    con.execute("SET enable_progress_bar = false")
    try:
        counts: dict[str, int] = {}
        for rtype, sql in _queries().items():
            path = out_dir / f"{rtype}.ndjson"
            con.execute(
                f"""COPY ({sql}) TO '{_path_sql(path)}'
                (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01')"""
            )
            counts[rtype] = _count_lines(path)
        return counts
    finally:
        if progress and progress[0]:
            con.execute("SET enable_progress_bar = true")


def _path_sql(path: Path) -> str:
    return str(path).replace("'", "''")


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def _queries() -> dict[str, str]:
    reg_url = REGISTRATION_DETAILS[0]
    org = f"""
        SELECT '{{"resourceType":"Organization","id":' || {_j(_fhir_id("ods_code"))}
          || '{_meta("Organization")}'
          || ',"identifier":[{{"system":"{ODS}","value":' || {_j("ods_code")} || '}}]'
          || ',"type":[{{"coding":[{{"system":"{ODS_ROLE_SYSTEM}","code":"{ODS_ROLE_GP_PRACTICE}",'
          || '"display":"GP PRACTICE"}}]}}]'
          || {_opt("name", "name")}
          || CASE WHEN pcn IS NULL THEN ''
                  ELSE ',"partOf":{{"identifier":{{"system":"{ODS}","value":' || {_j("pcn")} || '}}}}'
             END
          || '}}'
        FROM practices ORDER BY ods_code"""
    pid = _fhir_id("patient_id")
    patient = f"""
        SELECT '{{"resourceType":"Patient","id":' || {_j(pid)}
          || '{_meta("Patient")}'
          || CASE WHEN {pid} = patient_id AND nhs_number IS NULL THEN ''
                  ELSE ',"identifier":[' || concat_ws(',',
                    CASE WHEN nhs_number IS NOT NULL
                         THEN '{{"system":"{NHS_NUMBER}","value":' || {_j("nhs_number")} || '}}' END,
                    CASE WHEN {pid} <> patient_id
                         THEN '{{"system":"{RXWATCH_PATIENT_ID}","value":' || {_j("patient_id")}
                              || '}}' END) || ']' END
          || CASE WHEN registration_end IS NULL THEN ''
                  ELSE ',"extension":[{{"url":"{reg_url}","extension":[{{"url":"registrationPeriod",'
                       || '"valuePeriod":{{"end":' || {_j("CAST(registration_end AS VARCHAR)")}
                       || '}}}}]}}]' END
          || ',"gender":' || CASE sex WHEN 'M' THEN '"male"' WHEN 'F' THEN '"female"'
                                  ELSE '"unknown"' END
          || ',"birthDate":' || {_j("CAST(date_of_birth AS VARCHAR)")}
          || {_opt("deceasedDateTime", "date_of_death", _j("CAST(date_of_death AS VARCHAR)"))}
          || ',"generalPractitioner":[{{"reference":' || {_j("'Organization/' || " + _fhir_id("practice"))}
          || ',"identifier":{{"system":"{ODS}","value":' || {_j("practice")} || '}}}}]'
          || '}}'
        FROM patients ORDER BY patient_id"""
    # Issues are "active" while their supply lasts at the latest issue date in the data, else
    # "completed": a fact of the data, not of today's date, so re-export stays byte-identical.
    med = f"""
        WITH m AS (
          SELECT patient_id, issue_date, dmd_code, name, quantity, days_supply,
            md5((CAST(to_json([patient_id, CAST(issue_date AS VARCHAR), dmd_code, name,
                              CAST(quantity AS VARCHAR), CAST(days_supply AS VARCHAR)]) AS VARCHAR)
                || '#' || row_number() OVER (PARTITION BY patient_id, issue_date, dmd_code, name,
                                                          quantity, days_supply))) AS id,
            max(issue_date) OVER () AS latest
          FROM medications
        )
        SELECT '{{"resourceType":"MedicationRequest","id":' || {_j("id")}
          || '{_meta("MedicationRequest")}'
          || ',"status":' || CASE WHEN issue_date + coalesce(days_supply, {DEFAULT_SUPPLY_DAYS})
                                       > latest THEN '"active"' ELSE '"completed"' END
          || ',"intent":"order"'
          || ',"medicationCodeableConcept":{{"coding":[{{"system":"{DMD}","code":'
          || {_j("dmd_code")} || {_opt("display", "name")} || '}}]}}'
          || ',"subject":{{"reference":' || {_j("'Patient/' || " + pid)} || '}}'
          || ',"authoredOn":' || {_j("CAST(issue_date AS VARCHAR)")}
          || CASE WHEN quantity IS NULL AND days_supply IS NULL THEN ''
                  ELSE ',"dispenseRequest":{{' || concat_ws(',',
                    CASE WHEN quantity IS NOT NULL
                         THEN '"quantity":{{"value":' || {_j("quantity")} || '}}' END,
                    CASE WHEN days_supply IS NOT NULL
                         THEN '"expectedSupplyDuration":{{"value":' || {_j("days_supply")}
                              || ',"unit":"days","system":"{UCUM}","code":"d"}}' END) || '}}' END
          || '}}'
        FROM m ORDER BY patient_id, issue_date, dmd_code, id"""
    obs = f"""
        WITH e AS (
          SELECT patient_id, "date", snomed_code, term, "value", unit, comparator,
            md5((CAST(to_json([patient_id, CAST("date" AS VARCHAR), snomed_code, term,
                              CAST("value" AS VARCHAR), unit, comparator]) AS VARCHAR)
                || '#' || row_number() OVER (PARTITION BY patient_id, "date", snomed_code, term,
                                                          "value", unit, comparator))) AS id
          FROM events
        )
        SELECT '{{"resourceType":"Observation","id":' || {_j("id")}
          || '{_meta("Observation")}'
          || ',"status":"final"'
          || ',"code":{{"coding":[{{"system":"{SNOMED}","code":' || {_j("snomed_code")}
          || {_opt("display", "term")} || '}}]}}'
          || ',"subject":{{"reference":' || {_j("'Patient/' || " + pid)} || '}}'
          || ',"effectiveDateTime":' || {_j('CAST("date" AS VARCHAR)')}
          || CASE WHEN "value" IS NULL AND unit IS NULL AND comparator IS NULL THEN ''
                  ELSE ',"valueQuantity":{{' || concat_ws(',',
                    CASE WHEN "value" IS NOT NULL THEN '"value":' || {_j('"value"')} END,
                    CASE WHEN comparator IS NOT NULL THEN '"comparator":' || {_j("comparator")} END,
                    CASE WHEN unit IS NOT NULL THEN '"unit":' || {_j("unit")} END) || '}}' END
          || '}}'
        FROM e ORDER BY patient_id, "date", snomed_code, id"""
    return {"Organization": org, "Patient": patient, "MedicationRequest": med, "Observation": obs}
