"""Turn a search's flagged rows into monitoring cases: open, update, close, hold.

``sync_search_run`` is the only writer of the case fields a search owns (flag status, reason, dates).
It runs in one transaction with bulk queries (a federation's run flags 10–30k rows; a sync takes
seconds) and writes one system audit event per case opened, changed or closed, plus one for the run.

For each flagged (practice, patient_id, rule_id):

* an active case exists → its evidence is updated (an observation and an audit event when the status,
  reason, dates or value changed);
* else the latest earlier case *holds* the flag → nothing is opened: a suppression until its review
  date, or a signed-off decision until ``covered_until`` as long as the evidence is the same;
* else a new case is opened (pointing back at the previous case of the same key, if any).

An active case in a searched practice that the run no longer flags is closed, saying why: monitoring
found done (patient still in the rule's population), no longer on treatment or in the population, or —
when the caller cannot tell — no longer flagged. Syncing the same run twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace as NS

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from rxwatch.engine.api import SearchResult
from rxwatch.web import bulk
from rxwatch.web.audit import chain
from rxwatch.web.cases.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    CaseObservation,
    CaseStatus,
    FlagStatus,
    IndicatorCount,
    MonitoringCase,
    SearchRun,
)
from rxwatch.web.errors import ValidationFailed
from rxwatch.web.organisations.models import Organisation, Practice

log = logging.getLogger(__name__)

# Why a case is no longer flagged, as far as the caller can tell, for (ODS code, patient_id, rule_id):
APPLIES = "applies"  # still in the rule's population: the monitoring was done / the hazard has gone
NOT_IN_POPULATION = "not_in_population"  # no longer on the drug, deceased or deregistered
EXCLUDED = "excluded"  # in the population but excluded (e.g. monitoring by secondary care recorded)
Verdict = str | None  # one of the three, or None: cannot tell
PopulationOracle = Callable[
    [Collection[tuple[str, str, str]]], Mapping[tuple[str, str, str], Verdict]
]
Key = tuple[int, str, str]  # (practice id, patient_id, rule_id)
_SYNC_LOCK_KEY = 0x52585753  # "RXWS"

# What a search says about a case. A change in EVIDENCE is an event (observation + audit); the reason's
# wording and days_overdue move every week with the date and are updated silently.
EVIDENCE = ("flag_status", "last_date", "last_value", "due_date")
SEARCH_FIELDS = (*EVIDENCE, "reason", "days_overdue")
NEW_CASE_FIELDS = (
    "practice",
    "patient_id",
    "nhs_number",
    "rule_id",
    "rule",
    "drug_group",
    "status",
    "status_changed_at",
    "flag_status",
    "reason",
    "last_date",
    "last_value",
    "due_date",
    "days_overdue",
    "first_flagged_run",
    "last_seen_run",
    "opened_at",
    "closed_reason",
    "previous_case",
)
OBSERVATION_FIELDS = (
    "case",
    "run",
    "flag_status",
    "reason",
    "last_date",
    "last_value",
    "due_date",
    "days_overdue",
    "recorded_at",
)
MONITORING_FLAGS = (FlagStatus.OVERDUE, FlagStatus.DUE_SOON, FlagStatus.OUT_OF_RANGE)


@dataclass(frozen=True)
class RuleInfo:
    rule: str  # the rule file's id
    group: str  # drug group


def rule_info(catalogue) -> dict[str, RuleInfo]:
    """rule_id → (rule, drug group) from a ``rxwatch.rules.catalogue.Catalogue``."""
    return {rid: RuleInfo(r.id, r.group) for r in catalogue.rules for rid in r.rule_ids}


def _info(rules: Mapping[str, RuleInfo], rule_id: str) -> RuleInfo:
    if rule_id in rules:
        return rules[rule_id]
    base = rule_id.split(".", 1)[0]
    log.warning("rule_id %s is not in the catalogue given to the sync; group unknown", rule_id)
    return RuleInfo(base, "unknown")


def fingerprint(result: SearchResult, store_import_ids: Iterable[str]) -> str:
    """Same as-of date, same data, same rows → same fingerprint: the run is already synced."""
    h = hashlib.sha256()
    h.update(result.as_of.isoformat().encode())
    h.update(json.dumps(sorted(map(str, store_import_ids))).encode())
    for row in result.results.to_pylist():
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _close_reason(flag_status: str, verdict: Verdict, as_of: dt.date) -> str:
    day = as_of.isoformat()
    if verdict == APPLIES:
        if flag_status in MONITORING_FLAGS:
            return f"Monitoring found done in the search of {day}"
        return f"Hazard no longer found by the search of {day}"
    if verdict == NOT_IN_POPULATION:
        return f"No longer on treatment or no longer in the population (search of {day})"
    if verdict == EXCLUDED:
        return (
            f"Excluded from the rule by the search of {day} "
            "(e.g. monitoring by secondary care recorded)"
        )
    return f"No longer flagged by the search of {day}"


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-9
    return a == b


def check_as_of(as_of: dt.date) -> None:
    """Refuse a search older than the last synced one: a backfill (e.g. for scorecards) must not
    rewind cases. Cheap: callers check before spending a minute on the search itself."""
    latest = SearchRun.objects.filter(finished_at__isnull=False).order_by("-as_of").first()
    if latest is not None and as_of < latest.as_of:
        raise ValidationFailed(
            f"a search as of {as_of} is older than the last synced search ({latest.as_of}); "
            "it cannot update cases"
        )


def sync_search_run(
    *,
    result: SearchResult,
    rules: Mapping[str, RuleInfo],
    store_import_ids: Iterable[str] = (),
    user=None,
    nhs_numbers: Mapping[tuple[str, str], str] | None = None,
    in_population: PopulationOracle | None = None,
    organisation: Organisation | None = None,
    practice_names: Mapping[str, str] | None = None,
    at: dt.datetime | None = None,
) -> SearchRun:
    """Record ``result`` as a search run and bring the monitoring cases in line with it.

    ``rules`` maps rule_id → rule and drug group (``rule_info(catalogue)``); ``nhs_numbers`` maps
    (ODS code, patient_id) → NHS number, from the clinical store; ``in_population`` says why a case is
    no longer flagged (``APPLIES`` / ``NOT_IN_POPULATION`` / ``EXCLUDED``). ``organisation``, when
    given, receives practices the workflow store does not know yet (named from ``practice_names``);
    without it their rows are skipped and counted. Refuses a run older than the last synced one: a
    backfill for scorecards must not rewind cases.
    """
    as_of = result.as_of
    at = at or timezone.now()
    import_ids = sorted(map(str, store_import_ids))
    fp = fingerprint(result, import_ids)
    nhs_numbers = nhs_numbers or {}
    actor = chain.actor_fields(user, "search") if user is not None else chain.actor_fields(None, "")

    with transaction.atomic():
        _lock_sync()
        done = SearchRun.objects.filter(fingerprint=fp, finished_at__isnull=False).first()
        if done is not None:
            return done
        check_as_of(as_of)
        rows = result.results.to_pylist()
        searched_ods = set(result.indicators.column("practice").to_pylist()) | {
            r["practice"] for r in rows
        }
        practices, created = _practices(searched_ods, organisation, practice_names or {})
        run = SearchRun.objects.create(
            as_of=as_of,
            started_at=at,
            backend=result.backend,
            store_import_ids=import_ids,
            practices=sorted(practices),
            fingerprint=fp,
            triggered_by=user.get_username() if user is not None else chain.SYSTEM,
        )
        ods_by_id = {p.id: ods for ods, p in practices.items()}
        searched = list(ods_by_id)

        flags: dict[Key, dict] = {}
        skipped = 0
        for r in rows:
            p = practices.get(r["practice"])
            if p is None:
                skipped += 1
                continue
            flags[(p.id, r["patient_id"], r["rule_id"])] = r

        # Plain namespaces, not model instances: 20k model __init__ calls cost seconds.
        active = {
            (c.practice_id, c.patient_id, c.rule_id): c
            for c in (
                NS(pk=row.pop("id"), **row)
                for row in MonitoringCase.objects.filter(
                    practice_id__in=searched, status__in=ACTIVE_STATUSES
                ).values(
                    "id",
                    "practice_id",
                    "patient_id",
                    "rule_id",
                    "status",
                    "nhs_number",
                    *SEARCH_FIELDS,
                )
            )
        }
        events: list[chain.Event] = [
            chain.Event(
                action="practice.created",
                practice_ods=p.ods_code,
                object_type="practice",
                object_id=str(p.pk),
                after={"name": p.name, "organisation": p.organisation_id},
                occurred_at=at,
                **actor,
            )
            for p in created
        ]
        observations: list[NS] = []

        def event(action: str, case: NS, before=None, after=None) -> None:
            events.append(
                chain.Event(
                    action=action,
                    practice_ods=ods_by_id[case.practice_id],
                    object_type="case",
                    object_id=str(case.pk),
                    before=before,
                    after=after,
                    occurred_at=at,
                    **actor,
                )
            )

        def observe(case: NS) -> None:
            observations.append(
                NS(
                    case_id=case.pk,
                    run_id=run.pk,
                    flag_status=case.flag_status,
                    reason=case.reason,
                    last_date=case.last_date,
                    last_value=case.last_value,
                    due_date=case.due_date,
                    days_overdue=case.days_overdue,
                    recorded_at=at,
                )
            )

        # 1. update active cases that are still flagged
        to_update: list[NS] = []
        updated = 0
        for key, case in active.items():
            r = flags.get(key)
            if r is None:
                continue
            before = {f: getattr(case, f) for f in EVIDENCE}
            changed = any(not _same(before[f], r[_col(f)]) for f in EVIDENCE)
            for f in SEARCH_FIELDS:
                setattr(case, f, r[_col(f)] if f != "reason" else (r["reason"] or ""))
            case.last_seen_run = run
            if nhs := nhs_numbers.get((ods_by_id[case.practice_id], case.patient_id)):
                case.nhs_number = nhs
            to_update.append(case)
            if changed:
                updated += 1
                observe(case)
                after = {f: getattr(case, f) for f in EVIDENCE}
                event("case.updated", case, before, after)

        # 2. open new cases, unless an earlier case holds the flag
        new_keys = [k for k in flags if k not in active]
        latest_terminal, holds = _terminal(searched, as_of) if new_keys else ({}, {})
        held = 0
        new_cases: list[NS] = []
        for key in new_keys:
            r = flags[key]
            previous = latest_terminal.get(key)
            hold = holds.get(previous) if previous else None
            if hold is not None and (
                hold["status"] == CaseStatus.SUPPRESSED or _same_evidence(hold, r)
            ):
                held += 1
                continue
            info = _info(rules, key[2])
            new_cases.append(
                NS(
                    pk=None,
                    practice_id=key[0],
                    patient_id=key[1],
                    rule_id=key[2],
                    rule=info.rule,
                    drug_group=info.group,
                    nhs_number=nhs_numbers.get((ods_by_id[key[0]], key[1]), ""),
                    status=CaseStatus.OPEN,
                    status_changed_at=at,
                    opened_at=at,
                    flag_status=r["status"],
                    reason=r["reason"] or "",
                    last_date=r["last_date"],
                    last_value=r["last_value"],
                    due_date=r["due_date"],
                    days_overdue=r["days_overdue"],
                    first_flagged_run_id=run.pk,
                    last_seen_run_id=run.pk,
                    previous_case_id=previous,
                    closed_reason="",
                )
            )

        # 3. close active cases the run no longer flags
        gone = [c for k, c in active.items() if k not in flags]
        verdicts: Mapping[tuple[str, str, str], Verdict] = {}
        if gone and in_population is not None:
            verdicts = in_population(
                {(ods_by_id[c.practice_id], c.patient_id, c.rule_id) for c in gone}
            )
        for case in gone:
            before = {"status": case.status, "flag_status": case.flag_status}
            reason = _close_reason(
                case.flag_status,
                verdicts.get((ods_by_id[case.practice_id], case.patient_id, case.rule_id)),
                as_of,
            )
            case.status, case.status_changed_at = CaseStatus.CLOSED, at
            case.closed_at, case.closed_reason = at, reason
            event("case.closed", case, before, {"status": case.status, "closed_reason": reason})

        # write: executemany, not bulk_update (see rxwatch.web.bulk)
        bulk.update(
            MonitoringCase,
            [*SEARCH_FIELDS, "last_seen_run", "nhs_number"],
            (
                (c.pk, *(getattr(c, f) for f in SEARCH_FIELDS), run.pk, c.nhs_number)
                for c in to_update
            ),
        )
        bulk.update(
            MonitoringCase,
            ["status", "status_changed_at", "closed_at", "closed_reason", "closed_by_run"],
            (
                (c.pk, c.status, c.status_changed_at, c.closed_at, c.closed_reason, run.pk)
                for c in gone
            ),
        )
        bulk.insert_objects(MonitoringCase, new_cases, NEW_CASE_FIELDS)
        ids = {
            (p, pid, rid): pk
            for pk, p, pid, rid in MonitoringCase.objects.filter(first_flagged_run=run).values_list(
                "id", "practice_id", "patient_id", "rule_id"
            )
        }
        for case in new_cases:
            case.pk = ids[(case.practice_id, case.patient_id, case.rule_id)]
            observe(case)
            event(
                "case.opened",
                case,
                None,
                {
                    "status": case.status,
                    "flag_status": case.flag_status,
                    "rule_id": case.rule_id,
                    "previous_case": case.previous_case_id,
                    "run": run.pk,
                },
            )
        bulk.insert_objects(CaseObservation, observations, OBSERVATION_FIELDS)
        bulk.insert(
            IndicatorCount,
            ("run", "practice_ods", "indicator_id", "numerator", "denominator"),
            (
                (run.pk, i["practice"], i["indicator_id"], i["numerator"], i["denominator"])
                for i in result.indicators.to_pylist()
            ),
        )

        run.flagged = len(flags)
        run.opened, run.updated, run.closed = len(new_cases), updated, len(gone)
        run.held, run.skipped = held, skipped
        run.finished_at = timezone.now()
        run.save()
        events.append(
            chain.Event(
                action="search_run.synced",
                object_type="search_run",
                object_id=str(run.pk),
                occurred_at=at,
                after={
                    "as_of": as_of,
                    "store_import_ids": import_ids,
                    "flagged": run.flagged,
                    "opened": run.opened,
                    "updated": run.updated,
                    "closed": run.closed,
                    "held": run.held,
                    "skipped": run.skipped,
                    "practices": run.practices,
                },
                **actor,
            )
        )
        chain.append(events)
    if skipped:
        log.warning(
            "search of %s: %d rows for practices not set up in the workflow store", as_of, skipped
        )
    return run


def _lock_sync() -> None:
    """One sync at a time: PostgreSQL by an advisory lock held to the end of the transaction; SQLite
    transactions are IMMEDIATE, so a second writer waits for the first anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SYNC_LOCK_KEY])


def _col(field: str) -> str:
    return "status" if field == "flag_status" else field


def _same_evidence(hold: dict, row: dict) -> bool:
    return (
        hold["flag_status"] == row["status"]
        and hold["last_date"] == row["last_date"]
        and _same(hold["last_value"], row["last_value"])
    )


def _terminal(practice_ids: list[int], as_of: dt.date) -> tuple[dict[Key, int], dict[int, dict]]:
    """The latest closed/suppressed case per key, and those of them that still hold their flag."""
    terminal = MonitoringCase.objects.filter(
        practice_id__in=practice_ids, status__in=TERMINAL_STATUSES
    )
    latest = {
        (p, pid, rid): last
        for p, pid, rid, last in terminal.values("practice_id", "patient_id", "rule_id")
        .annotate(last=Max("id"))
        .values_list("practice_id", "patient_id", "rule_id", "last")
    }
    holding = terminal.filter(
        Q(status=CaseStatus.SUPPRESSED, suppression__review_date__gt=as_of)
        | Q(status=CaseStatus.CLOSED, covered_until__gt=as_of)
    ).values("id", "status", "flag_status", "last_date", "last_value")
    return latest, {h["id"]: h for h in holding}


def _practices(
    ods_codes: set[str], organisation: Organisation | None, names: Mapping[str, str]
) -> tuple[dict[str, Practice], list[Practice]]:
    """The searched practices the workflow store knows, adding the others to ``organisation``."""
    known = {p.ods_code: p for p in Practice.objects.filter(ods_code__in=ods_codes)}
    created = []
    if organisation is not None:
        for ods in sorted(ods_codes - set(known)):
            known[ods] = Practice.objects.create(
                organisation=organisation, ods_code=ods, name=names.get(ods) or ods
            )
            created.append(known[ods])
    return known, created
