from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from discovery.models import (
    ClientIntelligenceProfile,
    FailureCostAnalysis,
    FailureScenario,
    GrowthTarget,
    NeverEvent,
    RegulatoryObligation,
    Stakeholder,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from engagements.forms import DATE
from engagements.models import Contact, TeamRole
from tcp.forms import StyledFormMixin, VersionedFormMixin
from tcp.models import User


class DiscoveryForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    """Discovery forms are filled in during a live conversation: short fields, numbers as
    numbers, and the version the person started from."""


def _numbers(*names: str, step: str = "any") -> dict[str, forms.Widget]:
    return {
        name: forms.NumberInput(attrs={"step": step, "min": "0", "inputmode": "decimal"})
        for name in names
    }


class ProfileForm(DiscoveryForm):
    class Meta:
        model = ClientIntelligenceProfile
        fields = ["business_context", "operational_constraints", "no_regulatory_obligations"]
        widgets = {
            "business_context": forms.Textarea(attrs={"rows": 3}),
            "operational_constraints": forms.Textarea(attrs={"rows": 3}),
        }


class GrowthTargetForm(DiscoveryForm):
    class Meta:
        model = GrowthTarget
        fields = ["metric", "baseline", "target", "unit", "horizon_year"]
        widgets = {
            **_numbers("baseline", "target"),
            "horizon_year": forms.NumberInput(attrs={"min": "2000", "max": "2100"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.initial.setdefault("horizon_year", dt.date.today().year + 3)


class ObligationForm(DiscoveryForm):
    class Meta:
        model = RegulatoryObligation
        fields = ["framework", "framework_other", "requirement"]
        widgets = {"requirement": forms.Textarea(attrs={"rows": 2})}


class StakeholderForm(DiscoveryForm):
    class Meta:
        model = Stakeholder
        fields = ["contact", "buyer_role", "notes"]

    def __init__(self, *args: Any, contacts: QuerySet[Contact] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["contact"])
        if contacts is not None:
            field.queryset = contacts


class AnalysisForm(DiscoveryForm):
    class Meta:
        model = FailureCostAnalysis
        fields = ["title", "held_on", "interviewer", "interviewees", "notes"]
        widgets = {
            "held_on": DATE,
            "interviewees": forms.CheckboxSelectMultiple,
            "notes": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"interviewees": "Who was interviewed"}

    def __init__(self, *args: Any, contacts: QuerySet[Contact] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        interviewer = cast(forms.ModelChoiceField, self.fields["interviewer"])
        interviewer.queryset = User.objects.filter(
            is_active=True, roles__overlap=[r.value for r in TeamRole] + ["sales_leadership"]
        )
        if contacts is not None:
            cast(forms.ModelMultipleChoiceField, self.fields["interviewees"]).queryset = contacts

    def clean_held_on(self) -> dt.date:
        held_on: dt.date = self.cleaned_data["held_on"]
        if held_on > dt.date.today():
            raise forms.ValidationError("The interview cannot be in the future.")
        return held_on


class ScenarioForm(DiscoveryForm):
    class Meta:
        model = FailureScenario
        fields = [
            "what_fails",
            "sites_affected",
            "users_affected",
            "disruption_hours",
            "cost_per_hour",
            "cost_per_incident",
            "reputational_severity",
            "reputational_note",
            "regulatory_exposure",
            "likelihood_per_year",
            "tolerable_downtime_hours",
        ]
        widgets = {
            **_numbers(
                "disruption_hours",
                "cost_per_hour",
                "cost_per_incident",
                "likelihood_per_year",
                "tolerable_downtime_hours",
            ),
            **_numbers("sites_affected", "users_affected", step="1"),
        }


class NewScenarioForm(DiscoveryForm):
    """Adding a scenario starts with what fails; the figures follow in its own card."""

    class Meta:
        model = FailureScenario
        fields = ["what_fails"]


class NeverEventForm(DiscoveryForm):
    class Meta:
        model = NeverEvent
        fields = ["statement", "scenarios"]
        # A sentence of up to 300 characters: a box across the card shows it whole, where a
        # one-line input beside nothing cut it off after a few words.
        widgets = {
            "statement": forms.Textarea(attrs={"rows": 2}),
            "scenarios": forms.CheckboxSelectMultiple,
        }
        labels = {"scenarios": "Justified by"}

    def __init__(
        self, *args: Any, scenarios: QuerySet[FailureScenario] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if scenarios is not None:
            cast(forms.ModelMultipleChoiceField, self.fields["scenarios"]).queryset = scenarios


class SignOffForm(StyledFormMixin, forms.Form):
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), label="Signed off by")
    on = forms.DateField(label="On", widget=DATE, initial=dt.date.today)

    def __init__(self, *args: Any, contacts: QuerySet[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["contact"]).queryset = contacts


class TcoForm(DiscoveryForm):
    class Meta:
        model = TcoComparison
        fields = ["lifespan_years", "expected_reward", "risks"]
        widgets = {
            "lifespan_years": forms.NumberInput(attrs={"min": "1", "max": "15"}),
            "expected_reward": forms.Textarea(attrs={"rows": 2}),
            "risks": forms.Textarea(attrs={"rows": 2}),
        }


class AlternativeForm(DiscoveryForm):
    class Meta:
        model = TcoAlternative
        fields = ["name"]


class CostLineForm(DiscoveryForm):
    class Meta:
        model = TcoCostLine
        fields = ["category", "amount", "assumption"]
        widgets = _numbers("amount")
