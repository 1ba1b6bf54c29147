"""Small template filters for the pages: NHS number spacing, tag colours for statuses."""

from __future__ import annotations

from django import template

register = template.Library()

FLAG_TAGS = {
    "out_of_range": "red",
    "safety_alert": "red",
    "missed_diagnosis": "orange",
    "overdue": "orange",
    "due_soon": "yellow",
}
STATUS_TAGS = {
    "open": "blue",
    "contacting": "aqua-green",
    "booked": "green",
    "non_responder": "red",
    "in_review": "purple",
    "escalated": "orange",
    "closed": "grey",
    "suppressed": "grey",
}


@register.filter
def nhs_number(value: str) -> str:
    """``4857773456`` → ``485 777 3456``, the way NHS numbers are read and written."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    if len(digits) != 10:
        return str(value or "")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


@register.filter
def flag_tag(value: str) -> str:
    return FLAG_TAGS.get(str(value), "grey")


@register.filter
def status_tag(value: str) -> str:
    return STATUS_TAGS.get(str(value), "grey")


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def rule_test(case) -> str:
    """The test part of a case's rule_id (``methotrexate.fbc`` → ``fbc``); '' for one-row rules."""
    prefix = f"{case.rule}."
    return case.rule_id[len(prefix) :] if case.rule_id.startswith(prefix) else ""
