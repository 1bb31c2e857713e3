from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone

from engagements.models import (
    Account,
    AccountTeamMember,
    Contact,
    Engagement,
    Industry,
    ProductLine,
    Region,
    Segment,
    Stage,
    TeamRole,
)
from tcp.forms import StyledFormMixin
from tcp.models import COMMERCIAL_ROLES, Role, User

# Browsers exchange ISO dates with <input type="date">, whatever the display locale.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AccountForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name", "industry", "region", "segment", "website", "external_id", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"external_id": "CRM id"}


def _sort_choices(labels: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """Both directions of each sortable column: `field` ascending, `-field` descending."""
    choices = []
    for field, (up, down) in labels.items():
        choices += [(field, up), (f"-{field}", down)]
    return choices


class AccountFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "name": ("Name (A–Z)", "Name (Z–A)"),
        "industry": ("Industry (A–Z)", "Industry (Z–A)"),
        "region": ("Region (A–Z)", "Region (Z–A)"),
        "open_pipeline": ("Open pipeline (smallest first)", "Open pipeline (largest first)"),
        "updated_at": ("Least recently changed", "Recently changed"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    industry = forms.ChoiceField(
        choices=[("", "All industries"), *Industry.choices], required=False
    )
    region = forms.ChoiceField(choices=[("", "All regions"), *Region.choices], required=False)
    segment = forms.ChoiceField(choices=[("", "All segments"), *Segment.choices], required=False)
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)


class ContactForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "job_title", "email", "phone", "buyer_role"]


class TeamMemberForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = AccountTeamMember
        fields = ["user", "role"]
        labels = {"user": "Person", "role": "Seat"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = User.objects.filter(is_active=True, roles__overlap=[r.value for r in TeamRole])
        cast(forms.ModelChoiceField, self.fields["user"]).queryset = people

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user, role = data.get("user"), data.get("role")
        if user and role and role not in user.roles:
            self.add_error("user", f"{user} does not hold the role “{TeamRole(role).label}”.")
        return data

    def validate_unique(self) -> None:
        # The account is not on the form; the service reports a duplicate seat.
        pass


class EngagementForm(StyledFormMixin, forms.ModelForm):
    product_lines = forms.ModelMultipleChoiceField(
        queryset=ProductLine.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Engagement
        fields = [
            "name",
            "commercial_lead",
            "delivery_manager",
            "value",
            "contracted_effort_days",
            "opened_on",
            "contracted_start",
            "contracted_end",
            "partner_led",
            "poc",
            "poc_concluded_on",
            "product_lines",
            "external_id",
            "description",
        ]
        widgets = {
            "opened_on": DATE,
            "contracted_start": DATE,
            "contracted_end": DATE,
            "poc_concluded_on": DATE,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"external_id": "CRM id"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        active = User.objects.filter(is_active=True)
        leads = active.filter(roles__overlap=sorted(COMMERCIAL_ROLES))
        cast(forms.ModelChoiceField, self.fields["commercial_lead"]).queryset = leads
        deliverers = active.filter(roles__contains=[Role.DELIVERY_MANAGER])
        cast(forms.ModelChoiceField, self.fields["delivery_manager"]).queryset = deliverers

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("contracted_start"), data.get("contracted_end")
        if start and end and end < start:
            self.add_error("contracted_end", "The contracted end must be on or after the start.")
        if data.get("poc") in ("successful", "failed") and not data.get("poc_concluded_on"):
            self.add_error("poc_concluded_on", "Give the date the proof of concept concluded.")
        return data


class StageChangeForm(StyledFormMixin, forms.Form):
    to_stage = forms.ChoiceField(label="Move to")
    on = forms.DateField(label="Date", widget=DATE)
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, engagement: Engagement, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stages = [(s, Stage(s).label) for s in engagement.next_stages()]
        cast(forms.ChoiceField, self.fields["to_stage"]).choices = stages
        self.fields["on"].initial = timezone.localdate()


class EngagementFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "opened_on": ("Oldest first", "Newest first"),
        "name": ("Name (A–Z)", "Name (Z–A)"),
        "value": ("Value (smallest first)", "Value (largest first)"),
        "stage": ("Stage (A–Z)", "Stage (Z–A)"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    stage = forms.ChoiceField(choices=[("", "All stages"), *Stage.choices], required=False)
    mine = forms.BooleanField(label="Only mine", required=False)
    account = forms.UUIDField(required=False, widget=forms.HiddenInput)
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)
