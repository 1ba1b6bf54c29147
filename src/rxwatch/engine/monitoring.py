"""Monitoring rules: who is on the drug, which interval applies, and whether each test is overdue,
out of range or due soon (in that order of precedence).

Everything follows the catalogue's "Common meaning": on treatment = an issue in (T − lookback, T];
phase = days since the earliest issue (day 0 = that issue, "≤ 42" covers days 0–42); overdue = no
last test or last test ≤ T − interval; out of range = not overdue and the latest value of an analyte
dated in (T − interval, T] breaches; due soon = due within 14 days.

Two stages, so that the SQL stays small however many rules there are. ``test_rows`` is per test: one
row per patient in the test's denominator with its interval, last test and, per threshold, the latest
value, its date and whether it meets the threshold. ``assess`` is generic: over the union of every
test's rows it decides overdue, out of range and due soon once, in one expression.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from rxwatch.engine.facts import (
    SECONDARY_CARE,
    SECONDARY_CARE_DAYS,
    Facts,
    attach_all,
    compare,
    days_before,
)
from rxwatch.engine.rows import in_population
from rxwatch.rules.model import CockcroftGaultInterval, Exclusion, Rule, Test

DUE_SOON_DAYS = 14


def treated(rule: Rule, f: Facts) -> ir.Table:
    """patient_id, practice, sex, age, first_issue: the population on the rule's drug at T, in the
    rule's own population and not excluded."""
    tr = rule.treatment
    assert tr is not None
    t = f.issued(tr.codelists)
    on = t["last"] > f.T(tr.lookback_days)
    if tr.min_days_since_first_issue is not None:
        on &= t["first"] <= f.T(tr.min_days_since_first_issue)
    t = t.filter(on)
    pop = f.pop.filter(in_population(rule.population, f.pop))
    on_drug = t.select(_pid=t.patient_id, first_issue=t["first"])
    return pop.join(on_drug, pop.patient_id == on_drug._pid).drop("_pid")


def exclusions(rule: Rule, f: Facts) -> list[Exclusion]:
    """The common secondary-care exclusion (when its codelist is loaded) plus the rule's own."""
    out = list(rule.exclusions)
    if SECONDARY_CARE in f.event_classes.of and all(e.codelist != SECONDARY_CARE for e in out):
        out.append(Exclusion(codelist=SECONDARY_CARE, lookback_days=SECONDARY_CARE_DAYS))
    return out


def not_excluded(rule: Rule, t: ir.Table, f: Facts) -> ir.Table:
    for e in exclusions(rule, f):
        ex = f.dated([e.codelist])
        ex = ex.filter(ex["last"] > f.T(e.lookback_days))
        t = t.anti_join(ex, t.patient_id == ex.patient_id)
    return t


def phase_interval(
    test: Test, first_issue: ir.DateValue, as_of: dt.date
) -> tuple[ir.Value, ir.Value]:
    """(interval in days, or null past the last phase when there is no maintenance; in initiation)."""
    if not test.phases:
        return ibis.literal(test.maintenance_days, type="int64"), ibis.literal(False)
    branches = [
        (first_issue >= days_before(as_of, ph.until_days), ibis.literal(ph.interval_days, "int64"))
        for ph in test.phases
    ]
    maintenance = (
        ibis.null().cast("int64")
        if test.maintenance_days is None
        else ibis.literal(test.maintenance_days, type="int64")
    )
    initiation = first_issue >= days_before(as_of, test.phases[-1].until_days)
    return ibis.cases(*branches, else_=maintenance), initiation


def cockcroft_gault(cg: CockcroftGaultInterval, t: ir.Table) -> dict[str, ir.Value]:
    """CrCl from the latest creatinine (highest of its date: ``creat``) and weight (lowest of its
    date: ``weight``), however old, and the interval it sets: the shortest of the default, elderly
    and CrCl-based intervals; the missing-data interval when either is absent."""
    creat, weight, age = t.creat, t.weight, t.age
    factor = ibis.cases((t.sex == "M", cg.male_factor), else_=cg.female_factor)
    no_creat = (creat.isnull() | (creat <= 0)).fill_null(True)
    no_weight = weight.isnull()
    missing = no_weight | no_creat
    crcl = ibis.cases(
        (~missing, (140 - age) * weight * factor / creat), else_=ibis.null().cast("float64")
    )
    by_age = ibis.cases((age >= cg.elderly_age, cg.elderly_days), else_=cg.default_days)
    by_crcl = ibis.cases(
        (crcl < cg.crcl_below, (crcl / 10 * cg.days_per_month).floor()), else_=cg.default_days
    )
    interval = ibis.cases(
        (missing, cg.missing_days),
        else_=ibis.least(ibis.literal(cg.default_days, "int64"), by_age, by_crcl),
    ).cast("int64")
    cg_missing = ibis.cases(
        (no_weight & no_creat, "weight or creatinine"),
        (no_weight, "weight"),
        (no_creat, "creatinine"),
        else_=ibis.null().cast("string"),
    )
    return {"interval": interval, "crcl": crcl, "cg_missing": cg_missing}


def threshold_slots(rules: list[Rule]) -> int:
    return max((len(t.thresholds) for r in rules for t in r.tests), default=0)


def test_rows(rule: Rule, test: Test, base: ir.Table, f: Facts, slots: int) -> ir.Table:
    """One row per patient in the denominator of ``<rule>.<test>``, with what ``assess`` needs.

    ``base`` is ``treated`` minus exclusions: the rule's patients, shared by its tests.
    """
    parts = [(f.dated([test.codelist], among=base), {"last_test": "last"})]
    cg = test.interval
    if cg is not None:
        creat = {"creat_date": "vdate", "creat_rank": "hi"}
        parts.append((f.value([cg.creatinine], among=base), creat))
        parts.append((f.value([cg.weight], among=base), {"weight_rank": "lo"}))
    for k, th in enumerate(test.thresholds):
        if th.analyte == "crcl":
            continue
        names = {f"t{k}_date": "vdate", f"t{k}_rank": Facts.end_for(th.op)}
        parts.append((f.value([th.analyte], among=base), names))
    t = attach_all(base, parts)
    if cg is not None:
        t = f.decode(t, creat="creat_rank", weight="weight_rank")
        computed = cockcroft_gault(cg, t)
        interval, initiation = computed["interval"], ibis.literal(False)
    else:
        computed = {}
        interval, initiation = phase_interval(test, t.first_issue, f.as_of)
    cols: dict[str, ir.Value] = {
        "practice": t.practice.cast("string"),
        "patient_id": t.patient_id.cast("string"),
        "rule_id": ibis.literal(f"{rule.id}.{test.id}", type="string"),
        "interval_days": interval.cast("int64"),
        "initiation": initiation.cast("boolean"),
        "last_test": t.last_test.cast("date"),
        "crcl": computed.get("crcl", ibis.null()).cast("float64"),
        "cg_missing": computed.get("cg_missing", ibis.null()).cast("string"),
    }
    for k in range(slots):
        date = value = rank = meets = None
        if k < len(test.thresholds):
            th = test.thresholds[k]
            if th.analyte == "crcl":
                if cg is None:
                    raise ValueError(f"{rule.id}.{test.id}: crcl needs a cockcroft_gault interval")
                date, value = t.creat_date, computed["crcl"]
                meets = compare(value, th.op, th.value)
            else:
                date, rank = t[f"t{k}_date"], t[f"t{k}_rank"]
                meets = f.meets(rank, th.op, th.value)
        cols[f"t{k}_date"] = (date if date is not None else ibis.null()).cast("date")
        cols[f"t{k}_value"] = (value if value is not None else ibis.null()).cast("float64")
        cols[f"t{k}_rank"] = (rank if rank is not None else ibis.null()).cast("int64")
        cols[f"t{k}_meets"] = (meets if meets is not None else ibis.null()).cast("boolean")
    rows = t.select(**cols)
    return rows.filter(rows.interval_days.notnull())


def assess(rows: ir.Table, as_of: dt.date, slots: int) -> ir.Table:
    """Status of every (patient, test) row: overdue, out_of_range, due_soon, or null (in date)."""
    T = ibis.literal(as_of, type="date")
    due = (rows.last_test + rows.interval_days.as_interval("D")).cast("date")
    t = rows.mutate(due_date=due)
    t = t.mutate(overdue=(t.last_test.isnull() | (t.due_date <= T)).fill_null(True))
    breaches = [
        (t[f"t{k}_meets"] & (T.delta(t[f"t{k}_date"], unit="day") < t.interval_days)).fill_null(
            False
        )
        for k in range(slots)
    ]
    t = t.mutate(
        threshold=ibis.cases(
            *((~t.overdue & b, k) for k, b in enumerate(breaches)),
            else_=ibis.null().cast("int32"),
        ).cast("int32")
        if slots
        else ibis.null().cast("int32")
    )
    soon = T + ibis.interval(days=DUE_SOON_DAYS)
    t = t.mutate(
        status=ibis.cases(
            (t.overdue, "overdue"),
            (t.threshold.notnull(), "out_of_range"),
            ((t.due_date <= soon).fill_null(False), "due_soon"),
            else_=ibis.null().cast("string"),
        )
    )
    pick_value = [(t.threshold == k, t[f"t{k}_value"]) for k in range(slots)]
    pick_rank = [(t.threshold == k, t[f"t{k}_rank"]) for k in range(slots)]
    pick_date = [(t.threshold == k, t[f"t{k}_date"]) for k in range(slots)]
    return t.mutate(
        last_date=ibis.cases(*pick_date, else_=t.last_test) if slots else t.last_test,
        last_value=ibis.cases(*pick_value, else_=ibis.null().cast("float64"))
        if slots
        else ibis.null().cast("float64"),
        last_value_rank=ibis.cases(*pick_rank, else_=ibis.null().cast("int64"))
        if slots
        else ibis.null().cast("int64"),
        days_overdue=ibis.cases(
            (t.overdue & t.last_test.notnull(), T.delta(t.due_date, unit="day")),
            else_=ibis.null().cast("int64"),
        ),
    )
