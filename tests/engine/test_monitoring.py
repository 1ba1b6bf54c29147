"""The rules' small tables (monitoring.tabled_rows) never carry a null to the backend."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rxwatch.engine.monitoring import _memtable


def test_rules_tables_refuse_nulls() -> None:
    # Ibis 12 on PySpark turns an integer column holding a null into all nulls: a phase interval
    # would vanish on Spark only. The tables use 0 and NEVER instead, and a null is refused.
    with pytest.raises(ValueError, match="column _maintenance"):
        _memtable({"_maintenance": pa.int64()}, [(84,), (None,)])
    t = _memtable({"_maintenance": pa.int64()}, [(84,), (0,)])
    assert t.to_pyarrow()["_maintenance"].to_pylist() == [84, 0]
