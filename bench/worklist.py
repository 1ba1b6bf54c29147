"""How long the technician worklist page takes to render (issue 4: under 300 ms with the demo data).

Uses the demo's workflow database when it exists (``make demo`` builds var/demo/workflow.sqlite3;
``--db PATH`` to choose another), else builds an equivalent in a temporary directory: 10 practices,
thousands of open cases, a hub technician. Renders the page with Django's test client signed in as the
technician (all practices, the heaviest worklist), N times per variant, and prints the median and 90th
percentile. Every render includes its audit event (the view is audited), as in real use. No assertions.

    .venv/bin/python bench/worklist.py [--db var/demo/workflow.sqlite3] [-n 30] [--cases 6000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = ROOT / "var" / "demo" / "workflow.sqlite3"


def _configure(db: Path) -> None:
    os.environ["RXWATCH_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("RXWATCH_SECRET_KEY", "bench-only-" + os.urandom(8).hex())
    os.environ["RXWATCH_ALLOWED_HOSTS"] = "testserver"
    os.environ["RXWATCH_DEBUG"] = "0"  # production settings: no SQL logging
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxwatch.web.settings")
    import django

    django.setup()


def build_equivalent(n_cases: int, seed: int = 1) -> None:
    """A workflow store shaped like the demo's: 10 practices, ``n_cases`` active cases with a few
    contact attempts, one hub technician. Written with bulk inserts: this is fixture data for a
    read benchmark, not recorded work."""
    from django.core.management import call_command
    from django.utils import timezone

    from rxwatch.web.cases.models import (
        CaseStatus,
        ContactAttempt,
        FlagStatus,
        MonitoringCase,
        SearchRun,
    )
    from rxwatch.web.organisations.models import Membership, Organisation, Practice, User

    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    org = Organisation.objects.create(code="BENCH", name="Bench federation")
    practices = [
        Practice.objects.create(organisation=org, ods_code=f"B{i:05d}", name=f"Practice {i}")
        for i in range(10)
    ]
    tech = User.objects.create_user("technician", password="bench")
    Membership.objects.create(user=tech, organisation=org, role="technician")
    now = timezone.now()
    run = SearchRun.objects.create(as_of=dt.date.today(), started_at=now, finished_at=now)
    flags = [FlagStatus.OVERDUE] * 5 + [
        FlagStatus.DUE_SOON,
        FlagStatus.OUT_OF_RANGE,
        FlagStatus.SAFETY_ALERT,
        FlagStatus.MISSED_DIAGNOSIS,
    ]
    statuses = (
        [CaseStatus.OPEN] * 6
        + [CaseStatus.CONTACTING] * 2
        + [CaseStatus.BOOKED, CaseStatus.NON_RESPONDER, CaseStatus.IN_REVIEW]
    )
    groups = ["dmard", "lithium", "anticoagulant", "thyroid", "cardiovascular"]
    cases = []
    for i in range(n_cases):
        flag = rng.choice(flags)
        cases.append(
            MonitoringCase(
                practice=rng.choice(practices),
                patient_id=f"P{i:07d}",
                nhs_number="",
                rule_id=f"{rng.choice(groups)}.test",
                rule="rule",
                drug_group=rng.choice(groups),
                status=rng.choice(statuses),
                status_changed_at=now,
                flag_status=flag,
                reason="Full blood count overdue: last test 1 June 2026, due 1 September 2026",
                last_date=dt.date(2026, 6, 1),
                due_date=dt.date(2026, 9, 1),
                days_overdue=rng.randint(1, 300) if flag == FlagStatus.OVERDUE else None,
                first_flagged_run=run,
                last_seen_run=run,
                opened_at=now,
            )
        )
    MonitoringCase.objects.bulk_create(cases, batch_size=1000)
    contacting = MonitoringCase.objects.filter(status=CaseStatus.CONTACTING)
    ContactAttempt.objects.bulk_create(
        [
            ContactAttempt(
                case=c, method="phone", outcome="no_answer", attempted_at=now, recorded_by=tech
            )
            for c in contacting
            for _ in range(rng.randint(1, 2))
        ],
        batch_size=1000,
    )


def measure(n: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from rxwatch.web.cases.models import ACTIVE_STATUSES, MonitoringCase
    from rxwatch.web.organisations.models import User

    tech = User.objects.get(username="technician")
    client = Client()
    client.force_login(tech)
    active = MonitoringCase.objects.filter(status__in=ACTIVE_STATUSES)
    print(
        f"workflow store: {active.count():,} active cases in "
        f"{active.values('practice').distinct().count()} practices "
        f"({connection.settings_dict['NAME']})"
    )
    first_ods = active.values_list("practice__ods_code", flat=True).first()
    variants = {
        "worklist, all practices, page 1": "/worklist/",
        "worklist, all practices, page 5": "/worklist/?page=5",
        "worklist, one practice": f"/worklist/?practice={first_ods}",
        "worklist, overdue dmard": "/worklist/?flag=overdue&drug_group=dmard",
    }
    for label, path in variants.items():
        client.get(path)  # warm caches (templates, catalogue)
        times, cpu = [], []
        for _ in range(n):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as q:
            client.get(path)
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(
            f"{label:<36} median {statistics.median(times):6.1f} ms   p90 {p90:6.1f} ms   "
            f"CPU {statistics.median(cpu):5.1f} ms   {len(q.captured_queries)} queries   (n={n})"
        )
    print(
        "target: under 300 ms (wall-clock; CPU is this process's own time, which the machine's"
        " load does not inflate)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a workflow SQLite file (default: the demo's)")
    parser.add_argument("-n", type=int, default=30, help="renders per variant")
    parser.add_argument("--cases", type=int, default=6000, help="cases when building data")
    args = parser.parse_args(argv)
    db = args.db or (DEMO_DB if DEMO_DB.exists() else None)
    if db is not None:
        _configure(db.resolve())
    else:
        tmp = Path(tempfile.mkdtemp(prefix="rxwatch-bench-"))
        _configure(tmp / "workflow.sqlite3")
        t0 = time.perf_counter()
        build_equivalent(args.cases)
        print(
            f"no demo database: built {args.cases:,} cases in {tmp} "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    try:
        measure(args.n)
    finally:
        if db is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
