"""The weekly search: every rule of a catalogue over one backend, as of a date.

``run_search`` builds the shared per-patient facts once (``facts.py``) and each monitoring rule's
patients, caches them on the backend, and compiles the rules to expressions over them: every
monitoring test in one query (``monitoring.tabled_rows``), the alerts in batches (``BATCH`` per
query), each query returning flagged rows and indicator counts. Only those small tables come back to
Python, where values are looked up from their ranks and reasons are written (``reasons.py``). See
ADR 0011 and 0012.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import logging
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from rxwatch.engine.alerts import compile_alert, compile_specialist
from rxwatch.engine.api import (
    INDICATOR_COLUMNS,
    RESULT_COLUMNS,
    RESULT_SCHEMA,
    SPECIALIST_COLUMNS,
    SPECIALIST_SCHEMA,
    SearchResult,
)
from rxwatch.engine.backends import cached
from rxwatch.engine.facts import Facts, narrowed, shared_facts, union_all
from rxwatch.engine.monitoring import (
    assess,
    cockcroft_gault_rows,
    tabled_rows,
    threshold_slots,
    treated_all,
)
from rxwatch.engine.reasons import write_reasons
from rxwatch.engine.rows import ROW_TYPES
from rxwatch.rules.catalogue import Catalogue
from rxwatch.rules.model import Rule

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# Rules per query. One statement for the whole catalogue made Spark's analyser take minutes (its
# cost grows faster than the plan); batches of this size cost DuckDB nothing measurable.
BATCH = 8
OUTPUT_TYPES = {**ROW_TYPES, "numerator": "int64", "denominator": "int64"}
_ARROW = {
    "string": pa.string(),
    "date": pa.date32(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "boolean": pa.bool_(),
}


def _batches(items: list[_T]) -> list[list[_T]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def _schema(types: dict[str, str]) -> pa.Schema:
    return pa.schema([(n, _ARROW[t]) for n, t in types.items()])


def _fetch(con: ibis.BaseBackend, expr: ir.Table | None, schema: pa.Schema) -> pa.Table:
    if expr is None:
        return schema.empty_table()
    return con.to_pyarrow(expr).select(schema.names).cast(schema)


def _monitoring_outputs(assessed: ir.Table) -> tuple[ir.Table, ir.Table]:
    flagged = assessed.filter(assessed.status.notnull())
    rows = flagged.select(
        **{
            name: (flagged[name] if name in flagged.columns else ibis.null()).cast(typ)
            for name, typ in ROW_TYPES.items()
        }
    )
    indicators = assessed.group_by(["practice", "rule_id"]).agg(
        # via int32: PostgreSQL casts a boolean to int4, not to int8
        numerator=(~assessed.overdue).cast("int32").sum().cast("int64"),
        denominator=assessed.count().cast("int64"),
    )
    indicators = indicators.select(
        "practice",
        indicator_id=indicators.rule_id,
        numerator=indicators.numerator,
        denominator=indicators.denominator,
    )
    return rows, indicators


def _as_output(t: ir.Table, kind: str) -> ir.Table:
    """Rows and indicator counts in one shape, so that one query returns both for a batch of
    rules (Ibis compiles the parts they share once)."""
    out = {"kind": ibis.literal(kind, type="string")}
    for name, typ in OUTPUT_TYPES.items():
        src = "rule_id" if name == "rule_id" and "rule_id" not in t.columns else name
        if kind == "indicator" and name == "rule_id":
            src = "indicator_id"
        out[name] = (t[src] if src in t.columns else ibis.null()).cast(typ)
    return t.select(**out)


@contextlib.contextmanager
def _rule_patients(rules: list[Rule], facts: Facts) -> Iterator[tuple[Facts, ir.Table | None]]:
    """Every monitoring rule's patients (on the drug, in its population, not excluded) in one
    cached table, the rule's index in ``_rule``: the tests' tables join it, a Cockcroft–Gault test
    reads its rule's share, and inlined into each read they made the query several times larger
    to compile and to run. The facts come back narrowed to these patients (``narrowed``)."""
    if not rules:
        yield facts, None
        return
    with (
        cached(treated_all(rules, facts).order_by("_rule")) as t,
        narrowed(facts, t) as near,
    ):
        yield near, t


class _Compiling:
    """Two process settings for the length of a search, both about the time Python spends building
    and compiling its expressions (about 1 s of every search, whatever its size; ADR 0014):

    * Ibis does not fuse nested SELECTs (``options.sql.fuse_selects``). Fusing walks the merged
      expression again for every pair of SELECTs it merges (0.2 s a search), and every backend's
      optimiser merges nested projections itself: the outputs are identical.
    * The cyclic garbage collector is paused: compiling makes and drops hundreds of thousands of
      small objects, and the collector's passes over Python's heap cost 0.1 s a search. Reference
      counting still frees them as they go.

    Both are process-wide, so searches running at once in threads share one pause: the first to
    start saves the caller's settings and the last to finish restores them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = (True, True)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._saved = (ibis.options.sql.fuse_selects, gc.isenabled())
                ibis.options.sql.fuse_selects = False
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    fuse, collecting = self._saved
                    ibis.options.sql.fuse_selects = fuse
                    if collecting:
                        gc.enable()


_compiling = _Compiling()


def _with_values(rows: pa.Table, facts: Facts) -> pa.Table:
    """``last_value`` filled from ``last_value_rank`` where the query gave a rank, not a value."""
    ranked = facts.value_of(rows["last_value_rank"])
    value = pc.coalesce(rows["last_value"], ranked)
    i = rows.schema.get_field_index("last_value")
    return rows.set_column(i, "last_value", value).drop_columns(["last_value_rank"])


def run_search(con: ibis.BaseBackend, *, as_of: dt.date, catalogue: Catalogue) -> SearchResult:
    """Every rule of ``catalogue`` over the canonical tables on ``con``, as of ``as_of``."""
    started = time.perf_counter()
    monitoring = [r for r in catalogue.rules if r.kind == "monitoring"]
    slots = threshold_slots(monitoring)
    with (
        _compiling(),
        shared_facts(con, as_of=as_of, catalogue=catalogue) as facts,
        _rule_patients(monitoring, facts) as (near, patients),
    ):
        queries = []
        if patients is not None:
            tabled, left = tabled_rows(monitoring, patients, near, slots)
            per_test = [] if tabled is None else [tabled]
            for i, rule, test in left:
                base = patients.filter(patients._rule == i).drop("_rule", "_n")
                per_test.append(cockcroft_gault_rows(rule, test, base, near, slots))
            rows, indicators = _monitoring_outputs(assess(union_all(per_test), as_of, slots))
            queries.append([_as_output(rows, "row"), _as_output(indicators, "indicator")])
        alerts = [r for r in catalogue.rules if r.kind in ("safety_alert", "missed_diagnosis")]
        for batch in _batches(alerts):
            compiled = [compile_alert(r, facts) for r in batch]
            queries.append(
                [_as_output(c.rows, "row") for c in compiled]
                + [_as_output(c.indicators, "indicator") for c in compiled]
            )
        specialist = [
            compile_specialist(r, facts) for r in catalogue.rules if r.kind == "specialist"
        ]
        schema = _schema({"kind": "string", **OUTPUT_TYPES})
        out = pa.concat_tables(
            [_fetch(con, union_all(q), schema) for q in queries] or [schema.empty_table()]
        )
        special = _fetch(con, union_all(specialist), SPECIALIST_SCHEMA)
        is_row = pc.equal(out["kind"], "row")
        raw_rows = _with_values(out.filter(is_row).select(list(ROW_TYPES)), facts)
    raw_indicators = (
        out.filter(pc.invert(is_row))
        .select(["practice", "rule_id", "numerator", "denominator"])
        .rename_columns(list(INDICATOR_COLUMNS))
    )
    results = write_reasons(raw_rows, catalogue).cast(RESULT_SCHEMA)
    results = results.sort_by(
        [("practice", "ascending"), ("patient_id", "ascending"), ("rule_id", "ascending")]
    )
    indicators = raw_indicators.filter(pc.greater(raw_indicators["denominator"], 0))
    indicators = indicators.sort_by([("practice", "ascending"), ("indicator_id", "ascending")])
    special = special.sort_by(
        [("practice", "ascending"), ("patient_id", "ascending"), ("rule_id", "ascending")]
    )
    log.info(
        "search as of %s on %s: %d rules, %d flagged rows, %.1f s",
        as_of,
        con.name,
        len(catalogue.rules),
        results.num_rows,
        time.perf_counter() - started,
    )
    return SearchResult(
        as_of=as_of,
        results=results.select(list(RESULT_COLUMNS)),
        indicators=indicators.select(list(INDICATOR_COLUMNS)),
        specialist_monitored=special.select(list(SPECIALIST_COLUMNS)),
        backend=con.name,
    )


# --- writing the CSV files ------------------------------------------------------------------------


def _text(column: pa.ChunkedArray) -> list[str]:
    """A column as CSV cells: ISO dates, shortest numbers ("120", "1.5"), empty for null."""
    if pa.types.is_string(column.type):
        return [("" if v is None else v) for v in column.to_pylist()]
    return [("" if v is None else v) for v in pc.cast(column, pa.string()).to_pylist()]


def write_csv(table: pa.Table, path: Path) -> None:
    """Write ``table`` as UTF-8 CSV atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [_text(table[name]) for name in table.column_names]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(table.column_names)
            w.writerows(zip(*cells, strict=True))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(result: SearchResult, out_dir: Path | str) -> dict[str, Path]:
    """results.csv, indicators.csv and specialist_monitored.csv in ``out_dir``."""
    out = Path(out_dir)
    paths = {
        "results": out / "results.csv",
        "indicators": out / "indicators.csv",
        "specialist_monitored": out / "specialist_monitored.csv",
    }
    write_csv(result.results.select(list(RESULT_COLUMNS)), paths["results"])
    write_csv(result.indicators.select(list(INDICATOR_COLUMNS)), paths["indicators"])
    write_csv(
        result.specialist_monitored.select(list(SPECIALIST_COLUMNS)), paths["specialist_monitored"]
    )
    return paths


def summary(result: SearchResult, seconds: float, out: Path | None = None) -> str:
    """One paragraph: rows by status, practices, time; no patient identifier."""
    counts = Counter(result.results["status"].to_pylist())
    order = ("overdue", "due_soon", "out_of_range", "safety_alert", "missed_diagnosis")
    by_status = ", ".join(f"{counts.get(s, 0)} {s.replace('_', ' ')}" for s in order)
    practices = len(
        set(result.indicators["practice"].to_pylist()) | set(result.results["practice"].to_pylist())
    )
    text = (
        f"Search as of {result.as_of.isoformat()} on {result.backend}: "
        f"{result.results.num_rows} flagged rows ({by_status}) across {practices} "
        f"practice{'s' if practices != 1 else ''}; "
        f"{result.specialist_monitored.num_rows} specialist-monitored; {seconds:.1f} s."
    )
    if out is not None:
        text += f" Wrote {Path(out) / 'results.csv'}, indicators.csv and specialist_monitored.csv."
    return text


def search_extract(
    extract_dir: Path | str,
    *,
    as_of: dt.date,
    out: Path | str,
    codelists_dir: Path | str | None = None,
    backend: str = "duckdb",
    practice: str | None = None,
) -> str:
    """Stateless search of an extract directory; writes the CSV files and returns a summary."""
    from rxwatch.engine.backends import connect
    from rxwatch.extract.load import open_extract
    from rxwatch.rules.catalogue import load_catalogue

    started = time.perf_counter()
    catalogue = load_catalogue(Path(codelists_dir) if codelists_dir else None)
    duck = open_extract(Path(extract_dir), practice=practice)
    try:
        con = connect(backend, duckdb_con=duck)
        result = run_search(con, as_of=as_of, catalogue=catalogue)
    finally:
        if backend != "duckdb":
            duck.close()
    write_outputs(result, out)
    return summary(result, time.perf_counter() - started, Path(out))


__all__ = ["run_search", "search_extract", "summary", "write_csv", "write_outputs"]
