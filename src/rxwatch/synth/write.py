"""Writes generated chunks as a canonical extract: CSV (DESIGN.md), Parquet (same tables) or FHIR.

Rows arrive as integer column arrays (patient index, day number, code index); strings are attached as
Arrow dictionaries (codes, terms, units, patient ids), so a 50M-row extract never materialises 50M
Python strings. Two halves:

* ``Renderer`` turns a chunk into Arrow tables and, for CSV, into finished CSV bytes. It is small and
  picklable, so worker processes do the formatting (the most expensive step of a CSV extract) in
  parallel;
* ``ExtractWriter`` owns the files: appends CSV bytes in chunk order, or feeds one Parquet writer per
  table.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rxwatch.extract.schema import EVENTS, MEDICATIONS, PATIENTS, PRACTICES, TABLES

if TYPE_CHECKING:
    from rxwatch.synth.population import ChunkOut

COMPARATORS = ("<", ">", "<=", ">=")
SEXES = ("F", "M", "U")
STRUCTURAL = (",", '"', "\n", "\r")
CSV_BATCH = 65_536  # rows per formatting batch: ~1.5× faster than pyarrow's default 1024


def _dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), mask=mask)


def _dict(indices: np.ndarray, dictionary: pa.Array, mask: np.ndarray | None = None) -> pa.Array:
    idx = pa.array(np.asarray(indices, dtype=np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, dictionary)


def patient_ids(offset: int, n: int, width: int) -> pa.Array:
    """ "S0000001"… — short, unique within the extract, and obviously not an NHS number."""
    nums = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise("S", pc.utf8_lpad(nums, width, "0"), "")


# --- CSV text of dates and numbers, formatted once per process and reused as Arrow dictionaries ----
# Formatting doubles and dates is most of a CSV writer's work; our values are few and repeat, so a
# day number or a value in hundredths indexes a ready-made string instead.
DATE_BASE = np.datetime64("1880-01-01").astype(np.int64)
DATE_SPAN = 300 * 366
VALUE_MAX = 2_000  # largest value written (creatinine is clipped at 1200)
_TEXT: dict[str, pa.Array] = {}


def warm() -> None:
    """Build the shared string tables (call before forking workers, so they inherit them)."""
    if _TEXT:
        return
    days = np.arange(DATE_BASE, DATE_BASE + DATE_SPAN).astype("datetime64[D]")
    _TEXT["dates"] = pa.array(days.astype(str))
    h = np.arange(0, VALUE_MAX * 100 + 1)
    whole, frac = h // 100, h % 100
    text = [
        str(w) if f == 0 else (f"{w}.{f // 10}" if f % 10 == 0 else f"{w}.{f:02d}")
        for w, f in zip(whole.tolist(), frac.tolist(), strict=True)
    ]
    _TEXT["values"] = pa.array(text)


def _date_text(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    idx = np.asarray(days, dtype=np.int64) - DATE_BASE
    if mask is not None:
        idx = np.where(mask, 0, idx)
    return _dict(idx, _TEXT["dates"], mask)


def _value_text(values: np.ndarray) -> pa.Array:
    """Numbers with at most two decimals, written as the shortest text (4.2, 90, 0.62)."""
    missing = np.isnan(values)
    hundredths = np.rint(np.where(missing, 0, values) * 100).astype(np.int64)
    if hundredths.size and (hundredths.max() > VALUE_MAX * 100 or hundredths.min() < 0):
        raise ValueError("a synthetic value is outside the range the CSV writer formats")
    return _dict(hundredths, _TEXT["values"], missing)


def needs_quotes(strings: list[str]) -> bool:
    return any(ch in s for s in strings for ch in STRUCTURAL)


@dataclass
class Renderer:
    """Chunk → Arrow tables (and CSV bytes). Plain data, so it travels to worker processes."""

    fmt: str
    codes: list[str]
    terms: list[str]
    units: list[str]
    width: int
    quoting: str  # "none" (plain CSV) unless some string needs quotes

    def tables(self, ch: ChunkOut, ods: str, text: bool = False) -> dict[str, pa.Table]:
        """The chunk's three tables; ``text``: dates and numbers as ready-made CSV text."""
        dates = _date_text if text else _dates
        number = _value_text if text else (lambda v: pa.array(v, from_pandas=True))
        codes = pa.array(self.codes, type=pa.string())
        terms = pa.array([t or None for t in self.terms], type=pa.string())
        units = pa.array(self.units, type=pa.string())
        comparators = pa.array(COMPARATORS, type=pa.string())
        ids = patient_ids(ch.pid_offset, ch.n, self.width)
        patients = pa.table(
            {
                "patient_id": ids,
                "practice": _dict(np.zeros(ch.n), pa.array([ods])),
                "date_of_birth": dates(ch.dob),
                "sex": _dict(ch.sex, pa.array(SEXES)),
                "nhs_number": pa.array(ch.nhs).cast(pa.string()),
                "date_of_death": dates(ch.dod, ch.dod < 0),
                "registration_end": dates(ch.reg_end, ch.reg_end < 0),
            }
        )
        m = ch.meds
        meds = pa.table(
            {
                "patient_id": _dict(m["pid"], ids),
                "issue_date": dates(m["date"]),
                "dmd_code": _dict(m["code"], codes),
                "name": _dict(m["code"], terms),
                "quantity": number(m["qty"].astype(np.float64)),
                "days_supply": pa.array(m["days"].astype(np.int32)),
            }
        )
        e = ch.events
        unit = e["unit"].astype(np.int32)
        comp = e["comp"].astype(np.int32)
        events = pa.table(
            {
                "patient_id": _dict(e["pid"], ids),
                "date": dates(e["date"]),
                "snomed_code": _dict(e["code"], codes),
                "term": _dict(e["code"], terms),
                "value": number(e["value"].astype(np.float64)),
                "unit": _dict(np.maximum(unit, 0), units, unit < 0),
                "comparator": _dict(np.maximum(comp, 0), comparators, comp < 0),
            }
        )
        return {PATIENTS.name: patients, MEDICATIONS.name: meds, EVENTS.name: events}

    def render(self, ch: ChunkOut, ods: str) -> dict[str, pa.Table | bytes]:
        """CSV: finished bytes (no header); otherwise the Arrow tables."""
        if self.fmt != "csv":
            return dict(self.tables(ch, ods))
        warm()
        tables = self.tables(ch, ods, text=True)
        opts = pacsv.WriteOptions(
            quoting_style=self.quoting, include_header=False, batch_size=CSV_BATCH
        )
        out: dict[str, pa.Table | bytes] = {}
        for name, table in tables.items():
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table, buf, opts)
            out[name] = buf.getvalue().to_pybytes()
            out[f"{name}:rows"] = table.num_rows  # type: ignore[assignment]
        return out


class ExtractWriter:
    """Owns the output files; chunks must arrive in order."""

    def __init__(self, out: Path, fmt: str, renderer: Renderer):
        self.fmt = fmt
        self.renderer = renderer
        self.final = Path(out)
        self.final.mkdir(parents=True, exist_ok=True)
        self._tmp = (
            Path(tempfile.mkdtemp(prefix=".synth-", dir=self.final)) if fmt == "fhir" else None
        )
        self.dir = self._tmp or self.final
        self.files: dict[str, object] = {}
        self.counts: dict[str, int] = {t.name: 0 for t in TABLES}

    def practices(self, ods: list[str], names: list[str], pcns: list[str]) -> None:
        table = pa.table(
            {"ods_code": pa.array(ods), "name": pa.array(names), "pcn": pa.array(pcns)}
        )
        if self.fmt == "csv":
            quoting = "needed" if needs_quotes([*names, *pcns]) else "none"
            buf = pa.BufferOutputStream()
            pacsv.write_csv(
                table, buf, pacsv.WriteOptions(quoting_style=quoting, include_header=False)
            )
            self.write(PRACTICES.name, buf.getvalue().to_pybytes(), table.num_rows)
        else:
            self.write(PRACTICES.name, table, table.num_rows)

    def chunk(self, rendered: dict[str, pa.Table | bytes]) -> None:
        for t in (PATIENTS, MEDICATIONS, EVENTS):
            part = rendered[t.name]
            rows = part.num_rows if isinstance(part, pa.Table) else rendered[f"{t.name}:rows"]
            self.write(t.name, part, int(rows))  # type: ignore[arg-type]

    def write(self, name: str, part: pa.Table | bytes, rows: int) -> None:
        self.counts[name] += rows
        f = self.files.get(name)
        if isinstance(part, bytes):
            if f is None:
                # the header by hand: pyarrow quotes column names even when nothing else needs it
                f = open(self.dir / f"{name}.csv", "wb")  # noqa: SIM115 - closed in close()
                header = [c.name for c in next(t for t in TABLES if t.name == name).columns]
                f.write((",".join(header) + "\n").encode())
                self.files[name] = f
            f.write(part)  # type: ignore[attr-defined]
            return
        if f is None:
            f = pq.ParquetWriter(
                self.dir / f"{name}.parquet",
                part.schema,
                compression="zstd",
                store_schema=False,  # read back as plain strings, the schema's types
            )
            self.files[name] = f
        f.write_table(part)  # type: ignore[attr-defined]

    def close(self) -> dict[str, int]:
        for f in self.files.values():
            f.close()  # type: ignore[attr-defined]
        if self.fmt == "fhir":
            self._to_fhir()
        return dict(self.counts)

    def _to_fhir(self) -> None:
        """Parquet in a temporary directory, then the FHIR engineer's ``tables_to_ndjson``."""
        import duckdb

        try:
            from rxwatch.extract.fhir import tables_to_ndjson
        except ImportError as exc:  # pragma: no cover - depends on the FHIR module landing
            from rxwatch.synth.population import SynthError

            raise SynthError("FHIR output needs rxwatch.extract.fhir (not available yet)") from exc
        assert self._tmp is not None
        try:
            con = duckdb.connect()
            for t in TABLES:
                path = (self._tmp / f"{t.name}.parquet").as_posix()
                con.execute(f"CREATE VIEW {t.name} AS SELECT * FROM read_parquet('{path}')")
            tables_to_ndjson(con, self.final)
            con.close()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
