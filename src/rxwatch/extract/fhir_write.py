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

import contextlib
import tempfile
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa

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


MEMORY_LIMIT = 2 << 30  # DuckDB's cap while exporting; beyond it DuckDB spills to temp_directory
CHUNK_ROWS = 4_000_000  # medication or event rows per patient-range chunk: bounds each sort
_BATCH_ROWS = 1 << 16


def tables_to_ndjson(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write practices, patients, medications, events of ``con`` as NDJSON files in ``out_dir``.

    Returns resources written per type. Extra columns (the store's ``practice``) are ignored.
    Memory is bounded: DuckDB is capped at ``MEMORY_LIMIT`` (spilling beyond it), medications and
    events are written in patient-id ranges of about ``CHUNK_ROWS`` rows (ids and sort are local to a
    patient, so chunks concatenate to the same bytes), and each chunk sorts its small columns first
    and builds the JSON after the sort, streamed to the file in Arrow batches.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ("enable_progress_bar", "preserve_insertion_order", "memory_limit", "temp_directory")
    saved = {n: _setting(con, n) for n in names}
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = true")
    if _bytes(saved["memory_limit"]) > MEMORY_LIMIT:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT >> 20}MiB'")
    if not saved["temp_directory"]:
        spill = Path(tempfile.gettempdir()) / "rxwatch-duckdb"
        con.execute(f"SET temp_directory = '{_path_sql(spill)}'")
    try:
        counts: dict[str, int] = {}
        latest = con.sql("SELECT CAST(max(issue_date) AS VARCHAR) FROM medications").fetchall()[0][
            0
        ]
        latest_sql = "NULL::DATE" if latest is None else f"DATE '{latest}'"
        for rtype, (sql, table) in _queries().items():
            sql = sql.replace("__LATEST__", latest_sql)
            chunks = _chunks(con, table) if table else [("TRUE", [])]
            with (out_dir / f"{rtype}.ndjson").open("wb") as f:
                counts[rtype] = sum(
                    _write(con, sql.replace("__WHERE__", w), params, f) for w, params in chunks
                )
        return counts
    finally:
        for n, v in saved.items():
            if _setting(con, n) == v:
                continue
            # best effort: DuckDB refuses to move a temp_directory it has spilled to
            with contextlib.suppress(duckdb.Error):
                con.execute(f"SET {n} = '{_quote(v)}'")


def _path_sql(path: Path) -> str:
    return _quote(str(path))


def _quote(text: str) -> str:
    """Text inside a SQL string literal."""
    return text.replace("'", "''")


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    # execute() (not sql()) supersedes a caller's unfinished result; fetchall() finishes ours
    value = con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]
    return "" if value is None else str(value)


def _bytes(setting: str) -> float:
    """DuckDB's '1.5 GiB' style size in bytes (infinite if unparsable, so we cap it)."""
    units = {"bytes": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
    units |= {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
    parts = setting.strip().lower().split()
    try:
        return float(parts[0]) * units[parts[1]] if len(parts) == 2 else float("inf")
    except (ValueError, KeyError):
        return float("inf")


def _chunks(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, list[str]]]:
    """Patient-id ranges of about CHUNK_ROWS rows of ``table``, covering every row (NULLs last).

    Ids (row_number over identical rows) and the output order start with patient_id, so writing
    the ranges in order gives the same bytes as one sort over the whole table.
    """
    total = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    n = -(-total // CHUNK_ROWS)
    if n <= 1:
        return [("TRUE", [])]
    bounds = [
        r[0]
        for r in con.sql(
            f"""SELECT DISTINCT quantile_disc(patient_id, [i / {n} FOR i IN range(1, {n})])
                  .unnest() AS b FROM {table} ORDER BY b"""
        ).fetchall()
    ]
    out = [("patient_id <= ?", [bounds[0]])]
    out += [("patient_id > ? AND patient_id <= ?", [a, b]) for a, b in pairwise(bounds)]
    return [*out, ("(patient_id > ? OR patient_id IS NULL)", [bounds[-1]])]


def _write(con: duckdb.DuckDBPyConnection, sql: str, params: list[str], f: BinaryIO) -> int:
    """Stream one query's lines (each ending in a newline) to ``f``; the number of lines."""
    n = 0
    reader = con.sql(sql, params=params).to_arrow_reader(_BATCH_ROWS)
    for batch in reader:
        col = batch.column(0)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.large_string())
        width = 8 if pa.types.is_large_string(col.type) else 4
        offsets = memoryview(col.buffers()[1]).cast("q" if width == 8 else "i")
        lo, hi = offsets[col.offset], offsets[col.offset + len(col)]
        data = col.buffers()[2]
        if data is not None and hi > lo:
            f.write(memoryview(data)[lo:hi])
        n += len(col)
    return n


def _queries() -> dict[str, tuple[str, str | None]]:
    """Each type's query (lines end in a newline) and the table to chunk it over, if any.

    Rows are sorted as plain columns in a subquery and the JSON is built after the sort, in
    order (preserve_insertion_order): sorting the JSON itself would carry every string through it.
    """
    reg_url = REGISTRATION_DETAILS[0]
    org = f"""
        SELECT coalesce('{{"resourceType":"Organization","id":' || {_j(_fhir_id("ods_code"))}
          || '{_meta("Organization")}'
          || ',"identifier":[{{"system":"{ODS}","value":' || {_j("ods_code")} || '}}]'
          || ',"type":[{{"coding":[{{"system":"{ODS_ROLE_SYSTEM}","code":"{ODS_ROLE_GP_PRACTICE}",'
          || '"display":"GP PRACTICE"}}]}}]'
          || {_opt("name", "name")}
          || CASE WHEN pcn IS NULL THEN ''
                  ELSE ',"partOf":{{"identifier":{{"system":"{ODS}","value":' || {_j("pcn")} || '}}}}'
             END
          || '}}', '') || chr(10)
        FROM (SELECT ods_code, name, pcn FROM practices ORDER BY ods_code)"""
    pid = _fhir_id("patient_id")
    patient = f"""
        SELECT coalesce('{{"resourceType":"Patient","id":' || {_j(pid)}
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
          || '}}', '') || chr(10)
        FROM (SELECT patient_id, nhs_number, registration_end, sex, date_of_birth, date_of_death,
                     practice FROM patients ORDER BY patient_id)"""
    # Issues are "active" while their supply lasts at the latest issue date in the data, else
    # "completed": a fact of the data, not of today's date, so re-export stays byte-identical.
    med = f"""
        WITH m AS (
          SELECT patient_id, issue_date, dmd_code, name, quantity, days_supply,
            md5((CAST(to_json([patient_id, CAST(issue_date AS VARCHAR), dmd_code, name,
                              CAST(quantity AS VARCHAR), CAST(days_supply AS VARCHAR)]) AS VARCHAR)
                || '#' || row_number() OVER (PARTITION BY patient_id, issue_date, dmd_code, name,
                                                          quantity, days_supply))) AS id
          FROM medications WHERE __WHERE__
        )
        SELECT coalesce('{{"resourceType":"MedicationRequest","id":' || {_j("id")}
          || '{_meta("MedicationRequest")}'
          || ',"status":' || CASE WHEN issue_date + coalesce(days_supply, {DEFAULT_SUPPLY_DAYS})
                                       > __LATEST__ THEN '"active"' ELSE '"completed"' END
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
          || '}}', '') || chr(10)
        FROM (SELECT * FROM m ORDER BY patient_id, issue_date, dmd_code, id)"""
    obs = f"""
        WITH e AS (
          SELECT patient_id, "date", snomed_code, term, "value", unit, comparator,
            md5((CAST(to_json([patient_id, CAST("date" AS VARCHAR), snomed_code, term,
                              CAST("value" AS VARCHAR), unit, comparator]) AS VARCHAR)
                || '#' || row_number() OVER (PARTITION BY patient_id, "date", snomed_code, term,
                                                          "value", unit, comparator))) AS id
          FROM events WHERE __WHERE__
        )
        SELECT coalesce('{{"resourceType":"Observation","id":' || {_j("id")}
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
          || '}}', '') || chr(10)
        FROM (SELECT * FROM e ORDER BY patient_id, "date", snomed_code, id)"""
    return {
        "Organization": (org, None),
        "Patient": (patient, None),
        "MedicationRequest": (med, "medications"),
        "Observation": (obs, "events"),
    }
