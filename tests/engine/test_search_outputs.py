"""The files a search writes (results.csv, indicators.csv, specialist_monitored.csv) and
``search_extract`` end to end on a tiny CSV extract."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
from tests.engine.fixtures.extract import CODES, FIXTURES, SCHEMAS, Extract, T, ago

from rxwatch.engine.api import (
    INDICATOR_COLUMNS,
    RESULT_COLUMNS,
    RESULT_SCHEMA,
    SPECIALIST_COLUMNS,
    SPECIALIST_SCHEMA,
    SearchResult,
)
from rxwatch.engine.search import search_extract, write_outputs


def _result() -> SearchResult:
    results = pa.Table.from_pylist(
        [
            {
                "practice": "A00001",
                "patient_id": "p1",
                "rule_id": "methotrexate.fbc",
                "status": "out_of_range",
                "reason": "Platelets 120 on 2026-10-02, low",
                "last_date": dt.date(2026, 10, 2),
                "last_value": 120.0,
                "due_date": dt.date(2026, 12, 25),
                "days_overdue": None,
            },
            {
                "practice": "A00001",
                "patient_id": "p2",
                "rule_id": "lithium.lithium-level",
                "status": "out_of_range",
                "reason": "Lithium 1.25",
                "last_date": dt.date(2026, 11, 1),
                "last_value": 1.25,
                "due_date": dt.date(2027, 1, 31),
                "days_overdue": None,
            },
            {
                "practice": "A00001",
                "patient_id": "p3",
                "rule_id": "methotrexate.renal",
                "status": "overdue",
                "reason": "No renal function test on record",
                "last_date": None,
                "last_value": None,
                "due_date": None,
                "days_overdue": None,
            },
        ],
        schema=RESULT_SCHEMA,
    )
    indicators = pa.table(
        {
            "practice": ["A00001"],
            "indicator_id": ["methotrexate.fbc"],
            "numerator": [3],
            "denominator": [4],
        }
    )
    special = pa.Table.from_pylist(
        [],
        schema=SPECIALIST_SCHEMA,
    )
    return SearchResult(T, results, indicators, special, "duckdb")


def test_csv_columns_nulls_numbers_and_quoting(tmp_path: Path):
    paths = write_outputs(_result(), tmp_path)
    lines = paths["results"].read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(RESULT_COLUMNS)
    assert lines[1] == (
        'A00001,p1,methotrexate.fbc,out_of_range,"Platelets 120 on 2026-10-02, low",'
        "2026-10-02,120,2026-12-25,"
    )
    assert lines[2].endswith(",2026-11-01,1.25,2027-01-31,")
    assert lines[3] == "A00001,p3,methotrexate.renal,overdue,No renal function test on record,,,,"
    ind = paths["indicators"].read_text().splitlines()
    assert ind == [",".join(INDICATOR_COLUMNS), "A00001,methotrexate.fbc,3,4"]
    assert paths["specialist_monitored"].read_text().splitlines() == [",".join(SPECIALIST_COLUMNS)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "indicators.csv",
        "results.csv",
        "specialist_monitored.csv",
    ]  # no temporary files left behind


def test_rewriting_replaces_the_files_whole(tmp_path: Path):
    write_outputs(_result(), tmp_path)
    empty = _result()
    empty = SearchResult(
        T, empty.results.slice(0, 0), empty.indicators, empty.specialist_monitored, "duckdb"
    )
    write_outputs(empty, tmp_path)
    assert (tmp_path / "results.csv").read_text().splitlines() == [",".join(RESULT_COLUMNS)]


def _write_extract(x: Extract, directory: Path) -> None:
    directory.mkdir()
    for name, table in x.tables().items():
        with (directory / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(SCHEMAS[name].names)
            for r in table.to_pylist():
                w.writerow("" if v is None else v for v in r.values())


def test_search_extract_end_to_end(tmp_path: Path):
    x = Extract()
    x.patient("p1", age=70).issue("p1", "methotrexate", 300, 10).event("p1", "fbc", 100)
    x.event("p1", "platelets", 20, 120.0).issue("p1", "nsaid-oral", 10)
    x.patient("p2").issue("p2", "clozapine", 30)
    extract = tmp_path / "extract"
    _write_extract(x, extract)
    out = tmp_path / "out"
    summary = search_extract(
        extract, as_of=T, out=out, codelists_dir=FIXTURES / "codelists", backend="duckdb"
    )
    assert "as of 2026-11-23" in summary and "p1" not in summary
    with (out / "results.csv").open(encoding="utf-8") as f:
        got = {(r["patient_id"], r["rule_id"]): r for r in csv.DictReader(f)}
    fbc = got[("p1", "methotrexate.fbc")]
    assert (fbc["status"], fbc["last_value"], fbc["last_date"]) == (
        "out_of_range",
        "120",
        ago(20).isoformat(),
    )
    assert got[("p1", "methotrexate.renal")]["status"] == "overdue"
    assert got[("p1", "pincer.gi_p3a")]["status"] == "safety_alert"
    with (out / "specialist_monitored.csv").open(encoding="utf-8") as f:
        assert [r["patient_id"] for r in csv.DictReader(f)] == ["p2"]
    with (out / "indicators.csv").open(encoding="utf-8") as f:
        ind = {r["indicator_id"]: (r["numerator"], r["denominator"]) for r in csv.DictReader(f)}
    assert ind["methotrexate.fbc"] == ("1", "1")  # out of range, but not overdue
    assert ind["methotrexate.renal"] == ("0", "1")
    assert CODES["methotrexate"]  # the extract used the fixture codes
