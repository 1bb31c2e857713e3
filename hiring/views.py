from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Model, Q, Value, When
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, retarget

from hiring import charts, services
from hiring.forms import (
    AttributeForm,
    AuditionForm,
    BankFilterForm,
    CandidateFilterForm,
    CandidateForm,
    DeliverableForm,
    DiscForm,
    DocumentForm,
    HireForm,
    InterviewForm,
    JobProfileForm,
    OpeningFilterForm,
    OpeningForm,
    PanelForm,
    ProfileFilterForm,
    QuestionForm,
    StageForm,
)
from hiring.models import (
    AUDITION_CRITERIA,
    CLOSED_STAGES,
    NEXT_STAGE,
    AuditionScore,
    Candidate,
    Category,
    JobProfile,
    Opening,
    PlannedQuestion,
    ProfileAttribute,
    Question,
    Stage,
    may_manage_hiring,
)
from tcp import inline
from tcp.http import AuthedRequest
from tcp.services import audit_trail

PAGE_SIZE = 25
COMPARE_SORTS = {
    "overall": "overall",
    "audition": "audition_mean",
    "deliverable": "deliverable",
    **{c: f"interview_{c}" for c in Category.values},
}


def _apply(form: BaseForm, refusal: ValidationError) -> None:
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


OPENING_SORTS: dict[str, tuple[str, ...]] = {
    "status": ("-is_open", "-created_at", "pk"),
    "-status": ("is_open", "-created_at", "pk"),
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
    "candidates": ("candidate_count", "title", "pk"),
    "-candidates": ("-candidate_count", "title", "pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}


@require_http_methods(["GET", "POST"])
def opening_list(request: AuthedRequest) -> HttpResponse:
    filters = OpeningFilterForm(request.GET or None)
    filters.is_valid()
    wanted = getattr(filters, "cleaned_data", {})
    sort = wanted.get("sort") or "status"
    openings = (
        Opening.objects.visible_to(request.user)
        .select_related("hiring_manager", "profile")
        .annotate(candidate_count=Count("candidates"))
    )
    for word in (wanted.get("q") or "").split():
        openings = openings.filter(Q(title__icontains=word) | Q(profile__title__icontains=word))
    openings = openings.order_by(*OPENING_SORTS[sort])
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
    template = "hiring/opening_list.html"
    if request.htmx and not request.htmx.boosted and request.method == "GET":
        template += "#results"
    context = {"page": page, "form": form, "filters": filters, "sort": sort, "manages": manages}
    return render(request, template, context, status=status)


CANDIDATE_SORTS: dict[str, tuple[str, ...]] = {
    # Furthest along first: the pipeline's order, read backwards.
    "stage": ("-stage_rank", "last_name", "first_name", "pk"),
    "-stage": ("stage_rank", "last_name", "first_name", "pk"),
    "name": ("last_name", "first_name", "pk"),
    "-name": ("-last_name", "-first_name", "-pk"),
    "added": ("created_at", "pk"),
    "-added": ("-created_at", "-pk"),
}


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
    filters = CandidateFilterForm(request.GET or None)
    filters.is_valid()
    wanted = getattr(filters, "cleaned_data", {})
    candidates = opening.candidates.annotate(
        stage_rank=Case(
            *(When(stage=value, then=Value(i)) for i, value in enumerate(Stage.values)),
            output_field=IntegerField(),
        )
    )
    for word in (wanted.get("q") or "").split():
        candidates = candidates.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    if wanted.get("stage"):
        candidates = candidates.filter(stage=wanted["stage"])
    sort = wanted.get("sort") or "stage"
    page = Paginator(candidates.order_by(*CANDIDATE_SORTS[sort]), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = "hiring/opening_detail.html"
    if request.htmx and not request.htmx.boosted and request.method == "GET":
        template += "#candidates"
    return render(
        request,
        template,
        {
            "opening": opening,
            "page": page,
            "candidates": page.object_list,
            "filters": filters,
            "sort": sort,
            "panel": opening.panel.all(),
            "attributes": opening.profile.attributes.all(),
            "weights": services.category_weights(opening.profile),
            "form": form,
            "manages": manages,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def opening_close(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Ask first (GET), then close the opening (POST): it takes no new candidates."""
    opening = _opening(request, uuid)
    _manager(request)
    if request.method != "POST":
        back = reverse("hiring:opening", args=[opening.uuid])
        context = {"opening": opening, "back": back, "waiting": opening.waiting_count()}
        return render(request, "hiring/opening_close.html", context)
    return _set_open(request, opening, is_open=False)


@require_POST
def opening_reopen(request: AuthedRequest, uuid: Any) -> HttpResponse:
    opening = _opening(request, uuid)
    _manager(request)
    return _set_open(request, opening, is_open=True)


def _set_open(request: AuthedRequest, opening: Opening, *, is_open: bool) -> HttpResponse:
    """Close or reopen, then back to the opening with what happened, or why not."""
    try:
        services.opening_set_open(opening=opening, is_open=is_open, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        done = "open again: new candidates can be added" if is_open else "closed"
        messages.success(request, f"{opening.title} is {done}.")
    return _redirect(request, reverse("hiring:opening", args=[opening.uuid]))


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
        "document_form": forms.get("document_form") or DocumentForm(),
        "hire_form": forms.get("hire_form")
        or HireForm(initial={"manager": candidate.opening.hiring_manager}),
        "categories": Category.choices,
    }
    context["stage_choices"] = stage_choices
    return context


@require_GET
def candidate_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    return render(request, "hiring/candidate_detail.html", _candidate_context(request, candidate))


def _redirect(request: AuthedRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _section(
    request: AuthedRequest,
    candidate: Candidate,
    section: str,
    note: str = "",
    confirm_end: str = "",
    **forms: Any,
) -> HttpResponse:
    """The reply to a form on the candidate's page. With htmx, only the form's card comes
    back, with the errors beside its fields, what was saved, or the question to confirm;
    without, a refusal is the whole page (400), a question the whole page (200) and a
    success a redirect with the message."""
    if note and not request.htmx:
        messages.success(request, note)
        return redirect("hiring:candidate", uuid=candidate.uuid)
    context = _candidate_context(request, candidate, **forms)
    context.update(note=note, confirm_end=confirm_end)
    if request.htmx:
        return render(request, f"hiring/candidate_detail.html#{section}", context)
    status = 200 if confirm_end else 400
    return render(request, "hiring/candidate_detail.html", context, status=status)


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
            return _section(request, candidate, "interview", "Interview ratings saved.")
    return _section(request, candidate, "interview", interview_form=form)


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
            return _section(request, candidate, "deliverable", "Writing sample review saved.")
    return _section(request, candidate, "deliverable", deliverable_form=form)


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
            return _section(request, candidate, "disc", "DiSC profile saved.")
    return _section(request, candidate, "disc", disc_form=form)


class _AskFirst(Exception):
    pass


@require_POST
def candidate_stage(request: AuthedRequest, uuid: Any) -> HttpResponse:
    candidate = _candidate(request, uuid)
    _manager(request)
    choices = _candidate_context(request, candidate)["stage_choices"]
    form = StageForm(request.POST, choices=choices)
    if form.is_valid():
        stage = form.cleaned_data["stage"]
        ask_first = stage in CLOSED_STAGES and request.POST.get("confirmed") != "yes"
        try:
            with transaction.atomic():
                services.candidate_advance(
                    candidate=candidate,
                    stage=stage,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
                if ask_first:
                    raise _AskFirst
        except _AskFirst:
            # The service allowed the change (its rules are checked once, there) and it
            # was undone: ending a candidacy cannot be reversed, so the person confirms.
            candidate.refresh_from_db()
            return _section(
                request,
                candidate,
                "pipeline",
                stage_form=form,
                confirm_end=Stage(stage).label.lower(),
            )
        except ValidationError as refusal:
            candidate.refresh_from_db()
            _apply(form, refusal)
        else:
            # The stage decides which cards the page shows: load it whole.
            messages.success(request, f"{candidate}: {candidate.get_stage_display()}.")
            return _redirect(request, reverse("hiring:candidate", args=[candidate.uuid]))
    return _section(request, candidate, "pipeline", stage_form=form)


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
                request,
                f"{candidate} is hired as {user.username}, reports to {user.manager}, and is "
                "enrolled in certification.",
            )
            return _redirect(request, reverse("hiring:candidate", args=[candidate.uuid]))
    return _section(request, candidate, "pipeline", hire_form=form)


@require_http_methods(["GET", "POST"])
def candidate_erase(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Ask first (GET), then erase the personal data (POST): it cannot be undone."""
    candidate = _candidate(request, uuid)
    _manager(request)
    back = reverse("hiring:candidate", args=[candidate.uuid])
    if request.method != "POST":
        return render(request, "hiring/erase_confirm.html", {"candidate": candidate, "back": back})
    try:
        services.candidate_erase(candidate=candidate, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, "Personal data erased; the anonymous scores remain.")
    return _redirect(request, back)


@require_POST
def candidate_attach(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Attach the CV or the writing sample (it often comes after the first interview)."""
    candidate = _candidate(request, uuid)
    _manager(request)
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        field = form.cleaned_data["document"]
        try:
            services.candidate_attach(
                candidate=candidate, field=field, file=form.cleaned_data["file"], actor=request.user
            )
        except ValidationError as refusal:
            if hasattr(refusal, "error_dict") and field in refusal.error_dict:
                form.add_error("file", refusal.error_dict[field])
            else:
                _apply(form, refusal)
        else:
            label = "CV" if field == "cv" else "Writing sample"
            messages.success(request, f"{label} attached.")
            return redirect("hiring:candidate", uuid=candidate.uuid)
    context = _candidate_context(request, candidate, document_form=form)
    return render(request, "hiring/candidate_detail.html", context, status=400)


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
            if not request.htmx:
                messages.success(request, "Your scores are in. The panel's scores are below.")
                return redirect("hiring:audition", uuid=candidate.uuid)
            own = AuditionScore.objects.get(candidate=candidate, panelist=request.user)
    context = {
        "candidate": candidate,
        "form": form,
        "own": own,
        "criteria": AUDITION_CRITERIA,
        "summary": services.audition_summary(candidate) if own else None,
        "panel_scores": candidate.audition_scores.select_related("panelist") if own else None,
        "note": "Your scores are in. The panel's scores are below."
        if own and form.is_bound
        else "",
    }
    if request.htmx:
        return render(request, "hiring/audition.html#audition", context)
    status = 400 if request.method == "POST" else 200
    return render(request, "hiring/audition.html", context, status=status)


@require_GET
def compare(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """The opening's candidates side by side, sortable by any score."""
    opening = _opening(request, uuid)
    weights = services.category_weights(opening.profile)
    hidden = set(
        services.audition_scores_hidden(opening=opening, user=request.user).values_list(
            "pk", flat=True
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
                "audition": c.pk not in hidden,
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


# Job profiles -----------------------------------------------------------------------------

PROFILE_SORTS: dict[str, tuple[str, ...]] = {
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
    "openings": ("opening_count", "title", "pk"),
    "-openings": ("-opening_count", "title", "pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}
BANK_PAGE_SIZE = 10
PROFILE_HEADER = inline.Rows("job-profile", "job profile", single=True)
ATTRIBUTES = inline.Rows("attribute", "attribute", extras="hiring/_profile_weights.html")


def _profile(request: AuthedRequest, uuid: Any) -> JobProfile:
    return get_object_or_404(JobProfile.objects.visible_to(request.user), uuid=uuid)


@require_http_methods(["GET", "POST"])
def profile_list(request: AuthedRequest) -> HttpResponse:
    """Every job profile, searchable and sortable, and the form that starts a new one."""
    _manager(request)
    create_form = JobProfileForm(request.POST or None, prefix="new")
    if request.method == "POST" and create_form.is_valid():
        data, _ = create_form.data_and_version()
        try:
            profile = services.job_profile_create(actor=request.user, data=data)
        except ValidationError as refusal:
            _apply(create_form, refusal)
        else:
            messages.success(request, f"Job profile “{profile}” created: add its attributes.")
            return redirect("hiring:profile", uuid=profile.uuid)
    form = ProfileFilterForm(request.GET or None)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    profiles = JobProfile.objects.visible_to(request.user).annotate(
        opening_count=Count("openings", distinct=True),
        attribute_count=Count("attributes", distinct=True),
        question_count=Count("plan", distinct=True),
    )
    for word in (data.get("q") or "").split():
        profiles = profiles.filter(Q(title__icontains=word) | Q(objectives__icontains=word))
    sort = data.get("sort") or "title"
    page = Paginator(profiles.order_by(*PROFILE_SORTS[sort]), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = "hiring/profile_list.html"
    if request.htmx and not request.htmx.boosted and request.method == "GET":
        template += "#results"
    return render(
        request,
        template,
        {"form": form, "page": page, "sort": sort, "create_form": create_form},
        status=400 if request.method == "POST" else 200,
    )


def _attribute_urls(profile: JobProfile) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        return (
            reverse("hiring:attribute", args=[profile.uuid, row.pk]),
            reverse("hiring:attribute_delete", args=[profile.uuid, row.pk]),
        )

    return urls


def _header_urls(profile: JobProfile) -> Callable[[Model], tuple[str, str]]:
    url = reverse("hiring:profile", args=[profile.uuid])
    return lambda row: (url, "")


def _weights_context(profile: JobProfile) -> dict[str, Any]:
    weights = services.category_weights(profile)
    total = sum(weights.values())
    return {
        "profile": profile,
        "weight_rows": [
            (label, weights[value], round(100 * weights[value] / total) if total else 0)
            for value, label in Category.choices
        ],
        "weight_total": total,
    }


def _bank_context(request: AuthedRequest, profile: JobProfile, params: Any) -> dict[str, Any]:
    form = BankFilterForm(params)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    rows = services.bank_questions(
        profile=profile, query=data.get("q") or "", measure=data.get("measure") or ""
    )
    page = Paginator(rows, BANK_PAGE_SIZE).get_page(params.get("page"))
    return {
        "bank_form": form,
        "bank": page,
        "bank_filtered": bool(data.get("q") or data.get("measure")),
    }


def _planning_context(
    request: AuthedRequest,
    profile: JobProfile,
    params: Any,
    question_form: QuestionForm | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "profile": profile,
        "plan": profile.plan.select_related("question"),
        "question_form": question_form or QuestionForm(prefix="question"),
        **_bank_context(request, profile, params),
        **extra,
    }


def _profile_page(
    request: AuthedRequest,
    profile: JobProfile,
    *,
    failed: inline.RowEdit | None = None,
    question_form: QuestionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    attributes = profile.attributes.all()
    return render(
        request,
        "hiring/profile_detail.html",
        {
            **_weights_context(profile),
            **_planning_context(request, profile, request.GET, question_form),
            "can_edit": True,
            "header_rows": PROFILE_HEADER,
            "header_edit": inline.row_edits(
                PROFILE_HEADER, [profile], JobProfileForm, _header_urls(profile), failed
            )[0],
            "rows": ATTRIBUTES,
            "edits": inline.row_edits(
                ATTRIBUTES, attributes, AttributeForm, _attribute_urls(profile), failed
            ),
            "add_form": failed.form
            if failed and not failed.row.pk and isinstance(failed.row, ProfileAttribute)
            else inline.form_for(ATTRIBUTES, AttributeForm, None),
            "add_url": reverse("hiring:attributes", args=[profile.uuid]),
            "openings": profile.openings.all(),
            "trail": audit_trail(profile, limit=20),
        },
        status=400 if failed else status,
    )


@require_http_methods(["GET", "POST"])
def profile_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """The profile's page: its text and attributes edited in place, the weights per
    category, and the interview plan picked from the question bank."""
    profile = _profile(request, uuid)
    if request.method == "GET":
        if request.htmx and not request.htmx.boosted:
            return render(
                request,
                "hiring/profile_detail.html#bank",
                {"profile": profile, **_bank_context(request, profile, request.GET)},
            )
        return _profile_page(request, profile)
    return inline.row_save(
        request,
        rows=PROFILE_HEADER,
        item=profile,
        make_form=JobProfileForm,
        save=inline.service_call(services.job_profile_update, profile=profile, actor=request.user),
        urls=_header_urls(profile),
        context=lambda: {},
        page=lambda **extra: _profile_page(request, profile, **extra),
        back_url=reverse("hiring:profile", args=[profile.uuid]),
    )


@require_POST
def attribute_save(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    profile = _profile(request, uuid)
    item = get_object_or_404(ProfileAttribute, profile=profile, pk=pk) if pk else None
    return inline.row_save(
        request,
        rows=ATTRIBUTES,
        item=item,
        make_form=AttributeForm,
        save=inline.service_call(
            services.profile_attribute_save, profile=profile, attribute=item, actor=request.user
        ),
        urls=_attribute_urls(profile),
        context=lambda: _weights_context(profile),
        page=lambda **extra: _profile_page(request, profile, **extra),
        back_url=reverse("hiring:profile", args=[profile.uuid]),
    )


@require_http_methods(["GET", "POST"])
def attribute_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    profile = _profile(request, uuid)
    item = get_object_or_404(
        ProfileAttribute.objects.select_related("profile"), profile=profile, pk=pk
    )
    return inline.row_delete(
        request,
        rows=ATTRIBUTES,
        item=item,
        delete=lambda: services.profile_attribute_delete(attribute=item, actor=request.user),
        back_url=reverse("hiring:profile", args=[profile.uuid]),
        context=lambda: _weights_context(profile),
    )


def _planning_reply(
    request: AuthedRequest, profile: JobProfile, note: str, **extra: Any
) -> HttpResponse:
    """After a change to the plan: the plan and the bank again (htmx), else the page."""
    if request.htmx:
        context = _planning_context(request, profile, request.POST, note=note, **extra)
        return render(request, "hiring/profile_detail.html#planning", context)
    if extra.get("question_form") is not None or extra.get("refused"):
        if extra.get("refused"):
            messages.error(request, extra["refused"])
        return _profile_page(request, profile, question_form=extra.get("question_form"), status=400)
    messages.success(request, note)
    return redirect(reverse("hiring:profile", args=[profile.uuid]) + "#plan")


@require_POST
def plan_add(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Put a question from the bank into the profile's interview plan."""
    profile = _profile(request, uuid)
    raw = request.POST.get("question", "")
    question = Question.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    if question is None:
        return _planning_reply(request, profile, "", refused="Choose a question from the bank.")
    try:
        services.plan_question_add(profile=profile, question=question, actor=request.user)
    except ValidationError as refusal:
        return _planning_reply(request, profile, "", refused=" ".join(refusal.messages))
    return _planning_reply(request, profile, f"Added to the plan: “{question}”.")


@require_http_methods(["GET", "POST"])
def plan_remove(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    """Ask first, then take the question out of the plan."""
    profile = _profile(request, uuid)
    planned = get_object_or_404(
        PlannedQuestion.objects.select_related("question", "profile"), profile=profile, pk=pk
    )
    if request.method != "POST":
        return render(
            request,
            "engagements/confirm_delete.html",
            {
                "object": planned.question,
                "kind": "question from the interview plan",
                "cancel_url": reverse("hiring:profile", args=[profile.uuid]) + "#plan",
            },
        )
    services.plan_question_remove(planned=planned, actor=request.user)
    return _planning_reply(request, profile, f"Taken out of the plan: “{planned.question}”.")


@require_POST
def plan_move(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    """Move a planned question one place up or down."""
    profile = _profile(request, uuid)
    planned = get_object_or_404(
        PlannedQuestion.objects.select_related("question", "profile"), profile=profile, pk=pk
    )
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return _planning_reply(request, profile, "", refused="Move the question up or down.")
    services.plan_question_move(planned=planned, up=direction == "up", actor=request.user)
    return _planning_reply(request, profile, f"Moved {direction}: “{planned.question}”.")


@require_POST
def question_add(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Write a new question into the bank, planned for this profile."""
    profile = _profile(request, uuid)
    form = QuestionForm(request.POST, prefix="question")
    if form.is_valid():
        try:
            question = services.question_create(
                actor=request.user, data=form.cleaned_data, plan_on=profile
            )
        except ValidationError as refusal:
            _apply(form, refusal)
        else:
            return _planning_reply(
                request, profile, f"Added to the bank and the plan: “{question}”."
            )
    return _planning_reply(request, profile, "", question_form=form)


# The opening's panel ----------------------------------------------------------------------


def _panel_context(opening: Opening, **extra: Any) -> dict[str, Any]:
    return {"opening": opening, "panel": opening.panel.all(), "manages": True, **extra}


@require_http_methods(["GET", "POST"])
def opening_panel(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Name the hiring manager and the audition panel. Taking someone off the panel asks
    for confirmation first: they lose sight of the candidates (their scores stay)."""
    opening = _opening(request, uuid)
    _manager(request)
    current = list(opening.panel.all())
    form = PanelForm(
        request.POST or None,
        initial={"hiring_manager": opening.hiring_manager, "panel": current},
    )
    removed: list[Any] = []
    if request.method == "POST" and form.is_valid():
        chosen = {m.pk for m in form.cleaned_data["panel"]}
        removed = [m for m in current if m.pk not in chosen]
        if not removed or request.POST.get("confirmed") == "yes":
            try:
                services.opening_panel_set(
                    opening=opening,
                    panel=form.cleaned_data["panel"],
                    hiring_manager=form.cleaned_data["hiring_manager"],
                    actor=request.user,
                )
            except ValidationError as refusal:
                _apply(form, refusal)
                removed = []
            else:
                if request.htmx:
                    context = _panel_context(opening, note="Panel saved.")
                    return render(request, "hiring/opening_detail.html#panel", context)
                messages.success(request, "Panel saved.")
                return redirect("hiring:opening", uuid=opening.uuid)
    context = {"opening": opening, "form": form, "removed": removed}
    if request.htmx and not request.htmx.boosted:
        response = render(request, "hiring/panel.html#panel_form", context)
        # A refused form (or the question) replaces itself; only a saved panel replaces
        # the card. The form fetched with GET goes where its link says.
        return retarget(response, "#panel-form") if request.method == "POST" else response
    failed = request.method == "POST" and not removed
    return render(request, "hiring/panel.html", context, status=400 if failed else 200)
