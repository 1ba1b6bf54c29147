"""Monitoring rules: who is on the drug, which interval applies, and whether each test is overdue,
out of range or due soon (in that order of precedence).

Everything follows the catalogue's "Common meaning": on treatment = an issue in (T − lookback, T];
phase = days since the earliest issue (day 0 = that issue, "≤ 42" covers days 0–42); overdue = no
last test or last test ≤ T − interval; out of range = not overdue and the latest value of an analyte
dated in (T − interval, T] breaches; due soon = due within 14 days.

Two stages, so that the SQL stays small however many rules there are. The first gives one row per
patient in each test's denominator with its interval, last test and, per threshold, the latest value,
its date and whether it meets the threshold: ``tabled_rows`` for every test at once, from small
tables of the tests (phases, codelist classes, thresholds) joined to the facts; ``test_rows``, an
expression per test, for the Cockcroft–Gault tests whose interval is arithmetic on values. ``assess``
is generic: over the union of those rows it decides overdue, out of range and due soon once, in one
expression. See ADR 0012.
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
    days_before,
    key_day,
    rank_ends,
)
from rxwatch.engine.rows import in_population
from rxwatch.rules.model import CockcroftGaultInterval, Exclusion, Phase, Rule, Test

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


def treated_all(rules: list[Rule], f: Facts) -> ir.Table:
    """``treated`` minus the ``exclusions`` for every rule at once, the rule's index in ``_rule``:
    small tables of the rules' drugs, windows, populations and exclusions joined to the facts,
    so that everyone's records are read once, not once per rule. ``treated`` stays the one-rule
    form (the specialist list reads it); the spec tests hold both to the catalogue.

    Optional limits are flags beside their value (the tables carry no null, ``_memtable``): with
    no age or sex limit, a patient whose age or sex is unknown stays in, as in ``in_population``.
    """
    T = f.as_of
    trs = [r.treatment for r in rules if r.treatment is not None]
    assert len(trs) == len(rules), "every monitoring rule has a treatment"
    pops = [r.population for r in rules]

    def before(days: int | None) -> dt.date:
        return NEVER if days is None else T - dt.timedelta(days=days)

    table = _memtable(
        {
            "_rule": (list(range(len(rules))), pa.int32()),
            "_on_after": ([before(tr.lookback_days) for tr in trs], pa.date32()),
            "_first_by": ([before(tr.min_days_since_first_issue) for tr in trs], pa.date32()),
            "_has_min": ([p.min_age is not None for p in pops], pa.bool_()),
            "_min_age": ([p.min_age or 0 for p in pops], pa.int32()),
            "_has_max": ([p.max_age is not None for p in pops], pa.bool_()),
            "_max_age": ([p.max_age or 0 for p in pops], pa.int32()),
            "_any_sex": ([p.sexes is None for p in pops], pa.bool_()),
            **{
                f"_sex_{x}": ([p.sexes is not None and x in p.sexes for p in pops], pa.bool_())
                for x in ("F", "M", "U")
            },
        }
    )
    drug_rows = [(i, k) for i, tr in enumerate(trs) for k in f.drug_classes.keys(tr.codelists)]
    drugs = _memtable(
        {
            "_rule": ([i for i, _ in drug_rows], pa.int32()),
            "_key": ([k for _, k in drug_rows], pa.int32()),
        }
    )
    ex_rows = [
        (i, k, before(e.lookback_days))
        for i, r in enumerate(rules)
        for e in exclusions(r, f)
        for k in f.event_classes.keys([e.codelist])
    ]
    excl = _memtable(
        {
            "_rule": ([i for i, _, _ in ex_rows], pa.int32()),
            "_key": ([k for _, k, _ in ex_rows], pa.int32()),
            "_after": ([d for _, _, d in ex_rows], pa.date32()),
        }
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
    t = t.filter(in_pop).select(*f.pop.columns, "first_issue", "_rule")
    ev = f.events.join(excl, f.events.key == excl._key)
    ev = ev.filter(ev["last"] > ev._after).select(_xr=ev._rule, _xp=ev.patient_id)
    return t.anti_join(ev, [t._rule == ev._xr, t.patient_id == ev._xp])


def exclusions(rule: Rule, f: Facts) -> list[Exclusion]:
    """The common secondary-care exclusion (when its codelist is loaded) plus the rule's own."""
    out = list(rule.exclusions)
    if SECONDARY_CARE in f.event_classes.of and all(e.codelist != SECONDARY_CARE for e in out):
        out.append(Exclusion(codelist=SECONDARY_CARE, lookback_days=SECONDARY_CARE_DAYS))
    return out


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


def _since(as_of: dt.date, phase: Phase) -> dt.date:
    """A phase applies while the first issue is on or after this date (T − until_days)."""
    return as_of - dt.timedelta(days=phase.until_days)


# A date no first issue reaches: "no such phase". Small tables carry no nulls (``_memtable``).
NEVER = dt.date(9999, 12, 31)


def _memtable(columns: dict[str, tuple[list, pa.DataType]]) -> ir.Table:
    """A small table of the rules' own numbers. Never a null: Ibis 12's PySpark backend turns an
    integer column with a null into all nulls, and a null string into 'NaN'."""
    for name, (values, _) in columns.items():
        if any(v is None for v in values):
            raise ValueError(f"null in the rules' table column {name}")
    return ibis.memtable(pa.table({n: pa.array(v, t) for n, (v, t) in columns.items()}))


def _test_tables(
    tests: list[tuple[int, str, Test]], f: Facts
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The tests (rule index, rule_id, phases as "from" dates, maintenance), their codelists'
    classes, and their thresholds (analyte classes, which end of the date's values, the rank
    range that meets it): ``tabled_rows``'s small tables, numbered by the test's position."""
    n_phases = max(len(t.phases) for _, _, t in tests)
    T = f.as_of
    spec: dict[str, tuple[list, pa.DataType]] = {
        "_rule": ([i for i, _, _ in tests], pa.int32()),
        "_test": (list(range(len(tests))), pa.int32()),
        "rule_id": ([r for _, r, _ in tests], pa.string()),
        # 0: no monitoring past the last phase (an interval is never 0 days)
        "_maintenance": ([t.maintenance_days or 0 for _, _, t in tests], pa.int64()),
        # in initiation while the first issue is on or after T − the last phase's bound
        "_init_from": (
            [_since(T, t.phases[-1]) if t.phases else NEVER for _, _, t in tests],
            pa.date32(),
        ),
    }
    for j in range(n_phases):
        ph = [t.phases[j] if j < len(t.phases) else None for _, _, t in tests]
        spec[f"_p{j}_from"] = ([NEVER if p is None else _since(T, p) for p in ph], pa.date32())
        spec[f"_p{j}_days"] = ([0 if p is None else p.interval_days for p in ph], pa.int64())
    test_table = _memtable(spec)
    lists = {"_test": ([], pa.int32()), "_key": ([], pa.int32())}
    thr = {
        "_test": ([], pa.int32()),
        "_slot": ([], pa.int32()),
        "_key": ([], pa.int32()),
        "_lo": ([], pa.bool_()),
        "_rmin": ([], pa.int64()),
        "_rmax": ([], pa.int64()),
    }
    for n, (_, _, t) in enumerate(tests):
        for k in f.event_classes.keys([t.codelist]):
            lists["_test"][0].append(n)
            lists["_key"][0].append(k)
        for slot, th in enumerate(t.thresholds):
            rmin, rmax = f.rank_range(th.op, th.value)
            for k in f.event_classes.keys([th.analyte]):
                for name, v in zip(
                    thr, (n, slot, k, Facts.end_for(th.op) == "lo", rmin, rmax), strict=True
                ):
                    thr[name][0].append(v)
    return test_table, _memtable(lists), _memtable(thr)


def tabled_rows(
    rules: list[Rule], patients: ir.Table, f: Facts, slots: int
) -> tuple[ir.Table | None, list[tuple[int, Rule, Test]]]:
    """What ``test_rows`` gives, for every test without a Cockcroft–Gault interval of every rule,
    in one expression whatever the number of tests: the tests, their codelists' classes and their
    thresholds are small tables joined to the rules' patients (``patients``: ``_rule`` is the
    index in ``rules``) and the facts, not an expression each. Compiling one expression per test
    cost more than running them. Returns the rows and the tests left to ``test_rows`` (with their
    rule's index).

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
    test_table, list_table, thr_table = _test_tables(tests, f)
    n_phases = max(len(t.phases) for _, _, t in tests)

    w = patients.join(test_table, patients._rule == test_table._rule)
    who = w.select(_t=w._test, _pid=w.patient_id)
    e = f.events

    # the latest test: the codelist's classes pooled
    lt = who.join(list_table, who._t == list_table._test)
    lt = lt.join(e, [lt._pid == e.patient_id, lt._key == e.key])
    lt = lt.group_by(["_t", "_pid"]).agg(last_test=lt["last"].max())

    # each threshold's latest value: its analyte's classes pooled, then read as in Facts.value
    v = who.join(thr_table, who._t == thr_table._test)
    v = v.join(e, [v._pid == e.patient_id, v._key == e.key])
    v = v.filter(v.hk.notnull())
    v = v.group_by(["_t", "_pid", "_slot", "_lo", "_rmin", "_rmax"]).agg(
        hk=v.hk.max(), lk=v.lk.max()
    )
    lo, hi = rank_ends((v.hk // SHIFT) * SHIFT, v.hk, v.lk)  # the date is hk's day
    rank = ibis.cases((v._lo, lo), else_=hi)
    v = v.select("_t", "_pid", "_slot", vdate=key_day(v.hk), rank=rank, rmin=v._rmin, rmax=v._rmax)
    # int32: PostgreSQL casts a boolean to int4, not to int2 or int8
    v = v.mutate(meets=((v["rank"] >= v.rmin) & (v["rank"] < v.rmax)).cast("int32"))
    by_slot: dict[str, ir.Value] = {}
    for k in range(slots):
        here = v._slot == k
        by_slot[f"t{k}_date"] = ibis.cases((here, v.vdate)).max()
        by_slot[f"t{k}_rank"] = ibis.cases((here, v["rank"])).max()
        by_slot[f"t{k}_meets"] = ibis.cases((here, v.meets)).max()
    piv = v.group_by(["_t", "_pid"]).agg(**by_slot) if slots else None

    t = w.left_join(lt, [w._test == lt._t, w.patient_id == lt._pid])
    cols: dict[str, ir.Value] = {c: t[c] for c in w.columns}
    cols["last_test"] = lt.last_test
    t = t.select(**cols)
    if piv is not None:
        j = t.left_join(piv, [t._test == piv._t, t.patient_id == piv._pid])
        t = j.select(**{c: t[c] for c in t.columns}, **{c: piv[c] for c in by_slot})
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
