"""Shared per-patient facts: what every rule reads, computed once per search.

Rules never scan the big tables themselves. The search joins medications and events once each to a
small (code → class) table and aggregates per (patient, class). A class is the codes that are in
exactly the same codelists (``code_classes``): each code is in one class, so the join does not fan a
row out to every list its code is in (fbc ⊇ wbc), and a codelist is the union of its classes, read
pooled (``max`` of the classes' ``max``). See ADR 0012.

* ``issues``: first and last issue on or before T, per drug class;
* ``events``: first and last event on or before T, per class, of the codelists read across
  everyone (the alerts', the exclusions': ``Needs.everyone``); the monitoring tests' codelists are
  computed for their rules' patients alone (``narrowed``), and a read of a class a table does
  not hold is an error (``Facts.event_keys``). See ADR 0015;
* ``events`` also carries, for the default value rule (no cut-off, no ignored comparator), two
  sortable keys that give the latest value-carrying date and the highest and lowest value of it;
* ``values``: the same for every other value rule, over the rows of its own codelists' classes only;
* ``flags``: the few facts that need pairs of rows (co-prescribing, repeated values).

These long tables and the population are cached on the backend; each rule is then a few joins over
the patients it concerns (those on the drug, those with the hazard), never a pass over everyone's
records.

"Latest" is never an ``argmax``: ties on a date would be broken differently by DuckDB and Spark. Each
distinct value gets its rank (``ranks``, a few thousand rows), and a row's key is
``day × 2³² + rank``: the ``max`` of the key is the latest value-carrying date (its day) and the
highest value of that date, exactly, in the same single pass that finds the dates (a second key
with the rank reversed gives the lowest). A threshold then holds if any value of that date meets
it (the catalogue's conservative reading), and is compared as ranks (``Facts.meets``), so no rule
joins back to the values. See ADR 0009 and 0011.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

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
    """Which values are "the latest": dated ≤ T − before_days; listed comparators never count."""

    before_days: int = 0
    exclude_comparators: tuple[str, ...] = ()

    @classmethod
    def of(cls, p: LatestValueP) -> ValueSpec:
        return cls(p.before_days, tuple(sorted(p.exclude_comparators)))


DEFAULT = ValueSpec()  # no cut-off, no ignored comparator: read from the events facts' keys


@dataclass
class Needs:
    """Everything the catalogue reads from the big tables, gathered before any query is built."""

    drugs: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    # The event codelists read from everyone's facts (the alerts', the exclusions'); those only a
    # monitoring test reads are computed for the monitoring rules' patients alone (``narrowed``).
    everyone: set[str] = field(default_factory=set)
    values: dict[ValueSpec, set[str]] = field(default_factory=dict)
    co_prescribed: list[CoPrescribedP] = field(default_factory=list)
    repeated: list[RepeatedValuesP] = field(default_factory=list)

    def dated(self, codelists: Iterable[str], *, everyone: bool = True) -> None:
        names = set(codelists)
        self.events.update(names)
        if everyone:
            self.everyone.update(names)

    def value(
        self, codelists: Iterable[str], spec: ValueSpec = DEFAULT, *, everyone: bool = True
    ) -> None:
        """A value read; only the default spec's is read from the event facts (``spec_values``
        gives the others, for everyone)."""
        names = set(codelists)
        self.values.setdefault(spec, set()).update(names)
        self.dated(names, everyone=everyone and spec == DEFAULT)


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
        needs.dated([SECONDARY_CARE])
    for rule in catalogue.rules:
        _rule_needs(rule, needs)
    return needs


def _rule_needs(rule: Rule, needs: Needs) -> None:
    if rule.treatment:
        needs.drugs.update(rule.treatment.codelists)
    needs.dated(e.codelist for e in rule.exclusions)
    for t in rule.tests:  # read for the rule's patients only
        needs.dated([t.codelist], everyone=False)
        needs.value((th.analyte for th in t.thresholds if th.analyte != "crcl"), everyone=False)
        if t.interval:
            needs.value((t.interval.creatinine, t.interval.weight), everyone=False)
    for top in (rule.at_risk, rule.hazard):
        if top is None:
            continue
        for p in walk(top):
            v = p.value
            if isinstance(v, LatestValueP):
                needs.value(v.codelists, ValueSpec.of(v))
            elif isinstance(v, CoPrescribedP):
                needs.drugs.update((*v.a, *v.b))
                if v not in needs.co_prescribed:
                    needs.co_prescribed.append(v)
            elif isinstance(v, RepeatedValuesP):  # read from the events, not their facts
                needs.dated(v.codelists, everyone=False)
                if v not in needs.repeated:
                    needs.repeated.append(v)
            elif p.key == "issued":
                needs.drugs.update(v.codelists)  # type: ignore[union-attr]
            elif p.key in ("event_history", "event_within"):
                needs.dated(v.codelists)  # type: ignore[union-attr]
            elif p.key == "unresolved":
                needs.dated((*v.codelists, *v.resolved))  # type: ignore[union-attr]


def days_before(as_of: dt.date, days: int) -> ir.DateScalar:
    """T − days as a date literal: every window bound is a constant, so no date arithmetic per row."""
    return ibis.literal(as_of - dt.timedelta(days=days), type="date")


def compare(x: ir.Value, op: str, value: float) -> ir.BooleanValue:
    return {"<": x < value, "<=": x <= value, ">": x > value, ">=": x >= value}[op]


@dataclass(frozen=True)
class Classes:
    """Codes grouped by the exact set of named codelists they are in: ``of`` gives each codelist's
    classes, ``codes`` each code's class (one each)."""

    of: dict[str, tuple[int, ...]]
    codes: dict[str, int]

    def table(self, names: Iterable[str] | None = None) -> ir.Table:
        """(code, key): the codes of ``names`` (all when None) with their class."""
        keep = None if names is None else {k for n in names for k in self.of[n]}
        pairs = sorted((c, k) for c, k in self.codes.items() if keep is None or k in keep)
        return ibis.memtable(
            pa.table(
                {
                    "code": pa.array([c for c, _ in pairs], pa.string()),
                    "key": pa.array([k for _, k in pairs], pa.int32()),
                }
            )
        )

    def keys(self, names: Iterable[str]) -> list[int]:
        return sorted({k for n in names for k in self.of[n]})


def code_classes(names: Iterable[str], catalogue: Catalogue) -> Classes:
    """Partition the codes of ``names`` by the lists they are in, numbered in a fixed order (a
    search's classes, like its ranks, mean nothing outside it). An empty list has no classes."""
    lists = sorted(set(names))
    member: dict[str, list[str]] = {}
    for name in lists:  # sorted, so each code's list of names is sorted too
        for code in catalogue.codelists[name].codes:
            member.setdefault(code, []).append(name)
    number = {sig: i for i, sig in enumerate(sorted({tuple(m) for m in member.values()}))}
    return Classes(
        of={n: tuple(i for sig, i in number.items() if n in sig) for n in lists},
        codes={code: number[tuple(m)] for code, m in member.items()},
    )


def union_all(tables: list[ir.Table]) -> ir.Table | None:
    """The rows of every table in ``tables`` (UNION ALL); None for none."""
    if not tables:
        return None
    return tables[0].union(*tables[1:], distinct=False) if len(tables) > 1 else tables[0]


def attach(base: ir.Table, other: ir.Table, **names: str) -> ir.Table:
    """Left-join a per-patient table onto ``base``, taking its columns under new names."""
    return attach_all(base, [(other, names)])


def attach_all(base: ir.Table, parts: list[tuple[ir.Table, dict[str, str]]]) -> ir.Table:
    """Left-join several per-patient tables onto ``base`` in one join chain with one projection:
    Ibis compiles a chain far faster than nested joins, each with its own projection."""
    if not parts:
        return base
    joined = base
    cols: dict[str, ir.Value] = {c: base[c] for c in base.columns}
    for i, (other, names) in enumerate(parts):
        key = f"_pid{i}"
        o = other.select(
            **{key: other.patient_id}, **{new: other[old] for new, old in names.items()}
        )
        joined = joined.left_join(o, [("patient_id", key)])
        cols.update({new: o[new] for new in names})
    return joined.select(**cols)


# A value's key: its day number shifted past the rank of the value among all distinct values.
EPOCH = dt.date(1900, 1, 1)
SHIFT = 2**32


def day_number(d: ir.DateValue) -> ir.IntegerValue:
    return d.delta(ibis.literal(EPOCH, type="date"), unit="day").cast("int64")


def key_day(k: ir.IntegerValue) -> ir.DateValue:
    """The date of a value's key (``day_number`` undone)."""
    return ibis.literal(EPOCH, type="date") + (k // SHIFT).as_interval("D")


def _among(t: ir.Table, among: ir.Table | None, pooled: bool) -> ir.Table:
    """``t`` narrowed to ``among``'s patients before it is pooled. Unpooled, the caller's join
    narrows it: a semi-join first would be a second join for nothing."""
    if among is None or not pooled:
        return t
    ids = among.select(_among_id=among.patient_id)
    return t.semi_join(ids, t.patient_id == ids._among_id)


def _first_last_of(t: ir.Table, keys: list[int], among: ir.Table | None) -> ir.Table:
    """patient_id, first, last over the classes ``keys`` of a facts table, pooled."""
    t = _among(t.filter(t.key.isin(keys)), among, len(keys) > 1)
    if len(keys) == 1:
        return t.select("patient_id", "first", "last")
    return t.group_by("patient_id").agg(first=t["first"].min(), last=t["last"].max())


def _rank_case(cond: ir.BooleanValue, rank: ir.IntegerValue) -> ir.IntegerValue:
    return ibis.cases((cond, rank), else_=ibis.null().cast("int64"))


def value_keys(
    date: ir.DateValue, rank: ir.IntegerValue
) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """(hk, lk): a value's two keys, whose ``max`` gives the latest date with its highest value
    (hk) and with its lowest (lk, the rank reversed). ``rank_ends`` reads them back."""
    day = day_number(date) * SHIFT
    return day + rank, day + (SHIFT - 1 - rank)


def rank_ends(
    base: ir.IntegerValue, hk: ir.IntegerValue, lk: ir.IntegerValue
) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """(lowest, highest): the ranks of the lowest and highest value of the date whose keys start
    at ``base`` (its day × 2³²), from the keys' maxima; null where a key is from an earlier date
    (every value of that date was ignored)."""
    return _rank_case(lk >= base, SHIFT - 1 - (lk - base)), _rank_case(hk >= base, hk - base)


@dataclass
class Facts:
    """The shared long tables of one search (cached on the backend) and how to read them.

    Values are read as ranks (``ranks``): a threshold becomes a comparison of ranks with a number
    worked out here from the sorted values, so rules never join back to the values; a value itself
    is looked up (``decode``) only where arithmetic needs it, or in Python once rows are back.
    """

    as_of: dt.date
    pop: ir.Table  # patient_id, practice, sex, age: registered and alive at T
    issues: ir.Table  # patient_id, key, first, last
    events: ir.Table  # patient_id, key, first, last, and for the default value spec hk, lk
    held: frozenset[int]  # the classes in ``events``: ``Needs.everyone``'s, or all (``narrowed``)
    event_rows: ir.Table  # the events on or before T, for ``narrowed`` alone: rules read facts
    # spec, patient_id, key, vd, hk, lk: every other value spec, over its own codelists only
    values: ir.Table
    ranks: ir.Table  # _value, _rank: every distinct value, ranked
    rank_values: list[float]  # the same in Python: rank_values[rank] is the value
    flags: ir.Table  # patient_id, flag, d
    drug_classes: Classes
    event_classes: Classes
    value_specs: dict[ValueSpec, int]
    co_prescribed: list[CoPrescribedP]
    repeated: list[RepeatedValuesP]

    def T(self, days: int = 0) -> ir.DateScalar:
        return days_before(self.as_of, days)

    def issued(self, names: Iterable[str], among: ir.Table | None = None) -> ir.Table:
        """patient_id, first, last: issues of any of ``names`` pooled, on or before T (of the
        patients in ``among`` only, when given: a rule's few patients, not everyone's facts)."""
        return _first_last_of(self.issues, self.drug_classes.keys(names), among)

    def event_keys(self, names: Iterable[str]) -> list[int]:
        """The classes of ``names``, which ``events`` must hold: a codelist whose facts were not
        computed for these patients is an error, never an empty answer."""
        names = list(names)
        keys = self.event_classes.keys(names)
        if not self.held.issuperset(keys):
            raise RuntimeError(
                f"the event facts of {sorted(names)} are not computed for these patients: "
                "everyone's facts hold only the codelists read across everyone (Needs.everyone)"
            )
        return keys

    def dated(self, names: Iterable[str], among: ir.Table | None = None) -> ir.Table:
        """patient_id, first, last: events of any of ``names`` pooled, on or before T."""
        return _first_last_of(self.events, self.event_keys(names), among)

    def value(
        self, names: Iterable[str], spec: ValueSpec = DEFAULT, among: ir.Table | None = None
    ) -> ir.Table:
        """patient_id, vdate, lo, hi: the latest value-carrying date of ``names`` pooled and the
        ranks of the lowest and highest value of that date (null when every value of that date
        is ignored). Compare them with ``meets``; ``decode`` gives the values."""
        if spec == DEFAULT:
            # no value is ignored: the latest value's date is the day of hk
            keys = self.event_keys(names)
            e = self.events.filter(self.events.key.isin(keys) & self.events.hk.notnull())
            e = e.mutate(vd=key_day(e.hk))
        else:
            keys = self.event_classes.keys(names)
            e = self.values.filter(self.values.spec == self.value_specs[spec])
            e = e.filter(e.key.isin(keys) & e.vd.notnull())
        t = _among(e, among, len(keys) > 1)
        t = t.select("patient_id", vdate=t.vd, hk=t.hk, lk=t.lk)
        if len(keys) > 1:  # pooled: the classes' maxima are the pooled maxima
            t = t.group_by("patient_id").agg(vdate=t.vdate.max(), hk=t.hk.max(), lk=t.lk.max())
        lo, hi = rank_ends(day_number(t.vdate) * SHIFT, t.hk, t.lk)
        return t.select("patient_id", "vdate", lo=lo, hi=hi)

    @staticmethod
    def end_for(op: str) -> str:
        """Which of ``value``'s columns a threshold reads: the lowest value of the date for ``<``
        and ``<=``, the highest for ``>`` and ``>=`` (any value of the date that breaches counts)."""
        return "lo" if op in ("<", "<=") else "hi"

    def rank_range(self, op: str, value: float) -> tuple[int, int]:
        """[first, end): the ranks of the values that are ``op value``. The values are sorted, so
        "below 2.0" is "ranked below the first value not below 2.0". Exact."""
        below = bisect.bisect_left(self.rank_values, value)  # ranks of values < value
        not_above = bisect.bisect_right(self.rank_values, value)  # ranks of values <= value
        top = len(self.rank_values)
        return {"<": (0, below), "<=": (0, not_above), ">": (not_above, top), ">=": (below, top)}[
            op
        ]

    def meets(self, rank: ir.IntegerValue, op: str, value: float) -> ir.BooleanValue:
        """Whether the value of ``rank`` is ``op value``, as a comparison of ranks (``rank_range``),
        with no join back to the values."""
        first, end = self.rank_range(op, value)
        return rank < end if op in ("<", "<=") else rank >= first

    def decode(self, t: ir.Table, **columns: str) -> ir.Table:
        """``t`` with rank columns turned into their values (``new=rank column``): for the few
        places that compute with a value (Cockcroft–Gault)."""
        out = t
        for new, rank in columns.items():
            r = self.ranks.select(**{f"_r_{new}": self.ranks._rank, new: self.ranks._value})
            out = out.left_join(r, out[rank] == r[f"_r_{new}"]).drop(f"_r_{new}")
        return out

    def value_of(self, ranks: pa.Array) -> pa.Array:
        """Values of ranks fetched to Python (null stays null)."""
        values = pa.array(self.rank_values, pa.float64())
        return pc.take(values, pc.cast(ranks, pa.int64()))

    def flag(self, p: CoPrescribedP | RepeatedValuesP) -> ir.Table:
        """patient_id, d: patients for whom a pairwise fact holds."""
        if isinstance(p, CoPrescribedP):
            k = self.co_prescribed.index(p)
        else:
            k = len(self.co_prescribed) + self.repeated.index(p)
        return self.flags.filter(self.flags.flag == k).select("patient_id", "d")


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


def _first_last(rows: ir.Table, code: str, date: str, classes: Classes) -> ir.Table:
    """(patient_id, key, first, last) per class, in one pass: each row joins its code's class."""
    mem = classes.table()
    j = rows.join(mem, rows[code] == mem.code)
    return j.group_by(["patient_id", "key"]).agg(first=j[date].min(), last=j[date].max())


def value_ranks(evs: ir.Table) -> ir.Table:
    """_value, _rank: every distinct value carried by an event, ranked from the lowest (0)."""
    v = evs.filter(evs.value.notnull()).select(_value=evs.value).distinct()
    return v.select("_value", _rank=ibis.dense_rank().over(order_by=v._value).cast("int64"))


def canonical_events(con: ibis.BaseBackend, as_of: dt.date) -> ir.Table:
    evs = con.table("events")
    return evs.filter(evs.date <= ibis.literal(as_of, type="date")).select(
        patient_id=evs.patient_id.cast("string"),
        snomed_code=evs.snomed_code.cast("string"),
        date=evs.date,
        value=evs.value.cast("float64"),
        comparator=evs.comparator.cast("string"),
    )


def event_facts(
    evs: ir.Table,
    ranks: ir.Table,
    *,
    classes: Classes,
    spec_index: dict[ValueSpec, int],
    names: Iterable[str] | None = None,
) -> ir.Table:
    """One pass over the events: per (patient, class) of ``names`` (all when None) the first and
    last event and, for the default value spec, the keys of the highest and lowest value of the
    latest value-carrying date (the date is the keys' day). No FILTER: a value-less row has a null
    key, which ``max`` skips; values of codelists no rule reads as values cost a little and are
    never read."""
    mem = classes.table(names)
    j = evs.join(mem, evs.snomed_code == mem.code)
    j = j.left_join(ranks, j.value == ranks._value)  # every event: dates need the value-less too
    aggs: dict[str, ir.Value] = {"first": j.date.min(), "last": j.date.max()}
    if DEFAULT in spec_index:  # the latest value's date is the day of hk: no aggregate of its own
        hk, lk = value_keys(j.date, j._rank)
        aggs["hk"], aggs["lk"] = hk.max(), lk.max()
    t = j.group_by(["patient_id", "key"]).agg(**aggs)
    t = t.mutate(key=t.key.cast("int32"))
    if DEFAULT not in spec_index:
        none = ibis.null()
        t = t.mutate(hk=none.cast("int64"), lk=none.cast("int64"))
    return t


def spec_values(
    evs: ir.Table,
    ranks: ir.Table,
    *,
    as_of: dt.date,
    needs: Needs,
    classes: Classes,
    spec_index: dict[ValueSpec, int],
) -> ir.Table:
    """spec, patient_id, key, vd, hk, lk for every value spec but the default: each over the rows
    of its own codelists only (a cut-off date, ignored comparators), so one narrow rule does not
    add filtered aggregates to the pass over everyone's events."""
    parts = []
    for spec, s in spec_index.items():
        if spec == DEFAULT:
            continue
        mem = classes.table(needs.values[spec])
        j = evs.join(mem, evs.snomed_code == mem.code)
        j = j.join(ranks, j.value == ranks._value)  # value-carrying events only
        if spec.before_days:
            j = j.filter(j.date <= days_before(as_of, spec.before_days))
        keep = ibis.literal(True)
        if spec.exclude_comparators:
            keep = j.comparator.isnull() | ~j.comparator.isin(spec.exclude_comparators)
        hk, lk = value_keys(j.date, j._rank)
        t = j.group_by(["patient_id", "key"]).agg(
            vd=j.date.max(), hk=ibis.cases((keep, hk)).max(), lk=ibis.cases((keep, lk)).max()
        )
        parts.append(
            t.select(
                spec=ibis.literal(s, type="int32"),
                patient_id=t.patient_id,
                key=t.key.cast("int32"),
                vd=t.vd,
                hk=t.hk.cast("int64"),
                lk=t.lk.cast("int64"),
            )
        )
    out = union_all(parts)
    if out is not None:
        return out
    e = evs.filter(ibis.literal(False))  # no other spec: an empty table on the same backend
    none = ibis.null()
    return e.select(
        spec=ibis.literal(0, type="int32"),
        patient_id=e.patient_id,
        key=ibis.literal(0, type="int32"),
        vd=e.date,
        hk=none.cast("int64"),
        lk=none.cast("int64"),
    )


def _co_prescribed(recent: ir.Table, cp: CoPrescribedP, drugs: Classes, as_of: dt.date) -> ir.Table:
    """patient_id, d: issues of ``cp.a`` and ``cp.b`` in its recent window within
    ``cp.within_days`` of each other (d: the latest such ``a`` issue)."""

    def issued(names: tuple[str, ...]) -> ir.Table:
        r = recent.filter(
            recent.key.isin(drugs.keys(names)) & (recent.d > days_before(as_of, cp.recent_days))
        )
        return r.select("patient_id", "d").distinct()

    a, b = issued(cp.a), issued(cp.b).rename(pb="patient_id", db="d")
    gap = a.d.delta(b.db, unit="day").abs()
    pairs = a.join(b, [a.patient_id == b.pb, gap <= cp.within_days])
    return pairs.group_by("patient_id").agg(d=pairs.d.max())


def _repeated(evs: ir.Table, rv: RepeatedValuesP, events: Classes, as_of: dt.date) -> ir.Table:
    """patient_id, d: values of ``rv.codelists`` meeting ``rv`` in its window, the first and last
    at least ``rv.min_gap_days`` apart (d: the last)."""
    v = evs.filter(evs.value.notnull() & (evs.date > days_before(as_of, rv.within_days)))
    mem = events.table(rv.codelists)
    v = v.join(mem, v.snomed_code == mem.code)
    v = v.filter(compare(v.value, rv.op, rv.value))
    agg = v.group_by("patient_id").agg(lo=v.date.min(), hi=v.date.max())
    agg = agg.filter(agg.hi.delta(agg.lo, unit="day") >= rv.min_gap_days)
    return agg.select("patient_id", d=agg.hi)


def pairwise_flags(
    meds: ir.Table,
    evs: ir.Table,
    *,
    as_of: dt.date,
    needs: Needs,
    drugs: Classes,
    events: Classes,
) -> ir.Table:
    """patient_id, flag, d: the facts that need pairs of rows, numbered as ``Facts.flag`` reads
    them (the co-prescribing checks, then the repeated values)."""
    parts = []
    if needs.co_prescribed:
        # one read of the recent issues for every co-prescribing check: (patient, class, date)
        window = max(cp.recent_days for cp in needs.co_prescribed)
        names = {n for cp in needs.co_prescribed for n in (*cp.a, *cp.b)}
        mem = drugs.table(names)
        recent = meds.filter(meds.issue_date > days_before(as_of, window))
        recent = recent.join(mem, recent.dmd_code == mem.code)
        recent = recent.select("patient_id", "key", d=recent.issue_date).distinct()
        parts += [_co_prescribed(recent, cp, drugs, as_of) for cp in needs.co_prescribed]
    parts += [_repeated(evs, rv, events, as_of) for rv in needs.repeated]
    flagged = union_all(
        [
            t.select("patient_id", flag=ibis.literal(k, type="int32"), d=t.d)
            for k, t in enumerate(parts)
        ]
    )
    if flagged is not None:
        return flagged
    # no pairwise facts: an empty table on the same backend
    return evs.filter(ibis.literal(False)).select(
        "patient_id", flag=ibis.literal(0, type="int32"), d=evs.date
    )


def aggregate(con: ibis.BaseBackend, *, as_of: dt.date, catalogue: Catalogue, needs: Needs) -> dict:
    """The shared tables as expressions (not yet executed): one pass over each big table."""
    T = ibis.literal(as_of, type="date")
    drug_classes = code_classes(needs.drugs, catalogue)
    event_classes = code_classes(needs.events, catalogue)
    specs = sorted(needs.values, key=lambda s: (s.before_days, s.exclude_comparators))
    spec_index = {s: j for j, s in enumerate(specs)}

    meds = con.table("medications")
    meds = meds.filter(meds.issue_date <= T).select(
        patient_id=meds.patient_id.cast("string"),
        dmd_code=meds.dmd_code.cast("string"),
        issue_date=meds.issue_date,
    )
    issues = _first_last(meds, "dmd_code", "issue_date", drug_classes)

    evs = canonical_events(con, as_of)

    flags = pairwise_flags(
        meds, evs, as_of=as_of, needs=needs, drugs=drug_classes, events=event_classes
    )

    return {
        "pop": population(con, as_of),
        # The long tables are stored in class order, so that reading one codelist skips the
        # rest (DuckDB's zone maps) instead of scanning every patient's facts.
        "issues": issues.select(
            "patient_id", key=issues.key.cast("int32"), first=issues["first"], last=issues["last"]
        ).order_by("key"),
        "evs": evs,
        "flags": flags,
        "drug_classes": drug_classes,
        "event_classes": event_classes,
        "value_specs": spec_index,
    }


@contextlib.contextmanager
def shared_facts(con: ibis.BaseBackend, *, as_of: dt.date, catalogue: Catalogue) -> Iterator[Facts]:
    """The shared tables, each computed once and cached on the backend for the block."""
    from rxwatch.engine.backends import cached

    needs = gather_needs(catalogue)
    parts = aggregate(con, as_of=as_of, catalogue=catalogue, needs=needs)
    with contextlib.ExitStack() as stack:
        tables = {
            name: stack.enter_context(cached(parts[name])) for name in ("pop", "issues", "flags")
        }
        ranks = stack.enter_context(cached(value_ranks(parts["evs"])))
        rank_values = _rank_values(ranks)
        index = {"classes": parts["event_classes"], "spec_index": parts["value_specs"]}
        # Everyone's facts of the codelists read across everyone; the monitoring tests' codelists
        # only for their rules' patients (``narrowed``): at 1M synthetic patients 6.3M of the
        # 36.5M events are read here (ADR 0015). Not sorted by class, unlike issues: the alerts'
        # few reads of it cost less than the sort.
        events = event_facts(parts["evs"], ranks, names=needs.everyone, **index)
        tables["events"] = stack.enter_context(cached(events))
        values = spec_values(parts["evs"], ranks, as_of=as_of, needs=needs, **index)
        tables["values"] = stack.enter_context(cached(values.order_by(["spec", "key"])))
        yield Facts(
            as_of=as_of,
            drug_classes=parts["drug_classes"],
            event_classes=parts["event_classes"],
            value_specs=parts["value_specs"],
            co_prescribed=list(needs.co_prescribed),
            repeated=list(needs.repeated),
            ranks=ranks,
            rank_values=rank_values,
            held=frozenset(parts["event_classes"].keys(needs.everyone)),
            event_rows=parts["evs"],
            **tables,
        )


@contextlib.contextmanager
def narrowed(f: Facts, patients: ir.Table) -> Iterator[Facts]:
    """``f`` with the facts of ``patients`` only, and of every class (cached, sorted by class):
    the monitoring tests read the facts of the few patients on a monitored drug many times over,
    and each read then scans their rows, not everyone's. Everyone's facts hold only the classes
    read across everyone, so these come from their events."""
    from rxwatch.engine.backends import cached

    ids = patients.select(_nid=patients.patient_id).distinct()
    rows = f.event_rows.semi_join(ids, f.event_rows.patient_id == ids._nid)
    events = event_facts(rows, f.ranks, classes=f.event_classes, spec_index=f.value_specs)
    values = f.values.semi_join(ids, f.values.patient_id == ids._nid)
    with (
        cached(events.order_by("key")) as e,
        cached(values.order_by(["spec", "key"])) as v,
    ):
        held = frozenset(f.event_classes.codes.values())
        yield dataclasses.replace(f, events=e, values=v, held=held)


def _rank_values(ranks: ir.Table) -> list[float]:
    """The distinct values in rank order, in Python (a few thousand)."""
    t = ranks.order_by("_rank").to_pyarrow()
    rank, value = t["_rank"].to_pylist(), t["_value"].to_pylist()
    if rank != list(range(len(rank))):  # dense ranks from 0: the position is the rank
        raise RuntimeError("value ranks are not dense from 0")
    return value
