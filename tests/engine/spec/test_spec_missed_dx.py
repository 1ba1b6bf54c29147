"""Possible missed diagnoses: diabetes (HbA1c ≥ 48) and CKD (two eGFR < 60 ≥ 90 days apart).

As-of date T = 2026-11-23; (T − 730, T] starts after 2024-11-23. Denominator = the population
(registered and alive at T), so every living registered patient here is in both denominators.
"""

from __future__ import annotations

import pytest
from tests.engine.spec.harness import Case, Outcome, check_case, indicator_table, missed
from tests.engine.spec.population import P

RULES = ("missed_dx.diabetes", "missed_dx.ckd")
DM, CKD = RULES

CASES = [
    # --- diabetes ---
    Case(P("dm_hba1c_48", events={"hba1c": [("2026-06-01", 48)]}), {DM: missed("2026-06-01", 48)}),
    Case(P("dm_hba1c_47", events={"hba1c": [("2026-06-01", 47)]})),
    Case(
        P(
            "dm_hba1c_48_with_diabetes_code",
            events={"hba1c": [("2026-06-01", 48)], "diabetes": ["2015-03-01"]},
        )
    ),
    Case(P("dm_hba1c_48_then_40", events={"hba1c": [("2025-06-01", 48), ("2026-06-01", 40)]})),
    Case(
        P("dm_hba1c_40_then_50", events={"hba1c": [("2025-06-01", 40), ("2026-06-01", 50)]}),
        {DM: missed("2026-06-01", 50)},
    ),
    Case(
        # two values on the latest date, one ≥ 48: flagged, with the one meeting it
        P("dm_hba1c_tie_40_and_50", events={"hba1c": [("2026-06-01", 40), ("2026-06-01", 50)]}),
        {DM: missed("2026-06-01", 50)},
    ),
    Case(
        # ">48" uses the number 48, which is ≥ 48
        P("dm_hba1c_gt48_comparator", events={"hba1c": [("2026-06-01", 48, ">")]}),
        {DM: missed("2026-06-01", 48)},
    ),
    Case(
        # a result dated after T is not "on or before T"
        P("dm_hba1c_after_T_only", events={"hba1c": [("2026-11-24", 60)]}),
    ),
    Case(
        # the latest value-carrying HbA1c counts; a later HbA1c code without a value is ignored
        P("dm_hba1c_50_then_valueless_code", events={"hba1c": [("2026-06-01", 50), "2026-09-01"]}),
        {DM: missed("2026-06-01", 50)},
    ),
    Case(
        P("dm_hba1c_60_died", events={"hba1c": [("2026-06-01", 60)]}, died="2026-11-01"), den=False
    ),
    Case(
        P(
            "dm_hba1c_60_deregistered",
            events={"hba1c": [("2026-06-01", 60)]},
            registration_end="2026-11-23",
        ),
        den=False,
    ),
    # --- CKD ---
    Case(
        P("ckd_two_low_90_days_apart", events={"egfr": [("2026-06-01", 55), ("2026-08-30", 50)]}),
        {CKD: missed("2026-08-30", 50)},
    ),
    Case(P("ckd_two_low_89_days_apart", events={"egfr": [("2026-06-01", 55), ("2026-08-29", 50)]})),
    Case(
        P(
            "ckd_latest_60_not_low",
            events={"egfr": [("2026-01-01", 55), ("2026-06-01", 50), ("2026-09-01", 60)]},
        ),
    ),
    Case(
        P(
            "ckd_with_ckd_code",
            events={"egfr": [("2026-01-01", 55), ("2026-06-01", 50)], "ckd": ["2026-07-01"]},
        )
    ),
    Case(
        # the first low value on T − 730 is outside (T − 730, T]
        P(
            "ckd_first_low_on_T_minus_730",
            events={"egfr": [("2024-11-23", 50), ("2026-09-01", 50)]},
        ),
    ),
    Case(
        P(
            "ckd_first_low_on_T_minus_729",
            events={"egfr": [("2024-11-24", 50), ("2026-09-01", 52)]},
        ),
        {CKD: missed("2026-09-01", 52)},
    ),
    Case(
        # on the latest date a 65 and a 55: the latest eGFR < 60 holds (any of them), reported 55
        P(
            "ckd_latest_tie_65_and_55",
            events={"egfr": [("2026-01-01", 50), ("2026-06-01", 65), ("2026-06-01", 55)]},
        ),
        {CKD: missed("2026-06-01", 55)},
    ),
    Case(
        # three low values: the first and last are 104 days apart
        P(
            "ckd_three_low_values",
            events={"egfr": [("2026-01-01", 55), ("2026-02-01", 58), ("2026-04-15", 52)]},
        ),
        {CKD: missed("2026-04-15", 52)},
    ),
    Case(
        P(
            "ckd_and_diabetes_both",
            events={
                "egfr": [("2026-01-01", 55), ("2026-06-01", 50)],
                "hba1c": [("2026-06-01", 52)],
            },
        ),
        {CKD: missed("2026-06-01", 50), DM: missed("2026-06-01", 52)},
    ),
]

# Practice IND06, by hand: four patients, one dead.
#   ind_mx_a HbA1c 50, no diabetes code   → diabetes flagged
#   ind_mx_b HbA1c 50, diabetes code      → not flagged
#   ind_mx_c eGFR 50 and 45, 150 days apart, no CKD code → CKD flagged
#   ind_mx_d nothing coded                → in both denominators only
#   ind_mx_e died 2026-01-01 with HbA1c 70 → in no denominator
# missed_dx.diabetes (1, 4); missed_dx.ckd (1, 4)
IND = "IND06"
EXTRA_PATIENTS = [
    P("ind_mx_a", events={"hba1c": [("2026-06-01", 50)]}, practice=IND),
    P("ind_mx_b", events={"hba1c": [("2026-06-01", 50)], "diabetes": ["2020-01-01"]}, practice=IND),
    P("ind_mx_c", events={"egfr": [("2026-01-01", 50), ("2026-05-31", 45)]}, practice=IND),
    P("ind_mx_d", practice=IND),
    P("ind_mx_e", events={"hba1c": [("2025-06-01", 70)]}, died="2026-01-01", practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {DM: (1, 4), CKD: (1, 4)}
