"""The monthly audit summary: one PDF per practice, or one for a PCN or organisation.

HTML rendered by Django templates, printed to PDF by WeasyPrint. Charts are the same static SVG as
the pages (``scorecards.charts``). For many practices the report stays fast by drawing one funnel per
indicator and per-practice tables (not per-practice charts): 40 practices in well under a minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from rxwatch.web.cases.models import CaseStatus
from rxwatch.web.organisations.models import Practice
from rxwatch.web.scorecards import charts, services, workflow


@dataclass
class MonthlyReport:
    title: str
    month: dt.date
    practices: list[Practice]
    html: str

    def pdf(self) -> bytes:
        from weasyprint import HTML

        return HTML(string=self.html).write_pdf()


def _pooled_rows(cards: Sequence[services.PracticeScorecard]) -> list[services.Row]:
    """The practices' counts added up, per indicator and month (an organisation's own trend)."""
    if not cards:
        return []
    months = cards[0].months
    sums: dict[str, dict[dt.date, list[int]]] = {}
    meta: dict[str, services.Row] = {}
    for card in cards:
        for row in card.rows:
            meta.setdefault(row.indicator.id, row)
            per = sums.setdefault(row.indicator.id, {})
            for c in row.cells:
                if c.count:
                    acc = per.setdefault(c.month, [0, 0, c.count.as_of])
                    acc[0] += c.count.numerator
                    acc[1] += c.count.denominator
                    acc[2] = max(acc[2], c.count.as_of)
    out = []
    for ind_id, row in meta.items():
        cells = []
        for m in months:
            acc = sums[ind_id].get(m)
            count = services.Count(acc[0], acc[1], acc[2], "pooled") if acc else None
            cells.append(services.Cell("ALL", row.indicator, m, count, row.target))
        out.append(services.Row(row.practice, row.indicator, row.target, cells))
    out.sort(key=lambda r: services._sort_key(r.indicator))
    return out


def _pooled_pct(cells: Sequence[services.Cell]) -> float | None:
    """The percentage of ``cells`` counted together (those with no count left out)."""
    counted = [c for c in cells if c.count]
    return services.pct(sum(c.numerator for c in counted), sum(c.denominator for c in counted))


def _outside(comp: services.IndicatorComparison) -> int:
    return sum(1 for p in comp.points if p.band == "outside 99.8%")


def _summary(comp: services.IndicatorComparison, pooled: services.Row) -> dict:
    """One line per indicator across practices: pooled %, change, RAG counts, who is below."""
    before = pooled.previous.percentage if pooled.previous else None
    rag = {"red": [], "amber": [], "green": []}
    for c in comp.cells:
        rag.setdefault(c.rag.value, []).append(c.practice)
    return {
        "comp": comp,
        "change": None if before is None or comp.overall is None else comp.overall - before,
        "red": rag["red"],
        "amber": rag["amber"],
        "green": rag["green"],
        "outside": _outside(comp),
    }


def build_monthly(
    practices: Sequence[Practice],
    month: dt.date,
    *,
    title: str,
    funnels: bool = True,
    max_funnels: int = 8,
) -> MonthlyReport:
    """Everything the summary shows, rendered to HTML (``.pdf()`` prints it)."""
    practices = sorted(practices, key=lambda p: p.ods_code)
    month = services.month_start(month)
    cards = services.practice_scorecards(practices, month)
    single = len(practices) == 1
    by_practice, by_staff = workflow.workflow_measures(practices, month)
    outstanding = workflow.outstanding(practices)
    context: dict = {
        "title": title,
        "month": month,
        "generated": timezone.localtime(),
        "cards": cards,
        "single": single,
        "by_practice": by_practice,
        "by_staff": by_staff,
        "total": workflow.totals(by_practice),
        "outstanding": [
            (CaseStatus(s).label, outstanding.get(s, 0))
            for s in CaseStatus.values
            if s not in ("closed", "suppressed")
        ],
        "outstanding_total": sum(outstanding.values()),
        "months": services.months_to(month),
    }
    if single:
        card = cards[0]
        context["sections"] = charts.kind_sections(card)
        context["below_callouts"] = services.codelist_callouts(
            r.indicator for r in card.below_target
        )
        context["card"] = card
    else:
        pooled = _pooled_rows(cards)
        by_kind = {
            k: rows
            for k in services.KINDS
            if (rows := [r for r in pooled if r.indicator.kind == k])
        }
        context["pooled_sections"] = [
            {"label": services.KIND_LABELS[k], "rows": rows} for k, rows in by_kind.items()
        ]
        series = {
            k: [
                (m.strftime("%Y-%m"), _pooled_pct([r.cells[i] for r in rows]))
                for i, m in enumerate(context["months"])
            ]
            for k, rows in by_kind.items()
        }
        context["kind_series"] = [
            (services.KIND_LABELS[k], [v for _m, v in pts]) for k, pts in series.items()
        ]
        context["kind_chart"] = mark_safe(charts.kind_trend_chart(series, services.KIND_LABELS))
        comps = services.compare(cards)
        pooled_by_id = {r.indicator.id: r for r in pooled}
        context["summary"] = [_summary(c, pooled_by_id[c.indicator.id]) for c in comps]
        context["summary_callouts"] = services.codelist_callouts(c.indicator for c in comps)
        # Funnels for the indicators to act on (most practices below target or outside 99.8%
        # first): a report for 40 practices stays readable, and fast to print (ADR 0008). An
        # indicator whose local codelist is unsupplied is below target by construction (HAZ-103,
        # HAZ-104): it comes after the others.
        to_act = [c for c in comps if c.red or _outside(c)]
        to_act.sort(key=lambda c: (bool(c.indicator.codelist_warnings), -c.red, -_outside(c)))
        context["comparisons"] = [
            {
                "comp": c,
                "chart": mark_safe(charts.funnel_chart(c)) if funnels else "",
                "callouts": services.codelist_callouts([c.indicator]),
            }
            for c in to_act[:max_funnels]
        ]
        context["more_to_act"] = len(to_act) - len(context["comparisons"])
    html = render_to_string("reports/monthly.html", context)
    return MonthlyReport(title, month, list(practices), html)
