"""Amiodarone, digoxin, spironolactone, ACE inhibitor/ARB or loop diuretic at 75+, levothyroxine.

As-of date T = 2026-11-23. Amiodarone: TFT and LFT every 182 days (T − 182 = 2026-05-25),
TSH > 10 out of range. Digoxin: renal every 365 (T − 365 = 2025-11-23), potassium < 3.5.
Spironolactone: renal ≤28 days: 7; ≤120: 30; then 182; potassium > 5.5, eGFR < 30.
ace-loop-75 (PINCER MO_P13): age ≥ 75, an issue of either drug in (T − 182, T], first issue ≥ 456
days before T (T − 456 = 2025-08-24); renal and electrolytes every 456 days.
Levothyroxine: TSH ≤182 days: 91; then 365.
"""

from __future__ import annotations

import pytest
from tests.engine.spec.harness import (
    Case,
    Outcome,
    check_case,
    due_soon,
    each,
    indicator_table,
    merge,
    oor,
    overdue,
)
from tests.engine.spec.population import P

RULES = ("amiodarone", "digoxin", "spironolactone", "ace-loop-75", "levothyroxine")
AMIO = {"amiodarone": ["2025-06-02", "2026-11-02"]}
DIG = {"digoxin": ["2025-06-02", "2026-11-02"]}
SPIRO = {"spironolactone": ["2025-06-02", "2026-11-02"]}
ACE = {"ace-inhibitor-arb": ["2025-01-06", "2026-11-02"]}  # first issue T − 686
LEVO = {"levothyroxine": ["2025-06-02", "2026-11-02"]}


def done(day: str, *tests: str) -> dict[str, list]:
    return {t: [day] for t in tests}


AMIO_IN_DATE = done("2026-10-01", "tft", "lft")  # due 2027-04-01

CASES = [
    # --- amiodarone ---
    Case(P("amio_never_tested", issues=AMIO), each("amiodarone", ("tft", "lft"), overdue())),
    Case(
        P(
            "amio_tsh_10.1_high",
            issues=AMIO,
            events=merge(AMIO_IN_DATE, {"tsh": [("2026-10-01", 10.1)]}),
        ),
        {"amiodarone.tft": oor("2026-10-01", 10.1, due="2027-04-01")},
    ),
    Case(
        P(
            "amio_tsh_10_not_high",
            issues=AMIO,
            events=merge(AMIO_IN_DATE, {"tsh": [("2026-10-01", 10)]}),
        )
    ),
    Case(
        # ">10" uses the number 10: not above 10
        P(
            "amio_tsh_gt10_comparator",
            issues=AMIO,
            events=merge(AMIO_IN_DATE, {"tsh": [("2026-10-01", 10, ">")]}),
        ),
    ),
    Case(
        P(
            "amio_tft_182_lft_181_days_ago",
            issues=AMIO,
            events=merge(done("2026-05-25", "tft"), done("2026-05-26", "lft")),
        ),
        {
            "amiodarone.tft": overdue("2026-05-25", due="2026-11-23", days=0),
            "amiodarone.lft": due_soon("2026-05-26", due="2026-11-24"),
        },
    ),
    # --- digoxin ---
    Case(P("dig_never_tested", issues=DIG), {"digoxin.renal": overdue()}),
    Case(
        P(
            "dig_potassium_3.4_low",
            issues=DIG,
            events=merge(done("2026-10-01", "renal"), {"potassium": [("2026-10-01", 3.4)]}),
        ),
        {"digoxin.renal": oor("2026-10-01", 3.4, due="2027-10-01")},
    ),
    Case(
        P(
            "dig_potassium_3.5_not_low",
            issues=DIG,
            events=merge(done("2026-10-01", "renal"), {"potassium": [("2026-10-01", 3.5)]}),
        )
    ),
    Case(
        P(
            "dig_potassium_tie_one_low",
            issues=DIG,
            events=merge(
                done("2026-10-01", "renal"),
                {"potassium": [("2026-10-01", 4.0), ("2026-10-01", 3.4)]},
            ),
        ),
        {"digoxin.renal": oor("2026-10-01", 3.4, due="2027-10-01")},
    ),
    Case(
        # potassium 3.4 on T − 365 is outside (T − 365, T]; renal test 2026-10-01 without value
        P(
            "dig_low_potassium_365_days_ago",
            issues=DIG,
            events=merge(done("2026-10-01", "renal"), {"potassium": [("2025-11-23", 3.4)]}),
        ),
    ),
    Case(
        P("dig_renal_365_days_ago", issues=DIG, events=done("2025-11-23", "renal")),
        {"digoxin.renal": overdue("2025-11-23", due="2026-11-23", days=0)},
    ),
    # --- spironolactone ---
    Case(
        # first issue 2026-10-26 = day 28 → every 7 days; renal T − 7
        P(
            "spiro_day_28_interval_7",
            issues={"spironolactone": ["2026-10-26", "2026-11-16"]},
            events=done("2026-11-16", "renal"),
        ),
        {"spironolactone.renal": overdue("2026-11-16", due="2026-11-23", days=0)},
    ),
    Case(
        # day 29 → every 30 days: due 2026-12-16, after T + 14
        P(
            "spiro_day_29_interval_30",
            issues={"spironolactone": ["2026-10-25", "2026-11-16"]},
            events=done("2026-11-16", "renal"),
        ),
    ),
    Case(
        # day 120 → every 30 days; renal T − 30 → due today
        P(
            "spiro_day_120_interval_30",
            issues={"spironolactone": ["2026-07-26", "2026-11-02"]},
            events=done("2026-10-24", "renal"),
        ),
        {"spironolactone.renal": overdue("2026-10-24", due="2026-11-23", days=0)},
    ),
    Case(
        # day 121 → every 182 days: due 2027-04-24
        P(
            "spiro_day_121_interval_182",
            issues={"spironolactone": ["2026-07-25", "2026-11-02"]},
            events=done("2026-10-24", "renal"),
        ),
    ),
    Case(
        P(
            "spiro_potassium_5.6_high",
            issues=SPIRO,
            events=merge(done("2026-10-01", "renal"), {"potassium": [("2026-10-01", 5.6)]}),
        ),
        {"spironolactone.renal": oor("2026-10-01", 5.6, due="2027-04-01")},
    ),
    Case(
        P(
            "spiro_potassium_5.5_not_high",
            issues=SPIRO,
            events=merge(done("2026-10-01", "renal"), {"potassium": [("2026-10-01", 5.5)]}),
        )
    ),
    Case(
        P(
            "spiro_egfr_29_low",
            issues=SPIRO,
            events=merge(done("2026-10-01", "renal"), {"egfr": [("2026-10-01", 29)]}),
        ),
        {"spironolactone.renal": oor("2026-10-01", 29, due="2027-04-01")},
    ),
    Case(
        P(
            "spiro_egfr_30_not_low",
            issues=SPIRO,
            events=merge(done("2026-10-01", "renal"), {"egfr": [("2026-10-01", 30)]}),
        )
    ),
    Case(
        # both breach: the first threshold in rule order (potassium) is reported
        P(
            "spiro_potassium_and_egfr_both",
            issues=SPIRO,
            events=merge(
                done("2026-10-01", "renal"),
                {"potassium": [("2026-10-01", 6.0)], "egfr": [("2026-10-01", 25)]},
            ),
        ),
        {"spironolactone.renal": oor("2026-10-01", 6.0, due="2027-04-01")},
    ),
    # --- ace-loop-75 ---
    Case(
        P("ace_age_75_never_tested", age=75, issues=ACE),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(P("ace_age_74_birthday_tomorrow", dob="1951-11-24", issues=ACE), den=False),
    Case(
        P("ace_age_75_birthday_today", dob="1951-11-23", issues=ACE),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(
        # first issue 2025-08-24 = T − 456: long enough
        P(
            "ace_first_issue_456_days_ago",
            age=80,
            issues={"ace-inhibitor-arb": ["2025-08-24", "2026-11-02"]},
        ),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(
        P(
            "ace_first_issue_455_days_ago",
            age=80,
            issues={"ace-inhibitor-arb": ["2025-08-25", "2026-11-02"]},
        ),
        den=False,
    ),
    Case(
        # last issue T − 182: not in (T − 182, T]
        P(
            "ace_last_issue_182_days_ago",
            age=80,
            issues={"ace-inhibitor-arb": ["2025-01-06", "2026-05-25"]},
        ),
        den=False,
    ),
    Case(
        P(
            "ace_last_issue_181_days_ago",
            age=80,
            issues={"ace-inhibitor-arb": ["2025-01-06", "2026-05-26"]},
        ),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(
        # issues pooled: loop diuretic first 2025-01-06, ACE inhibitor only recently
        P(
            "ace_loop_pooled_first_issue",
            age=80,
            issues={
                "loop-diuretic": ["2025-01-06"],
                "ace-inhibitor-arb": ["2026-10-01", "2026-11-02"],
            },
        ),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(
        P("ace_loop_only", age=80, issues={"loop-diuretic": ["2025-01-06", "2026-11-02"]}),
        each("ace-loop-75", ("renal", "electrolytes"), overdue()),
    ),
    Case(
        P(
            "ace_tests_456_days_ago",
            age=80,
            issues=ACE,
            events=done("2025-08-24", "renal", "electrolytes"),
        ),
        each(
            "ace-loop-75",
            ("renal", "electrolytes"),
            overdue("2025-08-24", due="2026-11-23", days=0),
        ),
    ),
    Case(
        P(
            "ace_tests_455_days_ago",
            age=80,
            issues=ACE,
            events=done("2025-08-25", "renal", "electrolytes"),
        ),
        each("ace-loop-75", ("renal", "electrolytes"), due_soon("2025-08-25", due="2026-11-24")),
    ),
    # --- levothyroxine ---
    Case(P("levo_never_tested", issues=LEVO), {"levothyroxine.tsh": overdue()}),
    Case(
        # first issue 2026-05-25 = day 182 → every 91 days; TSH T − 91 → due today
        P(
            "levo_day_182_interval_91",
            issues={"levothyroxine": ["2026-05-25", "2026-11-02"]},
            events={"tsh": [("2026-08-24", 3.0)]},
        ),
        {"levothyroxine.tsh": overdue("2026-08-24", due="2026-11-23", days=0)},
    ),
    Case(
        # day 183 → every 365 days: due 2027-08-24
        P(
            "levo_day_183_interval_365",
            issues={"levothyroxine": ["2026-05-24", "2026-11-02"]},
            events={"tsh": [("2026-08-24", 3.0)]},
        ),
    ),
    Case(
        P("levo_tsh_365_days_ago", issues=LEVO, events={"tsh": [("2025-11-23", 3.0)]}),
        {"levothyroxine.tsh": overdue("2025-11-23", due="2026-11-23", days=0)},
    ),
    Case(
        P("levo_tsh_364_days_ago", issues=LEVO, events={"tsh": [("2025-11-24", 3.0)]}),
        {"levothyroxine.tsh": due_soon("2025-11-24", due="2026-11-24")},
    ),
    Case(
        # no threshold for levothyroxine in the catalogue
        P("levo_tsh_20_no_threshold", issues=LEVO, events={"tsh": [("2026-10-01", 20)]}),
    ),
]

# Practice IND04, by hand:
#   ind_cv_a amiodarone, TSH 12 on 2026-10-01, LFT 2026-10-01 → tft out_of_range (not overdue)
#   ind_cv_b amiodarone, never tested                       → tft, lft overdue
#   ind_cv_c ACE inhibitor, age 80, never tested            → renal, electrolytes overdue
#   ind_cv_d ACE inhibitor, age 70                          → not in the at-75 denominator
#   ind_cv_e levothyroxine, TSH 2026-10-01                  → in date
# amiodarone.tft: den 2, num 1; amiodarone.lft: den 2, num 1;
# ace-loop-75.renal / .electrolytes: den 1, num 0; levothyroxine.tsh: den 1, num 1
IND = "IND04"
EXTRA_PATIENTS = [
    P(
        "ind_a",
        issues=AMIO,
        practice=IND,
        events=merge(AMIO_IN_DATE, {"tsh": [("2026-10-01", 12)]}),
    ),
    P("ind_cv_b", issues=AMIO, practice=IND),
    P("ind_cv_c", age=80, issues=ACE, practice=IND),
    P("ind_cv_d", age=70, issues=ACE, practice=IND),
    P("ind_cv_e", issues=LEVO, events={"tsh": [("2026-10-01", 2.0)]}, practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {
        "amiodarone.tft": (1, 2),
        "amiodarone.lft": (1, 2),
        "ace-loop-75.renal": (0, 1),
        "ace-loop-75.electrolytes": (0, 1),
        "levothyroxine.tsh": (1, 1),
    }
