"""Forms for pharmacist review, sign-off, escalation and the GP decision. Shape only: scope of practice
and state are checked by the domain actions, and their refusals shown as form errors."""

from __future__ import annotations

from django import forms

from rxwatch.web.reviews.models import GP_DECISIONS, Decision

NOTE_HINT = "Required for anything but “Continue”. Do not include the patient's name or NHS number."


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=Decision.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select a decision"},
    )
    note = forms.CharField(
        label="Note", required=False, widget=forms.Textarea({"rows": 4}), help_text=NOTE_HINT
    )
    dose_change = forms.BooleanField(
        label="The dose was changed",
        required=False,
        help_text="Only within your scope of practice; outside it, escalate to a GP.",
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("decision")
            and data["decision"] != Decision.CONTINUE
            and not (data.get("note") or "").strip()
        ):
            self.add_error("note", "Enter a note explaining the decision")
        return data


class SignOffForm(forms.Form):
    note = forms.CharField(
        label="Sign-off note (optional)", required=False, widget=forms.Textarea({"rows": 2})
    )


class EscalationForm(forms.Form):
    note = forms.CharField(
        label="What should the GP decide?",
        widget=forms.Textarea({"rows": 4}),
        help_text="The result, what you would have done, and why it needs a GP.",
        error_messages={"required": "Enter a note for the GP"},
    )


class GpDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[(d.value, d.label) for d in GP_DECISIONS],
        widget=forms.RadioSelect,
        error_messages={"required": "Select a decision"},
    )
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea({"rows": 4}),
        error_messages={"required": "Enter a note explaining the decision"},
    )
    outcome = forms.ChoiceField(
        label="What happens to the case?",
        choices=[("close", "Close the case"), ("return", "Return it to the pharmacist")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select close or return"},
    )
