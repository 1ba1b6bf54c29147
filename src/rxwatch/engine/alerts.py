"""Safety alerts, possible missed diagnoses and the specialist-monitored list, compiled over the facts.

Denominators follow the catalogue: the at-risk group for a safety alert, the population for a missed
diagnosis; the numerator is the patients flagged.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from rxwatch.engine.facts import Facts, days_before
from rxwatch.engine.monitoring import on_treatment
from rxwatch.engine.predicates import (
    compile_predicate,
    drug_codelists,
    first_latest_value,
    latest_value,
)
from rxwatch.engine.rows import Compiled, count_by_practice, in_population, shape_rows
from rxwatch.rules.model import Rule

RECENT_DAYS = 90  # the evidence of an alert: the latest issue in (T − 90, T]


def _recent_issue(names: list[str], f: Facts) -> ir.Value | None:
    if not names:
        return None
    last = f.pooled_last_issue(sorted(set(names)))
    return ibis.cases(
        (last > days_before(f.as_of, RECENT_DAYS), last), else_=ibis.null().cast("date")
    )


def compile_alert(rule: Rule, f: Facts) -> Compiled:
    pop = in_population(rule.population, f)
    at_risk = compile_predicate(rule.at_risk, f) if rule.at_risk else ibis.literal(True)
    assert rule.hazard is not None
    hazard = compile_predicate(rule.hazard, f)
    denominator = pop & (at_risk if rule.kind == "safety_alert" else ibis.literal(True))
    flagged = pop & at_risk & hazard
    if rule.kind == "safety_alert":
        candidates = [
            x
            for x in (
                _recent_issue(drug_codelists(rule.hazard), f),
                _recent_issue(drug_codelists(rule.at_risk), f),
            )
            if x is not None
        ]
        last_date = (
            ibis.coalesce(*candidates)
            if len(candidates) > 1
            else (candidates[0] if candidates else None)
        )
        last_value = None
    else:
        lv = first_latest_value(rule.hazard) or first_latest_value(rule.at_risk)
        last_date, last_value = latest_value(lv, f) if lv else (None, None)
    extra = {"_last_date": last_date, "_last_value": last_value}
    t = f.table.mutate(
        _denominator=denominator,
        _flagged=flagged,
        **{k: v for k, v in extra.items() if v is not None},
    )
    t = t.mutate(numer=t._flagged)
    hit = t.filter(t._flagged)
    rows = shape_rows(
        hit,
        rule.id,
        status=ibis.literal(rule.kind, type="string"),
        last_date=hit._last_date if last_date is not None else None,
        last_value=hit._last_value if last_value is not None else None,
    )
    return Compiled(rule.id, rows, count_by_practice(t.filter(t._denominator), rule.id))


def compile_specialist(rule: Rule, f: Facts) -> ir.Table:
    """Patients on a drug the hospital monitors (clozapine): listed, never flagged."""
    assert rule.treatment is not None
    t = f.table.mutate(
        _on=on_treatment(rule, f) & in_population(rule.population, f),
        _last=f.pooled_last_issue(rule.treatment.codelists),
    )
    t = t.filter(t._on)
    return t.select(
        practice=t.practice.cast("string"),
        patient_id=t.patient_id.cast("string"),
        rule_id=ibis.literal(rule.id, type="string"),
        last_issue_date=t._last.cast("date"),
    )
