"""DuckDB and PySpark give identical searches (results with reasons, indicators, specialist list)."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.spec.population import T
from tests.engine.spec.random_population import random_tables
from tests.engine.spec.runner import Backend, make_backend

from rxwatch.engine.api import SearchResult
from rxwatch.rules.catalogue import Catalogue

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # each PySpark search takes minutes


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> tuple[Backend, Backend]:
    return make_backend("duckdb", request), make_backend("pyspark", request)


def rows(table: pa.Table) -> list[dict]:
    """Every row, in a canonical order, floats to 9 places (the two engines sum differently)."""
    out = []
    for r in table.to_pylist():
        out.append({k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()})
    return sorted(out, key=lambda r: tuple(str(v) for v in r.values()))


def assert_same(a: SearchResult, b: SearchResult) -> None:
    assert a.results.column_names == b.results.column_names
    assert rows(a.results) == rows(b.results)
    assert rows(a.indicators) == rows(b.indicators)
    assert rows(a.specialist_monitored) == rows(b.specialist_monitored)


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rnd=st.randoms(use_true_random=False), n=st.integers(min_value=20, max_value=80))
def test_duckdb_and_pyspark_agree(
    rnd: random.Random, n: int, both: tuple[Backend, Backend], spec_catalogue: Catalogue
) -> None:
    tables = random_tables(rnd, n, spec_catalogue)
    duck, spark = both
    assert_same(
        duck.search(tables, as_of=T, catalogue=spec_catalogue),
        spark.search(tables, as_of=T, catalogue=spec_catalogue),
    )
