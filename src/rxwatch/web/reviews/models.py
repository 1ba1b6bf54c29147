"""Pharmacist reviews, sign-offs and escalations to GPs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rxwatch.web.cases.models import CaseStatus, MonitoringCase


class Decision(models.TextChoices):
    CONTINUE = "continue", "Continue"
    CONTINUE_WITH_CAVEATS = "continue_with_caveats", "Continue with caveats"
    DOSE_ADJUSTED = "dose_adjusted", "Dose adjusted"
    TREATMENT_PAUSED = "treatment_paused", "Treatment paused"
    REFER_TO_SPECIALIST = "refer_to_specialist", "Refer to specialist"
    ESCALATE_TO_GP = "escalate_to_gp", "Escalate to GP"


# A GP's decision on an escalation: the same vocabulary, without escalating further.
GP_DECISIONS = tuple(d for d in Decision if d != Decision.ESCALATE_TO_GP)
DOSE_CHANGING = (Decision.DOSE_ADJUSTED,)


class Review(models.Model):
    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=30, choices=Decision.choices)
    note = models.TextField(blank=True)
    dose_change = models.BooleanField(default=False)
    # the evidence the decision was made on (a later search may change the case's)
    flag_status = models.CharField(max_length=20)
    last_date = models.DateField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    reviewed_at = models.DateTimeField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["reviewed_at", "id"]


class SignOff(models.Model):
    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="sign_offs")
    review = models.OneToOneField(Review, on_delete=models.PROTECT, related_name="sign_off")
    note = models.TextField(blank=True)
    signed_at = models.DateTimeField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["signed_at", "id"]


class EscalationOutcome(models.TextChoices):
    CLOSED = "closed", "Closed by GP"
    RETURNED = "returned", "Returned to pharmacist"


class EscalationQuerySet(models.QuerySet):
    def visible_to(self, user) -> EscalationQuerySet:
        from rxwatch.web.organisations.access import visible_practices

        return self.filter(case__practice__in=visible_practices(user))

    def pending(self) -> EscalationQuerySet:
        """Waiting for a GP: undecided, and the case still escalated (not one the search has
        since closed)."""
        return self.filter(decided_at__isnull=True, case__status=CaseStatus.ESCALATED)


class Escalation(models.Model):
    case = models.ForeignKey(MonitoringCase, on_delete=models.PROTECT, related_name="escalations")
    review = models.OneToOneField(
        Review, on_delete=models.PROTECT, related_name="escalation", null=True, blank=True
    )
    note = models.TextField()
    escalated_at = models.DateTimeField()
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    gp_decision = models.CharField(max_length=30, choices=Decision.choices, blank=True)
    gp_note = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=EscalationOutcome.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects = EscalationQuerySet.as_manager()

    class Meta:
        ordering = ["escalated_at", "id"]
