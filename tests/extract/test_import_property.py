"""Property: whatever is done to an extract, an import fails cleanly or succeeds — never half-writes.

Start from a store that already holds the valid fixture extract; corrupt a copy of the extract at
random (drop a column, garble a date, a bad sex, cut a line short, spoil an NHS number, insert bytes
that are not UTF-8, point a row at an unknown patient, flip a byte anywhere); import it. Either the
import raises ExtractError and the store is exactly as before, or it succeeds and the store holds
exactly what the extract says for its practices.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxwatch.extract.load import open_extract
from rxwatch.extract.store import import_extract, list_imports
from rxwatch.extract.validation import ExtractError

FIXTURE = Path(__file__).parent / "canonical_extract"
FILES = ("practices.csv", "patients.csv", "medications.csv", "events.csv")
TABLES = ("practices", "patients", "medications", "events", "imports", "store_meta")


def snapshot(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="module")
def base_store() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clinical.duckdb"
        import_extract(path, FIXTURE)
        yield path


# --- corruptions: each takes the file's lines (bytes, no line ending) and a random source --------


def drop_column(lines: list[bytes], data: st.DataObject) -> list[bytes]:
    width = len(lines[0].split(b","))
    i = data.draw(st.integers(0, width - 1), label="column")
    return [b",".join(f for k, f in enumerate(line.split(b",")) if k != i) for line in lines]


def replace_field(lines: list[bytes], data: st.DataObject, pick: bytes, new: bytes) -> list[bytes]:
    """Replace one field that looks like ``pick`` (a kind: date, sex, nhs, patient) with ``new``."""
    spots = [
        (r, k)
        for r, line in enumerate(lines[1:], start=1)
        for k, f in enumerate(line.split(b","))
        if _looks_like(f, pick)
    ]
    if not spots:
        return lines
    r, k = data.draw(st.sampled_from(spots), label="field")
    fields = lines[r].split(b",")
    fields[k] = new
    return [*lines[:r], b",".join(fields), *lines[r + 1 :]]


def _looks_like(field: bytes, kind: bytes) -> bool:
    if kind == b"date":
        return len(field) == 10 and field[4:5] == b"-"
    if kind == b"sex":
        return field in (b"F", b"M", b"U")
    if kind == b"nhs":
        return len(field.replace(b" ", b"")) == 10 and field.replace(b" ", b"").isdigit()
    if kind == b"patient":
        return field.startswith(b"P0")
    return False


def truncate_line(lines: list[bytes], data: st.DataObject) -> list[bytes]:
    r = data.draw(st.integers(0, len(lines) - 1), label="line")
    cut = data.draw(st.integers(0, max(len(lines[r]) - 1, 0)), label="cut")
    return [*lines[:r], lines[r][:cut], *lines[r + 1 :]]


def insert_bytes(lines: list[bytes], data: st.DataObject, raw: bytes) -> list[bytes]:
    r = data.draw(st.integers(0, len(lines) - 1), label="line")
    at = data.draw(st.integers(0, len(lines[r])), label="at")
    return [*lines[:r], lines[r][:at] + raw + lines[r][at:], *lines[r + 1 :]]


@st.composite
def corruption(draw: st.DrawFn) -> tuple[str, str, object]:
    file = draw(st.sampled_from(FILES), label="file")
    kind = draw(
        st.sampled_from(
            [
                "drop_column",
                "garble_date",
                "bad_sex",
                "truncate_line",
                "bad_nhs",
                "not_utf8",
                "unknown_patient",
                "flip_byte",
                "quote",
            ]
        ),
        label="kind",
    )
    return file, kind, draw(st.data())


def corrupt(path: Path, file: str, kind: str, data: st.DataObject) -> None:
    f = path / file
    lines = f.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    if kind == "drop_column":
        lines = drop_column(lines, data)
    elif kind == "garble_date":
        garbage = data.draw(st.sampled_from([b"2025-02-30", b"30/01/2025", b"yesterday", b"0"]))
        lines = replace_field(lines, data, b"date", garbage)
    elif kind == "bad_sex":
        lines = replace_field(
            lines, data, b"sex", data.draw(st.sampled_from([b"X", b"Male", b"1"]))
        )
    elif kind == "bad_nhs":
        lines = replace_field(lines, data, b"nhs", b"9434765918")
    elif kind == "unknown_patient":
        lines = replace_field(lines, data, b"patient", b"P999")
    elif kind == "truncate_line":
        lines = truncate_line(lines, data)
    elif kind == "not_utf8":
        lines = insert_bytes(
            lines, data, data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80"]))
        )
    elif kind == "quote":
        lines = insert_bytes(lines, data, b'"')
    elif kind == "flip_byte":
        blob = b"\n".join(lines)
        if blob:
            at = data.draw(st.integers(0, len(blob) - 1), label="at")
            value = data.draw(st.integers(0, 255), label="byte")
            blob = blob[:at] + bytes([value]) + blob[at + 1 :]
        lines = blob.split(b"\n")
    f.write_bytes(b"".join(line + b"\n" for line in lines))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(corruption())
def test_import_fails_cleanly_or_succeeds(
    base_store: Path, case: tuple[str, str, st.DataObject]
) -> None:
    file, kind, data = case
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "clinical.duckdb"
        shutil.copyfile(base_store, store)
        extract = Path(tmp) / "extract"
        shutil.copytree(FIXTURE, extract)
        corrupt(extract, file, kind, data)
        before = snapshot(store)
        try:
            rec = import_extract(store, extract)
        except ExtractError as exc:
            assert exc.problems, "an ExtractError always lists its problems"
            for p in exc.problems:
                assert p.file, str(p)
            assert snapshot(store) == before
            return
        # success: the store holds exactly the (re-read) extract for its practices
        after = snapshot(store)
        if rec.unchanged:
            assert after == before
            return
        assert len(list_imports(store)) == len(before["imports"]) + 1
        con = open_extract(extract)
        ours = set(rec.practices)
        expected = con.execute("SELECT * FROM patients ORDER BY ALL").fetchall()
        assert [r for r in after["patients"] if r[1] in ours] == expected
        n_events = con.execute("SELECT count(*) FROM events").fetchone()
        assert n_events is not None
        assert len([r for r in after["events"] if r[7] in ours]) == n_events[0]
        # practices not in the extract are untouched
        assert [r for r in after["patients"] if r[1] not in ours] == [
            r for r in before["patients"] if r[1] not in ours
        ]
