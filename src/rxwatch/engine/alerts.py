"""Safety alerts, possible missed diagnoses and the specialist-monitored list.

Denominators follow the catalogue: the at-risk group for a safety alert, the population for a missed
diagnosis; the numerator is the patients flagged. Each is a set of patients (``predicates.py``)
joined to the population for the practice.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from rxwatch.engine.facts import Facts, attach
from rxwatch.engine.predicates import drug_codelists, first_latest_value, latest_value, patients
from rxwatch.engine.rows import Compiled, in_population, shape_rows
from rxwatch.rules.model import Rule

RECENT_DAYS = 90  # the evidence of an alert: the latest issue in (T − 90, T]


def _counts(denominator: ir.Table, flagged: ir.Table, rule_id: str) -> ir.Table:
    den = denominator.group_by("practice").agg(denominator=denominator.count())
    num = flagged.group_by("practice").agg(numerator=flagged.count())
    num = num.select(_practice=num.practice, numerator=num.numerator)
    t = den.left_join(num, den.practice == num._practice)
    return t.select(
        practice=t.practice.cast("string"),
        indicator_id=ibis.literal(rule_id, type="string"),
        numerator=t.numerator.fill_null(0).cast("int64"),
        denominator=t.denominator.cast("int64"),
    )


def _recent_issue(t: ir.Table, names: list[str], f: Facts, column: str) -> ir.Table:
    issued = f.issued(sorted(set(names)))
    issued = issued.filter(issued["last"] > f.T(RECENT_DAYS))
    return attach(t, issued, **{column: "last"})


def compile_alert(rule: Rule, f: Facts) -> Compiled:
    """A safety alert or missed diagnosis: flagged rows and per-practice counts."""
    assert rule.hazard is not None
    pop = f.pop.filter(in_population(rule.population, f.pop))
    if rule.at_risk is not None:
        risk = patients(rule.at_risk, f)
        at_risk = pop.semi_join(risk, pop.patient_id == risk.patient_id)
    else:
        at_risk = pop
    hazard = patients(rule.hazard, f)
    # IN, not a semi-join: the rows are joined again below, and under Ibis 12 / sqlglot 30 a
    # semi-join followed by a join in one SELECT reaches PostgreSQL as "LEFT SEMI JOIN"
    flagged = at_risk.filter(at_risk.patient_id.isin(hazard.patient_id))
    denominator = at_risk if rule.kind == "safety_alert" else pop
    counts = _counts(denominator, flagged, rule.id)

    last_date = last_value_rank = None
    if rule.kind == "safety_alert":
        evidence = [n for n in (drug_codelists(rule.hazard), drug_codelists(rule.at_risk)) if n]
        for i, names in enumerate(evidence):
            flagged = _recent_issue(flagged, names, f, f"_e{i}")
        if evidence:
            cols = [flagged[f"_e{i}"] for i in range(len(evidence))]
            last_date = ibis.coalesce(*cols) if len(cols) > 1 else cols[0]
    else:
        lv = first_latest_value(rule.hazard) or first_latest_value(rule.at_risk)
        if lv is not None:
            flagged = attach(flagged, latest_value(lv, f), _vdate="vdate", _rank="rank")
            last_date, last_value_rank = flagged._vdate, flagged._rank
    rows = shape_rows(
        flagged,
        rule.id,
        status=ibis.literal(rule.kind, type="string"),
        last_date=last_date,
        last_value_rank=last_value_rank,
    )
    return Compiled(rule.id, rows, counts)


def compile_specialist(rule: Rule, f: Facts) -> ir.Table:
    """Patients on a drug the hospital monitors (clozapine): listed, never flagged."""
    from rxwatch.engine.monitoring import treated

    t = treated(rule, f)
    last = f.issued(rule.treatment.codelists)  # type: ignore[union-attr]
    t = attach(t, last, last_issue_date="last")
    return t.select(
        practice=t.practice.cast("string"),
        patient_id=t.patient_id.cast("string"),
        rule_id=ibis.literal(rule.id, type="string"),
        last_issue_date=t.last_issue_date.cast("date"),
    )
