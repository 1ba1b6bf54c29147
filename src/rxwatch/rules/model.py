"""The rule model: what a rule file may say, validated when the catalogue loads.

A rule is data (one YAML file in ``rules/catalogue/``). Three kinds:

* ``monitoring``: patients on a drug need tests at intervals; results are ``overdue``, ``out_of_range``
  or ``due_soon``, one row per (patient, test) with rule_id ``<rule>.<test>``.
* ``safety_alert`` / ``missed_diagnosis``: a predicate for the at-risk group (denominator) and one for
  the hazard (numerator); the rule's ``id`` is the rule_id (e.g. ``pincer.gi_p3a``).
* ``specialist``: patients on the drug are listed as specialist-monitored (clozapine) and never flagged.

Every interval, threshold and list cites a source by id (``sources``); numbers that are ours and not a
source's carry ``assumption: true`` and have an entry in the hazard log.

The predicate language for alerts is small on purpose (like ehrQL's query model): each predicate is a
one-key mapping, e.g. ``{issued: {codelists: [nsaid-oral], within_days: 90}}``; see ``Predicate``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal["<", "<=", ">", ">="]
Kind = Literal["monitoring", "safety_alert", "missed_diagnosis", "specialist"]
RESULT_STATUSES = ("overdue", "due_soon", "out_of_range", "safety_alert", "missed_diagnosis")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    id: str
    citation: str
    url: str | None = None


class Review(Strict):
    authored_by: str
    checked_by: str | None = None
    date_reviewed: dt.date
    next_review: dt.date


class Phase(Strict):
    """While days since the first issue ≤ ``until_days`` (day 0 = first issue), test every ``interval_days``."""

    until_days: int = Field(ge=0)
    interval_days: int = Field(gt=0)


class Threshold(Strict):
    """A result is out of range when the latest value of ``analyte`` (a codelist) ``op`` ``value``.

    ``analyte: crcl`` is the Cockcroft–Gault creatinine clearance of a ``cockcroft_gault`` interval.
    """

    analyte: str
    label: str  # "white cell count", read aloud in reasons
    op: Op
    value: float
    unit: str
    source: str
    assumption: bool = False
    note: str | None = None


class CockcroftGaultInterval(Strict):
    """The DOAC renal interval (SPS): shortest of the default, the elderly interval, and CrCl/10 months."""

    type: Literal["cockcroft_gault"] = "cockcroft_gault"
    creatinine: str  # codelist, µmol/L
    weight: str  # codelist, kg
    default_days: int  # 365
    elderly_age: int  # 75
    elderly_days: int  # 122
    crcl_below: float  # 60: below this, the interval is floor(CrCl / 10 × days_per_month)
    days_per_month: float  # 30.4
    missing_days: int  # 122: no weight or no creatinine
    male_factor: float  # 1.23
    female_factor: float  # 1.04 (female or unknown sex)
    source: str
    assumption_note: str | None = None


class Test(Strict):
    id: str  # "fbc" → rule_id "methotrexate.fbc"
    title: str  # "full blood count"
    codelist: str
    phases: tuple[Phase, ...] = ()
    # None: no monitoring past the last phase
    maintenance_days: int | None = Field(default=None, gt=0)
    interval: CockcroftGaultInterval | None = None  # replaces phases and maintenance when given
    thresholds: tuple[Threshold, ...] = ()
    source: str  # source id for the intervals

    @model_validator(mode="after")
    def _check(self) -> Test:
        if self.interval is None and self.maintenance_days is None and not self.phases:
            raise ValueError("a test needs phases, maintenance_days or an interval")
        if self.interval is None and any(th.analyte == "crcl" for th in self.thresholds):
            raise ValueError("a crcl threshold needs a cockcroft_gault interval to compute it from")
        bounds = [p.until_days for p in self.phases]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError("phases must be in increasing order of until_days")
        return self


class Treatment(Strict):
    """On treatment: an issue of any code in ``codelists`` (pooled) in (T − lookback_days, T]."""

    codelists: tuple[str, ...]
    lookback_days: int = 90
    min_days_since_first_issue: int | None = None  # ace-loop-75: first issue ≥ 456 days before T
    source: str | None = None


class Exclusion(Strict):
    """Excluded when any event in ``codelist`` is dated in (T − lookback_days, T]."""

    codelist: str
    lookback_days: int
    source: str | None = None
    assumption: bool = False


class Population(Strict):
    """Restricts a rule beyond the common population (registered and alive at T)."""

    min_age: int | None = None
    max_age: int | None = None
    sexes: tuple[Literal["F", "M", "U"], ...] | None = None


# --- predicates for safety alerts and missed diagnoses -------------------------------------------


class AgeP(Strict):
    min: int | None = None
    max: int | None = None


class IssuedP(Strict):
    """An issue of any code in ``codelists`` in (T − within_days, T]."""

    codelists: tuple[str, ...]
    within_days: int = 90


class EventHistoryP(Strict):
    """An event of ``codelists`` on or before T − before_days (0: ever, on or before T)."""

    codelists: tuple[str, ...]
    before_days: int = 0


class EventWithinP(Strict):
    """An event of ``codelists`` in (T − within_days, T]."""

    codelists: tuple[str, ...]
    within_days: int


class CoPrescribedP(Strict):
    """An issue of ``a`` and one of ``b``, both in (T − recent_days, T], within ``within_days`` of each other."""

    a: tuple[str, ...]
    b: tuple[str, ...]
    within_days: int = 28
    recent_days: int = 90


class LatestValueP(Strict):
    """The latest value-carrying event of ``codelists`` dated ≤ T − before_days meets ``op value``.

    Ties on that date: holds if any of them meets it. Values whose comparator is in
    ``exclude_comparators`` never meet it.
    """

    codelists: tuple[str, ...]
    op: Op
    value: float
    before_days: int = 0
    exclude_comparators: tuple[str, ...] = ()


class UnresolvedP(Strict):
    """An event of ``codelists`` dated ≤ T − before_days, and no ``resolved`` event dated after the
    latest ``codelists`` event on or before T."""

    codelists: tuple[str, ...]
    resolved: tuple[str, ...]
    before_days: int = 0


class RepeatedValuesP(Strict):
    """At least two values of ``codelists`` meeting ``op value`` in (T − within_days, T] whose dates are
    at least ``min_gap_days`` apart."""

    codelists: tuple[str, ...]
    op: Op
    value: float
    within_days: int
    min_gap_days: int


class Predicate(Strict):
    """Exactly one key set."""

    all: tuple[Predicate, ...] | None = None
    any: tuple[Predicate, ...] | None = None
    not_: Annotated[Predicate | None, Field(alias="not")] = None
    age: AgeP | None = None
    sex: tuple[Literal["F", "M", "U"], ...] | None = None
    issued: IssuedP | None = None
    event_history: EventHistoryP | None = None
    event_within: EventWithinP | None = None
    co_prescribed: CoPrescribedP | None = None
    latest_value: LatestValueP | None = None
    unresolved: UnresolvedP | None = None
    repeated_values: RepeatedValuesP | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_key(self) -> Predicate:
        set_keys = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(set_keys) != 1:
            raise ValueError(f"a predicate has exactly one key, got {set_keys or 'none'}")
        return self

    @property
    def key(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @property
    def value(self) -> object:
        return getattr(self, self.key)


class Rule(Strict):
    id: str
    title: str
    group: str  # drug group, for scope of practice and filtering: dmard, lithium, anticoagulant…
    kind: Kind
    version: int = Field(ge=1)
    description: str
    sources: tuple[Source, ...] = Field(min_length=1)
    review: Review
    population: Population = Population()
    # monitoring and specialist rules
    treatment: Treatment | None = None
    exclusions: tuple[Exclusion, ...] = ()
    tests: tuple[Test, ...] = ()
    # safety alerts and missed diagnoses
    at_risk: Predicate | None = None
    hazard: Predicate | None = None
    reason: str | None = None  # plain English, for alert and missed-diagnosis rows
    source: str | None = None  # source id for the alert definition
    assumptions: tuple[str, ...] = ()  # plain-English list of assumptions (each in the hazard log)
    # Codelists the rule names that RxWatch does not ship (no verified codes exist for them, e.g.
    # secondary-care-monitoring, valproate-ppp): an organisation supplies them with --codelists.
    # Until it does, such a list holds no code, so the rule still loads and runs in its fail-safe
    # reading (an exclusion excludes nobody; "no PPP event" holds for everyone).
    local_codelists: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Rule:
        ids = {s.id for s in self.sources}
        if self.kind in ("monitoring", "specialist"):
            if self.treatment is None:
                raise ValueError(f"a {self.kind} rule needs a treatment")
            if self.kind == "monitoring" and not self.tests:
                raise ValueError("a monitoring rule needs at least one test")
        else:
            if self.hazard is None:
                raise ValueError(f"a {self.kind} rule needs a hazard predicate")
            if not self.reason:
                raise ValueError(f"a {self.kind} rule needs a reason")
        cited = [t.source for t in self.tests]
        cited += [th.source for t in self.tests for th in t.thresholds]
        cited += [t.interval.source for t in self.tests if t.interval]
        cited += [e.source for e in self.exclusions if e.source]
        cited += [x for x in (self.source, self.treatment.source if self.treatment else None) if x]
        missing = sorted({c for c in cited if c not in ids})
        if missing:
            raise ValueError(f"cites unknown source id(s) {missing}; known: {sorted(ids)}")
        unused = sorted(set(self.local_codelists) - self.all_codelist_names())
        if unused:
            raise ValueError(f"local_codelists names {unused}, which the rule does not use")
        return self

    @property
    def rule_ids(self) -> list[str]:
        """The rule_ids this rule writes to results.csv and indicators.csv."""
        if self.kind == "monitoring":
            return [f"{self.id}.{t.id}" for t in self.tests]
        if self.kind == "specialist":
            return []
        return [self.id]

    def codelist_names(self) -> set[str]:
        """The codelists that must exist for the rule to load: all it names but its local ones."""
        return self.all_codelist_names() - set(self.local_codelists)

    def all_codelist_names(self) -> set[str]:
        """Every codelist the rule names, including local ones an organisation may not have yet."""
        names: set[str] = set()
        if self.treatment:
            names.update(self.treatment.codelists)
        names.update(e.codelist for e in self.exclusions)
        for t in self.tests:
            names.add(t.codelist)
            names.update(th.analyte for th in t.thresholds if th.analyte != "crcl")
            if t.interval:
                names.update((t.interval.creatinine, t.interval.weight))
        for p in (self.at_risk, self.hazard):
            if p is not None:
                names.update(_predicate_codelists(p))
        return names


def _predicate_codelists(p: Predicate) -> set[str]:
    v = p.value
    if p.key in ("all", "any"):
        return set().union(*(_predicate_codelists(q) for q in v)) if v else set()
    if p.key == "not_":
        return _predicate_codelists(v)
    out: set[str] = set()
    for attr in ("codelists", "resolved", "a", "b"):
        out.update(getattr(v, attr, ()) or ())
    return out


Predicate.model_rebuild()
