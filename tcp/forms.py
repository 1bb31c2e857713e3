from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting

from tcp.models import ApiToken, OrganisationSettings


class FormRenderer(TemplatesSetting):
    """Every form renders through the shared pieces: label, input, help and the error beside it."""

    form_template_name = "components/form.html"
    field_template_name = "components/field.html"


class StyledFormMixin:
    """Gives each widget the stylesheet's class, so templates can render `{{ form }}` as is."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(
                widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect
            ):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class OrganisationSettingsForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = OrganisationSettings
        fields = [
            "name",
            "currency",
            "scope_tolerance_pct",
            "timeline_grace_days",
            "tcp_adoption_date",
            "baseline_start",
            "baseline_end",
            "maturity_level",
            "one_on_one_cadence_days",
        ]
        widgets = {
            "tcp_adoption_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "baseline_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "baseline_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def clean_currency(self) -> str:
        value: str = self.cleaned_data["currency"].upper()
        if len(value) != 3 or not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code, such as GBP or EUR.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("baseline_start"), data.get("baseline_end")
        if bool(start) != bool(end):
            self.add_error(
                "baseline_end" if start else "baseline_start",
                "Give both ends of the baseline window, or neither.",
            )
        elif start and end and start > end:
            self.add_error("baseline_end", "The baseline window must end after it starts.")
        return data


class VersionedFormMixin:
    """Carries the version the person started from, so a save over someone else's newer
    change is refused (tcp.services.EditConflict) instead of overwriting it."""

    fields: dict[str, forms.Field]
    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
        self.fields["version"] = field
        if getattr(self.instance, "pk", None):
            self.initial["version"] = self.instance.version  # type: ignore[attr-defined]

    def data_and_version(self) -> tuple[dict[str, Any], int | None]:
        """The cleaned values for the service, and the version apart."""
        data = dict(self.cleaned_data)  # type: ignore[attr-defined]
        return data, data.pop("version", None)


class ApiTokenForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "expires_at"]
        widgets = {"expires_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}
        labels = {"expires_at": "Expires (optional)"}
