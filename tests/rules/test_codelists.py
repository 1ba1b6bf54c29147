"""The shipped codelists: every code real, checked against its reference, and the lists consistent.

Codes are never invented. Each shipped code is either in the reference list(s) that codelists.yaml
names (the OpenSAFELY copies in ../shared/codelists/opensafely/) or listed under
``outside_reference`` with the public source it was read from. Every code also passes the SNOMED CT
Verhoeff check digit: that catches a mistyped code, and the precision loss seen in some published
CSVs (16+ digit ids stored as floats, e.g. 8665611000001103 → 8665611000001100).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rxwatch.rules.catalogue import load_catalogue
from rxwatch.rules.codelists import (
    SHIPPED_DIR,
    CodelistError,
    read_codelist_csv,
    read_metadata,
    sctid_ok,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REFERENCE_DIR = SHARED / "codelists" / "opensafely"
OPENCODELISTS = "https://www.opencodelists.org/codelist/"

SHIPPED = sorted(p.stem for p in SHIPPED_DIR.glob("*.csv"))
META = read_metadata()


verhoeff_ok = sctid_ok  # the check lives in the product: --codelists files get it too


def test_verhoeff_on_known_codes() -> None:
    """The check itself: real ids pass; a precision-damaged dm+d id fails."""
    for code in ("404684003", "22298006", "195967001", "1000731000000107", "8665611000001103"):
        assert verhoeff_ok(code), code
    assert not verhoeff_ok("8665611000001100")  # the float-damaged form of 8665611000001103


# --- helpers -------------------------------------------------------------------------------------


def shipped_codes(name: str) -> frozenset[str]:
    return read_codelist_csv(SHIPPED_DIR / f"{name}.csv").codes


def reference_codes(file_name: str) -> set[str]:
    """The code column of a reference CSV: ``code``, ``id`` or ``dmd_id``, whichever has digits."""
    path = REFERENCE_DIR / file_name
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    for column in ("code", "id", "dmd_id"):
        if rows and column in rows[0] and rows[0][column].strip().isdigit():
            return {r[column].strip() for r in rows}
    raise AssertionError(f"{path}: no code/id/dmd_id column of digits")


def need_shared() -> None:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"../shared not present: {REFERENCE_DIR} is needed to re-check reference codes")


# --- the files -----------------------------------------------------------------------------------


def test_every_csv_has_metadata_and_every_entry_a_csv() -> None:
    assert set(SHIPPED) == set(META), (
        f"CSV without codelists.yaml entry: {sorted(set(SHIPPED) - set(META))}; "
        f"entry without CSV: {sorted(set(META) - set(SHIPPED))}"
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_metadata_entry(name: str) -> None:
    entry = META[name]
    assert entry["coding_system"] in ("dmd", "snomedct")
    assert entry["description"]
    url = entry["opencodelists"]
    if url is None:  # no list of exactly this set: say why, never point at a wider list
        assert "No OpenCodelists list" in entry["notes"], f"{name}: say why there is no URL"
    else:
        assert url.startswith(OPENCODELISTS) and url.endswith("/"), url
    assert entry["provenance"]
    refs = entry["reference"]
    assert refs is None or (isinstance(refs, list) and refs), "reference is a list of files or null"
    if refs is None:
        assert "outside_reference" not in entry, "lists without a reference name one provenance"
        assert "/" in entry["provenance"], "provenance names the public repository and path"


@pytest.mark.parametrize("name", SHIPPED)
def test_csv_format_and_codes(name: str) -> None:
    path = SHIPPED_DIR / f"{name}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["code", "term"], f"{path}: OpenCodelists header code,term"
    codes = [r[0] for r in rows[1:]]
    assert codes, f"{path}: no codes"
    assert len(codes) == len(set(codes)), f"{path}: duplicate codes"
    for row in rows[1:]:
        code, term = row
        assert code.isdigit(), f"{path}: {code!r} is not digits"
        assert 6 <= len(code) <= 18, f"{path}: {code} has an impossible length for an SCTID"
        assert verhoeff_ok(code), f"{path}: {code} fails the SNOMED CT check digit"
        assert code[-3:-1] in ("00", "10"), f"{path}: {code} is not a concept id (partition)"
        assert term.strip(), f"{path}: {code} has no term"


@pytest.mark.parametrize("name", [n for n in SHIPPED if META[n]["reference"]])
def test_codes_are_in_the_reference_lists(name: str) -> None:
    """Each code is in a named reference file, or listed under outside_reference with a source."""
    need_shared()
    entry = META[name]
    union: set[str] = set()
    for file_name in entry["reference"]:
        union |= reference_codes(file_name)
    outside = {str(k): v for k, v in (entry.get("outside_reference") or {}).items()}
    codes = shipped_codes(name)
    unexplained = sorted(c for c in codes if c not in union and c not in outside)
    assert not unexplained, f"{name}: codes in no reference file and with no source: {unexplained}"
    for code, source in outside.items():
        assert code in codes, f"{name}: outside_reference lists {code}, which is not shipped"
        assert code not in union, f"{name}: {code} is in a reference, not outside it"
        assert source and "/" in source, f"{name}: {code} needs the public source it came from"


def test_reference_files_named_exist() -> None:
    need_shared()
    named = {f for e in META.values() for f in (e["reference"] or [])}
    missing = sorted(f for f in named if not (REFERENCE_DIR / f).is_file())
    assert not missing, f"codelists.yaml names reference files not in {REFERENCE_DIR}: {missing}"


# --- relationships the catalogue relies on ------------------------------------------------------


@pytest.mark.parametrize(
    ("test_list", "analytes"),
    [
        ("fbc", ("wbc", "neutrophils", "platelets")),
        ("lft", ("alt", "ast", "albumin")),
        ("renal", ("creatinine", "egfr", "potassium")),
        ("electrolytes", ("potassium",)),
        ("tft", ("tsh",)),
        ("blood-pressure", ("systolic-bp",)),
    ],
)
def test_test_lists_contain_their_analytes(test_list: str, analytes: tuple[str, ...]) -> None:
    """An ALT result counts as an LFT done: a test's list holds its analytes' codes."""
    whole = shipped_codes(test_list)
    for analyte in analytes:
        missing = sorted(shipped_codes(analyte) - whole)
        assert not missing, f"{test_list} lacks {analyte} codes {missing}"


def test_every_threshold_analyte_is_inside_its_test_list() -> None:
    cat = load_catalogue()
    for rule in cat.rules:
        for t in rule.tests:
            for th in t.thresholds:
                if th.analyte == "crcl":
                    assert t.interval is not None
                    analyte_codes = cat.codelists[t.interval.creatinine].codes
                else:
                    analyte_codes = cat.codelists[th.analyte].codes
                missing = analyte_codes - cat.codelists[t.codelist].codes
                assert not missing, f"{rule.id}.{t.id}: {th.analyte} codes outside {t.codelist}"


def test_clozapine_is_not_in_antipsychotic() -> None:
    antipsychotic = read_codelist_csv(SHIPPED_DIR / "antipsychotic.csv")
    assert not (antipsychotic.codes & shipped_codes("clozapine"))
    assert not [t for t in antipsychotic.terms.values() if "clozapine" in t.lower()]
    assert not [t for t in antipsychotic.terms.values() if "clozaril" in t.lower()]


def test_every_codelist_a_rule_names_exists_or_is_declared_local() -> None:
    cat = load_catalogue()
    supplied = {n for n, c in cat.codelists.items() if c.supplied}
    for rule in cat.rules:
        missing = rule.all_codelist_names() - supplied
        assert missing == set(rule.local_codelists), (
            f"{rule.id}: codelists neither shipped nor declared local: "
            f"{sorted(missing - set(rule.local_codelists))}"
        )
        shipped_local = set(rule.local_codelists) & supplied
        assert not shipped_local, f"{rule.id}: {shipped_local} ship now; drop from local_codelists"


def test_every_shipped_codelist_is_used_by_a_rule() -> None:
    used = {n for r in load_catalogue().rules for n in r.all_codelist_names()}
    assert set(SHIPPED) <= used, f"shipped but unused: {sorted(set(SHIPPED) - used)}"


# --- an organisation's own lists -----------------------------------------------------------------


def test_codelists_override_replaces_by_stem(tmp_path: Path) -> None:
    """An OpenCodelists dm+d download (dmd_id column) replaces the shipped list of the same stem."""
    (tmp_path / "methotrexate.csv").write_text(
        "dmd_type,dmd_id,dmd_name,bnf_code\n"
        "VMP,326874007,Methotrexate 2.5mg tablets,1001030U0AAABAB\n",
        encoding="utf-8",
    )
    cat = load_catalogue(codelists_dir=tmp_path)
    mtx = cat.codelists["methotrexate"]
    assert mtx.codes == frozenset({"326874007"})
    assert mtx.overridden
    assert mtx.coding_system == "dmd"
    assert mtx.source and mtx.source.startswith(OPENCODELISTS)  # metadata kept for the override
    assert not cat.codelists["fbc"].overridden
    assert cat.codelists["fbc"].codes == shipped_codes("fbc")


def test_codelists_override_supplies_a_local_list(tmp_path: Path) -> None:
    """An organisation can add the lists RxWatch does not ship (here with a shipped code as stand-in
    test data; a real list holds its own shared-care codes)."""
    (tmp_path / "secondary-care-monitoring.csv").write_text(
        "code,term\n1022441000000101,test stand-in\n", encoding="utf-8"
    )
    cat = load_catalogue(codelists_dir=tmp_path)
    assert "secondary-care-monitoring" in cat.codelists
    assert cat.codelists["secondary-care-monitoring"].overridden
    assert cat.codelists["secondary-care-monitoring"].supplied
    # Not supplied: present but empty, so its rules run in the fail-safe reading (HAZ-104).
    assert not cat.codelists["valproate-ppp"].supplied
    assert cat.codelists["valproate-ppp"].codes == frozenset()
    assert cat.unsupplied_codelists == ["valproate-ppp"]


def test_a_damaged_code_in_an_organisations_list_is_refused(tmp_path: Path) -> None:
    """A long id that lost its last digits in a spreadsheet (HAZ-102) is refused, naming the line."""
    (tmp_path / "methotrexate.csv").write_text(
        "code,term\n326874007,Methotrexate 2.5mg tablets\n8665611000001100,damaged\n",
        encoding="utf-8",
    )
    with pytest.raises(
        CodelistError, match=r"methotrexate\.csv: line 3: column code: '8665611000001100'"
    ):
        load_catalogue(codelists_dir=tmp_path)
