"""Scorecard targets and the indicator history backfilled for months before the weekly searches.

The scorecard's numbers are the search's own indicator counts (``cases.IndicatorCount`` of the
month's last weekly run). For months without a weekly run, ``backfill`` runs the same engine as of
each month-end over the clinical store and keeps its counts here, so a new organisation sees a year
of history on day one without opening cases for the past.
"""

from __future__ import annotations

from django.db import models

from rxwatch.web.organisations.models import Organisation


class IndicatorTarget(models.Model):
    """A target for one indicator (a rule_id such as ``methotrexate.fbc``), a whole rule
    (``methotrexate``), or a kind (``monitoring``, ``safety_alert``, ``missed_diagnosis``); for one
    organisation, or for every organisation when ``organisation`` is empty. The most specific wins."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    indicator = models.CharField(max_length=100)
    target = models.FloatField(help_text="percentage, 0–100")
    amber_margin = models.FloatField(default=10.0, help_text="percentage points from the target")
    lower_is_better = models.BooleanField(
        help_text="a ceiling (hazards: safety alerts, possible missed diagnoses), not a floor"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "indicator"], name="target_unique_per_org"
            ),
            models.UniqueConstraint(
                fields=["indicator"],
                condition=models.Q(organisation__isnull=True),
                name="target_unique_default",
            ),
        ]

    def __str__(self) -> str:
        sign = "≤" if self.lower_is_better else "≥"
        return f"{self.indicator} {sign} {self.target:g}%"


class BackfillRun(models.Model):
    """One engine run as of a past month-end over the clinical store: indicators only, no cases."""

    as_of = models.DateField(db_index=True)
    created_at = models.DateTimeField()
    store_import_ids = models.JSONField(default=list, blank=True)
    practices = models.JSONField(default=list, blank=True)
    triggered_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-as_of", "-id"]


class BackfillIndicator(models.Model):
    run = models.ForeignKey(BackfillRun, on_delete=models.PROTECT, related_name="indicators")
    practice_ods = models.CharField(max_length=10)
    indicator_id = models.CharField(max_length=100)
    numerator = models.PositiveIntegerField()
    denominator = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "practice_ods", "indicator_id"], name="backfill_unique_per_run"
            )
        ]
