"""Random small populations for agreement tests: dates near the catalogue's boundaries, values
near its thresholds, ties on a date, comparators, and codes drawn from every codelist (overlaps
included).

``random_tables(rnd, n, catalogue)`` takes a ``random.Random`` so that Hypothesis can drive it
(``st.randoms()``) and a plain seed can too.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
from tests.engine.spec.population import SCHEMAS, T

from rxwatch.rules.catalogue import Catalogue

# days before T that sit on or next to a boundary of some rule (negative: after T)
OFFSETS = (
    *range(0, 16),
    *(27, 28, 29, 30, 31, 41, 42, 43, 44, 56, 57, 58, 69, 70, 71, 83, 84, 85),
    *(88, 89, 90, 91, 92, 102, 103, 104, 112, 113, 114, 119, 120, 121, 122, 123),
    *(132, 133, 134, 135, 180, 181, 182, 183, 184, 363, 364, 365, 366, 367),
    *(454, 455, 456, 457, 458, 728, 729, 730, 731, 1000, 2000),
    -1,
    -30,
)
DRUGS = (
    "methotrexate",
    "leflunomide",
    "azathioprine",
    "mercaptopurine",
    "sulfasalazine",
    "mycophenolate",
    "lithium",
    "amiodarone",
    "warfarin",
    "doac",
    "antipsychotic",
    "clozapine",
    "valproate",
    "levothyroxine",
    "spironolactone",
    "digoxin",
    "ace-inhibitor-arb",
    "loop-diuretic",
    "nsaid-oral",
    "ppi",
    "aspirin",
    "antiplatelet-non-aspirin",
    "beta-blocker-non-selective",
)
# analyte codelist → values near its thresholds
VALUES: dict[str, tuple[float, ...]] = {
    "wbc": (3.4, 3.5, 3.6, 6.0),
    "neutrophils": (1.5, 1.6, 1.9, 2.0, 4.0),
    "platelets": (139, 140, 141, 250),
    "alt": (99, 100, 101, 20),
    "ast": (99, 100, 101, 25),
    "albumin": (29, 30, 31, 40),
    "egfr": (29, 30, 44, 45, 46, 59, 60, 61, 90),
    "creatinine": (45, 60, 80, 100, 125.5, 150, 210, 400),
    "weight": (40, 52.5, 60, 71.3, 85, 110),
    "potassium": (3.4, 3.5, 3.6, 5.5, 5.6, 4.2),
    "lithium-level": (0.3, 0.4, 0.5, 1.0, 1.1),
    "tsh": (0.2, 2.0, 10, 10.1, 20),
    "systolic-bp": (120, 140, 141, 160),
    "hba1c": (40, 47, 48, 49, 60),
    "inr": (2.5, 5.0),
}
EVENT_LISTS = (
    "fbc",
    "lft",
    "renal",
    "electrolytes",
    "tft",
    "calcium",
    "inr",
    "lipids",
    "blood-pressure",
    "asthma",
    "asthma-resolved",
    "heart-failure",
    "peptic-ulcer-gi-bleed",
    "diabetes",
    "ckd",
    "secondary-care-monitoring",
    "valproate-ppp",
)
AGES = (11, 12, 30, 55, 56, 60, 64, 65, 70, 74, 75, 80, 90)


def _day(rnd: random.Random, *, future: bool = True) -> dt.date:
    if rnd.random() < 0.75:
        offset = rnd.choice(OFFSETS)
        if offset < 0 and not future:
            offset = -offset
    else:
        offset = rnd.randint(0, 800)
    return T - dt.timedelta(days=offset)


def _dob(rnd: random.Random) -> dt.date:
    age = rnd.choice(AGES) if rnd.random() < 0.8 else rnd.randint(18, 99)
    shift = rnd.choice((0, 0, -1, 1, 100))  # birthday today, tomorrow, yesterday, or long ago
    birthday = dt.date(T.year - age, T.month, T.day)
    return birthday + dt.timedelta(days=shift) if shift != 100 else birthday - dt.timedelta(100)


def random_tables(rnd: random.Random, n: int, catalogue: Catalogue) -> dict[str, pa.Table]:
    """``n`` random patients in three practices, as the four canonical tables."""
    lists = catalogue.codelists
    codes = {name: sorted(cl.codes) for name, cl in lists.items()}
    practices = ["A00001", "A00002", "A00003"]
    pats, meds, evs = [], [], []
    for i in range(n):
        pid = f"p{i:04d}"
        pats.append(
            {
                "patient_id": pid,
                "practice": rnd.choice(practices),
                "date_of_birth": _dob(rnd),
                "sex": rnd.choice("FFMMU"),
                "nhs_number": None,
                "date_of_death": _day(rnd) if rnd.random() < 0.05 else None,
                "registration_end": _day(rnd) if rnd.random() < 0.05 else None,
            }
        )
        for drug in rnd.sample(DRUGS, rnd.choice((0, 1, 1, 2, 2, 3))):
            if drug not in codes:
                continue
            for _ in range(rnd.randint(1, 3)):
                meds.append(
                    {
                        "patient_id": pid,
                        "issue_date": _day(rnd, future=False),
                        "dmd_code": rnd.choice(codes[drug]),
                        "name": drug,
                        "quantity": 28.0,
                        "days_supply": 28,
                    }
                )
        for _ in range(rnd.randint(0, 8)):
            valued = rnd.random() < 0.6
            name = rnd.choice(tuple(VALUES) if valued else EVENT_LISTS)
            if name not in codes:
                continue
            day = _day(rnd)
            for _ in range(2 if rnd.random() < 0.15 else 1):  # ties on a date
                value = rnd.choice(VALUES[name]) if valued else None
                comparator = None
                if value is not None and rnd.random() < 0.1:
                    comparator = rnd.choice((">", "<"))
                evs.append(
                    {
                        "patient_id": pid,
                        "date": day,
                        "snomed_code": rnd.choice(codes[name]),
                        "term": name,
                        "value": value,
                        "unit": None,
                        "comparator": comparator,
                    }
                )
    rows = {
        "practices": [{"ods_code": p, "name": f"Practice {p}", "pcn": None} for p in practices],
        "patients": pats,
        "medications": meds,
        "events": evs,
    }
    return {name: pa.Table.from_pylist(rows[name], schema=SCHEMAS[name]) for name in SCHEMAS}
