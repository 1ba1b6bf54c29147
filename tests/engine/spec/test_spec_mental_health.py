"""Lithium, antipsychotics and clozapine (specialist-monitored).

As-of date T = 2026-11-23. Lithium level: ≤28 days: every 7; ≤365: 91; then 91. Renal, thyroid,
calcium and weight: every 182 days (T − 182 = 2026-05-25). Antipsychotic tests: every 365 days
(T − 365 = 2025-11-23). Most patients had their tests on 2026-10-01: due 2026-12-31 at 91 days,
2027-04-01 at 182.
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

RULES = ("lithium", "antipsychotic", "clozapine")
LI_TESTS = ("lithium-level", "renal", "tft", "calcium", "weight")
LI_182 = ("renal", "tft", "calcium", "weight")
AP_TESTS = ("blood-pressure", "hba1c", "lipids", "weight")

LI = {"lithium": ["2025-06-02", "2026-11-02"]}  # first issue day 539: maintenance
AP = {"antipsychotic": ["2025-06-02", "2026-11-02"]}
CLOZ = {"clozapine": ["2025-06-02", "2026-11-02"]}


def done(day: str, tests: tuple[str, ...]) -> dict[str, list]:
    return {t: [day] for t in tests}


def li_level(day: str, value: float) -> dict[str, list]:
    return {"lithium-level": [(day, value)]}


LI_IN_DATE = merge(li_level("2026-10-01", 0.7), done("2026-10-01", LI_182))

CASES = [
    Case(P("li_never_tested", issues=LI), each("lithium", LI_TESTS, overdue())),
    Case(P("li_all_in_date", issues=LI, events=LI_IN_DATE)),
    Case(
        # level every 91 days: last level T − 91 → due today
        P(
            "li_level_on_boundary_day",
            issues=LI,
            events=merge(li_level("2026-08-24", 0.6), done("2026-10-01", LI_182)),
        ),
        {"lithium.lithium-level": overdue("2026-08-24", due="2026-11-23", days=0)},
    ),
    Case(
        P(
            "li_level_one_day_inside",
            issues=LI,
            events=merge(li_level("2026-08-25", 0.6), done("2026-10-01", LI_182)),
        ),
        {"lithium.lithium-level": due_soon("2026-08-25", due="2026-11-24")},
    ),
    Case(
        # first issue 2026-10-26 = day 28 → level every 7 days; level T − 7 → due today
        P(
            "li_day_28_interval_7",
            issues={"lithium": ["2026-10-26", "2026-11-16"]},
            events=merge(li_level("2026-11-16", 0.5), done("2026-10-20", LI_182)),
        ),
        {"lithium.lithium-level": overdue("2026-11-16", due="2026-11-23", days=0)},
    ),
    Case(
        # day 29 → every 91 days: due 2027-02-15
        P(
            "li_day_29_interval_91",
            issues={"lithium": ["2026-10-25", "2026-11-16"]},
            events=merge(li_level("2026-11-16", 0.5), done("2026-10-20", LI_182)),
        ),
    ),
    Case(
        P(
            "li_level_1.1_high",
            issues=LI,
            events=merge(li_level("2026-10-01", 1.1), done("2026-10-01", LI_182)),
        ),
        {"lithium.lithium-level": oor("2026-10-01", 1.1, due="2026-12-31")},
    ),
    Case(
        P(
            "li_level_1.0_not_high",
            issues=LI,
            events=merge(li_level("2026-10-01", 1.0), done("2026-10-01", LI_182)),
        ),
    ),
    Case(
        P(
            "li_level_0.3_low",
            issues=LI,
            events=merge(li_level("2026-10-01", 0.3), done("2026-10-01", LI_182)),
        ),
        {"lithium.lithium-level": oor("2026-10-01", 0.3, due="2026-12-31")},
    ),
    Case(
        P(
            "li_level_0.4_not_low",
            issues=LI,
            events=merge(li_level("2026-10-01", 0.4), done("2026-10-01", LI_182)),
        ),
    ),
    Case(
        # "<0.2" uses the number 0.2: below 0.4
        P(
            "li_level_lt_comparator",
            issues=LI,
            events=merge({"lithium-level": [("2026-10-01", 0.2, "<")]}, done("2026-10-01", LI_182)),
        ),
        {"lithium.lithium-level": oor("2026-10-01", 0.2, due="2026-12-31")},
    ),
    Case(
        # two levels on the latest date, one high, one low: the first threshold (> 1.0) reports
        P(
            "li_level_tie_high_and_low",
            issues=LI,
            events=merge(
                {"lithium-level": [("2026-10-01", 1.2), ("2026-10-01", 0.3)]},
                done("2026-10-01", LI_182),
            ),
        ),
        {"lithium.lithium-level": oor("2026-10-01", 1.2, due="2026-12-31")},
    ),
    Case(
        P("li_egfr_44_low", issues=LI, events=merge(LI_IN_DATE, {"egfr": [("2026-10-01", 44)]})),
        {"lithium.renal": oor("2026-10-01", 44, due="2027-04-01")},
    ),
    Case(
        P("li_egfr_45_not_low", issues=LI, events=merge(LI_IN_DATE, {"egfr": [("2026-10-01", 45)]}))
    ),
    Case(
        # eGFR 44 on 2026-05-26 (T − 181) is inside the 182-day interval; the renal test on
        # 2026-10-01 (no value) sets the due date
        P(
            "li_egfr_44_at_181_days",
            issues=LI,
            events=merge(LI_IN_DATE, {"egfr": [("2026-05-26", 44)]}),
        ),
        {"lithium.renal": oor("2026-05-26", 44, due="2027-04-01")},
    ),
    Case(
        # eGFR 44 on 2026-05-25 (T − 182) is not in (T − 182, T]
        P(
            "li_egfr_44_at_182_days",
            issues=LI,
            events=merge(LI_IN_DATE, {"egfr": [("2026-05-25", 44)]}),
        ),
    ),
    Case(
        P(
            "li_renal_on_boundary_day",
            issues=LI,
            events=merge(
                li_level("2026-10-01", 0.7),
                done("2026-10-01", ("tft", "calcium", "weight")),
                {"renal": ["2026-05-25"]},
            ),
        ),
        {"lithium.renal": overdue("2026-05-25", due="2026-11-23", days=0)},
    ),
    Case(
        P(
            "li_thyroid_calcium_weight_one_day_inside",
            issues=LI,
            events=merge(
                li_level("2026-10-01", 0.7),
                {"renal": ["2026-10-01"]},
                done("2026-05-26", ("tft", "calcium", "weight")),
            ),
        ),
        each("lithium", ("tft", "calcium", "weight"), due_soon("2026-05-26", due="2026-11-24")),
    ),
    Case(
        P(
            "li_shared_care_excluded",
            issues=LI,
            events={"secondary-care-monitoring": ["2026-03-01"]},
        ),
        den=False,
    ),
    Case(P("li_stopped_90_days_ago", issues={"lithium": ["2025-06-02", "2026-08-25"]}), den=False),
    # --- antipsychotics (every 365 days) ---
    Case(P("ap_never_tested", issues=AP), each("antipsychotic", AP_TESTS, overdue())),
    Case(
        P("ap_tested_365_days_ago", issues=AP, events=done("2025-11-23", AP_TESTS)),
        each("antipsychotic", AP_TESTS, overdue("2025-11-23", due="2026-11-23", days=0)),
    ),
    Case(
        P("ap_tested_364_days_ago", issues=AP, events=done("2025-11-24", AP_TESTS)),
        each("antipsychotic", AP_TESTS, due_soon("2025-11-24", due="2026-11-24")),
    ),
    Case(P("ap_in_date", issues=AP, events=done("2026-10-01", AP_TESTS))),
    # --- clozapine: specialist-monitored, never flagged by the antipsychotic rule ---
    Case(P("cloz_only", issues=CLOZ), den=False),
    Case(
        # every other rule applies as usual: lithium is flagged
        P("cloz_and_lithium", issues=merge(CLOZ, LI)),
        each("lithium", LI_TESTS, overdue()),
    ),
    Case(
        # on clozapine and another antipsychotic: the antipsychotic rule applies as usual
        P("cloz_and_other_antipsychotic", issues=merge(CLOZ, AP)),
        each("antipsychotic", AP_TESTS, overdue()),
    ),
    Case(
        P("cloz_stopped_90_days_ago", issues={"clozapine": ["2025-06-02", "2026-08-25"]}), den=False
    ),
]
SPECIALIST = {"cloz_only", "cloz_and_lithium", "cloz_and_other_antipsychotic", "ind_cloz_d"}

# Practice IND02, by hand:
#   ind_li_a   lithium, never tested                        → all 5 tests overdue
#   ind_li_b   lithium, everything on 2026-10-01            → in date
#   ind_li_c   lithium, level 2026-08-01, rest 2026-10-01   → level overdue
#   ind_cloz_d clozapine only                               → specialist list, no denominators
#   ind_ap_e   antipsychotic, tests 2026-10-01              → in date
#   ind_ap_f   antipsychotic, never tested                  → all 4 overdue
# lithium.lithium-level: den a b c = 3, num b = 1
# lithium.renal/tft/calcium/weight: den 3, num b c = 2
# antipsychotic.*: den e f = 2, num e = 1
IND = "IND02"
EXTRA_PATIENTS = [
    P("ind_li_a", issues=LI, practice=IND),
    P("ind_li_b", issues=LI, events=LI_IN_DATE, practice=IND),
    P(
        "ind_li_c",
        issues=LI,
        practice=IND,
        events=merge(li_level("2026-08-01", 0.6), done("2026-10-01", LI_182)),
    ),
    P("ind_cloz_d", issues=CLOZ, practice=IND),
    P("ind_ap_e", issues=AP, events=done("2026-10-01", AP_TESTS), practice=IND),
    P("ind_ap_f", issues=AP, practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_clozapine_listed_as_specialist_monitored(spec: Outcome) -> None:
    listed = {r["patient_id"] for r in spec.specialist()}
    assert listed == SPECIALIST
    # every clozapine patient here was last issued clozapine on 2026-11-02
    assert {str(r["last_issue_date"])[:10] for r in spec.specialist()} == {"2026-11-02"}


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {
        "lithium.lithium-level": (1, 3),
        "lithium.renal": (2, 3),
        "lithium.tft": (2, 3),
        "lithium.calcium": (2, 3),
        "lithium.weight": (2, 3),
        "antipsychotic.blood-pressure": (1, 2),
        "antipsychotic.hba1c": (1, 2),
        "antipsychotic.lipids": (1, 2),
        "antipsychotic.weight": (1, 2),
    }
