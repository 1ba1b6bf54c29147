"""The canonical extract reader: every validation path names file, line, column and the bad value.

The fixture in ``canonical_extract/`` is a whole, valid, readable extract (2 practices, 4 patients);
each test copies it and breaks one thing.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import nhs_number
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxwatch.extract.canonical import sql_nhs_valid
from rxwatch.extract.load import detect_format, open_extract
from rxwatch.extract.schema import TABLES
from rxwatch.extract.validation import MAX_PROBLEMS, ExtractError, Problem

FIXTURE = Path(__file__).parent / "canonical_extract"


def extract(tmp_path: Path, **edits: Callable[[str], str] | str | None) -> Path:
    """A copy of the fixture with files replaced (str), edited (callable) or removed (None)."""
    out = tmp_path / "extract"
    shutil.copytree(FIXTURE, out)
    for name, edit in edits.items():
        f = out / f"{name}.csv"
        if edit is None:
            f.unlink()
        elif isinstance(edit, str):
            f.write_text(edit, encoding="utf-8")
        else:
            f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    return out


def sub(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def drop_field(i: int) -> Callable[[str], str]:
    """Remove the i-th field (from 0) of every line: the column is gone, header and data."""

    def edit(text: str) -> str:
        return "".join(
            ",".join(f for k, f in enumerate(line.split(",")) if k != i) + "\n"
            for line in text.splitlines()
        )

    return edit


def problems(path: Path) -> list[Problem]:
    with pytest.raises(ExtractError) as info:
        open_extract(path)
    return info.value.problems


def only(path: Path) -> Problem:
    found = problems(path)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# --- a valid extract -----------------------------------------------------------------------------


def test_valid_extract_loads_with_canonical_types(tmp_path: Path) -> None:
    con = open_extract(extract(tmp_path))
    for t in TABLES:
        described = con.execute(f'DESCRIBE "{t.name}"').fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.sql_type) for c in t.columns]
    assert con.execute("SELECT count(*) FROM events").fetchone() == (5,)
    assert sorted(r[0] for r in con.execute("SHOW TABLES").fetchall()) == sorted(
        t.name for t in TABLES
    )  # no staging tables left behind


def test_values_are_normalised(tmp_path: Path) -> None:
    con = open_extract(extract(tmp_path))
    assert con.execute(
        "SELECT nhs_number, date_of_birth, sex FROM patients WHERE patient_id = 'P001'"
    ).fetchone() == ("9434765919", dt.date(1950, 3, 14), "F")  # spaces dropped
    assert con.execute(
        "SELECT value, comparator FROM events WHERE patient_id = 'P001' ORDER BY value"
    ).fetchall() == [(0.5, "<"), (35.0, None)]
    assert con.execute("SELECT pcn FROM practices WHERE ods_code = 'A81002'").fetchone() == (None,)


def test_extra_columns_ignored_and_header_case_insensitive(tmp_path: Path) -> None:
    path = extract(
        tmp_path,
        practices="ODS_Code , Name,pcn,phone\nA81001,Densham,,01642\nA81002,Queens Park,,01643\n",
    )
    con = open_extract(path)
    assert con.execute("SELECT count(*) FROM practices").fetchone() == (2,)


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    path = extract(
        tmp_path,
        events="patient_id,date,snomed_code\nP001,2025-01-05,1013211000000103\n",
        medications="patient_id,issue_date,dmd_code\n",
    )
    con = open_extract(path)
    assert con.execute("SELECT value, unit, comparator FROM events").fetchall() == [
        (None, None, None)
    ]
    assert con.execute("SELECT count(*) FROM medications").fetchone() == (0,)


def test_timestamp_keeps_its_date(tmp_path: Path) -> None:
    path = extract(tmp_path, events=sub("P002,2025-01-06,", "P002,2025-01-06T09:30:00Z,"))
    con = open_extract(path)
    assert con.execute("SELECT date FROM events WHERE patient_id = 'P002'").fetchone() == (
        dt.date(2025, 1, 6),
    )


# --- one problem at a time -----------------------------------------------------------------------

P = "P002,A81001,1962-11-02,M,9991873740,,"  # line 3 of patients.csv


@pytest.mark.parametrize(
    ("edits", "file", "line", "column", "value", "words"),
    [
        pytest.param(
            {"patients": drop_field(3)},
            "patients.csv", 1, "sex", None, "required column is missing",
            id="missing-required-column",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,,M,9991873740,,")},
            "patients.csv", 3, "date_of_birth", None, "required field is empty",
            id="empty-required-field",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,02/11/1962,M,9991873740,,")},
            "patients.csv", 3, "date_of_birth", "02/11/1962", "not a date",
            id="date-not-iso",
        ),
        pytest.param(
            {"events": sub("P003,2025-01-07,", "P003,2025-02-30,")},
            "events.csv", 5, "date", "2025-02-30", "not a date",
            id="date-impossible",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,1962-11-02,Male,9991873740,,")},
            "patients.csv", 3, "sex", "Male", "sex must be F, M or U",
            id="bad-sex",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,1962-11-02,M,9991873741,,")},
            "patients.csv", 3, "nhs_number", "9991873741", "not a valid NHS number",
            id="nhs-number-check-digit",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,1962-11-02,M,999187374,,")},
            "patients.csv", 3, "nhs_number", "999187374", "not a valid NHS number",
            id="nhs-number-nine-digits",
        ),
        pytest.param(
            {"patients": lambda t: t + "P001,A81002,1980-01-01,F,,,\n"},
            "patients.csv", 6, "patient_id", "P001", "appears more than once",
            id="duplicate-patient-id",
        ),
        pytest.param(
            {"practices": lambda t: t + "a81001,Again,\n"},
            "practices.csv", 4, "ods_code", "A81001", "appears more than once",
            id="duplicate-practice",
        ),
        pytest.param(
            {"patients": sub(P, "P002,Y99999,1962-11-02,M,9991873740,,")},
            "patients.csv", 3, "practice", "Y99999", "practice is not in practices",
            id="unknown-practice",
        ),
        pytest.param(
            {"medications": sub("P002,2025-02-01", "P009,2025-02-01")},
            "medications.csv", 4, "patient_id", "P009", "patient is not in patients",
            id="medication-unknown-patient",
        ),
        pytest.param(
            {"events": sub("P004,2024-12-12", "P404,2024-12-12")},
            "events.csv", 6, "patient_id", "P404", "patient is not in patients",
            id="event-unknown-patient",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,1962-11-02,M,9991873740,1960-01-01,")},
            "patients.csv", 3, "date_of_death", "1960-01-01", "before the date of birth",
            id="death-before-birth",
        ),
        pytest.param(
            {"patients": sub(P, "P002,A81001,1962-11-02,M,9991873740,,1962-11-01")},
            "patients.csv", 3, "registration_end", "1962-11-01", "before the date of birth",
            id="registration-end-before-birth",
        ),
        pytest.param(
            {"medications": sub("56,28\n", "56,28.5\n")},
            "medications.csv", 4, "days_supply", "28.5", "not a whole number",
            id="days-supply-fraction",
        ),
        pytest.param(
            {"medications": sub("56,28\n", "56,four weeks\n")},
            "medications.csv", 4, "days_supply", "four weeks", "not a whole number",
            id="days-supply-words",
        ),
        pytest.param(
            {"medications": sub("tablets,56,28\n", "tablets,56 tabs,28\n")},
            "medications.csv", 4, "quantity", "56 tabs", "not a number",
            id="quantity-not-number",
        ),
        pytest.param(
            {"events": sub(",0.6,", ",high,")},
            "events.csv", 4, "value", "high", "not a number",
            id="value-not-number",
        ),
        pytest.param(
            {"events": sub(",0.6,", ",NaN,")},
            "events.csv", 4, "value", "NaN", "not a number",
            id="value-nan",
        ),
        pytest.param(
            {"events": sub("mL/min/1.73m2,>", "mL/min/1.73m2,gt")},
            "events.csv", 5, "comparator", "gt", "comparator must be",
            id="comparator-unknown",
        ),
        pytest.param(
            {"events": sub("<0.5,10*9/L,", "<0.5,10*9/L,>")},
            "events.csv", 3, "comparator", ">", "conflicts with the comparator",
            id="comparator-conflict",
        ),
        pytest.param(
            {"events": sub(",90,mL/min/1.73m2,>", ",,mL/min/1.73m2,>")},
            "events.csv", 5, "comparator", ">", "without a value" if False else "value is empty",
            id="comparator-without-value",
        ),
        pytest.param(
            {"events": sub("P002,2025-01-06,1028431000000104,Serum lithium level,0.6,mmol/L,",
                           "P002,2025-01-06,1028431000000104")},
            "events.csv", 4, "term", None, "fewer fields than the header",
            id="truncated-line",
        ),
        pytest.param(
            {"events": sub("mmol/L,\n", "mmol/L,,extra,more\n")},
            "events.csv", 4, None, None, "more fields than the header",
            id="too-many-fields",
        ),
    ],
)  # fmt: skip
def test_problem_names_file_line_column_value(
    tmp_path: Path,
    edits: dict,
    file: str,
    line: int,
    column: str | None,
    value: str | None,
    words: str,
) -> None:
    p = only(extract(tmp_path, **edits))
    assert (p.file, p.line, p.column, p.value) == (file, line, column, value)
    assert words in p.message
    text = str(p)
    assert text.startswith(f"{file}: line {line}")
    if column:
        assert f"column {column}" in text
    if value is not None:
        assert repr(value) in text


def test_message_carries_only_the_bad_field(tmp_path: Path) -> None:
    """Other fields of the same record (its patient_id, date of birth, NHS number) never appear."""
    p = only(extract(tmp_path, patients=sub(P, "P002,A81001,1962-11-02,Q,9991873740,,")))
    error = ExtractError([p])
    for other in ("P002", "1962-11-02", "9991873740", "A81001"):
        assert other not in str(error)


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = extract(tmp_path)
    f = path / "medications.csv"
    f.write_bytes(f.read_bytes().replace(b"Lithium", b"Lith\xefum\xff"))
    p = only(path)
    assert (p.file, p.line, p.value) == ("medications.csv", 4, None)
    assert "UTF-8" in p.message


def test_non_utf8_header(tmp_path: Path) -> None:
    path = extract(tmp_path)
    (path / "practices.csv").write_bytes(b"ods_code,n\xe4me\nA81001,x\n")
    p = problems(path)[0]
    assert (p.file, p.line) == ("practices.csv", 1)
    assert "UTF-8" in p.message


@pytest.mark.parametrize("name", [t.name for t in TABLES])
def test_missing_file(tmp_path: Path, name: str) -> None:
    found = problems(extract(tmp_path, **{name: None}))
    assert any(p.file == f"{name}.csv" and "missing" in p.message for p in found)


def test_empty_file(tmp_path: Path) -> None:
    p = only(extract(tmp_path, events=""))
    assert (p.file, p.line) == ("events.csv", 1)
    assert "empty" in p.message


def test_no_extract_in_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ExtractError, match="no extract found"):
        open_extract(tmp_path)


# --- many problems -------------------------------------------------------------------------------


def test_all_problems_reported_together_in_file_order(tmp_path: Path) -> None:
    path = extract(
        tmp_path,
        patients=sub(P, "P002,A81001,1962-11-02,X,123,,"),
        medications=sub("P002,2025-02-01", "P002,2025-13-01"),
        events=sub("P004,2024-12-12", "P404,2024-12-12"),
    )
    found = problems(path)
    assert [(p.file, p.line, p.column) for p in found] == [
        ("patients.csv", 3, "sex"),
        ("patients.csv", 3, "nhs_number"),
        ("medications.csv", 4, "issue_date"),
        ("events.csv", 6, "patient_id"),
    ]
    with pytest.raises(ExtractError, match="4 problems; nothing was stored"):
        open_extract(path)


def test_problem_cap(tmp_path: Path) -> None:
    rows = "".join(f"P001,2025-01-{d:02d},1013211000000103,ALT,high,U/L,\n" for d in range(1, 29))
    rows += "".join(f"P001,2025-02-{d:02d},1013211000000103,ALT,low,U/L,\n" for d in range(1, 29))
    path = extract(tmp_path, events=lambda t: t + rows)
    with pytest.raises(ExtractError) as info:
        open_extract(path)
    err = info.value
    assert len(err.problems) == MAX_PROBLEMS
    assert err.truncated
    assert f"{MAX_PROBLEMS}+ problems" in str(err)
    assert [p.line for p in err.problems] == list(range(7, 7 + MAX_PROBLEMS))


# --- comparators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "comparator", "stored"),
    [
        ("0.5", "", (0.5, None)),
        ("<0.5", "", (0.5, "<")),
        ("< 0.5", "", (0.5, "<")),
        (">90", "", (90.0, ">")),
        ("<=3", "", (3.0, "<=")),
        (">=3", "", (3.0, ">=")),
        ("=7", "", (7.0, None)),
        ("~7", "", (7.0, None)),
        ("90", ">", (90.0, ">")),
        ("90", "=", (90.0, None)),
        (">90", ">", (90.0, ">")),  # the same comparator twice is not a conflict
        ("-1.5", "", (-1.5, None)),
        ("1e3", "<", (1000.0, "<")),
    ],
)
def test_comparator_parsing(tmp_path: Path, value: str, comparator: str, stored: tuple) -> None:
    path = extract(
        tmp_path,
        events=f"patient_id,date,snomed_code,value,comparator\nP001,2025-01-05,1,{value},{comparator}\n",
    )
    con = open_extract(path)
    assert con.execute("SELECT value, comparator FROM events").fetchone() == stored


# --- NHS numbers ---------------------------------------------------------------------------------


def _sql_valid(con: duckdb.DuckDBPyConnection, numbers: list[str]) -> list[bool]:
    rows = con.execute(
        f"SELECT coalesce({sql_nhs_valid('x')}, false) FROM unnest(?) WITH ORDINALITY AS t(x, i)"
        " ORDER BY i",
        [numbers],
    ).fetchall()
    return [r[0] for r in rows]


def test_nhs_numbers_from_the_package_are_valid() -> None:
    con = duckdb.connect()
    good = nhs_number.generate(quantity=50)
    bad = nhs_number.generate(valid=False, quantity=50)
    assert all(nhs_number.is_valid(n) for n in good)
    assert not any(nhs_number.is_valid(n) for n in bad)
    assert all(_sql_valid(con, good))
    assert not any(_sql_valid(con, bad))
    assert _sql_valid(con, ["943 476 5919", "9434765919", "94347659", "943476591X"]) == [
        True,
        True,
        False,
        False,
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="0123456789 ", min_size=8, max_size=12), min_size=1, max_size=50))
def test_sql_modulus_11_agrees_with_the_package(numbers: list[str]) -> None:
    """Outside the Scottish CHI ranges the package checks modulus 11 alone (CHI: next test)."""
    con = duckdb.connect()
    numbers = [
        n for n in numbers if not nhs_number.REGION_SCOTLAND.contains_number(n.replace(" ", ""))
    ]
    expected = [nhs_number.is_valid(n.replace(" ", "")) for n in numbers]  # spaces anywhere
    assert _sql_valid(con, numbers) == expected


def test_chi_number_must_start_with_a_date(tmp_path: Path) -> None:
    """0299002896 passes modulus 11 but 02/99/00 is no date: the package (and RxWatch) refuse it."""
    assert not nhs_number.is_valid("0299002896")
    assert _sql_valid(duckdb.connect(), ["0299002896"]) == [True]
    good = next(n for n in nhs_number.generate(for_region=nhs_number.REGION_SCOTLAND, quantity=20))
    assert nhs_number.is_valid(good)
    path = extract(
        tmp_path,
        patients=lambda t: (
            sub(P, "P002,A81001,1962-11-02,M,0299002896,,")(t)
            + f"P005,A81001,1962-11-02,M,{good},,\n"
        ),
    )
    p = only(path)
    assert (p.line, p.column, p.value) == (3, "nhs_number", "0299002896")


# --- line counting -------------------------------------------------------------------------------


def test_lines_count_blank_lines_and_line_breaks_in_quotes(tmp_path: Path) -> None:
    """A text editor's line numbers: the quoted term spans lines 3–4, line 5 is blank."""
    events = (
        "patient_id,date,snomed_code,term,value\n"
        "P001,2025-01-05,1,ALT,35\n"
        'P001,2025-01-06,1,"Alanine\naminotransferase",36\n'
        "\n"
        "P001,2025-01-07,1,ALT,high\n"
        "P001,2025-01-08,1,ALT\n"
        "P001,2025-01-09,1,ALT,low\n"
    )
    found = problems(extract(tmp_path, events=events))
    assert [(p.line, p.column) for p in found] == [(6, "value"), (7, "value"), (8, "value")]
    assert "fewer fields" in found[1].message


def test_rejected_line_before_a_bad_row_is_counted(tmp_path: Path) -> None:
    events = (
        "patient_id,date,snomed_code,term,value\n"
        "P001,2025-01-05,1,ALT\n"  # line 2: refused by the CSV parser, gives no row
        "P001,2025-01-06,1,ALT,high\n"  # line 3
    )
    found = problems(extract(tmp_path, events=events))
    assert [p.line for p in found] == [2, 3]


# --- Parquet -------------------------------------------------------------------------------------


def to_parquet(csv_dir: Path, out: Path) -> Path:
    out.mkdir()
    con = duckdb.connect()
    for t in TABLES:
        src = csv_dir / f"{t.name}.csv"
        con.execute(
            f"COPY (SELECT * FROM read_csv('{src}', all_varchar = true))"
            f" TO '{out}/{t.name}.parquet'"
        )
    return out


def test_parquet_extract_loads(tmp_path: Path) -> None:
    path = to_parquet(extract(tmp_path), tmp_path / "pq")
    assert detect_format(path) == "parquet"
    con = open_extract(path)
    assert con.execute("SELECT count(*), count(comparator) FROM events").fetchone() == (5, 2)


def test_parquet_typed_columns_load(tmp_path: Path) -> None:
    """The synthetic generator writes typed Parquet (DATE, DOUBLE, INTEGER)."""
    out = tmp_path / "typed"
    out.mkdir()
    con = open_extract(extract(tmp_path))
    for t in TABLES:
        con.execute(f"COPY {t.name} TO '{out}/{t.name}.parquet'")
    again = open_extract(out)
    for t in TABLES:
        assert (
            again.execute(f"SELECT * FROM {t.name} ORDER BY ALL").fetchall()
            == con.execute(f"SELECT * FROM {t.name} ORDER BY ALL").fetchall()
        )


def test_parquet_problems_name_the_row(tmp_path: Path) -> None:
    path = to_parquet(
        extract(tmp_path, patients=sub(P, "P002,A81001,1962-11-02,X,9991873740,,")),
        tmp_path / "pq",
    )
    p = only(path)
    assert (p.file, p.line, p.column, p.value) == ("patients.parquet", 2, "sex", "X")
    assert str(p).startswith("patients.parquet: row 2: column sex")


def test_parquet_missing_column(tmp_path: Path) -> None:
    path = to_parquet(extract(tmp_path), tmp_path / "pq")
    duckdb.connect().execute(
        f"COPY (SELECT * EXCLUDE (dmd_code) FROM '{path}/medications.parquet')"
        f" TO '{path}/medications.parquet'"
    )
    p = only(path)
    assert (p.file, p.column, p.message) == (
        "medications.parquet",
        "dmd_code",
        "required column is missing",
    )


# --- edges ----------------------------------------------------------------------------------------


def test_spaces_around_fields_are_ignored(tmp_path: Path) -> None:
    path = extract(tmp_path, events=sub("P002,2025-01-06,", " P002 , 2025-01-06 ,"))
    con = open_extract(path)
    assert con.execute("SELECT date FROM events WHERE patient_id = 'P002'").fetchone() == (
        dt.date(2025, 1, 6),
    )


@pytest.mark.parametrize("date", ["0001-01-01", "1799-12-31", "2200-01-01", "2025-01-05 (BC)"])
def test_implausible_dates_are_refused(tmp_path: Path, date: str) -> None:
    p = only(extract(tmp_path, events=sub("P002,2025-01-06,", f"P002,{date},")))
    assert (p.line, p.column, p.value) == (4, "date", date)


def test_practice_option_guards_a_csv_extract(tmp_path: Path) -> None:
    with pytest.raises(ExtractError) as info:
        open_extract(extract(tmp_path), practice="a81001")
    (p,) = info.value.problems
    assert (p.file, p.column, p.value) == ("practices.csv", "ods_code", "A81002")
    assert "other than A81001" in p.message


def test_quoted_empty_field_is_empty(tmp_path: Path) -> None:
    p = only(extract(tmp_path, patients=sub(P, 'P002,A81001,"",M,9991873740,,')))
    assert (p.line, p.column, p.message) == (3, "date_of_birth", "required field is empty")
