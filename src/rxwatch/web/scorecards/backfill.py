"""Backfill: the engine as of each past month-end over the clinical store, indicators only.

A new organisation imports its practices' records and wants a year of scorecard history on day one.
The weekly search cannot give it (``check_as_of`` refuses to rewind cases, rightly), so this runs the
same engine (``rxwatch.engine.search.run_search`` on the same DuckDB backend the weekly search uses)
as of each month-end and keeps only its indicator counts. No cases are opened for the past.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from rxwatch.engine.api import SearchResult
from rxwatch.web import bulk
from rxwatch.web.audit import chain
from rxwatch.web.scorecards.models import BackfillIndicator, BackfillRun
from rxwatch.web.scorecards.services import add_months, month_end, month_start

log = logging.getLogger(__name__)

Search = Callable[[dt.date], SearchResult]


def month_ends(today: dt.date, n: int = 12) -> list[dt.date]:
    """The last ``n`` complete month-ends before ``today``, oldest first."""
    this_month = month_start(today)
    return [month_end(add_months(this_month, -i)) for i in range(n, 0, -1)]


def store_search(store: Path, codelists_dir: Path | None = None):
    """A ``Search`` over the clinical store (opened read-only once) and a function to close it.

    ``codelists_dir`` overrides the organisation's codelists (``organisation_catalogue``): a
    backfill with other lists than the scorecard pages' would count a different population from the
    one the pages it fills describe.
    """
    from rxwatch.config import organisation_catalogue
    from rxwatch.engine.backends import connect
    from rxwatch.engine.search import run_search
    from rxwatch.extract.store import connect_store
    from rxwatch.web.cases.weekly import _current_imports

    catalogue = organisation_catalogue(codelists_dir)
    duck = connect_store(store, read_only=True)
    con = connect("duckdb", duckdb_con=duck)

    def search(as_of: dt.date) -> SearchResult:
        return run_search(con, as_of=as_of, catalogue=catalogue)

    search.import_ids = _current_imports(duck)  # type: ignore[attr-defined]
    return search, duck.close


def record_backfill(
    result: SearchResult, *, import_ids: Sequence[str] = (), user=None
) -> BackfillRun:
    """Keep one search's indicators as a backfill run, audited (one transaction)."""
    rows = result.indicators.to_pylist()
    practices = sorted({r["practice"] for r in rows})
    with transaction.atomic():
        run = BackfillRun.objects.create(
            as_of=result.as_of,
            created_at=timezone.now(),
            store_import_ids=list(map(str, import_ids)),
            practices=practices,
            triggered_by=user.get_username() if user is not None else "",
        )
        bulk.insert(
            BackfillIndicator,
            ("run", "practice_ods", "indicator_id", "numerator", "denominator"),
            [
                (run.pk, r["practice"], r["indicator_id"], r["numerator"], r["denominator"])
                for r in rows
            ],
        )
        chain.record(
            action="scorecards.backfilled",
            user=user,
            object_type="backfill_run",
            object_id=run.pk,
            after={"as_of": result.as_of, "practices": practices, "indicators": len(rows)},
        )
    return run


def backfill(
    *,
    search: Search,
    as_of_dates: Sequence[dt.date],
    import_ids: Sequence[str] = (),
    user=None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[BackfillRun]:
    """Run ``search`` as of each date and keep the indicators; dates already backfilled are skipped
    unless ``force`` (the newer run then wins in the scorecard: same as-of, later id)."""
    done = set(BackfillRun.objects.values_list("as_of", flat=True))
    runs = []
    for as_of in as_of_dates:
        if as_of in done and not force:
            if progress:
                progress(f"{as_of}: already backfilled")
            continue
        result = search(as_of)
        run = record_backfill(result, import_ids=import_ids, user=user)
        runs.append(run)
        if progress:
            progress(f"{as_of}: {len(run.practices)} practices")
    return runs


def backfill_store(
    *,
    store: Path,
    months: int = 12,
    today: dt.date | None = None,
    codelists_dir: Path | None = None,
    user=None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[BackfillRun]:
    """The year of history for a new organisation: the last ``months`` month-ends.

    ``codelists_dir`` overrides the organisation's codelists setting (see ``store_search``)."""
    search, close = store_search(store, codelists_dir)
    try:
        return backfill(
            search=search,
            as_of_dates=month_ends(today or timezone.localdate(), months),
            import_ids=search.import_ids,  # type: ignore[attr-defined]
            user=user,
            force=force,
            progress=progress,
        )
    finally:
        close()
