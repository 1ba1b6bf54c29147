"""Charts as static SVG: Altair (Vega-Lite) specs rendered by vl-convert, no browser, no JavaScript.

The same SVG string goes into the page and into the PDF, so what an inspector reads on paper is what
the hub lead saw. Readable in black and white: series differ by line dash and point shape, colours
are greys; every chart is shown beside a table of its numbers (the templates do that).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import altair as alt
from django.utils.safestring import mark_safe

from rxwatch.web.scorecards.services import (
    IndicatorComparison,
    PracticeScorecard,
    Row,
    codelist_callouts,
)

FONT = "Arial"
BAND_SHAPES = {"within": "circle", "outside 95%": "triangle-up", "outside 99.8%": "square"}
# (FunnelLimits attribute, legend entry, curve id) for each control-limit line
LIMIT_CURVES = (
    ("lower95", "95%", "l95"),
    ("upper95", "95%", "u95"),
    ("lower998", "99.8%", "l998"),
    ("upper998", "99.8%", "u998"),
)
LIMIT_DASH = {"target": [1, 0], "pooled": [1, 0], "95%": [6, 3], "99.8%": [2, 2]}


@lru_cache(maxsize=256)
def _render(spec_json: str) -> str:
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(spec_json)
    # Vega writes fixed pixel sizes; let the page and the PDF scale the drawing to the column.
    return svg.replace("<svg ", '<svg role="img" style="max-width:100%;height:auto" ', 1)


def svg(chart: alt.TopLevelMixin) -> str:
    """SVG markup for ``chart`` (cached by spec: the same chart is rendered once per process)."""
    return _render(chart.to_json(indent=None))


def _config(chart):
    return (
        chart.configure(font=FONT)
        .configure_axis(labelFontSize=10, titleFontSize=11, grid=True, gridColor="#dddddd")
        .configure_view(stroke="#999999")
        .configure_legend(labelFontSize=10, titleFontSize=11, orient="bottom")
    )


def trend_chart(rows: Sequence[Row], *, columns: int = 3) -> str:
    """Small multiples: one panel per indicator, 12 months of % with the target as a dashed rule."""
    values = []
    for row in rows:
        for cell in row.cells:
            values.append(
                {
                    "indicator": _short(row.indicator.title),
                    "month": cell.month.strftime("%Y-%m"),
                    "pct": None if cell.percentage is None else round(cell.percentage, 1),
                    "target": row.target.target,
                }
            )
    if not values:
        return ""
    data = alt.Data(values=values)
    base = alt.Chart(data).encode(
        x=alt.X("month:O", title=None, axis=alt.Axis(labelAngle=-90, labelFontSize=8)),
    )
    hazard = any(r.indicator.lower_is_better for r in rows)
    scale = alt.Scale(zero=True) if hazard else alt.Scale(domain=[0, 100])
    line = base.mark_line(point=alt.OverlayMarkDef(filled=True, size=18), color="#222222").encode(
        y=alt.Y("pct:Q", title="%", scale=scale),
        tooltip=["indicator:N", "month:O", "pct:Q"],
    )
    target = base.mark_line(strokeDash=[5, 3], color="#777777").encode(y="target:Q")
    chart = (
        alt.layer(line, target)
        .properties(width=170, height=80)
        .facet(facet=alt.Facet("indicator:N", title=None, sort=None), columns=columns)
    )
    return svg(_config(chart))


def kind_sections(card: PracticeScorecard) -> list[dict]:
    """The card's rows by kind of indicator, each with its trend chart and codelist warnings (the
    practice page and the practice's monthly PDF)."""
    return [
        {
            "label": label,
            "rows": rows,
            "chart": mark_safe(trend_chart(rows)),
            "callouts": codelist_callouts(r.indicator for r in rows),
        }
        for label, rows in card.by_kind()
    ]


def _short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def funnel_chart(comp: IndicatorComparison) -> str:
    """Funnel plot: practices' % against denominator, pooled centre line, 95% (dashed) and 99.8%
    (dotted) control limits; point shape says whether a practice is outside them."""
    if comp.overall is None or not comp.points:
        return ""
    curves = [
        {"n": lim.n, "pct": round(pct, 2), "limit": limit, "curve": curve, "i": i}
        for i, lim in enumerate(comp.limits)
        for pct, limit, curve in (
            *((100 * getattr(lim, attr), limit, curve) for attr, limit, curve in LIMIT_CURVES),
            (comp.overall, "pooled", "c"),
        )
    ]
    points = [
        {
            "n": p.cell.denominator,
            "pct": round(p.cell.percentage, 1),
            "practice": p.practice.ods_code,
            "band": p.band,
        }
        for p in comp.points
    ]
    dash = alt.StrokeDash(
        "limit:N",
        title="Line",
        scale=alt.Scale(domain=list(LIMIT_DASH)[1:], range=list(LIMIT_DASH.values())[1:]),
    )
    limit_lines = (
        alt.Chart(alt.Data(values=curves))
        .mark_line(color="#444444", strokeWidth=1.2)
        .encode(
            x=alt.X("n:Q", title="Denominator (patients)"),
            y=alt.Y(
                "pct:Q",
                title="%",
                scale=alt.Scale(zero=True)
                if comp.indicator.lower_is_better
                else alt.Scale(domain=[0, 100]),
            ),
            strokeDash=dash,
            detail="curve:N",
            order="i:Q",
        )
    )
    target = (
        alt.Chart(alt.Data(values=[{"target": comp.target.target}]))
        .mark_rule(color="#000000", strokeDash=[8, 2, 1, 2])
        .encode(y="target:Q")
    )
    dots = (
        alt.Chart(alt.Data(values=points))
        .mark_point(filled=True, size=60, color="#000000")
        .encode(
            x="n:Q",
            y="pct:Q",
            shape=alt.Shape(
                "band:N",
                title="Practice",
                scale=alt.Scale(domain=list(BAND_SHAPES), range=list(BAND_SHAPES.values())),
            ),
            tooltip=["practice:N", "n:Q", "pct:Q", "band:N"],
        )
    )
    labels = (
        alt.Chart(alt.Data(values=points))
        .mark_text(align="left", dx=6, dy=-6, fontSize=9, color="#000000")
        .encode(x="n:Q", y="pct:Q", text="practice:N")
    )
    chart = alt.layer(limit_lines, target, dots, labels).properties(width=420, height=260)
    return svg(_config(chart).resolve_scale(shape="independent", strokeDash="independent"))


KIND_DASH = {"monitoring": [1, 0], "safety_alert": [6, 3], "missed_diagnosis": [2, 2]}
KIND_SHAPE = {"monitoring": "circle", "safety_alert": "triangle-up", "missed_diagnosis": "square"}


def kind_trend_chart(
    series: dict[str, list[tuple[str, float | None]]], labels: dict[str, str]
) -> str:
    """One chart, one line per kind of indicator (all its indicators pooled), 12 months: the
    organisation's overall direction at a glance, cheap to draw for any number of practices."""
    values = [
        {"kind": labels[k], "month": month, "pct": None if v is None else round(v, 1)}
        for k, points in series.items()
        for month, v in points
    ]
    if not values:
        return ""
    kinds = [labels[k] for k in series]
    chart = (
        alt.Chart(alt.Data(values=values))
        .mark_line(point=alt.OverlayMarkDef(filled=True, size=40), color="#222222")
        .encode(
            x=alt.X("month:O", title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("pct:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            strokeDash=alt.StrokeDash(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=kinds, range=[KIND_DASH[k] for k in series]),
            ),
            shape=alt.Shape(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=kinds, range=[KIND_SHAPE[k] for k in series]),
            ),
        )
        .properties(width=460, height=180)
    )
    return svg(_config(chart))
