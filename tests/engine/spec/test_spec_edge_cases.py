"""Populations at the edges: nothing at all, and a single patient whose only row lacks a value.

As-of date T = 2026-11-23. Each test runs its own small search on each backend.
"""

from __future__ import annotations

from dataclasses import replace

from tests.engine.spec.harness import Case, Outcome, check_case, drugs_of, kinds_of, overdue
from tests.engine.spec.population import P, T, build_tables, practice_of
from tests.engine.spec.runner import Backend

from rxwatch.rules.catalogue import Catalogue


def run(backend: Backend, catalogue: Catalogue, patients: list[P], rules: tuple[str, ...] = ()):
    selected = catalogue.select(rules) if rules else catalogue
    result = backend.search(build_tables(patients, catalogue), as_of=T, catalogue=selected)
    return Outcome.build(result, practice_of(patients), kinds_of(selected), drugs_of(selected))


def test_empty_extract(backend: Backend, spec_catalogue: Catalogue) -> None:
    """No patients: no rows, no indicator with a denominator, nobody specialist-monitored."""
    out = run(backend, spec_catalogue, [])
    assert out.result.results.num_rows == 0
    assert all(den == 0 for _, den in out.indicators.values())
    assert out.result.specialist_monitored.num_rows == 0


def test_only_doac_patient_has_no_weight(backend: Backend, spec_catalogue: Catalogue) -> None:
    """The search's only DOAC renal row has no CrCl (no weight): 122 days, and the reason says so.

    Male 70, creatinine 80 on 2026-07-24 (T − 122), no weight ever → interval 122 → due today.
    """
    patient = P(
        "doac_alone_no_weight",
        age=70,
        sex="M",
        issues={"doac": ["2025-06-02", "2026-11-02"]},
        events={
            "creatinine": [("2026-07-24", 80)],
            "fbc": ["2026-10-01"],
            "lft": ["2026-10-01"],
        },
    )
    out = run(backend, spec_catalogue, [patient], ("doac",))
    row = replace(
        overdue("2026-07-24", due="2026-11-23", days=0), reason_has=("could not be computed",)
    )
    check_case(out, Case(patient, {"doac.renal": row}))


def test_reproducible_and_sorted(backend: Backend, spec_catalogue: Catalogue) -> None:
    """The same extract and T give the same results (reasons included), sorted as api.py fixes."""
    import random

    from tests.engine.spec.random_population import random_tables

    # rules whose "latest" has to break ties (values sharing a date, CrCl, latest eGFR, pairs)
    rules = spec_catalogue.select(
        ["methotrexate", "doac", "lithium", "pincer.gi_p3e", "pincer.ki_p3k", "missed_dx.ckd"]
    )
    tables = random_tables(random.Random(7), 60, spec_catalogue)
    first = backend.search(tables, as_of=T, catalogue=rules)
    second = backend.search(tables, as_of=T, catalogue=rules)
    assert first.results.to_pylist() == second.results.to_pylist()
    assert first.indicators.to_pylist() == second.indicators.to_pylist()
    assert first.specialist_monitored.to_pylist() == second.specialist_monitored.to_pylist()
    keys = [(r["practice"], r["patient_id"], r["rule_id"]) for r in first.results.to_pylist()]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    ind = [(r["practice"], r["indicator_id"]) for r in first.indicators.to_pylist()]
    assert ind == sorted(ind) and len(ind) == len(set(ind))
