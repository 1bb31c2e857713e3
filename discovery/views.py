"""Discovery pages: the account's client intelligence profile, the engagement's discovery
checklist, the Failure-Cost Analysis interview editor and the TCO comparison.

Rows (targets, scenarios, cost lines…) are edited in place through tcp.inline; every save
goes through discovery.services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from discovery import charts, services
from discovery.forms import (
    AlternativeForm,
    AnalysisForm,
    CostLineForm,
    GrowthTargetForm,
    NeverEventForm,
    NewScenarioForm,
    ObligationForm,
    ProfileForm,
    ScenarioForm,
    SignOffForm,
    StakeholderForm,
    TcoForm,
)
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
    cost_owner_seat,
    scenario_aggregates,
)
from engagements.models import Account, Engagement
from tcp import inline
from tcp.http import AuthedRequest
from tcp.models import AuditLogEntry, OrganisationSettings, User

# Access --------------------------------------------------------------------------------


def _account(request: AuthedRequest, uuid: Any, *, edit: bool = False) -> Account:
    account = get_object_or_404(Account.objects.visible_to(request.user), uuid=uuid)
    if edit and not account.is_editable_by(request.user):
        raise Http404
    return account


def _engagement(request: AuthedRequest, uuid: Any, *, edit: bool = False) -> Engagement:
    engagement = get_object_or_404(
        Engagement.objects.visible_to(request.user).select_related("account", "commercial_lead"),
        uuid=uuid,
    )
    if edit and not engagement.is_editable_by(request.user):
        raise Http404
    return engagement


def _trail(*objects: Model, limit: int = 15) -> QuerySet[AuditLogEntry]:
    """The change history of several objects, newest first."""
    match = Q(pk__in=[])
    for obj in objects:
        if obj.pk:
            match |= Q(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return AuditLogEntry.objects.filter(match).select_related("actor")[:limit]


# Client intelligence profile -----------------------------------------------------------

PROFILE_EXTRAS = "discovery/profile_extras.html"
PROFILE = inline.Rows("profile", "profile", extras=PROFILE_EXTRAS, single=True)
PROFILE_ROWS: dict[str, tuple[inline.Rows, type[Model], Any, Any, str]] = {
    "targets": (
        inline.Rows("target", "growth target", extras=PROFILE_EXTRAS),
        GrowthTarget,
        GrowthTargetForm,
        services.growth_target_save,
        "target",
    ),
    "obligations": (
        inline.Rows("obligation", "regulatory obligation", extras=PROFILE_EXTRAS),
        RegulatoryObligation,
        ObligationForm,
        services.obligation_save,
        "obligation",
    ),
    "stakeholders": (
        inline.Rows("stakeholder", "stakeholder", extras=PROFILE_EXTRAS),
        Stakeholder,
        StakeholderForm,
        services.stakeholder_save,
        "stakeholder",
    ),
}


def _profile_urls(account: Account, kind: str) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [account.uuid, kind, row.pk]
        return (
            reverse("discovery:profile_item", args=args),
            reverse("discovery:profile_item_delete", args=args),
        )

    return urls


def _profile_form_factory(account: Account, kind: str) -> Callable[..., Any]:
    form_class = PROFILE_ROWS[kind][2]
    if kind != "stakeholders":
        return form_class
    contacts = account.contacts.all()

    def make(*args: Any, **kwargs: Any) -> Any:
        form = form_class(*args, contacts=contacts, **kwargs)
        return form

    return make


def _profile_context(account: Account) -> dict[str, Any]:
    profile = services.profile_with_counts(account)
    return {"account": account, "profile": profile, "gaps": profile.missing()}


def _profile_page(
    request: AuthedRequest, account: Account, *, failed: inline.RowEdit | None = None
) -> HttpResponse:
    context = _profile_context(account)
    profile: ClientIntelligenceProfile = context["profile"]
    can_edit = account.is_editable_by(request.user)
    sections = []
    for kind, (rows, _model, _form, _save, _noun) in PROFILE_ROWS.items():
        make_form = _profile_form_factory(account, kind)
        items: Any = []
        if profile.pk:
            items = _model.objects.filter(profile=profile)  # type: ignore[attr-defined]
            if kind == "stakeholders":
                items = items.select_related("contact")
        sections.append(
            {
                "kind": kind,
                "rows": rows,
                "edits": inline.row_edits(
                    rows, items, make_form, _profile_urls(account, kind), failed
                ),
                "add_form": failed.form
                if failed and not failed.row.pk and isinstance(failed.row, _model)
                else inline.form_for(rows, make_form, None),
                "add_url": reverse("discovery:profile_items", args=[account.uuid, kind]),
            }
        )
    profile_edit = inline.row_edits(
        PROFILE, [profile], ProfileForm, _profile_main_urls(account), failed
    )[0]
    return render(
        request,
        "discovery/profile.html",
        {
            **context,
            "can_edit": can_edit,
            "profile_rows": PROFILE,
            "profile_edit": profile_edit,
            "sections": sections,
            "trail": _trail(profile),
        },
        status=400 if failed else 200,
    )


def _profile_main_urls(account: Account) -> Callable[[Model], tuple[str, str]]:
    url = reverse("discovery:profile", args=[account.uuid])
    return lambda row: (url, "")


def _profile_save(
    account: Account, actor: User, save: Callable[..., Model], **bound: Any
) -> Callable[[Any, int | None], Model]:
    """row_save's save for a section of a profile that may not exist yet: the first save
    starts the profile in the save's own transaction, so a refused one leaves nothing."""

    def call(data: Any, version: int | None) -> Model:
        with transaction.atomic():
            profile = services.profile_get_or_create(account=account, actor=actor)
            return save(profile=profile, actor=actor, data=data, version=version, **bound)

    return call


@require_http_methods(["GET", "POST"])
def profile(request: AuthedRequest, uuid: Any) -> HttpResponse:
    if request.method == "GET":
        return _profile_page(request, _account(request, uuid))
    account = _account(request, uuid, edit=True)
    instance = ClientIntelligenceProfile.objects.filter(
        account=account
    ).first() or ClientIntelligenceProfile(account=account)
    return inline.row_save(
        request,
        rows=PROFILE,
        item=instance,
        make_form=ProfileForm,
        save=_profile_save(account, request.user, services.profile_update),
        urls=_profile_main_urls(account),
        context=lambda: _profile_context(account),
        page=lambda **extra: _profile_page(request, account, **extra),
        back_url=reverse("discovery:profile", args=[account.uuid]),
    )


@require_POST
def profile_item(
    request: AuthedRequest, uuid: Any, kind: str, pk: int | None = None
) -> HttpResponse:
    if kind not in PROFILE_ROWS:
        raise Http404
    account = _account(request, uuid, edit=True)
    rows, model, _form, save, noun = PROFILE_ROWS[kind]
    item = get_object_or_404(model, profile__account=account, pk=pk) if pk else None
    return inline.row_save(
        request,
        rows=rows,
        item=item,
        make_form=_profile_form_factory(account, kind),
        save=_profile_save(account, request.user, save, **{noun: item}),
        urls=_profile_urls(account, kind),
        context=lambda: _profile_context(account),
        page=lambda **extra: _profile_page(request, account, **extra),
        back_url=reverse("discovery:profile", args=[account.uuid]),
    )


@require_http_methods(["GET", "POST"])
def profile_item_delete(request: AuthedRequest, uuid: Any, kind: str, pk: int) -> HttpResponse:
    if kind not in PROFILE_ROWS:
        raise Http404
    account = _account(request, uuid, edit=True)
    rows, model, *_ = PROFILE_ROWS[kind]
    item: Any = get_object_or_404(model, profile__account=account, pk=pk)
    return inline.row_delete(
        request,
        rows=rows,
        item=item,
        delete=lambda: services.profile_item_delete(item=item, actor=request.user),
        back_url=reverse("discovery:profile", args=[account.uuid]),
        context=lambda: _profile_context(account),
    )


# The engagement's discovery checklist --------------------------------------------------

CONSTRAINTS = inline.Rows(
    "constraint", "“must never happen” constraint", figures="discovery/constraint_figures.html"
)


def _constraint_urls(engagement: Engagement) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [engagement.uuid, row.pk]
        return (
            reverse("discovery:constraint", args=args),
            reverse("discovery:constraint_delete", args=args),
        )

    return urls


def _constraint_form_factory(engagement: Engagement) -> Callable[..., Any]:
    scenarios = FailureScenario.objects.filter(analysis__engagement=engagement).select_related(
        "analysis"
    )
    choices: list[tuple[int, str]] = []

    def make(*args: Any, **kwargs: Any) -> NeverEventForm:
        form = NeverEventForm(*args, scenarios=scenarios, **kwargs)
        # One query for the page's choices, not one per constraint card.
        if not choices:
            choices.extend((s.pk, str(s)) for s in scenarios)
        cast(forms.ModelMultipleChoiceField, form.fields["scenarios"]).choices = choices
        return form

    return make


def _checklist_page(
    request: AuthedRequest,
    engagement: Engagement,
    *,
    failed: inline.RowEdit | None = None,
    start_form: AnalysisForm | None = None,
) -> HttpResponse:
    organisation = OrganisationSettings.load()
    analyses = (
        FailureCostAnalysis.objects.filter(engagement=engagement)
        .select_related("interviewer", "signed_off_by")
        .order_by("-held_on", "-id")
    )
    totals = {
        row["analysis"]: row
        for row in FailureScenario.objects.filter(analysis__engagement=engagement)
        .values("analysis")
        .annotate(**scenario_aggregates())
    }
    make_constraint = _constraint_form_factory(engagement)
    constraints = NeverEvent.objects.filter(engagement=engagement).prefetch_related(
        "scenarios__analysis"
    )
    profile = services.profile_with_counts(engagement.account)
    tco = TcoComparison.objects.filter(engagement=engagement).first()
    failed_new = failed if failed and not failed.row.pk else None
    return render(
        request,
        "discovery/checklist.html",
        {
            "engagement": engagement,
            "organisation": organisation,
            "can_edit": engagement.is_editable_by(request.user),
            "pre_adoption": engagement.is_pre_adoption(organisation.tcp_adoption_date),
            "checklist": services.discovery_checklist(engagement=engagement, profile=profile),
            "blockers": services.discovery_blockers(engagement=engagement, profile=profile),
            "analyses": [(a, totals.get(a.pk, {})) for a in analyses],
            "start_form": start_form
            or AnalysisForm(
                initial={"interviewer": request.user, "title": "Failure-Cost Analysis"},
                contacts=engagement.account.contacts.all(),
            ),
            "rows": CONSTRAINTS,
            "edits": inline.row_edits(
                CONSTRAINTS, constraints, make_constraint, _constraint_urls(engagement), failed
            ),
            "add_form": failed_new.form
            if failed_new
            else inline.form_for(CONSTRAINTS, make_constraint, None),
            "add_url": reverse("discovery:constraints", args=[engagement.uuid]),
            "profile": profile,
            "tco": tco,
            "trail": _trail(engagement, profile, limit=25),
        },
        status=400 if failed or start_form else 200,
    )


@require_GET
def checklist(request: AuthedRequest, uuid: Any) -> HttpResponse:
    return _checklist_page(request, _engagement(request, uuid))


@require_POST
def analysis_create(request: AuthedRequest, uuid: Any) -> HttpResponse:
    engagement = _engagement(request, uuid, edit=True)
    form = AnalysisForm(request.POST, contacts=engagement.account.contacts.all())
    if form.is_valid():
        data, _version = form.data_and_version()
        try:
            analysis = services.fca_create(engagement=engagement, actor=request.user, data=data)
        except ValidationError as error:
            inline._errors_onto(form, error)
        else:
            messages.success(request, "Interview started: add the failure scenarios.")
            return redirect("discovery:analysis", engagement.uuid, analysis.uuid)
    return _checklist_page(request, engagement, start_form=form)


@require_http_methods(["GET", "POST"])
def constraint(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    engagement = _engagement(request, uuid, edit=request.method == "POST")
    if request.method == "GET":
        return redirect(f"{services.discovery_url(engagement)}#constraint-{pk or 'add'}")
    item = get_object_or_404(NeverEvent, engagement=engagement, pk=pk) if pk else None
    return inline.row_save(
        request,
        rows=CONSTRAINTS,
        item=item,
        make_form=_constraint_form_factory(engagement),
        save=inline.service_call(
            services.never_event_save, engagement=engagement, actor=request.user, never_event=item
        ),
        urls=_constraint_urls(engagement),
        context=dict,
        page=lambda **extra: _checklist_page(request, engagement, **extra),
        back_url=services.discovery_url(engagement),
        refetch=lambda row: NeverEvent.objects.prefetch_related("scenarios__analysis").get(
            pk=row.pk
        ),
    )


@require_http_methods(["GET", "POST"])
def constraint_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    engagement = _engagement(request, uuid, edit=True)
    item = get_object_or_404(NeverEvent, engagement=engagement, pk=pk)
    return inline.row_delete(
        request,
        rows=CONSTRAINTS,
        item=item,
        delete=lambda: services.never_event_delete(never_event=item, actor=request.user),
        back_url=services.discovery_url(engagement),
        context=dict,
    )


# The interview editor ------------------------------------------------------------------

ANALYSIS_EXTRAS = "discovery/analysis_extras.html"
ANALYSIS = inline.Rows("analysis", "interview", extras=ANALYSIS_EXTRAS, single=True)
SCENARIOS = inline.Rows(
    "scenario",
    "failure scenario",
    figures="discovery/scenario_figures.html",
    extras=ANALYSIS_EXTRAS,
)


def _analysis(
    request: AuthedRequest, uuid: Any, fca: Any, *, edit: bool = False
) -> FailureCostAnalysis:
    engagement = _engagement(request, uuid, edit=edit)
    analysis = get_object_or_404(
        FailureCostAnalysis.objects.select_related("interviewer", "signed_off_by", "completed_by"),
        engagement=engagement,
        uuid=fca,
    )
    analysis.engagement = engagement
    return analysis


def _scenario_urls(analysis: FailureCostAnalysis) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [analysis.engagement.uuid, analysis.uuid, row.pk]
        return (
            reverse("discovery:scenario", args=args),
            reverse("discovery:scenario_delete", args=args),
        )

    return urls


def _analysis_urls(analysis: FailureCostAnalysis) -> Callable[[Model], tuple[str, str]]:
    args = [analysis.engagement.uuid, analysis.uuid]
    urls = (
        reverse("discovery:analysis", args=args),
        reverse("discovery:analysis_delete", args=args),
    )
    return lambda row: urls


def _analysis_form_factory(analysis: FailureCostAnalysis) -> Callable[..., Any]:
    contacts = analysis.engagement.account.contacts.all()

    def make(*args: Any, **kwargs: Any) -> AnalysisForm:
        return AnalysisForm(*args, contacts=contacts, **kwargs)

    return make


def _analysis_context(analysis: FailureCostAnalysis) -> dict[str, Any]:
    """What the totals panel shows; sent again after every change."""
    analysis.refresh_from_db(fields=["completed_at", "version"])
    return {
        "analysis": analysis,
        "totals": FailureScenario.objects.filter(analysis=analysis).totals(),
        "reasons": services.fca_incomplete_reasons(analysis),
        "currency": OrganisationSettings.load().currency,
    }


def _analysis_page(
    request: AuthedRequest,
    analysis: FailureCostAnalysis,
    *,
    failed: inline.RowEdit | None = None,
    sign_off_form: SignOffForm | None = None,
    errors: list[str] | None = None,
) -> HttpResponse:
    engagement = analysis.engagement
    scenarios = FailureScenario.objects.filter(analysis=analysis).with_figures()
    make_analysis = _analysis_form_factory(analysis)
    header = inline.row_edits(
        ANALYSIS, [analysis], make_analysis, _analysis_urls(analysis), failed
    )[0]
    new_failed = (
        failed if failed and isinstance(failed.row, FailureScenario) and not failed.row.pk else None
    )
    context = _analysis_context(analysis)
    return render(
        request,
        "discovery/analysis.html",
        {
            **context,
            "engagement": engagement,
            "can_edit": engagement.is_editable_by(request.user),
            "header_rows": ANALYSIS,
            "header": header,
            "rows": SCENARIOS,
            "edits": inline.row_edits(
                SCENARIOS, scenarios, ScenarioForm, _scenario_urls(analysis), failed
            ),
            "add_form": new_failed.form
            if new_failed
            else inline.form_for(SCENARIOS, NewScenarioForm, None),
            "add_url": reverse("discovery:scenarios", args=[engagement.uuid, analysis.uuid]),
            "sign_off_form": sign_off_form
            or SignOffForm(contacts=engagement.account.contacts.all()),
            "errors": errors or [],
            "constraints": NeverEvent.objects.filter(scenarios__analysis=analysis).distinct(),
        },
        status=400 if failed or sign_off_form or errors else 200,
    )


@require_http_methods(["GET", "POST"])
def analysis(request: AuthedRequest, uuid: Any, fca: Any) -> HttpResponse:
    if request.method == "GET":
        return _analysis_page(request, _analysis(request, uuid, fca))
    item = _analysis(request, uuid, fca, edit=True)
    return inline.row_save(
        request,
        rows=ANALYSIS,
        item=item,
        make_form=_analysis_form_factory(item),
        save=inline.service_call(services.fca_update, analysis=item, actor=request.user),
        urls=_analysis_urls(item),
        context=lambda: _analysis_context(item),
        page=lambda **extra: _analysis_page(request, item, **extra),
        back_url=request.path,
    )


@require_http_methods(["GET", "POST"])
def analysis_delete(request: AuthedRequest, uuid: Any, fca: Any) -> HttpResponse:
    item = _analysis(request, uuid, fca, edit=True)
    if request.method != "POST":
        return render(
            request,
            "engagements/confirm_delete.html",
            {
                "object": item,
                "kind": "interview",
                "cancel_url": request.path.removesuffix("delete/"),
            },
        )
    services.fca_delete(analysis=item, actor=request.user)
    messages.success(request, f"Interview “{item}” removed.")
    return inline.redirect_to(request, services.discovery_url(item.engagement))


def _analysis_action(request: AuthedRequest, uuid: Any, fca: Any, action: str) -> HttpResponse:
    item = _analysis(request, uuid, fca, edit=True)
    try:
        if action == "complete":
            services.fca_complete(analysis=item, actor=request.user)
            messages.success(request, "Interview complete.")
        else:
            services.fca_reopen(analysis=item, actor=request.user)
            messages.success(request, "Interview reopened as a draft.")
    except ValidationError as refusal:
        return _analysis_page(request, item, errors=refusal.messages)
    return inline.redirect_to(request, request.path.rsplit("/", 2)[0] + "/")


@require_POST
def analysis_complete(request: AuthedRequest, uuid: Any, fca: Any) -> HttpResponse:
    return _analysis_action(request, uuid, fca, "complete")


@require_POST
def analysis_reopen(request: AuthedRequest, uuid: Any, fca: Any) -> HttpResponse:
    return _analysis_action(request, uuid, fca, "reopen")


@require_POST
def analysis_sign_off(request: AuthedRequest, uuid: Any, fca: Any) -> HttpResponse:
    item = _analysis(request, uuid, fca, edit=True)
    form = SignOffForm(request.POST, contacts=item.engagement.account.contacts.all())
    if form.is_valid():
        try:
            services.fca_sign_off(
                analysis=item,
                actor=request.user,
                contact=form.cleaned_data["contact"],
                on=form.cleaned_data["on"],
            )
        except ValidationError as refusal:
            loose = inline._errors_onto(form, refusal)
            if loose:
                return _analysis_page(request, item, sign_off_form=form, errors=[loose])
        else:
            messages.success(request, "Client sign-off recorded.")
            return inline.redirect_to(request, request.path.rsplit("/", 2)[0] + "/")
    return _analysis_page(request, item, sign_off_form=form)


def _scenario_with_figures(row: Model) -> Model:
    return FailureScenario.objects.with_figures().get(pk=row.pk)


@require_POST
def scenario(request: AuthedRequest, uuid: Any, fca: Any, pk: int | None = None) -> HttpResponse:
    item_analysis = _analysis(request, uuid, fca, edit=True)
    item = get_object_or_404(FailureScenario, analysis=item_analysis, pk=pk) if pk else None
    return inline.row_save(
        request,
        rows=SCENARIOS,
        item=item,
        make_form=ScenarioForm if item else NewScenarioForm,
        save=inline.service_call(
            services.scenario_save, analysis=item_analysis, actor=request.user, scenario=item
        ),
        urls=_scenario_urls(item_analysis),
        context=lambda: _analysis_context(item_analysis),
        page=lambda **extra: _analysis_page(request, item_analysis, **extra),
        back_url=reverse("discovery:analysis", args=[uuid, fca]),
        refetch=_scenario_with_figures,
        card_form=ScenarioForm,
    )


@require_http_methods(["GET", "POST"])
def scenario_delete(request: AuthedRequest, uuid: Any, fca: Any, pk: int) -> HttpResponse:
    item_analysis = _analysis(request, uuid, fca, edit=True)
    item = get_object_or_404(FailureScenario, analysis=item_analysis, pk=pk)
    return inline.row_delete(
        request,
        rows=SCENARIOS,
        item=item,
        delete=lambda: services.scenario_delete(scenario=item, actor=request.user),
        back_url=reverse("discovery:analysis", args=[uuid, fca]),
        context=lambda: _analysis_context(item_analysis),
    )


# TCO -----------------------------------------------------------------------------------

TCO_EXTRAS = "discovery/tco_extras.html"
TCO = inline.Rows("tco", "TCO comparison", extras=TCO_EXTRAS, single=True)
ALTERNATIVES = inline.Rows("alternative", "alternative", extras=TCO_EXTRAS)


def _line_rows(alternative_pk: int | str) -> inline.Rows:
    return inline.Rows(
        f"alt{alternative_pk}-line",
        "cost line",
        figures="discovery/line_figures.html",
        extras=TCO_EXTRAS,
    )


def _tco(request: AuthedRequest, uuid: Any, *, edit: bool = False) -> TcoComparison:
    """The engagement's comparison. To read, one not yet started reads as empty; to change
    its rows, it must exist (the first competitor added or the first save starts it)."""
    engagement = _engagement(request, uuid, edit=edit)
    comparison = TcoComparison.objects.filter(engagement=engagement).first()
    if comparison is None:
        if edit:
            raise Http404
        comparison = TcoComparison(engagement=engagement)
    comparison.engagement = engagement
    return comparison


# The chart sits in the page's side column, about 450 pixels wide on a laptop.
TCO_CHART_SIZE = (480, 320)


def _tco_context(comparison: TcoComparison) -> dict[str, Any]:
    organisation = OrganisationSettings.load()
    alternatives = (
        list(TcoAlternative.objects.filter(comparison=comparison).with_totals())
        if comparison.pk
        else []
    )
    rank = {"ours": 0, "competitor": 1, "status_quo": 2}
    alternatives.sort(key=lambda a: (rank[a.kind], a.pk))
    ours = next((a for a in alternatives if a.kind == "ours"), None)
    for alternative in alternatives:
        alternative.difference = alternative.lifetime - ours.lifetime if ours is not None else None
    return {
        "comparison": comparison,
        "alternatives": alternatives,
        "currency": organisation.currency,
        "chart_url": reverse("discovery:tco_chart", args=[comparison.engagement.uuid])
        + f"?v={comparison.version}-{sum(a.version + a.lines_version for a in alternatives)}",
        "chart_size": TCO_CHART_SIZE,
    }


def _alternative_urls(comparison: TcoComparison) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [comparison.engagement.uuid, row.pk]
        return (
            reverse("discovery:alternative", args=args),
            reverse("discovery:alternative_delete", args=args),
        )

    return urls


def _line_urls(comparison: TcoComparison) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [comparison.engagement.uuid, row.pk]
        return (reverse("discovery:line", args=args), reverse("discovery:line_delete", args=args))

    return urls


def _tco_page(
    request: AuthedRequest, comparison: TcoComparison, *, failed: inline.RowEdit | None = None
) -> HttpResponse:
    engagement = comparison.engagement
    organisation = OrganisationSettings.load()
    context = _tco_context(comparison)
    lines = (
        TcoCostLine.objects.filter(alternative__comparison=comparison).order_by("category")
        if comparison.pk
        else []
    )
    by_alternative: dict[int, list[TcoCostLine]] = {}
    for line in lines:
        line.owner = cost_owner_seat(
            line.category,
            maturity_level=organisation.maturity_level,
            partner_led=engagement.partner_led,
        )
        by_alternative.setdefault(line.alternative_id, []).append(line)
    team = {m.role: m.user for m in engagement.account.team.select_related("user")}
    for items in by_alternative.values():
        for line in items:
            line.owner_person = team.get(line.owner)
    cards = []
    for alternative in context["alternatives"]:
        rows = _line_rows(alternative.pk)
        failed_here = failed if failed and failed.card_id.startswith(rows.name + "-") else None
        cards.append(
            {
                "alternative": inline.row_edits(
                    ALTERNATIVES,
                    [alternative],
                    AlternativeForm,
                    _alternative_urls(comparison),
                    failed,
                )[0],
                "rows": rows,
                "edits": inline.row_edits(
                    rows,
                    by_alternative.get(alternative.pk, []),
                    CostLineForm,
                    _line_urls(comparison),
                    failed_here,
                ),
                "add_form": failed_here.form
                if failed_here and not failed_here.row.pk
                else inline.form_for(rows, CostLineForm, None),
                "add_url": reverse("discovery:lines", args=[engagement.uuid, alternative.pk]),
                "downtime_url": reverse(
                    "discovery:downtime", args=[engagement.uuid, alternative.pk]
                ),
            }
        )
    tco_url = reverse("discovery:tco", args=[engagement.uuid])
    header = inline.row_edits(TCO, [comparison], TcoForm, lambda row: (tco_url, ""), failed)[0]
    return render(
        request,
        "discovery/tco.html",
        {
            **context,
            "engagement": engagement,
            "can_edit": engagement.is_editable_by(request.user),
            "header_rows": TCO,
            "header": header,
            "cards": cards,
            "alternative_rows": ALTERNATIVES,
            "add_alternative_form": inline.form_for(ALTERNATIVES, AlternativeForm, None),
            "add_alternative_url": reverse("discovery:alternatives", args=[engagement.uuid]),
            "failure_costs": services.engagement_failure_costs(engagement),
        },
        status=400 if failed else 200,
    )


@require_http_methods(["GET", "POST"])
def tco(request: AuthedRequest, uuid: Any) -> HttpResponse:
    if request.method == "GET":
        return _tco_page(request, _tco(request, uuid))
    # The first save starts the comparison, in the same transaction: a refused one writes nothing.
    comparison = _tco(request, uuid)
    engagement = _engagement(request, uuid, edit=True)
    return inline.row_save(
        request,
        rows=TCO,
        item=comparison,
        make_form=TcoForm,
        save=inline.service_call(services.tco_save, engagement=engagement, actor=request.user),
        urls=lambda row: (request.path, ""),
        context=lambda: _tco_context(comparison),
        page=lambda **extra: _tco_page(request, comparison, **extra),
        back_url=request.path,
    )


@require_GET
def tco_chart(request: AuthedRequest, uuid: Any) -> HttpResponse:
    comparison = _tco(request, uuid)
    context = _tco_context(comparison)
    width, height = TCO_CHART_SIZE
    svg = charts.tco_chart(
        context["alternatives"], currency=context["currency"], width=width, height=height
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
def alternative(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    tco_url = reverse("discovery:tco", args=[uuid])
    if pk is None:
        # A new competitor brings its own card of cost lines: reload the page. The first
        # one starts the comparison, in its own transaction: a refused one leaves nothing.
        engagement = _engagement(request, uuid, edit=True)
        form = AlternativeForm(request.POST, prefix="alternative-new")
        if form.is_valid():
            data, _version = form.data_and_version()
            try:
                with transaction.atomic():
                    started = services.tco_get_or_create(engagement=engagement, actor=request.user)
                    services.alternative_save(comparison=started, actor=request.user, data=data)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        else:
            messages.error(request, "Give the competitor a name.")
        return inline.redirect_to(request, tco_url)
    comparison = _tco(request, uuid, edit=True)
    item = get_object_or_404(TcoAlternative, comparison=comparison, pk=pk)
    return inline.row_save(
        request,
        rows=ALTERNATIVES,
        item=item,
        make_form=AlternativeForm,
        save=inline.service_call(
            services.alternative_save, comparison=comparison, actor=request.user, alternative=item
        ),
        urls=_alternative_urls(comparison),
        context=lambda: _tco_context(comparison),
        page=lambda **extra: _tco_page(request, comparison, **extra),
        back_url=tco_url,
    )


@require_http_methods(["GET", "POST"])
def alternative_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    comparison = _tco(request, uuid, edit=True)
    item = get_object_or_404(TcoAlternative, comparison=comparison, pk=pk)
    tco_url = reverse("discovery:tco", args=[uuid])
    if request.method == "POST":
        try:
            services.alternative_delete(alternative=item, actor=request.user)
        except ValidationError as refusal:
            messages.error(request, " ".join(refusal.messages))
        else:
            messages.success(request, f"“{item}” removed from the comparison.")
        return inline.redirect_to(request, tco_url)
    return render(
        request,
        "engagements/confirm_delete.html",
        {"object": item, "kind": "alternative and its cost lines", "cancel_url": tco_url},
    )


def _line_save(
    request: AuthedRequest,
    comparison: TcoComparison,
    alternative: TcoAlternative,
    item: TcoCostLine | None,
) -> HttpResponse:
    def refetch(row: Model) -> Model:
        line = TcoCostLine.objects.get(pk=row.pk)
        _annotate_owner(line, comparison)
        return line

    return inline.row_save(
        request,
        rows=_line_rows(alternative.pk),
        item=item,
        make_form=CostLineForm,
        save=inline.service_call(
            services.cost_line_save, alternative=alternative, actor=request.user, line=item
        ),
        urls=_line_urls(comparison),
        context=lambda: _tco_context(comparison),
        page=lambda **extra: _tco_page(request, comparison, **extra),
        back_url=reverse("discovery:tco", args=[comparison.engagement.uuid]),
        refetch=refetch,
    )


def _annotate_owner(line: TcoCostLine, comparison: TcoComparison) -> None:
    engagement = comparison.engagement
    line.owner = cost_owner_seat(
        line.category,
        maturity_level=OrganisationSettings.load().maturity_level,
        partner_led=engagement.partner_led,
    )
    seat = engagement.account.team.select_related("user").filter(role=line.owner).first()
    line.owner_person = seat.user if seat else None


@require_POST
def lines(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    comparison = _tco(request, uuid, edit=True)
    alternative = get_object_or_404(TcoAlternative, comparison=comparison, pk=pk)
    return _line_save(request, comparison, alternative, None)


@require_POST
def line(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    comparison = _tco(request, uuid, edit=True)
    item = get_object_or_404(
        TcoCostLine.objects.select_related("alternative"), alternative__comparison=comparison, pk=pk
    )
    return _line_save(request, comparison, item.alternative, item)


@require_http_methods(["GET", "POST"])
def line_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    comparison = _tco(request, uuid, edit=True)
    item = get_object_or_404(
        TcoCostLine.objects.select_related("alternative"), alternative__comparison=comparison, pk=pk
    )
    return inline.row_delete(
        request,
        rows=_line_rows(item.alternative_id),
        item=item,
        delete=lambda: services.cost_line_delete(line=item, actor=request.user),
        back_url=reverse("discovery:tco", args=[uuid]),
        context=lambda: _tco_context(comparison),
    )


@require_POST
def downtime(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    comparison = _tco(request, uuid, edit=True)
    alternative = get_object_or_404(TcoAlternative, comparison=comparison, pk=pk)
    try:
        services.downtime_from_failure_costs(alternative=alternative, actor=request.user)
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
    else:
        messages.success(request, f"Downtime cost of “{alternative}” taken from the failure costs.")
    return inline.redirect_to(request, reverse("discovery:tco", args=[uuid]))
