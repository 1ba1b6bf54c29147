"""Targets are set by administrators in the Django admin (no patient data here). Saves and
deletes are audited like the rest of the admin (``organisations.admin.AuditedAdmin``)."""

from django.contrib import admin

from rxwatch.web.organisations.admin import AuditedAdmin
from rxwatch.web.scorecards.models import IndicatorTarget


@admin.register(IndicatorTarget)
class IndicatorTargetAdmin(AuditedAdmin):
    list_display = ("indicator", "organisation", "target", "amber_margin", "lower_is_better")
    list_filter = ("organisation", "lower_is_better")
    search_fields = ("indicator",)
