"""The alert predicate language (rules/model.py) compiled to boolean columns over the facts table.

Every predicate compiles to a column that is never null (a missing fact is "false"), so ``not`` and
``any`` mean what a pharmacist reads: "no PPI" is true for a patient with no PPI issue at all.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from rxwatch.engine.facts import Facts, ValueSpec, compare, days_before
from rxwatch.rules.model import LatestValueP, Predicate


def compile_predicate(p: Predicate, f: Facts) -> ir.BooleanValue:
    return _compile(p, f).fill_null(False)


def _compile(p: Predicate, f: Facts) -> ir.BooleanValue:
    v = p.value
    T = f.as_of
    match p.key:
        case "all":
            return ibis.and_(*(compile_predicate(q, f) for q in v))
        case "any":
            return ibis.or_(*(compile_predicate(q, f) for q in v))
        case "not_":
            return ~compile_predicate(v, f)
        case "age":
            age = f["age"]
            cond = ibis.literal(True)
            if v.min is not None:
                cond &= age >= v.min
            if v.max is not None:
                cond &= age <= v.max
            return cond
        case "sex":
            return f["sex"].isin(list(v))
        case "issued":
            return f.pooled_last_issue(v.codelists) > days_before(T, v.within_days)
        case "event_history":
            return f.pooled_first_event(v.codelists) <= days_before(T, v.before_days)
        case "event_within":
            return f.pooled_last_event(v.codelists) > days_before(T, v.within_days)
        case "co_prescribed":
            return f.co_prescribed_flag(v)
        case "latest_value":
            return latest_value_holds(v, f)
        case "unresolved":
            latest = f.pooled_last_event(v.codelists)
            resolved = f.pooled_last_event(v.resolved)
            dated = f.pooled_first_event(v.codelists) <= days_before(T, v.before_days)
            return dated & (resolved.isnull() | (resolved <= latest))
        case "repeated_values":
            return f.repeated_flag(v)
    raise ValueError(f"unknown predicate {p.key!r}")  # pragma: no cover - the model forbids it


def latest_value(v: LatestValueP, f: Facts) -> tuple[ir.Value, ir.Value]:
    """(date, the value of that date that best meets the condition): lowest for < and <=."""
    spec = ValueSpec(v.before_days, tuple(sorted(v.exclude_comparators)))
    date, lo, hi = f.pooled_value(v.codelists, spec)
    return date, (lo if v.op in ("<", "<=") else hi)


def latest_value_holds(v: LatestValueP, f: Facts) -> ir.BooleanValue:
    _, x = latest_value(v, f)
    return compare(x, v.op, v.value)


def drug_codelists(p: Predicate | None) -> list[str]:
    """Drug codelists a predicate names outside any ``not`` (the evidence of an alert row)."""
    if p is None:
        return []
    v = p.value
    match p.key:
        case "all" | "any":
            return [n for q in v for n in drug_codelists(q)]
        case "issued":
            return list(v.codelists)
        case "co_prescribed":
            return [*v.a, *v.b]
    return []


def first_latest_value(p: Predicate | None) -> LatestValueP | None:
    """The first ``latest_value`` outside any ``not``: the value that triggered a missed diagnosis."""
    if p is None:
        return None
    if p.key == "latest_value":
        return p.value  # type: ignore[return-value]
    if p.key in ("all", "any"):
        for q in p.value:  # type: ignore[union-attr]
            if (found := first_latest_value(q)) is not None:
                return found
    return None
