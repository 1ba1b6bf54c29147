"""Warfarin (INR every 84 days) and DOACs (renal by Cockcroft–Gault; FBC and LFT every 365 days).

As-of date T = 2026-11-23. Cockcroft–Gault, worked by hand:
CrCl = (140 − age) × weight × (1.23 male | 1.04 female or unknown) / creatinine;
interval = 365, or 122 when age ≥ 75, or floor(CrCl / 10 × 30.4) when CrCl < 60 — the shortest;
122 without weight or creatinine. T − 113 = 2026-08-02, T − 122 = 2026-07-24, T − 103 = 2026-08-12.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.engine.spec.harness import (
    Case,
    Outcome,
    check_case,
    due_soon,
    indicator_table,
    merge,
    oor,
    overdue,
)
from tests.engine.spec.population import P

RULES = ("warfarin", "doac")
WARF = {"warfarin": ["2025-06-02", "2026-11-02"]}
DOAC = {"doac": ["2025-06-02", "2026-11-02"]}
FBC_LFT = {"fbc": ["2026-10-01"], "lft": ["2026-10-01"]}  # due 2027-10-01


def creat(day: str, *values: float) -> dict[str, list]:
    return {"creatinine": [(day, v) for v in values]}


def weight(day: str, *values: float) -> dict[str, list]:
    return {"weight": [(day, v) for v in values]}


CASES = [
    # --- warfarin ---
    Case(P("warf_never_tested", issues=WARF), {"warfarin.inr": overdue()}),
    Case(
        P("warf_inr_84_days_ago", issues=WARF, events={"inr": [("2026-08-31", 2.5)]}),
        {"warfarin.inr": overdue("2026-08-31", due="2026-11-23", days=0)},
    ),
    Case(
        P("warf_inr_83_days_ago", issues=WARF, events={"inr": [("2026-09-01", 2.5)]}),
        {"warfarin.inr": due_soon("2026-09-01", due="2026-11-24")},
    ),
    Case(
        # INR has no threshold in the catalogue: a high INR is not out_of_range
        P("warf_inr_5_no_threshold", issues=WARF, events={"inr": [("2026-10-01", 5.0)]}),
    ),
    Case(
        P("warf_stopped_90_days_ago", issues={"warfarin": ["2025-06-02", "2026-08-25"]}), den=False
    ),
    # --- DOAC renal interval ---
    Case(
        # female 80, 60 kg, creatinine 100: (140 − 80) × 60 × 1.04 / 100 = 37.44
        # → floor(37.44 / 10 × 30.4) = floor(113.8) = 113 days (shorter than 122 for age ≥ 75)
        # creatinine on T − 113 → due today
        P(
            "doac_f80_crcl_37_interval_113_due_today",
            age=80,
            sex="F",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 60), creat("2026-08-02", 100)),
        ),
        {"doac.renal": overdue("2026-08-02", due="2026-11-23", days=0)},
    ),
    Case(
        P(
            "doac_f80_crcl_37_interval_113_day_inside",
            age=80,
            sex="F",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 60), creat("2026-08-03", 100)),
        ),
        {"doac.renal": due_soon("2026-08-03", due="2026-11-24")},
    ),
    Case(
        # male 75, 80 kg, creatinine 80: 65 × 80 × 1.23 / 80 = 79.95 ≥ 60 → 122 (age ≥ 75)
        P(
            "doac_m75_interval_122",
            age=75,
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 80), creat("2026-07-24", 80)),
        ),
        {"doac.renal": overdue("2026-07-24", due="2026-11-23", days=0)},
    ),
    Case(
        # the same at 74 (birthday tomorrow): 66 × 80 × 1.23 / 80 = 81.18 → 365: due 2027-07-24
        P(
            "doac_m74_interval_365",
            dob="1951-11-24",
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 80), creat("2026-07-24", 80)),
        ),
    ),
    Case(
        # 75 today (born 1951-11-23): age ≥ 75 → 122
        P(
            "doac_m75_birthday_today",
            dob="1951-11-23",
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 80), creat("2026-07-24", 80)),
        ),
        {"doac.renal": overdue("2026-07-24", due="2026-11-23", days=0)},
    ),
    Case(
        # female 85, 50 kg, creatinine 150: 55 × 50 × 1.04 / 150 = 19.07 → floor(57.96) = 57 days;
        # creatinine 2026-11-01 is inside 57 days and CrCl < 30 → out_of_range, CrCl 19.1
        P(
            "doac_crcl_19_out_of_range",
            age=85,
            sex="F",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 50), creat("2026-11-01", 150)),
        ),
        {"doac.renal": oor("2026-11-01", 19.1, due="2026-12-28")},
    ),
    Case(
        # the same CrCl 19.07 (57 days) from a creatinine on 2026-09-01, older than 57 days; a renal
        # test without a value on 2026-11-01 keeps the test in date (due 2026-12-28): not flagged
        P(
            "doac_crcl_19_creatinine_outside_interval",
            age=85,
            sex="F",
            issues=DOAC,
            events=merge(
                FBC_LFT,
                weight("2026-06-01", 50),
                creat("2026-09-01", 150),
                {"renal": ["2026-11-01"]},
            ),
        ),
    ),
    Case(
        # no weight ever: interval 122 and the reason says CrCl could not be computed
        P(
            "doac_missing_weight",
            age=70,
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, creat("2026-07-24", 80)),
        ),
        {
            "doac.renal": replace(
                overdue("2026-07-24", due="2026-11-23", days=0),
                reason_has=("could not be computed",),
            )
        },
    ),
    Case(
        # no creatinine value (a renal test code without a value): 122 days
        P(
            "doac_missing_creatinine",
            age=70,
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 80), {"renal": ["2026-07-24"]}),
        ),
        {
            "doac.renal": replace(
                overdue("2026-07-24", due="2026-11-23", days=0),
                reason_has=("could not be computed",),
            )
        },
    ),
    Case(
        # sex unknown takes 1.04: 70 × 70 × 1.04 / 150 = 33.97 → floor(103.3) = 103 days
        # (with 1.23 it would be 40.18 → 122 days, and not due)
        P(
            "doac_sex_unknown_uses_1.04",
            age=70,
            sex="U",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 70), creat("2026-08-12", 150)),
        ),
        {"doac.renal": overdue("2026-08-12", due="2026-11-23", days=0)},
    ),
    Case(
        # male: 70 × 70 × 1.23 / 150 = 40.18 → floor(122.1) = 122 days: creatinine T − 103 in date
        P(
            "doac_male_uses_1.23",
            age=70,
            sex="M",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 70), creat("2026-08-12", 150)),
        ),
    ),
    Case(
        # two weights and two creatinines on the latest dates: lowest weight 60, highest creatinine
        # 100 → 37.44 → 113 days (70 kg and 90 would give 48.5 → 147 days, not due)
        P(
            "doac_ties_lowest_weight_highest_creatinine",
            age=80,
            sex="F",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2026-06-01", 70, 60), creat("2026-08-02", 90, 100)),
        ),
        {"doac.renal": overdue("2026-08-02", due="2026-11-23", days=0)},
    ),
    Case(
        # the latest weight however old (2019): still used → 113 days
        P(
            "doac_old_weight_still_used",
            age=80,
            sex="F",
            issues=DOAC,
            events=merge(FBC_LFT, weight("2019-05-01", 60), creat("2026-08-02", 100)),
        ),
        {"doac.renal": overdue("2026-08-02", due="2026-11-23", days=0)},
    ),
    Case(
        P("doac_never_tested", age=70, sex="M", issues=DOAC),
        {
            "doac.renal": overdue(),
            "doac.fbc": overdue(),
            "doac.lft": overdue(),
        },
    ),
    Case(
        P(
            "doac_fbc_lft_365_days_ago",
            age=60,
            sex="M",
            issues=DOAC,
            events=merge(
                {"fbc": ["2025-11-23"], "lft": ["2025-11-24"]},
                weight("2026-06-01", 80),
                creat("2026-10-01", 80),
            ),
        ),
        {
            "doac.fbc": overdue("2025-11-23", due="2026-11-23", days=0),
            "doac.lft": due_soon("2025-11-24", due="2026-11-24"),
        },
    ),
    Case(
        P("doac_shared_care", issues=DOAC, events={"secondary-care-monitoring": ["2026-01-05"]}),
        den=False,
    ),
]

# Practice IND03, by hand:
#   ind_w_a  warfarin, INR 2026-10-01          → in date
#   ind_w_b  warfarin, never tested            → overdue
#   ind_d_c  DOAC, male 60, 80 kg, creatinine 80 on 2026-10-01, FBC/LFT 2026-10-01 → in date
#   ind_d_d  DOAC, CrCl 19.1 out of range (not overdue), FBC/LFT in date
#   ind_d_e  DOAC, died 2026-10-01             → not in the population
# warfarin.inr: den 2, num 1; doac.renal/fbc/lft: den 2, num 2
IND = "IND03"
EXTRA_PATIENTS = [
    P("ind_w_a", issues=WARF, events={"inr": [("2026-10-01", 2.4)]}, practice=IND),
    P("ind_w_b", issues=WARF, practice=IND),
    P(
        "ind_d_c",
        age=60,
        sex="M",
        issues=DOAC,
        practice=IND,
        events=merge(FBC_LFT, weight("2026-06-01", 80), creat("2026-10-01", 80)),
    ),
    P(
        "ind_d_d",
        age=85,
        sex="F",
        issues=DOAC,
        practice=IND,
        events=merge(FBC_LFT, weight("2026-06-01", 50), creat("2026-11-01", 150)),
    ),
    P("ind_d_e", issues=DOAC, died="2026-10-01", practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {
        "warfarin.inr": (1, 2),
        "doac.renal": (2, 2),
        "doac.fbc": (2, 2),
        "doac.lft": (2, 2),
    }
