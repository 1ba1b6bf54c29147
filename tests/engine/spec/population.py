"""A tiny fixture language for spec tests: named patients a pharmacist can read.

    P("mtx_maintenance_just_inside", age=60, sex="F",
      issues={"methotrexate": ["2026-08-01", "2026-10-20"]},
      events={"fbc": ["2026-09-01"], "platelets": [("2026-10-01", 120)],
              "egfr": [("2026-10-01", 90, ">")]})

Keys of ``issues`` and ``events`` name a shipped codelist; the code used is picked from it by
``CodePicker``: the code that is in the fewest other codelists (so a plain ``fbc`` code is not also
a ``platelets`` code). A key may add constraints after the name: ``"renal +creatinine"`` (the code
must also be in ``creatinine``), ``"fbc -wbc"`` (must not be in ``wbc``). An event is a date,
``(date, value)`` or ``(date, value, comparator)``. Every patient gets a practice of their own
unless ``practice`` is given, so the indicators of that practice say whether that patient is in a
denominator and a numerator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from rxwatch.rules.catalogue import Catalogue

T = dt.date(2026, 11, 23)  # the as-of date of every spec test

EventItem = str | tuple[str, float] | tuple[str, float, str]


def d(s: str | dt.date) -> dt.date:
    """An ISO date string as a date."""
    return s if isinstance(s, dt.date) else dt.date.fromisoformat(s)


@dataclass(frozen=True)
class P:
    """One named patient; ``age``: whole years at T (birthday 100 days before T) unless ``dob``."""

    name: str
    age: int = 60
    sex: str = "F"
    issues: dict[str, Sequence[str]] = field(default_factory=dict)
    events: dict[str, Sequence[EventItem]] = field(default_factory=dict)
    dob: str | None = None
    died: str | None = None
    registration_end: str | None = None
    practice: str | None = None

    def date_of_birth(self) -> dt.date:
        if self.dob is not None:
            return d(self.dob)
        return dt.date(T.year - self.age, T.month, T.day) - dt.timedelta(days=100)


class CodePicker:
    """Picks one code per codelist key (see module docstring), the same code every time."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self._membership: dict[str, int] = {}
        for cl in catalogue.codelists.values():
            for c in cl.codes:
                self._membership[c] = self._membership.get(c, 0) + 1
        self._cache: dict[str, str] = {}

    def code(self, key: str) -> str:
        if key in self._cache:
            return self._cache[key]
        name, *constraints = key.split()
        if name.isdigit():
            return name
        lists = self.catalogue.codelists
        if name not in lists:
            raise KeyError(f"no codelist {name!r} in the shipped catalogue")
        candidates = set(lists[name].codes)
        for c in constraints:
            other = lists[c[1:]].codes
            candidates = candidates & other if c[0] == "+" else candidates - other
        if not candidates:
            raise ValueError(f"no code satisfies {key!r}")
        code = min(candidates, key=lambda c: (self._membership.get(c, 0), c))
        self._cache[key] = code
        return code


PRACTICES_SCHEMA = pa.schema(
    [("ods_code", pa.string()), ("name", pa.string()), ("pcn", pa.string())]
)
PATIENTS_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("practice", pa.string()),
        ("date_of_birth", pa.date32()),
        ("sex", pa.string()),
        ("nhs_number", pa.string()),
        ("date_of_death", pa.date32()),
        ("registration_end", pa.date32()),
    ]
)
MEDICATIONS_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("issue_date", pa.date32()),
        ("dmd_code", pa.string()),
        ("name", pa.string()),
        ("quantity", pa.float64()),
        ("days_supply", pa.int32()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("patient_id", pa.string()),
        ("date", pa.date32()),
        ("snomed_code", pa.string()),
        ("term", pa.string()),
        ("value", pa.float64()),
        ("unit", pa.string()),
        ("comparator", pa.string()),
    ]
)
SCHEMAS = {
    "practices": PRACTICES_SCHEMA,
    "patients": PATIENTS_SCHEMA,
    "medications": MEDICATIONS_SCHEMA,
    "events": EVENTS_SCHEMA,
}


def own_practice(index: int) -> str:
    """The ODS-like code of the practice a patient has to themselves."""
    return f"Z{index:05d}"


def practice_of(patients: Sequence[P]) -> dict[str, str]:
    """patient name → practice code (own practice unless given)."""
    return {p.name: p.practice or own_practice(i) for i, p in enumerate(patients)}


def build_tables(patients: Iterable[P], catalogue: Catalogue) -> dict[str, pa.Table]:
    """The four canonical tables for ``patients``."""
    patients = list(patients)
    names = [p.name for p in patients]
    if len(set(names)) != len(names):
        raise ValueError("patient names must be unique")
    picker = CodePicker(catalogue)
    practice = practice_of(patients)
    pats, meds, evs = [], [], []
    for p in patients:
        pats.append(
            {
                "patient_id": p.name,
                "practice": practice[p.name],
                "date_of_birth": p.date_of_birth(),
                "sex": p.sex,
                "nhs_number": None,
                "date_of_death": d(p.died) if p.died else None,
                "registration_end": d(p.registration_end) if p.registration_end else None,
            }
        )
        for key, dates in p.issues.items():
            code = picker.code(key)
            for s in dates:
                meds.append(
                    {
                        "patient_id": p.name,
                        "issue_date": d(s),
                        "dmd_code": code,
                        "name": key,
                        "quantity": 28.0,
                        "days_supply": 28,
                    }
                )
        for key, items in p.events.items():
            code = picker.code(key)
            for item in items:
                date, value, comparator = _event(item)
                evs.append(
                    {
                        "patient_id": p.name,
                        "date": date,
                        "snomed_code": code,
                        "term": key,
                        "value": value,
                        "unit": None,
                        "comparator": comparator,
                    }
                )
    practices = [
        {"ods_code": code, "name": f"Practice {code}", "pcn": None}
        for code in sorted(set(practice.values()))
    ]
    rows = {"practices": practices, "patients": pats, "medications": meds, "events": evs}
    return {n: pa.Table.from_pylist(rows[n], schema=SCHEMAS[n]) for n in SCHEMAS}


def _event(item: EventItem) -> tuple[dt.date, float | None, str | None]:
    if isinstance(item, str):
        return d(item), None, None
    if len(item) == 2:
        return d(item[0]), float(item[1]), None
    return d(item[0]), float(item[1]), item[2]
