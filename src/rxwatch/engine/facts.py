"""Shared per-patient facts: what every rule reads, computed once per search.

Rules never scan the big tables themselves. The search joins medications and events once each to a small
(code → codelist) membership table covering every codelist the catalogue names (a code may be in
several lists: fbc ⊇ wbc, so the join is many-to-many), aggregates per (patient, codelist), and pivots
the aggregates into one wide row per patient of the population. Each rule is then a cheap column
expression over that one table (``Facts.table``), cached on the backend.

"Latest" is never an ``argmax``: ties on a date would be broken differently by DuckDB and Spark. The
latest value-carrying date is a ``max``, and the min and max of the values on that date are kept, so a
threshold holds if any value of that date meets it (the catalogue's conservative reading).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from rxwatch.rules.catalogue import Catalogue
from rxwatch.rules.model import (
    CoPrescribedP,
    LatestValueP,
    Predicate,
    RepeatedValuesP,
    Rule,
)

# Monitoring done by the hospital under shared care: excludes a patient from every monitoring rule.
SECONDARY_CARE = "secondary-care-monitoring"
SECONDARY_CARE_DAYS = 365


@dataclass(frozen=True)
class ValueSpec:
    """Which values count as "the latest": dated ≤ T − before_days; some comparators never meet a test."""

    before_days: int = 0
    exclude_comparators: tuple[str, ...] = ()


@dataclass
class Needs:
    """Everything the catalogue reads from the big tables, gathered before any query is built."""

    drugs: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    values: dict[ValueSpec, set[str]] = field(default_factory=dict)
    co_prescribed: list[CoPrescribedP] = field(default_factory=list)
    repeated: list[RepeatedValuesP] = field(default_factory=list)

    def value(self, codelists: Iterable[str], spec: ValueSpec = ValueSpec()) -> None:
        names = set(codelists)
        self.values.setdefault(spec, set()).update(names)
        self.events.update(names)


def walk(p: Predicate) -> Iterator[Predicate]:
    yield p
    if p.key in ("all", "any"):
        for q in p.value:  # type: ignore[union-attr]
            yield from walk(q)
    elif p.key == "not_":
        yield from walk(p.value)  # type: ignore[arg-type]


def gather_needs(catalogue: Catalogue) -> Needs:
    needs = Needs()
    if SECONDARY_CARE in catalogue.codelists:
        needs.events.add(SECONDARY_CARE)
    for rule in catalogue.rules:
        _rule_needs(rule, needs)
    return needs


def _rule_needs(rule: Rule, needs: Needs) -> None:
    if rule.treatment:
        needs.drugs.update(rule.treatment.codelists)
    needs.events.update(e.codelist for e in rule.exclusions)
    for t in rule.tests:
        needs.events.add(t.codelist)
        needs.value(th.analyte for th in t.thresholds if th.analyte != "crcl")
        if t.interval:
            needs.value((t.interval.creatinine, t.interval.weight))
    for top in (rule.at_risk, rule.hazard):
        if top is None:
            continue
        for p in walk(top):
            v = p.value
            if isinstance(v, LatestValueP):
                needs.value(
                    v.codelists, ValueSpec(v.before_days, tuple(sorted(v.exclude_comparators)))
                )
            elif isinstance(v, CoPrescribedP):
                needs.drugs.update((*v.a, *v.b))
                if v not in needs.co_prescribed:
                    needs.co_prescribed.append(v)
            elif isinstance(v, RepeatedValuesP):
                needs.events.update(v.codelists)
                if v not in needs.repeated:
                    needs.repeated.append(v)
            elif p.key == "issued":
                needs.drugs.update(v.codelists)  # type: ignore[union-attr]
            elif p.key in ("event_history", "event_within"):
                needs.events.update(v.codelists)  # type: ignore[union-attr]
            elif p.key == "unresolved":
                needs.events.update((*v.codelists, *v.resolved))  # type: ignore[union-attr]


def days_before(as_of: dt.date, days: int) -> ir.DateScalar:
    """T − days as a date literal: every window bound is a constant, so no date arithmetic per row."""
    return ibis.literal(as_of - dt.timedelta(days=days), type="date")


def compare(x: ir.Value, op: str, value: float) -> ir.BooleanValue:
    return {"<": x < value, "<=": x <= value, ">": x > value, ">=": x >= value}[op]


def membership(names: Iterable[str], catalogue: Catalogue, index: dict[str, int]) -> ir.Table:
    """(code, key) for every code of every named codelist; a code in two lists gives two rows."""
    codes: list[str] = []
    keys: list[int] = []
    for name in sorted(set(names)):
        for code in sorted(catalogue.codelists[name].codes):
            codes.append(code)
            keys.append(index[name])
    return ibis.memtable(
        pa.table({"code": pa.array(codes, pa.string()), "key": pa.array(keys, pa.int32())})
    )


@dataclass
class Facts:
    """One row per patient of the population (registered and alive at T), with named fact columns."""

    table: ir.Table
    as_of: dt.date
    drug_index: dict[str, int]
    event_index: dict[str, int]
    value_specs: dict[ValueSpec, int]
    co_prescribed: list[CoPrescribedP]
    repeated: list[RepeatedValuesP]

    def __getitem__(self, name: str) -> ir.Column:
        return self.table[name]

    # --- column accessors: rules name codelists, facts name columns ------------------------------
    def first_issue(self, name: str) -> ir.DateColumn:
        return self.table[f"d{self.drug_index[name]}_first"]

    def last_issue(self, name: str) -> ir.DateColumn:
        return self.table[f"d{self.drug_index[name]}_last"]

    def first_event(self, name: str) -> ir.DateColumn:
        return self.table[f"e{self.event_index[name]}_first"]

    def last_event(self, name: str) -> ir.DateColumn:
        return self.table[f"e{self.event_index[name]}_last"]

    def value(
        self, name: str, spec: ValueSpec = ValueSpec()
    ) -> tuple[ir.Column, ir.Column, ir.Column]:
        """(date, lowest, highest) of the latest value-carrying event of a codelist."""
        p = f"v{self.value_specs[spec]}_{self.event_index[name]}"
        return self.table[f"{p}_date"], self.table[f"{p}_min"], self.table[f"{p}_max"]

    def co_prescribed_flag(self, p: CoPrescribedP) -> ir.BooleanColumn:
        return self.table[f"cp{self.co_prescribed.index(p)}"].notnull()

    def repeated_flag(self, p: RepeatedValuesP) -> ir.BooleanColumn:
        return self.table[f"rv{self.repeated.index(p)}"].notnull()

    # --- pooled over several codelists ------------------------------------------------------------
    def pooled_first_issue(self, names: Iterable[str]) -> ir.DateValue:
        return _least([self.first_issue(n) for n in names])

    def pooled_last_issue(self, names: Iterable[str]) -> ir.DateValue:
        return _greatest([self.last_issue(n) for n in names])

    def pooled_first_event(self, names: Iterable[str]) -> ir.DateValue:
        return _least([self.first_event(n) for n in names])

    def pooled_last_event(self, names: Iterable[str]) -> ir.DateValue:
        return _greatest([self.last_event(n) for n in names])

    def pooled_value(
        self, names: Iterable[str], spec: ValueSpec = ValueSpec()
    ) -> tuple[ir.Value, ir.Value, ir.Value]:
        """The latest value date over several codelists, and the min / max of the values of that date."""
        parts = [self.value(n, spec) for n in sorted(set(names))]
        if len(parts) == 1:
            return parts[0]
        date = _greatest([d for d, _, _ in parts])
        lo = _least([ibis.cases((d == date, mn), else_=ibis.null()) for d, mn, _ in parts])
        hi = _greatest([ibis.cases((d == date, mx), else_=ibis.null()) for d, _, mx in parts])
        return date, lo, hi


def _greatest(cols: list[ir.Value]) -> ir.Value:
    """Largest non-null (SQL GREATEST skips nulls on DuckDB, Spark and PostgreSQL)."""
    return cols[0] if len(cols) == 1 else ibis.greatest(*cols)


def _least(cols: list[ir.Value]) -> ir.Value:
    return cols[0] if len(cols) == 1 else ibis.least(*cols)


def age_at(dob: ir.DateValue, as_of: dt.date) -> ir.IntegerValue:
    """Whole years at T: a birthday not yet reached this year takes one off (29 Feb counts on 1 Mar)."""
    not_yet = (dob.month() * 100 + dob.day()) > (as_of.month * 100 + as_of.day)
    return (as_of.year - dob.year() - not_yet.cast("int32")).cast("int32")


def population(con: ibis.BaseBackend, as_of: dt.date) -> ir.Table:
    """Patients registered and alive at T, with practice, sex and age at T."""
    p = con.table("patients")
    T = ibis.literal(as_of, type="date")
    died, left = p.date_of_death.cast("date"), p.registration_end.cast("date")
    alive = died.isnull() | (died > T)
    registered = left.isnull() | (left > T)
    return p.filter(alive & registered).select(
        patient_id=p.patient_id.cast("string"),
        practice=p.practice.cast("string"),
        sex=p.sex.cast("string"),
        age=age_at(p.date_of_birth.cast("date"), as_of),
    )


def _pivot(agg: ir.Table, columns: dict[str, tuple[int, str]]) -> ir.Table:
    """One row per patient from a (patient_id, key, …) aggregate: ``name = src where key``.

    Each aggregate is pivoted on its own (not one union of all), so a row updates only the
    columns of its own kind: three narrow pivots cost a third of one wide one.
    """
    return agg.group_by("patient_id").agg(
        **{
            name: ibis.cases((agg.key == key, agg[src])).max()
            for name, (key, src) in columns.items()
        }
    )


def build_facts(
    con: ibis.BaseBackend, *, as_of: dt.date, catalogue: Catalogue, needs: Needs | None = None
) -> Facts:
    """The per-patient facts table (not yet executed): one pass over each big table."""
    needs = needs or gather_needs(catalogue)
    T = ibis.literal(as_of, type="date")
    drugs = sorted(needs.drugs)
    events = sorted(needs.events)
    drug_index = {n: i for i, n in enumerate(drugs)}
    event_index = {n: i for i, n in enumerate(events)}
    specs = sorted(needs.values, key=lambda s: (s.before_days, s.exclude_comparators))
    spec_index = {s: j for j, s in enumerate(specs)}
    wides: list[ir.Table] = []  # per-patient tables, each joined to the population

    meds = con.table("medications")
    meds = meds.filter(meds.issue_date <= T).select("patient_id", "dmd_code", "issue_date")
    if drugs:
        mem = membership(drugs, catalogue, drug_index)
        m = meds.join(mem, meds.dmd_code == mem.code)
        agg = m.group_by(["patient_id", "key"]).agg(
            first=m.issue_date.min(), last=m.issue_date.max()
        )
        cols = {}
        for i in drug_index.values():
            cols[f"d{i}_first"] = (i, "first")
            cols[f"d{i}_last"] = (i, "last")
        wides.append(_pivot(agg, cols))

    evs = con.table("events")
    evs = evs.filter(evs.date <= T).select(
        "patient_id",
        "snomed_code",
        "date",
        value=evs.value.cast("float64"),
        comparator=evs.comparator.cast("string"),
    )
    if events:
        mem = membership(events, catalogue, event_index)
        e = evs.join(mem, evs.snomed_code == mem.code)
        agg = e.group_by(["patient_id", "key"]).agg(first=e.date.min(), last=e.date.max())
        cols = {}
        for i in event_index.values():
            cols[f"e{i}_first"] = (i, "first")
            cols[f"e{i}_last"] = (i, "last")
        wides.append(_pivot(agg, cols))

    for spec, j in spec_index.items():
        names = sorted(needs.values[spec])
        vals = evs.filter(evs.value.notnull() & (evs.date <= days_before(as_of, spec.before_days)))
        mem = membership(names, catalogue, event_index)
        vals = vals.join(mem, vals.snomed_code == mem.code)
        latest = vals.group_by(["patient_id", "key"]).agg(vdate=vals.date.max())
        on_latest = vals.join(
            latest,
            [
                vals.patient_id == latest.patient_id,
                vals.key == latest.key,
                vals.date == latest.vdate,
            ],
        )
        counted = on_latest.value
        if spec.exclude_comparators:
            keep = on_latest.comparator.isnull() | ~on_latest.comparator.isin(
                spec.exclude_comparators
            )
            lo, hi = counted.min(where=keep), counted.max(where=keep)
        else:
            lo, hi = counted.min(), counted.max()
        agg = on_latest.group_by(["patient_id", "key"]).agg(
            vdate=on_latest.vdate.max(), lo=lo, hi=hi
        )
        cols = {}
        for n in names:
            i = event_index[n]
            cols[f"v{j}_{i}_date"] = (i, "vdate")
            cols[f"v{j}_{i}_min"] = (i, "lo")
            cols[f"v{j}_{i}_max"] = (i, "hi")
        wides.append(_pivot(agg, cols))

    for k, cp in enumerate(needs.co_prescribed):
        recent = meds.filter(meds.issue_date > days_before(as_of, cp.recent_days))

        def issues(names: tuple[str, ...], recent: ir.Table = recent) -> ir.Table:
            mem = membership(names, catalogue, {n: 0 for n in names})
            r = recent.join(mem, recent.dmd_code == mem.code)
            return r.select("patient_id", d=r.issue_date).distinct()

        a, b = issues(cp.a), issues(cp.b).rename(pb="patient_id", db="d")
        gap = a.d.delta(b.db, unit="day").abs()
        pairs = a.join(b, [a.patient_id == b.pb, gap <= cp.within_days])
        wides.append(pairs.group_by("patient_id").agg(**{f"cp{k}": pairs.d.max()}))

    for k, rv in enumerate(needs.repeated):
        v = evs.filter(evs.value.notnull() & (evs.date > days_before(as_of, rv.within_days)))
        mem = membership(rv.codelists, catalogue, {n: 0 for n in rv.codelists})
        v = v.join(mem, v.snomed_code == mem.code)
        v = v.filter(compare(v.value, rv.op, rv.value))
        agg = v.group_by("patient_id").agg(lo=v.date.min(), hi=v.date.max())
        agg = agg.filter(agg.hi.delta(agg.lo, unit="day") >= rv.min_gap_days)
        wides.append(agg.select("patient_id", **{f"rv{k}": agg.hi}))

    table = population(con, as_of)
    for i, w in enumerate(wides):
        w = w.rename(**{f"_pid{i}": "patient_id"})
        table = table.left_join(w, table.patient_id == w[f"_pid{i}"]).drop(f"_pid{i}")
    return Facts(
        table=table,
        as_of=as_of,
        drug_index=drug_index,
        event_index=event_index,
        value_specs=spec_index,
        co_prescribed=list(needs.co_prescribed),
        repeated=list(needs.repeated),
    )
