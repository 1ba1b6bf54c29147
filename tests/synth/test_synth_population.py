"""The synthetic population: reproducible, in the canonical shape, and realistic enough to give every
rule work (prevalence, overdue shares, hazards, unrecorded diagnoses, shared care)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import nhs_number
import numpy as np
import pytest
from synth_checks import AS_OF, overdue, population, prevalence

from rxwatch.extract.schema import TABLES
from rxwatch.synth import params as P
from rxwatch.synth.nhs import check_digits, synthetic_nhs_numbers
from rxwatch.synth.population import SynthError, _practices, generate


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kw = dict(patients=1500, practices=2, fmt="csv", as_of=AS_OF)
    generate(out=tmp_path / "a", seed=3, **kw)
    generate(out=tmp_path / "b", seed=3, **kw)
    generate(out=tmp_path / "c", seed=4, **kw)
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert a["events.csv"] != c["events.csv"] and a["patients.csv"] != c["patients.csv"]


def test_worker_processes_change_nothing(tmp_path):
    kw = dict(patients=3000, practices=2, seed=5, fmt="csv", as_of=AS_OF)
    generate(out=tmp_path / "serial", workers=0, **kw)
    generate(out=tmp_path / "parallel", workers=2, **kw)
    assert _digest(tmp_path / "serial") == _digest(tmp_path / "parallel")


def test_summary_and_bad_arguments(tmp_path):
    summary = generate(out=tmp_path / "x", patients=500, practices=1, seed=1, as_of=AS_OF)
    assert "500 patients" in summary and "events" in summary and " s" in summary
    with pytest.raises(SynthError):
        generate(out=tmp_path / "y", patients=2, practices=3, seed=1, as_of=AS_OF)
    with pytest.raises(SynthError):
        generate(out=tmp_path / "z", patients=10, practices=1, seed=1, fmt="xml", as_of=AS_OF)


def test_csv_columns_are_the_contract(extract):
    for t in TABLES:
        with (extract / t.file).open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert header == t.column_names, t.file


def test_parquet_holds_the_same_rows_as_csv(tmp_path):
    kw = dict(patients=1200, practices=2, seed=9, as_of=AS_OF)
    generate(out=tmp_path / "csv", fmt="csv", **kw)
    generate(out=tmp_path / "pq", fmt="parquet", **kw)
    con = duckdb.connect()
    for t in TABLES:
        types = ", ".join(f"'{c.name}': '{c.sql_type}'" for c in t.columns)
        a = con.execute(
            f"SELECT * FROM read_csv('{tmp_path / 'csv' / t.file}', header=true, types={{{types}}})"
            " EXCEPT ALL "
            f"SELECT * FROM read_parquet('{tmp_path / 'pq' / (t.name + '.parquet')}')"
        ).fetchall()
        assert a == [], t.name
        cols = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{tmp_path / 'pq' / (t.name + '.parquet')}')"
        ).fetchall()
        assert [(c[0], c[1]) for c in cols] == [(c.name, c.sql_type) for c in t.columns]


def test_extract_validates_with_the_reader(extract):
    load = pytest.importorskip("rxwatch.extract.load")
    load.open_extract(extract)


def test_nhs_numbers_valid_unique_and_synthetic(extract):
    rng = np.random.default_rng(1)
    nums = synthetic_nhs_numbers(5000, rng)
    assert len(set(nums.tolist())) == 5000
    assert all(nhs_number.is_valid(str(n)) for n in nums[:1000])
    assert all(str(n).startswith("999") for n in nums)
    stems = rng.integers(100_000_000, 999_999_999, 2000)
    ours = check_digits(stems)
    theirs = [nhs_number.calculate_checksum(str(s)) for s in stems]
    assert [10 if t == 10 else t for t in theirs] == ours.tolist()
    with (extract / "patients.csv").open() as f:
        written = [row["nhs_number"] for row in csv.DictReader(f)]
    assert len(set(written)) == len(written)
    assert all(nhs_number.is_valid(n) for n in written[:2000])


def test_every_code_is_from_a_shipped_codelist(con, codelists):
    all_codes = {c for cl in codelists.values() for c in cl.codes}
    meds = {r[0] for r in con.execute("SELECT DISTINCT dmd_code FROM medications").fetchall()}
    events = {r[0] for r in con.execute("SELECT DISTINCT snomed_code FROM events").fetchall()}
    assert meds and events
    assert meds <= all_codes
    assert events <= all_codes


def test_every_catalogue_codelist_has_rows(con, codelists):
    """Every list the catalogue names (that is shipped) appears, so every rule has work."""
    used = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT cl.name FROM (SELECT dmd_code AS code FROM medications UNION "
            "SELECT snomed_code FROM events) x JOIN cl USING (code)"
        ).fetchall()
    }
    missing = sorted(set(codelists) - used)
    assert missing == []


def test_practices_sizes_names_and_pcns():
    rng = np.random.default_rng(0)
    prac = _practices(1_000_000, 100, rng)
    assert prac.sizes.sum() == 1_000_000
    assert prac.sizes.min() >= P.PRACTICE_SIZE[0] and prac.sizes.max() <= P.PRACTICE_SIZE[1]
    assert len(set(prac.ods)) == 100 and all(len(o) == 6 for o in prac.ods)
    assert all(n.endswith("(synthetic)") for n in prac.names)
    per_pcn: dict[str, int] = {}
    for p in prac.pcns:
        per_pcn[p] = per_pcn.get(p, 0) + 1
    assert all(3 <= k <= 6 for k in list(per_pcn.values())[:-1])


def test_age_sex_structure(con):
    population(con, AS_OF, adults=False)
    share_65 = con.execute("SELECT avg((age >= 65)::INT) FROM pop").fetchone()[0]
    share_f = con.execute("SELECT avg((sex = 'F')::INT) FROM pop").fetchone()[0]
    under_18 = con.execute("SELECT avg((age < 18)::INT) FROM pop").fetchone()[0]
    assert 0.14 < share_65 < 0.24  # England ~18.5%
    assert 0.48 < share_f < 0.53
    assert 0.17 < under_18 < 0.25


# adult prevalence of current use (issue in the last 90 days), generous bands around the targets
PREVALENCE = {
    "methotrexate": (0.002, 0.007),
    "azathioprine": (0.0005, 0.003),
    "leflunomide": (0.0001, 0.0015),
    "lithium": (0.0005, 0.003),
    "amiodarone": (0.0008, 0.004),
    "warfarin": (0.004, 0.013),
    "doac": (0.015, 0.035),
    "antipsychotic": (0.007, 0.018),
    "levothyroxine": (0.028, 0.05),
    "spironolactone": (0.004, 0.012),
    "digoxin": (0.002, 0.006),
    "ace-inhibitor-arb": (0.12, 0.19),
    "loop-diuretic": (0.02, 0.05),
    "ppi": (0.12, 0.19),
    "nsaid-oral": (0.03, 0.07),
    "aspirin": (0.03, 0.07),
    "valproate": (0.001, 0.004),
}


def test_prevalence_in_primary_care_range(con):
    prev = prevalence(con, AS_OF)
    out = {k: round(prev.get(k, 0), 4) for k, (lo, hi) in PREVALENCE.items()
           if not lo <= prev.get(k, 0) <= hi}  # fmt: skip
    assert out == {}
    assert prev.get("clozapine", 0) > 0


def test_overdue_share_among_treated(con):
    res = overdue(con, AS_OF)
    late = sum(a for a, _ in res.values())
    treated = sum(b for _, b in res.values())
    assert treated > 1000
    assert 0.10 <= late / treated <= 0.30, res


def test_rows_per_patient(con):
    n = con.execute("SELECT count(*) FROM patients").fetchone()[0]
    rows = con.execute(
        "SELECT (SELECT count(*) FROM medications) + (SELECT count(*) FROM events)"
    ).fetchone()[0]
    assert 50 <= rows / n <= 70


def test_results_have_units_plausible_values_and_comparators(con):
    def q(sql: str):
        return con.execute(sql).fetchall()

    egfr = q(
        "SELECT count(*) FILTER (WHERE comparator = '>' AND value = 90), "
        "count(*) FILTER (WHERE value < 60), min(value), max(value), any_value(unit) "
        "FROM events e JOIN cl ON cl.code = e.snomed_code AND cl.name = 'egfr'"
    )[0]
    assert egfr[0] > 100 and egfr[1] > 50 and egfr[2] >= 5 and egfr[3] <= 90
    assert egfr[4] == "mL/min/1.73m2"
    for name, lo, hi, unit in (
        ("wbc", 1.0, 25, "10^9/L"), ("platelets", 50, 700, "10^9/L"),
        ("alt", 3, 400, "U/L"), ("creatinine", 25, 1200, "umol/L"),
        ("potassium", 2.5, 7, "mmol/L"), ("lithium-level", 0.1, 2, "mmol/L"),
        ("tsh", 0.01, 80, "mU/L"), ("hba1c", 25, 130, "mmol/mol"),
        ("systolic-bp", 80, 220, "mmHg"), ("weight", 30, 200, "kg"),
    ):  # fmt: skip
        row = q(
            f"SELECT min(value), max(value), list(DISTINCT unit) FROM events e JOIN cl "
            f"ON cl.code = e.snomed_code AND cl.name = '{name}' WHERE value IS NOT NULL"
        )[0]
        assert lo <= row[0] and row[1] <= hi and row[2] == [unit], (name, row)
    no_unit = q("SELECT count(*) FROM events WHERE value IS NULL AND unit IS NOT NULL")[0][0]
    assert no_unit == 0


def test_hazards_and_unrecorded_diagnoses_occur(con):
    T = f"DATE '{AS_OF}'"
    population(con, AS_OF)

    def recent(name: str) -> str:
        return (
            f"SELECT patient_id FROM medications m JOIN cl ON cl.code = m.dmd_code "
            f"AND cl.name = '{name}' WHERE issue_date > {T} - 90 AND issue_date <= {T}"
        )

    nsaid_old_no_ppi = con.execute(
        f"SELECT count(*) FROM pop WHERE age >= 65 AND patient_id IN ({recent('nsaid-oral')}) "
        f"AND patient_id NOT IN ({recent('ppi')})"
    ).fetchone()[0]
    oac_nsaid = con.execute(
        f"SELECT count(*) FROM pop WHERE patient_id IN ({recent('doac')} UNION {recent('warfarin')})"
        f" AND patient_id IN ({recent('nsaid-oral')})"
    ).fetchone()[0]
    asthma_nsbb = con.execute(
        f"SELECT count(*) FROM pop WHERE patient_id IN ({recent('beta-blocker-non-selective')}) AND "
        "patient_id IN (SELECT patient_id FROM events e JOIN cl ON cl.code = e.snomed_code "
        "AND cl.name = 'asthma')"
    ).fetchone()[0]
    hidden_dm = con.execute(
        "WITH h AS (SELECT patient_id, arg_max(value, date) AS v FROM events e JOIN cl "
        "ON cl.code = e.snomed_code AND cl.name = 'hba1c' WHERE value IS NOT NULL GROUP BY 1) "
        "SELECT count(*) FROM h JOIN pop USING (patient_id) WHERE v >= 48 AND patient_id NOT IN "
        "(SELECT patient_id FROM events e JOIN cl ON cl.code = e.snomed_code "
        "AND cl.name = 'diabetes')"
    ).fetchone()[0]
    n_adults = con.execute("SELECT count(*) FROM pop").fetchone()[0]
    assert 0 < nsaid_old_no_ppi < 0.02 * n_adults
    assert 0 < oac_nsaid < 0.005 * n_adults
    assert 0 < asthma_nsbb < 0.005 * n_adults
    assert 0 < hidden_dm < 0.02 * n_adults


def test_deaths_leavers_initiation_and_stops(con):
    T = f"DATE '{AS_OF}'"
    died, left, n = con.execute(
        "SELECT count(date_of_death), count(registration_end), count(*) FROM patients"
    ).fetchone()
    assert 0.003 * n < died < 0.02 * n and 0.02 * n < left < 0.06 * n
    started = con.execute(
        f"SELECT count(*) FROM (SELECT patient_id, min(issue_date) AS f FROM medications m "
        f"JOIN cl ON cl.code = m.dmd_code AND cl.name = 'methotrexate' GROUP BY 1) "
        f"WHERE f > {T} - 133"
    ).fetchone()[0]
    assert started > 0
    gaps = con.execute(
        "SELECT max(d) FROM (SELECT date_diff('day', lag(issue_date) OVER w, issue_date) AS d "
        "FROM medications WINDOW w AS (PARTITION BY patient_id, dmd_code ORDER BY issue_date))"
    ).fetchone()[0]
    assert gaps > 120  # missed issues and restarts


def test_as_of_defaults_to_today(tmp_path):
    generate(out=tmp_path / "t", patients=300, practices=1, seed=2)
    with (tmp_path / "t" / "medications.csv").open() as f:
        latest = max(dt.date.fromisoformat(r["issue_date"]) for r in csv.DictReader(f))
    assert latest <= dt.date.today()


def test_local_codelists_add_shared_care_and_valproate_ppp(tmp_path, codelists):
    """Lists an organisation supplies (not shipped) are used when given: shared care is recorded and
    those patients have few GP results; women on valproate get annual risk forms."""
    local = dict(codelists)
    # placeholders standing in for an organisation's own lists (test only; never shipped)
    local["secondary-care-monitoring"] = frozenset({"1000000000000001"})
    local["valproate-ppp"] = frozenset({"1000000000000002"})
    generate(
        out=tmp_path / "x", patients=20_000, practices=2, seed=11, as_of=AS_OF, codelists=local
    )
    con = duckdb.connect()
    n_sc, n_ppp = con.execute(
        f"SELECT count(*) FILTER (WHERE snomed_code = '1000000000000001'), "
        f"count(*) FILTER (WHERE snomed_code = '1000000000000002') "
        f"FROM read_csv('{tmp_path / 'x' / 'events.csv'}', all_varchar=true)"
    ).fetchone()
    assert n_sc > 5 and n_ppp > 0


@pytest.mark.slow
def test_the_engine_finds_work_for_every_rule(extract, tmp_path):
    """The real search over the population: every rule has patients (a denominator) and flags, and
    10-30% of treated patients are overdue for at least one of their drug's tests."""
    search = pytest.importorskip("rxwatch.engine.search")
    from rxwatch.rules.catalogue import load_catalogue

    search.search_extract(extract, as_of=AS_OF, out=tmp_path)
    con = duckdb.connect()
    ind = con.execute(
        f"SELECT indicator_id, sum(numerator), sum(denominator) "
        f"FROM read_csv('{tmp_path / 'indicators.csv'}') GROUP BY 1"
    ).fetchall()
    flagged = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT rule_id FROM read_csv('{tmp_path / 'results.csv'}')"
        ).fetchall()
    }
    denominators = {k: d for k, _, d in ind}
    for rule in load_catalogue().rules:
        for rule_id in rule.rule_ids:
            assert denominators.get(rule_id, 0) > 0, rule_id
    assert len(flagged) > 30
    # per rule, the share overdue for its worst test; pooled over the drug rules
    worst: dict[str, tuple[float, int]] = {}
    for rule_id, num, den in ind:
        rule = rule_id.split(".")[0]
        if "." not in rule_id or rule in ("pincer", "missed_dx", "valproate", "ace-loop-75"):
            continue
        share = 1 - num / den
        worst[rule] = max(worst.get(rule, (0.0, 0)), (share, den))
    late = sum(s * d for s, d in worst.values())
    treated = sum(d for _, d in worst.values())
    assert 0.10 <= late / treated <= 0.30, worst


@pytest.mark.parametrize("fmt", ["parquet", "fhir"])
def test_parquet_and_fhir_read_back_as_the_same_population(tmp_path, fmt):
    """Each format validates with the reader and holds the same patients and row counts as CSV."""
    load = pytest.importorskip("rxwatch.extract.load")
    if fmt == "fhir":
        pytest.importorskip("rxwatch.extract.fhir")
    kw = dict(patients=800, practices=2, seed=13, as_of=AS_OF)
    generate(out=tmp_path / "csv", fmt="csv", **kw)
    summary = generate(out=tmp_path / fmt, fmt=fmt, **kw)
    assert f"({fmt})" in summary
    counts = []
    for d in ("csv", fmt):
        con = load.open_extract(tmp_path / d)
        counts.append([con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in TABLES])
        con.close()
    assert counts[0] == counts[1]
    assert not [p for p in (tmp_path / fmt).iterdir() if p.name.startswith(".synth-")]
