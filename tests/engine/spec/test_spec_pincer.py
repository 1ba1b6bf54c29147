"""PINCER safety alerts and valproate Pregnancy Prevention Programme.

As-of date T = 2026-11-23. "Recent" = an issue in (T − 90, T]: 2026-08-26 is recent, 2026-08-25
is not. "History of" = an event on or before T − 90 = 2026-08-25. "Co-prescribed" = issued within
28 days of each other, both recent. Everyone is 60 and female unless said, so in no at-risk
group by default; ``den`` lists the alerts whose at-risk group (denominator) each patient is in.
A safety_alert row's last_date is the latest recent issue of a drug the hazard names.
"""

from __future__ import annotations

import pytest
from tests.engine.spec.harness import Case, Outcome, alert, check_case, indicator_table
from tests.engine.spec.population import P

RULES = (
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
A, B, C, D, E, F = (f"pincer.gi_p3{x}" for x in "abcdef")
G, I, K, PPP = "pincer.as_p3g", "pincer.hf_p3i", "pincer.ki_p3k", "valproate.ppp"  # noqa: E741

NSAID = {"nsaid-oral": ["2026-09-01", "2026-11-02"]}
PPI = {"ppi": ["2026-11-02"]}
ULCER = {"peptic-ulcer-gi-bleed": ["2020-01-01"]}
VPA = {"valproate": ["2026-06-01", "2026-10-15", "2026-11-02"]}

CASES = [
    # --- gi_p3a: age ≥ 65, no PPI; hazard recent oral NSAID ---
    Case(P("p3a_age65_nsaid", age=65, issues=NSAID), {A: alert("2026-11-02")}, den={A}),
    Case(
        P("p3a_age65_birthday_today_nsaid", dob="1961-11-23", issues=NSAID),
        {A: alert("2026-11-02")},
        den={A},
    ),
    Case(P("p3a_age64_birthday_tomorrow_nsaid", dob="1961-11-24", issues=NSAID), den=()),
    Case(P("p3a_age70_nsaid_with_ppi", age=70, issues={**NSAID, **PPI}), den=()),
    Case(P("p3a_age70_no_nsaid", age=70), den={A}),
    Case(P("p3a_age70_nsaid_90_days_ago", age=70, issues={"nsaid-oral": ["2026-08-25"]}), den={A}),
    Case(
        P("p3a_age70_nsaid_89_days_ago", age=70, issues={"nsaid-oral": ["2026-08-26"]}),
        {A: alert("2026-08-26")},
        den={A},
    ),
    Case(
        # a PPI issued T − 90 is not recent: no protection
        P("p3a_age70_ppi_90_days_ago", age=70, issues={**NSAID, "ppi": ["2026-08-25"]}),
        {A: alert("2026-11-02")},
        den={A},
    ),
    Case(P("p3a_age70_nsaid_died", age=70, issues=NSAID, died="2026-11-10"), den=()),
    Case(
        P("p3a_age70_nsaid_deregistered", age=70, issues=NSAID, registration_end="2026-11-10"),
        den=(),
    ),
    # --- gi_p3b / gi_p3c: history of peptic ulcer or GI bleed, no PPI ---
    Case(
        # ulcer coded T − 90: counts as history
        P(
            "p3b_ulcer_90_days_ago_nsaid",
            issues=NSAID,
            events={"peptic-ulcer-gi-bleed": ["2026-08-25"]},
        ),
        {B: alert("2026-11-02")},
        den={B, C},
    ),
    Case(
        P(
            "p3b_ulcer_89_days_ago_nsaid",
            issues=NSAID,
            events={"peptic-ulcer-gi-bleed": ["2026-08-26"]},
        ),
        den=(),
    ),
    Case(P("p3b_ulcer_nsaid_with_ppi", issues={**NSAID, **PPI}, events=ULCER), den=()),
    Case(
        # recent aspirin without a PPI also puts the patient in gi_p3f's at-risk group
        P("p3c_ulcer_aspirin", issues={"aspirin": ["2026-10-20"]}, events=ULCER),
        {C: alert("2026-10-20")},
        den={B, C, F},
    ),
    Case(
        P(
            "p3c_ulcer_clopidogrel",
            issues={"antiplatelet-non-aspirin": ["2026-10-21"]},
            events=ULCER,
        ),
        {C: alert("2026-10-21")},
        den={B, C},
    ),
    Case(
        P("p3c_ulcer_aspirin_90_days_ago", issues={"aspirin": ["2026-08-25"]}, events=ULCER),
        den={B, C},
    ),
    # --- gi_p3d / gi_p3e: recent warfarin or DOAC ---
    Case(
        P("p3d_warfarin_nsaid", issues={"warfarin": ["2026-10-10"], **NSAID}),
        {D: alert("2026-11-02")},
        den={D, E},
    ),
    Case(
        P("p3d_doac_nsaid_with_ppi", issues={"doac": ["2026-10-10"], **NSAID, **PPI}),
        {D: alert("2026-11-02")},
        den={D},
    ),
    Case(P("p3d_warfarin_90_days_ago_nsaid", issues={"warfarin": ["2026-08-25"], **NSAID}), den=()),
    Case(
        # warfarin 2026-10-05 and aspirin 2026-11-02: 28 days apart → co-prescribed
        P(
            "p3e_warfarin_aspirin_28_days_apart",
            issues={"warfarin": ["2026-10-05"], "aspirin": ["2026-11-02"]},
        ),
        {E: alert("2026-11-02")},
        den={D, E, F},
    ),
    Case(
        P(
            "p3e_warfarin_aspirin_29_days_apart",
            issues={"warfarin": ["2026-10-04"], "aspirin": ["2026-11-02"]},
        ),
        den={D, E, F},
    ),
    Case(
        # the antiplatelet first: |d₁ − d₂| = 28; last_date = the latest issue of either drug
        P(
            "p3e_clopidogrel_then_doac_28_days",
            issues={"antiplatelet-non-aspirin": ["2026-10-05"], "doac": ["2026-11-02"]},
        ),
        {E: alert("2026-11-02")},
        den={D, E},
    ),
    Case(
        # aspirin 2026-08-25 is not recent, though within 28 days of the warfarin issue
        P("p3e_aspirin_not_recent", issues={"warfarin": ["2026-09-01"], "aspirin": ["2026-08-25"]}),
        den={D, E},
    ),
    Case(
        P(
            "p3e_doac_aspirin_with_ppi",
            issues={"doac": ["2026-11-01"], "aspirin": ["2026-11-02"], **PPI},
        ),
        den={D},
    ),
    # --- gi_p3f: recent aspirin, no PPI; non-aspirin antiplatelet co-prescribed ---
    Case(
        P(
            "p3f_aspirin_clopidogrel_same_day",
            issues={"aspirin": ["2026-11-02"], "antiplatelet-non-aspirin": ["2026-11-02"]},
        ),
        {F: alert("2026-11-02")},
        den={F},
    ),
    Case(
        P(
            "p3f_clopidogrel_29_days_before_aspirin",
            issues={"aspirin": ["2026-11-02"], "antiplatelet-non-aspirin": ["2026-10-04"]},
        ),
        den={F},
    ),
    Case(
        P(
            "p3f_aspirin_clopidogrel_with_ppi",
            issues={"aspirin": ["2026-11-02"], "antiplatelet-non-aspirin": ["2026-11-02"], **PPI},
        ),
        den=(),
    ),
    # --- as_p3g: asthma (coded ≤ T − 90, not resolved since the latest asthma code) ---
    Case(
        P(
            "p3g_asthma_beta_blocker",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2020-01-01"]},
        ),
        {G: alert("2026-10-30")},
        den={G},
    ),
    Case(P("p3g_asthma_no_beta_blocker", events={"asthma": ["2020-01-01"]}), den={G}),
    Case(
        P(
            "p3g_asthma_90_days_ago",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2026-08-25"]},
        ),
        {G: alert("2026-10-30")},
        den={G},
    ),
    Case(
        P(
            "p3g_asthma_89_days_ago",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2026-08-26"]},
        ),
        den=(),
    ),
    Case(
        P(
            "p3g_asthma_resolved_after_latest",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2020-01-01"], "asthma-resolved": ["2021-01-01"]},
        ),
        den=(),
    ),
    Case(
        # resolved 2020, asthma coded again 2022: the latest asthma code is after the resolution
        P(
            "p3g_asthma_again_after_resolved",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2019-01-01", "2022-01-01"], "asthma-resolved": ["2020-01-01"]},
        ),
        {G: alert("2026-10-30")},
        den={G},
    ),
    Case(
        # the latest asthma code (2026-11-01) may itself be recent; an older one is ≤ T − 90
        P(
            "p3g_recent_asthma_code_after_resolved",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2019-01-01", "2026-11-01"], "asthma-resolved": ["2020-01-01"]},
        ),
        {G: alert("2026-10-30")},
        den={G},
    ),
    Case(
        # read literally: a resolved code on the same date as the latest asthma code is not
        # "dated after" it, so the asthma still counts (the conservative reading)
        P(
            "p3g_resolved_same_day_as_latest_asthma",
            issues={"beta-blocker-non-selective": ["2026-10-30"]},
            events={"asthma": ["2020-01-01"], "asthma-resolved": ["2020-01-01"]},
        ),
        {G: alert("2026-10-30")},
        den={G},
    ),
    # --- hf_p3i: heart failure history; hazard recent NSAID ---
    Case(
        P("p3i_heart_failure_nsaid", issues=NSAID, events={"heart-failure": ["2026-08-25"]}),
        {I: alert("2026-11-02")},
        den={I},
    ),
    Case(
        P(
            "p3i_heart_failure_89_days_ago_nsaid",
            issues=NSAID,
            events={"heart-failure": ["2026-08-26"]},
        ),
        den=(),
    ),
    # --- ki_p3k: latest eGFR dated ≤ T − 90 below 45 ---
    Case(
        P("p3k_egfr_44_on_T_minus_90_nsaid", issues=NSAID, events={"egfr": [("2026-08-25", 44)]}),
        {K: alert("2026-11-02")},
        den={K},
    ),
    Case(
        P("p3k_egfr_44_on_T_minus_89_nsaid", issues=NSAID, events={"egfr": [("2026-08-26", 44)]}),
        den=(),
    ),
    Case(P("p3k_egfr_45_not_below", issues=NSAID, events={"egfr": [("2026-06-01", 45)]}), den=()),
    Case(
        # 44 in January, 50 in June: the latest ≤ T − 90 is 50
        P(
            "p3k_egfr_low_then_normal",
            issues=NSAID,
            events={"egfr": [("2026-01-01", 44), ("2026-06-01", 50)]},
        ),
        den=(),
    ),
    Case(
        # 44 in June; a normal value after T − 90 does not change the at-risk group
        P(
            "p3k_egfr_low_then_recent_normal",
            issues=NSAID,
            events={"egfr": [("2026-06-01", 44), ("2026-10-01", 70)]},
        ),
        {K: alert("2026-11-02")},
        den={K},
    ),
    Case(
        P(
            "p3k_egfr_gt_comparator_never_below",
            issues=NSAID,
            events={"egfr": [("2026-06-01", 30, ">")]},
        ),
        den=(),
    ),
    Case(
        P(
            "p3k_egfr_lt_comparator_counts",
            issues=NSAID,
            events={"egfr": [("2026-06-01", 44, "<")]},
        ),
        {K: alert("2026-11-02")},
        den={K},
    ),
    Case(
        P(
            "p3k_egfr_tie_one_below",
            issues=NSAID,
            events={"egfr": [("2026-06-01", 50), ("2026-06-01", 40)]},
        ),
        {K: alert("2026-11-02")},
        den={K},
    ),
    Case(
        # on the latest date only a ">40" and a 60: neither counts (an older 30 does not either)
        P(
            "p3k_egfr_tie_gt_comparator_and_60",
            issues=NSAID,
            events={"egfr": [("2026-01-01", 30), ("2026-06-01", 40, ">"), ("2026-06-01", 60)]},
        ),
        den=(),
    ),
    Case(P("p3k_egfr_44_no_nsaid", events={"egfr": [("2026-06-01", 44)]}), den={K}),
    # --- valproate.ppp: female 12–55 on valproate; hazard no PPP event in (T − 365, T] ---
    Case(P("ppp_f_age_11", dob="2014-11-24", issues=VPA), den=()),
    Case(
        P("ppp_f_age_12_birthday_today", dob="2014-11-23", issues=VPA),
        {PPP: alert("2026-11-02")},
        den={PPP},
    ),
    Case(P("ppp_f_age_55", dob="1970-11-24", issues=VPA), {PPP: alert("2026-11-02")}, den={PPP}),
    Case(P("ppp_f_age_56_birthday_today", dob="1970-11-23", issues=VPA), den=()),
    Case(P("ppp_male_30", age=30, sex="M", issues=VPA), den=()),
    Case(P("ppp_sex_unknown_30", age=30, sex="U", issues=VPA), den=()),
    Case(
        P("ppp_f30_ppp_364_days_ago", age=30, issues=VPA, events={"valproate-ppp": ["2025-11-24"]}),
        den={PPP},
    ),
    Case(
        P("ppp_f30_ppp_365_days_ago", age=30, issues=VPA, events={"valproate-ppp": ["2025-11-23"]}),
        {PPP: alert("2026-11-02")},
        den={PPP},
    ),
    Case(P("ppp_f30_valproate_90_days_ago", age=30, issues={"valproate": ["2026-08-25"]}), den=()),
]

# Practice IND05, by hand:
#   ind_pc_a age 70, NSAID                     → gi_p3a at risk, hazard
#   ind_pc_b age 70, nothing                   → gi_p3a at risk
#   ind_pc_c age 70, NSAID with a PPI          → nothing
#   ind_pc_d age 60, warfarin and NSAID        → gi_p3d at risk + hazard; gi_p3e at risk
#   ind_pc_e female 30, valproate, no PPP      → valproate.ppp at risk + hazard
#   ind_pc_f female 30, valproate, PPP 2026-05-01 → valproate.ppp at risk
# gi_p3a (1, 2); gi_p3d (1, 1); gi_p3e (0, 1); valproate.ppp (1, 2)
IND = "IND05"
EXTRA_PATIENTS = [
    P("ind_pc_a", age=70, issues=NSAID, practice=IND),
    P("ind_pc_b", age=70, practice=IND),
    P("ind_pc_c", age=70, issues={**NSAID, **PPI}, practice=IND),
    P("ind_pc_d", issues={"warfarin": ["2026-10-10"], **NSAID}, practice=IND),
    P("ind_pc_e", age=30, issues=VPA, practice=IND),
    P("ind_pc_f", age=30, issues=VPA, events={"valproate-ppp": ["2026-05-01"]}, practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {A: (1, 2), D: (1, 1), E: (0, 1), PPP: (1, 2)}
