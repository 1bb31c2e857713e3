from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from certification import services
from certification.forms import CoverageForm, PeopleSearchForm, ResultForm, TeamFilterForm
from certification.models import Enrollment, ModuleResult, Status
from tcp.http import AuthedRequest
from tcp.models import User
from tcp.services import audit_trail

PAGE_SIZE = 50
# A person's name on a row needs these fields only (User.__str__).
NAME_FIELDS = ("first_name", "last_name", "username")

TEAM_SORTS: dict[str, tuple[str, ...]] = {
    "status": ("standing_rank", "due_on"),
    "-status": ("-standing_rank", "due_on"),
    "name": tuple(f"person__{f}" for f in NAME_FIELDS),
    "-name": tuple(f"-person__{f}" for f in NAME_FIELDS),
    "due": ("due_on",),
    "-due": ("-due_on",),
    "progress": ("passed", "due_on"),
    "-progress": ("-passed", "due_on"),
    "started": ("started_on",),
    "-started": ("-started_on",),
}
LEADERSHIP_GROUPS: tuple[str, ...] = ("went_first", "standing")
LEADERSHIP_SORTS: dict[str, tuple[str, ...]] = {
    "name": NAME_FIELDS,
    "-name": tuple(f"-{f}" for f in NAME_FIELDS),
    "certified": ("first_certified", *NAME_FIELDS),
    "-certified": ("-first_certified", *NAME_FIELDS),
    "team": ("team", *NAME_FIELDS),
    "-team": ("-team", *NAME_FIELDS),
}


def _manages_anyone(user: User) -> bool:
    return User.objects.filter(manager=user, is_active=True).exists()


def _tabs(user: User, manages: bool) -> list[tuple[str, str]]:
    """The certification pages this person may open, as (url name, label)."""
    tabs = [("certification:mine", "My certification")]
    if manages or user.sees_everything:
        tabs.append(("certification:team", "Team"))
    if user.sees_everything:
        tabs += [
            ("certification:leadership", "Leadership"),
            ("certification:coverage", "Coverage"),
        ]
    if services.may_assess(user):
        tabs.append(("certification:assess_list", "Assess"))
    return tabs


def _page(request: AuthedRequest, template: str, context: dict[str, Any], **kw: Any) -> Any:
    manages = context.pop("manages", None)
    if manages is None:
        manages = _manages_anyone(request.user)
    tabs = [(reverse(name), label) for name, label in _tabs(request.user, manages)]
    return render(request, template, {"tabs": tabs, **context}, **kw)


def _progress_context(request: AuthedRequest, enrollment: Enrollment | None) -> dict[str, Any]:
    if enrollment is None:
        return {"enrollment": None}
    progress = services.enrollment_progress(enrollment)
    return {
        "enrollment": enrollment,
        "progress": progress,
        "person": enrollment.person,
        "can_assess": services.may_assess(request.user)
        and enrollment.person_id != request.user.pk
        and enrollment.is_active,
        "trail": audit_trail(enrollment, limit=20),
    }


# A person's progress ----------------------------------------------------------------------


@require_GET
def mine(request: AuthedRequest) -> HttpResponse:
    """The signed-in person's certification: the open enrolment, else their latest one."""
    enrollment = (
        Enrollment.objects.filter(person=request.user)
        .select_related("curriculum", "person")
        .order_by(F("closed_on").desc(nulls_first=True), "-started_on")
        .first()
    )
    context = _progress_context(request, enrollment)
    return _page(request, "certification/progress.html", {**context, "own": True})


@require_GET
def enrollment_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    enrollment = get_object_or_404(
        Enrollment.objects.visible_to(request.user).select_related("curriculum", "person"),
        uuid=uuid,
    )
    context = _progress_context(request, enrollment)
    own = enrollment.person_id == request.user.pk
    return _page(request, "certification/progress.html", {**context, "own": own})


# The team view ----------------------------------------------------------------------------


@require_GET
def team(request: AuthedRequest) -> HttpResponse:
    """Everyone the person leads (everyone, for leadership), with their status today."""
    user = request.user
    manages = _manages_anyone(user)
    if not (manages or user.sees_everything):
        raise Http404
    form = TeamFilterForm(request.GET or None)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    today = timezone.localdate()
    rows = services.team_enrollments(viewer=user, on=today).only(
        "uuid",
        "started_on",
        "due_on",
        "certified_on",
        "curriculum_id",
        "person_id",
        *(f"person__{f}" for f in (*NAME_FIELDS, "manager_id")),
        *(f"person__manager__{f}" for f in NAME_FIELDS),
    )
    if data.get("status"):
        rows = rows.filter(**{"standing": data["status"]})
    for word in (data.get("q") or "").split():
        rows = rows.filter(
            Q(person__first_name__icontains=word)
            | Q(person__last_name__icontains=word)
            | Q(person__username__icontains=word)
        )
    sort = data.get("sort") or "status"
    page = Paginator(rows.order_by(*TEAM_SORTS[sort], "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = "certification/team.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return _page(
        request,
        template,
        {
            "form": form,
            "page": page,
            "sort": sort,
            "today": today,
            "everyone": user.sees_everything,
            "manages": manages,
        },
    )


# Leadership and coverage --------------------------------------------------------------------


def _oversight(request: AuthedRequest) -> None:
    if not request.user.sees_everything:
        raise Http404


@require_GET
def leadership(request: AuthedRequest) -> HttpResponse:
    """For each manager and leader: certified or not, and certified before their team."""
    _oversight(request)
    today = timezone.localdate()
    rows = services.leadership_rows(on=today).only(*NAME_FIELDS, "job_title")
    sort = request.GET.get("sort", "")
    if sort not in LEADERSHIP_SORTS:
        sort = "name"
    # Grouped in SQL: a handful of rows, one per combination.
    groups = rows.values(*LEADERSHIP_GROUPS).annotate(n=Count("pk")).order_by()
    totals = {"leaders": 0, "with_team": 0, "went_first": 0, "certified": 0}
    for group in groups:
        totals["leaders"] += group["n"]
        totals["with_team"] += group["n"] if group["went_first"] is not None else 0
        totals["went_first"] += group["n"] if group["went_first"] else 0
        totals["certified"] += group["n"] if group["standing"] == Status.CERTIFIED else 0
    page = Paginator(rows.order_by(*LEADERSHIP_SORTS[sort], "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return _page(
        request,
        "certification/leadership.html",
        {"page": page, "sort": sort, "totals": totals, "today": today},
    )


@require_GET
def coverage(request: AuthedRequest) -> HttpResponse:
    """The share of commercial staff certified, on track, behind and overdue: the learning
    and growth figure the scorecard reads (services.certification_coverage)."""
    _oversight(request)
    today = timezone.localdate()
    form = CoverageForm(request.GET or None, initial={"on": today})
    on = today
    if form.is_valid() and form.cleaned_data.get("on"):
        on = min(form.cleaned_data["on"], today)
    summary = services.certification_coverage(on=on)
    return _page(
        request,
        "certification/coverage.html",
        {
            "form": form,
            "summary": summary,
            "history": services.coverage_history(until=today),
            "today": today,
            "bars": [
                ("Certified", summary["certified"], summary["certified_pct"], "certified"),
                ("On track", summary["on_track"], summary["on_track_pct"], "on_track"),
                ("Behind", summary["behind"], summary["behind_pct"], "behind"),
                ("Overdue", summary["overdue"], summary["overdue_pct"], "overdue"),
            ],
        },
    )


# Assessing --------------------------------------------------------------------------------


def _assessor(request: AuthedRequest) -> User:
    if not services.may_assess(request.user):
        raise Http404
    return request.user


@require_GET
def assess_list(request: AuthedRequest) -> HttpResponse:
    """The people an assessor may assess, whoever is due soonest first."""
    assessor = _assessor(request)
    form = PeopleSearchForm(request.GET or None)
    form.is_valid()
    query = getattr(form, "cleaned_data", {}).get("q") or ""
    today = timezone.localdate()
    people: QuerySet[Enrollment] = (
        services.people_to_assess(assessor=assessor, query=query)
        .with_status(today)
        .annotate(**services.next_due_annotations(today))
        .select_related("person")
        .only(
            "uuid",
            "due_on",
            "curriculum_id",
            "started_on",
            "person_id",
            *(f"person__{f}" for f in NAME_FIELDS),
        )
        .order_by(F("next_due").asc(), *(f"person__{f}" for f in NAME_FIELDS), "pk")
    )
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "certification/assess_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return _page(request, template, {"form": form, "page": page, "today": today})


def _assessable(request: AuthedRequest, uuid: Any) -> Enrollment:
    assessor = _assessor(request)
    enrollment = get_object_or_404(
        Enrollment.objects.active().select_related("curriculum", "person"), uuid=uuid
    )
    if enrollment.person_id == assessor.pk:
        raise PermissionDenied("Nobody assesses their own certification.")
    return enrollment


def _assess_context(
    enrollment: Enrollment, failed: ResultForm | None = None, failed_pk: int | None = None
) -> dict[str, Any]:
    """The person's modules, due order, each unpassed one with its form (the refused one
    as it was sent)."""
    progress = services.enrollment_progress(enrollment)
    rows = []
    for row in progress.modules:
        form = None
        if not row.passed:
            form = failed if row.module.pk == failed_pk else _result_form(row.module.pk)
        rows.append((row, form))
    return {"enrollment": enrollment, "progress": progress, "rows": rows}


def _result_form(module_pk: int, data: Any = None, files: Any = None) -> ResultForm:
    # Every row has its own form on the page: ids carry the module so they stay unique.
    return ResultForm(data, files, initial={"module": module_pk}, auto_id=f"m{module_pk}-%s")


def _record(request: AuthedRequest, enrollment: Enrollment, form: ResultForm) -> bool:
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        result = services.module_result_record(
            enrollment=enrollment,
            module=data["module"],
            score=data["score"],
            assessed_on=data["assessed_on"],
            assessor=request.user,
            evidence_note=data["evidence_note"],
            evidence_file=data["evidence_file"],
        )
    except ValidationError as refusal:
        if hasattr(refusal, "error_dict"):
            for name, errors in refusal.error_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, refusal.messages)
        return False
    verdict = "passed" if result.passed else "not passed"
    messages.success(request, f"{result.module.title}: {result.score}/100, {verdict}.")
    return True


@require_http_methods(["GET", "POST"])
def assess(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Record results module by module. With htmx only the module's row, the progress and
    any refusal change."""
    enrollment = _assessable(request, uuid)
    if request.method == "GET":
        return _page(request, "certification/assess.html", _assess_context(enrollment))
    raw = request.POST.get("module", "")
    # ASCII digits of a sane length only: str.isdigit() also accepts "²", and int() refuses
    # thousands of digits.
    module_pk = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    form = _result_form(module_pk or 0, request.POST, request.FILES)
    recorded = _record(request, enrollment, form)
    if recorded and not request.htmx:
        return redirect("certification:assess", uuid=enrollment.uuid)
    context = _assess_context(enrollment, None if recorded else form, module_pk)
    row = next((r for r in context["rows"] if r[0].module.pk == module_pk), None)
    # Errors with no row to sit beside (a module from another curriculum, one passed
    # meanwhile) show above the modules.
    row_has_form = row is not None and row[1] is form
    context["refusal"] = (
        ""
        if recorded or row_has_form
        else " ".join(str(e) for errors in form.errors.values() for e in errors)
    )
    if row_has_form:
        context["status_text"] = "Not recorded: see the marked field."
    if request.htmx:
        response = render(request, "certification/assess_reply.html", {**context, "row": row})
        if row is None:
            response["HX-Reswap"] = "none"
        return response
    return _page(request, "certification/assess.html", context, status=400)


@require_http_methods(["GET", "POST"])
def result_delete(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """Remove a result recorded by mistake: confirm (GET), then remove (POST)."""
    _assessor(request)
    result = get_object_or_404(
        ModuleResult.objects.select_related("enrollment__person", "module"), uuid=uuid
    )
    enrollment = _assessable(request, result.enrollment.uuid)
    back = reverse("certification:assess", args=[enrollment.uuid])
    if request.method == "GET":
        return render(
            request,
            "engagements/confirm_delete.html",
            {"object": result, "kind": "assessment result", "cancel_url": back},
        )
    try:
        services.module_result_delete(result=result, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, f"The result in “{result.module.title}” was removed.")
    return redirect(back)


@require_GET
def evidence(request: AuthedRequest, uuid: Any) -> FileResponse:
    """An evidence file, for whoever may see the enrolment."""
    visible = Enrollment.objects.visible_to(request.user)
    result = get_object_or_404(
        ModuleResult.objects.filter(enrollment__in=visible).exclude(evidence_file=""), uuid=uuid
    )
    return FileResponse(result.evidence_file.open("rb"), as_attachment=True)
