"""The clinical store: atomic per-practice snapshots, idempotent re-import, clear refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rxwatch import __version__
from rxwatch.cli import main
from rxwatch.extract import store
from rxwatch.extract.fhir import tables_to_ndjson
from rxwatch.extract.load import open_extract
from rxwatch.extract.schema import Table
from rxwatch.extract.store import (
    ImportRecord,
    StoreInUseError,
    content_hash,
    import_extract,
    list_imports,
)
from rxwatch.extract.validation import ExtractError

FIXTURE = Path(__file__).parent / "canonical_extract"
STORE_TABLES = ("practices", "patients", "medications", "events", "imports", "store_meta")


def copy_extract(tmp_path: Path, name: str = "extract") -> Path:
    out = tmp_path / name
    shutil.copytree(FIXTURE, out)
    return out


def practice_b_only(tmp_path: Path, name: str = "b") -> Path:
    """A new extract from A81002 alone: P003 left, P004 has a new event."""
    out = tmp_path / name
    out.mkdir()
    (out / "practices.csv").write_text("ods_code,name\nA81002,Queens Park Medical Centre\n")
    (out / "patients.csv").write_text(
        "patient_id,practice,date_of_birth,sex\nP004,A81002,1948-01-09,F\n"
    )
    (out / "medications.csv").write_text("patient_id,issue_date,dmd_code\n")
    (out / "events.csv").write_text(
        "patient_id,date,snomed_code,value,unit\nP004,2025-03-01,1000731000000107,91,umol/L\n"
    )
    return out


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every table's content, in a stable order: 'the store' as far as anyone can tell."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in STORE_TABLES}
    finally:
        con.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store holding the fixture extract (practices A81001 and A81002)."""
    path = tmp_path / "store" / "clinical.duckdb"
    import_extract(path, copy_extract(tmp_path, "first"))
    return path


# --- importing --------------------------------------------------------------------------------


def test_first_import(tmp_path: Path) -> None:
    path = tmp_path / "clinical.duckdb"
    rec = import_extract(path, FIXTURE)
    assert rec.summary() == (
        "Imported 2 practices (A81001, A81002): 4 patients, 4 medication issues, 5 events;"
        " new to the clinical store."
    )
    assert rec.rows == {"practices": 2, "patients": 4, "medications": 4, "events": 5}
    assert not rec.unchanged
    snap = snapshot(path)
    assert len(snap["events"]) == 5
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute(
        "SELECT practice, count(*) FROM events GROUP BY ALL ORDER BY 1"
    ).fetchall() == [("A81001", 3), ("A81002", 2)]
    assert [r[0] for r in con.execute("DESCRIBE medications").fetchall()][-1] == "practice"
    con.close()
    assert not list((tmp_path).glob(".rxwatch-import-*"))  # staging removed


def test_store_tables_match_the_extract(db: Path, tmp_path: Path) -> None:
    con = open_extract(FIXTURE)
    st = duckdb.connect(str(db), read_only=True)
    for t in ("practices", "patients"):
        assert (
            st.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            == con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        )
    assert st.execute("SELECT * EXCLUDE (practice) FROM events ORDER BY ALL").fetchall() == (
        con.execute("SELECT * FROM events ORDER BY ALL").fetchall()
    )


def test_import_record(db: Path) -> None:
    (rec,) = list_imports(db)
    assert rec.id == 1
    assert rec.practices == ("A81001", "A81002")
    assert rec.format == "csv"
    assert rec.source.endswith("first")
    assert rec.content_hash == content_hash(FIXTURE, "csv")
    assert rec.imported_at.tzinfo is dt.UTC
    assert abs(dt.datetime.now(dt.UTC) - rec.imported_at) < dt.timedelta(minutes=5)
    assert rec.rxwatch_version


def test_same_extract_twice_changes_nothing(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    again = import_extract(db, copy_extract(tmp_path, "again"))  # same bytes, another folder
    assert again.unchanged
    assert again.summary().startswith("Unchanged: this extract of 2 practices (A81001, A81002)")
    assert "nothing was replaced" in again.summary()
    assert snapshot(db) == before
    assert len(list_imports(db)) == 1


def test_changed_events_with_the_same_patients_are_imported(db: Path, tmp_path: Path) -> None:
    """Same practices and patient count as the stored import: only the hash can tell them apart."""
    changed = copy_extract(tmp_path, "changed")
    with (changed / "events.csv").open("a") as fh:
        fh.write("P002,2025-03-02,1028431000000104,Serum lithium level,0.7,mmol/L,\n")
    rec = import_extract(db, changed)
    assert not rec.unchanged
    assert rec.content_hash == content_hash(changed, "csv") != content_hash(FIXTURE, "csv")
    assert rec.rows["events"] == len((changed / "events.csv").read_text().splitlines()) - 1
    assert len(list_imports(db)) == 2


def test_the_background_hash_ends_with_the_import(db: Path, tmp_path: Path) -> None:
    bad = copy_extract(tmp_path, "bad")
    (bad / "patients.csv").write_text("patient_id,practice,date_of_birth,sex\nP001,A81001,x,F\n")
    with pytest.raises(ExtractError):
        import_extract(db, bad)
    import_extract(db, practice_b_only(tmp_path))
    assert not [t for t in threading.enumerate() if t.name == "rxwatch-hash"]


def test_same_extract_after_another_replaced_it_is_imported_again(db: Path, tmp_path: Path) -> None:
    first = snapshot(db)
    import_extract(db, practice_b_only(tmp_path))
    rec = import_extract(db, FIXTURE)
    assert not rec.unchanged
    after = snapshot(db)
    for t in ("practices", "patients", "medications", "events"):
        assert after[t] == first[t]
    assert len(list_imports(db)) == 3


def test_per_practice_replacement(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    rec = import_extract(db, practice_b_only(tmp_path))
    assert rec.summary() == (
        "Imported 1 practice (A81002): 1 patient, 0 medication issues, 1 event;"
        " previous snapshot replaced."
    )
    after = snapshot(db)

    def rows(snap: dict, table: str, practice: str, key: int) -> list[tuple]:
        return [r for r in snap[table] if r[key] == practice]

    # A81001 untouched, row for row
    assert rows(after, "patients", "A81001", 1) == rows(before, "patients", "A81001", 1)
    assert rows(after, "events", "A81001", 7) == rows(before, "events", "A81001", 7)
    assert rows(after, "medications", "A81001", 6) == rows(before, "medications", "A81001", 6)
    # A81002 is exactly the new extract
    assert [r[0] for r in rows(after, "patients", "A81002", 1)] == ["P004"]
    assert [(r[0], r[4]) for r in rows(after, "events", "A81002", 7)] == [("P004", 91.0)]
    assert rows(after, "medications", "A81002", 6) == []
    assert [r.replaced for r in list_imports(db)] == [(), ("A81002",)]


def test_mixed_summary(db: Path, tmp_path: Path) -> None:
    out = practice_b_only(tmp_path)
    (out / "practices.csv").write_text("ods_code,name\nA81002,Queens Park\nB82001,New Surgery\n")
    rec = import_extract(db, out)
    assert rec.summary().endswith(
        "previous snapshots of A81002 replaced; B82001 new to the clinical store."
    )


def test_summary_names_at_most_eight_practices() -> None:
    rec = ImportRecord(
        id=1,
        imported_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        source="x",
        format="csv",
        practices=tuple(f"A8100{i}" for i in range(10)),
        rows={"practices": 10, "patients": 12034, "medications": 301220, "events": 498002},
        replaced=tuple(f"A8100{i}" for i in range(10)),
    )
    assert rec.summary() == (
        "Imported 10 practices (A81000, A81001, A81002, A81003, A81004, A81005, A81006, A81007"
        " and 2 more): 12,034 patients, 301,220 medication issues, 498,002 events;"
        " previous snapshots replaced."
    )


def test_parquet_import(tmp_path: Path) -> None:
    pq = tmp_path / "pq"
    pq.mkdir()
    con = open_extract(FIXTURE)
    for t in ("practices", "patients", "medications", "events"):
        con.execute(f"COPY {t} TO '{pq}/{t}.parquet'")
    path = tmp_path / "clinical.duckdb"
    rec = import_extract(path, pq)
    assert rec.format == "parquet"
    assert rec.rows["events"] == 5


# --- refusals leave the store as it was ---------------------------------------------------------


def test_failed_import_leaves_store_unchanged(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    bad = copy_extract(tmp_path, "bad")
    text = (bad / "events.csv").read_text().replace("P004,2024-12-12", "P004,2024-12-32")
    (bad / "events.csv").write_text(text)
    with pytest.raises(ExtractError) as info:
        import_extract(db, bad)
    assert "events.csv: line 6: column date" in str(info.value)
    assert snapshot(db) == before
    assert not list(db.parent.glob(".rxwatch-import-*"))


def test_unknown_patient_in_a_directly_loaded_file_is_named(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Medications go straight into the store; a row naming no patient aborts it, then the full
    validation names the line, and the store keeps its previous snapshot."""
    before = snapshot(db)
    bad = copy_extract(tmp_path, "bad")
    with (bad / "medications.csv").open("a") as fh:
        fh.write("P999,2025-03-01,39099711000001108,Methotrexate 2.5mg tablets,24,28\n")
    fallbacks: list[bool] = []
    full = store.open_extract

    def spy(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        fallbacks.append(kwargs.get("tables") is None)
        return full(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "open_extract", spy)
    with pytest.raises(ExtractError) as info:
        import_extract(db, bad)
    assert "medications.csv" in str(info.value) and "P999" in str(info.value)
    assert "patient is not in patients" in str(info.value)
    assert fallbacks == [False, True]  # staged the small files, then validated everything
    assert snapshot(db) == before


def test_clean_csv_import_stages_only_the_small_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    full = store.open_extract

    def spy(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        calls.append(tuple(t.name for t in kwargs.get("tables", ())))  # type: ignore[union-attr]
        return full(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "open_extract", spy)
    path = tmp_path / "clinical.duckdb"
    rec = import_extract(path, copy_extract(tmp_path))
    assert calls == [("practices", "patients")]
    con = open_extract(FIXTURE)
    assert rec.rows == {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
        for t in ("practices", "patients", "medications", "events")
    }
    for t in ("medications", "events"):
        cols = ", ".join(c[0] for c in con.execute(f"DESCRIBE {t}").fetchall())
        want = con.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall()
        got = duckdb.connect(str(path), read_only=True)
        try:
            assert got.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall() == want
        finally:
            got.close()


def _stage_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record which tables each ``open_extract`` call of the store staged (None: all of them)."""
    calls: list[object] = []
    full = store.open_extract

    def spy(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        tables = kwargs.get("tables")
        calls.append(None if tables is None else tuple(t.name for t in tables))  # type: ignore[attr-defined]
        return full(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "open_extract", spy)
    return calls


def _store_rows(path: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * EXCLUDE (practice) FROM {table} ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_awkward_valid_fields_load_directly_exactly_as_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct load parses dates and numbers in the CSV reader; whatever it accepts must come
    out exactly as the full validation reads it: spaces, timestamps, quoted empty fields,
    comparators, ``28.0`` days, columns in another order and case, an extra column."""
    extract = copy_extract(tmp_path)
    nbsp = "\u00a0"
    (extract / "medications.csv").write_text(
        "Days_Supply,ISSUE_DATE,patient_id,dmd_code,name,quantity,note\n"
        f'28.0,2025-01-10, P001 ,39099711000001108,"{nbsp}Methotrexate 2.5mg tablets ", 24 ,x\n'
        '"",2025-1-7,P002,39695211000001102,"Lithium, 400mg",1e2,\n'
        ',2025-02-01T09:30:00,P004,39693011000001102,,"",\n'
        " 56 , 2025-03-01 ,P003, 39693011000001102 ,  ,-0.5,\n",
        encoding="utf-8",
    )
    (extract / "events.csv").write_text(
        "patient_id,date,snomed_code,term,value,unit,comparator\n"
        "P001,2025-01-05,1013211000000103,ALT,35,U/L,=\n"
        "P001,2025-01-05,1022431000000105,Neutrophils,<0.5,10*9/L,\n"
        "P002,2025-01-06,1028431000000104,Lithium,>= 0.6,mmol/L,>=\n"
        "P003,2025-01-07,1011481000000105,eGFR,90,mL/min,>\n"
        "P003,2025-01-07,1011481000000105,eGFR,~90,,\n"
        "P004,2024-12-12,1000731000000107, Creatinine ,1.5e2,umol/L,~\n"
        f'P004,2024-12-13,1000731000000107,"Creatinine{nbsp}",=88,"",""\n',
        encoding="utf-8",
    )
    calls = _stage_calls(monkeypatch)
    path = tmp_path / "clinical.duckdb"
    import_extract(path, extract)
    assert calls == [("practices", "patients")]  # no fallback: the direct load took every row
    con = open_extract(extract)
    for t in ("medications", "events"):
        assert _store_rows(path, t) == con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()


@pytest.mark.parametrize(
    ("file", "line", "column", "value"),
    [
        (
            "medications.csv",
            "P001,2025-02-30,39099711000001108,X,24,28",
            "issue_date",
            "2025-02-30",
        ),
        ("medications.csv", "P001,2025-02-03,39099711000001108,X,two,28", "quantity", "two"),
        ("medications.csv", "P001,2025-02-03,39099711000001108,X,2,28.5", "days_supply", "28.5"),
        ("medications.csv", "P001,1799-12-31,39099711000001108,X,2,28", "issue_date", "1799-12-31"),
        # DuckDB's CSV reader took these as 2025-01-01 and 2025-01-10 (found by
        # test_import_property: a byte inside a date)
        (
            "medications.csv",
            "P001,2025-01-1z0,39099711000001108,X,2,28",
            "issue_date",
            "2025-01-1z0",
        ),
        ("events.csv", "P001,2025-01-10x,1013211000000103,ALT,5,U/L,", "date", "2025-01-10x"),
        ("events.csv", "P001,2025-01-09,1013211000000103,ALT,nan,U/L,", "value", "nan"),
        ("events.csv", "P001,2025-01-09,1013211000000103,ALT,5,U/L,<>", "comparator", "<>"),
    ],
)
def test_a_field_the_direct_load_refuses_is_named(
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    line: str,
    column: str,
    value: str,
) -> None:
    before = snapshot(db)
    bad = copy_extract(tmp_path, "bad")
    with (bad / file).open("a") as fh:
        fh.write(line + "\n")
    calls = _stage_calls(monkeypatch)
    with pytest.raises(ExtractError) as info:
        import_extract(db, bad)
    assert calls == [("practices", "patients"), None]  # direct load refused, full validation ran
    n = len((bad / file).read_text().splitlines())
    assert f"{file}: line {n}: column {column}" in str(info.value)
    assert repr(value) in str(info.value)
    assert snapshot(db) == before


def test_failure_inside_the_transaction_rolls_back(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deletes and the first inserts have run when the events insert fails: all are undone."""
    before = snapshot(db)
    broken = Table("events", "events.csv", (*store.EVENTS.columns, store.PRACTICE))
    monkeypatch.setattr(store, "EVENTS", broken)  # inserts a column the staging table lacks
    with pytest.raises(duckdb.Error):
        import_extract(db, practice_b_only(tmp_path))
    assert snapshot(db) == before


def test_patient_id_of_another_practice_is_refused(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    out = practice_b_only(tmp_path)
    (out / "patients.csv").write_text(
        "patient_id,practice,date_of_birth,sex\n"
        "P004,A81002,1948-01-09,F\n"
        "P001,A81002,1950-03-14,F\n"  # line 3: P001 is A81001's patient in the store
    )
    with pytest.raises(ExtractError) as info:
        import_extract(db, out)
    (p,) = info.value.problems
    assert (p.file, p.line, p.column, p.value) == ("patients.csv", 3, "patient_id", "P001")
    assert "already belongs to practice A81001" in p.message
    assert snapshot(db) == before


def test_patient_moving_within_the_extract_is_fine(db: Path, tmp_path: Path) -> None:
    """Both practices come in together, so P001 may move from A81001 to A81002."""
    out = copy_extract(tmp_path, "moved")
    text = (out / "patients.csv").read_text().replace("P001,A81001", "P001,A81002")
    (out / "patients.csv").write_text(text)
    import_extract(db, out)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT practice FROM patients WHERE patient_id = 'P001'").fetchone() == (
        "A81002",
    )
    assert con.execute(
        "SELECT DISTINCT practice FROM events WHERE patient_id = 'P001'"
    ).fetchall() == [("A81002",)]


def test_second_writer_is_told_the_store_is_in_use(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(db)!r})\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreInUseError, match="is in use by another RxWatch process"):
            import_extract(db, practice_b_only(tmp_path))
        with pytest.raises(StoreInUseError):
            list_imports(db)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert snapshot(db) == before


def test_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "clinical.duckdb"
    path.write_text("not a database")
    with pytest.raises(store.StoreError, match="not a DuckDB database"):
        import_extract(path, FIXTURE)


def test_list_imports_without_a_store(tmp_path: Path) -> None:
    assert list_imports(tmp_path / "none.duckdb") == []


def test_a_store_made_before_import_notes_opens_and_imports(db: Path, tmp_path: Path) -> None:
    """``imports.notes`` came later: an older store is listed as it is, and the next import adds
    the column without a new layout version."""
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE imports DROP COLUMN notes")
    con.close()
    (old,) = list_imports(db)
    assert (old.id, old.notes) == (1, ())
    rec = import_extract(db, practice_b_only(tmp_path))
    assert not rec.unchanged
    assert [(r.id, r.notes) for r in list_imports(db)] == [(1, ()), (2, ())]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT value FROM store_meta").fetchall() == [(store.SCHEMA_VERSION,)]
    con.close()


def test_content_hash_follows_bytes_not_folder(tmp_path: Path) -> None:
    a, b = copy_extract(tmp_path, "a"), copy_extract(tmp_path, "b")
    (b / "notes.txt").write_text("ignored: not part of the extract")
    assert content_hash(a, "csv") == content_hash(b, "csv")
    (b / "events.csv").write_text((b / "events.csv").read_text() + "\n")
    assert content_hash(a, "csv") != content_hash(b, "csv")


# --- FHIR goes through the FHIR reader ----------------------------------------------------------


def test_fhir_extract_is_read_by_read_fhir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open_extract hands *.ndjson to rxwatch.extract.fhir.read_fhir, then checks its tables."""
    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "Patient.ndjson").write_text("{}\n")
    calls: list[tuple[Path, str | None]] = []

    def read_fhir(con: duckdb.DuckDBPyConnection, path: Path, *, practice: str | None) -> None:
        calls.append((Path(path), practice))
        open_extract(FIXTURE, con=con)  # stands in for the FHIR reader's tables
        con.execute("UPDATE patients SET sex = 'Q' WHERE patient_id = 'P003'")

    fake = types.ModuleType("rxwatch.extract.fhir")
    fake.read_fhir = read_fhir  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rxwatch.extract.fhir", fake)
    with pytest.raises(ExtractError) as info:
        open_extract(tmp_path / "fhir", practice="A81001")
    assert calls == [(tmp_path / "fhir", "A81001")]
    (p,) = info.value.problems
    assert (p.file, p.column, p.value) == ("fhir [patients]", "sex", "Q")


# --- the command line ---------------------------------------------------------------------------


def test_cli_import_prints_the_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(FIXTURE), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Imported 2 practices (A81001, A81002): 4 patients")


def test_cli_import_error_is_clean(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    bad = copy_extract(tmp_path, "bad")
    (bad / "patients.csv").write_text(
        (bad / "patients.csv").read_text().replace("P002,A81001,1962-11-02,M", "P002,A81001,,Z")
    )
    result = CliRunner().invoke(main, ["import", str(bad), "--store", str(db)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "error: the extract has 2 problems; nothing was stored" in result.output
    assert "patients.csv: line 3: column date_of_birth: required field is empty" in result.output
    assert "patients.csv: line 3: column sex: sex must be F, M or U (value 'Z')" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert snapshot(db) == before


def test_cli_import_out_of_memory_is_clean(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine too small for an extract gets a message, not a traceback, and the store as it was."""
    before = snapshot(db)
    monkeypatch.setattr(store, "MEMORY_LIMIT", "1MB")
    csv = CliRunner().invoke(main, ["import", str(practice_b_only(tmp_path)), "--store", str(db)])
    assert csv.exit_code == 2, csv.output  # the CSV reader says which file it was reading
    # which file runs out first depends on what the process holds already: any of them will do
    assert re.search(r"error: not enough memory to read (practices|patients)\.csv", csv.output)
    fhir = tmp_path / "fhir"
    tables_to_ndjson(open_extract(practice_b_only(tmp_path, "b2")), fhir)
    result = CliRunner().invoke(main, ["import", str(fhir), "--store", str(db)])
    assert result.exit_code == 1, result.output  # the command's own backstop
    assert "error: out of memory (Out of Memory Error:" in result.output
    assert "nothing was half-written" in result.output
    for r in (csv, result):
        assert "Traceback" not in r.output
    assert snapshot(db) == before


def test_cli_imports_lists_every_import_newest_first(tmp_path: Path) -> None:
    """The fixture imported, changed and imported again; the same files again add no line."""
    path = tmp_path / "clinical.duckdb"
    extract = copy_extract(tmp_path)
    import_extract(path, extract)
    first_hash = content_hash(extract, "csv")
    with (extract / "events.csv").open("a") as fh:
        fh.write("P002,2025-03-02,1028431000000104,Serum lithium level,0.7,mmol/L,\n")
    import_extract(path, extract)
    assert import_extract(path, extract).unchanged
    first, second = list_imports(path)
    when = [r.imported_at.strftime("%d %b %Y %H:%M UTC") for r in (first, second)]
    result = CliRunner().invoke(main, ["imports", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"2 imports changed the clinical store {path}, newest first:",
        f"Import 2, {when[1]}, csv: 2 practices (A81001, A81002); 4 patients, 4 medication"
        f" issues, 6 events; content {content_hash(extract, 'csv')[:12]}; RxWatch {__version__}",
        f"Import 1, {when[0]}, csv: 2 practices (A81001, A81002); 4 patients, 4 medication"
        f" issues, 5 events; content {first_hash[:12]}; RxWatch {__version__}",
    ]
    assert "P00" not in result.output and "943" not in result.output  # no patient, no NHS number


def test_cli_imports_without_a_store_or_any_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clear sentence and exit 0; the default store is the one ``rxwatch import`` uses."""
    path = tmp_path / "clinical.duckdb"
    monkeypatch.setenv("RXWATCH_STORE", str(path))
    none = CliRunner().invoke(main, ["imports"])
    assert none.exit_code == 0, none.output
    assert none.output == (
        f"There is no clinical store at {path}: nothing has been imported yet"
        " (`rxwatch import EXTRACT_DIR` makes one).\n"
    )
    bad = copy_extract(tmp_path, "bad")
    (bad / "patients.csv").write_text("patient_id,practice,date_of_birth,sex\nP001,A81001,x,F\n")
    assert CliRunner().invoke(main, ["import", str(bad)]).exit_code == 2  # made the store, empty
    empty = CliRunner().invoke(main, ["imports"])
    assert empty.exit_code == 0, empty.output
    assert empty.output == (
        f"The clinical store {path} holds no imports yet: nothing has been imported into it.\n"
    )


def test_import_history_line_names_at_most_eight_practices() -> None:
    rec = ImportRecord(
        id=7,
        imported_at=dt.datetime(2026, 12, 3, 7, 44, 59, tzinfo=dt.UTC),
        source="x",
        format="parquet",
        practices=tuple(f"A8100{i}" for i in range(10)),
        rows={"practices": 10, "patients": 1, "medications": 301220, "events": 498002},
        content_hash="0123456789abcdef" * 4,
        rxwatch_version="1.2.3",
    )
    assert rec.history_line() == (
        "Import 7, 03 Dec 2026 07:44 UTC, parquet: 10 practices (A81000, A81001, A81002, A81003,"
        " A81004, A81005, A81006, A81007 and 2 more); 1 patient, 301,220 medication issues,"
        " 498,002 events; content 0123456789ab; RxWatch 1.2.3"
    )


def test_cli_import_of_a_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_record_is_a_plain_value() -> None:
    """ImportRecord is frozen: a record of what happened is never edited."""
    rec = ImportRecord(id=1, imported_at=dt.datetime.now(dt.UTC), source="x", format="csv",
                       practices=())  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.id = 2  # type: ignore[misc]
    assert rec.summary() == (
        "Imported 0 practices: 0 patients, 0 medication issues, 0 events; nothing was replaced."
    )
