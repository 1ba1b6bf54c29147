"""FHIR R4 (UK Core) reader: NDJSON and JSON (resources or Bundles) onto the four canonical tables.

Bulk path, all in DuckDB: every line of every ``*.ndjson`` file is read as one text value (``read_csv``
with a delimiter that cannot occur in JSON, so one row per physical line and blank lines kept as NULL,
which makes ``row_number() OVER ()`` the editor's line number), parsed once into a typed STRUCT of just
the fields we map (``json_transform``), then split by resourceType and mapped with SQL. Python never
touches a bulk resource. Small inputs (at most ``VALIDATE_MAX_RESOURCES`` mappable resources) are also
validated resource by resource with the ``fhir.resources`` R4B models, which cost ~2 ms each.

Two outcomes besides a mapped row (see docs/extracts.md, "FHIR R4 UK Core"):

- a *problem* (the extract is broken: not JSON, a present field that does not parse, a reference to
  something not in the extract, a patient with no practice) -- collected, then ``ExtractError``;
- a *refusal* (valid FHIR we cannot hold for a stated reason: no SNOMED CT or dm+d code, no clinical
  date, entered in error, no result) -- counted with its reason in ``FhirReadReport``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from rxwatch.extract.fhir_codes import (
    DMD,
    LOOKUP_TYPES,
    MAPPED_TYPES,
    NHS_NUMBER,
    ODS,
    ODS_ROLE_GP_PRACTICE,
    ODS_ROLE_SYSTEM,
    REGISTRATION_DETAILS,
    RXWATCH_PATIENT_ID,
    SNOMED,
    TRANSFER_DEGRADED_MEDICATION,
)
from rxwatch.extract.schema import EVENTS, MEDICATIONS, PATIENTS, PRACTICES
from rxwatch.extract.validation import MAX_PROBLEMS, ExtractError, Problem

log = logging.getLogger(__name__)

VALIDATE_MAX_RESOURCES = 1000  # per-resource pydantic validation up to this many (~2 ms each)
BUNDLE_TYPES = ("collection", "batch", "transaction", "searchset", "document", "message")
SHOWN_TYPES = 8  # an import's note names at most this many skipped resource types
_UNRECOGNISED_TYPE = "unrecognised type"  # a resourceType the report does not repeat
_PREFIX = "_rxw_fhir_"  # scratch tables and macros in the caller's connection; dropped afterwards
# One resource per line; attachments can make lines long. The read buffer is the same size: DuckDB's
# default (16 lines' worth, 1 GiB) does not fit under the import's memory cap once a file is larger.
_MAX_LINE = 64 * 1024 * 1024

# --- the one parse: the fields any mapping needs, as a json_transform structure --------------------
_CODING = [
    {"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR", "userSelected": "BOOLEAN"}
]
_CC = {"coding": _CODING, "text": "VARCHAR"}
_IDENT = {"system": "VARCHAR", "value": "VARCHAR"}
_REF = {"reference": "VARCHAR", "type": "VARCHAR", "identifier": _IDENT}
_QTY = {"value": "VARCHAR", "unit": "VARCHAR", "code": "VARCHAR", "comparator": "VARCHAR"}
_SUBJECT = {"subject": _REF}
_MED = {
    "medicationCodeableConcept": _CC,
    "medicationReference": _REF,
    "contained": [{"resourceType": "VARCHAR", "id": "VARCHAR", "code": _CC}],
}
_DATE = {"start": "VARCHAR"}
# Only what each mapping needs: parsing into a narrow STRUCT is most of the cost of a read.
_SHAPE_DICTS: dict[str, dict] = {
    "Organization": {
        "identifier": [_IDENT],
        "name": "VARCHAR",
        "type": [{"coding": _CODING}],
        "partOf": _REF,
    },
    "Patient": {
        "identifier": [_IDENT],
        "gender": "VARCHAR",
        "birthDate": "VARCHAR",
        "deceasedDateTime": "VARCHAR",
        "deceasedBoolean": "VARCHAR",
        "generalPractitioner": [_REF],
        "extension": [
            {
                "url": "VARCHAR",
                "extension": [
                    {"url": "VARCHAR", "valuePeriod": {"start": "VARCHAR", "end": "VARCHAR"}}
                ],
            }
        ],
    },
    "Medication": {"code": _CC},
    "MedicationRequest": {
        "status": "VARCHAR",
        "intent": "VARCHAR",
        **_SUBJECT,
        **_MED,
        "authoredOn": "VARCHAR",
        "dispenseRequest": {"quantity": _QTY, "expectedSupplyDuration": _QTY},
    },
    "MedicationStatement": {
        "status": "VARCHAR",
        **_SUBJECT,
        **_MED,
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": _DATE,
        "dateAsserted": "VARCHAR",
    },
    "Observation": {
        "status": "VARCHAR",
        **_SUBJECT,
        "code": _CC,
        "effectiveDateTime": "VARCHAR",
        "effectivePeriod": _DATE,
        "effectiveInstant": "VARCHAR",
        "issued": "VARCHAR",
        "valueQuantity": _QTY,
        "valueInteger": "VARCHAR",
        "dataAbsentReason": "JSON",
        "component": [
            {
                "code": _CC,
                "valueQuantity": _QTY,
                "valueInteger": "VARCHAR",
                "dataAbsentReason": "JSON",
            }
        ],
    },
    "Condition": {
        **_SUBJECT,
        "code": _CC,
        "onsetDateTime": "VARCHAR",
        "onsetPeriod": _DATE,
        "recordedDate": "VARCHAR",
        "verificationStatus": _CC,
    },
}
_SHAPES = {
    k: json.dumps({"resourceType": "VARCHAR", "id": "VARCHAR", **v}, separators=(",", ":"))
    for k, v in _SHAPE_DICTS.items()
}


def _sniff(f: Path) -> str | None:
    """The resourceType of the first non-blank line of an NDJSON file (None if unreadable)."""
    import gzip

    opener = gzip.open if f.name.endswith(".gz") else open
    try:
        with opener(f, "rt", encoding="utf-8") as fh:
            for text in fh:
                if text.strip():
                    doc = json.loads(text)
                    return doc.get("resourceType") if isinstance(doc, dict) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return None


def _lit(s: str) -> str:
    """A SQL string literal for one of our own constants (never for user input)."""
    return "'" + s.replace("'", "''") + "'"


# Reusable SQL pieces, as temporary macros. Dates: a full FHIR date/dateTime/instant is 'ok' (we keep
# its calendar date as written, i.e. local to the recording system), year or year-month is 'partial'.
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO {_PREFIX}dkind(s) AS CASE
  WHEN s IS NULL THEN NULL
  WHEN length(s) = 10 AND s[5] = '-' AND s[8] = '-' AND try_cast(s AS DATE) IS NOT NULL THEN 'ok'
  WHEN regexp_full_match(s, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(T[0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\\.[0-9]+)?)?(Z|[+-][0-9]{{2}}:[0-9]{{2}})?)?')
       AND try_cast(substr(s, 1, 10) AS DATE) IS NOT NULL THEN 'ok'
  WHEN regexp_full_match(s, '[0-9]{{4}}(-[0-9]{{2}})?') THEN 'partial'
  ELSE 'bad' END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}date(s) AS
  CASE WHEN {_PREFIX}dkind(s) = 'ok' THEN CAST(substr(s, 1, 10) AS DATE) END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}num_ok(s) AS
  s IS NULL OR coalesce(isfinite(try_cast(s AS DOUBLE)), false);
CREATE OR REPLACE TEMP MACRO {_PREFIX}nhs_ok(n) AS
  regexp_full_match(n, '[0-9]{{10}}')
  AND (11 - list_sum([(ascii(substr(n, i, 1)) - 48) * (11 - i) FOR i IN range(1, 10)]) % 11) % 11
      = ascii(substr(n, 10, 1)) - 48;
CREATE OR REPLACE TEMP MACRO {_PREFIX}ref_patient(ref) AS CASE
  WHEN ref IS NULL THEN NULL
  WHEN ref LIKE 'urn:%' OR ref LIKE '#%' THEN ref
  WHEN ref LIKE 'Patient/%' AND strpos(substr(ref, 9), '/') = 0 THEN ref
  ELSE nullif(regexp_extract(ref, '(^|/)(Patient/[^/]+)(/_history/[^/]*)?$', 2), '') END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}ref_organization(ref) AS CASE
  WHEN ref IS NULL THEN NULL
  WHEN ref LIKE 'urn:%' OR ref LIKE '#%' THEN ref
  WHEN ref LIKE 'Organization/%' AND strpos(substr(ref, 14), '/') = 0 THEN ref
  ELSE nullif(regexp_extract(ref, '(^|/)(Organization/[^/]+)(/_history/[^/]*)?$', 2), '') END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}ref_medication(ref) AS CASE
  WHEN ref IS NULL THEN NULL
  WHEN ref LIKE 'urn:%' OR ref LIKE '#%' THEN ref
  WHEN ref LIKE 'Medication/%' AND strpos(substr(ref, 12), '/') = 0 THEN ref
  ELSE nullif(regexp_extract(ref, '(^|/)(Medication/[^/]+)(/_history/[^/]*)?$', 2), '') END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}pick(codings, sys) AS CASE
  WHEN len(codings) = 1 AND codings[1].system = sys AND length(codings[1].code) > 0
    THEN codings[1]
  ELSE coalesce(
    list_filter(codings, lambda c: rtrim(c.system, '/') = sys
                                   AND nullif(trim(c.code), '') IS NOT NULL AND c.userSelected)[1],
    list_filter(codings, lambda c: rtrim(c.system, '/') = sys
                                   AND nullif(trim(c.code), '') IS NOT NULL)[1]) END;
CREATE OR REPLACE TEMP MACRO {_PREFIX}where(entry, fld) AS
  CASE WHEN entry IS NULL THEN '' ELSE 'entry[' || entry || '].resource.' END || fld;
"""

_MACRO_NAMES = (
    "dkind", "date", "num_ok", "nhs_ok", "ref_patient", "ref_organization", "ref_medication",
    "pick", "where",
)  # fmt: skip
_TABLES = (
    "src", "misc", "org", "orgkey", "pat", "pkey", "medkey",
    "ev", "med", "prob", "refused", "notes",
)  # fmt: skip


@dataclass
class FhirReadReport:
    """What a FHIR read did: counts per resource type, refusals with reasons, rows per table.

    Counts, reasons and locations (file, line, field) only: never a patient identifier.
    """

    files: int = 0
    resources: int = 0  # resources read (Bundle entries counted, the Bundles themselves not)
    read: dict[str, int] = field(default_factory=dict)  # per resourceType
    mapped: dict[str, int] = field(default_factory=dict)  # resources that gave at least one row
    lookup: dict[str, int] = field(default_factory=dict)  # read only to resolve references
    skipped_types: dict[str, int] = field(default_factory=dict)  # resource types we do not read
    skipped_other: dict[str, int] = field(default_factory=dict)  # anything else left out, in words
    refused: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> reason -> count
    refused_at: dict[str, list[str]] = field(default_factory=dict)  # reason -> first locations
    notes: dict[str, int] = field(default_factory=dict)  # kept, with something left out
    rows: dict[str, int] = field(default_factory=dict)  # canonical table -> rows
    validated: bool = False  # every mappable resource also passed the fhir.resources R4B models
    seconds: float = 0.0

    @property
    def refused_total(self) -> int:
        return sum(n for reasons in self.refused.values() for n in reasons.values())

    def summary(self) -> str:
        rows = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        rate = self.resources / self.seconds if self.seconds else 0.0
        out = (
            f"read {self.resources} FHIR resources from {self.files} file(s) in {self.seconds:.1f} s "
            f"({rate:,.0f}/s): {rows}"
        )
        if self.refused_total:
            out += f"; refused {self.refused_total}"
        skipped = sum(self.skipped_types.values()) + sum(self.skipped_other.values())
        if skipped:
            out += f"; skipped {skipped} of types not read"
        return out

    def import_notes(self) -> tuple[str, ...]:
        """What was refused or left out, in plain English for the import's summary and its
        ``imports`` row: counts, types and reasons only (no place in a file, no id of any kind),
        so the lines can be printed and kept anywhere."""
        lines = []
        for rtype, reasons in sorted(self.refused.items()):
            for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"refused {n:,} {rtype}: {reason}")
        types = sorted(self.skipped_types.items(), key=lambda kv: (-kv[1], kv[0]))
        if types:
            total = sum(n for _, n in types)
            shown = ", ".join(f"{what} {n:,}" for what, n in types[:SHOWN_TYPES])
            if len(types) > SHOWN_TYPES:
                shown += f" and {len(types) - SHOWN_TYPES} more"
            lines.append(
                f"skipped {total:,} resource{'' if total == 1 else 's'} of"
                f" {'a type' if total == 1 else 'types'} the reader does not use ({shown})"
            )
        for what, n in sorted(self.skipped_other.items()):
            lines.append(f"skipped {n:,} {what}")
        for what, n in sorted(self.notes.items()):
            lines.append(f"note: {n:,} × {what}")
        return tuple(lines)

    def details(self) -> str:
        """Several lines: every refusal reason with its count and where it was first seen."""
        lines = [self.summary()]
        for rtype, reasons in sorted(self.refused.items()):
            for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                at = "; ".join(self.refused_at.get(f"{rtype}: {reason}", []))
                lines.append(f"  refused {n} {rtype}: {reason}" + (f" (e.g. {at})" if at else ""))
        for what, n in sorted({**self.skipped_types, **self.skipped_other}.items()):
            lines.append(f"  skipped {n} {what}")
        for what, n in sorted(self.notes.items()):
            lines.append(f"  note: {n} × {what}")
        return "\n".join(lines)


def find_fhir_files(path: Path) -> list[Path]:
    """The FHIR files of an extract: *.ndjson (also .ndjson.gz) and *.json, in name order."""
    if path.is_file():
        return [path]
    files = [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and (p.name.endswith((".ndjson", ".ndjson.gz", ".json")))
    ]
    return files


def read_fhir(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    practice: str | None = None,
    validate: bool | None = None,
) -> FhirReadReport:
    """Create tables practices, patients, medications, events in ``con`` from FHIR files at ``path``.

    ``practice`` is the ODS code of the practice the extract comes from, used for patients whose
    ``generalPractitioner`` names no Organization with an ODS code. ``validate`` forces (True) or
    skips (False) per-resource R4B validation; by default only small inputs are validated.
    Raises ExtractError (nothing created) on problems.
    """
    path = Path(path)
    if not path.exists():
        raise ExtractError([Problem(str(path), None, None, None, "no such file or directory")])
    files = find_fhir_files(path)
    if not files:
        raise ExtractError(
            [Problem(str(path), None, None, None, "no *.ndjson or *.json FHIR files here")]
        )
    reader = _Reader(con, path, files, practice)
    saved = _settings(con, progress=False, order=True)
    try:
        return reader.run(validate)
    finally:
        reader.cleanup()
        _settings(con, **saved)


def _settings(con: duckdb.DuckDBPyConnection, *, progress: bool, order: bool) -> dict[str, bool]:
    """Set the two settings the reader relies on; returns the previous values to restore.

    No progress bar on standard output; insertion order kept, which makes rowid a line number.
    """
    old = con.execute(
        "SELECT current_setting('enable_progress_bar'), current_setting('preserve_insertion_order')"
    ).fetchone()
    con.execute(f"SET enable_progress_bar = {str(progress).lower()}")
    con.execute(f"SET preserve_insertion_order = {str(order).lower()}")
    return {"progress": bool(old[0]), "order": bool(old[1])}


class _Reader:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, root: Path, files: list[Path], practice: str | None
    ):
        self.con = con
        self.root = root
        self.files = files
        self.practice = practice.strip() if practice and practice.strip() else None
        self.names = [self._name(f) for f in files]
        self.extra_problems: list[tuple[int, int, int, Problem]] = []
        self.part_tables: list[str] = []
        self.parts: dict[str, list[str]] = {}
        self.t0 = time.perf_counter()

    def _name(self, f: Path) -> str:
        if self.root.is_file():
            return f.name
        return str(f.relative_to(self.root))

    def q(self, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params or [])

    def t(self, name: str) -> str:
        return _PREFIX + name

    # --- driver ------------------------------------------------------------------------------------
    def run(self, validate: bool | None) -> FhirReadReport:
        self.cleanup()
        self.q(_MACROS)
        self.load()
        mappable = self.q(
            "SELECT " + " + ".join(f"(SELECT count(*) FROM {self.t('res_' + r)})" for r in _SHAPES)
        ).fetchone()[0]
        do_validate = validate if validate is not None else mappable <= VALIDATE_MAX_RESOURCES
        self.map_organizations()
        self.map_patients()
        self.map_events()
        self.map_medications()
        if do_validate:
            self.validate_models()
        problems, truncated = self.problems()
        if problems:
            raise ExtractError(problems, truncated=truncated)
        self.create_tables()
        report = self.report()
        report.validated = do_validate
        report.seconds = time.perf_counter() - self.t0
        log.info("%s", report.summary())  # counts and reasons only, never an identifier
        return report

    def cleanup(self) -> None:
        for rtype in _SHAPES:
            self.q(f"DROP VIEW IF EXISTS {self.t('res_' + rtype)}")
        for part in self.part_tables:
            self.q(f"DROP TABLE IF EXISTS {part}")
        for name in _TABLES:
            self.q(f"DROP TABLE IF EXISTS {self.t(name)}")
        for name in _MACRO_NAMES:
            self.q(f"DROP MACRO IF EXISTS {self.t(name)}")

    # --- stage 1: every resource, parsed once --------------------------------------------------------
    def load(self) -> None:
        """Parse every resource once, into a typed STRUCT of the fields its type's mapping needs.

        An NDJSON file is sniffed from its first line (bulk exports hold one type per file) and read
        with that type's shape in one pass; lines of any other type, and .json files and Bundle
        entries, go to the ``misc`` table as text and are parsed per type from there.
        """
        t = self.t
        self.q(f"CREATE TEMP TABLE {t('src')} (src INTEGER, name VARCHAR)")
        self.q(
            f"INSERT INTO {t('src')} SELECT i - 1, n[i] "
            "FROM (SELECT ?::VARCHAR[] AS n), range(1, len(n) + 1) r(i)",
            [self.names],
        )
        self.q(
            f"""CREATE TEMP TABLE {t("misc")} (src INTEGER, line INTEGER, entry INTEGER,
                full_url VARCHAR, doc VARCHAR, rtype VARCHAR, bad VARCHAR)"""
        )
        classify = f"""INSERT INTO {t("misc")}
            SELECT src, line, entry, full_url, doc, rtype,
              CASE WHEN doc IS NULL OR trim(doc) = '' THEN 'blank'
                   WHEN rtype IS NULL AND NOT json_valid(doc) THEN 'invalid' END
            FROM (SELECT *, try(json_extract_string(doc, '$.resourceType')) AS rtype
                  FROM ({{select}}))"""
        lines = f"""read_csv(?, columns = {{{{'doc': 'VARCHAR'}}}}, header = false,
            delim = '\x01', quote = '', escape = '', auto_detect = false, strict_mode = false,
            max_line_size = {_MAX_LINE}, buffer_size = {_MAX_LINE})"""
        json_files = [i for i, f in enumerate(self.files) if f.name.endswith(".json")]
        if json_files:  # one query for all of them
            paths = [str(self.files[i]) for i in json_files]
            self._load(
                json_files,
                classify.format(
                    select="""SELECT s.src, NULL::INTEGER AS line, NULL::INTEGER AS entry,
                      NULL::VARCHAR AS full_url, content AS doc
                    FROM read_text(?) t JOIN (SELECT unnest(?::VARCHAR[]) AS filename,
                                                     unnest(?::INTEGER[]) AS src) s USING (filename)"""
                ),
                [paths, paths, json_files],
            )
        for src, f in enumerate(self.files):
            if f.name.endswith(".json"):
                continue
            rtype = _sniff(f)
            if rtype in _SHAPES:
                part = t(f"part{len(self.part_tables)}")
                # No row_number() here: a window would serialise the parse. The table keeps the
                # file's order (preserve_insertion_order), so rowid + 1 is the line number.
                ok = self._load(
                    [src],
                    f"""CREATE TEMP TABLE {part} AS
                    SELECT r, CASE WHEN r.resourceType IS DISTINCT FROM {_lit(rtype)}
                                   THEN doc END AS doc
                    FROM (SELECT try(json_transform(doc, {_lit(_SHAPES[rtype])})) AS r, doc
                          FROM {lines.format()})""",
                    [str(f)],
                )
                if ok:
                    self.part_tables.append(part)
                    self.parts.setdefault(rtype, []).append(
                        f"SELECT {src} AS src, CAST(rowid + 1 AS INTEGER) AS line, "
                        f"NULL::INTEGER AS entry, NULL::VARCHAR AS full_url, r FROM {part} "
                        f"WHERE r.resourceType = {_lit(rtype)}"
                    )
                    self.q(
                        classify.format(
                            select=f"""SELECT {src} AS src, CAST(rowid + 1 AS INTEGER) AS line,
                                         NULL::INTEGER AS entry, NULL::VARCHAR AS full_url, doc
                                       FROM {part} WHERE doc IS NOT NULL"""
                        )
                    )
            else:
                self._load(
                    [src],
                    classify.format(
                        select=f"""SELECT {src} AS src, row_number() OVER () AS line,
                          NULL::INTEGER AS entry, NULL::VARCHAR AS full_url, doc
                        FROM {lines.format()}"""
                    ),
                    [str(f)],
                )
        # Bundles (one level): entries become resources of their own, located by entry index.
        accepted = ", ".join(_lit(b) for b in BUNDLE_TYPES)
        self.q(
            f"""INSERT INTO {t("misc")}
            SELECT src, line, i - 1, json_extract_string(e, '$.fullUrl'),
                   CAST(json_extract(e, '$.resource') AS VARCHAR) AS doc,
                   json_extract_string(e, '$.resource.resourceType'),
                   CASE WHEN json_extract(e, '$.resource') IS NULL THEN 'noresource' END
            FROM (SELECT src, line, unnest(l) AS e, generate_subscripts(l, 1) AS i
                  FROM (SELECT src, line, CAST(json_extract(doc, '$.entry') AS JSON[]) AS l
                        FROM {t("misc")}
                        WHERE rtype = 'Bundle' AND entry IS NULL AND bad IS NULL
                          AND json_extract_string(doc, '$.type') IN ({accepted})))"""
        )
        for rtype, shape in _SHAPES.items():
            part = t(f"part{len(self.part_tables)}")
            n = self.q(
                f"SELECT count(*) FROM {t('misc')} WHERE rtype = ? AND bad IS NULL", [rtype]
            ).fetchone()[0]
            if not n:
                continue
            self.q(
                f"""CREATE TEMP TABLE {part} AS
                SELECT src, line, entry, full_url, try(json_transform(doc, {_lit(shape)})) AS r
                FROM {t("misc")} WHERE rtype = {_lit(rtype)} AND bad IS NULL"""
            )
            self.part_tables.append(part)
            self.parts.setdefault(rtype, []).append(
                f"SELECT src, line, entry, full_url, r FROM {part}"
            )
        for rtype, shape in _SHAPES.items():
            union = " UNION ALL ".join(self.parts.get(rtype, [])) or (
                f"SELECT NULL::INTEGER AS src, NULL::INTEGER AS line, NULL::INTEGER AS entry, "
                f"NULL::VARCHAR AS full_url, NULL::{self._struct_type(shape)} AS r "
                "WHERE false"
            )
            self.q(f"CREATE OR REPLACE TEMP VIEW {t('res_' + rtype)} AS {union}")
        # A .json file that is not JSON: find the line with Python's parser (few, small files).
        for src, line in self.q(
            f"SELECT src, line FROM {t('misc')} WHERE bad = 'invalid' ORDER BY src, line "
            f"LIMIT {MAX_PROBLEMS + 1}"
        ).fetchall():
            where_line, msg = line, "not valid JSON"
            if line is None:
                try:
                    json.loads(self.files[src].read_text(encoding="utf-8"))
                except (ValueError, UnicodeDecodeError) as exc:
                    where_line = getattr(exc, "lineno", None)
                    msg = f"not valid JSON ({getattr(exc, 'msg', 'not UTF-8')})"
            self._add(src, line, None, Problem(self.names[src], where_line, None, None, msg))
        # A bulk-export manifest (manifest.json next to the NDJSON) is not a resource: skip it.
        self.q(
            f"""UPDATE {t("misc")} SET bad = 'manifest'
            WHERE bad IS NULL AND rtype IS NULL AND line IS NULL AND entry IS NULL
              AND json_exists(doc, '$.transactionTime') AND json_exists(doc, '$.output')"""
        )
        self.q(
            f"""CREATE TEMP TABLE {t("prob")} AS
            SELECT src, line, entry, {_PREFIX}where(entry, 'resourceType') AS col,
                   NULL::VARCHAR AS value,
                   'not a FHIR resource: no resourceType' AS msg
            FROM {t("misc")} WHERE bad IS NULL AND rtype IS NULL"""
        )
        self.q(
            f"""CREATE TEMP TABLE {t("refused")} (rtype VARCHAR, reason VARCHAR,
                src INTEGER, line INTEGER, entry INTEGER, col VARCHAR)"""
        )
        self.q(f"CREATE TEMP TABLE {t('notes')} (note VARCHAR, n BIGINT)")

    def _load(self, srcs: list[int], sql: str, params: list) -> bool:
        """Run one reading query; a file DuckDB cannot read as text is a problem, not a crash."""
        try:
            self.q(sql, params)
            return True
        except (
            duckdb.InvalidInputException,
            duckdb.IOException,
            duckdb.ConversionException,
        ) as exc:
            first = str(exc).splitlines()[0]
            for src in srcs:
                self._add(
                    src,
                    None,
                    None,
                    Problem(
                        self.names[src], None, None, None, f"cannot be read as UTF-8 text: {first}"
                    ),
                )
            return False

    def _struct_type(self, shape: str) -> str:
        row = self.q(f"SELECT typeof(json_transform('{{}}', {_lit(shape)}))").fetchone()
        return row[0]

    def _add(self, src: int, line: int | None, entry: int | None, p: Problem) -> None:
        self.extra_problems.append((src, line or 0, -1 if entry is None else entry, p))

    # --- Organizations -------------------------------------------------------------------------------
    def map_organizations(self) -> None:
        self.q(
            f"""CREATE TEMP TABLE {self.t("org")} AS
            SELECT src, line, entry, full_url, r.id AS fid,
              nullif(trim(list_filter(r.identifier, lambda i: i.system = {_lit(ODS)})[1].value), '')
                AS ods,
              r.name AS name,
              r.partOf AS part_of,
              coalesce(list_contains(flatten(list_transform(r.type,
                  lambda t: list_transform(t.coding, lambda c: c.system || '|' || c.code))),
                {_lit(ODS_ROLE_SYSTEM + "|" + ODS_ROLE_GP_PRACTICE)}), false) AS is_practice
            FROM {self.t("res_Organization")}"""
        )
        self.q(
            f"""CREATE TEMP TABLE {self.t("orgkey")} AS
            SELECT DISTINCT ON (key) key, ods FROM (
              SELECT 'Organization/' || fid AS key, ods, src, line, entry FROM {self.t("org")}
                WHERE fid IS NOT NULL
              UNION ALL SELECT full_url, ods, src, line, entry FROM {self.t("org")}
                WHERE full_url IS NOT NULL
              UNION ALL SELECT 'urn:uuid:' || fid, ods, src, line, entry FROM {self.t("org")}
                WHERE fid IS NOT NULL)
            ORDER BY key, src, line, entry"""
        )

    # --- Patients ------------------------------------------------------------------------------------
    def map_patients(self) -> None:
        t = self.t
        reg_urls = ", ".join(_lit(u) for u in REGISTRATION_DETAILS)
        practice = "NULL::VARCHAR" if self.practice is None else _lit(self.practice)
        self.q(
            f"""CREATE TEMP TABLE {t("pat")} AS
            WITH p AS (
              SELECT row_number() OVER (ORDER BY src, line, entry) AS pk, src, line, entry, full_url,
                r.id AS fid,
                coalesce(list_filter(r.identifier, lambda i: i.system = {_lit(RXWATCH_PATIENT_ID)})[1].value,
                         r.id,
                         CASE WHEN full_url LIKE 'urn:uuid:%' THEN substr(full_url, 10) END)
                  AS patient_id,
                list_position(list_transform(r.identifier, lambda i: i.system), {_lit(NHS_NUMBER)})
                  AS nhs_pos,
                replace(list_filter(r.identifier, lambda i: i.system = {_lit(NHS_NUMBER)})[1].value,
                        ' ', '') AS nhs,
                r.gender AS gender, r.birthDate AS dob, r.deceasedDateTime AS dod,
                r.deceasedBoolean AS dead,
                list_filter(flatten(list_transform(
                    list_filter(r.extension, lambda e: e.url IN ({reg_urls})),
                    lambda e: e.extension)), lambda x: x.url = 'registrationPeriod')[1].valuePeriod."end"
                  AS reg_end,
                r.generalPractitioner AS gps
              FROM {t("res_Patient")}
            ),
            gp AS (
              SELECT pk, i, g, {_PREFIX}ref_organization(g.reference) AS key
              FROM (SELECT pk, unnest(gps) AS g, generate_subscripts(gps, 1) AS i FROM p)
            ),
            gp2 AS (
              SELECT gp.pk,
                arg_min(CASE WHEN g.identifier.system = {_lit(ODS)}
                             THEN nullif(trim(g.identifier.value), '') ELSE k.ods END, gp.i)
                  FILTER (WHERE (g.identifier.system = {_lit(ODS)}
                                 AND nullif(trim(g.identifier.value), '') IS NOT NULL)
                                OR k.ods IS NOT NULL) AS ods,
                min(gp.i) FILTER (WHERE gp.key LIKE 'Organization/%' AND k.key IS NULL
                                  AND g.identifier.value IS NULL) AS dangling
              FROM gp LEFT JOIN {t("orgkey")} k ON k.key = gp.key
              GROUP BY gp.pk
            ),
            q AS (
              SELECT p.*, gp2.ods AS gp_ods, gp2.dangling,
                coalesce(gp2.ods, {practice}) AS practice,
                {_PREFIX}dkind(dob) AS dob_k, {_PREFIX}dkind(dod) AS dod_k,
                {_PREFIX}dkind(reg_end) AS end_k,
                CASE WHEN pk > first.pk THEN 2 ELSE 1 END AS dup
              FROM p LEFT JOIN gp2 USING (pk)
                LEFT JOIN (SELECT patient_id, min(pk) AS pk FROM p GROUP BY patient_id) first
                  USING (patient_id)
            )
            SELECT *,
              CASE
                WHEN patient_id IS NULL THEN 'id'
                WHEN dup > 1 THEN 'id'
                WHEN gender IS NOT NULL AND gender NOT IN ('male', 'female', 'other', 'unknown')
                  THEN 'gender'
                WHEN dob_k = 'bad' THEN 'birthDate'
                WHEN dod_k = 'bad' THEN 'deceasedDateTime'
                WHEN dead IS NOT NULL AND dead NOT IN ('true', 'false') THEN 'deceasedBoolean'
                WHEN end_k = 'bad' THEN 'extension(RegistrationDetails).registrationPeriod.end'
                WHEN nhs IS NOT NULL AND NOT {_PREFIX}nhs_ok(nhs)
                  THEN 'identifier[' || (nhs_pos - 1) || '].value'
              END AS p_col,
              CASE
                WHEN patient_id IS NULL THEN 'Patient has no id'
                WHEN dup > 1 THEN 'duplicate Patient id: patient_id must be unique in an extract'
                WHEN gender IS NOT NULL AND gender NOT IN ('male', 'female', 'other', 'unknown')
                  THEN 'not a FHIR administrative gender (male, female, other, unknown)'
                WHEN dob_k = 'bad' THEN 'not a valid FHIR date'
                WHEN dod_k = 'bad' THEN 'not a valid FHIR dateTime'
                WHEN dead IS NOT NULL AND dead NOT IN ('true', 'false') THEN 'not a boolean'
                WHEN end_k = 'bad' THEN 'not a valid FHIR dateTime'
                WHEN nhs IS NOT NULL AND NOT {_PREFIX}nhs_ok(nhs)
                  THEN 'NHS number fails the modulus 11 check'
              END AS p_msg,
              CASE
                WHEN patient_id IS NULL OR dup > 1 THEN NULL
                WHEN gender IS NOT NULL AND gender NOT IN ('male', 'female', 'other', 'unknown')
                  THEN gender
                WHEN dob_k = 'bad' THEN dob
                WHEN dod_k = 'bad' THEN dod
                WHEN dead IS NOT NULL AND dead NOT IN ('true', 'false') THEN dead
                WHEN end_k = 'bad' THEN reg_end
                WHEN nhs IS NOT NULL AND NOT {_PREFIX}nhs_ok(nhs) THEN nhs
              END AS p_value,
              CASE
                WHEN dob IS NULL THEN 'no birthDate (age-based rules cannot apply)'
                WHEN dob_k = 'partial' THEN 'birthDate only partly known (year or month)'
                WHEN dod_k = 'partial' OR (dod IS NULL AND dead = 'true')
                  THEN 'deceased, date of death not known to the day'
                WHEN end_k = 'partial' THEN 'registration end only partly known (year or month)'
              END AS refusal
            FROM q"""
        )
        # A patient with no practice is a problem only if nothing else keeps it out.
        self.q(
            f"""UPDATE {t("pat")} SET
              p_col = CASE WHEN dangling IS NOT NULL
                           THEN 'generalPractitioner[' || (dangling - 1) || '].reference'
                           ELSE 'generalPractitioner' END,
              p_msg = CASE WHEN dangling IS NOT NULL
                THEN 'refers to an Organization that is not in the extract; include it, or pass '
                     || '--practice ODS for a single-practice extract'
                ELSE 'no registering practice: no generalPractitioner Organization with an ODS code; '
                     || 'pass --practice ODS for a single-practice extract' END
            WHERE p_col IS NULL AND refusal IS NULL AND practice IS NULL"""
        )
        # A new table, not ADD COLUMN + UPDATE: rewriting every row in place took ~10 s at 1M.
        self.q(
            f"""CREATE OR REPLACE TEMP TABLE {t("pat")} AS
            SELECT *, CASE WHEN p_col IS NOT NULL THEN 'problem'
                           WHEN refusal IS NOT NULL THEN 'refused' ELSE 'ok' END AS status
            FROM {t("pat")} ORDER BY pk"""
        )
        self.q(
            f"""INSERT INTO {t("prob")} SELECT src, line, entry, {_PREFIX}where(entry, p_col),
                   p_value, p_msg FROM {t("pat")} WHERE status = 'problem'"""
        )
        self._refuse(
            f"SELECT 'Patient', refusal, src, line, entry, NULL FROM {t('pat')} "
            "WHERE status = 'refused'"
        )
        # Every way a resource may name a patient: Patient/<id>, a Bundle fullUrl, urn:uuid:<id>,
        # or a logical reference by NHS number.
        self.q(
            f"""CREATE TEMP TABLE {t("pkey")} AS
            SELECT DISTINCT ON (key) key, pk FROM (
              SELECT 'Patient/' || fid AS key, pk FROM {t("pat")} WHERE fid IS NOT NULL
              UNION ALL SELECT full_url, pk FROM {t("pat")} WHERE full_url IS NOT NULL
              UNION ALL SELECT 'urn:uuid:' || fid, pk FROM {t("pat")} WHERE fid IS NOT NULL
              UNION ALL SELECT 'nhs:' || nhs, pk FROM {t("pat")} WHERE nhs IS NOT NULL)
            ORDER BY key, pk"""
        )

    def _refuse(self, select: str) -> None:
        self.q(f"INSERT INTO {self.t('refused')} {select}")

    # --- Observations and Conditions -> events -------------------------------------------------------
    def map_events(self) -> None:
        t, p = self.t, _PREFIX
        self.q(
            f"""CREATE TEMP TABLE {t("ev")} AS
            WITH obs AS NOT MATERIALIZED (
              SELECT src, line, entry, r.subject AS subject, r.code AS code,
                CASE WHEN r.effectiveDateTime IS NOT NULL THEN 'effectiveDateTime'
                     WHEN r.effectivePeriod.start IS NOT NULL THEN 'effectivePeriod.start'
                     WHEN r.effectiveInstant IS NOT NULL THEN 'effectiveInstant'
                     WHEN r.issued IS NOT NULL THEN 'issued' END AS date_col,
                coalesce(r.effectiveDateTime, r.effectivePeriod.start, r.effectiveInstant, r.issued)
                  AS date_s,
                CASE WHEN r.status IN ('entered-in-error', 'cancelled')
                       THEN 'status ' || r.status || ' (withdrawn or not done)'
                     WHEN r.status = 'registered' THEN 'status registered (no result yet)' END
                  AS void,
                r.valueQuantity AS vq, r.valueInteger AS vi, r.dataAbsentReason IS NOT NULL AS absent,
                r.component AS comps
              FROM {t("res_Observation")}
            ),
            rows AS (
              SELECT src, line, entry, 'Observation' AS rtype, NULL::INTEGER AS comp, '' AS cpath,
                     subject, code, date_col, date_s, void, vq, vi, absent,
                     CASE WHEN len(comps) > 0
                       THEN len(list_filter(comps, lambda c: c.dataAbsentReason IS NULL
                              AND {p}pick(c.code.coding, {_lit(SNOMED)}) IS NOT NULL)) > 0
                       ELSE false END AS comp_mapped
              FROM obs
              UNION ALL
              SELECT src, line, entry, 'Observation', i - 1, 'component[' || (i - 1) || '].',
                     subject, c.code, date_col, date_s, void, c.valueQuantity, c.valueInteger,
                     c.dataAbsentReason IS NOT NULL, false
              FROM (SELECT *, unnest(comps) AS c, generate_subscripts(comps, 1) AS i
                    FROM obs WHERE len(comps) > 0)
              UNION ALL
              SELECT src, line, entry, 'Condition', NULL, '', r.subject, r.code,
                CASE WHEN r.onsetDateTime IS NOT NULL THEN 'onsetDateTime'
                     WHEN r.onsetPeriod.start IS NOT NULL THEN 'onsetPeriod.start'
                     WHEN r.recordedDate IS NOT NULL THEN 'recordedDate' END,
                coalesce(r.onsetDateTime, r.onsetPeriod.start, r.recordedDate),
                CASE WHEN list_has_any(list_transform(r.verificationStatus.coding, lambda c: c.code),
                                       ['entered-in-error', 'refuted'])
                     THEN 'verificationStatus entered-in-error or refuted' END,
                NULL, NULL, false, false
              FROM {t("res_Condition")}
            ),
            x AS (
              SELECT *, {self._subject_key("subject")} AS subj_key,
                {p}pick(code.coding, {_lit(SNOMED)}) AS sct, {p}dkind(date_s) AS date_k,
                coalesce(vq.value, vi) AS value_s,
                CASE WHEN vq.value IS NOT NULL THEN 'valueQuantity.value' ELSE 'valueInteger' END
                  AS value_col
              FROM rows
            ),
            y AS (
              SELECT x.*, pt.patient_id, pt.status AS pstatus,
                CASE WHEN x.subj_key IS NULL
                       THEN CASE WHEN x.subject.reference IS NULL THEN 'none' ELSE 'notpatient' END
                     WHEN k.pk IS NULL THEN 'dangling' ELSE 'ok' END AS subj,
                {p}num_ok(x.value_s) AS num_ok,
                x.vq.comparator IS NULL OR x.vq.comparator IN ('<', '<=', '>=', '>', 'ad') AS cmp_ok
              FROM x LEFT JOIN {t("pkey")} k ON k.key = x.subj_key
                     LEFT JOIN {t("pat")} pt ON pt.pk = k.pk
            )
            SELECT src, line, entry, rtype, comp, patient_id, pstatus,
              CASE WHEN date_k = 'ok' THEN CAST(substr(date_s, 1, 10) AS DATE) END AS d,
              trim(sct.code) AS snomed_code, coalesce(sct.display, code.text) AS term,
              CASE WHEN num_ok THEN CAST(value_s AS DOUBLE) END AS "value",
              coalesce(vq.unit, vq.code) AS unit, vq.comparator AS comparator,
              -- problems: the resource's own (reported once, on its main row), then the row's
              CASE WHEN comp IS NULL AND subj = 'dangling'
                     THEN CASE WHEN subject.reference IS NOT NULL THEN 'subject.reference'
                               ELSE 'subject.identifier.value' END
                   WHEN comp IS NULL AND date_k = 'bad' THEN date_col
                   WHEN NOT num_ok THEN cpath || value_col
                   WHEN NOT cmp_ok THEN cpath || 'valueQuantity.comparator'
              END AS p_col,
              CASE WHEN comp IS NULL AND subj = 'dangling'
                     THEN 'refers to a Patient that is not in the extract'
                   WHEN comp IS NULL AND date_k = 'bad' THEN 'not a valid FHIR date/dateTime'
                   WHEN NOT num_ok THEN 'not a number'
                   WHEN NOT cmp_ok THEN 'not a FHIR quantity comparator (<, <=, >=, >, ad)'
              END AS p_msg,
              CASE WHEN comp IS NULL AND subj = 'dangling'
                     THEN coalesce(subject.reference, subject.identifier.value)
                   WHEN comp IS NULL AND date_k = 'bad' THEN date_s
                   WHEN NOT num_ok THEN value_s
                   ELSE vq.comparator
              END AS p_value,
              -- refusals of the whole resource (counted once, on its main row)
              CASE WHEN void IS NOT NULL THEN void
                   WHEN subj = 'none' THEN 'no subject (not about a patient)'
                   WHEN subj = 'notpatient' THEN 'subject is not a Patient'
                   WHEN pstatus = 'refused' THEN 'its Patient was refused'
                   WHEN date_s IS NULL
                     THEN CASE WHEN rtype = 'Condition'
                               THEN 'no clinical date (onset[x] or recordedDate)'
                               ELSE 'no clinical date (effective[x] or issued)' END
                   WHEN date_k = 'partial' THEN 'date only partly known (year or month)'
              END AS res_refusal,
              -- refusals of this row only; a panel's own code is not missed if its parts mapped
              CASE WHEN sct IS NULL AND comp IS NULL AND comp_mapped THEN 'panel'
                   WHEN sct IS NULL
                     THEN CASE WHEN comp IS NULL THEN 'no SNOMED CT code'
                               ELSE 'component with no SNOMED CT code' END
                   WHEN absent THEN 'no result (dataAbsentReason)'
                   WHEN vq.comparator = 'ad'
                     THEN 'comparator ad (sufficient to achieve) has no canonical equivalent'
              END AS row_refusal
            FROM y"""
        )
        self.q(
            f"""INSERT INTO {t("prob")} SELECT src, line, entry, {p}where(entry, p_col),
                   p_value, p_msg FROM {t("ev")} WHERE p_col IS NOT NULL"""
        )
        self._refuse(
            f"""SELECT rtype, res_refusal, src, line, entry, NULL FROM {t("ev")}
                WHERE comp IS NULL AND res_refusal IS NOT NULL AND p_col IS NULL
                  AND coalesce(pstatus, '') <> 'problem'
                UNION ALL
                SELECT CASE WHEN comp IS NULL THEN rtype ELSE rtype || '.component' END,
                       row_refusal, src, line, entry,
                       CASE WHEN comp IS NULL THEN NULL ELSE 'component[' || comp || ']' END
                FROM {t("ev")}
                WHERE res_refusal IS NULL AND row_refusal IS NOT NULL AND row_refusal <> 'panel'
                  AND p_col IS NULL AND pstatus = 'ok'"""
        )

    def _subject_key(self, col: str) -> str:
        """How a reference (or an NHS-number identifier) names a patient, as a key of ``pkey``."""
        return f"""CASE WHEN {col}.reference IS NOT NULL THEN {_PREFIX}ref_patient({col}.reference)
                        WHEN {col}.identifier.system = {_lit(NHS_NUMBER)}
                        THEN 'nhs:' || replace({col}.identifier.value, ' ', '') END"""

    # --- MedicationRequest / MedicationStatement -> medications --------------------------------------
    def map_medications(self) -> None:
        t, p = self.t, _PREFIX
        self.q(
            f"""CREATE TEMP TABLE {t("medkey")} AS
            SELECT DISTINCT ON (key) key, code FROM (
              SELECT 'Medication/' || r.id AS key, r.code AS code, src, line, entry
                FROM {t("res_Medication")} WHERE r.id IS NOT NULL
              UNION ALL SELECT full_url, r.code, src, line, entry
                FROM {t("res_Medication")} WHERE full_url IS NOT NULL
              UNION ALL SELECT 'urn:uuid:' || r.id, r.code, src, line, entry
                FROM {t("res_Medication")} WHERE r.id IS NOT NULL)
            ORDER BY key, src, line, entry"""
        )
        common = """src, line, entry, r.subject AS subject, r.medicationCodeableConcept AS mcc,
                r.medicationReference.reference AS mref,
                CASE WHEN r.medicationReference.reference LIKE '#%'
                     THEN list_filter(r.contained, lambda c: c.id = substr(
                              r.medicationReference.reference, 2))[1].code END AS contained_code"""
        self.q(
            f"""CREATE TEMP TABLE {t("med")} AS
            WITH m AS (
              SELECT 'MedicationRequest' AS rtype, {common},
                'authoredOn' AS date_col, r.authoredOn AS date_s,
                CASE WHEN r.status IN ('entered-in-error', 'cancelled', 'draft')
                       THEN 'status ' || r.status || ' (not issued)'
                     WHEN r.intent = 'proposal'
                       THEN 'intent proposal (a suggestion, not a prescription)' END AS void,
                r.dispenseRequest.quantity.value AS qty_s,
                r.dispenseRequest.expectedSupplyDuration.value AS dur_s,
                lower(coalesce(r.dispenseRequest.expectedSupplyDuration.code,
                               r.dispenseRequest.expectedSupplyDuration.unit)) AS dur_unit
              FROM {t("res_MedicationRequest")}
              UNION ALL
              SELECT 'MedicationStatement', {common},
                CASE WHEN r.effectiveDateTime IS NOT NULL THEN 'effectiveDateTime'
                     WHEN r.effectivePeriod.start IS NOT NULL THEN 'effectivePeriod.start'
                     ELSE 'dateAsserted' END,
                coalesce(r.effectiveDateTime, r.effectivePeriod.start, r.dateAsserted),
                CASE WHEN r.status IN ('entered-in-error', 'not-taken') THEN 'status ' || r.status
                END,
                NULL, NULL, NULL
              FROM {t("res_MedicationStatement")}
            ),
            x AS (
              SELECT m.*, {self._subject_key("m.subject")} AS subj_key,
                coalesce(m.mcc, m.contained_code, mk.code) AS cc,
                (m.mcc IS NULL AND m.mref IS NOT NULL AND m.contained_code IS NULL
                 AND mk.key IS NULL) AS med_dangling,
                {p}dkind(m.date_s) AS date_k
              FROM m LEFT JOIN {t("medkey")} mk
                ON mk.key = {p}ref_medication(m.mref) AND m.mref NOT LIKE '#%'
            ),
            y AS (
              SELECT x.*, pt.patient_id, pt.status AS pstatus,
                CASE WHEN x.subj_key IS NULL
                       THEN CASE WHEN x.subject.reference IS NULL THEN 'none' ELSE 'notpatient' END
                     WHEN k.pk IS NULL THEN 'dangling' ELSE 'ok' END AS subj,
                coalesce({p}pick(x.cc.coding, {_lit(DMD)}),
                         list_filter(x.cc.coding, lambda c: c.system = {_lit(SNOMED)}
                           AND nullif(trim(c.code), '') IS NOT NULL
                           AND trim(c.code) <> {_lit(TRANSFER_DEGRADED_MEDICATION)})[1]) AS dmd,
                {p}num_ok(x.qty_s) AS qty_ok, {p}num_ok(x.dur_s) AS dur_ok
              FROM x LEFT JOIN {t("pkey")} k ON k.key = x.subj_key
                     LEFT JOIN {t("pat")} pt ON pt.pk = k.pk
            )
            SELECT src, line, entry, rtype, patient_id, pstatus,
              CASE WHEN date_k = 'ok' THEN CAST(substr(date_s, 1, 10) AS DATE) END AS d,
              trim(dmd.code) AS dmd_code, coalesce(dmd.display, cc.text) AS name,
              CASE WHEN qty_ok THEN CAST(qty_s AS DOUBLE) END AS quantity,
              CASE WHEN NOT dur_ok OR dur_s IS NULL THEN NULL
                   WHEN dur_unit IN ('d', 'day', 'days')
                     THEN CAST(round(CAST(dur_s AS DOUBLE)) AS INTEGER)
                   WHEN dur_unit IN ('wk', 'week', 'weeks')
                     THEN CAST(round(7 * CAST(dur_s AS DOUBLE)) AS INTEGER) END AS days_supply,
              dur_s IS NOT NULL AND coalesce(dur_unit, '') NOT IN
                ('d', 'day', 'days', 'wk', 'week', 'weeks') AS dur_dropped,
              CASE WHEN subj = 'dangling'
                     THEN CASE WHEN subject.reference IS NOT NULL THEN 'subject.reference'
                               ELSE 'subject.identifier.value' END
                   WHEN med_dangling THEN 'medicationReference.reference'
                   WHEN date_k = 'bad' THEN date_col
                   WHEN NOT qty_ok THEN 'dispenseRequest.quantity.value'
                   WHEN NOT dur_ok THEN 'dispenseRequest.expectedSupplyDuration.value'
              END AS p_col,
              CASE WHEN subj = 'dangling' THEN 'refers to a Patient that is not in the extract'
                   WHEN med_dangling THEN 'refers to a Medication that is not in the extract'
                   WHEN date_k = 'bad' THEN 'not a valid FHIR date/dateTime'
                   ELSE 'not a number'
              END AS p_msg,
              CASE WHEN subj = 'dangling' THEN coalesce(subject.reference, subject.identifier.value)
                   WHEN med_dangling THEN mref
                   WHEN date_k = 'bad' THEN date_s
                   WHEN NOT qty_ok THEN qty_s
                   ELSE dur_s
              END AS p_value,
              CASE WHEN void IS NOT NULL THEN void
                   WHEN subj = 'none' THEN 'no subject (not about a patient)'
                   WHEN subj = 'notpatient' THEN 'subject is not a Patient'
                   WHEN pstatus = 'refused' THEN 'its Patient was refused'
                   WHEN dmd IS NULL AND list_contains(
                          list_transform(cc.coding, lambda c: trim(c.code)),
                          {_lit(TRANSFER_DEGRADED_MEDICATION)})
                     THEN 'transfer-degraded medication entry (no product code)'
                   WHEN dmd IS NULL THEN 'no dm+d code'
                   WHEN date_s IS NULL THEN 'no date (' || date_col || ')'
                   WHEN date_k = 'partial' THEN 'date only partly known (year or month)'
              END AS refusal
            FROM y"""
        )
        self.q(
            f"""INSERT INTO {t("prob")} SELECT src, line, entry, {p}where(entry, p_col),
                   p_value, p_msg FROM {t("med")} WHERE p_col IS NOT NULL"""
        )
        self._refuse(
            f"""SELECT rtype, refusal, src, line, entry, NULL FROM {t("med")}
                WHERE refusal IS NOT NULL AND p_col IS NULL AND coalesce(pstatus, '') <> 'problem'"""
        )
        self.q(
            f"""INSERT INTO {t("notes")}
            SELECT 'expectedSupplyDuration not in days or weeks: days_supply left empty', count(*)
            FROM {t("med")} WHERE dur_dropped AND p_col IS NULL AND refusal IS NULL
            HAVING count(*) > 0"""
        )

    # --- optional: the R4B models, resource by resource (small inputs) -----------------------------
    def validate_models(self) -> None:
        from fhir.resources.R4B import get_fhir_model_class
        from pydantic import ValidationError

        types = set(MAPPED_TYPES) | set(LOOKUP_TYPES)
        for src, f in enumerate(self.files):
            for line, entry, resource in _iter_resources(f):
                if not isinstance(resource, dict) or resource.get("resourceType") not in types:
                    continue
                try:
                    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
                except ValidationError as exc:
                    for err in exc.errors()[:3]:
                        loc = _loc(err.get("loc", ()))
                        col = loc if entry is None else f"entry[{entry}].resource.{loc}"
                        self._add(
                            src,
                            line,
                            entry,
                            Problem(
                                self.names[src],
                                line,
                                col or None,
                                None,
                                f"not valid FHIR R4: {err.get('msg', 'invalid')}",
                            ),
                        )

    # --- problems, tables, report ----------------------------------------------------------------------
    def problems(self) -> tuple[list[Problem], bool]:
        rows = self.q(
            f"""SELECT p.src, p.line, p.entry, s.name, p.col, p.value, p.msg
                FROM {self.t("prob")} p JOIN {self.t("src")} s USING (src)
                ORDER BY p.src, p.line NULLS FIRST, p.entry NULLS FIRST, p.col
                LIMIT {MAX_PROBLEMS + 1}"""
        ).fetchall()
        found = [
            (src, line or 0, -1 if entry is None else entry, Problem(name, line, col, value, msg))
            for src, line, entry, name, col, value, msg in rows
        ]
        seen = {(s, ln, e, p.column) for s, ln, e, p in self.extra_problems}
        found = [x for x in found if (x[0], x[1], x[2], x[3].column) not in seen]
        allp = sorted([*self.extra_problems, *found], key=lambda x: (x[0], x[1], x[2]))
        truncated = len(allp) > MAX_PROBLEMS
        return [p for *_, p in allp[:MAX_PROBLEMS]], truncated

    def create_tables(self) -> None:
        t = self.t
        practice = "NULL::VARCHAR" if self.practice is None else _lit(self.practice)
        self.q(f"CREATE OR REPLACE TABLE practices {PRACTICES.ddl()}")
        self.q(
            f"""INSERT INTO practices
            WITH orgs AS (
              SELECT DISTINCT ON (o.ods) o.ods, o.name, o.is_practice,
                CASE WHEN o.part_of.identifier.system = {_lit(ODS)}
                     THEN o.part_of.identifier.value ELSE pk.ods END AS pcn
              FROM {t("org")} o LEFT JOIN {t("orgkey")} pk
                ON pk.key = {_PREFIX}ref_organization(o.part_of.reference)
              WHERE o.ods IS NOT NULL ORDER BY o.ods, o.src, o.line, o.entry
            ),
            codes AS (
              SELECT DISTINCT practice AS ods FROM {t("pat")} WHERE status = 'ok'
              UNION SELECT ods FROM orgs WHERE is_practice
              UNION SELECT {practice} WHERE {practice} IS NOT NULL
            )
            SELECT c.ods, coalesce(o.name, c.ods), o.pcn FROM codes c LEFT JOIN orgs o USING (ods)
            ORDER BY c.ods"""
        )
        self.q(
            f"""INSERT INTO {t("notes")}
            SELECT 'practice with no Organization resource: its name is its ODS code', count(*)
            FROM practices p WHERE NOT EXISTS (SELECT 1 FROM {t("org")} o WHERE o.ods = p.ods_code)
            HAVING count(*) > 0"""
        )
        self.q(f"CREATE OR REPLACE TABLE patients {PATIENTS.ddl()}")
        self.q(
            f"""INSERT INTO patients
            SELECT patient_id, practice, {_PREFIX}date(dob),
              CASE gender WHEN 'male' THEN 'M' WHEN 'female' THEN 'F' ELSE 'U' END,
              nhs, {_PREFIX}date(dod), {_PREFIX}date(reg_end)
            FROM {t("pat")} WHERE status = 'ok' ORDER BY pk"""
        )
        # Issues and events in the order the mapping made them (resources in file order), not
        # sorted again: a sort of every row cost ~10 s at 1M patients and no reader needs it.
        self.q(f"CREATE OR REPLACE TABLE medications {MEDICATIONS.ddl()}")
        self.q(
            f"""INSERT INTO medications
            SELECT patient_id, d, dmd_code, name, quantity, days_supply FROM {t("med")}
            WHERE p_col IS NULL AND refusal IS NULL AND pstatus = 'ok'"""
        )
        self.q(f"CREATE OR REPLACE TABLE events {EVENTS.ddl()}")
        self.q(
            f"""INSERT INTO events
            SELECT patient_id, d, snomed_code, term, "value", unit, comparator FROM {t("ev")}
            WHERE p_col IS NULL AND res_refusal IS NULL AND row_refusal IS NULL AND pstatus = 'ok'"""
        )

    def report(self) -> FhirReadReport:
        t = self.t
        rep = FhirReadReport(files=len(self.files))
        known = ", ".join(_lit(r) for r in _SHAPES)
        counts = self.q(
            " UNION ALL ".join(f"SELECT {_lit(r)}, count(*) FROM {t('res_' + r)}" for r in _SHAPES)
            + f""" UNION ALL SELECT rtype, count(*) FROM {t("misc")}
                WHERE bad IS NULL AND rtype IS NOT NULL AND rtype NOT IN ({known})
                  AND NOT (rtype = 'Bundle' AND entry IS NULL)
                GROUP BY rtype ORDER BY 1"""
        ).fetchall()
        counts = [(k, v) for k, v in counts if v]
        rep.read = {k: v for k, v in counts}
        rep.resources = sum(rep.read.values())
        for rtype, n in counts:
            if rtype in LOOKUP_TYPES:
                rep.lookup[rtype] = n
            elif rtype not in MAPPED_TYPES:
                what = "Bundle (nested)" if rtype == "Bundle" else _shown_type(rtype)
                rep.skipped_types[what] = rep.skipped_types.get(what, 0) + n
        manifests = self.q(f"SELECT count(*) FROM {t('misc')} WHERE bad = 'manifest'").fetchone()[0]
        if manifests:
            rep.skipped_other["bulk-export manifest (not a resource)"] = manifests
        entries = self.q(f"SELECT count(*) FROM {t('misc')} WHERE bad = 'noresource'").fetchone()[0]
        if entries:
            rep.skipped_other["Bundle entries without a resource (requests)"] = entries
        for btype, n in self.q(
            f"""SELECT json_extract_string(doc, '$.type'), count(*) FROM {t("misc")}
                WHERE rtype = 'Bundle' AND entry IS NULL AND bad IS NULL
                  AND coalesce(json_extract_string(doc, '$.type'), '') NOT IN
                      ({", ".join(_lit(b) for b in BUNDLE_TYPES)})
                GROUP BY ALL"""
        ).fetchall():
            what = (
                f"Bundle of type {btype} (not read)"
                if _is_code(btype)
                else "Bundle of an unrecognised type (not read)"
            )
            rep.skipped_other[what] = rep.skipped_other.get(what, 0) + n
        mapped = self.q(
            f"""SELECT 'Patient', count(*) FROM {t("pat")} WHERE status = 'ok'
            UNION ALL SELECT rtype, count(*) FROM (
              SELECT DISTINCT rtype, src, line, entry FROM {t("ev")}
              WHERE p_col IS NULL AND res_refusal IS NULL AND row_refusal IS NULL AND pstatus = 'ok'
            ) GROUP BY rtype
            UNION ALL SELECT rtype, count(*) FROM {t("med")}
              WHERE p_col IS NULL AND refusal IS NULL AND pstatus = 'ok' GROUP BY rtype
            UNION ALL SELECT 'Organization', count(DISTINCT ods) FROM {t("org")}
              WHERE ods IN (SELECT ods_code FROM practices)"""
        ).fetchall()
        rep.mapped = {k: v for k, v in mapped if v}
        n_org = rep.read.get("Organization", 0)
        if n_org - rep.mapped.get("Organization", 0) > 0:
            rep.lookup["Organization"] = n_org - rep.mapped.get("Organization", 0)
        refused = self.q(
            f"""SELECT r.rtype, r.reason, count(*),
                  list(s.name || coalesce(': line ' || r.line, '')
                       || coalesce(': ' || {_PREFIX}where(r.entry, coalesce(r.col, '')), '')
                       ORDER BY r.src, r.line, r.entry)[1:3]
                FROM {t("refused")} r JOIN {t("src")} s USING (src)
                GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        for rtype, reason, n, where in refused:
            rep.refused.setdefault(rtype, {})[reason] = n
            rep.refused_at[f"{rtype}: {reason}"] = [w.rstrip(": ") for w in where]
        rep.notes = dict(self.q(f"SELECT note, n FROM {t('notes')}").fetchall())
        for table in ("practices", "patients", "medications", "events"):
            rep.rows[table] = self.q(f"SELECT count(*) FROM {table}").fetchone()[0]
        return rep


def _shown_type(rtype: str) -> str:
    """A resourceType as the report may show it: the data chose it, so anything not shaped like a
    FHIR type name (letters only, e.g. an identifier typed into the field) is not repeated."""
    return rtype if re.fullmatch(r"[A-Z][A-Za-z]{1,63}", rtype) else _UNRECOGNISED_TYPE


def _is_code(code: str | None) -> bool:
    """Whether a value the data chose is shaped like a FHIR code (lower-case letters and hyphens,
    e.g. a Bundle type), and so may be repeated in the report."""
    return bool(code and re.fullmatch(r"[a-z][a-z-]{0,39}", code))


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _iter_resources(f: Path):
    """(line, entry, resource) for each resource of a small file, as the SQL path numbers them."""
    import gzip

    if f.name.endswith(".json"):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return
        yield from _with_entries(None, doc)
        return
    opener = gzip.open if f.name.endswith(".gz") else open
    with opener(f, "rt", encoding="utf-8", newline="") as fh:
        for n, text in enumerate(fh, start=1):
            text = text.strip()
            if not text:
                continue
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            yield from _with_entries(n, doc)


def _with_entries(line: int | None, doc):
    if not isinstance(doc, dict):
        return
    if doc.get("resourceType") == "Bundle" and doc.get("type") in BUNDLE_TYPES:
        for i, e in enumerate(doc.get("entry") or []):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                yield line, i, e["resource"]
        return
    yield line, None, doc
