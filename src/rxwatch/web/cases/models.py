"""Monitoring cases and the recall work done on them.

A case is one (practice, patient, rule_id) flagged by a weekly search, from its first flag to its
closure. It is never deleted: a closed or suppressed case is terminal, and a later flag of the same
(patient, rule_id) opens a new case that points back at it (``previous_case``). Each change is made by
an action in ``cases.actions`` / ``reviews.actions`` or by ``cases.sync``, which also audit it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When

from rxwatch.web.organisations.models import Organisation, Practice


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONTACTING = "contacting", "Contacting patient"
    BOOKED = "booked", "Bloods booked"
    NON_RESPONDER = "non_responder", "Non-responder"
    IN_REVIEW = "in_review", "With pharmacist"
    ESCALATED = "escalated", "Escalated to GP"
    CLOSED = "closed", "Closed"
    SUPPRESSED = "suppressed", "Suppressed"


TERMINAL_STATUSES = (CaseStatus.CLOSED, CaseStatus.SUPPRESSED)
ACTIVE_STATUSES = tuple(s for s in CaseStatus if s not in TERMINAL_STATUSES)
RECALL_STATUSES = (CaseStatus.OPEN, CaseStatus.CONTACTING, CaseStatus.BOOKED)


class FlagStatus(models.TextChoices):
    """What the latest search says (results.csv ``status``)."""

    OVERDUE = "overdue", "Overdue"
    DUE_SOON = "due_soon", "Due soon"
    OUT_OF_RANGE = "out_of_range", "Out of range"
    SAFETY_ALERT = "safety_alert", "Safety alert"
    MISSED_DIAGNOSIS = "missed_diagnosis", "Possible missed diagnosis"


REVIEW_FLAGS = (FlagStatus.OUT_OF_RANGE, FlagStatus.SAFETY_ALERT, FlagStatus.MISSED_DIAGNOSIS)


class ReviewReason(models.TextChoices):
    """Why a case is in the pharmacist's review queue, as the queue's filter offers it: what the
    search says (out of range, safety alert, missed diagnosis), or that recall failed."""

    OUT_OF_RANGE = "out_of_range", "Out of range"
    NON_RESPONDER = "non_responder", "Non-responder"
    SAFETY_ALERT = "safety_alert", "Safety alert"
    MISSED_DIAGNOSIS = "missed_diagnosis", "Possible missed diagnosis"


TECHNICIAN_FLAGS = (FlagStatus.OVERDUE, FlagStatus.DUE_SOON, FlagStatus.OUT_OF_RANGE)

# Clinical priority, most urgent first: a result out of range or a prescribing hazard can harm now;
# a possible missed diagnosis next; then overdue monitoring (never tested first, then by days
# overdue); then due soon (soonest first).
PRIORITY = {
    FlagStatus.OUT_OF_RANGE: 0,
    FlagStatus.SAFETY_ALERT: 0,
    FlagStatus.MISSED_DIAGNOSIS: 1,
    FlagStatus.OVERDUE: 2,
    FlagStatus.DUE_SOON: 3,
}


class SearchRun(models.Model):
    """One weekly search synced into the workflow store: when, over which data, with what effect."""

    as_of = models.DateField(db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    store_import_ids = models.JSONField(
        default=list, blank=True, help_text="the clinical-store imports the search ran on"
    )
    practices = models.JSONField(default=list, blank=True, help_text="ODS codes searched")
    fingerprint = models.CharField(max_length=64, db_index=True, blank=True)
    triggered_by = models.CharField(max_length=150, blank=True)
    flagged = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(
        default=0, help_text="flags not shown: suppressed or covered by a recent decision"
    )
    skipped = models.PositiveIntegerField(
        default=0, help_text="rows for practices the workflow store does not know"
    )

    class Meta:
        ordering = ["-as_of", "-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"search of {self.as_of}"


class IndicatorCount(models.Model):
    """The search's indicators.csv for one run (per practice and indicator): what the scorecards
    read, so their numbers are the search's numbers for the same as-of date."""

    run = models.ForeignKey(SearchRun, on_delete=models.PROTECT, related_name="indicators")
    practice_ods = models.CharField(max_length=10)
    indicator_id = models.CharField(max_length=100)
    numerator = models.PositiveIntegerField()
    denominator = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "practice_ods", "indicator_id"], name="indicator_unique_per_run"
            )
        ]


class RecallPolicy(models.Model):
    """An organisation's recall procedure (defaults: the issue's three attempts over three weeks)."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="recall_policy"
    )
    attempts = models.PositiveSmallIntegerField(default=3)
    window_days = models.PositiveSmallIntegerField(default=21)
    shortened_prescription_days = models.PositiveSmallIntegerField(
        default=14, help_text="recommended prescription length for a non-responder (e.g. 7 or 14)"
    )
    decision_cover_days = models.PositiveSmallIntegerField(
        default=28,
        help_text="after a signed-off decision, the same flag (same evidence) is not reopened "
        "for this many days",
    )

    class Meta:
        verbose_name_plural = "recall policies"

    @classmethod
    def for_organisation(cls, organisation_id: int) -> RecallPolicy:
        """The stored policy, or the defaults (unsaved) when the organisation has none."""
        policy = cls.objects.filter(organisation_id=organisation_id).first()
        return policy or cls(organisation_id=organisation_id)


class MonitoringCaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> MonitoringCaseQuerySet:
        """Only cases of practices the user may see. Every read of cases starts here."""
        from rxwatch.web.organisations.access import visible_practices

        return self.filter(practice__in=visible_practices(user))

    def active(self) -> MonitoringCaseQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def with_priority(self) -> MonitoringCaseQuerySet:
        return self.annotate(
            priority=Case(
                *(When(flag_status=f, then=Value(p)) for f, p in PRIORITY.items()),
                default=Value(9),
                output_field=IntegerField(),
            )
        )

    def by_priority(self) -> MonitoringCaseQuerySet:
        return self.with_priority().order_by(
            "priority",
            # overdue with no test on record at all (days_overdue null) before the longest overdue
            models.F("days_overdue").desc(nulls_first=True),
            models.F("due_date").asc(nulls_first=True),
            "id",
        )


class MonitoringCase(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="cases")
    patient_id = models.CharField(max_length=64, help_text="pseudonymous id from the extract")
    nhs_number = models.CharField(max_length=10, blank=True, db_index=True)
    rule_id = models.CharField(max_length=100)
    rule = models.CharField(max_length=100, help_text="the rule file's id (rule_id's prefix)")
    drug_group = models.CharField(max_length=50, db_index=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    status_changed_at = models.DateTimeField()
    # what the latest search says
    flag_status = models.CharField(max_length=20, choices=FlagStatus.choices)
    reason = models.TextField()
    last_date = models.DateField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    days_overdue = models.IntegerField(null=True, blank=True)
    first_flagged_run = models.ForeignKey(
        SearchRun, on_delete=models.PROTECT, related_name="cases_opened"
    )
    last_seen_run = models.ForeignKey(SearchRun, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    # recall outcome: kept after the status moves on, for the timeline and the non-responder rate
    non_responder_at = models.DateTimeField(null=True, blank=True)
    recommended_prescription_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # closure
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    closed_by_run = models.ForeignKey(
        SearchRun, on_delete=models.PROTECT, related_name="cases_closed", null=True, blank=True
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="who closed or suppressed the case; empty when a search closed it "
        "(closed_by_run)",
    )
    covered_until = models.DateField(
        null=True,
        blank=True,
        help_text="closed by a decision: the same flag with the same evidence is not reopened "
        "before this date",
    )
    previous_case = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_cases"
    )

    objects = MonitoringCaseQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "patient_id", "rule_id"],
                condition=Q(status__in=[s.value for s in ACTIVE_STATUSES]),
                name="one_active_case_per_patient_rule",
            )
        ]
        indexes = [
            models.Index(fields=["practice", "status"], name="case_practice_status_idx"),
            models.Index(fields=["status", "flag_status"], name="case_status_flag_idx"),
            models.Index(fields=["practice", "patient_id", "rule_id"], name="case_key_idx"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.rule_id}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def evidence(self) -> dict:
        """What a search said about the case: a decision covers this, and only this, evidence."""
        return {
            "flag_status": self.flag_status,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "last_value": self.last_value,
        }


class CaseObservation(models.Model):
    """What a search said when it first flagged the case or when its evidence changed (the results
    part of the case's timeline)."""

    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="observations")
    run = models.ForeignKey(SearchRun, on_delete=models.PROTECT, related_name="observations")
    flag_status = models.CharField(max_length=20, choices=FlagStatus.choices)
    reason = models.TextField()
    last_date = models.DateField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    days_overdue = models.IntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]


class ContactMethod(models.TextChoices):
    LETTER = "letter", "Letter"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    MESSAGE = "message", "Message (online)"


class ContactOutcome(models.TextChoices):
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    BOOKED = "booked", "Booked"
    DECLINED = "declined", "Declined"
    MOVED_AWAY = "moved_away", "Moved away"
    MONITORED_ELSEWHERE = "monitored_elsewhere", "Monitored elsewhere"


UNSUCCESSFUL_OUTCOMES = (ContactOutcome.NO_ANSWER, ContactOutcome.LEFT_MESSAGE)
PHARMACIST_OUTCOMES = (
    ContactOutcome.DECLINED,
    ContactOutcome.MOVED_AWAY,
    ContactOutcome.MONITORED_ELSEWHERE,
)


class ContactAttempt(models.Model):
    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="contacts")
    method = models.CharField(max_length=10, choices=ContactMethod.choices)
    outcome = models.CharField(max_length=20, choices=ContactOutcome.choices)
    note = models.TextField(blank=True)
    attempted_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["attempted_at", "id"]


class Booking(models.Model):
    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="bookings")
    date = models.DateField(help_text="the appointment date")
    location = models.CharField(max_length=200)
    note = models.TextField(blank=True)
    booked_at = models.DateTimeField()
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["booked_at", "id"]


class SuppressionReason(models.TextChoices):
    MONITORED_ELSEWHERE = "monitored_elsewhere", "Monitored elsewhere"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Suppression(models.Model):
    """A pharmacist's decision that the flag should not be shown again until ``review_date``."""

    case = models.OneToOneField(
        MonitoringCase, on_delete=models.PROTECT, related_name="suppression"
    )
    reason = models.CharField(max_length=30, choices=SuppressionReason.choices)
    note = models.TextField(blank=True)
    review_date = models.DateField()
    suppressed_at = models.DateTimeField()
    suppressed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
