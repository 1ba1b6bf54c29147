"""The same search on PostgreSQL as on DuckDB: the same three files, byte for byte.

PostgreSQL needs a server, so this runs only where ``RXWATCH_TEST_POSTGRES_URL`` names a database
it may fill with temporary tables (for example ``postgres://postgres@localhost:5432/rx``) and the
``postgres`` extra is installed. ``make test`` starts no server, so it skips there; ADR 0012 says how
it was last run.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from rxwatch.engine.search import search_extract
from rxwatch.synth.population import generate

URL = os.environ.get("RXWATCH_TEST_POSTGRES_URL")
AS_OF = dt.date(2026, 11, 23)


@pytest.mark.skipif(not URL, reason="RXWATCH_TEST_POSTGRES_URL is not set: no PostgreSQL server")
def test_postgres_gives_duckdbs_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    monkeypatch.setenv("RXWATCH_POSTGRES_URL", URL or "")
    extract = tmp_path / "extract"
    generate(out=extract, patients=3000, practices=3, seed=11, fmt="csv", as_of=AS_OF)
    files = ("results.csv", "indicators.csv", "specialist_monitored.csv")
    out = {}
    for backend in ("duckdb", "postgres"):
        search_extract(extract, as_of=AS_OF, out=tmp_path / backend, backend=backend)
        out[backend] = {f: (tmp_path / backend / f).read_bytes() for f in files}
    assert out["duckdb"]["results.csv"].count(b"\n") > 10  # the population flags someone
    assert out["postgres"] == out["duckdb"]
