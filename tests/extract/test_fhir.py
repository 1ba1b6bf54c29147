"""FHIR R4 UK Core reader and writer: NHS England's own examples, round trips, problems with places."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from rxwatch.cli import main
from rxwatch.extract.fhir import export_ndjson, read_fhir, tables_to_ndjson
from rxwatch.extract.schema import TABLES
from rxwatch.extract.store import list_imports
from rxwatch.extract.validation import ExtractError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES = SHARED / "fhir" / "ukcore-examples"
needs_examples = pytest.mark.skipif(
    not EXAMPLES.is_dir(), reason=f"UK Core examples not found at {EXAMPLES}"
)
RICHARD = "UKCore-Patient-RichardSmith-Example"
# Examples that cannot be imported as they stand, each for a reason the reader must state.
BROKEN = {
    # subjects are a patient (Patient/ad2c58ab-…) that no example defines
    "UKCore-Bundle-NEWS2Observations-Example.json",
    # subject is urn:uuid:ab87a3f8-… that no example defines
    "UKCore-Observation-Lab-Albumin-Example.json",
    # NHS number 9912003890 fails the modulus 11 check
    "UKCore-Patient-BabyPatient-Example.json",
}


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def copy_examples(tmp_path: Path, skip: set[str] = BROKEN) -> Path:
    out = tmp_path / "examples"
    out.mkdir()
    for f in sorted(EXAMPLES.glob("*.json")):
        if f.name not in skip:
            shutil.copy(f, out / f.name)
    return out


# --- NHS England's UK Core examples ------------------------------------------------------------------


@needs_examples
def test_every_example_is_imported_or_refused_with_a_reason(tmp_path: Path) -> None:
    con = duckdb.connect()
    rep = read_fhir(con, copy_examples(tmp_path), practice="A81001")
    assert rep.validated  # small input: every mappable resource also passed the R4B models
    assert rep.rows == {"practices": 1, "patients": 1, "medications": 9, "events": 37}
    assert rep.refused == {
        "Condition": {"no clinical date (onset[x] or recordedDate)": 2},
        "Observation": {
            "no clinical date (effective[x] or issued)": 5,
            "no subject (not about a patient)": 1,
        },
        "Patient": {"no birthDate (age-based rules cannot apply)": 4},
    }
    assert rep.skipped_types == {"AllergyIntolerance": 1, "List": 1}
    assert rep.skipped_other == {"Bundle entries without a resource (requests)": 3}
    assert rep.lookup == {"Medication": 5, "Organization": 2}
    # every resource in every file is accounted for
    assert rep.files == len(list(EXAMPLES.glob("*.json"))) - len(BROKEN)
    assert "UKCore-Observation-FingerJointInflamed-Example.json" in " ".join(
        rep.refused_at["Observation: no subject (not about a patient)"]
    )
    assert "refused 4 Patient" in rep.details()


@needs_examples
def test_the_examples_that_cannot_be_imported_say_where_and_why() -> None:
    with pytest.raises(ExtractError) as err:
        read_fhir(duckdb.connect(), EXAMPLES, practice="A81001")
    problems = err.value.problems
    where = {(p.file, p.line, p.column) for p in problems}
    assert (
        "UKCore-Bundle-NEWS2Observations-Example.json",
        None,
        "entry[0].resource.subject.reference",
    ) in where
    assert ("UKCore-Observation-Lab-Albumin-Example.json", None, "subject.reference") in where
    assert ("UKCore-Patient-BabyPatient-Example.json", None, "identifier[0].value") in where
    assert {p.file for p in problems} == BROKEN
    assert len(problems) == 10  # 8 NEWS2 entries, Albumin, BabyPatient
    assert "modulus 11" in str(err.value)


@needs_examples
def test_richard_smith_and_his_practice(tmp_path: Path) -> None:
    con = duckdb.connect()
    read_fhir(con, copy_examples(tmp_path), practice="A81001")
    assert rows(con, "patients") == [
        (RICHARD, "A81001", dt.date(1970, 9, 11), "M", "9912003888", None, None)
    ]
    # no Organization for A81001 in the examples: its name is its ODS code
    assert rows(con, "practices") == [("A81001", "A81001", None)]


@needs_examples
def test_practice_given_is_named_from_its_organization(tmp_path: Path) -> None:
    con = duckdb.connect()
    read_fhir(con, copy_examples(tmp_path), practice="GP5")
    assert rows(con, "practices") == [("GP5", "WHITE ROSE MEDICAL CENTRE", None)]


@needs_examples
def test_lab_results_blood_pressure_and_panels(tmp_path: Path) -> None:
    con = duckdb.connect()
    read_fhir(con, copy_examples(tmp_path), practice="A81001")
    ev = {
        (r[1], r[2]): r
        for r in con.execute("SELECT * FROM events WHERE date = DATE '2023-08-10'").fetchall()
    }
    fasting = ev[(dt.date(2023, 8, 10), "997681000000108")]
    assert fasting[3:] == ("Fasting blood glucose level", 3.9, "millimoles per litre", None)
    # blood pressure: the panel's own code without a value, then each component as a row
    assert ev[(dt.date(2023, 8, 10), "75367002")][4:] == (None, None, None)
    assert ev[(dt.date(2023, 8, 10), "72313002")][4:6] == (142.0, "millimeter of mercury")
    assert ev[(dt.date(2023, 8, 10), "1091811000000102")][4] == 94.0
    # 24-hour BP: its own component codes
    bp24 = con.execute(
        "SELECT snomed_code, value FROM events WHERE date = DATE '2023-03-10' ORDER BY ALL"
    ).fetchall()
    assert bp24 == [("314463006", None), ("314464000", 102.0), ("314465004", 84.0)]
    # a coded value (ACVPU) keeps the observation's code, no number
    assert ev[(dt.date(2023, 8, 10), "1104441000000107")][4] is None
    # effectiveInstant is a date too
    assert con.execute("SELECT date FROM events WHERE snomed_code = '162564003'").fetchall() == [
        (dt.date(2019, 12, 10),)
    ]
    # the Batch POST bundle: five blood pressures, each with systolic and diastolic
    assert (
        con.execute(
            "SELECT count(*) FROM events WHERE date = DATE '2024-03-25' AND snomed_code = '72313002'"
        ).fetchone()[0]
        == 5
    )


@needs_examples
def test_medication_requests_statements_and_referenced_medication(tmp_path: Path) -> None:
    con = duckdb.connect()
    read_fhir(con, copy_examples(tmp_path), practice="A81001")
    meds = rows(con, "medications")
    codes = {r[2] for r in meds}
    assert {
        "39732411000001106",  # Amoxicillin 500mg capsules (MedicationRequest)
        "41946511000001109",  # Clarithromycin
        "39732311000001104",  # Amoxicillin 250mg capsules (MedicationStatement, effectivePeriod)
        "18616211000001106",  # Timoptol eye drops, via medicationReference to a Medication
    } <= codes
    statement = [r for r in meds if r[2] == "39732311000001104"]
    assert statement == [
        (
            RICHARD,
            dt.date(2021, 2, 15),
            "39732311000001104",
            "Amoxicillin 250mg capsules",
            None,
            None,
        )
    ]
    eyedrops = [r for r in meds if r[2] == "18616211000001106"]
    assert eyedrops[0][1] == dt.date(2022, 9, 10)


@needs_examples
def test_a_urn_uuid_subject_resolves_inside_a_bundle(tmp_path: Path) -> None:
    albumin = json.loads((EXAMPLES / "UKCore-Observation-Lab-Albumin-Example.json").read_text())
    patient = json.loads((EXAMPLES / f"{RICHARD}.json").read_text())
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:ab87a3f8-1d37-44a9-804e-5e962598a6e4", "resource": patient},
            {"fullUrl": "urn:uuid:0c3d5a3e-0000-4000-8000-000000000001", "resource": albumin},
        ],
    }
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    con = duckdb.connect()
    read_fhir(con, tmp_path, practice="A81001")
    # Albumin has two SNOMED codings; the first is kept. issued gives the date.
    assert rows(con, "events") == [
        (RICHARD, dt.date(2022, 3, 8), "1000821000000103", "Serum albumin level", 47.0, "g/L", None)
    ]


@needs_examples
def test_patients_without_a_practice_need_one(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / f"{RICHARD}.json", tmp_path / "p.json")
    with pytest.raises(ExtractError) as err:
        read_fhir(duckdb.connect(), tmp_path)
    (p,) = err.value.problems
    assert (p.file, p.column) == ("p.json", "generalPractitioner")
    assert "--practice" in p.message


# --- round trip ----------------------------------------------------------------------------------


def canonical(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    for t in TABLES:
        con.execute(f"CREATE TABLE {t.name} {t.ddl()}")
    con.execute(
        """INSERT INTO practices VALUES ('A81001', 'The Surgery', 'U12345'),
           ('B82002', 'O''Neill "Health" Centre', NULL), ('C83003', 'No patients yet', NULL)"""
    )
    con.execute(
        """INSERT INTO patients VALUES
        ('P1', 'A81001', '1950-01-02', 'F', '9912003888', NULL, NULL),
        ('odd id_2 é', 'A81001', '1960-03-04', 'M', NULL, '2024-05-06', NULL),
        ('P3', 'B82002', '2001-12-31', 'U', NULL, NULL, '2023-01-01')"""
    )
    con.execute(
        """INSERT INTO medications VALUES
        ('P1', '2024-01-01', '39732411000001106', 'Methotrexate 2.5mg tablets', 28, 28),
        ('P1', '2024-01-01', '39732411000001106', 'Methotrexate 2.5mg tablets', 28, 28),
        ('odd id_2 é', '2024-02-01', '999', NULL, NULL, NULL),
        ('P3', '2024-03-01', '888', 'x', 12.5, NULL)"""
    )
    con.execute(
        """INSERT INTO events VALUES
        ('P1', '2024-01-05', '1000', 'eGFR', 59.5, 'mL/min/1.73m2', '<'),
        ('P1', '2024-01-05', '1000', 'eGFR', 59.5, 'mL/min/1.73m2', '<'),
        ('P1', '2024-01-05', '2000', NULL, NULL, NULL, NULL),
        ('odd id_2 é', '2024-01-06', '3000', 'HbA1c', 0.1, NULL, '>='),
        ('P3', '2024-01-07', '4000', 'unit only', NULL, 'mmol/L', NULL),
        ('P3', '2024-01-08', '5000', 'tiny', 1e-7, 'x', '<=')"""
    )
    return con


def assert_same_tables(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        assert (
            a.execute(f"DESCRIBE {t.name}").fetchall() == b.execute(f"DESCRIBE {t.name}").fetchall()
        )
        ta = a.sql(f"SELECT * FROM {t.name} ORDER BY ALL").to_arrow_table()
        tb = b.sql(f"SELECT * FROM {t.name} ORDER BY ALL").to_arrow_table()
        assert ta.equals(tb), t.name


def test_round_trip_gives_the_same_tables(tmp_path: Path) -> None:
    src = canonical(duckdb.connect())
    counts = tables_to_ndjson(src, tmp_path / "out")
    assert counts == {"Organization": 3, "Patient": 3, "MedicationRequest": 4, "Observation": 6}
    back = duckdb.connect()
    rep = read_fhir(back, tmp_path / "out")
    assert rep.refused == {} and rep.skipped_types == {} and rep.skipped_other == {}
    assert_same_tables(src, back)


def test_re_export_is_byte_identical(tmp_path: Path) -> None:
    src = canonical(duckdb.connect())
    tables_to_ndjson(src, tmp_path / "a")
    back = duckdb.connect()
    read_fhir(back, tmp_path / "a")
    tables_to_ndjson(back, tmp_path / "b")
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_exported_resources_validate_as_r4(tmp_path: Path) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    tables_to_ndjson(canonical(duckdb.connect()), tmp_path)
    n = 0
    for f in sorted(tmp_path.glob("*.ndjson")):
        for line in f.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            get_fhir_model_class(doc["resourceType"]).model_validate(doc)
            assert doc["meta"]["profile"][0].startswith(
                "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
            )
            n += 1
    assert n == 16


def test_export_from_a_store_ignores_its_extra_columns(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    con = canonical(duckdb.connect(str(store)))
    con.execute("ALTER TABLE medications ADD COLUMN practice VARCHAR")
    con.execute("ALTER TABLE events ADD COLUMN practice VARCHAR")
    con.close()
    summary = export_ndjson(out=tmp_path / "out", store=store)
    assert "3 Patient" in summary and "6 Observation" in summary
    back = duckdb.connect()
    read_fhir(back, tmp_path / "out")
    assert_same_tables(canonical(duckdb.connect()), back)


def test_synthetic_population_round_trips(tmp_path: Path) -> None:
    population = pytest.importorskip("rxwatch.synth.population")
    from rxwatch.extract.load import open_extract

    population.generate(
        out=tmp_path / "csv",
        patients=300,
        practices=2,
        seed=7,
        fmt="csv",
        as_of=dt.date(2025, 6, 30),
    )
    src = open_extract(tmp_path / "csv")
    tables_to_ndjson(src, tmp_path / "fhir")
    back = duckdb.connect()
    rep = read_fhir(back, tmp_path / "fhir", validate=False)
    assert rep.refused == {}
    assert_same_tables(src, back)
    # the generator's own FHIR output, read the way `rxwatch import` reads it
    population.generate(
        out=tmp_path / "gen",
        patients=300,
        practices=2,
        seed=7,
        fmt="fhir",
        as_of=dt.date(2025, 6, 30),
    )
    assert_same_tables(src, open_extract(tmp_path / "gen"))


def test_ndjson_files_larger_than_the_memory_cap_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read buffer is one line's worth, not DuckDB's default of sixteen: with the default, a
    file larger than the import's memory cap failed to import (seen at 200,000 patients, where the
    buffer was 1 GiB under a 1 GB cap). Here both are scaled down: 4 MiB lines, a 32 MB cap, and
    an Observation file of ~40 MB."""
    population = pytest.importorskip("rxwatch.synth.population")
    from rxwatch.extract import fhir_read, store

    population.generate(
        out=tmp_path / "fhir", patients=3000, practices=2, seed=7, fmt="fhir",
        as_of=dt.date(2025, 6, 30),
    )  # fmt: skip
    assert (tmp_path / "fhir" / "Observation.ndjson").stat().st_size > 32 << 20
    monkeypatch.setattr(fhir_read, "_MAX_LINE", 4 << 20)
    monkeypatch.setattr(store, "MEMORY_LIMIT", "32MB")
    record = store.import_extract(tmp_path / "store.duckdb", tmp_path / "fhir")
    assert record.rows["patients"] == 3000
    assert record.rows["events"] > 0


# --- problems name file, line and field -----------------------------------------------------------

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "female",
    "birthDate": "1980-02-03",
    "generalPractitioner": [
        {
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": "A81001",
            }
        }
    ],
}


def obs(**kw: object) -> dict:
    doc = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1000"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-01-02",
    }
    doc.update(kw)
    return doc


def write_ndjson(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("validate", [False, True])
def test_problems_name_file_line_and_field(tmp_path: Path, validate: bool) -> None:
    write_ndjson(tmp_path / "Patient.ndjson", [PATIENT])
    write_ndjson(
        tmp_path / "Observation.ndjson",
        [
            obs(),
            "",  # a blank line still counts as a line
            '{"resourceType": "Observation", oops',
            obs(subject={"reference": "Patient/nobody"}),
            obs(effectiveDateTime="2024-02-30"),
            obs(valueQuantity={"value": "lots"}),
        ],
    )
    with pytest.raises(ExtractError) as err:
        read_fhir(duckdb.connect(), tmp_path, validate=validate)
    got = {(p.file, p.line, p.column) for p in err.value.problems}
    assert ("Observation.ndjson", 3, None) in got
    assert ("Observation.ndjson", 4, "subject.reference") in got
    assert ("Observation.ndjson", 5, "effectiveDateTime") in got
    assert ("Observation.ndjson", 6, "valueQuantity.value") in got
    assert all(p.line != 1 for p in err.value.problems)


def test_bundle_problems_name_the_entry(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": PATIENT, "request": {"method": "POST"}},
            {"resource": obs(effectiveDateTime="yesterday")},
        ],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    with pytest.raises(ExtractError) as err:
        read_fhir(duckdb.connect(), tmp_path, validate=False)
    (p,) = err.value.problems
    assert (p.file, p.line, p.column, p.value) == (
        "b.json",
        None,
        "entry[1].resource.effectiveDateTime",
        "yesterday",
    )


def test_invalid_json_file_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{\n  "resourceType": "Patient",\n  oops\n}')
    with pytest.raises(ExtractError) as err:
        read_fhir(duckdb.connect(), tmp_path)
    (p,) = err.value.problems
    assert (p.file, p.line) == ("x.json", 3)
    assert "not valid JSON" in p.message


def test_refusals_are_counted_not_fatal(tmp_path: Path) -> None:
    loinc_only = obs(code={"coding": [{"system": "http://loinc.org", "code": "2160-0"}]})
    med_no_dmd = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Aspirin 75mg"},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-01-01",
    }
    degraded = dict(
        med_no_dmd,
        medicationCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "196421000000109"}]
        },
    )
    snomed_drug = dict(
        med_no_dmd,
        medicationCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "322236009"}]
        },
        dispenseRequest={"expectedSupplyDuration": {"value": 4, "unit": "weeks", "code": "wk"}},
    )
    write_ndjson(tmp_path / "Patient.ndjson", [PATIENT])
    write_ndjson(
        tmp_path / "Observation.ndjson",
        [
            loinc_only,
            obs(status="entered-in-error"),
            obs(dataAbsentReason={"text": "haemolysed"}),
            obs(effectiveDateTime="2024-03"),
            obs(valueQuantity={"value": 5, "comparator": "<", "unit": "mmol/L"}),
        ],
    )
    write_ndjson(tmp_path / "Meds.ndjson", [med_no_dmd, degraded, snomed_drug])
    con = duckdb.connect()
    rep = read_fhir(con, tmp_path)
    assert rep.refused["Observation"] == {
        "no SNOMED CT code": 1,
        "status entered-in-error (withdrawn or not done)": 1,
        "no result (dataAbsentReason)": 1,
        "date only partly known (year or month)": 1,
    }
    assert rep.refused["MedicationRequest"] == {
        "no dm+d code": 1,
        "transfer-degraded medication entry (no product code)": 1,
    }
    assert rows(con, "events") == [("p1", dt.date(2024, 1, 2), "1000", None, 5.0, "mmol/L", "<")]
    assert rows(con, "medications") == [("p1", dt.date(2024, 1, 1), "322236009", None, None, 28)]


def test_import_notes_are_counts_types_and_reasons(tmp_path: Path) -> None:
    """What an import prints and keeps: a resourceType not shaped like one is not repeated (the
    data chose it: it could be an identifier), nor is any place in a file."""
    write_ndjson(tmp_path / "Patient.ndjson", [PATIENT])
    write_ndjson(
        tmp_path / "Observation.ndjson",
        [obs(), obs(effectiveDateTime="2024-03"), obs(effectiveDateTime="2024"), obs(code={})],
    )
    kinds = ("Encounter", "Procedure", "Encounter", "9434765919")
    write_ndjson(tmp_path / "Other.ndjson", [{"resourceType": k, "id": "x1"} for k in kinds])
    rep = read_fhir(duckdb.connect(), tmp_path)
    assert rep.import_notes() == (
        "refused 2 Observation: date only partly known (year or month)",
        "refused 1 Observation: no SNOMED CT code",
        "skipped 4 resources of types the reader does not use"
        " (Encounter 2, Procedure 1, unrecognised type 1)",
        "note: 1 × practice with no Organization resource: its name is its ODS code",
    )
    assert "9434765919" not in rep.details()


def test_cli_import_prints_and_keeps_what_the_reader_refused_or_skipped(tmp_path: Path) -> None:
    secret = "pat-zq81-7731"
    subject = {"reference": f"Patient/{secret}"}
    fhir = tmp_path / "fhir"
    fhir.mkdir()
    write_ndjson(fhir / "Patient.ndjson", [dict(PATIENT, id=secret)])
    write_ndjson(
        fhir / "Observation.ndjson",
        [obs(subject=subject), obs(id="obs-4410", subject=subject, effectiveDateTime="2024-03")],
    )
    write_ndjson(fhir / "Encounter.ndjson", [{"resourceType": "Encounter", "id": "enc-5521"}])
    db = tmp_path / "clinical.duckdb"
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(fhir), "--store", str(db)])
    assert result.exit_code == 0, result.output
    notes = (
        "refused 1 Observation: date only partly known (year or month)",
        "skipped 1 resource of a type the reader does not use (Encounter 1)",
        "note: 1 × practice with no Organization resource: its name is its ODS code",
    )
    assert result.output.splitlines() == [
        "Imported 1 practice (A81001): 1 patient, 0 medication issues, 1 event;"
        " new to the clinical store.",
        *(f"  {n}" for n in notes),
    ]
    for ident in (secret, "obs-4410", "enc-5521"):
        assert ident not in result.output
    (rec,) = list_imports(db)
    assert rec.notes == notes  # kept in the imports table
    again = runner.invoke(main, ["import", str(fhir), "--store", str(db)])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Unchanged: ")
    assert again.output.splitlines()[1:] == [f"  {n}" for n in notes]


def test_deceased_without_a_date_is_refused_with_its_records(tmp_path: Path) -> None:
    write_ndjson(tmp_path / "Patient.ndjson", [dict(PATIENT, deceasedBoolean=True)])
    write_ndjson(tmp_path / "Observation.ndjson", [obs()])
    rep = read_fhir(duckdb.connect(), tmp_path)
    assert rep.refused == {
        "Patient": {"deceased, date of death not known to the day": 1},
        "Observation": {"its Patient was refused": 1},
    }


def test_mixed_ndjson_and_organization_reference(tmp_path: Path) -> None:
    org = {
        "resourceType": "Organization",
        "id": "org1",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y01"}],
        "name": "Mixed Practice",
    }
    pat = dict(PATIENT, generalPractitioner=[{"reference": "Organization/org1"}])
    write_ndjson(tmp_path / "all.ndjson", [obs(), pat, org])
    con = duckdb.connect()
    read_fhir(con, tmp_path)
    assert rows(con, "practices") == [("Y01", "Mixed Practice", None)]
    assert rows(con, "patients")[0][:2] == ("p1", "Y01")
    assert len(rows(con, "events")) == 1


def test_single_file_and_missing_path(tmp_path: Path) -> None:
    f = write_ndjson(tmp_path / "Patient.ndjson", [PATIENT])
    con = duckdb.connect()
    assert read_fhir(con, f).rows["patients"] == 1
    with pytest.raises(ExtractError):
        read_fhir(con, tmp_path / "nothing-here")


def test_bulk_export_manifest_and_gzip(tmp_path: Path) -> None:
    import gzip

    manifest = {"transactionTime": "2025-01-01T00:00:00Z", "request": "x", "output": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with gzip.open(tmp_path / "Patient.ndjson.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps(PATIENT) + "\n")
    write_ndjson(tmp_path / "Observation.ndjson", [obs()])
    con = duckdb.connect()
    rep = read_fhir(con, tmp_path)
    assert rep.skipped_other == {"bulk-export manifest (not a resource)": 1}
    assert rep.rows["patients"] == 1 and rep.rows["events"] == 1
