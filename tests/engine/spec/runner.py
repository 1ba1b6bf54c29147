"""Getting canonical tables onto a search backend and running the engine there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

from rxwatch.engine.api import SearchResult
from rxwatch.rules.catalogue import Catalogue


def duckdb_holding(tables: Mapping[str, pa.Table]) -> Any:
    """A fresh in-memory DuckDB connection with the canonical tables in it."""
    import duckdb

    con = duckdb.connect()
    for name, table in tables.items():
        con.register("_arrow_in", table)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _arrow_in')
        con.unregister("_arrow_in")
    return con


@dataclass
class Backend:
    """A search backend: ``connect`` puts canonical tables on it, ``search`` runs the engine."""

    name: str
    connect: Callable[[Mapping[str, pa.Table]], Any]

    def search(
        self, tables: Mapping[str, pa.Table], *, as_of: dt.date, catalogue: Catalogue
    ) -> SearchResult:
        from rxwatch.engine.search import run_search

        return run_search(self.connect(tables), as_of=as_of, catalogue=catalogue)


def make_backend(name: str, request: pytest.FixtureRequest) -> Backend:
    """The tables go through ``rxwatch.engine.backends.connect``, as the CLI's do."""
    from rxwatch.engine.backends import connect

    if name == "duckdb":
        return Backend(
            "duckdb", lambda tables: connect("duckdb", duckdb_con=duckdb_holding(tables))
        )
    spark = request.getfixturevalue("spark_session")
    return Backend(
        "pyspark",
        lambda tables: connect("pyspark", duckdb_con=duckdb_holding(tables), spark_session=spark),
    )
