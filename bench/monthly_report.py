"""How long the organisation's monthly audit summary PDF takes for 40 practices (issue 5: < 60 s).

Builds a workflow store in a temporary directory: one organisation of ``--practices`` practices
(default 40), every indicator of the shipped catalogue for each, a weekly search run per month-end for
the last 12 months with realistic counts, and some open cases. Then times, separately: the scorecard
data (12 months × practices × indicators), the HTML (with one funnel plot per indicator, rendered by
vl-convert), and WeasyPrint's PDF. Prints the figures; no assertions.

    .venv/bin/python bench/monthly_report.py [--practices 40] [--month 2026-06] [--out FILE.pdf]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path


def _configure(db: Path) -> None:
    os.environ["RXWATCH_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("RXWATCH_SECRET_KEY", "bench-only-" + os.urandom(8).hex())
    os.environ["RXWATCH_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxwatch.web.settings")
    import django

    django.setup()


def build(n_practices: int, month: dt.date, seed: int = 1) -> list:
    """Fixture data for a read benchmark (bulk inserts, not recorded work)."""
    from django.core.management import call_command
    from django.utils import timezone

    from rxwatch.web.cases.models import IndicatorCount, SearchRun
    from rxwatch.web.organisations.models import PCN, Organisation, Practice
    from rxwatch.web.scorecards.services import indicator_catalogue, month_end, months_to

    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    org = Organisation.objects.create(code="BENCH", name="Bench federation")
    pcns = [PCN.objects.create(organisation=org, name=f"PCN {i}") for i in range(4)]
    practices = [
        Practice.objects.create(
            organisation=org, pcn=pcns[i % 4], ods_code=f"B{i:05d}", name=f"Practice {i}"
        )
        for i in range(n_practices)
    ]
    indicators = list(indicator_catalogue().values())
    size = {p.ods_code: rng.randint(3_000, 12_000) for p in practices}
    rows = []
    for m in months_to(month):
        now = timezone.now()
        run = SearchRun.objects.create(
            as_of=month_end(m) - dt.timedelta(days=1), started_at=now, finished_at=now
        )
        for p in practices:
            for ind in indicators:
                den = max(1, int(size[p.ods_code] * rng.uniform(0.0005, 0.01)))
                rate = rng.uniform(0.7, 0.98) if ind.kind == "monitoring" else rng.uniform(0, 0.12)
                num = min(den, round(den * rate))
                rows.append(IndicatorCount(run=run, practice_ods=p.ods_code,
                                           indicator_id=ind.id, numerator=num, denominator=den))  # fmt: skip
    IndicatorCount.objects.bulk_create(rows, batch_size=5000)
    return practices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--practices", type=int, default=40)
    ap.add_argument("--month", default="2026-06")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rxwatch-bench-") as tmp:
        _configure(Path(tmp) / "workflow.sqlite3")
        from rxwatch.web.reports.monthly import build_monthly
        from rxwatch.web.scorecards import charts, services

        month = services.parse_month(args.month)
        t0 = time.perf_counter()
        practices = build(args.practices, month)
        n_ind = len(services.indicator_catalogue())
        print(f"fixture: {len(practices)} practices × {n_ind} indicators × 12 months "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        t0 = time.perf_counter()
        charts.svg(
            charts.alt.Chart(charts.alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")
        )
        print(f"vl-convert start-up (once per process): {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        cards = services.practice_scorecards(practices, month)
        services.compare(cards)
        t_data = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = build_monthly(practices, month, title="Bench federation: monthly audit summary")
        t_html = time.perf_counter() - t0
        t0 = time.perf_counter()
        pdf = report.pdf()
        t_pdf = time.perf_counter() - t0
        print(f"scorecard data + funnels' statistics: {t_data:.1f} s")
        print(f"HTML incl. data, up to 8 funnel plots and 1 trend chart: {t_html:.1f} s")
        print(f"WeasyPrint PDF: {t_pdf:.1f} s ({len(pdf) // 1024} KB)")
        print(f"TOTAL monthly PDF for {len(practices)} practices: {t_html + t_pdf:.1f} s "
              "(target < 60 s)")  # fmt: skip
        if args.out:
            args.out.write_bytes(pdf)
            print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
