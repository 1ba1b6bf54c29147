"""The engine's building blocks on tiny hand-made extracts (fixture rules, as of 2026-11-23).

Each test is a few patients a pharmacist can check by eye against the catalogue's Common meaning.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.engine.fixtures.extract import (
    Extract,
    T,
    ago,
    fixture_catalogue,
    indicator,
    row,
    rows,
)

from rxwatch.engine.search import run_search
from rxwatch.rules.catalogue import Catalogue
from rxwatch.rules.model import Population

# --- population and treatment --------------------------------------------------------------------


def test_population_excludes_the_dead_and_the_deregistered_at_t():
    x = Extract()
    for pid, kw in {
        "alive": {},
        "died-today": {"died": T},
        "died-tomorrow": {"died": T + dt.timedelta(days=1)},
        "left-today": {"left": T},
    }.items():
        x.patient(pid, **kw).issue(pid, "methotrexate", 200, 5)
    r = x.search("methotrexate")
    flagged = {p["patient_id"] for p in rows(r, "methotrexate.fbc")}
    assert flagged == {"alive", "died-tomorrow"}
    assert indicator(r, "methotrexate.fbc") == (0, 2)


def test_age_is_whole_years_at_t():
    x = Extract()
    x.patient("65-today", born=dt.date(1961, 11, 23)).issue("65-today", "nsaid-oral", 10)
    x.patient("64-tomorrow", born=dt.date(1961, 11, 24)).issue("64-tomorrow", "nsaid-oral", 10)
    r = x.search("pincer.gi_p3a")
    assert [p["patient_id"] for p in rows(r)] == ["65-today"]
    assert indicator(r, "pincer.gi_p3a") == (1, 1)


def test_a_monitoring_rules_own_population_limits_age_and_sex():
    """A rule's own population (here methotrexate limited to women and unknown sex aged 40 to 60,
    bounds included) applies with every rule's patients computed together (ADR 0012)."""
    cat = fixture_catalogue()
    mtx = cat.rule("methotrexate").model_copy(
        update={"population": Population(min_age=40, max_age=60, sexes=("F", "U"))}
    )
    x = Extract()
    for pid, age, sex in [
        ("f50", 50, "F"),
        ("u50", 50, "U"),
        ("m50", 50, "M"),
        ("f40", 40, "F"),
        ("f60", 60, "F"),
        ("f39", 39, "F"),
        ("f61", 61, "F"),
    ]:
        x.patient(pid, age=age, sex=sex).issue(pid, "methotrexate", 200, 5)
    r = run_search(x.ibis(), as_of=T, catalogue=Catalogue((mtx,), cat.codelists))
    assert {p["patient_id"] for p in rows(r, "methotrexate.fbc")} == {"f50", "u50", "f40", "f60"}
    assert indicator(r, "methotrexate.fbc") == (0, 4)


def test_on_treatment_means_an_issue_in_the_last_90_days():
    x = Extract()
    x.patient("day-89").issue("day-89", "methotrexate", 300, 89)
    x.patient("day-90").issue("day-90", "methotrexate", 300, 90)
    r = x.search("methotrexate")
    assert indicator(r, "methotrexate.fbc") == (0, 1)
    assert row(r, "day-90", "methotrexate.fbc") is None


# --- phases, overdue, due soon ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_issue", "interval"), [(0, 14), (42, 14), (43, 28), (133, 28), (134, 84)]
)
def test_phase_by_days_since_first_issue(first_issue: int, interval: int):
    x = Extract().patient("p").issue("p", "methotrexate", first_issue, 0)
    x.event("p", "fbc", interval)  # exactly one interval ago: due today
    r = row(x.search("methotrexate"), "p", "methotrexate.fbc")
    assert r["status"] == "overdue"
    assert r["days_overdue"] == 0
    assert r["due_date"] == T
    assert f"({interval} days)" in r["reason"] or f"every {interval} days" in r["reason"]


def test_overdue_due_soon_and_in_date():
    x = Extract()
    for pid, last in {"overdue": 100, "soon": 84 - 14, "later": 84 - 15}.items():
        x.patient(pid).issue(pid, "methotrexate", 400, 10).event(pid, "fbc", last)
    x.patient("never").issue("never", "methotrexate", 400, 10)
    r = x.search("methotrexate")
    od = row(r, "overdue", "methotrexate.fbc")
    assert od["status"] == "overdue"
    assert od["last_date"] == ago(100)
    assert od["due_date"] == ago(16)
    assert od["days_overdue"] == 16
    assert od["last_value"] is None
    assert od["reason"] == (
        f"Last full blood count {ago(100)}; due every 12 weeks (84 days); 16 days overdue"
    )
    never = row(r, "never", "methotrexate.fbc")
    assert never["status"] == "overdue"
    assert never["last_date"] is None and never["due_date"] is None
    assert never["days_overdue"] is None
    assert never["reason"] == "No full blood count on record; due every 12 weeks (84 days)"
    soon = row(r, "soon", "methotrexate.fbc")
    assert soon["status"] == "due_soon"
    assert soon["due_date"] == T + dt.timedelta(days=14)
    assert soon["days_overdue"] is None
    assert row(r, "later", "methotrexate.fbc") is None
    assert indicator(r, "methotrexate.fbc") == (2, 4)


def test_initiation_reason_says_while_starting_treatment():
    x = Extract().patient("new").issue("new", "methotrexate", 10)
    r = row(x.search("methotrexate"), "new", "methotrexate.renal")
    assert r["reason"] == (
        "No renal function test on record; due every 2 weeks (14 days) while starting treatment"
    )


def test_no_maintenance_means_no_rows_and_no_denominator_past_the_last_phase():
    x = Extract()
    x.patient("year-one").issue("year-one", "sulfasalazine", 365, 5)
    x.patient("year-two").issue("year-two", "sulfasalazine", 366, 5)
    r = x.search("sulfasalazine")
    assert [p["patient_id"] for p in rows(r)] == ["year-one"]
    assert indicator(r, "sulfasalazine.fbc") == (0, 1)


def test_secondary_care_monitoring_in_the_last_year_excludes():
    x = Extract()
    x.patient("hospital").issue("hospital", "methotrexate", 300, 5)
    x.event("hospital", "secondary-care-monitoring", 364)
    x.patient("long-ago").issue("long-ago", "methotrexate", 300, 5)
    x.event("long-ago", "secondary-care-monitoring", 365)
    r = x.search("methotrexate")
    assert {p["patient_id"] for p in rows(r)} == {"long-ago"}
    assert indicator(r, "methotrexate.fbc") == (0, 1)


# --- values and thresholds --------------------------------------------------------------------------


def test_out_of_range_takes_any_value_of_the_latest_date():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5)
    x.event("p", "platelets", 60, 150).event("p", "platelets", 20, 150)
    x.event("p", "platelets", 20, 120)  # same latest date: the low one counts
    x.event("p", "platelets", 30, 90)  # older: ignored
    r = row(x.search("methotrexate"), "p", "methotrexate.fbc")
    assert r["status"] == "out_of_range"
    assert r["last_value"] == 120
    assert r["last_date"] == ago(20)
    assert r["due_date"] == ago(20) + dt.timedelta(days=84)
    assert r["reason"] == f"Platelets 120 on {ago(20)} (below 140 ×10⁹/L)"


def test_the_first_breaching_threshold_in_file_order_wins():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5)
    x.event("p", "platelets", 10, 100).event("p", "wbc", 10, 2.5)
    r = row(x.search("methotrexate"), "p", "methotrexate.fbc")
    assert (r["status"], r["last_value"]) == ("out_of_range", 2.5)
    assert r["reason"].startswith("White cell count 2.5 on")


def test_a_value_older_than_the_interval_is_not_out_of_range():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5)
    x.event("p", "platelets", 84, 100).event("p", "fbc", 10)  # FBC done since, without platelets
    assert row(x.search("methotrexate"), "p", "methotrexate.fbc") is None


def test_overdue_wins_over_out_of_range():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5)
    x.event("p", "platelets", 84, 100)
    r = row(x.search("methotrexate"), "p", "methotrexate.fbc")
    assert (r["status"], r["last_value"], r["days_overdue"]) == ("overdue", None, 0)


def test_egfr_threshold_on_the_renal_test():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5).event("p", "egfr", 5, 59.5)
    r = row(x.search("methotrexate"), "p", "methotrexate.renal")
    assert r["reason"] == f"eGFR 59.5 on {ago(5)} (below 60 mL/min/1.73m²)"


# --- DOAC: Cockcroft–Gault -----------------------------------------------------------------------


def _doac(x: Extract, pid: str, **kw) -> Extract:
    return x.patient(pid, **kw).issue(pid, "doac", 400, 5)


def test_crcl_sets_the_renal_interval():
    # female, 80: CrCl = (140 − 80) × 60 × 1.04 / 100 = 37.44 → floor(3.744 × 30.4) = 113 days
    x = _doac(Extract(), "p", age=80, sex="F")
    x.event("p", "creatinine", 200, 100).event("p", "weight", 300, 60)
    r = row(x.search("doac"), "p", "doac.renal")
    assert r["status"] == "overdue"
    assert r["due_date"] == ago(200 - 113)
    assert r["reason"] == (
        f"Last renal function {ago(200)}; due every 113 days (CrCl 37.4 mL/min); 87 days overdue"
    )


def test_crcl_uses_the_highest_creatinine_and_lowest_weight_of_the_latest_date():
    # male, 60: (80 × 50 × 1.23) / 200 = 24.6 → interval floor(2.46 × 30.4) = 74; creatinine 10
    # days ago is in the interval and CrCl < 30: out of range
    x = _doac(Extract(), "p", age=60, sex="M")
    x.event("p", "creatinine", 10, 100).event("p", "creatinine", 10, 200)
    x.event("p", "weight", 50, 70).event("p", "weight", 50, 50)
    r = row(x.search("doac"), "p", "doac.renal")
    assert r["status"] == "out_of_range"
    assert r["last_value"] == 24.6
    assert r["last_date"] == ago(10)
    assert r["due_date"] == ago(10) + dt.timedelta(days=74)
    assert r["reason"] == f"Creatinine clearance 24.6 on {ago(10)} (below 30 mL/min)"


def test_missing_weight_gives_122_days_and_says_so():
    x = _doac(Extract(), "p", age=50).event("p", "creatinine", 130, 80)
    r = row(x.search("doac"), "p", "doac.renal")
    assert r["due_date"] == ago(130 - 122)
    assert r["reason"] == (
        "CrCl could not be computed (no weight recorded); renal function due every 122 days; "
        f"last renal function {ago(130)}; 8 days overdue"
    )


def test_elderly_interval_is_122_days():
    # 75, female, CrCl = 65 × 80 × 1.04 / 70 = 77.3: the age sets 122 days
    x = (
        _doac(Extract(), "p", age=75)
        .event("p", "creatinine", 110, 70)
        .event("p", "weight", 110, 80)
    )
    r = row(x.search("doac"), "p", "doac.renal")
    assert r["status"] == "due_soon"
    assert r["due_date"] == ago(110 - 122)


# --- alerts and missed diagnoses ------------------------------------------------------------------


def test_gi_p3a_ppi_protects_and_last_date_is_the_nsaid():
    x = Extract()
    x.patient("nsaid", age=70).issue("nsaid", "nsaid-oral", 100, 30)
    x.patient("with-ppi", age=70).issue("with-ppi", "nsaid-oral", 30).issue("with-ppi", "ppi", 60)
    x.patient("young", age=64).issue("young", "nsaid-oral", 30)
    r = x.search("pincer.gi_p3a")
    assert [(p["patient_id"], p["last_date"]) for p in rows(r)] == [("nsaid", ago(30))]
    assert rows(r)[0]["status"] == "safety_alert"
    assert rows(r)[0]["reason"].endswith(f"; latest issue {ago(30)}")
    assert indicator(r, "pincer.gi_p3a") == (1, 1)


@pytest.mark.parametrize(("gap", "flagged"), [(28, True), (29, False)])
def test_co_prescribed_means_within_28_days(gap: int, flagged: bool):
    x = Extract().patient("p").issue("p", "warfarin", 5).issue("p", "aspirin", 5 + gap)
    r = x.search("pincer.gi_p3e")
    assert bool(rows(r)) is flagged
    assert indicator(r, "pincer.gi_p3e") == (int(flagged), 1)


def test_co_prescribed_needs_both_recent():
    x = Extract().patient("p").issue("p", "warfarin", 80).issue("p", "aspirin", 95)
    assert rows(x.search("pincer.gi_p3e")) == []


def test_asthma_resolved_after_the_latest_asthma_code():
    x = Extract()
    x.patient("resolved").event("resolved", "asthma", 400).event("resolved", "asthma-resolved", 200)
    x.patient("relapsed").event("relapsed", "asthma", 400).event("relapsed", "asthma-resolved", 200)
    x.event("relapsed", "asthma", 100)
    x.patient("recent").event("recent", "asthma", 30)
    for pid in ("resolved", "relapsed", "recent"):
        x.issue(pid, "beta-blocker-non-selective", 10)
    r = x.search("pincer.as_p3g")
    assert [p["patient_id"] for p in rows(r)] == ["relapsed"]
    assert indicator(r, "pincer.as_p3g") == (1, 1)


def test_ki_p3k_ignores_greater_than_values_even_on_the_latest_date():
    x = Extract()
    x.patient("low").event("low", "egfr", 100, 40)
    x.patient("gt").event("gt", "egfr", 100, 40, ">").event("gt", "egfr", 200, 30)
    x.patient("tie").event("tie", "egfr", 100, 40, ">").event("tie", "egfr", 100, 44)
    x.patient("recent").event("recent", "egfr", 100, 50).event("recent", "egfr", 80, 30)
    for pid in ("low", "gt", "tie", "recent"):
        x.issue(pid, "nsaid-oral", 10)
    r = x.search("pincer.ki_p3k")
    assert [p["patient_id"] for p in rows(r)] == ["low", "tie"]
    assert indicator(r, "pincer.ki_p3k") == (2, 2)


def test_valproate_ppp_age_band_and_review():
    x = Extract()
    x.patient("f30", age=30).issue("f30", "valproate", 20)
    x.patient("f30-reviewed", age=30).issue("f30-reviewed", "valproate", 20)
    x.event("f30-reviewed", "valproate-ppp", 364)
    x.patient("f56", age=56).issue("f56", "valproate", 20)
    x.patient("m30", age=30, sex="M").issue("m30", "valproate", 20)
    r = x.search("valproate.ppp")
    assert [p["patient_id"] for p in rows(r)] == ["f30"]
    assert indicator(r, "valproate.ppp") == (1, 2)


def test_missed_diabetes_uses_the_latest_hba1c_and_any_diabetes_code():
    x = Extract()
    x.patient("high").event("high", "hba1c", 300, 40).event("high", "hba1c", 30, 52)
    x.event("high", "hba1c", 30, 45)
    x.patient("coded").event("coded", "hba1c", 30, 60).event("coded", "diabetes", 3000)
    x.patient("came-down").event("came-down", "hba1c", 300, 60).event("came-down", "hba1c", 30, 41)
    r = x.search("missed_dx.diabetes")
    [hit] = rows(r)
    assert (hit["patient_id"], hit["last_value"], hit["last_date"]) == ("high", 52, ago(30))
    assert hit["status"] == "missed_diagnosis"
    assert indicator(r, "missed_dx.diabetes") == (1, 3)


@pytest.mark.parametrize(("gap", "flagged"), [(90, True), (89, False)])
def test_missed_ckd_needs_two_low_egfrs_90_days_apart(gap: int, flagged: bool):
    x = Extract().patient("p").event("p", "egfr", 10 + gap, 50).event("p", "egfr", 10, 55)
    assert bool(rows(x.search("missed_dx.ckd"))) is flagged


def test_clozapine_is_listed_not_flagged():
    x = Extract().patient("p").issue("p", "clozapine", 400, 20)
    r = x.search("clozapine")
    assert r.results.num_rows == 0
    assert r.specialist_monitored.to_pylist() == [
        {
            "practice": "A00001",
            "patient_id": "p",
            "rule_id": "clozapine",
            "last_issue_date": ago(20),
        }
    ]


def test_ace_loop_75_pools_both_drugs_and_needs_456_days():
    x = Extract()
    x.patient("pooled", age=80).issue("pooled", "ace-inhibitor-arb", 500)
    x.issue("pooled", "loop-diuretic", 100)
    x.patient("too-new", age=80).issue("too-new", "loop-diuretic", 455, 100)
    x.patient("young", age=74).issue("young", "loop-diuretic", 500, 100)
    r = x.search("ace-loop-75")
    assert {p["patient_id"] for p in rows(r, "ace-loop-75.renal")} == {"pooled"}
    assert indicator(r, "ace-loop-75.renal") == (0, 1)


# --- the result contract ---------------------------------------------------------------------------


def test_results_are_sorted_typed_and_reproducible():
    x = Extract()
    for pid in ("b", "a"):
        x.patient(pid, age=70).issue(pid, "methotrexate", 300, 5).issue(pid, "nsaid-oral", 5)
    x.patient("c", practice="A00002").issue("c", "methotrexate", 300, 5)
    first, second = x.search(), x.search()
    assert first.results.equals(second.results)
    assert first.indicators.equals(second.indicators)
    keys = [(r["practice"], r["patient_id"], r["rule_id"]) for r in rows(first)]
    assert keys == sorted(keys)
    schema = first.results.schema
    assert str(schema.field("last_date").type) == "date32[day]"
    assert str(schema.field("last_value").type) == "double"
    assert str(schema.field("days_overdue").type) == "int64"
    ind = first.indicators.to_pylist()
    assert all(r["denominator"] > 0 for r in ind)
    assert [(r["practice"], r["indicator_id"]) for r in ind] == sorted(
        (r["practice"], r["indicator_id"]) for r in ind
    )


@pytest.mark.parametrize("fuse, collecting", [(True, True), (False, False)])
def test_a_search_gives_back_the_callers_ibis_and_gc_settings(fuse: bool, collecting: bool):
    """The search compiles with selects unfused and the garbage collector paused (ADR 0014); the
    caller's settings are restored, and fused or not, the answers are the same."""
    import gc

    import ibis

    x = Extract().patient("p", age=70).issue("p", "methotrexate", 300, 5).event("p", "fbc", 100)
    x.issue("p", "nsaid-oral", 5)
    before = ibis.options.sql.fuse_selects
    was_collecting = gc.isenabled()
    try:
        ibis.options.sql.fuse_selects = fuse
        (gc.enable if collecting else gc.disable)()
        r = x.search()
        assert (ibis.options.sql.fuse_selects, gc.isenabled()) == (fuse, collecting)
    finally:
        ibis.options.sql.fuse_selects = before
        (gc.enable if was_collecting else gc.disable)()
    assert [(p["rule_id"], p["status"]) for p in rows(r, "methotrexate.fbc")] == [
        ("methotrexate.fbc", "overdue")
    ]
    assert row(r, "p", "pincer.gi_p3a") is not None


def test_a_catalogue_of_monitoring_rules_alone_reads_nothing_for_everyone():
    """With no alert and no secondary-care list, no event codelist is read across everyone
    (ADR 0015): everyone's facts are empty and the monitoring still reads its patients' tests."""
    cat = fixture_catalogue()
    lists = {k: v for k, v in cat.codelists.items() if k != "secondary-care-monitoring"}
    alone = Catalogue(cat.select(["methotrexate"]).rules, lists)
    x = Extract().patient("p").issue("p", "methotrexate", 300, 5).event("p", "fbc", 100)
    x.event("p", "renal", 30)
    r = run_search(x.ibis(), as_of=T, catalogue=alone)
    got = {(p["rule_id"], p["status"], p["last_date"]) for p in rows(r)}
    assert got == {("methotrexate.fbc", "overdue", ago(100))}  # fbc every 84 days; renal in date


def test_searches_at_once_restore_the_settings_when_the_last_ends():
    """Two searches overlapping in threads: the first to end must not restore the settings under
    the other, nor the second restore the first's paused state."""
    import gc

    import ibis

    from rxwatch.engine.search import _Compiling

    compiling = _Compiling()
    before = ibis.options.sql.fuse_selects
    try:
        ibis.options.sql.fuse_selects = True
        first, second = compiling(), compiling()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert (ibis.options.sql.fuse_selects, gc.isenabled()) == (False, False)
        second.__exit__(None, None, None)
        assert (ibis.options.sql.fuse_selects, gc.isenabled()) == (True, True)
    finally:
        ibis.options.sql.fuse_selects = before
        gc.enable()


def test_as_of_ignores_later_records():
    x = Extract().patient("p").issue("p", "methotrexate", 300, 60).event("p", "fbc", 150)
    earlier = T - dt.timedelta(days=50)
    x.event("p", "fbc", 10).issue("p", "methotrexate", 5)  # after the as-of date: not seen
    r = row(x.search("methotrexate", as_of=earlier), "p", "methotrexate.fbc")
    assert r is not None and r["last_date"] == ago(150)
    assert r["days_overdue"] == 100 - 84


# --- the same answers on PySpark ----------------------------------------------------------------------


@pytest.mark.spark
def test_pyspark_gives_the_same_answers(spark_session):
    from tests.engine.fixtures.extract import fixture_catalogue

    from rxwatch.engine.backends import connect
    from rxwatch.engine.search import run_search

    x = Extract()
    x.patient("mtx").issue("mtx", "methotrexate", 300, 5).event("mtx", "platelets", 20, 120)
    x.event("mtx", "platelets", 20, 150)
    x.patient("doac", age=80, sex="M").issue("doac", "doac", 400, 5)
    x.event("doac", "creatinine", 10, 250).event("doac", "weight", 10, 60)
    x.patient("nsaid", age=70).issue("nsaid", "nsaid-oral", 5).issue("nsaid", "warfarin", 10)
    x.issue("nsaid", "aspirin", 30)
    x.patient("ckd").event("ckd", "egfr", 200, 50).event("ckd", "egfr", 10, 55)
    x.patient("cloz").issue("cloz", "clozapine", 20)
    duck = x.search()
    spark = run_search(
        connect("pyspark", duckdb_con=x.duckdb(), spark_session=spark_session),
        as_of=T,
        catalogue=fixture_catalogue(),
    )
    assert spark.results.equals(duck.results)
    assert spark.indicators.equals(duck.indicators)
    assert spark.specialist_monitored.equals(duck.specialist_monitored)
