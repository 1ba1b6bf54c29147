"""Expected rows and the checks every spec module shares.

A spec module defines ``RULES`` (rule ids to run), ``CASES`` (one ``Case`` per named patient) and
optionally ``EXTRA_PATIENTS`` (patients checked by hand elsewhere, e.g. a shared indicator
practice). The module-scoped ``spec`` fixture (tests/conftest.py) runs the search once per backend
over all of them.

For every case, for every checked rule_id: the patient's row must equal the expected row, or be
absent when none is expected; and the indicators of the patient's own practice must put the patient
in the denominator (``den``) and, when in it, in the numerator exactly when the catalogue says: not
``overdue`` for monitoring tests, flagged for alerts and missed diagnoses.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
from tests.engine.spec.population import P, d

from rxwatch.engine.api import SearchResult
from rxwatch.rules.catalogue import Catalogue

# The spec modules run together by the ``spec_search`` fixture and checked against the reference.
SPEC_MODULES = (
    "test_spec_dmards",
    "test_spec_mental_health",
    "test_spec_anticoagulants",
    "test_spec_cardio_thyroid",
    "test_spec_pincer",
    "test_spec_missed_dx",
)


def spec_module(name: str):
    return importlib.import_module(f"tests.engine.spec.{name}")


def named_patients(module) -> list[P]:
    """A spec module's named patients: one per case, and any extra ones."""
    return [c.patient for c in module.CASES] + list(getattr(module, "EXTRA_PATIENTS", ()))


@dataclass(frozen=True)
class Exp:
    """One expected results row (reason is checked only for containing ``reason_has``)."""

    status: str
    last_date: str | None = None
    due_date: str | None = None
    days_overdue: int | None = None
    last_value: float | None = None
    reason_has: tuple[str, ...] = ()


def overdue(last: str | None = None, *, due: str | None = None, days: int | None = None) -> Exp:
    """Overdue; with no last test, no due date and no days overdue."""
    if last is None:
        assert due is None and days is None
    else:
        assert due is not None and days is not None, "write the due date and days by hand"
    return Exp("overdue", last, due, days, None)


def due_soon(last: str, *, due: str) -> Exp:
    return Exp("due_soon", last, due)


def oor(last: str, value: float, *, due: str) -> Exp:
    """Out of range: the breaching value and its date."""
    return Exp("out_of_range", last, due, None, value)


def alert(last: str) -> Exp:
    return Exp("safety_alert", last)


def missed(last: str, value: float) -> Exp:
    return Exp("missed_diagnosis", last, None, None, value)


@dataclass(frozen=True)
class Case:
    """A named patient and what the search must say about them.

    ``rows``: rule_id → expected row; every other checked rule_id must have no row.
    ``den``: the rule_ids whose denominator has the patient; False: none; None (default): monitoring
    rule_ids whose drug the patient has issues of (a key of ``issues``), every missed-diagnosis
    rule_id, and the alerts with an expected row.
    ``only``: check just these rule_ids (default: every rule_id of the module's rules).
    """

    patient: P
    rows: Mapping[str, Exp] = field(default_factory=dict)
    den: bool | Iterable[str] | None = None
    only: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return self.patient.name


def case_ids(cases: Iterable[Case]) -> list[str]:
    return [c.id for c in cases]


@dataclass(frozen=True)
class Outcome:
    """A search result indexed for per-patient checks."""

    result: SearchResult
    rows: dict[tuple[str, str], dict]
    indicators: dict[tuple[str, str], tuple[int, int]]
    practice: dict[str, str]
    rule_ids: tuple[str, ...]
    kind: dict[str, str]  # rule_id → rule kind
    drugs: dict[str, tuple[str, ...]]  # monitoring rule_id → treatment codelists

    @classmethod
    def build(
        cls,
        result: SearchResult,
        practice: dict[str, str],
        kind: dict[str, str],
        drugs: dict[str, tuple[str, ...]],
    ) -> Outcome:
        """``kind``: rule_id → rule kind, for every rule_id the search ran; ``drugs``: treatment
        codelists of each monitoring rule_id."""
        rows: dict[tuple[str, str], dict] = {}
        for r in result.results.to_pylist():
            key = (r["patient_id"], r["rule_id"])
            assert key not in rows, f"two result rows for {key}"
            rows[key] = r
        indicators = {
            (r["practice"], r["indicator_id"]): (int(r["numerator"]), int(r["denominator"]))
            for r in result.indicators.to_pylist()
        }
        return cls(result, rows, indicators, practice, tuple(kind), kind, drugs)

    def indicator(self, practice: str, rule_id: str) -> tuple[int, int]:
        """(numerator, denominator); a row left out means (0, 0)."""
        return self.indicators.get((practice, rule_id), (0, 0))

    def specialist(self) -> list[dict]:
        return self.result.specialist_monitored.to_pylist()


def kinds_of(catalogue: Catalogue) -> dict[str, str]:
    """rule_id → kind of every rule_id of ``catalogue``."""
    return {rid: rule.kind for rule in catalogue.rules for rid in rule.rule_ids}


def drugs_of(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """Monitoring rule_id → the rule's treatment codelists."""
    return {
        rid: tuple(rule.treatment.codelists)
        for rule in catalogue.rules
        if rule.treatment is not None
        for rid in rule.rule_ids
    }


def _as_date(v: object) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def date_spellings(day: dt.date) -> list[str]:
    """Ways a reason may write a date: ISO, 1 September 2026, 1 Sep 2026, 01/09/2026."""
    return [
        day.isoformat(),
        f"{day.day} {day:%B %Y}",
        f"{day.day} {day:%b %Y}",
        f"{day:%d/%m/%Y}",
        f"{day:%d %B %Y}",
        f"{day:%d %b %Y}",
    ]


def check_row(actual: dict | None, exp: Exp | None, where: str) -> None:
    if exp is None:
        assert actual is None, f"{where}: expected no row, got {_brief(actual)}"
        return
    assert actual is not None, f"{where}: expected a {exp.status} row, got none"
    got = {
        "status": actual["status"],
        "last_date": _as_date(actual["last_date"]),
        "due_date": _as_date(actual["due_date"]),
        "days_overdue": None if actual["days_overdue"] is None else int(actual["days_overdue"]),
    }
    want = {
        "status": exp.status,
        "last_date": d(exp.last_date) if exp.last_date else None,
        "due_date": d(exp.due_date) if exp.due_date else None,
        "days_overdue": exp.days_overdue,
    }
    assert got == want, f"{where}: got {_brief(actual)}"
    value = actual["last_value"]
    if exp.last_value is None:
        assert value is None, f"{where}: last_value should be blank, got {value}"
    else:
        assert value is not None and math.isclose(float(value), exp.last_value, abs_tol=1e-6), (
            f"{where}: last_value {value} != {exp.last_value}"
        )
    reason = actual["reason"] or ""
    assert reason.strip(), f"{where}: empty reason"
    if exp.last_date:
        key = d(exp.last_date)
        assert any(s in reason for s in date_spellings(key)), (
            f"{where}: reason {reason!r} does not give the date {key}"
        )
    for text in exp.reason_has:
        assert text.lower() in reason.lower(), f"{where}: reason {reason!r} lacks {text!r}"


def _brief(row: dict | None) -> str:
    if row is None:
        return "no row"
    keys = ("status", "last_date", "due_date", "days_overdue", "last_value", "reason")
    return "{" + ", ".join(f"{k}={row[k]!r}" for k in keys) + "}"


def check_case(out: Outcome, case: Case) -> None:
    """Rows and own-practice indicators of one case (see the module docstring)."""
    name = case.patient.name
    checked = case.only if case.only is not None else out.rule_ids
    unknown = set(checked) | set(case.rows)
    unknown -= set(out.rule_ids)
    assert not unknown, f"{name}: rule_ids {sorted(unknown)} not in the catalogue run"
    stray = set(case.rows) - set(checked)
    assert not stray, f"{name}: expected rows for unchecked rule_ids {sorted(stray)}"
    if case.den is None:
        issued = set(case.patient.issues)
        den = set()
        for rid in checked:
            kind = out.kind[rid]
            if kind == "monitoring":
                if issued & set(out.drugs.get(rid, ())):
                    den.add(rid)
            elif kind == "missed_diagnosis" or rid in case.rows:
                den.add(rid)
    elif case.den is True:
        den = set(checked)
    elif case.den is False:
        den = set()
    else:
        den = set(case.den)
    errors: list[str] = []
    for rid in checked:
        try:
            check_row(out.rows.get((name, rid)), case.rows.get(rid), f"{name} {rid}")
        except AssertionError as exc:
            errors.append(str(exc))
    practice = out.practice[name]
    own = case.patient.practice is None
    if own:
        for rid in checked:
            exp = case.rows.get(rid)
            in_den = rid in den
            if out.kind[rid] == "monitoring":
                in_num = in_den and (exp is None or exp.status != "overdue")
            else:
                in_num = in_den and exp is not None
            want = (int(in_num), int(in_den))
            got = out.indicator(practice, rid)
            if got != want:
                errors.append(
                    f"{name} {rid}: indicator (numerator, denominator) = {got}, expected {want}"
                )
    assert not errors, "\n".join(errors)


def indicator_table(out: Outcome, practice: str) -> dict[str, tuple[int, int]]:
    """One practice's indicators with a denominator above 0: rule_id → (numerator, denominator)."""
    return {
        rid: nd
        for (p, rid), nd in out.indicators.items()
        if p == practice and nd[1] > 0 and rid in out.kind
    }


def empty_result_table(table: pa.Table) -> bool:
    return table.num_rows == 0


def each(rule: str, tests: Iterable[str], exp: Exp) -> dict[str, Exp]:
    """The same expected row for several tests: ``each("methotrexate", FLR, overdue())``."""
    return {f"{rule}.{t}": exp for t in tests}


def merge(*parts: Mapping[str, list]) -> dict[str, list]:
    """Events or issues dicts merged, lists under the same key joined."""
    out: dict[str, list] = {}
    for part in parts:
        for k, v in part.items():
            out.setdefault(k, []).extend(v)
    return out
