"""Hand-made SearchResult objects: the unit-test seam between the engine and the workflow app."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from django.utils import timezone

from rxwatch.engine.api import INDICATOR_SCHEMA, RESULT_SCHEMA, SPECIALIST_SCHEMA, SearchResult
from rxwatch.web.cases.models import MonitoringCase
from rxwatch.web.cases.sync import APPLIES, RuleInfo, sync_search_run

RULES = {
    "methotrexate.fbc": RuleInfo("methotrexate", "dmard"),
    "methotrexate.lft": RuleInfo("methotrexate", "dmard"),
    "lithium.level": RuleInfo("lithium", "lithium"),
    "pincer.gi_p3a": RuleInfo("pincer.gi_p3a", "nsaid"),
}


def at(day: dt.date) -> dt.datetime:
    """When the tests sync the search of ``day``: 06:00 that day."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(6, 0)))


def row(
    practice: str,
    patient_id: str,
    rule_id: str,
    status: str,
    *,
    as_of: dt.date,
    last_date: dt.date | None = None,
    last_value: float | None = None,
    due_date: dt.date | None = None,
    reason: str | None = None,
) -> dict:
    days = (as_of - due_date).days if status == "overdue" and due_date else None
    return {
        "practice": practice,
        "patient_id": patient_id,
        "rule_id": rule_id,
        "status": status,
        "reason": reason or f"{rule_id} {status.replace('_', ' ')}",
        "last_date": last_date,
        "last_value": last_value,
        "due_date": due_date,
        "days_overdue": days,
    }


def result(
    as_of: dt.date, rows: list[dict], practices: tuple[str, ...] = ("A81001", "B82002")
) -> SearchResult:
    rows = sorted(rows, key=lambda r: (r["practice"], r["patient_id"], r["rule_id"]))
    indicators = [
        {"practice": p, "indicator_id": "methotrexate.fbc", "numerator": 1, "denominator": 2}
        for p in sorted(practices)
    ]
    return SearchResult(
        as_of=as_of,
        results=pa.Table.from_pylist(rows, schema=RESULT_SCHEMA),
        indicators=pa.Table.from_pylist(indicators, schema=INDICATOR_SCHEMA),
        specialist_monitored=SPECIALIST_SCHEMA.empty_table(),
        backend="test",
    )


def close_by_search(case: MonitoringCase) -> None:
    """Sync a search of ``case``'s date that no longer flags it (monitoring done): the search, not a
    person, closes it, and its audit event's actor is the system."""
    sync_search_run(
        result=result(case.last_seen_run.as_of, [], (case.practice.ods_code,)),
        rules=RULES,
        in_population=lambda keys: dict.fromkeys(keys, APPLIES),
    )
