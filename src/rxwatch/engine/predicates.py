"""The alert predicate language (rules/model.py) compiled to sets of patients.

A predicate compiles to a table of distinct ``patient_id``s for whom it holds, built from the shared
facts: ``all`` is a chain of semi-joins (and anti-joins for its ``not`` parts), ``any`` a union,
``not`` elsewhere the population minus the set. So "no PPI" holds for a patient with no PPI issue
at all, and a rule's cost grows with the patients it concerns, not with the whole population's
records.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from rxwatch.engine.facts import Facts, ValueSpec, attach
from rxwatch.rules.model import LatestValueP, Predicate


def patients(p: Predicate, f: Facts) -> ir.Table:
    """Distinct patient_ids (any registration status) for whom ``p`` holds at T."""
    v = p.value
    match p.key:
        case "all":
            # "not X" inside "all" subtracts X from the others (an anti-join) rather than
            # intersecting with everyone-but-X: the same patients of the population, without
            # building everyone-but-X. Only population members are ever flagged or counted.
            pos = [patients(q, f) for q in v if q.key != "not_"]
            neg = [patients(q.value, f) for q in v if q.key == "not_"]
            out = pos[0] if pos else f.pop.select("patient_id")
            for q in pos[1:]:
                out = out.semi_join(q, out.patient_id == q.patient_id)
            for q in neg:
                out = out.anti_join(q, out.patient_id == q.patient_id)
            return out
        case "any":
            parts = [patients(q, f) for q in v]
            return parts[0].union(*parts[1:], distinct=True) if len(parts) > 1 else parts[0]
        case "not_":
            sub = patients(v, f)
            everyone = f.pop.select("patient_id")
            return everyone.anti_join(sub, everyone.patient_id == sub.patient_id)
        case "age":
            cond = ibis.literal(True)
            if v.min is not None:
                cond &= f.pop.age >= v.min
            if v.max is not None:
                cond &= f.pop.age <= v.max
            return f.pop.filter(cond).select("patient_id")
        case "sex":
            return f.pop.filter(f.pop.sex.isin(list(v))).select("patient_id")
        case "issued":
            t = f.issued(v.codelists)
            return t.filter(t["last"] > f.T(v.within_days)).select("patient_id")
        case "event_history":
            t = f.dated(v.codelists)
            return t.filter(t["first"] <= f.T(v.before_days)).select("patient_id")
        case "event_within":
            t = f.dated(v.codelists)
            return t.filter(t["last"] > f.T(v.within_days)).select("patient_id")
        case "co_prescribed" | "repeated_values":
            return f.flag(v).select("patient_id")
        case "latest_value":
            t = latest_value(v, f)
            return t.filter(f.meets(t.rank, v.op, v.value)).select("patient_id")
        case "unresolved":
            t = f.dated(v.codelists)
            t = t.filter(t["first"] <= f.T(v.before_days))
            t = attach(t, f.dated(v.resolved), resolved="last")
            return t.filter(t.resolved.isnull() | (t.resolved <= t["last"])).select("patient_id")
    raise ValueError(f"unknown predicate {p.key!r}")  # pragma: no cover - the model forbids it


def latest_value(v: LatestValueP, f: Facts) -> ir.Table:
    """patient_id, vdate, rank: the rank of the value of the latest date that best meets the
    condition (the lowest for < and <=, the highest for > and >=)."""
    t = f.value(v.codelists, ValueSpec.of(v))
    return t.select("patient_id", "vdate", rank=t[Facts.end_for(v.op)])


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
