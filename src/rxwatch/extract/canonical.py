"""Read a canonical extract (CSV or Parquet) into DuckDB and validate it, all in SQL.

Why SQL: an extract can hold tens of millions of event rows. Each file is read once, by DuckDB's
parallel CSV (or Parquet) reader, into a staging table (``_stage_<table>``) that already has the
canonical types, plus a ``_bad`` column holding the row's text only where a check failed; each
field is cast once and the checks compare the results. Finding problems then reads the few ``_bad``
rows again to name field and value; cross-table checks (duplicates, unknown practice or patient)
are anti-joins. A valid table is renamed into place, with no copy. No Python code runs per row.

Line numbers (CSV) are a text editor's: the header is line 1, the first data row line 2, and a
quoted field that spans two lines counts as two. DuckDB gives no line number for a row it accepts,
so lines are worked out, only for rows that have a problem, from the row's position: position + 2,
plus the lines the CSV parser refused before it. When the file has blank lines, or line breaks
inside quoted fields of the columns RxWatch reads, the file is instead read again up to the last
problem with Python's csv module, which counts them exactly (a failure path only). A line break
inside a quoted field of a column RxWatch ignores is not seen, and makes later lines short by one.
Parquet has no lines: problems give the row number, the first data row being row 1.
"""

from __future__ import annotations

import csv
import io
import mmap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import nhs_number

from rxwatch.errors import RxWatchError
from rxwatch.extract.schema import COMPARATORS, SEXES, TABLES, Column, Table
from rxwatch.extract.validation import MAX_PROBLEMS, ExtractError, Problem

STAGE = "_stage_"  # prefix of the staging tables, renamed once valid

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


FIRST_DATE, LAST_DATE = "1800-01-01", "2199-12-31"  # outside: a typing slip, not a record


def sql_date(x: str, cast: str | None = None) -> str:
    """A date written year first (``YYYY-MM-DD``; a full ISO timestamp keeps its date part).

    ``cast`` is ``try_cast(x AS DATE)`` when already computed, so a load casts each field once.
    """
    c = cast or f"try_cast({x} AS DATE)"
    return f"(CASE WHEN {c} BETWEEN DATE '{FIRST_DATE}' AND DATE '{LAST_DATE}' THEN {c} END)"


def sql_number(x: str, cast: str | None = None) -> str:
    """A finite number (``nan``/``inf`` are not results)."""
    c = cast or f"try_cast({x} AS DOUBLE)"
    return f"(CASE WHEN isfinite({c}) THEN {c} END)"


def sql_integer(x: str, cast: str | None = None) -> str:
    """A whole number that fits an INTEGER; ``30.0`` counts, ``30.5`` does not."""
    c = cast or f"try_cast({x} AS DOUBLE)"
    return f"(CASE WHEN {c} = round({c}) AND abs({c}) < 2147483648 THEN CAST({c} AS INTEGER) END)"


_PREFIX = r"^(<=|>=|<|>|=|~)\s*(.+)$"


def sql_value(x: str, cast: str | None = None) -> str:
    """The number in a result value, with or without a comparator prefix (``<0.5``)."""
    c = cast or f"try_cast({x} AS DOUBLE)"
    return (
        f"(CASE WHEN isfinite({c}) THEN {c} WHEN {x} IS NOT NULL"
        f" THEN {sql_number(f'regexp_extract({x}, {_lit(_PREFIX)}, 2)')} END)"
    )


def sql_value_comparator(x: str, cast: str | None = None) -> str:
    """The comparator written in front of a value; ``=`` and ``~`` mean none."""
    c = cast or f"try_cast({x} AS DOUBLE)"
    return (
        f"(CASE WHEN {c} IS NULL AND {x} IS NOT NULL THEN"
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


def cast_type(table: Table, col: Column) -> str | None:
    """The one ``try_cast`` a column's text needs, computed once per field while loading."""
    if col.kind == "date":
        return "DATE"
    if col.kind in ("number", "integer"):
        return "DOUBLE"
    return None


def read_type(table: Table, col: Column) -> str | None:
    """The type a CSV reader can give a column itself on the fast path, if any.

    DuckDB's CSV reader converts a number exactly as ``try_cast`` does, and raises where that
    gives NULL. Not a date: the reader takes a date's valid start and drops the rest
    ("2025-01-1z0" became 2025-01-01, "2025-01-10x" 2025-01-10, where ``try_cast`` gives NULL),
    so dates are read as text and cast by the row checks. A result value stays text, since it
    may carry a comparator (``<0.5``).
    """
    if col.kind == "date" or (table.name == "events" and col.name == "value"):
        return None
    return cast_type(table, col)


def typed_expr(
    table: Table, col: Column, present: set[str], cast: Callable[[str], str] | None = None
) -> str:
    """The SQL that turns the staged text of ``col`` into its canonical value and type.

    ``cast(name)`` names the column holding the field's ``try_cast`` (see ``cast_type``), if any.
    """
    x = q(col.name)
    k = cast(col.name) if cast is not None and cast_type(table, col) else None
    if col.name not in present:
        return f"CAST(NULL AS {col.sql_type})"
    if table.name == "events" and col.name == "value":
        expr = sql_value(x, k)
    elif table.name == "events" and col.name == "comparator":
        kv = cast("value") if cast is not None else None
        vc = sql_value_comparator(q("value"), kv) if "value" in present else "NULL"
        expr = f"coalesce({vc}, {sql_comparator(x)})"
    elif col.kind == "date":
        expr = sql_date(x, k)
    elif col.kind == "number":
        expr = sql_number(x, k)
    elif col.kind == "integer":
        expr = sql_integer(x, k)
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


def row_checks(
    table: Table,
    present: set[str],
    raw: Callable[[str], str] = q,
    typed: Callable[[str], str] | None = None,
    typed_source: bool = False,
) -> list[Check]:
    """Every check that looks at one row at a time, for the columns the file has.

    ``raw(name)`` is the SQL for a column's trimmed text. When the typed values are at hand too
    (``typed(name)``, while loading), conversions are not done twice; the same checks, from the same
    code, then run over the text of the few rows that failed, to say which field and why.
    ``typed_source``: the rows were typed by another reader (FHIR), so a date or number column holds
    a date or number or nothing: its conversion needs no check, and "empty" is its typed value's
    null (no text is made from 35M dates to find out).
    """

    kinds = {c.name: c.kind for c in table.columns}

    def is_value(name: str) -> bool:
        return table.name == "events" and name == "value"

    def trusted(name: str) -> bool:
        """Typed by another reader: the column's type is its conversion check."""
        return typed_source and (is_value(name) or kinds[name] in ("date", "number", "integer"))

    def conv(name: str, convert: Callable[[str], str]) -> str:
        if typed is not None and (not typed_source or trusted(name)):
            return typed(name)
        return convert(raw(name))

    checks: list[Check] = []
    for col in table.columns:
        if col.name not in present:
            continue
        x = raw(col.name)
        if col.required:
            empty = typed(col.name) if typed is not None and trusted(col.name) else x
            checks.append(Check(f"{empty} IS NULL", col.name, "required field is empty", False))
        if trusted(col.name):
            continue  # a date, a number or nothing: no conversion to check
        if is_value(col.name):
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND {conv(col.name, sql_value)} IS NULL",
                    col.name,
                    "not a number (a comparator may come first, as in <0.5 or >=90)",
                )
            )
        elif col.kind in ("date", "number", "integer"):
            convert, words = {
                "date": (sql_date, "not a date (YYYY-MM-DD)"),
                "number": (sql_number, "not a number"),
                "integer": (sql_integer, "not a whole number"),
            }[col.kind]
            checks.append(
                Check(f"{x} IS NOT NULL AND {conv(col.name, convert)} IS NULL", col.name, words)
            )
        elif col.kind == "sex":
            allowed = ", ".join(_lit(s) for s in SEXES)
            checks.append(
                Check(
                    f"{x} IS NOT NULL AND {conv(col.name, 'upper({})'.format)} NOT IN ({allowed})",
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
                    f"{x} IS NOT NULL AND {sql_comparator(x)} NOT IN ({allowed})",
                    col.name,
                    "comparator must be <, >, <= or >= (= or empty for none)",
                )
            )
    if table.name == "events" and {"value", "comparator"} <= present:
        v, c = raw("value"), raw("comparator")
        checks.append(
            Check(
                f"CASE WHEN {c} IS NOT NULL THEN {sql_value_comparator(v)} IS NOT NULL"
                f" AND {sql_comparator(c)} IS NOT NULL"
                f" AND {sql_value_comparator(v)} <> {sql_comparator(c)} ELSE false END",
                "comparator",
                "conflicts with the comparator written in front of the value",
            )
        )
    if table.name == "events" and "comparator" in present:
        v = raw("value") if "value" in present else "NULL"
        c = raw("comparator")
        checks.append(
            Check(
                f"CASE WHEN {c} IS NOT NULL THEN {sql_comparator(c)} IS NOT NULL AND {v} IS NULL"
                " ELSE false END",
                "comparator",
                "a comparator is given but the value is empty",
            )
        )
    if table.name == "patients" and "date_of_birth" in present:
        dob = conv("date_of_birth", sql_date)
        for name, words in (
            ("date_of_death", "date of death"),
            ("registration_end", "registration end"),
        ):
            if name in present:
                checks.append(
                    Check(
                        f"{conv(name, sql_date)} < {dob}",
                        name,
                        f"{words} is before the date of birth",
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
    relation: str  # staged table (or view), columns named as in the schema
    index: str  # SQL expression of the row's position in the file, from 0, in ``relation``
    present: set[str]
    rejected_lines: list[int] = field(default_factory=list)  # CSV records the parser refused
    bad: str = ""  # the text of rows that failed a check, with their position as ``_i``
    typed: bool = False  # ``bad`` also has each column's typed value as ``_t_<name>``


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
    cols = [
        q(c.name) for c in src.table.columns if c.name in src.present and c.sql_type == "VARCHAR"
    ]
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


def _text(x: str, table: Table, col: Column) -> str:
    """A field's text, NULL when empty. Codes and words are trimmed; a date or number is not,
    since its cast ignores surrounding spaces anyway (and a trim costs a pass over the text)."""
    return f"nullif({x}, '')" if cast_type(table, col) else f"nullif(trim({x}), '')"


def _csv_reader(
    path: Path, table: Table, found: Collector, typed: bool = False
) -> tuple[set[str], str, str, str] | None:
    """How to read one CSV: (present columns, text select, reader SQL, rejects table name).

    Header problems go to ``found``; None when the file cannot be read at all. ``typed`` (the fast
    path): columns with a ``read_type`` are parsed by the CSV reader itself and selected as they
    are, and a malformed line raises instead of being stored as a reject.
    """
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
    types = {n: "VARCHAR" for n in names}
    fast = {c.name for c in table.columns if typed and c.name in present and read_type(table, c)}
    for c in table.columns:
        if c.name in fast:
            types[cmap[c.name]] = read_type(table, c) or "VARCHAR"
    columns = "{" + ", ".join(f"{_lit(n)}: {_lit(t)}" for n, t in types.items()) + "}"
    select = ", ".join(
        f"{q(cmap[c.name])} AS {q(c.name)}"
        if c.name in fast
        else f"{_text(q(cmap[c.name]), table, c)} AS {q(c.name)}"
        if c.name in present
        else f"CAST(NULL AS VARCHAR) AS {q(c.name)}"
        for c in table.columns
    )
    rejects = f"_rejects_{table.name}"
    reader = (
        f"read_csv(?, columns = {columns}, header = true, auto_detect = false,"
        " delim = ',', quote = '\"', escape = '\"', strict_mode = true,"
        " allow_quoted_nulls = true"
    )
    if typed:
        return present, select, reader + ")", rejects
    reader += (
        f", store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan')"
    )
    return present, select, reader, rejects


def stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, table: Table, found: Collector
) -> Source | None:
    """Stage one CSV file (see ``_stage``); header and CSV-parser problems go to ``found``."""
    file = path.name
    blank = Source(table, file, path, "line", "", "", set())
    how = _csv_reader(path, table, found)
    if how is None:
        return None
    present, select, reader, rejects = how
    try:
        stage = _stage(con, table, present, select, reader, [str(path)])
        rej = con.execute(
            f"SELECT line, column_name, CAST(error_type AS VARCHAR) FROM {rejects} ORDER BY line"
        ).fetchall()
        con.execute(f"DROP TABLE IF EXISTS {rejects}")
        con.execute(f"DROP TABLE IF EXISTS {rejects}_scan")
    except duckdb.OutOfMemoryException:
        raise _out_of_memory(con, file) from None
    except duckdb.Error:
        # DuckDB's own message may quote file content; say only what the user can act on.
        found.add(_Found(blank, None, None, None, None, "the file could not be read as CSV"))
        return None
    src = Source(
        table, file, path, "line", stage, "rowid", present, sorted({int(r[0]) for r in rej}),
        _bad_rows(stage),
    )  # fmt: skip
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
    """Stage one Parquet file, read as text so that it is checked exactly like a CSV."""
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
    try:
        stage = _stage(con, table, present, select, "read_parquet(?)", [str(path)])
    except duckdb.OutOfMemoryException:
        raise _out_of_memory(con, file) from None
    except duckdb.Error:
        found.add(_Found(blank, None, None, None, None, "the file could not be read as Parquet"))
        return None
    return Source(table, file, path, "row", stage, "rowid", present, bad=_bad_rows(stage))


def _out_of_memory(con: duckdb.DuckDBPyConnection, file: str) -> RxWatchError:
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    return RxWatchError(
        f"not enough memory to read {file} (DuckDB memory limit {limit[0] if limit else '?'});"
        " free memory, or run on a larger machine; nothing was stored"
    )


def _stage(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    present: set[str],
    text: str,
    reader: str,
    params: list,
) -> str:
    """One pass over the file: typed columns, plus ``_bad`` (the row's text) where a check fails.

    ``text`` selects each schema column's trimmed text from ``reader``. The typed values are
    computed once and the checks test them, so a valid row costs a parse and a few comparisons.
    """
    stage = STAGE + table.name
    inner, fails = _typed_rows(table, present, text, reader)
    if fails:
        struct = ", ".join(f"{q(n)} := {q('_r_' + n)}" for n in sorted(present))
        bad = f"CASE WHEN {fails} THEN struct_pack({struct}) END"
    else:
        bad = "CAST(NULL AS STRUCT(x VARCHAR))"
    names = ", ".join(q(c.name) for c in table.columns)
    con.execute(
        f"CREATE OR REPLACE TABLE {stage} AS SELECT {names}, {bad} AS _bad FROM {inner}", params
    )
    return stage


def _typed_rows(
    table: Table, present: set[str], text: str, reader: str, read_typed: bool = False
) -> tuple[str, str]:
    """(subquery of typed columns plus each field's text as ``_r_<name>``, failed-row condition).

    Each field is cast once; the checks test the typed values, so a valid row costs a parse and a
    few comparisons. The condition is "" when the table has no row checks. ``read_typed``: the reader
    already gives the columns with a ``read_type`` their type (see ``load_select``).
    """
    casts = "".join(
        f", {q(c.name)} AS {q('_k_' + c.name)}"
        if read_typed and read_type(table, c)
        else f", try_cast({q(c.name)} AS {cast_type(table, c)}) AS {q('_k_' + c.name)}"
        for c in table.columns
        if c.name in present and cast_type(table, c)
    )
    columns = ", ".join(
        f"{typed_expr(table, c, present, lambda n: q('_k_' + n))} AS {q(c.name)}"
        for c in table.columns
    )
    keep = "".join(f", {q(n)} AS {q('_r_' + n)}" for n in sorted(present))
    checks = row_checks(table, present, raw=lambda n: q("_r_" + n), typed=q)
    # NULL counts as "no problem" both inside CASE WHEN and inside OR (TRUE OR NULL is TRUE)
    fails = " OR ".join(f"({c.condition})" for c in checks)
    inner = f"(SELECT {columns}{keep} FROM (SELECT *{casts} FROM (SELECT {text} FROM {reader})))"
    return inner, fails


def load_select(path: Path, table: Table, fmt: str) -> tuple[str, list] | None:
    """A SELECT of a file's canonical rows that raises at the first row failing a row check.

    The fast path of an import: the file is parsed once, straight into the store, with no staged
    copy. Dates and numbers are parsed by the CSV reader itself (``read_type``), which raises at a
    field it cannot convert; the checks a typed read cannot make (ranges, required fields, codes)
    follow, from the same ``row_checks`` as the full validation. Any error (a bad row, a malformed
    CSV line) means: roll back and run the full validation, which names every problem. None when
    the file cannot even be set up (the full path says why).
    """
    if fmt != "csv":
        return None
    found = Collector()
    how = _csv_reader(path, table, found, typed=True)
    if how is None or found.found:
        return None
    present, text, reader, _ = how
    inner, fails = _typed_rows(table, present, text, reader, read_typed=True)
    names = ", ".join(q(c.name) for c in table.columns)
    where = f" WHERE CASE WHEN {fails} THEN error('rxwatch: row check failed') ELSE true END"
    return f"SELECT {names} FROM {inner}" + (where if fails else ""), [str(path)]


def _bad_rows(stage: str) -> str:
    return f"(SELECT rowid AS _i, unnest(_bad) FROM {stage} WHERE _bad IS NOT NULL)"


# --- checks --------------------------------------------------------------------------------------

_LIMIT = MAX_PROBLEMS + 1


def check_rows(con: duckdb.DuckDBPyConnection, src: Source, found: Collector) -> None:
    """The one-row checks again, over the text of the rows that failed, to name field and value."""
    typed = (lambda n: q("_t_" + n)) if src.typed else None
    checks = row_checks(src.table, src.present, typed=typed, typed_source=src.typed)
    if not checks or not src.bad or found.full:
        return
    if (
        src.relation.startswith(STAGE)
        and not con.execute(
            f"SELECT 1 FROM {src.relation} WHERE _bad IS NOT NULL LIMIT 1"
        ).fetchall()
    ):
        return  # the usual case: no row failed, so no need to compile the long query
    conds = [f"coalesce(({c.condition}), false)" for c in checks]
    hits = ", ".join(f"CASE WHEN {c} THEN {i} END" for i, c in enumerate(conds))
    cols = ", ".join(q(c) for c in sorted(src.present))
    rows = con.execute(
        f"SELECT _i, list_filter([{hits}], lambda h: h IS NOT NULL), {cols}"
        f" FROM {src.bad} WHERE {' OR '.join(conds)} ORDER BY 1 LIMIT {_LIMIT}"
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


def check_nhs_regions(con: duckdb.DuckDBPyConnection, src: Source, found: Collector) -> None:
    """NHS numbers the SQL modulus 11 passes, in a range where the ``nhs-number`` package asks more.

    Scottish CHI numbers must also start with a date of birth (DDMMYY). Only the distinct numbers in
    those ranges go through the package, so an English extract costs one indexed-range query.
    """
    if "nhs_number" not in src.present or found.full:
        return
    x = q("nhs_number")
    ranges = " OR ".join(
        f"{x} BETWEEN '{r.start:010d}' AND '{r.end:010d}'"
        for r in nhs_number.REGION_SCOTLAND.ranges
    )
    values = con.execute(
        f"SELECT DISTINCT {x} FROM {src.relation} WHERE ({ranges}) AND {sql_nhs_valid(x)}"
    ).fetchall()
    bad = [v for (v,) in values if not nhs_number.is_valid(v)]
    if not bad:
        return
    rows = _first_rows(
        con,
        f"SELECT {src.index}, {x} FROM {src.relation} WHERE {x} IN (SELECT unnest(?))",
        [bad],
    )
    for idx, value in rows:
        found.add(
            _Found(
                src,
                int(idx),
                None,
                "nhs_number",
                value,
                "not a valid NHS number (a Scottish CHI number starts with a date, DDMMYY)",
            )
        )


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
        check_nhs_regions(con, patients, found)
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


def finalize(con: duckdb.DuckDBPyConnection, sources: dict[str, Source]) -> None:
    """The checked staging tables become the canonical tables (metadata only, no copy)."""
    for t in TABLES:
        if t.name not in sources:
            continue
        stage = sources[t.name].relation
        con.execute(f"ALTER TABLE {stage} DROP COLUMN _bad")
        con.execute(f"DROP TABLE IF EXISTS {q(t.name)}")
        con.execute(f"ALTER TABLE {stage} RENAME TO {q(t.name)}")


def read_canonical(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    fmt: str,
    tables: tuple[Table, ...] = TABLES,
) -> None:
    """Load and validate a CSV or Parquet extract into ``practices, patients, medications, events``.

    Raises ExtractError listing every problem found (up to MAX_PROBLEMS); on error the canonical
    tables are not created and the staging tables are dropped.
    """
    found = Collector()
    stage = stage_csv if fmt == "csv" else stage_parquet
    sources: dict[str, Source | None] = {}
    try:
        for t in tables:
            sources[t.name] = stage(con, directory / f"{t.name}.{fmt}", t, found)
        check_all(con, sources, found)
        found.raise_if_any(con)
        finalize(con, {k: v for k, v in sources.items() if v is not None})
    finally:
        for t in TABLES:
            con.execute(f"DROP TABLE IF EXISTS {STAGE}{t.name}")


def validate_typed(con: duckdb.DuckDBPyConnection, label: str) -> None:
    """Run the canonical checks over typed tables another reader (FHIR) already loaded.

    Positions in the source are not known here, so problems name the table and column only.
    """
    found = Collector()
    sources: dict[str, Source | None] = {}
    for t in TABLES:
        view = f"_check_{t.name}"
        # Text for the checks that read text; the typed value beside it, so that a date or number
        # the reader already converted is not parsed again from its text (most of the cost).
        cols = ", ".join(
            f"nullif(trim(CAST({q(c.name)} AS VARCHAR)), '') AS {q(c.name)}, "
            f"{q(c.name)} AS {q('_t_' + c.name)}"
            for c in t.columns
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT rowid AS _i, {cols} FROM {q(t.name)}"
        )
        sources[t.name] = Source(
            t,
            f"{label} [{t.name}]",
            None,
            "",
            view,
            "_i",
            {c.name for c in t.columns},
            bad=view,
            typed=True,
        )
    try:
        check_all(con, sources, found)
        found.raise_if_any(con)
    finally:
        for t in TABLES:
            con.execute(f"DROP VIEW IF EXISTS _check_{t.name}")
