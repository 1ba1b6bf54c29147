"""Shared fixtures: the shipped catalogue, one local Spark session per run, and the search backends.

``backend`` is parametrised over DuckDB and PySpark (the PySpark cases carry
``@pytest.mark.spark``; ``-m "not spark"`` runs DuckDB only). Spark start-up costs ~25 s, so the
session is created once, lazily, the first time a PySpark case needs it, and skipped with a reason
when Java is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests.engine.spec.* and tests.engine.reference import as modules
    sys.path.insert(0, str(ROOT))

from tests.engine.spec.runner import Backend, make_backend  # noqa: E402

from rxwatch.rules.catalogue import Catalogue, load_catalogue  # noqa: E402

BACKENDS = ("duckdb", "pyspark")


SPEC_CODELISTS = ROOT / "tests" / "engine" / "spec" / "codelists"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The shipped rules and codelists."""
    return load_catalogue()


@pytest.fixture(scope="session")
def spec_catalogue() -> Catalogue:
    """The shipped rules and codelists plus an organisation's ``secondary-care-monitoring`` and
    ``valproate-ppp`` lists (``--codelists``), which the catalogue's Common meaning relies on and
    RxWatch does not ship (tests/engine/spec/codelists/README.md)."""
    return load_catalogue(codelists_dir=SPEC_CODELISTS)


def _java_available() -> bool:
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session for the whole run (local[2], UTC, small shuffles, no UI)."""
    if not _java_available():
        pytest.skip("PySpark needs Java (openjdk-17-jre-headless); none found on PATH or JAVA_HOME")
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("rxwatch-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(
    scope="session",
    params=[pytest.param("duckdb"), pytest.param("pyspark", marks=pytest.mark.spark)],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each search backend in turn (PySpark cases are marked ``spark``)."""
    return make_backend(request.param, request)


@pytest.fixture(scope="session")
def spec_search(backend: Backend, spec_catalogue: Catalogue):
    """One search per backend over the named patients of every spec module together (Spark pays a
    large cost per search). Each patient has a practice of their own (or a module's indicator
    practice), so modules do not see each other in their checks."""
    from tests.engine.spec.harness import (
        SPEC_MODULES,
        Outcome,
        drugs_of,
        kinds_of,
        named_patients,
        spec_module,
    )
    from tests.engine.spec.population import T, build_tables, practice_of

    patients, rules = [], []
    for name in SPEC_MODULES:
        mod = spec_module(name)
        patients += named_patients(mod)
        rules += [r for r in mod.RULES if r not in rules]
    selected = spec_catalogue.select(rules)
    missing = sorted(set(rules) - {r.id for r in selected.rules})
    assert not missing, f"rules {missing} are not in the shipped catalogue"
    result = backend.search(build_tables(patients, spec_catalogue), as_of=T, catalogue=selected)
    return Outcome.build(result, practice_of(patients), kinds_of(selected), drugs_of(selected))


@pytest.fixture(scope="module")
def spec(request: pytest.FixtureRequest, spec_search):
    """The shared search, seen through one spec module: its ``RULES`` are the rule_ids checked."""
    import dataclasses

    wanted = set(request.module.RULES)
    kind = {
        rid: k
        for rid, k in spec_search.kind.items()
        if rid in wanted or rid.split(".")[0] in wanted
    }
    return dataclasses.replace(spec_search, rule_ids=tuple(kind), kind=kind)
