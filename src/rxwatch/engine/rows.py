"""The shape every compiled rule gives: flagged rows (with what the reason needs) and indicator counts.

A compiled rule is two Ibis expressions over the facts tables; the search unions the rows and counts
of a batch of rules into one query, so the backend runs a few queries, not one per rule.
Reasons are written in Python from the few columns below (``reasons.py``), where numbers and dates can
be printed the same way whatever the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from rxwatch.rules.model import Population

ROW_TYPES: dict[str, str] = {
    "practice": "string",
    "patient_id": "string",
    "rule_id": "string",
    "status": "string",
    "last_date": "date",
    "last_value": "float64",  # a value computed in the query (CrCl)
    "last_value_rank": "int64",  # or the rank of a stored value, looked up once rows are back
    "due_date": "date",
    "days_overdue": "int64",
    # for the reason only
    "interval_days": "int64",
    "initiation": "boolean",
    "threshold": "int32",  # index of the breaching threshold in the test, rule-file order
    "crcl": "float64",
    "cg_missing": "string",  # what stopped Cockcroft–Gault: weight | creatinine | weight and creatinine
}
INDICATOR_TYPES: dict[str, str] = {
    "practice": "string",
    "indicator_id": "string",
    "numerator": "int64",
    "denominator": "int64",
}


@dataclass(frozen=True)
class Compiled:
    rule_id: str
    rows: ir.Table  # ROW_TYPES, flagged rows only
    indicators: ir.Table  # INDICATOR_TYPES, per practice with denominator > 0


def shape_rows(t: ir.Table, rule_id: str, **cols: ir.Value | None) -> ir.Table:
    """Select ROW_TYPES from ``t``, typed, with nulls for what a rule kind does not fill."""
    out: dict[str, ir.Value] = {}
    for name, typ in ROW_TYPES.items():
        if name in ("practice", "patient_id"):
            out[name] = t[name].cast(typ)
        elif name == "rule_id":
            out[name] = ibis.literal(rule_id, type="string")
        else:
            v = cols.get(name)
            out[name] = ibis.null().cast(typ) if v is None else v.cast(typ)
    return t.select(**out)


def in_population(pop: Population, t: ir.Table) -> ir.BooleanValue:
    """A rule's own restriction beyond the common population, on a table with ``age`` and ``sex``."""
    cond = ibis.literal(True)
    if pop.min_age is not None:
        cond &= t.age >= pop.min_age
    if pop.max_age is not None:
        cond &= t.age <= pop.max_age
    if pop.sexes is not None:
        cond &= t.sex.isin(list(pop.sexes))
    return cond
