"""Monitoring rules: who is on the drug, which interval applies, and whether each test is overdue,
out of range or due soon (in that order of precedence).

Everything follows the catalogue's "Common meaning": on treatment = an issue in (T − lookback, T];
phase = days since the earliest issue (day 0 = that issue, "≤ 42" covers days 0–42); overdue = no
last test or last test ≤ T − interval; out of range = not overdue and the latest value of an analyte
dated in (T − interval, T] breaches; due soon = due within 14 days.

Two stages, so that the SQL stays small however many rules there are. The first gives one row per
patient in each test's denominator with its interval, last test and, per threshold, the latest value,
its date and whether it meets the threshold: ``tabled_rows`` for every test at once, from small
tables of the tests (phases, codelist classes, thresholds) joined to the facts;
``cockcroft_gault_rows``, an expression per test, for the tests whose interval is arithmetic on
values. ``assess`` is generic: over the union of those rows it decides overdue, out of range and
due soon once, in one expression. See ADR 0012 and 0013.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from rxwatch.engine.facts import (
    SECONDARY_CARE,
    SECONDARY_CARE_DAYS,
    SHIFT,
    Facts,
    attach_all,
    compare,
    key_day,
    rank_ends,
)
from rxwatch.rules.model import CockcroftGaultInterval, Exclusion, Rule, Test

DUE_SOON_DAYS = 14


def treated(rule: Rule, f: Facts) -> ir.Table:
    """patient_id, practice, sex, age, first_issue: the population on the rule's drug at T, in the
    rule's own population (exclusions not applied: the specialist list reads this)."""
    return on_treatment([rule], f).drop("_rule")


def on_treatment(rules: list[Rule], f: Facts) -> ir.Table:
    """``treated`` for every rule at once, the rule's index in ``_rule``: small tables of the
    rules' drugs, windows and populations joined to the facts, so that everyone's records are
    read once, not once per rule.

    Optional limits are flags beside their value (the tables carry no null, ``_memtable``): with
    no age or sex limit, a patient whose age or sex is unknown stays in, as in ``in_population``.
    """
    trs = [r.treatment for r in rules if r.treatment is not None]
    assert len(trs) == len(rules), "every rule here has a treatment"
    pops = [r.population for r in rules]
    sexes = ("F", "M", "U")
    table = _memtable(
        {
            "_rule": pa.int32(),
            "_on_after": pa.date32(),
            "_first_by": pa.date32(),
            "_has_min": pa.bool_(),
            "_min_age": pa.int32(),
            "_has_max": pa.bool_(),
            "_max_age": pa.int32(),
            "_any_sex": pa.bool_(),
            **{f"_sex_{x}": pa.bool_() for x in sexes},
        },
        [
            (
                i,
                _before(f.as_of, tr.lookback_days),
                _before(f.as_of, tr.min_days_since_first_issue),
                p.min_age is not None,
                p.min_age or 0,
                p.max_age is not None,
                p.max_age or 0,
                p.sexes is None,
                *(p.sexes is not None and x in p.sexes for x in sexes),
            )
            for i, (tr, p) in enumerate(zip(trs, pops, strict=True))
        ],
    )
    drugs = _memtable(
        {"_rule": pa.int32(), "_key": pa.int32()},
        [(i, k) for i, tr in enumerate(trs) for k in f.drug_classes.keys(tr.codelists)],
    )
    iss = f.issues.join(drugs, f.issues.key == drugs._key)
    on = iss.group_by(["_rule", "patient_id"]).agg(first=iss["first"].min(), last=iss["last"].max())
    on = on.join(table, on._rule == table._rule)
    on = on.filter((on["last"] > on._on_after) & (on["first"] <= on._first_by))
    limits = {c: on[c] for c in table.columns if c != "_rule"}
    on = on.select("_rule", _pid=on.patient_id, first_issue=on["first"], **limits)
    t = f.pop.join(on, f.pop.patient_id == on._pid)
    sex = t.sex
    in_pop = (
        (~t._has_min | (t.age >= t._min_age))
        & (~t._has_max | (t.age <= t._max_age))
        & (
            t._any_sex
            | ((sex == "F") & t._sex_F)
            | ((sex == "M") & t._sex_M)
            | ((sex == "U") & t._sex_U)
        )
    )
    return t.filter(in_pop).select(*f.pop.columns, "first_issue", "_rule")


def treated_all(rules: list[Rule], f: Facts) -> ir.Table:
    """``on_treatment`` minus each rule's ``exclusions``: the monitoring rules' patients, each
    (rule, patient) numbered in ``_n``."""
    excl = _memtable(
        {"_rule": pa.int32(), "_key": pa.int32(), "_after": pa.date32()},
        [
            (i, k, _before(f.as_of, e.lookback_days))
            for i, r in enumerate(rules)
            for e in exclusions(r, f)
            for k in f.event_keys([e.codelist])
        ],
    )
    t = on_treatment(rules, f)
    ev = f.events.join(excl, f.events.key == excl._key)
    ev = ev.filter(ev["last"] > ev._after).select(_xr=ev._rule, _xp=ev.patient_id)
    t = t.anti_join(ev, [t._rule == ev._xr, t.patient_id == ev._xp])
    # a number for each (rule, patient): ``tabled_rows`` groups by numbers, not by patient_ids
    return t.mutate(_n=ibis.row_number().over(order_by=[t._rule, t.patient_id]).cast("int64"))


def exclusions(rule: Rule, f: Facts) -> list[Exclusion]:
    """The common secondary-care exclusion (when its codelist is loaded) plus the rule's own."""
    out = list(rule.exclusions)
    if SECONDARY_CARE in f.event_classes.of and all(e.codelist != SECONDARY_CARE for e in out):
        out.append(Exclusion(codelist=SECONDARY_CARE, lookback_days=SECONDARY_CARE_DAYS))
    return out


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


def cockcroft_gault_rows(rule: Rule, test: Test, base: ir.Table, f: Facts, slots: int) -> ir.Table:
    """What ``tabled_rows`` gives, for a test whose interval is Cockcroft–Gault arithmetic on the
    latest creatinine and weight (the values themselves, ``Facts.decode``), never in initiation.

    ``base`` is the rule's share of ``treated_all``.
    """
    cg = test.interval
    assert cg is not None, f"{rule.id}.{test.id} has no Cockcroft–Gault interval"
    parts = [
        (f.dated([test.codelist], among=base), {"last_test": "last"}),
        (f.value([cg.creatinine], among=base), {"creat_date": "vdate", "creat_rank": "hi"}),
        (f.value([cg.weight], among=base), {"weight_rank": "lo"}),
    ]
    for k, th in enumerate(test.thresholds):
        if th.analyte != "crcl":
            names = {f"t{k}_date": "vdate", f"t{k}_rank": Facts.end_for(th.op)}
            parts.append((f.value([th.analyte], among=base), names))
    t = f.decode(attach_all(base, parts), creat="creat_rank", weight="weight_rank")
    computed = cockcroft_gault(cg, t)
    cols: dict[str, ir.Value] = {
        "practice": t.practice.cast("string"),
        "patient_id": t.patient_id.cast("string"),
        "rule_id": ibis.literal(f"{rule.id}.{test.id}", type="string"),
        "interval_days": computed["interval"].cast("int64"),
        "initiation": ibis.literal(False),
        "last_test": t.last_test.cast("date"),
        "crcl": computed["crcl"].cast("float64"),
        "cg_missing": computed["cg_missing"].cast("string"),
    }
    for k in range(slots):
        date = value = rank = meets = None
        if k < len(test.thresholds):
            th = test.thresholds[k]
            if th.analyte == "crcl":
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


# A date no first issue reaches ("no such phase", "no such limit"): the tables carry no nulls.
NEVER = dt.date(9999, 12, 31)


def _before(as_of: dt.date, days: int | None) -> dt.date:
    """T − days as a date for the rules' tables (NEVER for no such bound)."""
    return NEVER if days is None else as_of - dt.timedelta(days=days)


def _memtable(schema: dict[str, pa.DataType], rows: list[tuple]) -> ir.Table:
    """A small table of the rules' own numbers, one tuple per row. Never a null: Ibis 12's
    PySpark backend turns an integer column with a null into all nulls, and a null string into
    'NaN'."""
    names = list(schema)
    for row in rows:
        for name, v in zip(names, row, strict=True):
            if v is None:
                raise ValueError(f"null in the rules' table column {name}")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return ibis.memtable(
        pa.table({n: pa.array(c, schema[n]) for n, c in zip(names, columns, strict=True)})
    )


def _test_tables(
    tests: list[tuple[int, str, Test]], f: Facts, n_phases: int
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """``tabled_rows``'s small tables: the tests (rule index, rule_id, phases as "from" dates,
    maintenance), numbered by position; what each reads; the classes each read pools."""
    T = f.as_of
    schema: dict[str, pa.DataType] = {
        "_rule": pa.int32(),
        "_test": pa.int32(),
        "rule_id": pa.string(),
        "_maintenance": pa.int64(),  # 0: no monitoring past the last phase (never a 0-day interval)
        "_init_from": pa.date32(),  # in initiation while the first issue is on or after this
    }
    for j in range(n_phases):
        schema[f"_p{j}_from"], schema[f"_p{j}_days"] = pa.date32(), pa.int64()
    rows = []
    for n, (i, rule_id, t) in enumerate(tests):
        phases: list[object] = []
        for j in range(n_phases):
            p = t.phases[j] if j < len(t.phases) else None
            phases += [_before(T, p.until_days if p else None), p.interval_days if p else 0]
        last = t.phases[-1].until_days if t.phases else None
        rows.append((i, n, rule_id, t.maintenance_days or 0, _before(T, last), *phases))
    # What each test reads, numbered (test, slot) by ``_read``: slot −1 is its own codelist (the
    # last test), slot k threshold k's analyte, with which end of the date's values it reads and
    # the rank range that meets it; and the classes pooled for each.
    what, classes = [], []
    for n, (_, _, t) in enumerate(tests):
        reads = [(-1, t.codelist, False, (0, 0))] + [
            (k, th.analyte, Facts.end_for(th.op) == "lo", f.rank_range(th.op, th.value))
            for k, th in enumerate(t.thresholds)
        ]
        for slot, name, lo, (rmin, rmax) in reads:
            read = len(what)
            what.append((read, slot, lo, rmin, rmax))
            classes += [(read, n, k) for k in f.event_keys([name])]
    return (
        _memtable(schema, rows),
        _memtable(
            {
                "_read": pa.int32(),
                "_slot": pa.int32(),
                "_lo": pa.bool_(),
                "_rmin": pa.int64(),
                "_rmax": pa.int64(),
            },
            what,
        ),
        _memtable({"_read": pa.int32(), "_test": pa.int32(), "_key": pa.int32()}, classes),
    )


def tabled_rows(
    rules: list[Rule], patients: ir.Table, f: Facts, slots: int
) -> tuple[ir.Table | None, list[tuple[int, Rule, Test]]]:
    """One row per patient in each test's denominator, with what ``assess`` needs, for every test
    without a Cockcroft–Gault interval of every rule, in one expression whatever the number of
    tests: the tests, their codelists' classes and their thresholds are small tables joined to the
    rules' patients and the facts, not an expression each (compiling one expression per test cost
    more than running them). ``patients`` is ``treated_all``'s table: ``_rule`` is the index in
    ``rules``, ``_n`` numbers each row. Returns the rows and the tests left to
    ``cockcroft_gault_rows`` (with their rule's index).

    A threshold is met when the rank of the value is in ``Facts.rank_range``, as in ``meets``."""
    left: list[tuple[int, Rule, Test]] = []
    tests: list[tuple[int, str, Test]] = []
    for i, rule in enumerate(rules):
        for t in rule.tests:
            if t.interval is None:
                tests.append((i, f"{rule.id}.{t.id}", t))
            else:
                left.append((i, rule, t))
    if not tests:
        return None, left
    n_phases = max(len(t.phases) for _, _, t in tests)
    test_table, what, classes = _test_tables(tests, f, n_phases)

    w = patients.join(test_table, patients._rule == test_table._rule)
    # each (patient, test) numbered: grouping by a number is several times faster than by a string
    w = w.mutate(_w=w._n * len(tests) + w._test)
    who = w.select("_w", _t=w._test, _pid=w.patient_id)
    e = f.events

    # One join to the facts for the last test and every threshold's value, pooled over the
    # classes of each (test, slot): ``_read``
    r = who.join(classes, who._t == classes._test)
    r = r.join(e, [r._pid == e.patient_id, r._key == e.key])
    r = r.group_by(["_read", "_w"]).agg(last=r["last"].max(), hk=r.hk.max(), lk=r.lk.max())
    v = r.join(what, r._read == what._read)
    lo, hi = rank_ends((v.hk // SHIFT) * SHIFT, v.hk, v.lk)  # the value's date is hk's day
    rank = ibis.cases((v._lo, lo), else_=hi)
    # int32: PostgreSQL casts a boolean to int4, not to int2 or int8
    meets = ((rank >= v._rmin) & (rank < v._rmax)).cast("int32")
    by_slot: dict[str, ir.Value] = {"last_test": ibis.cases((v._slot == -1, v["last"])).max()}
    for k in range(slots):
        here = v._slot == k
        by_slot[f"t{k}_date"] = ibis.cases((here, key_day(v.hk))).max()
        by_slot[f"t{k}_rank"] = ibis.cases((here, rank)).max()
        by_slot[f"t{k}_meets"] = ibis.cases((here, meets)).max()
    piv = v.group_by("_w").agg(**by_slot).rename(_pw="_w")

    j = w.left_join(piv, w._w == piv._pw)
    t = j.select(**{c: w[c] for c in w.columns}, **{c: piv[c] for c in by_slot})
    branches = [(t.first_issue >= t[f"_p{j}_from"], t[f"_p{j}_days"]) for j in range(n_phases)]
    maintenance = t._maintenance.nullif(0)
    interval = ibis.cases(*branches, else_=maintenance) if branches else maintenance
    out: dict[str, ir.Value] = {
        "practice": t.practice.cast("string"),
        "patient_id": t.patient_id.cast("string"),
        "rule_id": t.rule_id.cast("string"),
        "interval_days": interval.cast("int64"),
        "initiation": (t.first_issue >= t._init_from).cast("boolean"),
        "last_test": t.last_test.cast("date"),
        "crcl": ibis.null().cast("float64"),
        "cg_missing": ibis.null().cast("string"),
    }
    for k in range(slots):
        out[f"t{k}_date"] = t[f"t{k}_date"].cast("date")
        out[f"t{k}_value"] = ibis.null().cast("float64")
        out[f"t{k}_rank"] = t[f"t{k}_rank"].cast("int64")
        out[f"t{k}_meets"] = (t[f"t{k}_meets"] == 1).cast("boolean")
    rows = t.select(**out)
    return rows.filter(rows.interval_days.notnull()), left


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
