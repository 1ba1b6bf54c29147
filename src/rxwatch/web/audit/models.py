"""The audit trail: one row per state change or view of patient-identifiable data.

No foreign keys on purpose: an event must outlive (and never block the deletion or renaming of) the
user, practice or case it names, and it must read the same in ten years. Rows are append-only, enforced
by database triggers (migration 0002) and, as a first line, by this model refusing update and delete.
Each row carries the hash of its canonical JSON chained to the previous row's hash (see ``chain``).
"""

from __future__ import annotations

from django.db import models


class AppendOnly(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit events are append-only")

    def delete(self):
        raise AppendOnly("audit events are append-only")

    def for_object(self, object_type: str, object_id: object) -> AuditEventQuerySet:
        return self.filter(object_type=object_type, object_id=str(object_id))


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="1, 2, 3…: a gap means a deleted event")
    occurred_at = models.DateTimeField(help_text="when it happened (an action's own clock)")
    recorded_at = models.DateTimeField(help_text="when it was written")
    actor_id = models.BigIntegerField(null=True, blank=True, help_text="user id; empty for system")
    actor_username = models.CharField(max_length=150)
    actor_role = models.CharField(max_length=100, blank=True)
    practice_ods = models.CharField(max_length=10, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor_username", "occurred_at"], name="audit_actor_idx"),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit events are append-only")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_username}"
