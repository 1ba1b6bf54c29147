"""DMARDs: methotrexate, leflunomide, azathioprine, mercaptopurine, sulfasalazine, mycophenolate.

As-of date T = 2026-11-23 throughout. Useful dates: T − 84 = 2026-08-31, T − 83 = 2026-09-01,
T − 90 = 2026-08-25, T − 91 = 2026-08-24, T + 14 = 2026-12-07, T − 365 = 2025-11-23.
Most patients had their bloods on 2026-10-01 (T − 53): due 2026-12-24 at 84 days, 2026-12-31 at 91,
so in date and not due soon.
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

RULES = (
    "methotrexate",
    "leflunomide",
    "azathioprine",
    "mercaptopurine",
    "sulfasalazine",
    "mycophenolate",
)
FLR = ("fbc", "lft", "renal")
LEF = ("fbc", "lft", "renal", "blood-pressure", "weight")

# first issue 2025-06-02 (day 539 at T): maintenance; last issue 2026-11-02 (on treatment)
MTX = {"methotrexate": ["2025-06-02", "2026-11-02"]}
LEF_ISSUES = {"leflunomide": ["2025-06-02", "2026-11-02"]}
AZA = {"azathioprine": ["2025-06-02", "2026-11-02"]}
MP = {"mercaptopurine": ["2025-06-02", "2026-11-02"]}
MMF = {"mycophenolate": ["2025-06-02", "2026-11-02"]}


def done(day: str, tests: tuple[str, ...] = FLR) -> dict[str, list]:
    """Plain (valueless) test codes of each test on ``day``."""
    return {t: [day] for t in tests}


IN_DATE = done("2026-10-01")  # due 2026-12-24 at 84 days

CASES = [
    # --- methotrexate: overdue / due_soon boundaries (maintenance: 84 days) ---
    Case(P("mtx_never_tested", issues=MTX), each("methotrexate", FLR, overdue())),
    Case(
        P("mtx_tested_on_boundary_day", issues=MTX, events=done("2026-08-31")),  # T − 84
        each("methotrexate", FLR, overdue("2026-08-31", due="2026-11-23", days=0)),
    ),
    Case(
        P("mtx_tested_one_day_inside", issues=MTX, events=done("2026-09-01")),  # T − 83
        each("methotrexate", FLR, due_soon("2026-09-01", due="2026-11-24")),
    ),
    Case(
        P("mtx_due_in_14_days", issues=MTX, events=done("2026-09-14")),  # due T + 14
        each("methotrexate", FLR, due_soon("2026-09-14", due="2026-12-07")),
    ),
    Case(P("mtx_due_in_15_days", issues=MTX, events=done("2026-09-15"))),  # due 2026-12-08
    Case(
        P("mtx_overdue_10_days", issues=MTX, events=done("2026-08-21")),
        each("methotrexate", FLR, overdue("2026-08-21", due="2026-11-13", days=10)),
    ),
    Case(
        # a test dated after T does not count: last test = latest on or before T
        P("mtx_only_test_after_T", issues=MTX, events=done("2026-11-24")),
        each("methotrexate", FLR, overdue()),
    ),
    Case(
        P(
            "mtx_fbc_overdue_others_in_date",
            issues=MTX,
            events=merge({"fbc": ["2026-08-01"]}, done("2026-10-01", ("lft", "renal"))),
        ),
        {"methotrexate.fbc": overdue("2026-08-01", due="2026-10-24", days=30)},
    ),
    # --- methotrexate phases: ≤42 days: 14; ≤133: 28; then 84 (day 0 = first issue) ---
    Case(
        # first issue 2026-10-12 = day 42 → every 14 days; tested T − 14 → due today
        P(
            "mtx_day_42_interval_14",
            issues={"methotrexate": ["2026-10-12", "2026-11-09"]},
            events=done("2026-11-09"),
        ),
        each("methotrexate", FLR, overdue("2026-11-09", due="2026-11-23", days=0)),
    ),
    Case(
        # first issue 2026-10-11 = day 43 → every 28 days; due 2026-12-07 = T + 14
        P(
            "mtx_day_43_interval_28",
            issues={"methotrexate": ["2026-10-11", "2026-11-09"]},
            events=done("2026-11-09"),
        ),
        each("methotrexate", FLR, due_soon("2026-11-09", due="2026-12-07")),
    ),
    Case(
        # day 133 → 28 days; tested T − 28 → due today
        P(
            "mtx_day_133_interval_28",
            issues={"methotrexate": ["2026-07-13", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
        each("methotrexate", FLR, overdue("2026-10-26", due="2026-11-23", days=0)),
    ),
    Case(
        # day 134 → maintenance 84 days; due 2027-01-18
        P(
            "mtx_day_134_maintenance_84",
            issues={"methotrexate": ["2026-07-12", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
    ),
    Case(
        P("mtx_first_issue_today", issues={"methotrexate": ["2026-11-23"]}),
        each("methotrexate", FLR, overdue()),
    ),
    # --- methotrexate out of range (bloods 2026-10-01, due 2026-12-24) ---
    *[
        Case(
            P(name, issues=MTX, events=merge(IN_DATE, {analyte: [("2026-10-01", value)]})),
            {f"methotrexate.{test}": oor("2026-10-01", value, due="2026-12-24")} if hit else {},
        )
        for name, test, analyte, value, hit in [
            ("mtx_wbc_3.4_low", "fbc", "wbc", 3.4, True),
            ("mtx_wbc_3.5_not_low", "fbc", "wbc", 3.5, False),
            ("mtx_neutrophils_1.5_low", "fbc", "neutrophils", 1.5, True),
            ("mtx_neutrophils_1.6_not_low", "fbc", "neutrophils", 1.6, False),
            ("mtx_platelets_139_low", "fbc", "platelets", 139, True),
            ("mtx_platelets_140_not_low", "fbc", "platelets", 140, False),
            ("mtx_alt_101_high", "lft", "alt", 101, True),
            ("mtx_alt_100_not_high", "lft", "alt", 100, False),
            ("mtx_ast_101_high", "lft", "ast", 101, True),
            ("mtx_ast_100_not_high", "lft", "ast", 100, False),
            ("mtx_albumin_29_low", "lft", "albumin", 29, True),
            ("mtx_albumin_30_not_low", "lft", "albumin", 30, False),
            ("mtx_egfr_59_low", "renal", "egfr", 59, True),
            ("mtx_egfr_60_not_low", "renal", "egfr", 60, False),
        ]
    ],
    Case(
        # an analyte result counts as the test done: only analyte values, no plain test codes
        P(
            "mtx_analytes_count_as_tests",
            issues=MTX,
            events={
                "platelets": [("2026-10-01", 250)],
                "alt": [("2026-10-01", 20)],
                "egfr": [("2026-10-01", 85)],
            },
        ),
    ),
    Case(
        # two platelet counts on the latest date: any low one counts; the lowest is reported
        P(
            "mtx_platelets_tie_one_low",
            issues=MTX,
            events=merge(IN_DATE, {"platelets": [("2026-10-01", 150), ("2026-10-01", 120)]}),
        ),
        {"methotrexate.fbc": oor("2026-10-01", 120, due="2026-12-24")},
    ),
    Case(
        # only the latest value counts: low on 2026-09-15, normal on 2026-10-01
        P(
            "mtx_platelets_low_then_normal",
            issues=MTX,
            events=merge(IN_DATE, {"platelets": [("2026-09-15", 120), ("2026-10-01", 150)]}),
        ),
    ),
    Case(
        # "<1.0" uses the number 1.0, which is below 1.6
        P(
            "mtx_neutrophils_lt_comparator",
            issues=MTX,
            events=merge(IN_DATE, {"neutrophils": [("2026-10-01", 1.0, "<")]}),
        ),
        {"methotrexate.fbc": oor("2026-10-01", 1.0, due="2026-12-24")},
    ),
    Case(
        # ">100" uses the number 100, which is not above 100
        P(
            "mtx_alt_gt100_comparator_uses_number",
            issues=MTX,
            events=merge(IN_DATE, {"alt": [("2026-10-01", 100, ">")]}),
        ),
    ),
    Case(
        P(
            "mtx_egfr_gt90_comparator",
            issues=MTX,
            events=merge(IN_DATE, {"egfr": [("2026-10-01", 90, ">")]}),
        ),
    ),
    Case(
        # low platelets on 2026-08-30 (T − 85) is older than the 84-day interval: not counted,
        # even though a plain FBC on 2026-10-01 keeps the test in date
        P(
            "mtx_low_platelets_older_than_interval",
            issues=MTX,
            events=merge(IN_DATE, {"platelets": [("2026-08-30", 120)]}),
        ),
    ),
    Case(
        # low platelets on 2026-09-15, then an FBC code without a value on 2026-10-01: the latest
        # *value* is the low one (dated in the interval); due date from the last test 2026-10-01
        P(
            "mtx_low_platelets_then_valueless_fbc",
            issues=MTX,
            events=merge(IN_DATE, {"platelets": [("2026-09-15", 120)]}),
        ),
        {"methotrexate.fbc": oor("2026-09-15", 120, due="2026-12-24")},
    ),
    Case(
        # wbc and platelets both low: the first threshold in rule order (wbc) is reported
        P(
            "mtx_wbc_and_platelets_low",
            issues=MTX,
            events=merge(
                IN_DATE, {"wbc": [("2026-10-01", 3.0)], "platelets": [("2026-10-01", 100)]}
            ),
        ),
        {"methotrexate.fbc": oor("2026-10-01", 3.0, due="2026-12-24")},
    ),
    Case(
        # out of range beats due_soon: tested 2026-09-10, due 2026-12-03 (≤ T + 14)
        P(
            "mtx_out_of_range_beats_due_soon",
            issues=MTX,
            events=merge(done("2026-09-10"), {"platelets": [("2026-09-10", 120)]}),
        ),
        {
            "methotrexate.fbc": oor("2026-09-10", 120, due="2026-12-03"),
            "methotrexate.lft": due_soon("2026-09-10", due="2026-12-03"),
            "methotrexate.renal": due_soon("2026-09-10", due="2026-12-03"),
        },
    ),
    Case(
        # overdue beats out of range: the low platelet count is the last FBC, on T − 84
        P(
            "mtx_overdue_beats_out_of_range",
            issues=MTX,
            events=merge(
                {"platelets": [("2026-08-31", 100)]}, done("2026-10-01", ("lft", "renal"))
            ),
        ),
        {"methotrexate.fbc": overdue("2026-08-31", due="2026-11-23", days=0)},
    ),
    # --- population, treatment and exclusions ---
    Case(
        # secondary-care-monitoring in (T − 365, T]: 2025-11-24 is T − 364 → excluded
        P(
            "mtx_shared_care_364_days_ago",
            issues=MTX,
            events={"secondary-care-monitoring": ["2025-11-24"]},
        ),
        den=False,
    ),
    Case(
        # 2025-11-23 is T − 365, outside the half-open window (T − 365, T] → not excluded
        P(
            "mtx_shared_care_365_days_ago",
            issues=MTX,
            events={"secondary-care-monitoring": ["2025-11-23"]},
        ),
        each("methotrexate", FLR, overdue()),
    ),
    Case(
        P(
            "mtx_shared_care_366_days_ago",
            issues=MTX,
            events={"secondary-care-monitoring": ["2025-11-22"]},
        ),
        each("methotrexate", FLR, overdue()),
    ),
    Case(
        P(
            "mtx_shared_care_today",
            issues=MTX,
            events={"secondary-care-monitoring": ["2026-11-23"]},
        ),
        den=False,
    ),
    Case(P("mtx_died_on_T", issues=MTX, died="2026-11-23"), den=False),
    Case(
        P("mtx_died_after_T", issues=MTX, died="2026-11-24"), each("methotrexate", FLR, overdue())
    ),
    Case(P("mtx_deregistered_on_T", issues=MTX, registration_end="2026-11-23"), den=False),
    Case(
        P("mtx_deregistered_after_T", issues=MTX, registration_end="2026-11-24"),
        each("methotrexate", FLR, overdue()),
    ),
    Case(
        # last issue T − 90: not in (T − 90, T] → not on treatment
        P("mtx_last_issue_90_days_ago", issues={"methotrexate": ["2025-06-02", "2026-08-25"]}),
        den=False,
    ),
    Case(
        P("mtx_last_issue_89_days_ago", issues={"methotrexate": ["2025-06-02", "2026-08-26"]}),
        each("methotrexate", FLR, overdue()),
    ),
    Case(P("mtx_only_issue_after_T", issues={"methotrexate": ["2026-11-24"]}), den=False),
    # --- leflunomide: also blood pressure (systolic > 140) and weight ---
    Case(P("lef_never_tested", issues=LEF_ISSUES), each("leflunomide", LEF, overdue())),
    Case(
        P(
            "lef_systolic_141_high",
            issues=LEF_ISSUES,
            events=merge(done("2026-10-01", LEF), {"systolic-bp": [("2026-10-01", 141)]}),
        ),
        {"leflunomide.blood-pressure": oor("2026-10-01", 141, due="2026-12-24")},
    ),
    Case(
        P(
            "lef_systolic_140_not_high",
            issues=LEF_ISSUES,
            events=merge(done("2026-10-01", LEF), {"systolic-bp": [("2026-10-01", 140)]}),
        ),
    ),
    Case(
        P(
            "lef_weight_on_boundary_day",
            issues=LEF_ISSUES,
            events=merge(done("2026-10-01", LEF[:4]), {"weight": [("2026-08-31", 70)]}),
        ),
        {"leflunomide.weight": overdue("2026-08-31", due="2026-11-23", days=0)},
    ),
    Case(
        # leflunomide shares methotrexate's phases: first issue 2026-10-12 = day 42 → 14 days
        P(
            "lef_day_42_interval_14",
            issues={"leflunomide": ["2026-10-12", "2026-11-09"]},
            events=done("2026-11-09", LEF),
        ),
        each("leflunomide", LEF, overdue("2026-11-09", due="2026-11-23", days=0)),
    ),
    # --- azathioprine: maintenance 91 days ---
    Case(
        # day 133 → 28 days; tested T − 28 → due today
        P(
            "aza_day_133_interval_28",
            issues={"azathioprine": ["2026-07-13", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
        each("azathioprine", FLR, overdue("2026-10-26", due="2026-11-23", days=0)),
    ),
    Case(
        # day 134 → 91 days: due 2027-01-25
        P(
            "aza_day_134_maintenance_91",
            issues={"azathioprine": ["2026-07-12", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
    ),
    Case(
        P("aza_tested_91_days_ago", issues=AZA, events=done("2026-08-24")),
        each("azathioprine", FLR, overdue("2026-08-24", due="2026-11-23", days=0)),
    ),
    Case(
        P("aza_tested_90_days_ago", issues=AZA, events=done("2026-08-25")),
        each("azathioprine", FLR, due_soon("2026-08-25", due="2026-11-24")),
    ),
    Case(
        P(
            "aza_neutrophils_1.5_low",
            issues=AZA,
            events=merge(IN_DATE, {"neutrophils": [("2026-10-01", 1.5)]}),
        ),
        {"azathioprine.fbc": oor("2026-10-01", 1.5, due="2026-12-31")},
    ),
    # --- mercaptopurine: ≤84 days: 28, then 91; neutrophils < 2.0 ---
    Case(
        P(
            "mp_day_84_interval_28",
            issues={"mercaptopurine": ["2026-08-31", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
        each("mercaptopurine", FLR, overdue("2026-10-26", due="2026-11-23", days=0)),
    ),
    Case(
        # day 85 → 91 days: due 2027-01-25
        P(
            "mp_day_85_maintenance_91",
            issues={"mercaptopurine": ["2026-08-30", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
    ),
    Case(
        P(
            "mp_neutrophils_1.9_low",
            issues=MP,
            events=merge(IN_DATE, {"neutrophils": [("2026-10-01", 1.9)]}),
        ),
        {"mercaptopurine.fbc": oor("2026-10-01", 1.9, due="2026-12-31")},
    ),
    Case(
        P(
            "mp_neutrophils_2.0_not_low",
            issues=MP,
            events=merge(IN_DATE, {"neutrophils": [("2026-10-01", 2.0)]}),
        ),
    ),
    # --- sulfasalazine: ≤42: 14; ≤133: 28; ≤365: 84; none after 365 days ---
    Case(
        P(
            "ssz_day_133_interval_28",
            issues={"sulfasalazine": ["2026-07-13", "2026-11-02"]},
            events=done("2026-10-26"),
        ),
        each("sulfasalazine", FLR, overdue("2026-10-26", due="2026-11-23", days=0)),
    ),
    Case(
        P(
            "ssz_day_134_interval_84",
            issues={"sulfasalazine": ["2026-07-12", "2026-11-02"]},
            events=done("2026-08-31"),
        ),
        each("sulfasalazine", FLR, overdue("2026-08-31", due="2026-11-23", days=0)),
    ),
    Case(
        # first issue 2025-11-23 = day 365: still in the last phase (84 days)
        P(
            "ssz_day_365_still_monitored",
            issues={"sulfasalazine": ["2025-11-23", "2026-11-02"]},
            events=done("2026-08-31"),
        ),
        each("sulfasalazine", FLR, overdue("2026-08-31", due="2026-11-23", days=0)),
    ),
    Case(
        # day 366: past the last phase, maintenance none → no rows, not in the denominator
        P("ssz_day_366_no_monitoring", issues={"sulfasalazine": ["2025-11-22", "2026-11-02"]}),
        den=False,
    ),
    # --- mycophenolate: ≤42: 14; then 84 ---
    Case(
        P(
            "mmf_day_42_interval_14",
            issues={"mycophenolate": ["2026-10-12", "2026-11-09"]},
            events=done("2026-11-09"),
        ),
        each("mycophenolate", FLR, overdue("2026-11-09", due="2026-11-23", days=0)),
    ),
    Case(
        # day 43 → 84 days: due 2027-02-01
        P(
            "mmf_day_43_maintenance_84",
            issues={"mycophenolate": ["2026-10-11", "2026-11-09"]},
            events=done("2026-11-09"),
        ),
    ),
    Case(
        P(
            "mmf_albumin_29_low",
            issues=MMF,
            events=merge(IN_DATE, {"albumin": [("2026-10-01", 29)]}),
        ),
        {"mycophenolate.lft": oor("2026-10-01", 29, due="2026-12-24")},
    ),
]

# One practice checked by hand (practice IND01):
#   ind_dm_a methotrexate, never tested              → fbc, lft, renal overdue
#   ind_dm_b methotrexate, bloods 2026-10-01         → in date
#   ind_dm_c methotrexate, bloods 2026-09-01         → due_soon (not overdue: in the numerator)
#   ind_dm_d methotrexate, shared care 2026-06-01    → excluded: in no denominator
#   ind_dm_e methotrexate, FBC 2026-08-01 only LFT/renal 2026-10-01 → fbc overdue
#   ind_dm_f sulfasalazine from 2025-01-06 (day 686) → no monitoring: in no denominator
#   ind_dm_g methotrexate stopped 2026-08-01         → not on treatment
# methotrexate.fbc:   denominator a b c e = 4, numerator b c = 2
# methotrexate.lft:   denominator 4, numerator b c e = 3; methotrexate.renal the same.
IND = "IND01"
EXTRA_PATIENTS = [
    P("ind_dm_a", issues=MTX, practice=IND),
    P("ind_dm_b", issues=MTX, events=done("2026-10-01"), practice=IND),
    P("ind_dm_c", issues=MTX, events=done("2026-09-01"), practice=IND),
    P("ind_dm_d", issues=MTX, events={"secondary-care-monitoring": ["2026-06-01"]}, practice=IND),
    P(
        "ind_e",
        issues=MTX,
        practice=IND,
        events=merge({"fbc": ["2026-08-01"]}, done("2026-10-01", ("lft", "renal"))),
    ),
    P("ind_dm_f", issues={"sulfasalazine": ["2025-01-06", "2026-11-02"]}, practice=IND),
    P("ind_dm_g", issues={"methotrexate": ["2025-01-06", "2026-08-01"]}, practice=IND),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(spec: Outcome, case: Case) -> None:
    check_case(spec, case)


def test_indicators_by_hand(spec: Outcome) -> None:
    assert indicator_table(spec, IND) == {
        "methotrexate.fbc": (2, 4),
        "methotrexate.lft": (3, 4),
        "methotrexate.renal": (3, 4),
    }
