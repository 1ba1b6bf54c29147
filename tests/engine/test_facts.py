"""Values in rank space (ADR 0011): a threshold compared as ranks says what comparing values says."""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import pyarrow as pa
import pytest

from rxwatch.engine.facts import Classes, Facts

VALUES = [-1.5, 0.0, 2.0, 2.5, 48.0, 120.0]  # the distinct values of a search, sorted: rank = index
THRESHOLDS = [-2.0, -1.5, 0.0, 1.0, 2.0, 2.25, 48.0, 47.999, 120.0, 500.0]


def facts() -> Facts:
    return Facts(
        as_of=dt.date(2026, 1, 1),
        pop=None,  # type: ignore[arg-type]
        issues=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
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
