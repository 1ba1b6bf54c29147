"""Read a canonical extract (CSV or Parquet) into DuckDB and validate it, all in SQL.

Why SQL: an extract can hold tens of millions of event rows. Each file is read once by DuckDB's
parallel CSV (or Parquet) reader into a staging table of trimmed text (``_raw_<table>``); every
check is a vectorised query over that table that returns at most ``MAX_PROBLEMS + 1`` offending
rows; the typed canonical table is then built with one ``CREATE TABLE … AS SELECT`` and the staging
table dropped. No Python code runs per row.

Line numbers (CSV): the header is line 1 and the first data row line 2, as a text editor shows
them. DuckDB gives no line number for a row it accepts, so a row's line is worked out from its
position in the file (``rowid``), only for rows that have a problem: records the CSV parser
rejected, blank lines and line breaks inside quoted fields (in the columns RxWatch reads) before it
are added back. A line break inside a quoted field of a column RxWatch ignores can leave later line
numbers short by one per such break. Parquet has no lines: problems give the row number, the first
data row being row 1.
"""

from __future__ import annotations

import csv
import io
import mmap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from rxwatch.extract.schema import COMPARATORS, SEXES, TABLES, Column, Table
from rxwatch.extract.validation import MAX_PROBLEMS, ExtractError, Problem

RAW = "_raw_"  # prefix of the text staging tables

_REJECT_MESSAGES = {
    "MISSING COLUMNS": "the line has fewer fields than the header",
    "TOO MANY COLUMNS": "the line has more fields than the header",
    "INVALID ENCODING": "the line is not valid UTF-8 text (save the file as UTF-8)",
    "UNQUOTED VALUE": 'a quote (") inside a field that is not itself quoted',
    "LINE SIZE OVER MAXIMUM": "the line is too long (is a quote left open?)",
    "INVALID STATE": "the line is not well-formed CSV",
}


# --- SQL building blocks (x is a trimmed VARCHAR expression, NULL when empty) ---------------------


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_date(x: str) -> str:
    """ISO 8601 date ``YYYY-MM-DD``, or a full ISO timestamp of which the date part is kept."""
    return (
        f"(CASE WHEN substr({x}, 5, 1) = '-' AND substr({x}, 8, 1) = '-' THEN CASE"
        f" WHEN length({x}) = 10 THEN try_cast({x} AS DATE)"
        f" WHEN substr({x}, 11, 1) IN ('T', ' ') AND try_cast({x} AS TIMESTAMPTZ) IS NOT NULL"
        f" THEN try_cast(substr({x}, 1, 10) AS DATE) END END)"
    )


def sql_number(x: str) -> str:
    """A finite number (``nan``/``inf`` are not results)."""
    return f"(CASE WHEN isfinite(try_cast({x} AS DOUBLE)) THEN try_cast({x} AS DOUBLE) END)"


def sql_integer(x: str) -> str:
    """A whole number that fits an INTEGER; ``30.0`` counts, ``30.5`` does not."""
    n = sql_number(x)
    return f"(CASE WHEN {n} = round({n}) AND abs({n}) < 2147483648 THEN CAST({n} AS INTEGER) END)"


_PREFIX = r"^(<=|>=|<|>|=|~)\s*(.+)$"


def sql_value(x: str) -> str:
    """The number in a result value, with or without a comparator prefix (``<0.5``)."""
    return (
        f"(CASE WHEN isfinite(try_cast({x} AS DOUBLE)) THEN try_cast({x} AS DOUBLE)"
        f" ELSE {sql_number(f'regexp_extract({x}, {_lit(_PREFIX)}, 2)')} END)"
    )


def sql_value_comparator(x: str) -> str:
    """The comparator written in front of a value; ``=`` and ``~`` mean none."""
    return (
        f"(CASE WHEN try_cast({x} AS DOUBLE) IS NULL THEN"
        f" nullif(nullif(nullif(regexp_extract({x}, {_lit(_PREFIX)}, 1), ''), '='), '~') END)"
    )


def sql_comparator(x: str) -> str:
    """The comparator column; ``=`` and ``~`` mean none."""
    return f"(CASE WHEN {x} IN ('=', '~') THEN NULL ELSE {x} END)"


def sql_nhs_digits(x: str) -> str:
    """An NHS number with its spaces removed, as stored."""
    return f"replace({x}, ' ', '')"


def sql_nhs_valid(x: str) -> str:
    """Modulus 11 over the first nine digits (weights 10..2); a check digit of 10 is never valid.

    Same rule as the ``nhs-number`` package (the tests hold them equal), done in SQL so that a
    million patients take milliseconds.
    """
    d = sql_nhs_digits(x)
    weighted = " + ".join(f"(ascii(substr({d}, {i}, 1)) - 48) * {11 - i}" for i in range(1, 10))
    return (
        f"(regexp_full_match({d}, '[0-9]{{10}}') AND "
        f"(11 - ({weighted}) % 11) % 11 = ascii(substr({d}, 10, 1)) - 48)"
    )


def typed_expr(table: Table, col: Column, present: set[str]) -> str:
    """The SQL that turns the staged text of ``col`` into its canonical value and type."""
    x = q(col.name)
    if col.name not in present:
        return f"CAST(NULL AS {col.sql_type})"
    if table.name == "events" and col.name == "value":
        expr = sql_value(x)
    elif table.name == "events" and col.name == "comparator":
        vc = sql_value_comparator(q("value")) if "value" in present else "NULL"
        expr = f"coalesce({vc}, {sql_comparator(x)})"
    elif col.kind == "date":
        expr = sql_date(x)
    elif col.kind == "number":
        expr = sql_number(x)
    elif col.kind == "integer":
        expr = sql_integer(x)
    elif col.kind == "sex":
        expr = f"upper({x})"
    elif col.kind == "nhs_number":
        expr = sql_nhs_digits(x)
    elif (table.name, col.name) in {("practices", "ods_code"), ("patients", "practice")}:
        expr = f"upper({x})"  # ODS codes are upper case; accept what a spreadsheet lower-cased
    else:
        expr = x
    return f"CAST({expr} AS {col.sql_type})"


# --- row checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One row-level rule: rows where ``condition`` holds have a problem in ``column``."""

    condition: str
    column: str
    message: str
    show_value: bool = True


def row_checks(table: Table, present: set[str]) -> list[Check]:
    """Every check that looks at one row at a time, for the columns the file has."""
    checks: list[Check] = []
    for col in table.columns:
        if col.name not in present:
            continue
        x = q(col.name)
        if col.required:
            checks.append(Check(f"{x} IS NULL", col.name, "required field is empty", False))
        if table.name == "events" and col.name == "value":
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND {sql_value(x)} IS NULL",
                    col.name,
                    "not a number (a comparator may come first, as in <0.5 or >=90)",
                )
            )
        elif col.kind == "date":
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND {sql_date(x)} IS NULL",
                    col.name,
                    "not a date (YYYY-MM-DD)",
                )
            )
        elif col.kind == "number":
            checks.append(
                Check(f"{x} IS NOT NULL AND {sql_number(x)} IS NULL", col.name, "not a number")
            )
        elif col.kind == "integer":
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND {sql_integer(x)} IS NULL", col.name, "not a whole number"
                )
            )
        elif col.kind == "sex":
            allowed = ", ".join(_lit(s) for s in SEXES)
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND upper({x}) NOT IN ({allowed})",
                    col.name,
                    "sex must be F, M or U",
                )
            )
        elif col.kind == "nhs_number":
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND NOT {sql_nhs_valid(x)}",
                    col.name,
                    "not a valid NHS number (10 digits passing the modulus 11 check)",
                )
            )
        elif col.kind == "comparator":
            allowed = ", ".join(_lit(c) for c in COMPARATORS)
            checks.append(
                Check(
                    f"{sql_comparator(x)} NOT IN ({allowed})",
                    col.name,
                    "comparator must be <, >, <= or >= (= or empty for none)",
                )
            )
    if table.name == "events" and {"value", "comparator"} <= present:
        v, c = q("value"), q("comparator")
        checks.append(
            Check(
                f"{sql_value_comparator(v)} IS NOT NULL AND {sql_comparator(c)} IS NOT NULL"
                f" AND {sql_value_comparator(v)} <> {sql_comparator(c)}",
                "comparator",
                "conflicts with the comparator written in front of the value",
            )
        )
    if table.name == "events" and "comparator" in present:
        v = q("value") if "value" in present else "NULL"
        checks.append(
            Check(
                f"{sql_comparator(q('comparator'))} IS NOT NULL AND {v} IS NULL",
                "comparator",
                "a comparator is given but the value is empty",
            )
        )
    if table.name == "patients" and "date_of_birth" in present:
        dob = sql_date(q("date_of_birth"))
        for name, words in (
            ("date_of_death", "date of death"),
            ("registration_end", "registration end"),
        ):
            if name in present:
                checks.append(
                    Check(
                        f"{sql_date(q(name))} < {dob}", name, f"{words} is before the date of birth"
                    )
                )
    return checks


# --- problem collection --------------------------------------------------------------------------


@dataclass
class Source:
    """One staged table: where it came from and how to turn a row index into a line number."""

    table: Table
    file: str  # as shown in messages
    path: Path | None
    unit: str  # "line" (CSV), "row" (Parquet) or "" (no position known)
    relation: str  # staging table or view, text columns named as in the schema
    index: str  # SQL expression of the row's position in the file, from 0
    present: set[str]
    rejected_lines: list[int] = field(default_factory=list)  # CSV records the parser refused


@dataclass
class _Found:
    """A problem found in SQL, before its row index is turned into a line."""

    source: Source
    index: int | None  # row position, or None for whole-file problems
    line: int | None  # already known (header, rejected CSV records)
    column: str | None
    value: str | None
    message: str
    record: int | None = None  # a record the CSV parser rejected, counted as DuckDB counts them


class Collector:
    """Gathers problems across the extract; knows when there are already more than enough."""

    def __init__(self) -> None:
        self.found: list[_Found] = []

    @property
    def full(self) -> bool:
        return len(self.found) > MAX_PROBLEMS

    def add(self, f: _Found) -> None:
        self.found.append(f)

    def raise_if_any(self, con: duckdb.DuckDBPyConnection) -> None:
        """Resolve lines, order by table then line, cap, and raise ExtractError."""
        if not self.found:
            return
        order = {t.name: i for i, t in enumerate(TABLES)}
        by_source: dict[int, list[_Found]] = {}
        for f in self.found:
            by_source.setdefault(id(f.source), []).append(f)
        keyed: list[tuple[tuple[int, int, int, int], Problem]] = []
        for n, items in enumerate(by_source.values()):
            src = items[0].source
            lines, rec_lines = _resolve_lines(
                con,
                src,
                {f.index for f in items if f.index is not None},
                {f.record for f in items if f.record is not None},
            )
            for k, f in enumerate(items):
                line = f.line
                if f.index is not None:
                    line = lines.get(f.index)
                elif f.record is not None:
                    line = rec_lines.get(f.record, f.record)
                unit = src.unit if f.index is not None else "line"
                problem = Problem(src.file, line, f.column, f.value, f.message, unit)
                keyed.append(((order.get(src.table.name, 9), n, line or 0, k), problem))
        keyed.sort(key=lambda kp: kp[0])
        problems = [p for _, p in keyed]
        raise ExtractError(problems[:MAX_PROBLEMS], truncated=len(problems) > MAX_PROBLEMS)


def _resolve_lines(
    con: duckdb.DuckDBPyConnection, src: Source, indexes: set[int], records: set[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Row positions and rejected records → line numbers (see the module docstring).

    Usually exact arithmetic: line = position + 2, plus the rejected records before it. Only when
    the file has blank lines or line breaks inside quoted fields is the file read again, by
    Python's csv module, up to the last problem: a cost paid on the failure path alone.
    """
    if src.unit == "row":
        return {i: i + 1 for i in indexes}, {}
    if src.unit != "line" or (not indexes and not records):
        return {}, {}
    top = max(indexes, default=0)
    cols = [q(c) for c in src.present]
    breaks = bool(cols) and bool(
        con.execute(
            f"SELECT 1 FROM {src.relation} WHERE {src.index} < ? AND"
            f" ({' OR '.join(f'contains({c}, chr(10)) OR contains({c}, chr(13))' for c in cols)})"
            " LIMIT 1",
            [top],
        ).fetchall()
    )
    if breaks or _has_blank_line(src.path):
        return _scan_lines(src.path, set(src.rejected_lines), indexes, records)
    rejected = sorted(src.rejected_lines)
    out = {}
    for i in indexes:
        line = i + 2
        for r in rejected:
            if r <= line:
                line += 1
        out[i] = line
    return out, {r: r for r in records}


def _has_blank_line(path: Path | None) -> bool:
    """Whether a blank line comes before the last line (DuckDB skips it without giving a row)."""
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        body = _content_end(mm)
        return any(mm.find(p, 0, body) > -1 for p in (b"\n\n", b"\n\r\n", b"\r\r"))


def _content_end(mm: mmap.mmap) -> int:
    """Offset after the last character that is not a line ending."""
    end = len(mm)
    while end > 0 and mm[end - 1 : end] in (b"\n", b"\r"):
        end -= 1
    return end


def _scan_lines(
    path: Path | None, rejected: set[int], indexes: set[int], records: set[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Walk the file's records as DuckDB does, noting the first physical line of each wanted one."""
    rows: dict[int, int] = {}
    recs: dict[int, int] = {}
    if path is None:
        return rows, recs
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        end, record, row = 0, 0, -1
        for fields in reader:
            start, end = end + 1, reader.line_num
            record += 1
            if record == 1:
                continue  # header
            if record in rejected:
                if record in records:
                    recs[record] = start
            elif fields:
                row += 1
                if row in indexes:
                    rows[row] = start
            if len(rows) == len(indexes) and len(recs) == len(records):
                break
    return rows, recs


# --- reading -------------------------------------------------------------------------------------


def _header(path: Path) -> list[str] | str:
    """The header's column names, or why they cannot be read."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the header line is not valid UTF-8 text (save the file as UTF-8)"
    row = next(csv.reader(io.StringIO(text)), [])
    if not any(c.strip() for c in row):
        return "the header line is empty: the first line must name the columns"
    return row


def _column_map(names: Iterable[str]) -> dict[str, str]:
    """Schema name → the file's own spelling (case and surrounding spaces ignored; first wins)."""
    out: dict[str, str] = {}
    for n in names:
        out.setdefault(n.strip().lower(), n)
    return out


def _missing_required(src_file: str, table: Table, cmap: dict[str, str], unit: str) -> list[_Found]:
    return [
        _Found(
            Source(table, src_file, None, unit, "", "", set()),
            None,
            1 if unit == "line" else None,
            c,
            None,
            "required column is missing",
        )
        for c in table.required
        if c not in cmap
    ]


def stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, table: Table, found: Collector
) -> Source | None:
    """Read one CSV file into ``_raw_<table>`` as trimmed text; file-level problems to ``found``."""
    file = path.name
    blank = Source(table, file, path, "line", "", "", set())
    if not path.is_file():
        found.add(_Found(blank, None, None, None, None, "file is missing from the extract"))
        return None
    if path.stat().st_size == 0:
        found.add(_Found(blank, None, 1, None, None, "file is empty: expected a header line"))
        return None
    header = _header(path)
    if isinstance(header, str):
        found.add(_Found(blank, None, 1, None, None, header))
        return None
    names: list[str] = []
    for n in header:  # DuckDB needs unique names; a repeated column is read, then ignored
        name = n
        while name in names:
            name += "_"
        names.append(name)
    cmap = _column_map(names)
    for f in _missing_required(file, table, cmap, "line"):
        found.add(f)
    present = {c.name for c in table.columns if c.name in cmap}
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    select = ", ".join(
        f"nullif(trim({q(cmap[c.name])}), '') AS {q(c.name)}"
        if c.name in present
        else f"CAST(NULL AS VARCHAR) AS {q(c.name)}"
        for c in table.columns
    )
    raw, rejects = RAW + table.name, f"_rejects_{table.name}"
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {raw} AS SELECT {select} FROM read_csv(?,"
            f" columns = {columns}, header = true, auto_detect = false,"
            " delim = ',', quote = '\"', escape = '\"',"
            " strict_mode = true, store_rejects = true,"
            f" rejects_table = '{rejects}', rejects_scan = '{rejects}_scan')",
            [str(path)],
        )
        rej = con.execute(
            f"SELECT line, column_name, CAST(error_type AS VARCHAR) FROM {rejects} ORDER BY line"
        ).fetchall()
        con.execute(f"DROP TABLE IF EXISTS {rejects}")
        con.execute(f"DROP TABLE IF EXISTS {rejects}_scan")
    except duckdb.Error:
        # DuckDB's own message may quote file content; say only what the user can act on.
        found.add(_Found(blank, None, None, None, None, "the file could not be read as CSV"))
        return None
    src = Source(table, file, path, "line", raw, "rowid", present, sorted({int(r[0]) for r in rej}))
    seen: set[int] = set()
    for line, column, kind in rej:  # one problem per refused line, though DuckDB may give several
        if int(line) in seen:
            continue
        seen.add(int(line))
        column = None if column is None else column.strip().lower()
        if column not in {c.name for c in table.columns}:
            column = None
        message = _REJECT_MESSAGES.get(kind, "the line is not well-formed CSV")
        found.add(_Found(src, None, None, column, None, message, record=int(line)))
    return src


def stage_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: Table, found: Collector
) -> Source | None:
    """Read one Parquet file into ``_raw_<table>`` as text, so it is checked like a CSV."""
    file = path.name
    blank = Source(table, file, path, "row", "", "", set())
    if not path.is_file():
        found.add(_Found(blank, None, None, None, None, "file is missing from the extract"))
        return None
    try:
        names = [
            r[0]
            for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
    except duckdb.Error:
        found.add(_Found(blank, None, None, None, None, "the file could not be read as Parquet"))
        return None
    cmap = _column_map(names)
    for f in _missing_required(file, table, cmap, "row"):
        found.add(f)
    present = {c.name for c in table.columns if c.name in cmap}
    select = ", ".join(
        f"nullif(trim(CAST({q(cmap[c.name])} AS VARCHAR)), '') AS {q(c.name)}"
        if c.name in present
        else f"CAST(NULL AS VARCHAR) AS {q(c.name)}"
        for c in table.columns
    )
    raw = RAW + table.name
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {raw} AS SELECT {select} FROM read_parquet(?)", [str(path)]
        )
    except duckdb.Error:
        found.add(_Found(blank, None, None, None, None, "the file could not be read as Parquet"))
        return None
    return Source(table, file, path, "row", raw, "rowid", present)


# --- checks --------------------------------------------------------------------------------------

_LIMIT = MAX_PROBLEMS + 1


def check_rows(con: duckdb.DuckDBPyConnection, src: Source, found: Collector) -> None:
    """All one-row checks of a table in a single scan."""
    checks = row_checks(src.table, src.present)
    if not checks or found.full:
        return
    conds = [f"coalesce(({c.condition}), false)" for c in checks]
    hits = ", ".join(f"CASE WHEN {c} THEN {i} END" for i, c in enumerate(conds))
    cols = ", ".join(q(c) for c in sorted(src.present))
    rows = con.execute(
        f"SELECT {src.index}, list_filter([{hits}], lambda h: h IS NOT NULL), {cols}"
        f" FROM {src.relation} WHERE {' OR '.join(conds)} ORDER BY 1 LIMIT {_LIMIT}"
    ).fetchall()
    names = sorted(src.present)
    for idx, hit, *values in rows:
        record = dict(zip(names, values, strict=True))
        for h in hit:
            c = checks[h]
            value = record.get(c.column) if c.show_value else None
            found.add(_Found(src, int(idx), None, c.column, value, c.message))


def _first_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> list[tuple]:
    return con.execute(sql + f" ORDER BY 1 LIMIT {_LIMIT}", params or []).fetchall()


def check_unique(
    con: duckdb.DuckDBPyConnection, src: Source, column: str, found: Collector, normal: str = "{}"
) -> None:
    """A key that appears twice: every occurrence after the first is a problem."""
    if column not in src.present or found.full:
        return
    key = normal.format(q(column))
    dup = con.execute(f"SELECT count({key}) - count(DISTINCT {key}) FROM {src.relation}").fetchone()
    if not dup or not dup[0]:
        return
    rows = _first_rows(
        con,
        f"SELECT i, v FROM (SELECT {src.index} AS i, {q(column)} AS v, row_number() OVER"
        f" (PARTITION BY {key} ORDER BY {src.index}) AS n FROM {src.relation}"
        f" WHERE {key} IS NOT NULL) WHERE n > 1",
    )
    for idx, value in rows:
        found.add(_Found(src, int(idx), None, column, value, "appears more than once in the file"))


def check_reference(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    column: str,
    target: Source | None,
    target_column: str,
    found: Collector,
    message: str,
    normal: str = "{}",
) -> None:
    """Rows whose ``column`` names nothing in ``target`` (patient → practice, event → patient)."""
    if target is None or column not in src.present or target_column not in target.present:
        return
    if found.full:
        return
    a, b = normal.format("s." + q(column)), normal.format("t." + q(target_column))
    rows = _first_rows(
        con,
        f"SELECT s.{src.index}, s.{q(column)} FROM {src.relation} s"
        f" WHERE s.{q(column)} IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {target.relation} t WHERE {b} = {a})",
    )
    for idx, value in rows:
        found.add(_Found(src, int(idx), None, column, value, message))


def check_all(
    con: duckdb.DuckDBPyConnection, sources: dict[str, Source | None], found: Collector
) -> None:
    """Every check over the staged tables, in file order, stopping once enough are found."""
    for t in TABLES:
        src = sources.get(t.name)
        if src is not None:
            check_rows(con, src, found)
    practices, patients = sources.get("practices"), sources.get("patients")
    if practices is not None:
        check_unique(con, practices, "ods_code", found, "upper({})")
    if patients is not None:
        check_unique(con, patients, "patient_id", found)
        check_reference(
            con, patients, "practice", practices, "ods_code", found,
            "practice is not in practices", "upper({})",
        )  # fmt: skip
    for name in ("medications", "events"):
        src = sources.get(name)
        if src is not None:
            check_reference(
                con, src, "patient_id", patients, "patient_id", found, "patient is not in patients"
            )


def build_typed(con: duckdb.DuckDBPyConnection, sources: dict[str, Source]) -> None:
    """Canonical tables with their exact types from the checked staging tables; staging dropped."""
    for t in TABLES:
        src = sources[t.name]
        select = ", ".join(f"{typed_expr(t, c, src.present)} AS {q(c.name)}" for c in t.columns)
        con.execute(f"CREATE OR REPLACE TABLE {q(t.name)} AS SELECT {select} FROM {src.relation}")
        con.execute(f"DROP TABLE IF EXISTS {src.relation}")


def read_canonical(con: duckdb.DuckDBPyConnection, directory: Path, fmt: str) -> None:
    """Load and validate a CSV or Parquet extract into ``practices, patients, medications, events``.

    Raises ExtractError listing every problem found (up to MAX_PROBLEMS); on error the canonical
    tables are not created and the staging tables are dropped.
    """
    found = Collector()
    stage = stage_csv if fmt == "csv" else stage_parquet
    sources: dict[str, Source | None] = {}
    try:
        for t in TABLES:
            sources[t.name] = stage(con, directory / f"{t.name}.{fmt}", t, found)
        check_all(con, sources, found)
        found.raise_if_any(con)
        build_typed(con, {k: v for k, v in sources.items() if v is not None})
    finally:
        for t in TABLES:
            con.execute(f"DROP TABLE IF EXISTS {RAW}{t.name}")


def validate_typed(con: duckdb.DuckDBPyConnection, label: str) -> None:
    """Run the canonical checks over typed tables another reader (FHIR) already loaded.

    Positions in the source are not known here, so problems name the table and column only.
    """
    found = Collector()
    sources: dict[str, Source | None] = {}
    for t in TABLES:
        view = f"_check_{t.name}"
        cols = ", ".join(
            f"nullif(trim(CAST({q(c.name)} AS VARCHAR)), '') AS {q(c.name)}" for c in t.columns
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT rowid AS _i, {cols} FROM {q(t.name)}"
        )
        sources[t.name] = Source(
            t, f"{label} [{t.name}]", None, "", view, "_i", {c.name for c in t.columns}
        )
    try:
        check_all(con, sources, found)
        found.raise_if_any(con)
    finally:
        for t in TABLES:
            con.execute(f"DROP VIEW IF EXISTS _check_{t.name}")
