"""Open an extract directory (CSV, Parquet or FHIR) as validated canonical tables in DuckDB.

The one entry point the engine (``rxwatch search``) and the clinical store use, so every way in
meets the same checks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from rxwatch.extract.schema import TABLES, Table
from rxwatch.extract.validation import ExtractError, Problem

if TYPE_CHECKING:
    from rxwatch.extract.fhir_read import FhirReadReport

FORMATS = ("csv", "parquet", "fhir")


def detect_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``fhir``, from the files present; ExtractError if none fits."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in {".ndjson", ".json"}:
            return "fhir"
        raise ExtractError(
            [Problem(path.name, None, None, None, "give the extract's directory, not one file")]
        )
    if not path.is_dir():
        raise ExtractError([Problem(str(path), None, None, None, "no such directory")])
    counts = {
        fmt: sum((path / f"{t.name}.{fmt}").is_file() for t in TABLES) for fmt in ("csv", "parquet")
    }
    if counts["csv"] or counts["parquet"]:
        return "csv" if counts["csv"] >= counts["parquet"] else "parquet"
    if any(p.suffix.lower() in {".ndjson", ".json"} for p in path.iterdir() if p.is_file()):
        return "fhir"
    raise ExtractError(
        [
            Problem(
                path.name or str(path),
                None,
                None,
                None,
                "no extract found: expected practices.csv, patients.csv, medications.csv and "
                "events.csv (or the same as .parquet, or FHIR .ndjson/.json files)",
            )
        ]
    )


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to a temporary directory instead of running out of memory."""
    con = duckdb.connect()
    spill = Path(tempfile.gettempdir()) / "rxwatch-duckdb"
    con.execute("SET temp_directory = ?", [str(spill)])
    con.execute("SET enable_progress_bar = false")
    return con


def open_extract(
    path: Path | str,
    *,
    practice: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    tables: tuple[Table, ...] = TABLES,
    on_fhir_report: Callable[[FhirReadReport], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Load and validate an extract into tables practices, patients, medications, events.

    ``practice`` (an ODS code) is required by a FHIR extract whose patients do not name their
    practice; for CSV and Parquet it is a guard: every practice in the extract must be that one.
    Raises ExtractError (all problems found, up to MAX_PROBLEMS); the connection then holds none of
    the extract's tables. ``tables`` (CSV and Parquet) limits which files are read: the clinical
    store stages only the small ones and loads the rest straight into the store.
    ``on_fhir_report`` is handed the FHIR reader's report (what it refused or skipped) once the
    extract has passed validation, so an import can say so; CSV and Parquet have no such report.
    """
    from rxwatch.extract.canonical import read_canonical, validate_typed

    path = Path(path)
    fmt = detect_format(path)
    con = con if con is not None else new_connection()
    if fmt == "fhir":
        from rxwatch.extract.fhir import read_fhir

        report = read_fhir(con, path, practice=practice)
        try:
            validate_typed(con, path.name)
        except ExtractError:
            drop_tables(con)
            raise
        if on_fhir_report is not None:
            on_fhir_report(report)
        return con
    read_canonical(con, path, fmt, tables)
    if practice is not None:
        others = [
            r[0]
            for r in con.execute(
                "SELECT ods_code FROM practices WHERE ods_code <> upper(?) ORDER BY 1", [practice]
            ).fetchall()
        ]
        if others:
            drop_tables(con)
            raise ExtractError(
                [
                    Problem(
                        f"practices.{fmt}",
                        None,
                        "ods_code",
                        ", ".join(others[:10]),
                        f"the extract holds practices other than {practice.upper()} (given with"
                        " --practice)",
                    )
                ]
            )
    return con


def drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the canonical tables (after a failed validation)."""
    for t in TABLES:
        con.execute(f'DROP TABLE IF EXISTS "{t.name}"')
