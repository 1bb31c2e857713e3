from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from certification.models import MAX_SCORE, Module, Status
from tcp.forms import StyledFormMixin

# Browsers exchange ISO dates with <input type="date">, whatever the display locale.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
OUT_OF_RANGE = f"Give a whole number from 0 to {MAX_SCORE}."


class ResultForm(StyledFormMixin, forms.Form):
    """One assessment, typed in on the module's row of the assessor page. The module is any
    module: whether it belongs to the person's curriculum is the service's rule."""

    module = forms.ModelChoiceField(queryset=Module.objects.all(), widget=forms.HiddenInput)
    score = forms.IntegerField(
        label="Score",
        min_value=0,
        max_value=MAX_SCORE,
        error_messages={
            "min_value": OUT_OF_RANGE,
            "max_value": OUT_OF_RANGE,
            "invalid": OUT_OF_RANGE,
            "required": "Give the score.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    assessed_on = forms.DateField(label="Assessed on", widget=DATE)
    evidence_note = forms.CharField(
        label="Evidence",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "What was assessed, and how"}),
    )
    evidence_file = forms.FileField(label="Evidence file", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assessed_on"].initial = timezone.localdate
        self.fields["score"].widget.attrs.update(min=0, max=MAX_SCORE)


def _sort_choices(labels: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    choices = []
    for key, (up, down) in labels.items():
        choices += [(key, up), (f"-{key}", down)]
    return choices


class TeamFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "status": ("Status (overdue first)", "Status (certified first)"),
        "name": ("Name (A–Z)", "Name (Z–A)"),
        "due": ("Due soonest first", "Due latest first"),
        "progress": ("Fewest modules passed first", "Most modules passed first"),
        "started": ("Enrolled earliest first", "Enrolled latest first"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Status", choices=[("", "Every status"), *Status.choices], required=False
    )
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)


class PeopleSearchForm(StyledFormMixin, forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)


class CoverageForm(StyledFormMixin, forms.Form):
    on = forms.DateField(label="Coverage on", required=False, widget=DATE)
