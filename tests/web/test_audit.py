"""The audit trail: append-only in the database, hash-chained, and verified."""

from __future__ import annotations

import itertools

import pytest
from django.db import DatabaseError, connection, transaction

from rxwatch.web.audit import chain
from rxwatch.web.audit.models import AppendOnly, AuditEvent
from rxwatch.web.cases import actions
from rxwatch.web.cases.models import CaseStatus, ContactAttempt

TABLE = AuditEvent._meta.db_table


def _events(n: int) -> None:
    with transaction.atomic():
        chain.append(
            chain.Event(
                action="test.event",
                object_type="thing",
                object_id=str(i),
                after={"i": i, "note": "é ✓"},
            )
            for i in range(n)
        )


def _drop_guards() -> None:
    """Bypass the append-only triggers, as an attacker with the database file would. DDL is
    transactional on SQLite and PostgreSQL, so the test's rollback puts them back."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            for name in chain.TRIGGERS:
                cur.execute(f"DROP TRIGGER {name}")
        else:
            cur.execute(f"DROP TRIGGER audit_event_append_only ON {TABLE}")


def test_chain_links_each_event_to_the_one_before(db):
    _events(5)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    report = chain.verify_chain()
    assert report.ok and report.count == 5 and report.head_hash == events[-1].hash
    assert report.guards_in_place
    assert report.summary().startswith("OK: 5 audit events")


def test_empty_trail_verifies(db):
    report = chain.verify_chain()
    assert report.ok and report.count == 0


@pytest.mark.parametrize("sql", [f"UPDATE {TABLE} SET action = 'forged'", f"DELETE FROM {TABLE}"])
def test_database_refuses_update_and_delete(db, sql):
    _events(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(sql)
    assert AuditEvent.objects.count() == 2
    assert chain.verify_chain().ok


def test_orm_refuses_update_and_delete(db):
    _events(1)
    event = AuditEvent.objects.get()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().update(action="x")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnly):
        event.delete()
    event.action = "forged"
    with pytest.raises(AppendOnly):
        event.save()


def test_verify_catches_an_edited_row(db):
    _events(5)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {TABLE} SET actor_username = 'someone_else' WHERE seq = 3")
    report = chain.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in report.problem


def test_verify_catches_an_edited_json_payload(db):
    _events(4)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute(f"""UPDATE {TABLE} SET "after" = %s WHERE seq = 2""", ['{"i": 99}'])
    report = chain.verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_verify_catches_an_edit_that_rehashes_the_row(db):
    """Recomputing the edited row's own hash does not help: the next row no longer links to it."""
    _events(4)
    _drop_guards()
    row = AuditEvent.objects.filter(seq=2).values(*chain.HASHED_FIELDS).get()
    row["action"] = "forged"
    forged = chain.compute_hash(row)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {TABLE} SET action = 'forged', hash = %s WHERE seq = 2", [forged])
    report = chain.verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "link" in report.problem


def test_verify_catches_a_deleted_row(db):
    _events(5)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {TABLE} WHERE seq = 3")
    report = chain.verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "missing" in report.problem
    assert report.summary().startswith("BROKEN at event #3")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="uses SQLite's AUTOINCREMENT high-water")
def test_verify_catches_deletion_of_the_newest_rows(db):
    _events(5)
    _drop_guards()
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {TABLE} WHERE seq >= 4")
    report = chain.verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_verify_warns_when_triggers_are_gone(db):
    _events(1)
    _drop_guards()
    report = chain.verify_chain()
    assert report.ok and not report.guards_in_place
    assert "WARNING" in report.summary()


def test_action_and_its_event_commit_or_roll_back_together(case_a, tech_a, monkeypatch):
    """Make the action fail after its audit event is written: nothing of it may remain."""
    before = AuditEvent.objects.count()

    def boom(*args, **kwargs):
        raise RuntimeError("failure after the audit event was written")

    monkeypatch.setattr(actions, "recall_exhausted", boom)
    with pytest.raises(RuntimeError):
        actions.record_contact_attempt(
            user=tech_a, case=case_a, method="phone", outcome="no_answer"
        )
    assert AuditEvent.objects.count() == before
    assert not ContactAttempt.objects.exists()
    case_a.refresh_from_db()
    assert case_a.status == CaseStatus.OPEN
    assert chain.verify_chain().ok


def test_events_carry_who_what_where_and_no_patient_identifier(case_a, tech_a):
    actions.record_contact_attempt(
        user=tech_a, case=case_a, method="sms", outcome="left_message", note="left voicemail"
    )
    event = AuditEvent.objects.get(action="case.contact_attempt")
    assert event.actor_username == "tech_a" and event.actor_role == "technician"
    assert event.practice_ods == "A81001"
    assert (event.object_type, event.object_id) == ("case", str(case_a.pk))
    assert event.before["status"] == "open" and event.after["status"] == "contacting"
    text = str(event.before) + str(event.after)
    assert case_a.patient_id not in text and case_a.nhs_number not in text


def test_timestamps_survive_the_round_trip_through_the_database(db):
    """The hash is over what the database gives back, to the microsecond and across JSON types."""
    import datetime as dt

    with transaction.atomic():
        chain.append(
            [
                chain.Event(
                    action="t",
                    occurred_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
                    after={
                        "date": dt.date(2026, 1, 2),
                        "float": 0.1,
                        "tuple": (1, 2),
                        "none": None,
                    },
                )
            ]
        )
    assert chain.verify_chain().ok
