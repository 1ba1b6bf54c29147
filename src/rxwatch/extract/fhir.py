"""FHIR R4 (UK Core) in and out: the public entry points.

- ``read_fhir(con, path, practice=...)``: NDJSON / JSON / Bundles onto the canonical tables
  (``fhir_read``; called by ``rxwatch.extract.load.open_extract`` for a FHIR directory).
- ``tables_to_ndjson(con, out_dir)``: the canonical tables as bulk NDJSON (``fhir_write``; used by the
  synthetic generator).
- ``export_ndjson(out=, store=, extract_dir=)``: ``rxwatch export-fhir``.

Mapping, refusals and the reasons for them: docs/extracts.md, "FHIR R4 UK Core"; design:
docs/decisions/0003-fhir-bulk-read.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from rxwatch.errors import RxWatchError
from rxwatch.extract.fhir_read import (
    VALIDATE_MAX_RESOURCES,
    FhirReadReport,
    find_fhir_files,
    read_fhir,
)
from rxwatch.extract.fhir_write import MEMORY_LIMIT, tables_to_ndjson
from rxwatch.extract.schema import TABLES

__all__ = [
    "VALIDATE_MAX_RESOURCES",
    "FhirReadReport",
    "export_ndjson",
    "find_fhir_files",
    "read_fhir",
    "tables_to_ndjson",
]


def export_ndjson(*, out: Path, store: Path | None = None, extract_dir: Path | None = None) -> str:
    """Write the clinical store (or an extract directory) as FHIR NDJSON in ``out``; one-line summary."""
    started = time.perf_counter()
    if (store is None) == (extract_dir is None):
        raise RxWatchError("give either a clinical store or an extract directory to export")
    if extract_dir is not None:
        from rxwatch.extract.load import new_connection, open_extract

        # capped from the start: loading a large extract is most of the export's memory otherwise
        con = new_connection()
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT >> 20}MiB'")
        con = open_extract(Path(extract_dir), con=con)
        source = str(extract_dir)
    else:
        store = Path(store)  # type: ignore[arg-type]
        if not store.is_file():
            raise RxWatchError(f"no clinical store at {store}; run `rxwatch import` first")
        con = duckdb.connect(str(store), read_only=True)
        missing = [
            t.name
            for t in TABLES
            if not con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [t.name]
            ).fetchone()[0]
        ]
        if missing:
            con.close()
            raise RxWatchError(f"the clinical store {store} has no table {', '.join(missing)}")
        source = str(store)
    try:
        counts = tables_to_ndjson(con, Path(out))
    finally:
        con.close()
    written = ", ".join(f"{n} {t}" for t, n in counts.items())
    return (
        f"wrote {written} resources from {source} to {out} in {time.perf_counter() - started:.1f} s"
    )
