"""Scorecard data: per practice × indicator × month, the month-end snapshot of the search's own
indicator counts, with target, RAG status, trend and (across practices) funnel-plot limits.

Month-end snapshot: the latest weekly search (``cases.SearchRun``) with an as-of date in the month,
or, when a backfill run (``scorecards.BackfillRun``) is later in that month or there is no weekly run,
the backfill's counts. Both hold the engine's ``indicators.csv`` rows unchanged, so a scorecard cell
equals the search's indicator for the same as-of date.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rxwatch.config import organisation_catalogue
from rxwatch.scorecard import (
    FunnelLimits,
    Rag,
    Trend,
    binomial_band,
    funnel_limits,
    pct,
    rag_status,
    trend,
)
from rxwatch.web.cases.models import IndicatorCount, SearchRun
from rxwatch.web.organisations.models import Organisation, Practice
from rxwatch.web.scorecards.models import BackfillIndicator, BackfillRun, IndicatorTarget

HISTORY_MONTHS = 12
KINDS = ("monitoring", "safety_alert", "missed_diagnosis")
KIND_LABELS = {
    "monitoring": "Monitoring in date",
    "safety_alert": "Safety alerts",
    "missed_diagnosis": "Possible missed diagnoses",
}


# --- months ----------------------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_month(text: str) -> dt.date:
    """``2026-06`` → 2026-06-01 (ValueError otherwise)."""
    return dt.datetime.strptime(text.strip(), "%Y-%m").date()


def months_to(month: dt.date, n: int = HISTORY_MONTHS) -> list[dt.date]:
    """The ``n`` months ending with ``month``, oldest first."""
    return [add_months(month_start(month), i - n + 1) for i in range(n)]


def latest_month() -> dt.date:
    """The newest month with any indicator data (else the current month)."""
    run = SearchRun.objects.filter(finished_at__isnull=False).order_by("-as_of").first()
    back = BackfillRun.objects.order_by("-as_of").first()
    days = [r.as_of for r in (run, back) if r is not None]
    return month_start(max(days)) if days else month_start(dt.date.today())


# --- indicators and targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    id: str  # rule_id, as in indicators.csv
    rule: str
    title: str
    group: str
    kind: str
    sources: tuple[str, ...] = ()
    # Local codelists the rule names that no file supplied (empty: the fail-safe reading, HAZ-103
    # and HAZ-104), each with the warning shown next to the indicator on pages and in reports.
    codelist_warnings: tuple[tuple[str, str], ...] = ()

    @property
    def unsupplied_codelists(self) -> tuple[str, ...]:
        return tuple(name for name, _text in self.codelist_warnings)

    @property
    def lower_is_better(self) -> bool:
        return self.kind != "monitoring"

    @property
    def measure(self) -> str:
        """What the percentage counts, in words."""
        if self.kind == "monitoring":
            return "patients with monitoring in date"
        if self.kind == "safety_alert":
            return "at-risk patients with the hazard"
        return "patients with a possible missed diagnosis"


def codelist_warning(rule, name: str) -> str:
    """Why an indicator's figures read as they do while local codelist ``name`` is unsupplied."""
    if name in {e.codelist for e in rule.exclusions}:
        effect = "so no patient is excluded by it"
    else:
        drug = ", ".join(rule.treatment.codelists) if rule.treatment else rule.group
        effect = f"so every patient on {drug} is counted"
    return (
        f"Codelist {name} was not supplied: no patient can have the record, {effect}. "
        "Supply the organisation's list with --codelists."
    )


def codelist_warnings(rule, unsupplied: set[str]) -> tuple[tuple[str, str], ...]:
    """(codelist, warning) for each local codelist ``rule`` names that is in ``unsupplied``."""
    return tuple(
        (name, codelist_warning(rule, name))
        for name in sorted(rule.all_codelist_names() & unsupplied)
    )


@lru_cache(maxsize=1)
def indicator_catalogue() -> dict[str, Indicator]:
    """rule_id → Indicator, from the shipped rule files (titles, groups, kinds, sources) and the
    organisation's codelists (which local ones are unsupplied)."""
    out: dict[str, Indicator] = {}
    catalogue = organisation_catalogue()
    unsupplied = set(catalogue.unsupplied_codelists)
    for rule in catalogue.rules:
        warnings = codelist_warnings(rule, unsupplied)
        tests = {f"{rule.id}.{t.id}": t.title for t in getattr(rule, "tests", ())}
        for rid in rule.rule_ids:
            title = f"{rule.title}: {tests[rid]}" if rid in tests else rule.title
            out[rid] = Indicator(
                rid,
                rule.id,
                title,
                rule.group,
                rule.kind,
                tuple(s.citation for s in rule.sources),
                warnings,
            )
    return out


@dataclass(frozen=True)
class CodelistCallout:
    """One warning about an unsupplied codelist and the indicators (of those shown) it affects."""

    codelist: str
    text: str
    indicators: tuple[Indicator, ...]


def codelist_callouts(indicators: Iterable[Indicator]) -> list[CodelistCallout]:
    """The warnings of ``indicators``, one per distinct warning, in the order first met."""
    found: dict[tuple[str, str], list[Indicator]] = {}
    for ind in indicators:
        for name, text in ind.codelist_warnings:
            found.setdefault((name, text), []).append(ind)
    return [CodelistCallout(n, t, tuple(inds)) for (n, t), inds in found.items()]


def indicator(indicator_id: str) -> Indicator:
    known = indicator_catalogue().get(indicator_id)
    if known:
        return known
    rule = indicator_id.split(".", 1)[0]  # retired rule: still shown, as monitoring
    return Indicator(indicator_id, rule, indicator_id, "unknown", "monitoring")


@dataclass(frozen=True)
class Target:
    target: float
    amber_margin: float
    lower_is_better: bool
    configured: bool = False

    @property
    def text(self) -> str:
        return f"{'≤' if self.lower_is_better else '≥'} {self.target:g}%"


# Defaults when an organisation has set none: monitoring in date for 90% of patients (amber from
# 80%); hazards at most 5% of the patients at risk (amber to 10%). Organisations set their own.
DEFAULT_TARGETS = {
    "monitoring": Target(90.0, 10.0, False),
    "safety_alert": Target(5.0, 5.0, True),
    "missed_diagnosis": Target(5.0, 5.0, True),
}


class Targets:
    """Resolves the target of each indicator for one organisation (one query, then in memory)."""

    def __init__(self, organisation: Organisation | None) -> None:
        org_id = organisation.pk if organisation else None
        rows = IndicatorTarget.objects.filter(organisation__isnull=True)
        if org_id:
            rows = rows | IndicatorTarget.objects.filter(organisation_id=org_id)
        self._default: dict[str, Target] = {}
        self._org: dict[str, Target] = {}
        for r in rows:
            t = Target(r.target, r.amber_margin, r.lower_is_better, True)
            (self._org if r.organisation_id else self._default)[r.indicator] = t

    def for_indicator(self, ind: Indicator) -> Target:
        for key in (ind.id, ind.rule, ind.kind):
            for table in (self._org, self._default):
                if key in table:
                    return table[key]
        return DEFAULT_TARGETS.get(ind.kind, DEFAULT_TARGETS["monitoring"])


# --- snapshots --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    numerator: int
    denominator: int
    as_of: dt.date
    source: str  # "search" (weekly run) | "backfill"


Snapshot = dict[tuple[str, str, dt.date], Count]  # (ODS, indicator_id, month) → Count


def snapshots(months: Sequence[dt.date], practices: Iterable[str]) -> Snapshot:
    """Month-end counts for ``practices`` in ``months`` (see the module docstring)."""
    ods = set(practices)
    first, last = month_start(months[0]), month_end(months[-1])
    latest_run: dict[dt.date, SearchRun] = {}
    for run in SearchRun.objects.filter(
        finished_at__isnull=False, as_of__gte=first, as_of__lte=last
    ).order_by("as_of", "id"):
        latest_run[month_start(run.as_of)] = run
    latest_back: dict[dt.date, BackfillRun] = {}
    for run in BackfillRun.objects.filter(as_of__gte=first, as_of__lte=last).order_by(
        "as_of", "id"
    ):
        latest_back[month_start(run.as_of)] = run

    # (ODS, month) → {source: (as_of, {indicator: (num, den)})}
    found: dict[tuple[str, dt.date], dict[str, tuple[dt.date, dict[str, tuple[int, int]]]]] = (
        defaultdict(dict)
    )
    for source, model, runs in (
        ("search", IndicatorCount, latest_run),
        ("backfill", BackfillIndicator, latest_back),
    ):
        rows = model.objects.filter(run__in=list(runs.values()), practice_ods__in=ods).values_list(
            "run__as_of", "practice_ods", "indicator_id", "numerator", "denominator"
        )
        for as_of, p, ind, num, den in rows:
            entry = found[(p, month_start(as_of))].setdefault(source, (as_of, {}))
            entry[1][ind] = (num, den)
    out: Snapshot = {}
    for (p, month), sources in found.items():
        # the later snapshot of the month; on the same day the weekly run (they are equal)
        source, (as_of, counts) = max(sources.items(), key=lambda s: (s[1][0], s[0] == "search"))
        for ind, (num, den) in counts.items():
            out[(p, ind, month)] = Count(num, den, as_of, source)
    return out


# --- scorecards -------------------------------------------------------------------------------------


@dataclass
class Cell:
    practice: str
    indicator: Indicator
    month: dt.date
    count: Count | None
    target: Target

    @property
    def numerator(self) -> int | None:
        return self.count.numerator if self.count else None

    @property
    def denominator(self) -> int | None:
        return self.count.denominator if self.count else None

    @property
    def percentage(self) -> float | None:
        return pct(self.count.numerator, self.count.denominator) if self.count else None

    @property
    def rag(self) -> Rag:
        return rag_status(
            self.percentage,
            self.target.target,
            lower_is_better=self.target.lower_is_better,
            amber_margin=self.target.amber_margin,
        )

    @property
    def flagged(self) -> int | None:
        """Patients behind the cell: not in date (monitoring) or flagged (hazards)."""
        if not self.count:
            return None
        if self.indicator.kind == "monitoring":
            return self.count.denominator - self.count.numerator
        return self.count.numerator


@dataclass
class Row:
    """One indicator at one practice over the months shown (oldest first)."""

    practice: Practice
    indicator: Indicator
    target: Target
    cells: list[Cell]

    @property
    def current(self) -> Cell:
        return self.cells[-1]

    @property
    def previous(self) -> Cell | None:
        return self.cells[-2] if len(self.cells) > 1 else None

    @property
    def change(self) -> float | None:
        """Percentage points since last month."""
        now, before = self.current.percentage, self.previous and self.previous.percentage
        return None if now is None or before is None else now - before

    @property
    def trend(self) -> Trend:
        return trend(
            [c.percentage for c in self.cells], lower_is_better=self.indicator.lower_is_better
        )


@dataclass
class PracticeScorecard:
    practice: Practice
    month: dt.date
    months: list[dt.date]
    rows: list[Row]

    @cached_property
    def _by_indicator(self) -> dict[str, Row]:
        return {r.indicator.id: r for r in self.rows}

    def row(self, indicator_id: str) -> Row | None:
        return self._by_indicator.get(indicator_id)

    @property
    def as_of(self) -> dt.date | None:
        days = [r.current.count.as_of for r in self.rows if r.current.count]
        return max(days) if days else None

    def by_kind(self) -> list[tuple[str, list[Row]]]:
        return [
            (KIND_LABELS[k], [r for r in self.rows if r.indicator.kind == k])
            for k in KINDS
            if any(r.indicator.kind == k for r in self.rows)
        ]

    @property
    def below_target(self) -> list[Row]:
        return [r for r in self.rows if r.current.rag in (Rag.RED, Rag.AMBER)]

    def rag_counts(self) -> dict[str, int]:
        counts = {r.value: 0 for r in Rag}
        for r in self.rows:
            counts[r.current.rag.value] += 1
        return counts


def _sort_key(ind: Indicator) -> tuple:
    return (KINDS.index(ind.kind) if ind.kind in KINDS else 9, ind.group, ind.id)


def practice_scorecards(
    practices: Sequence[Practice], month: dt.date, *, n_months: int = HISTORY_MONTHS
) -> list[PracticeScorecard]:
    """Scorecards for ``practices`` (all of one organisation's targets apply per practice)."""
    months = months_to(month, n_months)
    snap = snapshots(months, [p.ods_code for p in practices])
    ids: dict[str, set[str]] = defaultdict(set)  # ODS → indicators with a count in any month
    for p, ind, _m in snap:
        ids[p].add(ind)
    targets: dict[int | None, Targets] = {}
    out = []
    for practice in practices:
        if practice.organisation_id not in targets:  # one query per organisation, not practice
            targets[practice.organisation_id] = Targets(practice.organisation)
        t = targets[practice.organisation_id]
        rows = []
        for ind in sorted((indicator(i) for i in ids[practice.ods_code]), key=_sort_key):
            target = t.for_indicator(ind)
            cells = [
                Cell(practice.ods_code, ind, m, snap.get((practice.ods_code, ind.id, m)), target)
                for m in months
            ]
            rows.append(Row(practice, ind, target, cells))
        out.append(PracticeScorecard(practice, months[-1], months, rows))
    return out


def practice_scorecard(practice: Practice, month: dt.date) -> PracticeScorecard:
    return practice_scorecards([practice], month)[0]


@dataclass
class FunnelPoint:
    practice: Practice
    cell: Cell
    band: str


@dataclass
class IndicatorComparison:
    """One indicator across practices in one month: the league table and the funnel plot."""

    indicator: Indicator
    target: Target
    cells: list[Cell]  # one per practice with data, best first
    overall: float | None  # pooled percentage (the funnel's centre line)
    points: list[FunnelPoint] = field(default_factory=list)
    limits: list[FunnelLimits] = field(default_factory=list)  # along the denominator axis

    @property
    def red(self) -> int:
        return sum(1 for c in self.cells if c.rag is Rag.RED)


def funnel_ns(max_n: int, steps: int = 40) -> list[int]:
    """Denominators at which to draw the limit curves (denser where they bend)."""
    if max_n < 1:
        return []
    ns = {1, max_n}
    for i in range(1, steps):
        ns.add(max(1, round(max_n * (i / steps) ** 2)))
    return sorted(ns)


def compare(
    cards: Sequence[PracticeScorecard], *, method: str = "exact"
) -> list[IndicatorComparison]:
    """Practices side by side for each indicator, in the month of the scorecards."""
    by_ind: dict[str, list[Cell]] = defaultdict(list)
    targets: dict[str, Target] = {}
    inds: dict[str, Indicator] = {}
    practices = {c.practice.ods_code: c.practice for c in cards}
    for card in cards:
        for row in card.rows:
            if row.current.count and row.current.count.denominator > 0:
                by_ind[row.indicator.id].append(row.current)
                targets.setdefault(row.indicator.id, row.target)
                inds[row.indicator.id] = row.indicator
    out = []
    for ind_id in sorted(by_ind, key=lambda i: _sort_key(inds[i])):
        ind = inds[ind_id]
        cells = by_ind[ind_id]
        cells.sort(
            key=lambda c: (c.percentage if ind.lower_is_better else -c.percentage, c.practice)
        )
        num = sum(c.numerator for c in cells)
        den = sum(c.denominator for c in cells)
        overall = pct(num, den)
        comp = IndicatorComparison(ind, targets[ind_id], cells, overall)
        if overall is not None:
            p0 = overall / 100.0
            comp.limits = [
                funnel_limits(n, p0, method=method)
                for n in funnel_ns(den and max(c.denominator for c in cells))
            ]
            for c in cells:
                band = (
                    binomial_band(c.numerator, c.denominator, p0)
                    if method == "exact"
                    else funnel_limits(c.denominator, p0, method=method).band(
                        c.numerator / c.denominator
                    )
                )
                comp.points.append(FunnelPoint(practices[c.practice], c, band))
        out.append(comp)
    return out


def default_comparison(comps: Sequence[IndicatorComparison]) -> IndicatorComparison | None:
    """The indicator with most practices below target (the first, on a tie); one whose local
    codelist is unsupplied (below target by construction: HAZ-103, HAZ-104) only when no other
    needs attention."""
    trusted = [c for c in comps if c.red and not c.indicator.codelist_warnings]
    pool = trusted or comps
    return max(pool, key=lambda c: c.red) if pool else None


def matrix(cards: Sequence[PracticeScorecard], comps: Sequence[IndicatorComparison]) -> list[dict]:
    """Every indicator × practice: per comparison, each card's row (None where it has none)."""
    return [
        {
            "indicator": comp.indicator,
            "target": comp.target,
            "cells": [card.row(comp.indicator.id) for card in cards],
        }
        for comp in comps
    ]
