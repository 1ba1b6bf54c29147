"""The canonical extract: the contract every reader (CSV, Parquet, FHIR) produces and the engine reads.

Fixed by DESIGN.md. Four tables; required columns must be present in a CSV extract, optional ones may be
absent (they are then all null). Types are DuckDB SQL types; the clinical store and the engine use them
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # DuckDB type
    required: bool
    kind: str = "text"  # text | date | number | integer | sex | nhs_number | comparator | code


@dataclass(frozen=True)
class Table:
    name: str  # table name in the store and the engine
    file: str  # file name in a CSV extract
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def ddl(self, extra: tuple[Column, ...] = ()) -> str:
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in (*self.columns, *extra))
        return f"({cols})"


PRACTICES = Table(
    "practices",
    "practices.csv",
    (
        Column("ods_code", "VARCHAR", True, "code"),
        Column("name", "VARCHAR", True),
        Column("pcn", "VARCHAR", False),
    ),
)

PATIENTS = Table(
    "patients",
    "patients.csv",
    (
        Column("patient_id", "VARCHAR", True, "code"),
        Column("practice", "VARCHAR", True, "code"),
        Column("date_of_birth", "DATE", True, "date"),
        Column("sex", "VARCHAR", True, "sex"),
        Column("nhs_number", "VARCHAR", False, "nhs_number"),
        Column("date_of_death", "DATE", False, "date"),
        Column("registration_end", "DATE", False, "date"),
    ),
)

MEDICATIONS = Table(
    "medications",
    "medications.csv",
    (
        Column("patient_id", "VARCHAR", True, "code"),
        Column("issue_date", "DATE", True, "date"),
        Column("dmd_code", "VARCHAR", True, "code"),
        Column("name", "VARCHAR", False),
        Column("quantity", "DOUBLE", False, "number"),
        Column("days_supply", "INTEGER", False, "integer"),
    ),
)

EVENTS = Table(
    "events",
    "events.csv",
    (
        Column("patient_id", "VARCHAR", True, "code"),
        Column("date", "DATE", True, "date"),
        Column("snomed_code", "VARCHAR", True, "code"),
        Column("term", "VARCHAR", False),
        Column("value", "DOUBLE", False, "number"),
        Column("unit", "VARCHAR", False),
        Column("comparator", "VARCHAR", False, "comparator"),
    ),
)

TABLES: tuple[Table, ...] = (PRACTICES, PATIENTS, MEDICATIONS, EVENTS)
TABLES_BY_NAME = {t.name: t for t in TABLES}

SEXES = ("F", "M", "U")
# Stored comparators. "=" and "~" in a source are read as no comparator / approximately; only these four
# are kept, as DESIGN.md fixes.
COMPARATORS = ("<", ">", "<=", ">=")
