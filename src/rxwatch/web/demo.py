"""The workflow half of ``make demo``: a demo organisation, users for each role, a year of weekly
searches replayed with simulated recall work, then the app served.

``rxwatch.demo`` has built the clinical store (``$RXWATCH_STORE``) before this runs. The replay runs the
engine as of each of the last 52 weeks on that store, syncs each run into the workflow database the way
``rxwatch run-search`` does (``cases.weekly.run_weekly_search``, given the search and the week's time),
and after each sync does a week's work through the domain actions — the same calls the pages make, each
with its audit event — with a seeded random generator and a weekly capacity per role, so that cases have
believable histories: contact attempts, bookings, non-responders, reviews, sign-offs, suppressions,
scope refusals escalated to a GP, GP decisions. The replay is skipped when the workflow database already
holds it for the same store, date and seed.

No real person is represented: the population is synthetic.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

PASSWORD = "rxwatch-demo"
WEEKS = int(os.environ.get("RXWATCH_DEMO_WEEKS", 52))
SEED = 2026
LONDON = ZoneInfo("Europe/London")

# (username, first name, last name, role, practices: "all" (organisation-wide) or how many of the
# first practices, scope of practice)
BROAD_SCOPE = (
    "dmard",
    "lithium",
    "anticoagulant",
    "thyroid",
    "cardiovascular",
    "amiodarone",
    "renal-risk",
)
USERS = (
    ("technician", "Tess", "Hughes", "technician", "all", ()),
    ("technician-practice", "Tom", "Patel", "technician", 1, ()),
    ("pharmacist", "Priya", "Shah", "pharmacist", "all", BROAD_SCOPE),
    ("pharmacist-limited", "Lewis", "Grant", "pharmacist", 3, ("dmard",)),
    ("gp", "Gwen", "Morgan", "gp", "all", ()),
    ("manager", "Maria", "Lopez", "practice_manager", 1, ()),
    ("hublead", "Hamid", "Khan", "hub_lead", "all", ()),
)

# A week's capacity: how much work each role gets through (the rest waits, as it does in practice).
CONTACTS_PER_WEEK = 120
REVIEWS_PER_WEEK = 45
CONTACT_OUTCOMES = (
    ("booked", 34),
    ("no_answer", 34),
    ("left_message", 20),
    ("declined", 4),
    ("moved_away", 2),
    ("monitored_elsewhere", 6),
)
METHODS = (("phone", 50), ("sms", 25), ("letter", 15), ("message", 10))
DECISIONS = (
    ("continue", 40),
    ("continue_with_caveats", 22),
    ("dose_adjusted", 15),
    ("treatment_paused", 5),
    ("refer_to_specialist", 8),
    ("escalate_to_gp", 10),
)
NOTES = {
    "continue": "",
    "continue_with_caveats": "Result borderline; repeat at the next routine test.",
    "dose_adjusted": "Dose reduced; repeat the test in two weeks.",
    "treatment_paused": "Treatment paused pending repeat bloods; patient informed.",
    "refer_to_specialist": "Referred back to the specialist team for advice.",
    "escalate_to_gp": "Needs a GP decision: result outside the expected range.",
}
LOCATIONS = ("Practice phlebotomy clinic", "Hospital phlebotomy", "Community hub", "Home visit")


def _say(text: str) -> None:
    print(text, flush=True)


def _pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _configure(out: Path) -> Path:
    """Environment for Django before it starts: the demo's own SQLite file, debug serving."""
    db = out / "workflow.sqlite3"
    os.environ.setdefault("RXWATCH_DATABASE_URL", f"sqlite:///{db}")
    # A local demo of synthetic data: runserver serves the static files and plain-http session
    # cookies work only in debug mode. A deployment never sets this (docs/deployment.md).
    os.environ.setdefault("RXWATCH_DEBUG", "1")
    os.environ.setdefault("RXWATCH_ALLOWED_HOSTS", "*")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxwatch.web.settings")
    return db


def _store_state(store: Path) -> dict:
    from rxwatch.extract.store import current_practices

    imports = current_practices(store)
    return {ods: [rec.id, rec.content_hash] for ods, rec in sorted(imports.items())}


def run(*, out: Path, as_of: dt.date, port: int, serve: bool) -> int:
    """Set up the workflow database for the demo (replaying a year of work once), print the demo
    users, and serve the app on 0.0.0.0:``port`` unless ``serve`` is false."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = _configure(out)
    store = Path(os.environ.get("RXWATCH_STORE") or out / "clinical.duckdb")
    params = {
        "as_of": as_of.isoformat(),
        "weeks": WEEKS,
        "seed": SEED,
        "store": _store_state(store),
        "users": [u[0] for u in USERS],
    }
    stamp = out / "workflow-demo.json"
    replayed = stamp.exists() and json.loads(stamp.read_text()) == params and db.exists()
    if not replayed and os.environ["RXWATCH_DATABASE_URL"] == f"sqlite:///{db}":
        for suffix in ("", "-wal", "-shm"):  # a different demo: start the workflow store afresh
            Path(f"{db}{suffix}").unlink(missing_ok=True)

    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.perf_counter()
    _say("\n== Workflow database")
    call_command("migrate", verbosity=0)
    _say(f"   migrated {db} ({time.perf_counter() - t0:.1f} s)")

    if replayed:
        _say(
            f"   a year of weekly searches and recall work is already replayed for {as_of}; "
            "reusing it."
        )
    else:
        org = setup_organisation(store)
        t0 = time.perf_counter()
        _say(f"\n== Replaying {WEEKS} weekly searches up to {as_of}, with simulated recall work")
        replay(store=store, as_of=as_of, organisation=org, weeks=WEEKS, seed=SEED, cache_dir=out)
        _say(f"   replay done ({time.perf_counter() - t0:.1f} s)")
        stamp.write_text(json.dumps(params))

    print_users(port)
    if not serve:
        return 0
    _say(f"\nServing RxWatch on http://0.0.0.0:{port}/ (Ctrl-C stops it)\n")
    call_command("runserver", f"0.0.0.0:{port}", use_reloader=False, skip_checks=True)
    return 0


def print_users(port: int) -> None:
    from rxwatch.web.organisations.models import User

    _say(f"\n== Demo users (password for all: {PASSWORD})")
    for username, *_ in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        ms = user.memberships.select_related("practice")
        roles = sorted({m.get_role_display() for m in ms})
        where = (
            "all practices"
            if any(m.practice_id is None for m in ms)
            else ", ".join(sorted(m.practice.ods_code for m in ms))
        )
        scope = sorted(user.scope_of_practice.values_list("drug_group", flat=True))
        extra = f"; scope of practice: {', '.join(scope)}" if scope else ""
        _say(f"   {username:<20} {', '.join(roles)} ({where}){extra}")
    _say(f"   sign in at http://localhost:{port}/accounts/login/")


# --- the organisation and its people --------------------------------------------------------------


def setup_organisation(store: Path):
    """The practices of the clinical store with their PCNs, the recall policy and the demo users."""
    from rxwatch.extract.store import connect_store
    from rxwatch.web.cases.models import RecallPolicy
    from rxwatch.web.organisations.models import (
        PCN,
        Membership,
        Organisation,
        Practice,
        ScopeOfPractice,
        User,
    )

    con = connect_store(store)
    try:
        rows = con.execute("SELECT ods_code, name, pcn FROM practices ORDER BY ods_code").fetchall()
    finally:
        con.close()
    org, _ = Organisation.objects.get_or_create(
        code="DEMO", defaults={"name": "RxWatch Demo Federation (synthetic)"}
    )
    RecallPolicy.objects.get_or_create(organisation=org)
    practices = []
    for ods, name, pcn_name in rows:
        pcn = None
        if pcn_name:
            pcn, _ = PCN.objects.get_or_create(organisation=org, name=pcn_name)
        practice, _ = Practice.objects.update_or_create(
            ods_code=ods, defaults={"organisation": org, "name": name or ods, "pcn": pcn}
        )
        practices.append(practice)
    for username, first, last, role, where, scope in USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        targets = [None] if where == "all" else practices[:where]
        for practice in targets:
            Membership.objects.get_or_create(
                user=user, organisation=org, practice=practice, role=role
            )
        for group in scope:
            ScopeOfPractice.objects.get_or_create(user=user, drug_group=group)
    _say(f"   organisation {org.code}: {len(practices)} practices, {len(USERS)} demo users")
    return org


# --- the replay -----------------------------------------------------------------------------------


@dataclass
class Staff:
    technician: object
    pharmacist: object
    limited: object
    gp: object


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def _catalogue_key(catalogue) -> str:
    """Which rules and codelists a cached search was made with (ids, versions, code counts)."""
    import hashlib

    parts = sorted(f"{r.id}:{r.version}" for r in catalogue.rules)
    parts += sorted(f"{name}:{len(cl.codes)}" for name, cl in catalogue.codelists.items())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _cached_search(folder: Path, day: dt.date, import_ids: list[str], search):
    """A week's search result, kept as Parquet next to the demo so that a replay interrupted in
    the workflow part does not search the same data again."""
    import pyarrow.parquet as pq

    from rxwatch.engine.api import SearchResult

    key = folder / f"{day.isoformat()}-{'-'.join(import_ids)}"
    parts = ("results", "indicators", "specialist_monitored")
    if all((key / f"{p}.parquet").exists() for p in parts):
        tables = {p: pq.read_table(key / f"{p}.parquet") for p in parts}
        backend = (key / "backend").read_text() if (key / "backend").exists() else "duckdb"
        return SearchResult(as_of=day, backend=backend, **tables)
    result = search(day)
    key.mkdir(parents=True, exist_ok=True)
    for p in parts:
        pq.write_table(getattr(result, p), key / f"{p}.parquet")
    (key / "backend").write_text(result.backend)
    return result


def replay(
    *, store: Path, as_of: dt.date, organisation, weeks: int, seed: int, cache_dir: Path
) -> None:
    """Search as of each week (oldest first), sync, then do that week's work."""
    from django.conf import settings

    from rxwatch.config import organisation_catalogue
    from rxwatch.engine.backends import connect
    from rxwatch.engine.search import run_search, summary
    from rxwatch.extract.store import connect_store, current_practices
    from rxwatch.web.cases.weekly import run_weekly_search
    from rxwatch.web.organisations.models import User

    debug, settings.DEBUG = settings.DEBUG, False  # no SQL logging while replaying
    logging.getLogger("rxwatch.engine").setLevel(logging.WARNING)  # one line per week is enough
    try:
        catalogue = organisation_catalogue()
        import_ids = sorted({str(rec.id) for rec in current_practices(store).values()})
        duck = connect_store(store)
        duck.execute("SET enable_progress_bar = false")  # the replay prints one line per week
        con = connect("duckdb", duckdb_con=duck)
        users = Staff(
            *(
                User.objects.get(username=u)
                for u in ("technician", "pharmacist", "pharmacist-limited", "gp")
            )
        )
        rng = random.Random(seed)
        days = [as_of - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
        cache = cache_dir / "searches"
        key = [*import_ids, _catalogue_key(catalogue)]

        seconds: dict[dt.date, float] = {}

        def search(day: dt.date):
            t = time.perf_counter()
            found = _cached_search(
                cache, day, key, lambda d: run_search(con, as_of=d, catalogue=catalogue)
            )
            seconds[day] = time.perf_counter() - t
            return found

        # The engine (DuckDB, off the GIL) searches next week while this thread syncs and works
        # this week: the two overlap on a two-core machine. The sync reads the store through its
        # own connection, as DuckDB requires for a second thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(search, days[0])
            for i, day in enumerate(days):
                t0 = time.perf_counter()
                result = ahead.result()
                if i + 1 < len(days):
                    ahead = pool.submit(search, days[i + 1])
                t1 = time.perf_counter()
                run = run_weekly_search(
                    store=store,
                    as_of=day,
                    organisation=organisation.code,
                    result=result,
                    at=_at(day, 6),
                    catalogue=catalogue,
                )
                t2 = time.perf_counter()
                work = simulate_week(day, users, rng) if i < len(days) - 1 else {}
                t3 = time.perf_counter()
                done = ", ".join(f"{v} {k}" for k, v in work.items() if v) or "no work yet"
                _say(
                    f"   {day}: {run.flagged:,} flagged, {run.opened} opened, {run.closed} "
                    f"closed; {done} (waited {t1 - t0:.1f} s for the search, sync "
                    f"{t2 - t1:.1f} s, work {t3 - t2:.1f} s)"
                )
        # This week's search is the last one replayed (its cases are the app's worklist).
        _say("   " + summary(result, seconds[days[-1]]))
        duck.close()
    finally:
        settings.DEBUG = debug


def simulate_week(day: dt.date, staff: Staff, rng: random.Random) -> dict[str, int]:
    """One week of work on the cases the latest search left open, through the domain actions."""
    from rxwatch.web.cases import actions, queries
    from rxwatch.web.cases.models import CaseStatus
    from rxwatch.web.errors import DomainError, ScopeError
    from rxwatch.web.organisations.access import in_scope
    from rxwatch.web.reviews import actions as review
    from rxwatch.web.reviews.models import Decision

    count = {
        "contacts": 0,
        "bookings": 0,
        "non-responders": 0,
        "reviews": 0,
        "sign-offs": 0,
        "suppressions": 0,
        "escalations": 0,
        "GP decisions": 0,
    }

    def when(base_hour: int = 9) -> dt.datetime:
        return _at(
            day + dt.timedelta(days=rng.randint(0, 4)),
            base_hour + rng.randint(0, 7),
            rng.randint(0, 59),
        )

    # GP: last week's escalations are decided early in the week.
    for esc in list(queries.escalation_queue(staff.gp)):
        at = _at(day, 8, rng.randint(0, 59))
        if at <= esc.escalated_at:
            continue
        close = rng.random() < 0.8
        decision = _pick(rng, DECISIONS[:-1])
        try:
            review.gp_decide(
                user=staff.gp,
                escalation=esc,
                decision=decision,
                close=close,
                note=NOTES[decision] or "Reviewed; continue as before.",
                at=at,
            )
            count["GP decisions"] += 1
        except DomainError:
            pass

    # Technician: the top of the worklist, most urgent first, as far as the week's capacity goes.
    for case in list(queries.worklist(staff.technician)[:CONTACTS_PER_WEEK]):
        if case.status == CaseStatus.BOOKED and rng.random() < 0.7:
            continue  # waiting for the appointment
        at = when()
        if at < case.status_changed_at:
            continue
        outcome = _pick(rng, CONTACT_OUTCOMES)
        try:
            actions.record_contact_attempt(
                user=staff.technician, case=case, method=_pick(rng, METHODS), outcome=outcome, at=at
            )
            count["contacts"] += 1
            if outcome == "booked":
                actions.book_bloods(
                    user=staff.technician,
                    case=case,
                    at=at + dt.timedelta(minutes=2),
                    date=at.date() + dt.timedelta(days=rng.randint(2, 14)),
                    location=rng.choice(LOCATIONS),
                )
                count["bookings"] += 1
            case.refresh_from_db(fields=["status"])
            if case.status == CaseStatus.NON_RESPONDER:
                count["non-responders"] += 1
        except DomainError:
            pass

    # Pharmacists: the review queue, most urgent first.
    for case in list(queries.review_queue(staff.pharmacist)[:REVIEWS_PER_WEEK]):
        at = when(10)
        if at < case.status_changed_at:
            continue
        last = case.contacts.order_by("-attempted_at").values_list("outcome", flat=True).first()
        try:
            if case.status == CaseStatus.IN_REVIEW and last == "monitored_elsewhere":
                actions.suppress_case(
                    user=staff.pharmacist,
                    case=case,
                    reason="monitored_elsewhere",
                    at=at,
                    review_date=at.date() + dt.timedelta(days=rng.choice((90, 180, 365))),
                    note="Monitored by the hospital clinic; results shared by letter.",
                )
                count["suppressions"] += 1
                continue
            if case.status == CaseStatus.NON_RESPONDER:
                decision = "continue_with_caveats"
                note = (
                    f"Non-responder: prescriptions reduced to "
                    f"{case.recommended_prescription_days or 14} days until bloods are done."
                )
            elif last in ("declined", "moved_away"):
                decision, note = (
                    "continue_with_caveats",
                    f"Patient {last.replace('_', ' ')}: noted.",
                )
            else:
                decision = _pick(rng, DECISIONS)
                note = NOTES[decision]
            pharmacist = staff.pharmacist
            if decision == Decision.DOSE_ADJUSTED and not in_scope(pharmacist, case.drug_group):
                decision, note = Decision.ESCALATE_TO_GP, NOTES["escalate_to_gp"]
            # Now and then the narrow-scope pharmacist tries a dose change outside their scope:
            # the domain refuses it and they escalate (the journey the scope rule exists for).
            if (
                decision == Decision.DOSE_ADJUSTED
                and case.drug_group != "dmard"
                and rng.random() < 0.3
                and _can_act(staff.limited, case)
            ):
                try:
                    review.record_review(
                        user=staff.limited,
                        case=case,
                        decision=decision,
                        note=note,
                        dose_change=True,
                        at=at,
                    )
                except ScopeError:
                    review.escalate_to_gp(
                        user=staff.limited,
                        case=case,
                        at=at,
                        note="Dose change needed outside my scope: " + note,
                    )
                    count["escalations"] += 1
                    continue
            review.record_review(
                user=pharmacist,
                case=case,
                decision=decision,
                note=note,
                dose_change=decision == Decision.DOSE_ADJUSTED,
                at=at,
            )
            count["reviews"] += 1
            if decision == Decision.ESCALATE_TO_GP:
                count["escalations"] += 1
                continue
            review.sign_off(user=pharmacist, case=case, at=at + dt.timedelta(minutes=5))
            count["sign-offs"] += 1
        except DomainError:
            pass
    return count


def _can_act(user, case) -> bool:
    from rxwatch.web.organisations.access import roles_at

    return "pharmacist" in roles_at(user, case.practice)
