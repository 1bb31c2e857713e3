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
    Measure,
    PlannedQuestion,
    ProfileAttribute,
    Question,
    Stage,
)
from tcp.forms import StyledFormMixin, VersionedFormMixin
from tcp.models import Role, User


def _whole(low: int, high: int, **kw: Any) -> forms.IntegerField:
    message = f"Give a whole number from {low} to {high}."
    return forms.IntegerField(
        min_value=low,
        max_value=high,
        error_messages={"min_value": message, "max_value": message, "invalid": message},
        **kw,
    )


def _sort_choices(sorts: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    choices = []
    for key, (up, down) in sorts.items():
        choices += [(key, up), (f"-{key}", down)]
    return choices


class ProfileFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "title": ("Title (A–Z)", "Title (Z–A)"),
        "openings": ("Fewest openings first", "Most openings first"),
        "created": ("Oldest first", "Newest first"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)


class OpeningFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "status": ("Open first", "Closed first"),
        "title": ("Title (A–Z)", "Title (Z–A)"),
        "candidates": ("Fewest candidates first", "Most candidates first"),
        "created": ("Oldest first", "Newest first"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)


class CandidateFilterForm(StyledFormMixin, forms.Form):
    SORTS = {
        "stage": ("Furthest along first", "Earliest stage first"),
        "name": ("Name (A–Z)", "Name (Z–A)"),
        "added": ("Added earliest first", "Added latest first"),
    }
    q = forms.CharField(label="Search", required=False, max_length=100)
    stage = forms.ChoiceField(
        label="Stage", choices=[("", "Every stage"), *Stage.choices], required=False
    )
    sort = forms.ChoiceField(label="Sort by", choices=_sort_choices(SORTS), required=False)

    def __init__(self, *args: Any, **kw: Any) -> None:
        # Its own ids: the "add a candidate" form on the same page has fields of its own.
        kw.setdefault("auto_id", "id_find_%s")
        super().__init__(*args, **kw)


class JobProfileForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    class Meta:
        model = JobProfile
        fields = ["title", "objectives", "interdependence_note"]
        widgets = {
            "objectives": forms.Textarea(attrs={"rows": 3}),
            "interdependence_note": forms.Textarea(attrs={"rows": 2}),
        }


class AttributeForm(VersionedFormMixin, StyledFormMixin, forms.ModelForm):
    weight = _whole(1, 10, initial=1, help_text="1–10: how much it counts.")

    class Meta:
        model = ProfileAttribute
        # The description first: the row gives its first field the wide column.
        fields = ["description", "category", "weight"]
        labels = {"description": "Attribute"}


class QuestionForm(StyledFormMixin, forms.ModelForm):
    measures = forms.MultipleChoiceField(
        label="What it measures",
        choices=Measure.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Say what the question measures."},
    )

    class Meta:
        model = Question
        fields = ["text", "measures", "look_for", "follow_ups"]
        labels = {"text": "Question", "look_for": "The answer to look for"}
        widgets = {
            "text": forms.Textarea(attrs={"rows": 2}),
            "look_for": forms.Textarea(attrs={"rows": 2}),
            "follow_ups": forms.Textarea(attrs={"rows": 2}),
        }


class BankFilterForm(StyledFormMixin, forms.Form):
    q = forms.CharField(label="Search the bank", required=False, max_length=100)
    measure = forms.ChoiceField(
        label="Measures", choices=[("", "Anything"), *Measure.choices], required=False
    )


def _people(**filters: Any) -> Any:
    return User.objects.filter(is_active=True, **filters).only(
        "first_name", "last_name", "username"
    )


class PanelForm(StyledFormMixin, forms.Form):
    hiring_manager = forms.ModelChoiceField(
        _people(roles__overlap=[Role.HIRING_MANAGER, Role.ADMINISTRATOR]),
        required=False,
        help_text="Runs the opening and decides.",
    )
    panel = forms.ModelMultipleChoiceField(
        _people(),
        required=False,
        label="Audition panel",
        widget=forms.CheckboxSelectMultiple,
        help_text="The managers who watch the presentation and score it, each on their own.",
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


class DocumentForm(StyledFormMixin, forms.Form):
    document = forms.ChoiceField(
        label="Document", choices=[("cv", "CV"), ("writing_sample", "Technical writing sample")]
    )
    file = forms.FileField(
        help_text="PDF, DOCX, ODT or TXT, 5 MB at most. It replaces the one before."
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        # Its own ids: the page's other forms have fields of their own.
        kw.setdefault("auto_id", "id_document_%s")
        super().__init__(*args, **kw)


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
    manager = forms.ModelChoiceField(
        _people(),
        label="Reports to",
        help_text="Their manager: the person sees them in their team and 1:1s.",
        error_messages={"required": "Choose who the new colleague reports to."},
    )
    reason = forms.CharField(
        label="Why this candidate", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        # Its own ids: the pipeline form on the same page has a reason too.
        kw.setdefault("auto_id", "id_hire_%s")
        super().__init__(*args, **kw)
