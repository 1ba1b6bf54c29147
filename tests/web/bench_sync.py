"""How long ``sync_search_run`` takes for a federation-sized run, on a real SQLite file.

    .venv/bin/python tests/web/bench_sync.py [FLAGS]   (default 20000)

Measured 2026-11-23 on the 2-core build machine (busy: load ~12), 20,000 flags: first run (opens
20,000 cases) 4.4 s CPU; the next weekly runs (update 18,000, close 2,000) 1.5 s CPU; verifying the
24,003-event audit chain 1.3 s CPU. (Inside a pytest transaction each sync is a savepoint, which
SQLite makes several times slower: measure here, not in the test suite.)
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

LAST, DUE = dt.date(2026, 5, 1), dt.date(2026, 8, 1)
WEEKS = (dt.date(2026, 11, 9), dt.date(2026, 11, 16), dt.date(2026, 11, 23))


def main(n: int) -> None:
    os.environ["RXWATCH_DATA_DIR"] = tempfile.mkdtemp()
    os.environ["RXWATCH_DEBUG"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from rxwatch.web.bootstrap import setup

    setup(migrate=True)
    from django.utils import timezone
    from tests.web.searchresults import RULES, result, row

    from rxwatch.web.audit.chain import verify_chain
    from rxwatch.web.cases.sync import sync_search_run
    from rxwatch.web.organisations.models import Organisation, Practice

    org = Organisation.objects.create(code="BENCH", name="Bench")
    for ods in ("A81001", "B82002"):
        Practice.objects.create(organisation=org, ods_code=ods, name=ods)
    for week, as_of in enumerate(WEEKS):
        rows = [
            row(
                "A81001" if i % 2 else "B82002",
                f"X{i:06d}",
                "methotrexate.fbc",
                "overdue",
                as_of=as_of,
                last_date=LAST,
                due_date=DUE,
            )
            for i in range(week * n // 10, n)
        ]
        res = result(as_of, rows)
        t, c = time.perf_counter(), time.process_time()
        run = sync_search_run(result=res, rules=RULES, at=timezone.now())
        print(
            f"run {week + 1}: {run.flagged} flagged, {run.opened} opened, {run.closed} closed: "
            f"{time.process_time() - c:.1f} s CPU, {time.perf_counter() - t:.1f} s wall"
        )
    c = time.process_time()
    print(f"{verify_chain().summary()[:48]}…: {time.process_time() - c:.1f} s CPU")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
