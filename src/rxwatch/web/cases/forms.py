"""Forms for the recall pages. They check shape only (required, choices, dates that exist); the rules
(who may act, in which state, dates in the future) are the domain actions', whose refusals the views
show as form errors."""

from __future__ import annotations

import datetime as dt

from django import forms

from rxwatch.web.cases.models import (
    ContactMethod,
    ContactOutcome,
    FlagStatus,
    ReviewReason,
    SuppressionReason,
)


class DateInput(forms.MultiWidget):
    """The NHS.UK date input: day, month and year as three short text boxes (rendered by
    includes/field.html as ``<name>_0/_1/_2``), easier to type and read aloud than a date picker."""

    def __init__(self, attrs=None):
        box = {"inputmode": "numeric", "class": "nhsuk-input nhsuk-date-input__input"}
        super().__init__(
            [
                forms.TextInput({**box, "class": box["class"] + " nhsuk-input--width-2"}),
                forms.TextInput({**box, "class": box["class"] + " nhsuk-input--width-2"}),
                forms.TextInput({**box, "class": box["class"] + " nhsuk-input--width-4"}),
            ],
            attrs,
        )

    def decompress(self, value):
        if isinstance(value, dt.date):
            return [value.day, value.month, value.year]
        return [None, None, None]


class DateField(forms.MultiValueField):
    widget = DateInput
    default_error_messages = {
        "invalid": "Enter a real date, for example 27 3 2026",
        "incomplete": "Enter a day, month and year",
    }

    def __init__(self, **kwargs):
        fields = (forms.IntegerField(), forms.IntegerField(), forms.IntegerField())
        super().__init__(fields, require_all_fields=True, **kwargs)

    def compress(self, data_list):
        if not data_list:
            return None
        day, month, year = data_list
        try:
            return dt.date(int(year), int(month), int(day))
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc


class ContactAttemptForm(forms.Form):
    method = forms.ChoiceField(
        label="How did you contact the patient?",
        choices=ContactMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select how you contacted the patient"},
    )
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=ContactOutcome.choices,
        widget=forms.RadioSelect,
        help_text="Declined, moved away and monitored elsewhere send the case to a pharmacist.",
        error_messages={"required": "Select the outcome of the contact"},
    )
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        widget=forms.Textarea({"rows": 3}),
        help_text="Do not include the patient's name or NHS number.",
    )


class BookingForm(forms.Form):
    date = DateField(
        label="Appointment date",
        help_text="For example, 27 3 2026",
        error_messages={"required": "Enter the appointment date"},
    )
    location = forms.CharField(
        label="Where",
        max_length=200,
        help_text="For example, the practice, or the hospital phlebotomy clinic",
        error_messages={"required": "Enter where the test is booked"},
    )
    note = forms.CharField(
        label="Note (optional)", required=False, widget=forms.Textarea({"rows": 2})
    )


class NonResponderForm(forms.Form):
    note = forms.CharField(
        label="Why is the patient a non-responder?",
        widget=forms.Textarea({"rows": 3}),
        help_text="The recall procedure does this automatically after its last attempt; use this "
        "when you know sooner.",
        error_messages={"required": "Enter why the patient is a non-responder"},
    )


class SuppressionForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why should this flag not be shown?",
        choices=SuppressionReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select a reason"},
    )
    review_date = DateField(
        label="Review date",
        help_text="The flag comes back on this date if the search still "
        "finds it. Within a year. For example, 27 3 2027",
        error_messages={"required": "Enter a review date"},
    )
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea({"rows": 3}),
        help_text="For example, which hospital clinic monitors the patient.",
        error_messages={"required": "Enter a note saying why"},
    )


FLAG_CHOICES = [
    ("", "Overdue, due soon and out of range"),
    *[
        (f.value, f.label)
        for f in (FlagStatus.OVERDUE, FlagStatus.DUE_SOON, FlagStatus.OUT_OF_RANGE)
    ],
]
REVIEW_REASON_CHOICES = [("", "All reasons"), *ReviewReason.choices]
STAGE_CHOICES = [
    ("", "Any"),
    ("open", "Not yet contacted"),
    ("contacting", "Contacting patient"),
    ("booked", "Bloods booked"),
]


def filter_selects(
    values: dict, *, fields: tuple[str, ...], practices=(), drug_groups=()
) -> list[dict]:
    """The GET filters above a list (practice, drug group, status, recall stage, reason for
    review) as plain options: a list page renders them on every request, and Django form widgets
    are slow to iterate."""
    choices = {
        "practice": (
            "Practice",
            [("", "All my practices")] + [(p.ods_code, p.name) for p in practices],
        ),
        "drug_group": (
            "Drug group",
            [("", "All drug groups")]
            + [(g, g.replace("-", " ").capitalize()) for g in drug_groups],
        ),
        "flag": ("Status", FLAG_CHOICES),
        "stage": ("Recall stage", STAGE_CHOICES),
        "reason": ("Reason for review", REVIEW_REASON_CHOICES),
    }
    out = []
    for name in fields:
        label, options = choices[name]
        chosen = values.get(name) or ""
        out.append(
            {
                "name": name,
                "id": f"filter-{name}",
                "label": label,
                "options": [(v, text, v == chosen) for v, text in options],
            }
        )
    return out


def _nhs_number_valid(digits: str) -> bool:
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


class ReminderForm(forms.Form):
    nhs_number = forms.CharField(
        label="NHS number",
        max_length=14,
        help_text="10 digits, for example 485 777 3456",
        widget=forms.TextInput(
            {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        ),
        error_messages={"required": "Enter the patient's NHS number"},
    )

    def clean_nhs_number(self) -> str:
        raw = self.cleaned_data["nhs_number"]
        digits = "".join(ch for ch in raw if ch.isdigit())
        if len(digits) != 10 or len(raw.replace(" ", "").replace("-", "")) != 10:
            raise forms.ValidationError("NHS number must be 10 digits")
        if not _nhs_number_valid(digits):
            raise forms.ValidationError("Enter a valid NHS number (the check digit does not match)")
        return digits
