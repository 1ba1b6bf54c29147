"""A deliberately simple reference implementation of the first rule catalogue, in plain Python.

Written from ``clinical/catalogue.md`` alone (not from the engine, nor from the YAML rule files):
every interval, threshold and alert is copied here by hand from the catalogue's tables, and only the
codelists (codes by name) come from the shipped catalogue. It walks patients one by one, so it is
slow, but each line can be read against a sentence of the catalogue. Tests compare it with the
engine on random small populations (tests/engine/test_reference_agreement.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from rxwatch.engine.api import INDICATOR_SCHEMA, RESULT_SCHEMA, SPECIALIST_SCHEMA, SearchResult
from rxwatch.rules.catalogue import Catalogue

# --- the catalogue, by hand ----------------------------------------------------------------------

Threshold = tuple[str, str, float]  # (analyte codelist, op, value)

MTX_FBC: tuple[Threshold, ...] = (
    ("wbc", "<", 3.5),
    ("neutrophils", "<", 1.6),
    ("platelets", "<", 140),
)
MTX_LFT: tuple[Threshold, ...] = (("alt", ">", 100), ("ast", ">", 100), ("albumin", "<", 30))
MTX_RENAL: tuple[Threshold, ...] = (("egfr", "<", 60),)
DMARD_PHASES = ((42, 14), (133, 28))


@dataclass(frozen=True)
class RTest:
    id: str
    codelist: str
    phases: tuple[tuple[int, int], ...] = ()  # (until_days, interval_days)
    maintenance: int | None = None  # None: no monitoring past the last phase
    thresholds: tuple[Threshold, ...] = ()
    cockcroft_gault: bool = False  # the DOAC renal interval


@dataclass(frozen=True)
class RMonitoring:
    id: str
    drugs: tuple[str, ...]
    tests: tuple[RTest, ...]
    lookback: int = 90
    min_days_since_first: int | None = None
    min_age: int | None = None


def _dmard(
    rule: str,
    phases: tuple[tuple[int, int], ...],
    maintenance: int | None,
    fbc: tuple[Threshold, ...] = MTX_FBC,
    extra: tuple[RTest, ...] = (),
) -> RMonitoring:
    return RMonitoring(
        rule,
        (rule,),
        (
            RTest("fbc", "fbc", phases, maintenance, fbc),
            RTest("lft", "lft", phases, maintenance, MTX_LFT),
            RTest("renal", "renal", phases, maintenance, MTX_RENAL),
            *extra,
        ),
    )


MONITORING: tuple[RMonitoring, ...] = (
    _dmard("methotrexate", DMARD_PHASES, 84),
    _dmard(
        "leflunomide",
        DMARD_PHASES,
        84,
        extra=(
            RTest(
                "blood-pressure", "blood-pressure", DMARD_PHASES, 84, (("systolic-bp", ">", 140),)
            ),
            RTest("weight", "weight", DMARD_PHASES, 84),
        ),
    ),
    _dmard("azathioprine", DMARD_PHASES, 91),
    _dmard(
        "mercaptopurine",
        ((84, 28),),
        91,
        fbc=(("wbc", "<", 3.5), ("neutrophils", "<", 2.0), ("platelets", "<", 140)),
    ),
    _dmard("sulfasalazine", ((42, 14), (133, 28), (365, 84)), None),
    _dmard("mycophenolate", ((42, 14),), 84),
    RMonitoring(
        "lithium",
        ("lithium",),
        (
            RTest(
                "lithium-level",
                "lithium-level",
                ((28, 7), (365, 91)),
                91,
                (("lithium-level", ">", 1.0), ("lithium-level", "<", 0.4)),
            ),
            RTest("renal", "renal", (), 182, (("egfr", "<", 45),)),
            RTest("tft", "tft", (), 182),
            RTest("calcium", "calcium", (), 182),
            RTest("weight", "weight", (), 182),
        ),
    ),
    RMonitoring(
        "amiodarone",
        ("amiodarone",),
        (RTest("tft", "tft", (), 182, (("tsh", ">", 10),)), RTest("lft", "lft", (), 182)),
    ),
    RMonitoring("warfarin", ("warfarin",), (RTest("inr", "inr", (), 84),)),
    RMonitoring(
        "doac",
        ("doac",),
        (
            RTest("renal", "renal", cockcroft_gault=True),
            RTest("fbc", "fbc", (), 365),
            RTest("lft", "lft", (), 365),
        ),
    ),
    RMonitoring(
        "antipsychotic",
        ("antipsychotic",),
        tuple(RTest(t, t, (), 365) for t in ("blood-pressure", "hba1c", "lipids", "weight")),
    ),
    RMonitoring("levothyroxine", ("levothyroxine",), (RTest("tsh", "tsh", ((182, 91),), 365),)),
    RMonitoring(
        "spironolactone",
        ("spironolactone",),
        (
            RTest(
                "renal",
                "renal",
                ((28, 7), (120, 30)),
                182,
                (("potassium", ">", 5.5), ("egfr", "<", 30)),
            ),
        ),
    ),
    RMonitoring(
        "digoxin", ("digoxin",), (RTest("renal", "renal", (), 365, (("potassium", "<", 3.5),)),)
    ),
    RMonitoring(
        "ace-loop-75",
        ("ace-inhibitor-arb", "loop-diuretic"),
        (RTest("renal", "renal", (), 456), RTest("electrolytes", "electrolytes", (), 456)),
        lookback=182,
        min_days_since_first=456,
        min_age=75,
    ),
)

# Cockcroft–Gault (SPS), as the catalogue gives it
CG_DEFAULT, CG_ELDERLY_AGE, CG_ELDERLY, CG_BELOW, CG_MONTH, CG_MISSING = 365, 75, 122, 60, 30.4, 122
CG_MALE, CG_FEMALE = 1.23, 1.04
CRCL_OUT_OF_RANGE = 30

ALERT_IDS = (
    "pincer.gi_p3a",
    "pincer.gi_p3b",
    "pincer.gi_p3c",
    "pincer.gi_p3d",
    "pincer.gi_p3e",
    "pincer.gi_p3f",
    "pincer.as_p3g",
    "pincer.hf_p3i",
    "pincer.ki_p3k",
    "valproate.ppp",
)
MISSED_IDS = ("missed_dx.diabetes", "missed_dx.ckd")

# --- the patient record --------------------------------------------------------------------------


@dataclass
class Ev:
    date: dt.date
    code: str
    value: float | None
    comparator: str | None


@dataclass
class Patient:
    id: str
    practice: str
    dob: dt.date
    sex: str
    died: dt.date | None
    reg_end: dt.date | None
    issues: list[tuple[dt.date, str]] = field(default_factory=list)
    events: list[Ev] = field(default_factory=list)


def _cmp(value: float, op: str, threshold: float) -> bool:
    return {
        "<": value < threshold,
        "<=": value <= threshold,
        ">": value > threshold,
        ">=": value >= threshold,
    }[op]


class Ref:
    """The catalogue applied to one patient at as-of date ``t``."""

    def __init__(self, p: Patient, t: dt.date, codes: Mapping[str, frozenset[str]]):
        self.p, self.t, self.codes = p, t, codes

    # common meaning
    def age(self) -> int:
        b, t = self.p.dob, self.t
        return t.year - b.year - ((t.month, t.day) < (b.month, b.day))

    def in_population(self) -> bool:
        p, t = self.p, self.t
        return not (p.reg_end is not None and p.reg_end <= t) and not (
            p.died is not None and p.died <= t
        )

    def issue_dates(self, *lists: str) -> list[dt.date]:
        codes = frozenset().union(*(self.codes[n] for n in lists))
        return sorted(d for d, c in self.p.issues if c in codes and d <= self.t)

    def recent(self, *lists: str, days: int = 90) -> list[dt.date]:
        """Issue dates in (T − days, T]."""
        lo = self.t - dt.timedelta(days=days)
        return [d for d in self.issue_dates(*lists) if d > lo]

    def events_of(self, *lists: str) -> list[Ev]:
        codes = frozenset().union(*(self.codes[n] for n in lists))
        return sorted(
            (e for e in self.p.events if e.code in codes and e.date <= self.t), key=lambda e: e.date
        )

    def last_event(self, *lists: str) -> dt.date | None:
        evs = self.events_of(*lists)
        return evs[-1].date if evs else None

    def latest_values(
        self, *lists: str, on_or_before: dt.date | None = None
    ) -> tuple[dt.date | None, list[Ev]]:
        """The latest date with a valued event (≤ bound) and every valued event of that date."""
        bound = on_or_before or self.t
        evs = [e for e in self.events_of(*lists) if e.value is not None and e.date <= bound]
        if not evs:
            return None, []
        last = max(e.date for e in evs)
        return last, [e for e in evs if e.date == last]

    def excluded(self) -> bool:
        lo = self.t - dt.timedelta(days=365)
        return any(lo < e.date for e in self.events_of("secondary-care-monitoring"))

    # monitoring
    def interval(self, test: RTest, first: dt.date) -> int | None:
        days = (self.t - first).days
        for until, interval in test.phases:
            if days <= until:
                return interval
        return test.maintenance

    def crcl(self) -> tuple[float | None, dt.date | None]:
        cdate, creats = self.latest_values("creatinine")
        _, weights = self.latest_values("weight")
        if not creats or not weights:
            return None, None
        creat = max(e.value for e in creats)  # type: ignore[type-var]
        weight = min(e.value for e in weights)  # type: ignore[type-var]
        factor = CG_MALE if self.p.sex == "M" else CG_FEMALE
        return (140 - self.age()) * weight * factor / creat, cdate  # type: ignore[operator]

    def cg_interval(self) -> tuple[int, float | None, dt.date | None]:
        crcl, cdate = self.crcl()
        if crcl is None:
            return CG_MISSING, None, None
        days = CG_DEFAULT
        if self.age() >= CG_ELDERLY_AGE:
            days = min(days, CG_ELDERLY)
        if crcl < CG_BELOW:
            days = min(days, math.floor(crcl / 10 * CG_MONTH))
        return days, crcl, cdate

    def monitoring(self, rule: RMonitoring) -> dict[str, tuple[bool, dict | None]]:
        """rule_id → (in the test's denominator, its row or None)."""
        out: dict[str, tuple[bool, dict | None]] = {
            f"{rule.id}.{t.id}": (False, None) for t in rule.tests
        }
        if not self.in_population() or self.excluded():
            return out
        if rule.min_age is not None and self.age() < rule.min_age:
            return out
        if not self.recent(*rule.drugs, days=rule.lookback):
            return out
        first = self.issue_dates(*rule.drugs)[0]
        if (
            rule.min_days_since_first is not None
            and (self.t - first).days < rule.min_days_since_first
        ):
            return out
        for test in rule.tests:
            crcl = cdate = None
            if test.cockcroft_gault:
                interval, crcl, cdate = self.cg_interval()
            else:
                interval = self.interval(test, first)  # type: ignore[assignment]
            if interval is None:
                continue  # past the last phase of a test with no maintenance
            out[f"{rule.id}.{test.id}"] = (True, self.test_row(rule, test, interval, crcl, cdate))
        return out

    def test_row(
        self,
        rule: RMonitoring,
        test: RTest,
        interval: int,
        crcl: float | None,
        cdate: dt.date | None,
    ) -> dict | None:
        t = self.t
        last = self.last_event(test.codelist)
        due = last + dt.timedelta(days=interval) if last else None
        base = {"rule_id": f"{rule.id}.{test.id}", "last_date": last, "due_date": due}
        if last is None or last <= t - dt.timedelta(days=interval):
            days = (t - due).days if due else None
            return {**base, "status": "overdue", "last_value": None, "days_overdue": days}
        window_start = t - dt.timedelta(days=interval)
        for analyte, op, threshold in test.thresholds:
            vdate, values = self.latest_values(analyte)
            if vdate is None or vdate <= window_start:
                continue
            hits = [e.value for e in values if _cmp(e.value, op, threshold)]  # type: ignore[arg-type]
            if hits:
                value = min(hits) if op in ("<", "<=") else max(hits)
                return {
                    **base,
                    "status": "out_of_range",
                    "last_date": vdate,
                    "last_value": value,
                    "days_overdue": None,
                }
        if (
            test.cockcroft_gault
            and crcl is not None
            and cdate is not None
            and cdate > window_start
            and crcl < CRCL_OUT_OF_RANGE
        ):
            return {
                **base,
                "status": "out_of_range",
                "last_date": cdate,
                "last_value": round(crcl, 1),
                "days_overdue": None,
            }
        if due is not None and due <= t + dt.timedelta(days=14):
            return {**base, "status": "due_soon", "last_value": None, "days_overdue": None}
        return None

    # safety alerts: (at risk, hazard, drug codelists for last_date: hazard's first, then at-risk's)
    def history(self, *lists: str) -> bool:
        bound = self.t - dt.timedelta(days=90)
        return any(e.date <= bound for e in self.events_of(*lists))

    def co_prescribed(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        ra, rb = self.recent(*a), self.recent(*b)
        return any(abs((x - y).days) <= 28 for x in ra for y in rb)

    def alerts(self) -> dict[str, tuple[bool, bool, tuple[str, ...], tuple[str, ...]]]:
        no_ppi = not self.recent("ppi")
        nsaid = bool(self.recent("nsaid-oral"))
        antiplatelet = ("aspirin", "antiplatelet-non-aspirin")
        anticoag = ("warfarin", "doac")
        pu = self.history("peptic-ulcer-gi-bleed")
        out = {
            "pincer.gi_p3a": (self.age() >= 65 and no_ppi, nsaid, ("nsaid-oral",), ("ppi",)),
            "pincer.gi_p3b": (pu and no_ppi, nsaid, ("nsaid-oral",), ("ppi",)),
            "pincer.gi_p3c": (
                pu and no_ppi,
                bool(self.recent(*antiplatelet)),
                antiplatelet,
                ("ppi",),
            ),
            "pincer.gi_p3d": (bool(self.recent(*anticoag)), nsaid, ("nsaid-oral",), anticoag),
            "pincer.gi_p3e": (
                bool(self.recent(*anticoag)) and no_ppi,
                self.co_prescribed(anticoag, antiplatelet),
                anticoag + antiplatelet,
                (*anticoag, "ppi"),
            ),
            "pincer.gi_p3f": (
                bool(self.recent("aspirin")) and no_ppi,
                self.co_prescribed(("aspirin",), ("antiplatelet-non-aspirin",)),
                antiplatelet,
                ("aspirin", "ppi"),
            ),
            "pincer.as_p3g": (
                self.asthma_at_risk(),
                bool(self.recent("beta-blocker-non-selective")),
                ("beta-blocker-non-selective",),
                (),
            ),
            "pincer.hf_p3i": (self.history("heart-failure"), nsaid, ("nsaid-oral",), ()),
            "pincer.ki_p3k": (self.egfr_below_45_history(), nsaid, ("nsaid-oral",), ()),
            "valproate.ppp": (
                self.p.sex == "F" and 12 <= self.age() <= 55 and bool(self.recent("valproate")),
                not any(
                    e.date > self.t - dt.timedelta(days=365)
                    for e in self.events_of("valproate-ppp")
                ),
                (),
                ("valproate",),
            ),
        }
        return out

    def asthma_at_risk(self) -> bool:
        asthma = self.events_of("asthma")
        if not any(e.date <= self.t - dt.timedelta(days=90) for e in asthma):
            return False
        latest = asthma[-1].date
        return not any(e.date > latest for e in self.events_of("asthma-resolved"))

    def egfr_below_45_history(self) -> bool:
        _, values = self.latest_values("egfr", on_or_before=self.t - dt.timedelta(days=90))
        return any(e.value < 45 and e.comparator != ">" for e in values)  # type: ignore[operator]

    def missed(self) -> dict[str, tuple[bool, dt.date | None, float | None]]:
        out: dict[str, tuple[bool, dt.date | None, float | None]] = {}
        hdate, hba1c = self.latest_values("hba1c")
        hits = [e.value for e in hba1c if e.value >= 48]  # type: ignore[operator]
        no_dm = not self.events_of("diabetes")
        out["missed_dx.diabetes"] = (bool(hits) and no_dm, hdate, max(hits) if hits else None)
        edate, egfr = self.latest_values("egfr")
        low_latest = [e.value for e in egfr if e.value < 60]  # type: ignore[operator]
        lo = self.t - dt.timedelta(days=730)
        low_dates = sorted(
            {
                e.date
                for e in self.events_of("egfr")
                if e.value is not None and e.value < 60 and e.date > lo
            }
        )
        two = bool(low_dates) and (low_dates[-1] - low_dates[0]).days >= 90
        flagged = two and bool(low_latest) and not self.events_of("ckd")
        out["missed_dx.ckd"] = (flagged, edate, min(low_latest) if low_latest else None)
        return out


# --- whole search --------------------------------------------------------------------------------


def patients_from_tables(tables: Mapping[str, pa.Table]) -> list[Patient]:
    by_id: dict[str, Patient] = {}
    for r in tables["patients"].to_pylist():
        by_id[r["patient_id"]] = Patient(
            r["patient_id"],
            r["practice"],
            r["date_of_birth"],
            r["sex"],
            r["date_of_death"],
            r["registration_end"],
        )
    for r in tables["medications"].to_pylist():
        by_id[r["patient_id"]].issues.append((r["issue_date"], r["dmd_code"]))
    for r in tables["events"].to_pylist():
        by_id[r["patient_id"]].events.append(
            Ev(r["date"], r["snomed_code"], r["value"], r["comparator"])
        )
    return list(by_id.values())


@dataclass
class RefResult:
    results: list[dict]  # practice, patient_id, rule_id, status, last_date, last_value, due_date,
    #                      days_overdue (no reason)
    indicators: dict[tuple[str, str], tuple[int, int]]  # (practice, rule_id) → (num, den), den > 0
    specialist: list[tuple[str, str]]  # (practice, patient_id) on clozapine


def reference_search(
    tables: Mapping[str, pa.Table],
    as_of: dt.date,
    catalogue: Catalogue,
    rule_ids: Iterable[str] | None = None,
) -> RefResult:
    """The catalogue over ``tables`` at ``as_of``; ``rule_ids`` keeps only those (rule or row)."""
    codes = {name: cl.codes for name, cl in catalogue.codelists.items()}
    wanted = None if rule_ids is None else set(rule_ids)

    def keep(rid: str) -> bool:
        return wanted is None or rid in wanted or rid.split(".")[0] in wanted

    rows: list[dict] = []
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    specialist: list[tuple[str, str]] = []

    def count(practice: str, rid: str, den: bool, num: bool) -> None:
        if den and keep(rid):
            counts[(practice, rid)][1] += 1
            counts[(practice, rid)][0] += int(num)

    for p in patients_from_tables(tables):
        ref = Ref(p, as_of, codes)
        base = {"practice": p.practice, "patient_id": p.id}
        for rule in MONITORING:
            for rid, (in_den, row) in ref.monitoring(rule).items():
                if not keep(rid):
                    continue
                count(p.practice, rid, in_den, row is None or row["status"] != "overdue")
                if row is not None:
                    rows.append({**base, **row})
        if ref.in_population() and ref.recent("clozapine") and keep("clozapine"):
            specialist.append((p.practice, p.id))
        if not ref.in_population():
            continue
        for rid, (at_risk, hazard, hazard_drugs, risk_drugs) in ref.alerts().items():
            count(p.practice, rid, at_risk, hazard)
            if at_risk and hazard and keep(rid):
                drugs = ref.recent(*hazard_drugs) if hazard_drugs else []
                if not drugs and risk_drugs:
                    drugs = ref.recent(*[n for n in risk_drugs if n != "ppi"])
                rows.append(
                    {
                        **base,
                        "rule_id": rid,
                        "status": "safety_alert",
                        "last_date": max(drugs) if drugs else None,
                        "last_value": None,
                        "due_date": None,
                        "days_overdue": None,
                    }
                )
        for rid, (flagged, last, value) in ref.missed().items():
            count(p.practice, rid, True, flagged)
            if flagged and keep(rid):
                rows.append(
                    {
                        **base,
                        "rule_id": rid,
                        "status": "missed_diagnosis",
                        "last_date": last,
                        "last_value": value,
                        "due_date": None,
                        "days_overdue": None,
                    }
                )
    rows.sort(key=lambda r: (r["practice"], r["patient_id"], r["rule_id"]))
    indicators = {k: (v[0], v[1]) for k, v in counts.items() if v[1] > 0}
    return RefResult(rows, indicators, sorted(specialist))


def reference_kinds() -> dict[str, str]:
    """rule_id → kind, for every rule_id the reference writes."""
    kinds = {f"{r.id}.{t.id}": "monitoring" for r in MONITORING for t in r.tests}
    kinds.update({rid: "safety_alert" for rid in ALERT_IDS})
    kinds.update({rid: "missed_diagnosis" for rid in MISSED_IDS})
    return kinds


def reference_drugs() -> dict[str, tuple[str, ...]]:
    """Monitoring rule_id → treatment codelists."""
    return {f"{r.id}.{t.id}": r.drugs for r in MONITORING for t in r.tests}


def as_search_result(ref: RefResult, as_of: dt.date) -> SearchResult:
    """The reference's answer in the engine's result contract (reason: the key date, ISO)."""
    results = pa.Table.from_pylist(
        [
            {
                **{k: r[k] for k in ("practice", "patient_id", "rule_id", "status")},
                "reason": f"{r['status']} {r['last_date'] or ''}",
                **{k: r[k] for k in ("last_date", "last_value", "due_date", "days_overdue")},
            }
            for r in ref.results
        ],
        schema=RESULT_SCHEMA,
    )
    indicators = pa.Table.from_pylist(
        [
            {"practice": p, "indicator_id": rid, "numerator": n, "denominator": dd}
            for (p, rid), (n, dd) in sorted(ref.indicators.items())
        ],
        schema=INDICATOR_SCHEMA,
    )
    specialist = pa.Table.from_pylist(
        [
            {"practice": p, "patient_id": pid, "rule_id": "clozapine", "last_issue_date": None}
            for p, pid in ref.specialist
        ],
        schema=SPECIALIST_SCHEMA,
    )
    return SearchResult(as_of, results, indicators, specialist, "reference")
