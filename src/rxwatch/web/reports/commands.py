"""What ``rxwatch report …`` and ``rxwatch scorecard backfill`` do, kept out of cli.py (which only
parses options). Run by an operator on the server: every practice is in scope."""

from __future__ import annotations

import time
from pathlib import Path

from rxwatch.errors import RxWatchError


class ReportError(RxWatchError):
    """A report cannot be made (unknown practice, PCN or organisation; bad month)."""


def monthly_pdf(
    *,
    month: str,
    out: Path,
    practice: str | None = None,
    pcn: str | None = None,
    organisation: str | None = None,
) -> str:
    from rxwatch.web.reports.monthly import build_monthly
    from rxwatch.web.reports.scope import NoPractices, report_practices
    from rxwatch.web.scorecards.services import parse_month

    try:
        first = parse_month(month)
    except ValueError:
        raise ReportError(f"--month must be YYYY-MM, not {month!r}") from None
    try:
        practices, title = report_practices(
            None, practice=practice, pcn=pcn, organisation=organisation
        )
    except NoPractices as exc:
        raise ReportError(str(exc)) from None
    started = time.perf_counter()
    report = build_monthly(practices, first, title=f"{title}: monthly audit summary")
    data = report.pdf()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return (
        f"Wrote {out} ({len(data) // 1024} KB): {len(practices)} practice"
        f"{'' if len(practices) == 1 else 's'}, {first:%B %Y}, "
        f"{time.perf_counter() - started:.1f} s."
    )


def backfill(*, store: Path | None, months: int, force: bool, codelists: Path | None = None) -> str:
    """``codelists`` (``--codelists``) replaces the organisation's setting, RXWATCH_CODELISTS."""
    from rxwatch.config import store_path
    from rxwatch.web.scorecards.backfill import backfill_store

    lines: list[str] = []
    runs = backfill_store(
        store=store or store_path(),
        months=months,
        codelists_dir=codelists,
        force=force,
        progress=lines.append,
    )
    return "\n".join([*lines, f"Backfilled {len(runs)} month-end search(es)."])
