"""The shared facts: values in rank space (ADR 0011), code classes (ADR 0012), and whose facts are
computed for whom (ADR 0015)."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

import ibis
import pyarrow as pa
import pytest
from tests.engine.fixtures.extract import Extract, T, fixture_catalogue

from rxwatch.engine.facts import Classes, Facts, code_classes, gather_needs, narrowed, shared_facts
from rxwatch.engine.monitoring import treated_all
from rxwatch.rules.catalogue import load_catalogue

VALUES = [-1.5, 0.0, 2.0, 2.5, 48.0, 120.0]  # the distinct values of a search, sorted: rank = index
THRESHOLDS = [-2.0, -1.5, 0.0, 1.0, 2.0, 2.25, 48.0, 47.999, 120.0, 500.0]


def facts() -> Facts:
    return Facts(
        as_of=dt.date(2026, 1, 1),
        pop=None,  # type: ignore[arg-type]
        issues=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
        held=frozenset(),
        event_rows=None,  # type: ignore[arg-type]
        values=None,  # type: ignore[arg-type]
        ranks=None,  # type: ignore[arg-type]
        rank_values=VALUES,
        flags=None,  # type: ignore[arg-type]
        drug_classes=Classes(of={}, codes={}),
        event_classes=Classes(of={}, codes={}),
        value_specs={},
        co_prescribed=[],
        repeated=[],
    )


@pytest.mark.parametrize(("op", "threshold"), itertools.product(["<", "<=", ">", ">="], THRESHOLDS))
def test_meets_in_rank_space_is_meets_in_value_space(op: str, threshold: float) -> None:
    f = facts()
    con = ibis.duckdb.connect()
    t = ibis.memtable({"rank": [*range(len(VALUES)), None]}, schema={"rank": "int64"})
    got = con.to_pyarrow(t.select(m=f.meets(t["rank"], op, threshold)))["m"].to_pylist()
    want = [{"<": v < threshold, "<=": v <= threshold, ">": v > threshold,
             ">=": v >= threshold}[op] for v in VALUES]  # fmt: skip
    assert got == [*want, None]  # no value: no verdict (the search fills it as "not breached")


def test_value_of_turns_ranks_back_into_values() -> None:
    ranks = pa.chunked_array([[4, None, 0], [5]], pa.int64())
    assert facts().value_of(ranks).to_pylist() == [48.0, None, -1.5, 120.0]


def _lists(**codes: set[str]) -> SimpleNamespace:
    """A stand-in catalogue: only ``codelists[name].codes`` is read."""
    return SimpleNamespace(codelists={n: SimpleNamespace(codes=c) for n, c in codes.items()})


def test_code_classes_group_codes_by_the_lists_they_are_in() -> None:
    # fbc holds wbc's two codes and one of its own; platelets shares nothing; empty has no codes
    cat = _lists(fbc={"1", "2", "3"}, wbc={"1", "2"}, platelets={"4"}, empty=set())
    c = code_classes(["fbc", "wbc", "platelets", "empty"], cat)  # type: ignore[arg-type]
    assert c.codes["1"] == c.codes["2"]  # same lists (fbc, wbc): one class
    assert len({c.codes["1"], c.codes["3"], c.codes["4"]}) == 3
    assert c.of["wbc"] == (c.codes["1"],)
    assert set(c.of["fbc"]) == {c.codes["1"], c.codes["3"]}  # read pooled over two classes
    assert c.of["empty"] == ()
    assert c.keys(["wbc", "platelets"]) == sorted({c.codes["1"], c.codes["4"]})


def test_each_shipped_list_is_exactly_the_union_of_its_classes() -> None:
    cat = load_catalogue()
    names = sorted(gather_needs(cat).events)
    c = code_classes(names, cat)
    members: dict[int, set[str]] = {}
    for code, k in c.codes.items():
        members.setdefault(k, set()).add(code)
    for name in names:
        got = set().union(*(members[k] for k in c.of[name])) if c.of[name] else set()
        assert got == set(cat.codelists[name].codes), name
    for codes in members.values():  # a class's codes are in exactly the same lists
        assert len({frozenset(n for n in names if x in cat.codelists[n].codes) for x in codes}) == 1


def test_everyones_facts_are_of_what_is_read_across_everyone() -> None:
    """A monitoring test's codelists are read for its rule's patients only; what the alerts and
    the exclusions read is read for everyone (ADR 0015)."""
    needs = gather_needs(fixture_catalogue())
    assert {"fbc", "platelets", "renal", "creatinine", "weight"} <= needs.events - needs.everyone
    assert {"hba1c", "diabetes", "egfr", "ckd", "secondary-care-monitoring"} <= needs.everyone


def test_a_read_of_facts_not_computed_for_everyone_is_an_error() -> None:
    """Everyone's facts lack the monitoring-only codelists: reading one there must fail loudly,
    never answer "no events" (HAZ-005). The rules' patients' facts hold every codelist."""
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5).event("p", "fbc", 10)
    x.patient("q").event("q", "fbc", 10).event("q", "diabetes", 400)
    cat = fixture_catalogue()
    with shared_facts(x.ibis(), as_of=T, catalogue=cat) as f:
        with pytest.raises(RuntimeError, match="'fbc'"):
            f.dated(["fbc"])
        with pytest.raises(RuntimeError, match="'platelets'"):
            f.value(["platelets"])
        assert f.dated(["diabetes"]).to_pyarrow()["patient_id"].to_pylist() == ["q"]
        monitoring = [r for r in cat.rules if r.kind == "monitoring"]
        with narrowed(f, treated_all(monitoring, f)) as near:
            assert near.dated(["fbc"]).to_pyarrow()["patient_id"].to_pylist() == ["p"]
