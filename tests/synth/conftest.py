"""One small synthetic extract per test session (20k patients, 3 practices), shared by the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_checks import AS_OF

from rxwatch.rules.codelists import load_codelists
from rxwatch.synth.population import generate

N = 20_000


@pytest.fixture(scope="session")
def codelists():
    return load_codelists()


@pytest.fixture(scope="session")
def extract(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "csv"
    generate(out=out, patients=N, practices=3, seed=7, fmt="csv", as_of=AS_OF)
    return out


@pytest.fixture(scope="session")
def con(extract, codelists):
    from synth_checks import connect

    return connect(extract, codelists)
