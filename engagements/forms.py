from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils import timezone

from engagements.documents import quarter_shift, quarter_start
from engagements.models import (
    Account,
    AccountTeamMember,
    AccountTemperature,
    AdoptionStep,
    AttendanceMode,
    CareerNote,
    Contact,
    Engagement,
    Industry,
    Milestone,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    PostSaleActivity,
    ProductLine,
    Region,
    ScopeChange,
    ScopeItem,
    Segment,
    Stage,
    SuccessMetric,
    SuccessPlan,
    TeamRole,
    Temperature,
    quarter_label,
)
from tcp.forms import StyledFormMixin, VersionedFormMixin
from tcp.models import COMMERCIAL_ROLES, Role, User

# Browsers exchange ISO dates with <input type="date">, whatever the display locale.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AccountForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name", "industry", "region", "segment", "website", "external_id", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        labels = {"external_id": "CRM id"}


def _sort_choices(
    labels: dict[str, tuple[str, str]], default: str | None = None
) -> list[tuple[str, str]]:
    """Both directions of each sortable column: `field` ascending, `-field` descending.

    The list's default order goes first: a select with no choice made shows its first
    option, so it then names the order the list is really in (and sends it back with the
    next filter change)."""
    choices = []
    for field, (up, down) in labels.items():
        choices += [(field, up), (f"-{field}", down)]
    return sorted(choices, key=lambda choice: choice[0] != default)


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
        effort = self.fields["contracted_effort_days"]
        if self.instance.pk and self.instance.scope_is_frozen:
            effort.disabled = True
            effort.help_text = "Frozen at the contract: record scope changes on the delivery page."
        elif self.instance.pk and self.instance.scope_items.exists():
            effort.disabled = True
            effort.help_text = "The sum of the scope items on the delivery page."
        else:
            effort.help_text = "Or list the scope items on the delivery page: their sum is used."

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


# Delivery --------------------------------------------------------------------------------


class DeliveryForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    """Rows edited in place on the delivery page, carrying the version they started from."""


DAYS = forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"})


class ScopeItemForm(DeliveryForm):
    class Meta:
        model = ScopeItem
        fields = ["title", "estimated_days", "note"]
        widgets = {
            "estimated_days": forms.NumberInput(
                attrs={"step": "0.5", "min": "0.1", "inputmode": "decimal"}
            ),
            "note": forms.Textarea(attrs={"rows": 1}),
        }


class ScopeChangeForm(DeliveryForm):
    class Meta:
        model = ScopeChange
        fields = ["effort_delta_days", "cause", "approved_by", "approved_on", "note"]
        widgets = {
            "effort_delta_days": DAYS,
            "approved_on": DATE,
            "note": forms.Textarea(attrs={"rows": 1}),
        }

    def __init__(self, *args: Any, people: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        approver = cast(forms.ModelChoiceField, self.fields["approved_by"])
        approver.queryset = people if people is not None else User.objects.filter(is_active=True)
        if not self.instance.pk:
            self.initial.setdefault("approved_on", timezone.localdate())


class MilestoneForm(DeliveryForm):
    class Meta:
        model = Milestone
        fields = ["kind", "title", "planned_on", "held_on", "critical", "note"]
        widgets = {
            "planned_on": DATE,
            "held_on": DATE,
            "note": forms.Textarea(attrs={"rows": 1}),
        }


CRITICAL_CHOICES = [
    ("", "As usual for the kind"),
    ("yes", "Critical"),
    ("no", "Not critical"),
]


class NewMilestoneForm(MilestoneForm):
    """Planning a milestone: critical or not follows its kind unless the person says."""

    critical = forms.TypedChoiceField(
        choices=CRITICAL_CHOICES,
        required=False,
        coerce=lambda value: value == "yes",
        empty_value=None,
        help_text="Architecture reviews and go-lives are critical: the commercial lead must "
        "contribute.",
    )

    class Meta(MilestoneForm.Meta):
        fields = ["kind", "title", "planned_on", "critical"]


class AttendanceForm(StyledFormMixin, forms.Form):
    held_on = forms.DateField(label="Held on", widget=DATE)

    def __init__(self, *args: Any, milestone: Milestone, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault(
            "held_on", milestone.held_on or min(milestone.planned_on, timezone.localdate())
        )


class AttendanceLineForm(forms.Form):
    """One team member's row: the person is fixed, how they attended is chosen."""

    person = forms.IntegerField(widget=forms.HiddenInput)
    mode = forms.ChoiceField(
        choices=AttendanceMode.choices, widget=forms.RadioSelect, label="Attendance"
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        label="Contribution",
        widget=forms.TextInput(attrs={"placeholder": "What they brought to it"}),
    )


AttendanceLineFormSet = forms.formset_factory(AttendanceLineForm, extra=0)


class ParticipationFilterForm(StyledFormMixin, forms.Form):
    start = forms.DateField(label="From", required=False, widget=DATE)
    end = forms.DateField(label="To", required=False, widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # The boxes show the window the page is showing, ready to be moved.
            start, end = self.window()
            self.initial.setdefault("start", start)
            self.initial.setdefault("end", end)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The window must end after it starts.")
        return data

    def window(self) -> tuple[dt.date, dt.date]:
        """The chosen window; the last twelve months when none (or a bad one) is given."""
        end = timezone.localdate()
        start = end - dt.timedelta(days=365)
        if self.is_bound and self.is_valid():
            end = self.cleaned_data.get("end") or end
            start = self.cleaned_data.get("start") or end - dt.timedelta(days=365)
        return start, end


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
    DEFAULT_SORT = "-opened_on"
    sort = forms.ChoiceField(
        label="Sort by", choices=_sort_choices(SORTS, DEFAULT_SORT), required=False
    )


# Golden thread ---------------------------------------------------------------------------


class SuccessPlanRowForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    """Rows of the success plan page, carrying the version they started from."""


class SuccessPlanForm(SuccessPlanRowForm):
    class Meta:
        model = SuccessPlan
        fields = ["business_outcome"]
        widgets = {
            "business_outcome": forms.Textarea(
                attrs={
                    "rows": 3,
                    "placeholder": "For example: radiologists report on a scan within a day "
                    "instead of five, across all 40 clinics, by next spring.",
                }
            )
        }


class AdoptionStepForm(SuccessPlanRowForm):
    class Meta:
        model = AdoptionStep
        fields = ["description", "owner", "due_on", "done_on"]
        widgets = {"due_on": DATE, "done_on": DATE}
        labels = {"description": "Step", "due_on": "Due", "done_on": "Done on"}


SUCCESS_NUMBER = forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})


class SuccessMetricForm(SuccessPlanRowForm):
    class Meta:
        model = SuccessMetric
        fields = ["name", "unit", "baseline", "target"]
        widgets = {"baseline": SUCCESS_NUMBER, "target": SUCCESS_NUMBER}
        labels = {"name": "Metric"}
        help_texts = {
            "baseline": "Where it stood before the work began.",
            "target": "The value that means success: below the baseline when less is better.",
        }

    def validate_constraints(self) -> None:
        # The service refuses a target equal to the baseline and names the field; the
        # model's check would only say that a constraint failed.
        pass


class MetricReadingForm(StyledFormMixin, forms.Form):
    """A quick reading: which metric, on which day, what value."""

    metric = forms.TypedChoiceField(coerce=int, label="Metric")
    on = forms.DateField(label="On", widget=DATE)
    value = forms.DecimalField(
        label="Value", max_digits=14, decimal_places=2, widget=SUCCESS_NUMBER
    )

    def __init__(self, *args: Any, metrics: list[SuccessMetric], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # From the page's list of metrics: no query of its own.
        field = cast(forms.TypedChoiceField, self.fields["metric"])
        field.choices = [(m.pk, m.name) for m in metrics]
        self.initial.setdefault("on", timezone.localdate())


class PostSaleActivityForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = PostSaleActivity
        fields = ["kind", "on", "description", "by"]
        widgets = {"on": DATE}
        labels = {"kind": "Kind", "on": "On", "description": "What was done", "by": "Done by"}

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["by"]).queryset = people
        self.initial.setdefault("on", timezone.localdate())


# 1:1 cadence meetings ----------------------------------------------------------------------


class OneOnOneStartForm(StyledFormMixin, forms.Form):
    seller = forms.ModelChoiceField(
        label="With", queryset=User.objects.none(), empty_label="Choose a report"
    )
    held_on = forms.DateField(label="Date", widget=DATE)

    def __init__(self, *args: Any, manager: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reports = User.objects.filter(manager=manager, is_active=True).only(
            "first_name", "last_name", "username"
        )
        cast(forms.ModelChoiceField, self.fields["seller"]).queryset = reports
        self.fields["held_on"].initial = timezone.localdate()


class OneOnOneRowMixin:
    """The rows of a 1:1 other than the meeting itself carry no version (only its two
    people edit them); tcp.inline still asks every form for one."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"] = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def data_and_version(self) -> tuple[dict[str, Any], int | None]:
        data = dict(self.cleaned_data)  # type: ignore[attr-defined]
        data.pop("version", None)
        return data, None


class OneOnOneForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = OneOnOne
        fields = ["held_on", "future_opportunities"]
        widgets = {"held_on": DATE, "future_opportunities": forms.Textarea(attrs={"rows": 3})}
        labels = {"held_on": "Date"}


class TechnicalWinSelect(forms.NullBooleanSelect):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Not yet"), ("true", "Yes"), ("false", "No")]


class OneOnOneOpportunityForm(OneOnOneRowMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = OneOnOneOpportunity
        fields = ["technical_win", "note"]
        widgets = {"technical_win": TechnicalWinSelect}
        labels = {"technical_win": "Technical win?"}


class AccountTemperatureForm(OneOnOneRowMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = AccountTemperature
        fields = ["temperature", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["temperature"])
        field.choices = [("", "Not said"), *Temperature.choices]


class NextStepForm(OneOnOneRowMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = NextStep
        fields = ["description", "due_on", "done_on"]
        widgets = {"due_on": DATE, "done_on": DATE}
        labels = {"description": "Next step", "due_on": "Due", "done_on": "Done on"}
        error_messages = {"due_on": {"required": "Give the date this step is due."}}


class CareerNoteForm(OneOnOneRowMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = CareerNote
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}
        labels = {"text": "Career notes"}


def quarter_choices(today: dt.date, count: int = 12) -> list[tuple[str, str]]:
    """The current quarter and the `count - 1` before it, newest first."""
    current = quarter_start(today)
    quarters = [quarter_shift(current, -i) for i in range(count)]
    return [(q.isoformat(), quarter_label(q)) for q in quarters]


class QbrRequestForm(StyledFormMixin, forms.Form):
    quarter = forms.TypedChoiceField(
        label="Quarter",
        coerce=dt.date.fromisoformat,
        help_text="The QBR covers this quarter and shows the three before it for comparison.",
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["quarter"])
        field.choices = quarter_choices(today)
        # By default the last complete quarter: the one a review looks back on.
        field.initial = field.choices[1][0]
