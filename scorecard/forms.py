from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from scorecard import services
from scorecard.kpis import KPIS, Dimension
from scorecard.periods import Period, PeriodType
from tcp.forms import StyledFormMixin


def requested_period(data: Any, today: dt.date) -> Period:
    """The period a scorecard page's query names, or the default one of its kind (a
    quarter when the kind is missing or unknown) when the start is missing or no date."""
    values = {k: v for k, v in (data or {}).items() if v}
    kind = values.get("period_type")
    if kind not in PeriodType.values:
        kind = PeriodType.QUARTER
    try:
        return Period.of(kind, dt.date.fromisoformat(values.get("start", "")))
    except ValueError:
        return services.default_period(kind, today)


class PeriodForm(StyledFormMixin, forms.Form):
    """Which period (and breakdown) a scorecard page shows. Bad input falls back to the
    defaults rather than failing: these are links people share and edit by hand."""

    period_type = forms.ChoiceField(
        label="Period", choices=PeriodType.choices, required=False, initial=PeriodType.QUARTER
    )
    start = forms.DateField(label="Starting", required=False)
    breakdown = forms.ChoiceField(
        label="Break down by",
        choices=[("", "No breakdown"), *Dimension.choices],
        required=False,
    )

    def __init__(self, data: Any = None, *, today: dt.date | None = None) -> None:
        # Missing or hand-edited values become the ones the page shows, so the selects
        # always name the period on screen.
        today = today or dt.date.today()
        values = {k: v for k, v in (data or {}).items() if v}
        chosen = requested_period(data, today)
        kind = chosen.kind
        values.update(period_type=kind, start=chosen.start.isoformat())
        super().__init__(values)
        self.today = today
        self.chosen = chosen
        recent = services.recent_periods(kind, Period.of(kind, today), count=16)
        if chosen not in recent:
            recent = sorted([*recent, chosen])
        self.fields["start"].widget = forms.Select(
            choices=[(p.start.isoformat(), p.label) for p in reversed(recent)],
            attrs={"class": "form-select"},
        )

    @property
    def period(self) -> Period:
        # What the selects show, even beside a hand-edited breakdown the form refuses.
        return self.chosen

    @property
    def dimension(self) -> str:
        return (self.cleaned_data.get("breakdown") or "") if self.is_valid() else ""


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class WindowsForm(StyledFormMixin, forms.Form):
    """The two windows of the TCP impact view; empty fields take the defaults."""

    pre_start = forms.DateField(label="Before: from", required=False, widget=DATE)
    pre_end = forms.DateField(label="Before: to", required=False, widget=DATE)
    post_start = forms.DateField(label="After: from", required=False, widget=DATE)
    post_end = forms.DateField(label="After: to", required=False, widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pre, post = services.default_windows()
        data["pre_start"] = data.get("pre_start") or pre.start
        data["pre_end"] = data.get("pre_end") or pre.end
        data["post_start"] = data.get("post_start") or post.start
        data["post_end"] = data.get("post_end") or post.end
        for which in ("pre", "post"):
            if data[f"{which}_end"] < data[f"{which}_start"]:
                self.add_error(f"{which}_end", "The window must end on or after its start.")
        return data

    def windows(self) -> tuple[Period, Period]:
        if not self.is_valid():
            return services.default_windows()
        data = self.cleaned_data
        return (
            Period.window(data["pre_start"], data["pre_end"]),
            Period.window(data["post_start"], data["post_end"]),
        )


class TargetForm(StyledFormMixin, forms.Form):
    kpi = forms.ChoiceField(choices=[(k.key, k.name) for k in KPIS], widget=forms.HiddenInput)
    period_type = forms.ChoiceField(choices=PeriodType.choices, widget=forms.HiddenInput)
    target = forms.DecimalField(max_digits=16, decimal_places=2)
    amber_margin = forms.DecimalField(
        label="Amber within",
        max_digits=16,
        decimal_places=2,
        min_value=Decimal(0),
        initial=Decimal(5),
        help_text="How far off the target still reads as close.",
    )
