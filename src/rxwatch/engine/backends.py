"""Where a search runs: an Ibis backend holding the four canonical tables.

The rule code path is the same for every backend; only getting the tables there differs:

* DuckDB (default): wrap an open DuckDB connection (an extract just read, or the clinical store opened
  read-only).
* PySpark: the tables become temporary views in a SparkSession, a local one or a cluster's
  (``RXWATCH_SPARK_MASTER``, e.g. ``spark://host:7077``, or ``RXWATCH_SPARK_REMOTE`` for Spark Connect,
  e.g. ``sc://host:15002``).
* PostgreSQL: ``ibis.postgres`` from a URL (``RXWATCH_POSTGRES_URL``); tables copied as temporary tables.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

# Ibis imports pandas (0.2 s) at the first ``ibis.memtable``, which every search makes: imported
# here, with Ibis, it is part of starting up, not of the first search.
import pandas  # noqa: F401
import pyarrow as pa

from rxwatch.errors import RxWatchError
from rxwatch.extract.schema import TABLES

log = logging.getLogger(__name__)

BACKENDS = ("duckdb", "pyspark", "postgres")


class BackendError(RxWatchError):
    """A backend that cannot be reached or is not installed."""


def canonical_arrow(duckdb_con: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
    """One canonical table from DuckDB, only its canonical columns (a store's extra ``practice``
    column on medications and events is left behind)."""
    table = next(t for t in TABLES if t.name == name)
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    return duckdb_con.execute(f'SELECT {cols} FROM "{name}"').to_arrow_table()


def spark_from_settings(app_name: str = "rxwatch-search") -> Any:
    """A SparkSession from the settings: Spark Connect, a cluster master, or local on all cores."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendError("the pyspark backend needs: pip install 'rxwatch[spark]'") from exc
    builder = SparkSession.builder.appName(app_name)
    if remote := os.environ.get("RXWATCH_SPARK_REMOTE"):
        return builder.remote(remote).getOrCreate()
    master = os.environ.get("RXWATCH_SPARK_MASTER", "local[*]")
    return (
        builder.master(master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("RXWATCH_SPARK_PARTITIONS", "8"))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def put_on_spark(session: Any, duckdb_con: duckdb.DuckDBPyConnection) -> None:
    """Register the canonical tables of a DuckDB connection as temporary views in ``session``."""
    for t in TABLES:
        df = session.createDataFrame(canonical_arrow(duckdb_con, t.name))
        df.createOrReplaceTempView(t.name)


def put_parquet_on_spark(session: Any, directory: Path) -> None:
    """Register ``<directory>/<table>.parquet`` (file or folder) as temporary views: the way to hand a
    large extract to a cluster without passing it through the driver."""
    for t in TABLES:
        df = session.read.parquet(str(Path(directory) / f"{t.name}.parquet"))
        df.select(*t.column_names).createOrReplaceTempView(t.name)


def put_on_backend(con: ibis.BaseBackend, duckdb_con: duckdb.DuckDBPyConnection) -> None:
    """Copy the canonical tables onto any Ibis backend as temporary tables (PostgreSQL)."""
    for t in TABLES:
        # a new session has no temporary tables to replace (and Ibis 12 under sqlglot ≥ 30 renders
        # the DROP of ``overwrite=True`` without its name)
        con.create_table(t.name, canonical_arrow(duckdb_con, t.name), temp=True)


def connect(
    backend: str = "duckdb",
    *,
    duckdb_con: duckdb.DuckDBPyConnection | None = None,
    spark_session: Any = None,
    store: Path | str | None = None,
    url: str | None = None,
) -> ibis.BaseBackend:
    """An Ibis backend with the tables ``practices``, ``patients``, ``medications``, ``events``.

    ``duckdb_con`` is where the canonical tables are now (an extract just read); for DuckDB it is
    wrapped as it is, for the others its tables are copied over. ``store`` opens the clinical store
    read-only instead.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if duckdb_con is None and store is not None:
        path = Path(store)
        if not path.exists():
            raise BackendError(f"{path}: no clinical store here (run `rxwatch import` first)")
        duckdb_con = duckdb.connect(str(path), read_only=True)
    if backend == "duckdb":
        if duckdb_con is None:
            return ibis.duckdb.connect()
        return ibis.duckdb.from_connection(duckdb_con)
    if backend == "pyspark":
        session = spark_session or spark_from_settings()
        con = ibis.pyspark.connect(session)
        if duckdb_con is not None:
            put_on_spark(session, duckdb_con)
        return con
    url = url or os.environ.get("RXWATCH_POSTGRES_URL")
    if not url:
        raise BackendError("the postgres backend needs a URL (RXWATCH_POSTGRES_URL)")
    try:
        con = ibis.connect(url)
    except Exception as exc:  # the driver's own error says why (host, credentials, database)
        raise BackendError(f"cannot connect to PostgreSQL: {exc}") from exc
    if duckdb_con is not None:
        put_on_backend(con, duckdb_con)
    return con


@contextmanager
def cached(table: ir.Table) -> Iterator[ir.Table]:
    """``table`` computed once on its backend (a temporary table, or a cached Spark DataFrame) for
    the duration of the block, then released.

    Ibis 12 renders ``DROP TABLE`` without its name under sqlglot ≥ 30, so a failed release falls back
    to dropping the temporary table by hand.
    """
    # Register in-memory tables (the codelist memberships) first: PySpark's cache compiles the
    # query without doing so.
    backend = table._find_backend()
    register = getattr(backend, "_run_pre_execute_hooks", None)
    if register is not None:
        register(table)
    if backend.name == "pyspark":
        with _spark_checkpointed(backend, table) as c:
            yield c
        return
    c = table.cache()
    try:
        yield c
    finally:
        name = c.op().name
        try:
            c.release()
        except Exception:
            con = c._find_backend()
            raw = getattr(con, "raw_sql", None)
            if raw is None:  # pragma: no cover - every SQL backend has raw_sql
                raise
            raw(f'DROP TABLE IF EXISTS "{name}"')  # DuckDB returns the connection: keep it open


@contextmanager
def _spark_checkpointed(con: Any, table: ir.Table) -> Iterator[ir.Table]:
    """A Spark table computed once and cut from its lineage (``localCheckpoint``).

    Ibis caches a Spark table as a view of its whole query: every later reference carries that
    plan, and Spark's analyser renews each repeated copy (DeduplicateRelations), so a rule that read
    the shared facts a few times took 10–20 s to plan, and the catalogue minutes. A checkpointed
    table is a leaf: its references are cheap to plan.
    """
    name = f"rxwatch_facts_{uuid.uuid4().hex}"
    session = con._session  # Ibis keeps the SparkSession here; the backend has no public accessor
    df = session.sql(con.compile(table)).localCheckpoint(eager=True)
    df.createOrReplaceTempView(name)
    try:
        yield con.table(name)
    finally:
        session.catalog.dropTempView(name)
        df.unpersist()
