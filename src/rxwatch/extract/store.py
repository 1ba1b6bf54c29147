"""The clinical store: one DuckDB file holding each practice's latest extract, and every import.

What the practices' systems say, never edited by RxWatch (see docs/decisions/0001-clinical-store.md):

* the four canonical tables; ``medications`` and ``events`` also carry ``practice``, so that one
  practice's snapshot can be replaced without touching the others';
* ``imports``: one row per import that changed something (when, from where, which practices, how
  many rows, the content hash of the files, the RxWatch version, and for FHIR what the reader
  refused or skipped, as counts), so that a search can say what data it ran on and
  ``rxwatch imports`` can list them.

An import validates practices and patients first, in a staging database (in memory, capped and
spilling to a directory next to the store), then in one transaction deletes each of the extract's
practices and inserts its new snapshot. A CSV extract's medications and events are not staged:
each file is parsed once, checked row by row and inserted straight into the store inside that
transaction; a bad row aborts it, and the whole extract is then validated in full to name every
problem. A failed import leaves the store as it was; importing the same extract again changes
nothing (the files' content hash, computed on a thread while they are read, says so; see
docs/decisions/0010-csv-import-speed.md). DuckDB's file lock lets one process write at a time: a second writer is told the store is
in use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from rxwatch import __version__
from rxwatch.errors import RxWatchError
from rxwatch.extract.canonical import Collector, Source, _Found, load_select, q
from rxwatch.extract.load import detect_format, drop_tables, open_extract
from rxwatch.extract.schema import EVENTS, MEDICATIONS, PATIENTS, PRACTICES, TABLES, Column
from rxwatch.extract.validation import ExtractError

if TYPE_CHECKING:
    from rxwatch.extract.fhir_read import FhirReadReport

# The layout version a store must have. Adding a nullable column that every reader names explicitly
# (``imports.notes``) keeps it: older RxWatch versions write and read such a store as before, and
# ``_ensure_schema`` adds the column to an older store the first time this version imports into it.
SCHEMA_VERSION = "1"
PRACTICE = Column("practice", "VARCHAR", True, "code")  # added to medications and events
STORE_TABLES = {
    "practices": PRACTICES.ddl(),
    "patients": PATIENTS.ddl(),
    "medications": MEDICATIONS.ddl((PRACTICE,)),
    "events": EVENTS.ddl((PRACTICE,)),
    "imports": (
        "(id INTEGER PRIMARY KEY, imported_at TIMESTAMP, source VARCHAR, format VARCHAR,"
        " practices VARCHAR[], replaced VARCHAR[], practices_rows BIGINT, patients_rows BIGINT,"
        " medications_rows BIGINT, events_rows BIGINT, content_hash VARCHAR,"
        " rxwatch_version VARCHAR, notes VARCHAR[])"
    ),
    "store_meta": "(key VARCHAR PRIMARY KEY, value VARCHAR)",
}
ROW_WORDS = {
    "patients": ("patient", "patients"),
    "medications": ("medication issue", "medication issues"),
    "events": ("event", "events"),
}
SHOWN_PRACTICES = 8  # a summary line names at most this many ODS codes
HASH_SHOWN = 12  # characters of the content hash in ``rxwatch imports``: enough to tell files apart
# DuckDB's memory cap while importing: large files stream into the store, so a small cap costs no
# CPU (measured at 15M rows) and keeps a shared machine's memory free; beyond it DuckDB spills.
MEMORY_LIMIT = "1GB"


class StoreInUseError(RxWatchError):
    """Another process holds the store's lock (an import, or a search reading it)."""

    exit_code = 3


class StoreError(RxWatchError):
    """The store file cannot be opened as a clinical store."""


@dataclass(frozen=True)
class ImportRecord:
    """One import: what was read, what it replaced, and whether anything changed at all."""

    id: int
    imported_at: dt.datetime  # UTC
    source: str
    format: str
    practices: tuple[str, ...]
    rows: dict[str, int] = field(default_factory=dict)  # table name → rows in the extract
    content_hash: str = ""
    rxwatch_version: str = __version__
    replaced: tuple[str, ...] = ()  # practices whose previous snapshot this import replaced
    unchanged: bool = False  # the extract was already the current snapshot: nothing was written
    # what the FHIR reader refused or skipped, one plain-English line each: counts and reasons only
    notes: tuple[str, ...] = ()

    def _which(self) -> str:
        """The practices, as in "2 practices (A81001, A81002)": at most SHOWN_PRACTICES named."""
        n = len(self.practices)
        names = ", ".join(self.practices[:SHOWN_PRACTICES])
        if n > SHOWN_PRACTICES:
            names += f" and {n - SHOWN_PRACTICES} more"
        return f"{n:,} practice{'' if n == 1 else 's'}" + (f" ({names})" if n else "")

    def _counts(self) -> str:
        return ", ".join(
            f"{self.rows.get(t, 0):,} {one if self.rows.get(t, 0) == 1 else many}"
            for t, (one, many) in ROW_WORDS.items()
        )

    def _when(self) -> str:
        return self.imported_at.strftime("%d %b %Y %H:%M UTC")

    def summary(self) -> str:
        """One line a practice manager understands."""
        n = len(self.practices)
        which = self._which()
        if self.unchanged:
            return (
                f"Unchanged: this extract of {which} is already in the clinical store, imported"
                f" {self._when()}; nothing was replaced."
            )
        counts = self._counts()
        new = [p for p in self.practices if p not in self.replaced]
        if not n:
            tail = "nothing was replaced."
        elif not new:
            tail = "previous snapshots replaced." if n > 1 else "previous snapshot replaced."
        elif len(new) == n:
            tail = "new to the clinical store."
        else:
            tail = (
                f"previous snapshots of {', '.join(self.replaced)} replaced;"
                f" {', '.join(new)} new to the clinical store."
            )
        return f"Imported {which}: {counts}; {tail}"

    def summary_and_notes(self) -> str:
        """The summary line, then each note indented under it: what ``rxwatch import`` prints, so
        that what a FHIR extract held but the store did not take is seen, not only logged."""
        return "\n".join([self.summary(), *(f"  {note}" for note in self.notes)])

    def history_line(self) -> str:
        """One line of ``rxwatch imports``: which import, when, what it held, which files, which
        RxWatch; enough for a practice manager to match a search to the data it ran on."""
        return (
            f"Import {self.id}, {self._when()}, {self.format}: {self._which()}; {self._counts()};"
            f" content {self.content_hash[:HASH_SHOWN] or 'unknown'}; RxWatch"
            f" {self.rxwatch_version or 'unknown'}"
        )


# --- opening the store -------------------------------------------------------------------------


def _in_use(path: Path) -> StoreInUseError:
    return StoreInUseError(
        f"the clinical store {path} is in use by another RxWatch process (an import or a"
        " search); try again when it has finished"
    )


def _is_lock_error(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflict" in text or "already attached" in text


@contextmanager
def _attached(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> Iterator[None]:
    """ATTACH the store as ``store``; turn DuckDB's lock error into a clear message."""
    mode = " (READ_ONLY)" if read_only else ""
    try:
        con.execute(f"ATTACH ? AS store{mode}", [str(path)])
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            raise _in_use(path) from None
        raise StoreError(
            f"cannot open the clinical store {path}: it is not a DuckDB database, or it is damaged"
        ) from None
    try:
        yield
    finally:
        con.execute("DETACH store")


def _ensure_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    for name, ddl in STORE_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS store.{name} {ddl}")
    row = con.execute("SELECT value FROM store.store_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        con.execute("INSERT INTO store.store_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    elif row[0] != SCHEMA_VERSION:
        raise StoreError(
            f"the clinical store {path} has layout version {row[0]}; this RxWatch"
            f" ({__version__}) reads version {SCHEMA_VERSION}"
        )
    # a store made before imports kept notes (see SCHEMA_VERSION); a no-op once it has them
    con.execute("ALTER TABLE store.imports ADD COLUMN IF NOT EXISTS notes VARCHAR[]")


def connect_store(store_path: Path | str, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the store file itself, for the engine's weekly search (read-only default)."""
    path = Path(store_path)
    if read_only and not path.exists():
        raise StoreError(f"there is no clinical store at {path}: run `rxwatch import` first")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            raise _in_use(path) from None
        raise StoreError(
            f"cannot open the clinical store {path}: it is not a DuckDB database, or it is damaged"
        ) from None


# --- content hash -------------------------------------------------------------------------------


def extract_files(extract_dir: Path, fmt: str) -> list[Path]:
    """The files an import reads, sorted by name (what the content hash covers)."""
    if extract_dir.is_file():
        return [extract_dir]
    if fmt in ("csv", "parquet"):
        files = [extract_dir / f"{t.name}.{fmt}" for t in TABLES]
        return sorted((f for f in files if f.is_file()), key=lambda p: p.name)
    return sorted(
        (
            p
            for p in extract_dir.iterdir()
            if p.is_file() and p.suffix.lower() in {".ndjson", ".json"}
        ),
        key=lambda p: p.name,
    )


def content_hash(
    extract_dir: Path,
    fmt: str,
    practice: str | None = None,
    stop: threading.Event | None = None,
) -> str:
    """sha256 over each file's name, size and bytes, in name order (and ``--practice``, if given).

    ``stop``, once set, abandons the hash (``_HashStopped``): the import no longer needs it.
    """
    h = hashlib.sha256()
    for f in extract_files(extract_dir, fmt):
        h.update(f"{f.name}\0{f.stat().st_size}\0".encode())
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if stop is not None and stop.is_set():
                    raise _HashStopped
                h.update(chunk)
    if practice:
        h.update(f"practice\0{practice.upper()}".encode())
    return h.hexdigest()


class _HashStopped(Exception):
    """The import finished (or failed) before it needed the content hash."""


class _BackgroundHash:
    """The content hash, computed on a thread while the import reads the extract.

    hashlib releases the GIL, and so does DuckDB while it runs a query: the hash (seconds for a
    federation's files) costs one core alongside the import instead of time before it.
    ``result()`` waits for it; ``stop()`` abandons it.
    """

    def __init__(self, extract_dir: Path, fmt: str, practice: str | None) -> None:
        self._stop = threading.Event()
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(extract_dir, fmt, practice), name="rxwatch-hash", daemon=True
        )
        self._thread.start()

    def _run(self, extract_dir: Path, fmt: str, practice: str | None) -> None:
        try:
            self._digest = content_hash(extract_dir, fmt, practice, self._stop)
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- import -------------------------------------------------------------------------------------


def _record(row: tuple) -> ImportRecord:
    id_, at, source, fmt, practices, replaced, *counts, digest, version, notes = row
    n_pr, n_pa, n_me, n_ev = counts
    return ImportRecord(
        id=id_,
        imported_at=at.replace(tzinfo=dt.UTC),
        source=source,
        format=fmt,
        practices=tuple(practices or ()),
        rows={"practices": n_pr, "patients": n_pa, "medications": n_me, "events": n_ev},
        content_hash=digest,
        rxwatch_version=version,
        replaced=tuple(replaced or ()),
        notes=tuple(notes or ()),
    )


_COLUMNS_BEFORE_NOTES = (
    "id, imported_at, source, format, practices, replaced, practices_rows, patients_rows,"
    " medications_rows, events_rows, content_hash, rxwatch_version"
)
_IMPORT_COLUMNS = _COLUMNS_BEFORE_NOTES + ", notes"


def _store_counts(con: duckdb.DuckDBPyConnection, practices: list[str]) -> dict[str, int]:
    out = {}
    for t in TABLES:
        key = "ods_code" if t.name == "practices" else "practice"
        row = con.execute(
            f"SELECT count(*) FROM store.{t.name} WHERE {key} IN (SELECT unnest(?))", [practices]
        ).fetchone()
        out[t.name] = int(row[0]) if row else 0
    return out


def _already_current(con: duckdb.DuckDBPyConnection, digest: str) -> ImportRecord | None:
    """The import that stored these very files, if each of its practices still holds that snapshot."""
    row = con.execute(
        f"SELECT {_IMPORT_COLUMNS} FROM store.imports WHERE content_hash = ? ORDER BY id DESC"
        " LIMIT 1",
        [digest],
    ).fetchone()
    if row is None:
        return None
    rec = _record(row)
    later = con.execute(
        "SELECT count(*) FROM store.imports WHERE id > ? AND len(list_intersect(practices, ?)) > 0",
        [rec.id, list(rec.practices)],
    ).fetchone()
    if later and later[0]:
        return None
    if _store_counts(con, list(rec.practices)) != rec.rows:
        return None
    return ImportRecord(**{**rec.__dict__, "unchanged": True})


def _has_imports(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM store.imports)").fetchone()[0])  # type: ignore[index]


def _may_be_unchanged(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether an earlier import could have read these very files, judged without their hash.

    The same files stage the same practices and the same number of patients; when no import
    ever stored that, the extract cannot be unchanged and the import need not wait for the hash.
    """
    practices = [r[0] for r in con.execute("SELECT ods_code FROM practices").fetchall()]
    row = con.execute("SELECT count(*) FROM patients").fetchone()
    found = con.execute(
        "SELECT count(*) FROM store.imports WHERE practices_rows = ? AND patients_rows = ?"
        " AND list_sort(practices) = list_sort(?::VARCHAR[])",
        [len(practices), int(row[0]) if row else 0, practices],
    ).fetchone()
    return bool(found and found[0])


def _check_ids_free(
    con: duckdb.DuckDBPyConnection, extract_dir: Path, fmt: str, practices: list[str]
) -> None:
    """A patient_id held by another practice's snapshot would make two people one: refuse it."""
    clash = con.execute(
        "SELECT count(*) FROM patients n JOIN store.patients s ON s.patient_id = n.patient_id"
        " WHERE s.practice NOT IN (SELECT unnest(?))",
        [practices],
    ).fetchone()
    if not clash or not clash[0]:
        return
    if fmt == "fhir":
        src = Source(
            PATIENTS, f"{extract_dir.name} [patients]", None, "", "patients", "rowid", set()
        )
    else:
        unit = "line" if fmt == "csv" else "row"
        path = extract_dir / f"patients.{fmt}"
        present = set(PATIENTS.column_names)
        src = Source(PATIENTS, path.name, path, unit, "patients", "rowid", present)
    found = Collector()
    rows = con.execute(
        "SELECT n.rowid, n.patient_id, s.practice FROM patients n"
        " JOIN store.patients s ON s.patient_id = n.patient_id"
        " WHERE s.practice NOT IN (SELECT unnest(?)) ORDER BY 1 LIMIT 51",
        [practices],
    ).fetchall()
    for idx, patient_id, other in rows:
        found.add(
            _Found(
                src,
                int(idx),
                None,
                "patient_id",
                patient_id,
                f"this patient_id already belongs to practice {other} in the clinical store",
            )
        )
    found.raise_if_any(con)


class _FastPathFailed(Exception):
    """The straight-to-store load met a row it will not take: roll back, validate in full."""


def _replace(
    con: duckdb.DuckDBPyConnection,
    practices: list[str],
    rec: ImportRecord,
    digest: Callable[[], str],
    direct: dict[str, tuple[str, list]] | None = None,
) -> ImportRecord:
    """Delete each of the extract's practices and insert its new snapshot: one transaction.

    ``direct`` maps a table to a SELECT that reads its file straight into the store, raising at the
    first bad row (``load_select``); its rows' ``practice`` comes from the staged patients in the
    same join that checks every row names a known patient. Without it, staged tables are copied.
    ``digest()`` gives the content hash, asked for only when the ``imports`` row is written.
    """
    if direct is not None:
        # A file's row count is unknown to the planner, which then builds the join's hash table
        # from the file (tens of millions of rows, spilling to disk) and probes it with the
        # patients. Kept as written, the staged patients are the hash table and the file streams
        # past it into the store. (A setting, not part of the transaction: reset after it.)
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    con.execute("BEGIN TRANSACTION")
    try:
        for t in ("events", "medications", "patients"):
            con.execute(f"DELETE FROM store.{t} WHERE practice IN (SELECT unnest(?))", [practices])
        con.execute("DELETE FROM store.practices WHERE ods_code IN (SELECT unnest(?))", [practices])
        for t in (PRACTICES, PATIENTS):
            cols = ", ".join(q(c) for c in t.column_names)
            con.execute(f"INSERT INTO store.{t.name} ({cols}) SELECT {cols} FROM {t.name}")
        rows = dict(rec.rows)
        for t in (MEDICATIONS, EVENTS):
            cols = ", ".join(q(c) for c in t.column_names)
            src = ", ".join(f"x.{q(c)}" for c in t.column_names)
            if direct is None:
                con.execute(
                    f"INSERT INTO store.{t.name} ({cols}, practice) SELECT {src}, p.practice"
                    f" FROM {t.name} x JOIN patients p ON p.patient_id = x.patient_id"
                )
                continue
            select, params = direct[t.name]
            try:
                n = con.execute(
                    f"INSERT INTO store.{t.name} ({cols}, practice) SELECT {src}, CASE WHEN"
                    " p.practice IS NULL AND x.patient_id IS NOT NULL THEN"
                    " error('rxwatch: unknown patient') ELSE p.practice END"
                    f" FROM ({select}) x LEFT JOIN patients p ON p.patient_id = x.patient_id",
                    params,
                ).fetchone()
            except duckdb.TransactionException:
                raise
            except duckdb.Error as exc:
                raise _FastPathFailed from exc
            rows[t.name] = int(n[0]) if n else 0
        rec = dataclasses.replace(rec, rows=rows, content_hash=digest())
        con.execute(
            f"INSERT INTO store.imports ({_IMPORT_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                rec.id,
                rec.imported_at.replace(tzinfo=None),
                rec.source,
                rec.format,
                list(rec.practices),
                list(rec.replaced),
                *(rec.rows[t.name] for t in TABLES),
                rec.content_hash,
                rec.rxwatch_version,
                list(rec.notes),
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        if direct is not None:
            con.execute("RESET disabled_optimizers")
    return rec


def _direct_selects(extract_dir: Path, fmt: str) -> dict[str, tuple[str, list]] | None:
    """The straight-to-store SELECTs of medications and events, when the format allows them."""
    if fmt != "csv" or not extract_dir.is_dir():
        return None
    out = {}
    for t in (MEDICATIONS, EVENTS):
        sel = load_select(extract_dir / f"{t.name}.{fmt}", t, fmt)
        if sel is None:
            return None
        out[t.name] = sel
    return out


def _store(
    con: duckdb.DuckDBPyConnection,
    store_path: Path,
    extract_dir: Path,
    fmt: str,
    digest: Callable[[], str],
    direct: dict[str, tuple[str, list]] | None,
    notes: tuple[str, ...] = (),
) -> ImportRecord:
    """Check the staged extract against the store, then replace its practices' snapshots."""
    practices = [r[0] for r in con.execute("SELECT ods_code FROM practices ORDER BY 1").fetchall()]
    try:
        _check_ids_free(con, extract_dir, fmt, practices)
    except ExtractError:
        if direct is not None:  # problems inside the unread files are reported first
            raise _FastPathFailed from None
        raise
    replaced = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT ods_code FROM store.practices"
            " WHERE ods_code IN (SELECT unnest(?)) ORDER BY 1",
            [practices],
        ).fetchall()
    ]
    staged = (PRACTICES, PATIENTS) if direct else TABLES
    rows = {
        t.name: int(con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0])  # type: ignore[index]
        for t in staged
    }
    next_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM store.imports")
    rec = ImportRecord(
        id=int(next_id.fetchone()[0]),  # type: ignore[index]
        imported_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        source=str(extract_dir.resolve()),
        format=fmt,
        practices=tuple(practices),
        rows=rows,
        replaced=tuple(replaced),
        notes=notes,
    )
    try:
        return _replace(con, practices, rec, digest, direct)
    except duckdb.TransactionException:
        raise _in_use(store_path) from None


def import_extract(
    store_path: Path | str, extract_dir: Path | str, *, practice: str | None = None
) -> ImportRecord:
    """Validate an extract and replace its practices' snapshots in the store, atomically.

    Raises ExtractError (nothing stored) for a bad extract, StoreInUseError when another process
    holds the store. Returns the import's record; ``unchanged`` when the same files were already
    the current snapshot (then nothing at all is written, not even an ``imports`` row).
    """
    store_path, extract_dir = Path(store_path), Path(extract_dir)
    fmt = detect_format(extract_dir)
    digest = _BackgroundHash(extract_dir, fmt, practice)
    try:
        return _import(store_path, extract_dir, fmt, practice, digest)
    finally:
        digest.stop()


def _import(
    store_path: Path, extract_dir: Path, fmt: str, practice: str | None, digest: _BackgroundHash
) -> ImportRecord:
    """``import_extract`` once the content hash is under way."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store_path.parent, prefix=".rxwatch-import-") as tmp:
        # Staging in memory is ~40% cheaper than a staging file; DuckDB spills to ``tmp`` (on the
        # store's disk) when an extract does not fit, so memory stays bounded either way.
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute("SET temp_directory = ?", [str(Path(tmp) / "spill")])
            # Anything beyond the cap spills to ``tmp``.
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            with _attached(con, store_path, read_only=False):
                _ensure_schema(con, store_path)
                # CSV: stage only practices and patients; the large files go straight into the
                # store in the replacing transaction, each parsed once and never copied.
                direct = _direct_selects(extract_dir, fmt)
                small = (PRACTICES, PATIENTS) if direct else TABLES
                # the FHIR reader's refusals and skips, kept as the import's notes
                reports: list[FhirReadReport] = []
                try:
                    open_extract(
                        extract_dir,
                        practice=practice,
                        con=con,
                        tables=small,
                        on_fhir_report=reports.append,
                    )
                except ExtractError:
                    # files an earlier import stored as they are stay "unchanged", as they always
                    # have (a newer RxWatch may check more): only then is the hash waited for
                    if _has_imports(con):
                        current = _already_current(con, digest.result())
                        if current is not None:
                            return current
                    if not direct:
                        raise
                    direct = None  # the full validation lists every problem in every file
                    open_extract(extract_dir, practice=practice, con=con)
                # Staging ran alongside the hash. Only files an earlier import could have stored
                # need it now; otherwise it is waited for just before the ``imports`` row.
                if _may_be_unchanged(con):
                    current = _already_current(con, digest.result())
                    if current is not None:
                        return current
                notes = reports[-1].import_notes() if reports else ()
                try:
                    return _store(con, store_path, extract_dir, fmt, digest.result, direct, notes)
                except _FastPathFailed:
                    drop_tables(con)
                    open_extract(extract_dir, practice=practice, con=con)  # names the problems
                    return _store(con, store_path, extract_dir, fmt, digest.result, None)
        finally:
            con.close()


def list_imports(store_path: Path | str) -> list[ImportRecord]:
    """Every import that changed the store, oldest first: what data a search ran on."""
    path = Path(store_path)
    if not path.exists():
        return []
    con = connect_store(path, read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'imports'"
        ).fetchone()
        if not exists or not exists[0]:
            return []
        has_notes = con.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'imports' AND column_name = 'notes'"
        ).fetchone()
        columns = _IMPORT_COLUMNS
        if not has_notes or not has_notes[0]:  # an older store, read as it is (read-only here)
            columns = _COLUMNS_BEFORE_NOTES + ", NULL AS notes"
        rows = con.execute(f"SELECT {columns} FROM imports ORDER BY id").fetchall()
        return [_record(r) for r in rows]
    finally:
        con.close()


def describe_imports(store_path: Path | str) -> str:
    """``rxwatch imports``: every import that changed the store, newest first, one line each (a
    clear sentence when there are none). Practices, counts and hashes only: no patient data."""
    path = Path(store_path)
    if not path.exists():
        return (
            f"There is no clinical store at {path}: nothing has been imported yet"
            " (`rxwatch import EXTRACT_DIR` makes one)."
        )
    records = list_imports(path)
    if not records:
        return f"The clinical store {path} holds no imports yet: nothing has been imported into it."
    n = len(records)
    head = f"{n:,} import{'' if n == 1 else 's'} changed the clinical store {path}, newest first:"
    return "\n".join([head, *(rec.history_line() for rec in reversed(records))])


def current_practices(store_path: Path | str) -> dict[str, ImportRecord]:
    """Each practice in the store → the import its current snapshot came from."""
    out: dict[str, ImportRecord] = {}
    for rec in list_imports(store_path):
        for p in rec.practices:
            out[p] = rec
    return out
