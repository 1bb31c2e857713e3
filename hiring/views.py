from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.forms import Form
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hiring import charts, services
from hiring.forms import (
    AuditionForm,
    CandidateForm,
    DeliverableForm,
    DiscForm,
    HireForm,
    InterviewForm,
    OpeningForm,
    StageForm,
)
from hiring.models import (
    AUDITION_CRITERIA,
    NEXT_STAGE,
    AuditionScore,
    Candidate,
    Category,
    Opening,
    PlannedQuestion,
    Stage,
    may_manage_hiring,
)
from tcp.http import AuthedRequest
from tcp.services import audit_trail

PAGE_SIZE = 25
COMPARE_SORTS = {
    "overall": "overall",
    "audition": "audition_mean",
    "deliverable": "deliverable",
    **{c: f"interview_{c}" for c in Category.values},
}


def _apply(form: Form, refusal: ValidationError) -> None:
    if hasattr(refusal, "error_dict"):
        for name, errors in refusal.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, refusal.messages)


def _opening(request: AuthedRequest, uuid: Any) -> Opening:
    return get_object_or_404(
        Opening.objects.visible_to(request.user).select_related("profile", "hiring_manager"),
        uuid=uuid,
    )


def _candidate(request: AuthedRequest, uuid: Any) -> Candidate:
    return get_object_or_404(
        Candidate.objects.visible_to(request.user).select_related(
            "opening__profile", "decided_by", "hired_user"
        ),
        uuid=uuid,
    )


def _manager(request: AuthedRequest) -> None:
    # Panel members see the candidate; only hiring managers change the record.
    if not may_manage_hiring(request.user):
        raise Http404


@require_http_methods(["GET", "POST"])
def opening_list(request: AuthedRequest) -> HttpResponse:
    openings = (
        Opening.objects.visible_to(request.user)
        .select_related("hiring_manager", "profile")
        .annotate(candidate_count=Count("candidates"))
        .order_by("-is_open", "-created_at", "pk")
    )
    manages = may_manage_hiring(request.user)
    form = OpeningForm(request.POST or None) if manages else None
    if request.method == "POST":
        _manager(request)
        assert form is not None
        if form.is_valid():
            try:
                opening = services.opening_create(
                    **form.cleaned_data, hiring_manager=request.user, actor=request.user
                )
            except ValidationError as refusal:
                _apply(form, refusal)
            else:
                return redirect("hiring:opening", uuid=opening.uuid)
    page = Paginator(openings, PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" else 200
    return render(request, "hiring/opening_list.html", {"page": page, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
def opening_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    opening = _opening(request, uuid)
    manages = may_manage_hiring(request.user)
    form = CandidateForm(request.POST or None, request.FILES or None) if manages else None
    if request.method == "POST":
        _manager(request)
        assert form is not None
        if form.is_valid():
            try:
                candidate = services.candidate_add(
                    opening=opening, actor=request.user, **form.cleaned_data
                )
            except ValidationError as refusal:
                _apply(form, refusal)
            else:
                return redirect("hiring:candidate", uuid=candidate.uuid)
    candidates = opening.candidates.all()
    return render(
        request,
        "hiring/opening_detail.html",
        {
            "opening": opening,
            "candidates": candidates,
            "panel": opening.panel.all(),
            "attributes": opening.profile.attributes.all(),
            "weights": services.category_weights(opening.profile),
            "form": form,
            "manages": manages,
        },
        status=400 if request.method == "POST" else 200,
    )


def _candidate_context(request: AuthedRequest, candidate: Candidate, **forms: Any) -> dict:
    manages = may_manage_hiring(request.user)
    plan = list(
        PlannedQuestion.objects.filter(profile_id=candidate.opening.profile_id).select_related(
            "question"
        )
    )
    ratings = {r.question_id: r for r in candidate.interview_ratings.all()}
    visible = services.audition_scores_visible(candidate=candidate, user=request.user)
    stage_choices = []
    if Stage(candidate.stage) in NEXT_STAGE:
        nxt = NEXT_STAGE[Stage(candidate.stage)]
        stage_choices.append((nxt.value, f"Move on to {nxt.label.lower()}"))
    stage_choices += [(Stage.REJECTED.value, "Reject"), (Stage.WITHDRAWN.value, "Withdrawn")]
    disc = getattr(candidate, "disc", None)
    context = {
        "candidate": candidate,
        "opening": candidate.opening,
        "manages": manages,
        "rollup": services.interview_rollup(candidate),
        "scores_visible": visible,
        "summary": services.audition_summary(candidate) if visible else None,
        "panel_scores": (candidate.audition_scores.select_related("panelist") if visible else None),
        "may_score": services.may_score_audition(request.user, candidate),
        "has_scored": candidate.audition_scores.filter(panelist=request.user).exists(),
        "review": getattr(candidate, "deliverable_review", None),
        "disc": disc,
        "trail": audit_trail(candidate),
        "interview_form": forms.get("interview_form") or InterviewForm(plan=plan, ratings=ratings),
        "deliverable_form": forms.get("deliverable_form") or DeliverableForm(),
        "disc_form": forms.get("disc_form")
        or DiscForm(
            initial={
                n: getattr(disc, n)
                for n in ("dominance", "influence", "steadiness", "conscientiousness")
            }
            if disc
            else None
        ),
        "stage_form": forms.get("stage_form") or StageForm(choices=stage_choices),
        "hire_form": forms.get("hire_form") or HireForm(),
        "categories": Category.choices,
    }
    context["stage_choices"] = stage_choices
    return context


@require_GET
def candidate_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    return render(request, "hiring/candidate_detail.html", _candidate_context(request, candidate))


def _refused(request: AuthedRequest, candidate: Candidate, **forms: Any) -> HttpResponse:
    context = _candidate_context(request, candidate, **forms)
    return render(request, "hiring/candidate_detail.html", context, status=400)


@require_POST
def candidate_interview(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    plan = list(
        PlannedQuestion.objects.filter(profile_id=candidate.opening.profile_id).select_related(
            "question"
        )
    )
    form = InterviewForm(request.POST, plan=plan, ratings={})
    if form.is_valid():
        try:
            services.interview_record(
                candidate=candidate, ratings=form.ratings(), interviewer=request.user
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(request, "Interview ratings saved.")
            return redirect("hiring:candidate", uuid=candidate.uuid)
    return _refused(request, candidate, interview_form=form)


@require_POST
def candidate_deliverable(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    form = DeliverableForm(request.POST)
    if form.is_valid():
        try:
            services.deliverable_review_record(
                candidate=candidate, reviewer=request.user, **form.cleaned_data
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(request, "Writing sample review saved.")
            return redirect("hiring:candidate", uuid=candidate.uuid)
    return _refused(request, candidate, deliverable_form=form)


@require_POST
def candidate_disc(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    form = DiscForm(request.POST)
    if form.is_valid():
        try:
            services.disc_record(candidate=candidate, scores=form.scores(), actor=request.user)
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(request, "DiSC profile saved.")
            return redirect("hiring:candidate", uuid=candidate.uuid)
    return _refused(request, candidate, disc_form=form)


@require_POST
def candidate_stage(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    choices = _candidate_context(request, candidate)["stage_choices"]
    form = StageForm(request.POST, choices=choices)
    if form.is_valid():
        try:
            services.candidate_advance(
                candidate=candidate,
                stage=form.cleaned_data["stage"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(request, f"{candidate}: {candidate.get_stage_display()}.")
            return redirect("hiring:candidate", uuid=candidate.uuid)
    return _refused(request, candidate, stage_form=form)


@require_POST
def candidate_hire(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    form = HireForm(request.POST)
    if form.is_valid():
        try:
            user = services.candidate_hire(
                candidate=candidate, actor=request.user, **form.cleaned_data
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(
                request, f"{candidate} is hired as {user.username} and enrolled in certification."
            )
            return redirect("hiring:candidate", uuid=candidate.uuid)
    return _refused(request, candidate, hire_form=form)


@require_POST
def candidate_erase(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    try:
        services.candidate_erase(candidate=candidate, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, "Personal data erased; the anonymous scores remain.")
    return redirect("hiring:candidate", uuid=candidate.uuid)


@require_GET
def candidate_document(request: AuthedRequest, uuid: Any, field: str) -> FileResponse:
    candidate = _candidate(request, uuid)
    if field not in services.DOCUMENT_FIELDS or not getattr(candidate, field):
        raise Http404
    document = getattr(candidate, field)
    return FileResponse(document.open("rb"), as_attachment=True)


@require_http_methods(["GET", "POST"])
def audition_score(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """A panel member's own scoring page: the form until they submit, then the panel's
    scores. Nothing here shows another member's marks before that."""
    candidate = _candidate(request, uuid)
    if not services.may_score_audition(request.user, candidate):
        raise Http404
    own = AuditionScore.objects.filter(candidate=candidate, panelist=request.user).first()
    form = AuditionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.audition_score_submit(
                candidate=candidate,
                panelist=request.user,
                scores=form.scores(),
                would_buy=form.cleaned_data["would_buy"],
                notes=form.cleaned_data["notes"],
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            messages.success(request, "Your scores are in. The panel's scores are below.")
            return redirect("hiring:audition", uuid=candidate.uuid)
    context = {
        "candidate": candidate,
        "form": form,
        "own": own,
        "criteria": AUDITION_CRITERIA,
        "summary": services.audition_summary(candidate) if own else None,
        "panel_scores": candidate.audition_scores.select_related("panelist") if own else None,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "hiring/audition.html", context, status=status)


@require_GET
def compare(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """The opening's candidates side by side, sortable by any score."""
    opening = _opening(request, uuid)
    weights = services.category_weights(opening.profile)
    panel_member = opening.panel.filter(pk=request.user.pk).exists()
    scored = set(
        AuditionScore.objects.filter(candidate__opening=opening, panelist=request.user).values_list(
            "candidate_id", flat=True
        )
    )
    rows = []
    for c in services.comparison_queryset(opening):
        values = {f"interview_{k}": getattr(c, f"interview_{k}") for k in Category.values}
        review = getattr(c, "deliverable_review", None)
        rows.append(
            {
                "candidate": c,
                "rollup": services.rollup(values, weights),
                # The independence rule holds here too: unsubmitted panel members see none.
                "audition": not panel_member or c.pk in scored,
                "deliverable": review.rating if review else None,
                "disc": getattr(c, "disc", None),
            }
        )
    sort = request.GET.get("sort", "overall")
    key = sort.lstrip("-")
    if key not in COMPARE_SORTS:
        sort, key = "overall", "overall"

    def value(row: dict) -> Any:
        c = row["candidate"]
        if key == "overall":
            return row["rollup"].overall
        if key == "deliverable":
            return row["deliverable"]
        if key == "audition":
            return c.audition_mean if row["audition"] else None
        return row["rollup"].by_category[key]

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    # Best first by default; a leading "-" turns it round. Unscored rows always go last.
    present.sort(key=value, reverse=not sort.startswith("-"))
    return render(
        request,
        "hiring/compare.html",
        {
            "opening": opening,
            "rows": present + missing,
            "sort": sort,
            "categories": Category.choices,
            "weights": weights,
        },
    )


@require_GET
def disc_chart(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    disc = getattr(candidate, "disc", None)
    if disc is None:
        raise Http404
    return HttpResponse(charts.disc_chart(disc), content_type="image/svg+xml")
