from __future__ import annotations

from typing import Any

from django import forms

from hiring.models import (
    AUDITION_CRITERIA,
    AUDITION_MAX,
    DELIVERABLE_MAX,
    DISC_QUADRANTS,
    INTERVIEW_MAX,
    JobProfile,
    PlannedQuestion,
)
from tcp.forms import StyledFormMixin
from tcp.models import Role, User


def _whole(low: int, high: int, **kw: Any) -> forms.IntegerField:
    message = f"Give a whole number from {low} to {high}."
    return forms.IntegerField(
        min_value=low,
        max_value=high,
        error_messages={"min_value": message, "max_value": message, "invalid": message},
        **kw,
    )


class OpeningForm(StyledFormMixin, forms.Form):
    title = forms.CharField(max_length=120)
    profile = forms.ModelChoiceField(JobProfile.objects.all(), label="Job profile")
    role = forms.ChoiceField(
        label="Role of the person hired",
        choices=[
            (r.value, r.label) for r in Role if r not in (Role.ADMINISTRATOR, Role.HIRING_MANAGER)
        ],
    )
    panel = forms.ModelMultipleChoiceField(
        User.objects.filter(is_active=True),
        required=False,
        help_text="The managers who watch and score the audition.",
    )


class CandidateForm(StyledFormMixin, forms.Form):
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    cv = forms.FileField(
        label="CV", required=False, help_text="PDF, DOCX, ODT or TXT, 5 MB at most."
    )
    writing_sample = forms.FileField(
        label="Technical writing sample",
        required=False,
        help_text="A customer-facing document the candidate wrote. PDF, DOCX, ODT or TXT.",
    )


class InterviewForm(StyledFormMixin, forms.Form):
    """One rating (1-5) and a note per planned question; blank ratings are skipped."""

    def __init__(self, *args: Any, plan: list[PlannedQuestion], ratings: dict, **kw: Any):
        super().__init__(*args, **kw)
        self.plan = plan
        for planned in plan:
            q = planned.question
            current = ratings.get(q.pk)
            self.fields[f"q{q.pk}"] = _whole(
                1,
                INTERVIEW_MAX,
                required=False,
                label=q.text,
                initial=current.rating if current else None,
            )
            self.fields[f"n{q.pk}"] = forms.CharField(
                required=False,
                label="Notes",
                max_length=2000,
                initial=current.notes if current else "",
                widget=forms.TextInput(),
            )
        super_init_styles(self)

    def rows(self) -> list[tuple[Any, forms.BoundField, forms.BoundField]]:
        return [
            (p.question, self[f"q{p.question_id}"], self[f"n{p.question_id}"]) for p in self.plan
        ]

    def ratings(self) -> dict[int, tuple[int, str]]:
        data = self.cleaned_data
        return {
            p.question_id: (data[f"q{p.question_id}"], data.get(f"n{p.question_id}") or "")
            for p in self.plan
            if data.get(f"q{p.question_id}") is not None
        }


def super_init_styles(form: forms.Form) -> None:
    # Fields added after StyledFormMixin ran still need the stylesheet's class.
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control")


SCALE = [(n, str(n)) for n in range(1, AUDITION_MAX + 1)]


class AuditionForm(StyledFormMixin, forms.Form):
    business_applicability = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="Which business problem, and how the solution earns, saves or protects.",
    )
    technical_clarity = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="The parts, how they fit the customer's estate, what the customer must do.",
    )
    audience_engagement = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="Did questions from the room grow the conversation and the opportunity?",
    )
    presentation_style = forms.TypedChoiceField(
        choices=SCALE,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="Presence, clarity of speech, professional manner.",
    )
    would_buy = forms.TypedChoiceField(
        label="Would you buy from this candidate?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def scores(self) -> dict[str, int]:
        return {name: self.cleaned_data[name] for name, _ in AUDITION_CRITERIA}


class DeliverableForm(StyledFormMixin, forms.Form):
    rating = _whole(1, DELIVERABLE_MAX, label=f"Rating (1-{DELIVERABLE_MAX})")
    notes = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class DiscForm(StyledFormMixin, forms.Form):
    dominance = _whole(0, 100)
    influence = _whole(0, 100)
    steadiness = _whole(0, 100)
    conscientiousness = _whole(0, 100)

    def scores(self) -> dict[str, int]:
        return {name: self.cleaned_data[name] for name, _ in DISC_QUADRANTS}


class StageForm(StyledFormMixin, forms.Form):
    stage = forms.ChoiceField(choices=[])
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kw: Any):
        # Its own ids: the candidate page also shows the hire form, which has a reason too.
        kw.setdefault("auto_id", "id_stage_%s")
        super().__init__(*args, **kw)
        self.fields["stage"].choices = choices  # type: ignore[attr-defined]


class HireForm(StyledFormMixin, forms.Form):
    username = forms.CharField(max_length=150, help_text="Their login to Parity.")
    reason = forms.CharField(
        label="Why this candidate", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
