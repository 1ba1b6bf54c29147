"""The rule catalogue as shipped: it loads, it says what clinical/catalogue.md says, and it reads.

The expected rule_ids and the spot-checked numbers are written out by hand from catalogue.md, so a
rule file edited by mistake fails here rather than in a search result.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxwatch.cli import main
from rxwatch.rules import model
from rxwatch.rules.catalogue import SHIPPED_DIR, RuleError, load_catalogue, load_rule
from rxwatch.rules.describe import DOCS_PATH, describe_catalogue, describe_rule, rules_markdown
from rxwatch.rules.model import Rule

EXPECTED_RULE_IDS = sorted(
    [
        "methotrexate.fbc", "methotrexate.lft", "methotrexate.renal",
        "leflunomide.fbc", "leflunomide.lft", "leflunomide.renal", "leflunomide.blood-pressure",
        "leflunomide.weight",
        "azathioprine.fbc", "azathioprine.lft", "azathioprine.renal",
        "mercaptopurine.fbc", "mercaptopurine.lft", "mercaptopurine.renal",
        "sulfasalazine.fbc", "sulfasalazine.lft", "sulfasalazine.renal",
        "mycophenolate.fbc", "mycophenolate.lft", "mycophenolate.renal",
        "lithium.lithium-level", "lithium.renal", "lithium.tft", "lithium.calcium",
        "lithium.weight",
        "amiodarone.tft", "amiodarone.lft",
        "warfarin.inr",
        "doac.renal", "doac.fbc", "doac.lft",
        "antipsychotic.blood-pressure", "antipsychotic.hba1c", "antipsychotic.lipids",
        "antipsychotic.weight",
        "levothyroxine.tsh",
        "spironolactone.renal",
        "digoxin.renal",
        "ace-loop-75.renal", "ace-loop-75.electrolytes",
        "pincer.gi_p3a", "pincer.gi_p3b", "pincer.gi_p3c", "pincer.gi_p3d", "pincer.gi_p3e",
        "pincer.gi_p3f", "pincer.as_p3g", "pincer.hf_p3i", "pincer.ki_p3k",
        "valproate.ppp",
        "missed_dx.diabetes", "missed_dx.ckd",
    ]
)  # fmt: skip

DMARD_PHASES = [(42, 14), (133, 28)]


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def rule(cat, rule_id: str) -> Rule:
    return cat.rule(rule_id)


def get_test(cat, rule_id: str, test_id: str) -> model.Test:
    return next(t for t in rule(cat, rule_id).tests if t.id == test_id)


def phases(t: model.Test) -> list[tuple[int, int]]:
    return [(p.until_days, p.interval_days) for p in t.phases]


def thresholds(t: model.Test) -> set[tuple[str, str, float]]:
    return {(th.analyte, th.op, th.value) for th in t.thresholds}


# --- loading -------------------------------------------------------------------------------------


def test_every_rule_file_loads() -> None:
    for path in sorted(SHIPPED_DIR.glob("*.yaml")):
        r = load_rule(path)
        assert path.stem == r.id, f"{path.name}: file name is the rule id"


def test_rule_ids_are_the_catalogues(cat) -> None:
    got = sorted(rid for r in cat.rules for rid in r.rule_ids)
    assert got == EXPECTED_RULE_IDS


def test_kinds(cat) -> None:
    kinds = {r.id: r.kind for r in cat.rules}
    assert kinds["clozapine"] == "specialist"
    assert rule(cat, "clozapine").rule_ids == []
    assert {k for i, k in kinds.items() if i.startswith("pincer.")} == {"safety_alert"}
    assert kinds["valproate.ppp"] == "safety_alert"
    assert kinds["missed_dx.diabetes"] == kinds["missed_dx.ckd"] == "missed_diagnosis"


def test_every_cited_source_exists_and_has_a_citation(cat) -> None:
    for r in cat.rules:
        ids = {s.id for s in r.sources}
        assert len(ids) == len(r.sources), f"{r.id}: duplicate source ids"
        cited = {t.source for t in r.tests} | {th.source for t in r.tests for th in t.thresholds}
        cited |= {t.interval.source for t in r.tests if t.interval}
        cited |= {e.source for e in r.exclusions if e.source}
        cited |= {x for x in (r.source, r.treatment.source if r.treatment else None) if x}
        assert cited <= ids, f"{r.id}: cites {sorted(cited - ids)}"
        for s in r.sources:
            assert len(s.citation) > 20, f"{r.id}: source {s.id} needs a real citation"
            assert s.url is None or s.url.startswith("https://"), f"{r.id}: {s.id} url"


def test_review_is_honest(cat) -> None:
    for r in cat.rules:
        assert r.version == 1
        assert r.review.authored_by == "RxWatch founding team"
        assert r.review.checked_by is None, f"{r.id}: no clinician has checked it yet"
        assert r.review.date_reviewed == dt.date(2026, 11, 23)
        assert r.review.next_review == dt.date(2027, 11, 23)
        assert r.description and r.group and r.title


def test_thresholds_have_label_unit_and_assumptions_are_listed(cat) -> None:
    for r in cat.rules:
        for t in r.tests:
            for th in t.thresholds:
                assert th.label and th.unit, f"{r.id}.{t.id}: {th.analyte}"
                if th.assumption:
                    assert r.assumptions, f"{r.id}: an assumption threshold needs rule.assumptions"


def test_every_monitoring_rule_has_the_common_exclusion(cat) -> None:
    for r in cat.rules:
        if r.kind != "monitoring":
            continue
        common = [e for e in r.exclusions if e.codelist == "secondary-care-monitoring"]
        assert len(common) == 1 and common[0].lookback_days == 365, r.id
        assert "secondary-care-monitoring" in r.local_codelists
        assert r.treatment is not None


def test_alert_rules_have_a_reason(cat) -> None:
    for r in cat.rules:
        if r.kind in ("safety_alert", "missed_diagnosis"):
            assert r.reason and len(r.reason) > 15, r.id


# --- a broken rule file -------------------------------------------------------------------------


def _copy_catalogue(tmp_path: Path) -> Path:
    rules_dir = tmp_path / "catalogue"
    shutil.copytree(SHIPPED_DIR, rules_dir)
    return rules_dir


def test_bad_field_names_file_and_field(tmp_path: Path) -> None:
    rules_dir = _copy_catalogue(tmp_path)
    path = rules_dir / "methotrexate.yaml"
    text = path.read_text(encoding="utf-8")
    assert "  maintenance_days: 84\n" in text
    path.write_text(text.replace("  maintenance_days: 84\n", "  maintenance_days: often\n", 1))
    with pytest.raises(RuleError) as err:
        load_catalogue(rules_dir=rules_dir)
    message = str(err.value)
    assert "methotrexate.yaml" in message
    assert "tests.0.maintenance_days" in message


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    rules_dir = _copy_catalogue(tmp_path)
    path = rules_dir / "warfarin.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "intervall_days: 84\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"warfarin\.yaml[\s\S]*intervall_days"):
        load_catalogue(rules_dir=rules_dir)


def test_unknown_codelist_is_refused(tmp_path: Path) -> None:
    rules_dir = _copy_catalogue(tmp_path)
    path = rules_dir / "warfarin.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("codelist: inr", "codelist: inrr"))
    with pytest.raises(RuleError, match=r"warfarin[\s\S]*inrr"):
        load_catalogue(rules_dir=rules_dir)


def test_crcl_threshold_without_cockcroft_gault_is_refused(tmp_path: Path) -> None:
    """CrCl is computed from a Cockcroft–Gault interval's creatinine and weight: a test without
    one has nothing to compute it from, which the file must be told, not the search."""
    rules_dir = _copy_catalogue(tmp_path)
    path = rules_dir / "lithium.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("analyte: egfr", "analyte: crcl"))
    with pytest.raises(RuleError, match=r"lithium\.yaml[\s\S]*crcl threshold needs"):
        load_catalogue(rules_dir=rules_dir)


# --- numbers spot-checked against catalogue.md ---------------------------------------------------


@pytest.mark.parametrize("drug", ["methotrexate", "leflunomide", "azathioprine"])
def test_dmard_phases(cat, drug: str) -> None:
    maintenance = 91 if drug == "azathioprine" else 84
    for t in rule(cat, drug).tests:
        assert phases(t) == DMARD_PHASES, f"{drug}.{t.id}"
        assert t.maintenance_days == maintenance


def test_methotrexate_thresholds(cat) -> None:
    assert thresholds(get_test(cat, "methotrexate", "fbc")) == {
        ("wbc", "<", 3.5), ("neutrophils", "<", 1.6), ("platelets", "<", 140),
    }  # fmt: skip
    assert thresholds(get_test(cat, "methotrexate", "lft")) == {
        ("alt", ">", 100), ("ast", ">", 100), ("albumin", "<", 30),
    }  # fmt: skip
    assert thresholds(get_test(cat, "methotrexate", "renal")) == {("egfr", "<", 60)}


def test_leflunomide_blood_pressure_and_weight(cat) -> None:
    bp = get_test(cat, "leflunomide", "blood-pressure")
    assert thresholds(bp) == {("systolic-bp", ">", 140)}
    assert get_test(cat, "leflunomide", "weight").codelist == "weight"


def test_mercaptopurine(cat) -> None:
    fbc = get_test(cat, "mercaptopurine", "fbc")
    assert phases(fbc) == [(84, 28)] and fbc.maintenance_days == 91
    assert ("neutrophils", "<", 2.0) in thresholds(fbc)


def test_sulfasalazine_has_no_maintenance(cat) -> None:
    for t in rule(cat, "sulfasalazine").tests:
        assert phases(t) == [(42, 14), (133, 28), (365, 84)]
        assert t.maintenance_days is None


def test_mycophenolate(cat) -> None:
    for t in rule(cat, "mycophenolate").tests:
        assert phases(t) == [(42, 14)] and t.maintenance_days == 84


def test_lithium(cat) -> None:
    level = get_test(cat, "lithium", "lithium-level")
    assert phases(level) == [(28, 7), (365, 91)] and level.maintenance_days == 91
    assert thresholds(level) == {("lithium-level", ">", 1.0), ("lithium-level", "<", 0.4)}
    for tid in ("renal", "tft", "calcium", "weight"):
        t = get_test(cat, "lithium", tid)
        assert t.phases == () and t.maintenance_days == 182
    assert thresholds(get_test(cat, "lithium", "renal")) == {("egfr", "<", 45)}


def test_amiodarone_warfarin_antipsychotic_levothyroxine(cat) -> None:
    assert [t.maintenance_days for t in rule(cat, "amiodarone").tests] == [182, 182]
    assert thresholds(get_test(cat, "amiodarone", "tft")) == {("tsh", ">", 10)}
    assert get_test(cat, "warfarin", "inr").maintenance_days == 84
    assert {t.maintenance_days for t in rule(cat, "antipsychotic").tests} == {365}
    assert "clozapine" not in rule(cat, "antipsychotic").treatment.codelists
    tsh = get_test(cat, "levothyroxine", "tsh")
    assert phases(tsh) == [(182, 91)] and tsh.maintenance_days == 365


def test_doac_cockcroft_gault(cat) -> None:
    renal = get_test(cat, "doac", "renal")
    cg = renal.interval
    assert cg is not None and cg.type == "cockcroft_gault"
    assert (cg.default_days, cg.elderly_age, cg.elderly_days, cg.crcl_below) == (365, 75, 122, 60)
    assert (cg.days_per_month, cg.missing_days) == (30.4, 122)
    assert (cg.male_factor, cg.female_factor) == (1.23, 1.04)
    assert (cg.creatinine, cg.weight) == ("creatinine", "weight")
    assert cg.assumption_note
    assert thresholds(renal) == {("crcl", "<", 30)}
    assert [t.maintenance_days for t in rule(cat, "doac").tests[1:]] == [365, 365]


def test_spironolactone_and_digoxin(cat) -> None:
    spiro = get_test(cat, "spironolactone", "renal")
    assert phases(spiro) == [(28, 7), (120, 30)] and spiro.maintenance_days == 182
    assert thresholds(spiro) == {("potassium", ">", 5.5), ("egfr", "<", 30)}
    dig = get_test(cat, "digoxin", "renal")
    assert dig.maintenance_days == 365
    (k,) = dig.thresholds
    assert (k.analyte, k.op, k.value, k.assumption) == ("potassium", "<", 3.5, True)


def test_ace_loop_75(cat) -> None:
    r = rule(cat, "ace-loop-75")
    assert r.population.min_age == 75
    assert r.treatment.codelists == ("ace-inhibitor-arb", "loop-diuretic")
    assert r.treatment.lookback_days == 182
    assert r.treatment.min_days_since_first_issue == 456
    assert [(t.id, t.maintenance_days) for t in r.tests] == [("renal", 456), ("electrolytes", 456)]


def test_clozapine_rule(cat) -> None:
    r = rule(cat, "clozapine")
    assert r.treatment.codelists == ("clozapine",) and r.tests == ()


def _dump(r: Rule, part: str) -> dict:
    return r.model_dump(by_alias=True, exclude_none=True)[part]


def test_pincer_predicates(cat) -> None:
    no_ppi = {"not": {"issued": {"codelists": ("ppi",), "within_days": 90}}}
    nsaid = {"issued": {"codelists": ("nsaid-oral",), "within_days": 90}}
    a = rule(cat, "pincer.gi_p3a")
    assert _dump(a, "at_risk") == {"all": ({"age": {"min": 65}}, no_ppi)}
    assert _dump(a, "hazard") == nsaid
    assert a.reason == "Aged 65 or over, on an oral NSAID without a PPI"
    b = rule(cat, "pincer.gi_p3b")
    assert _dump(b, "at_risk")["all"][0] == {
        "event_history": {"codelists": ("peptic-ulcer-gi-bleed",), "before_days": 90}
    }
    c = rule(cat, "pincer.gi_p3c")
    assert _dump(c, "hazard")["issued"]["codelists"] == ("aspirin", "antiplatelet-non-aspirin")
    e = rule(cat, "pincer.gi_p3e")
    assert _dump(e, "hazard")["co_prescribed"] == {
        "a": ("warfarin", "doac"), "b": ("aspirin", "antiplatelet-non-aspirin"),
        "within_days": 28, "recent_days": 90,
    }  # fmt: skip
    f = rule(cat, "pincer.gi_p3f")
    assert _dump(f, "hazard")["co_prescribed"]["b"] == ("antiplatelet-non-aspirin",)
    g = rule(cat, "pincer.as_p3g")
    assert _dump(g, "at_risk") == {
        "unresolved": {"codelists": ("asthma",), "resolved": ("asthma-resolved",),
                       "before_days": 90}
    }  # fmt: skip
    k = rule(cat, "pincer.ki_p3k")
    assert _dump(k, "at_risk") == {
        "latest_value": {"codelists": ("egfr",), "op": "<", "value": 45, "before_days": 90,
                         "exclude_comparators": (">", ">=")}
    }  # fmt: skip
    hf = rule(cat, "pincer.hf_p3i")  # "history of" = an event on or before T - 90 days
    assert _dump(hf, "at_risk") == {
        "event_history": {"codelists": ("heart-failure",), "before_days": 90}
    }
    nsaid_alerts = ("gi_p3a", "gi_p3b", "gi_p3d", "hf_p3i", "ki_p3k")
    for rid in (f"pincer.{a}" for a in nsaid_alerts):
        assert _dump(rule(cat, rid), "hazard") == nsaid, rid


def test_valproate_and_missed_diagnoses(cat) -> None:
    v = rule(cat, "valproate.ppp")
    at_risk = _dump(v, "at_risk")["all"]
    assert {"sex": ("F",)} in at_risk and {"age": {"min": 12, "max": 55}} in at_risk
    assert _dump(v, "hazard") == {
        "not": {"event_within": {"codelists": ("valproate-ppp",), "within_days": 365}}
    }
    assert v.local_codelists == ("valproate-ppp",) and len(v.assumptions) == 2
    ckd = _dump(rule(cat, "missed_dx.ckd"), "hazard")["all"]
    assert ckd[0] == {
        "repeated_values": {"codelists": ("egfr",), "op": "<", "value": 60, "within_days": 730,
                            "min_gap_days": 90}
    }  # fmt: skip
    assert ckd[2] == {"not": {"event_history": {"codelists": ("ckd",), "before_days": 0}}}
    dm = _dump(rule(cat, "missed_dx.diabetes"), "hazard")["all"]
    assert dm[0]["latest_value"]["op"] == ">=" and dm[0]["latest_value"]["value"] == 48


# --- in words ------------------------------------------------------------------------------------


def test_docs_rules_md_is_up_to_date() -> None:
    assert DOCS_PATH.read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `python -m rxwatch.rules.describe --markdown`"
    )


def test_describe_catalogue_lists_every_rule_id() -> None:
    text = describe_catalogue()
    for rid in [*EXPECTED_RULE_IDS, "clozapine"]:
        assert f"{rid} " in text, rid


def test_describe_rule_by_rule_id_and_unknown() -> None:
    text = describe_rule("methotrexate.fbc")
    assert "every 14 days (2 weeks) up to day 42" in text
    assert "every 84 days (12 weeks)" in text
    with pytest.raises(RuleError, match="no rule 'nope'"):
        describe_rule("nope")


def test_cli_rules_show_prints_the_sources() -> None:
    result = CliRunner().invoke(main, ["rules", "show", "methotrexate"])
    assert result.exit_code == 0, result.output
    assert "https://sps.nhs.uk/monitorings/methotrexate-monitoring" in result.output
    assert "https://doi.org/10.1093/rheumatology/kew479" in result.output
    assert "`methotrexate`:" in result.output and "dm+d codes" in result.output
    assert "NOT SHIPPED" in result.output  # the secondary-care list an organisation supplies


def test_cli_rules_list_and_unknown_rule() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["rules", "list"])
    assert listed.exit_code == 0 and "pincer.ki_p3k" in listed.output
    unknown = runner.invoke(main, ["rules", "show", "no.such.rule"])
    assert unknown.exit_code == 2
    assert "no rule" in unknown.output


def test_hazard_log_names_tests_that_exist() -> None:
    """Each rules hazard's 'verified by' names a test here; a renamed test must update the log."""
    log = (DOCS_PATH.parent / "clinical-safety" / "hazard-log.md").read_text(encoding="utf-8")
    section = log[log.index("## Rule catalogue and codelists") :]
    here = Path(__file__).parent
    sources = {p.stem: p.read_text(encoding="utf-8") for p in here.glob("test_*.py")}
    refs = re.findall(r"`(?:tests/rules/(test_\w+)\.py)?::(test_\w+)`", section)
    assert len(refs) > 10
    module = ""
    for named_module, test_name in refs:
        module = named_module or module
        assert f"def {test_name}(" in sources[module], f"hazard log names {module}::{test_name}"
