"""Writing and verifying the hash-chained audit trail.

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON (sorted keys, no
whitespace, UTF-8) of the event's own fields, ``seq`` included. Editing any field breaks that event's
hash; deleting an event leaves a gap in ``seq`` and breaks the next event's link; deleting the newest
events is caught on SQLite by the table's AUTOINCREMENT high-water mark (PostgreSQL: compare with the
head printed by an earlier ``rxwatch audit verify``, see docs/decisions/0004).

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite because every
transaction is IMMEDIATE (settings), so two writers can never extend the chain from the same head.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from rxwatch.web import bulk
from rxwatch.web.audit.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x52585741  # "RXWA": the advisory lock id for the chain head on PostgreSQL
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "practice_ods",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "prev_hash",
)
INSERT_FIELDS = (*HASHED_FIELDS, "hash")
TRIGGERS = ("audit_event_append_only_update", "audit_event_append_only_delete")
SYSTEM = "system"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _ts(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    raise TypeError(f"cannot put a {type(value).__name__} in an audit event")


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def normalise(value: Any) -> Any:
    """What a JSON column gives back: dates as ISO strings, tuples as lists."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_default))


def canonical(event: Mapping[str, Any]) -> bytes:
    data = {k: event[k] for k in HASHED_FIELDS}
    for k in ("occurred_at", "recorded_at"):
        if isinstance(data[k], dt.datetime):
            data[k] = _ts(data[k])
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode("utf-8")


def compute_hash(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(event["prev_hash"].encode("ascii") + canonical(event)).hexdigest()


@dataclass
class Event:
    """One audit event before it is chained. ``before``/``after`` hold field values, never patient
    identifiers: the object is named by type and id."""

    action: str
    actor_username: str = SYSTEM
    actor_id: int | None = None
    actor_role: str = SYSTEM
    practice_ods: str = ""
    object_type: str = ""
    object_id: str = ""
    before: Any = None
    after: Any = None
    occurred_at: dt.datetime | None = None
    extra: dict = field(default_factory=dict)


def actor_fields(user: Any, role: str) -> dict[str, Any]:
    if user is None:
        return {"actor_username": SYSTEM, "actor_id": None, "actor_role": SYSTEM}
    return {"actor_username": user.get_username(), "actor_id": user.pk, "actor_role": role}


def _lock_head() -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return head or (0, GENESIS)


def append(events: Iterable[Event]) -> list[AuditEvent]:
    """Chain and insert events, in order, inside the caller's transaction. Written with one
    executemany; the returned instances (only for small batches) carry no ``pk``.

    Refuses to run outside a transaction: the event must commit or roll back with the change it
    records, so an action that fails leaves no event and an event never describes a change that
    did not happen.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit events are written inside the action's transaction.atomic()")
    events = list(events)
    if not events:
        return []
    seq, prev = _lock_head()
    now = timezone.now()
    rows: list[dict] = []
    for ev in events:
        seq += 1
        data = {
            "seq": seq,
            "occurred_at": ev.occurred_at or now,
            "recorded_at": now,
            "actor_id": ev.actor_id,
            "actor_username": ev.actor_username,
            "actor_role": ev.actor_role,
            "practice_ods": ev.practice_ods or "",
            "action": ev.action,
            "object_type": ev.object_type,
            "object_id": str(ev.object_id),
            "before": normalise(ev.before),
            "after": normalise(ev.after),
            "prev_hash": prev,
        }
        data["hash"] = prev = compute_hash(data)
        rows.append(data)
    bulk.insert(AuditEvent, INSERT_FIELDS, ([row[f] for f in INSERT_FIELDS] for row in rows))
    return [AuditEvent(**row) for row in rows] if len(rows) < 100 else []


def record(
    *,
    action: str,
    user: Any = None,
    role: str = SYSTEM,
    practice_ods: str = "",
    object_type: str = "",
    object_id: object = "",
    before: Any = None,
    after: Any = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event (inside the caller's transaction)."""
    (event,) = append(
        [
            Event(
                action=action,
                practice_ods=practice_ods,
                object_type=object_type,
                object_id=str(object_id),
                before=before,
                after=after,
                occurred_at=at,
                **actor_fields(user, role),
            )
        ]
    )
    return event


# --- verification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    guards_in_place: bool = True

    def summary(self) -> str:
        if self.ok:
            guard = "" if self.guards_in_place else " (WARNING: append-only triggers missing)"
            return (
                f"OK: {self.count} audit events, chain intact; head #{self.head_seq} "
                f"{self.head_hash}{guard}"
            )
        return f"BROKEN at event #{self.first_bad_seq}: {self.problem}"


def _sqlite_high_water() -> int | None:
    table = AuditEvent._meta.db_table
    with connection.cursor() as cur:
        cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cur.fetchone()
    return int(row[0]) if row else None


def guards_in_place() -> bool:
    """Are the append-only triggers still there? (A table rebuild by a careless migration on SQLite
    would drop them silently.)"""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
            )
            return set(TRIGGERS) <= {r[0] for r in cur.fetchall()}
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
            return {"audit_event_append_only", "audit_event_no_truncate"} <= {
                r[0] for r in cur.fetchall()
            }
    return False


def verify_chain(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the chain from the first event and report the first event that does not verify."""
    values = ("id", "hash", *HASHED_FIELDS)
    expected_seq, prev_hash, count, last_id = 1, GENESIS, 0, 0

    def broken(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, count, expected_seq - 1, prev_hash, seq, problem)

    for ev in AuditEvent.objects.order_by("seq").values(*values).iterator(chunk_size=chunk_size):
        if ev["seq"] != expected_seq:
            missing = f"#{expected_seq}" + (
                f"–#{ev['seq'] - 1}" if ev["seq"] - 1 > expected_seq else ""
            )
            return broken(expected_seq, f"event {missing} is missing (deleted)")
        if ev["prev_hash"] != prev_hash:
            return broken(ev["seq"], "does not link to the event before it")
        if compute_hash(ev) != ev["hash"]:
            return broken(ev["seq"], "was altered after it was written (hash mismatch)")
        count += 1
        expected_seq, prev_hash, last_id = ev["seq"] + 1, ev["hash"], ev["id"]

    if connection.vendor == "sqlite":
        high = _sqlite_high_water()
        if high is not None and high > last_id:
            return broken(
                expected_seq, f"the newest event(s) after #{expected_seq - 1} were deleted"
            )
    return ChainReport(True, count, expected_seq - 1, prev_hash, guards_in_place=guards_in_place())
