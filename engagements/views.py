from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce, TruncQuarter
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engagements import charts, services
from engagements.forms import (
    AccountFilterForm,
    AccountForm,
    AccountTemperatureForm,
    AdoptionStepForm,
    AttendanceForm,
    AttendanceLineFormSet,
    CareerNoteForm,
    ContactForm,
    EngagementFilterForm,
    EngagementForm,
    MetricReadingForm,
    MilestoneForm,
    NewMilestoneForm,
    NextStepForm,
    OneOnOneForm,
    OneOnOneOpportunityForm,
    OneOnOneStartForm,
    ParticipationFilterForm,
    PostSaleActivityForm,
    QbrRequestForm,
    ScopeChangeForm,
    ScopeItemForm,
    StageChangeForm,
    SuccessMetricForm,
    SuccessPlanForm,
    TeamMemberForm,
)
from engagements.models import (
    OPEN_STAGES,
    WON_STAGES,
    Account,
    AccountTeamMember,
    AccountTemperature,
    ActivityKind,
    AdoptionStep,
    AttendanceMode,
    CareerNote,
    Contact,
    Document,
    DocumentKind,
    DocumentStatus,
    Engagement,
    Milestone,
    MilestoneAttendance,
    MilestoneQuerySet,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    PostSaleActivity,
    ScopeCause,
    ScopeChange,
    ScopeItem,
    Stage,
    SuccessMetric,
    SuccessPlan,
)
from tcp import inline
from tcp.http import AuthedRequest
from tcp.models import AuditLogEntry, OrganisationSettings, User
from tcp.pagecache import reusable
from tcp.pagination import page_with_total
from tcp.services import EditConflict, audit_trail

PAGE_SIZE = 50
# The account page shows the latest engagements; the engagement list has them all.
ACCOUNT_PAGE_ENGAGEMENTS = 25
# A person's name on a row needs these fields only (User.__str__).
NAME_FIELDS = ("first_name", "last_name", "username")
PEOPLE = ("commercial_lead", "delivery_manager")


def _apply_errors(form: BaseForm, error: ValidationError) -> None:
    """Put a service's refusal beside the fields it names (or above the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _redirect(request: AuthedRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# Accounts ------------------------------------------------------------------------------


@require_GET
@reusable
def account_list(request: AuthedRequest) -> HttpResponse:
    form = AccountFilterForm(request.GET or None)
    # Only what a row shows: notes and timestamps would be fetched and parsed for nothing.
    accounts = Account.objects.visible_to(request.user).only(
        "uuid", "name", "industry", "region", "segment"
    )
    # An invalid value in one filter drops that filter only: cleaned_data keeps the rest.
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if data.get("q"):
        accounts = accounts.filter(Q(name__icontains=data["q"]) | Q(external_id=data["q"]))
    for field in ("industry", "region", "segment"):
        if data.get(field):
            accounts = accounts.filter(**{field: data[field]})
    sort = data.get("sort") or "name"
    open_pipeline = (
        Engagement.objects.filter(account=OuterRef("pk"), stage__in=OPEN_STAGES)
        .values("account")
        .annotate(total=Sum("value"))
        .values("total")
    )
    money = DecimalField(max_digits=16, decimal_places=2)
    rows = accounts.annotate(
        open_pipeline=Coalesce(
            Subquery(open_pipeline, output_field=money), Value(0, output_field=money)
        )
    ).order_by(sort, "id")
    page = page_with_total(
        rows=rows, counted=accounts, number=request.GET.get("page"), per_page=PAGE_SIZE
    )
    template = "engagements/account_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, {"form": form, "page": page, "sort": sort})


def _visible_account(request: AuthedRequest, uuid: Any) -> Account:
    return get_object_or_404(Account.objects.visible_to(request.user), uuid=uuid)


def _editable_account(request: AuthedRequest, uuid: Any) -> Account:
    account = _visible_account(request, uuid)
    if not account.is_editable_by(request.user):
        raise Http404
    return account


@functools.cache
def _blank_contact_form() -> str:
    """The empty “add a contact” form, rendered once per process.

    It holds nothing from the account or the person (the CSRF token sits outside it), so
    every account page shows the same markup; rendering its widgets is most of that page's
    template time.
    """
    return str(ContactForm(prefix="contact"))


@require_GET
@reusable
def account_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    account = _visible_account(request, uuid)
    can_edit = account.is_editable_by(request.user)
    engagements = (
        Engagement.objects.visible_to(request.user)
        .filter(account=account)
        .select_related("commercial_lead", "delivery_manager")
        # What a row shows; descriptions and people's full records stay in the database.
        .only(
            "uuid",
            "name",
            "stage",
            "value",
            "opened_on",
            "proposal_on",
            *(f"{person}__{field}" for person in PEOPLE for field in NAME_FIELDS),
        )
        .order_by("-opened_on", "-id")[:ACCOUNT_PAGE_ENGAGEMENTS]
    )
    organisation = OrganisationSettings.load()
    return render(
        request,
        "engagements/account_detail.html",
        {
            "account": account,
            "can_edit": can_edit,
            "team": account.team.select_related("user"),
            "contacts": account.contacts.all(),
            "engagements": engagements,
            "adoption_date": organisation.tcp_adoption_date,
            "engagement_limit": ACCOUNT_PAGE_ENGAGEMENTS,
            "contact_form": _blank_contact_form() if can_edit else None,
            "trail": audit_trail(account, limit=10),
        },
    )


@require_http_methods(["GET", "POST"])
def account_create(request: AuthedRequest) -> HttpResponse:
    if not (request.user.sees_everything or request.user.is_commercial):
        raise Http404
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Account “{account}” created.")
            return redirect(account)
    return render(request, "engagements/account_form.html", {"form": form, "account": None})


@require_http_methods(["GET", "POST"])
def account_edit(request: AuthedRequest, uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(account=account, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Account saved.")
            return redirect(account)
    if form.errors:
        account.refresh_from_db()
    return render(request, "engagements/account_form.html", {"form": form, "account": account})


@require_POST
def contact_add(request: AuthedRequest, uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    form = ContactForm(request.POST, prefix="contact")
    if form.is_valid():
        try:
            services.contact_save(account=account, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Contact “{form.cleaned_data['name']}” added.")
            if not request.htmx:
                return redirect(account)
            form = ContactForm(prefix="contact")
    context = {
        "account": account,
        "can_edit": True,
        "contacts": account.contacts.all(),
        "contact_form": form,
    }
    if request.htmx:
        return render(request, "engagements/account_detail.html#contacts", context)
    return render(request, "engagements/contact_form.html", {"form": form, "account": account})


@require_http_methods(["GET", "POST"])
def contact_edit(request: AuthedRequest, uuid: Any, contact_uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    contact = get_object_or_404(Contact, account=account, uuid=contact_uuid)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_save(
                account=account, contact=contact, actor=request.user, data=form.cleaned_data
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Contact saved.")
            return redirect(account)
    return render(
        request,
        "engagements/contact_form.html",
        {"form": form, "account": account, "contact": contact},
    )


@require_http_methods(["GET", "POST"])
def contact_delete(request: AuthedRequest, uuid: Any, contact_uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    contact = get_object_or_404(Contact, account=account, uuid=contact_uuid)
    if request.method == "POST":
        services.contact_delete(contact=contact, actor=request.user)
        messages.success(request, f"Contact “{contact.name}” removed.")
        return _redirect(request, account.get_absolute_url())
    return render(
        request,
        "engagements/confirm_delete.html",
        {"object": contact, "kind": "contact", "cancel_url": account.get_absolute_url()},
    )


@require_http_methods(["GET", "POST"])
def team_add(request: AuthedRequest, uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    # The form is fetched when asked for: its list of people grows with the company.
    if request.method == "GET":
        blank = {"account": account, "team_form": TeamMemberForm(prefix="team")}
        if request.htmx:
            return render(request, "engagements/team_form.html#form", blank)
        return render(request, "engagements/team_form.html", blank)
    form = TeamMemberForm(request.POST, prefix="team")
    added = False
    if form.is_valid():
        try:
            services.team_member_add(
                account=account,
                user=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['user']} joined the account team.")
            if not request.htmx:
                return redirect(account)
            added = True
    context: dict[str, Any] = {
        "account": account,
        "can_edit": True,
        "team": account.team.select_related("user"),
        "team_form": None if added else form,
    }
    if request.htmx:
        return render(request, "engagements/account_detail.html#team", context)
    return render(request, "engagements/team_form.html", context)


@require_http_methods(["GET", "POST"])
def team_remove(request: AuthedRequest, uuid: Any, member_id: int) -> HttpResponse:
    account = _editable_account(request, uuid)
    member = get_object_or_404(
        AccountTeamMember.objects.select_related("user"), account=account, pk=member_id
    )
    if request.method == "POST":
        services.team_member_remove(member=member, actor=request.user)
        messages.success(request, f"{member.user} left the account team.")
        return _redirect(request, account.get_absolute_url())
    return render(
        request,
        "engagements/confirm_delete.html",
        {"object": member, "kind": "team seat", "cancel_url": account.get_absolute_url()},
    )


# Engagements ---------------------------------------------------------------------------


@require_GET
@reusable
def engagement_list(request: AuthedRequest) -> HttpResponse:
    form = EngagementFilterForm(request.GET or None)
    engagements = Engagement.objects.visible_to(request.user).select_related(
        "account", "commercial_lead"
    )
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if data.get("q"):
        engagements = engagements.filter(
            Q(name__icontains=data["q"])
            | Q(account__name__icontains=data["q"])
            | Q(external_id=data["q"])
        )
    if data.get("stage"):
        engagements = engagements.filter(stage=data["stage"])
    if data.get("account"):
        engagements = engagements.filter(account__uuid=data["account"])
    if data.get("mine"):
        engagements = engagements.filter(
            Q(commercial_lead=request.user) | Q(delivery_manager=request.user)
        )
    sort = data.get("sort") or EngagementFilterForm.DEFAULT_SORT
    page = page_with_total(
        rows=engagements.order_by(sort, "-id"),
        counted=engagements,
        number=request.GET.get("page"),
        per_page=PAGE_SIZE,
    )
    template = "engagements/engagement_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, {"form": form, "page": page, "sort": sort})


def _visible_engagement(request: AuthedRequest, uuid: Any) -> Engagement:
    return get_object_or_404(
        Engagement.objects.visible_to(request.user)
        .with_scope()
        # The people the page names; who made the last stage change shows in the history.
        .select_related("account", "commercial_lead", "delivery_manager"),
        uuid=uuid,
    )


def _editable_engagement(request: AuthedRequest, uuid: Any) -> Engagement:
    engagement = _visible_engagement(request, uuid)
    if not engagement.is_editable_by(request.user):
        raise Http404
    return engagement


def _engagement_context(
    request: AuthedRequest, engagement: Engagement, **extra: Any
) -> dict[str, Any]:
    can_edit = engagement.is_editable_by(request.user)
    organisation = OrganisationSettings.load()
    return {
        "engagement": engagement,
        "can_edit": can_edit,
        "drift": engagement.scope_drift(organisation.scope_tolerance_pct),
        "timeline": engagement.timeline(organisation.timeline_grace_days),
        "missed_milestones": list(
            Milestone.objects.missed_by_lead().filter(engagement=engagement).order_by("held_on")
        ),
        "stage_form": extra.pop("stage_form", None) or StageChangeForm(engagement=engagement),
        "history": engagement.stage_changes.select_related("by")[:20],
        "product_lines": engagement.product_lines.all(),
        "pre_adoption": engagement.is_pre_adoption(organisation.tcp_adoption_date),
        "organisation": organisation,
        "trail": audit_trail(engagement, limit=10),
        "notices": services.engagement_notices(engagement),
        **extra,
    }


@require_GET
@reusable
def engagement_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    engagement = _visible_engagement(request, uuid)
    return render(
        request, "engagements/engagement_detail.html", _engagement_context(request, engagement)
    )


@require_POST
def engagement_advance(request: AuthedRequest, uuid: Any) -> HttpResponse:
    engagement = _editable_engagement(request, uuid)
    form = StageChangeForm(request.POST, engagement=engagement)
    blockers: list[services.Blocker] = []
    if form.is_valid():
        try:
            services.engagement_advance(
                engagement=engagement,
                to_stage=form.cleaned_data["to_stage"],
                on=form.cleaned_data["on"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except services.StageChangeRefused as refusal:
            blockers = refusal.blockers
        else:
            messages.success(request, f"Moved to {engagement.get_stage_display().lower()}.")
            if not request.htmx:
                return redirect(engagement)
            engagement = _visible_engagement(request, uuid)
            form = StageChangeForm(engagement=engagement)
    context = _engagement_context(request, engagement, stage_form=form, blockers=blockers)
    template = "engagements/engagement_detail.html"
    if request.htmx:
        template += "#main"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def engagement_create(request: AuthedRequest, uuid: Any) -> HttpResponse:
    account = _editable_account(request, uuid)
    form = EngagementForm(request.POST or None, initial={"commercial_lead": request.user})
    blockers: list[services.Blocker] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        product_lines = data.pop("product_lines")
        try:
            engagement = services.engagement_create(
                account=account, actor=request.user, product_lines=product_lines, **data
            )
        except services.StageChangeRefused as refusal:
            blockers = refusal.blockers
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Engagement “{engagement}” opened in discovery.")
            return redirect(engagement)
    return render(
        request,
        "engagements/engagement_form.html",
        {"form": form, "account": account, "engagement": None, "blockers": blockers},
    )


@require_http_methods(["GET", "POST"])
def engagement_edit(request: AuthedRequest, uuid: Any) -> HttpResponse:
    engagement = _editable_engagement(request, uuid)
    form = EngagementForm(request.POST or None, instance=engagement)
    blockers: list[services.Blocker] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        product_lines = data.pop("product_lines")
        try:
            services.engagement_update(
                engagement=engagement, actor=request.user, data=data, product_lines=product_lines
            )
        except services.StageChangeRefused as refusal:
            blockers = refusal.blockers
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Engagement saved.")
            return redirect(engagement)
    if form.errors or blockers:
        engagement.refresh_from_db()
    return render(
        request,
        "engagements/engagement_form.html",
        {
            "form": form,
            "account": engagement.account,
            "engagement": engagement,
            "blockers": blockers,
        },
    )


# Delivery: scope, milestones and attendance ---------------------------------------------

SCOPE_EXTRAS = "engagements/delivery_extras.html"
SCOPE_ITEMS = inline.Rows("scope-item", "scope item", extras=SCOPE_EXTRAS)
SCOPE_CHANGES = inline.Rows("scope-change", "scope change", extras=SCOPE_EXTRAS)
MILESTONES = inline.Rows(
    "milestone", "milestone", figures="engagements/milestone_figures.html", extras=SCOPE_EXTRAS
)


def _delivery_engagement(request: AuthedRequest, uuid: Any) -> Engagement:
    return get_object_or_404(
        Engagement.objects.visible_to(request.user)
        .with_scope()
        .select_related("account", "commercial_lead", "delivery_manager"),
        uuid=uuid,
    )


def _delivery_access(request: AuthedRequest, uuid: Any, *, scope: bool = False) -> Engagement:
    """Scope items are estimated by the account team before the contract; scope changes,
    milestones and attendance are kept by the people who deliver the engagement (they
    measure the commercial lead, so the lead does not keep them)."""
    engagement = _delivery_engagement(request, uuid)
    allowed = (
        engagement.is_editable_by(request.user)
        if scope
        else engagement.is_deliverable_by(request.user)
    )
    if not allowed:
        raise Http404
    return engagement


def delivery_url(engagement: Engagement, anchor: str = "") -> str:
    url = reverse("engagements:delivery", args=[engagement.uuid])
    return f"{url}#{anchor}" if anchor else url


def _delivery_row_urls(engagement: Engagement, name: str) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [engagement.uuid, row.pk]
        return (
            reverse(f"engagements:{name}", args=args),
            reverse(f"engagements:{name}_delete", args=args),
        )

    return urls


def _milestones(engagement: Engagement) -> QuerySet[Milestone]:
    lead_attendance = MilestoneAttendance.objects.filter(
        milestone=OuterRef("pk"), person=OuterRef("engagement__commercial_lead")
    )
    return (
        Milestone.objects.filter(engagement=engagement)
        .with_lead_contribution()
        .annotate(
            lead_mode=Subquery(lead_attendance.values("mode")[:1]),
            recorded=Count("attendance"),
        )
    )


def _delivery_context(engagement: Engagement, *, fresh: bool = True) -> dict[str, Any]:
    """The figures around the rows: drift, timeline and participation. Shared by the page
    and every row save's reply (`fresh`: reread after the save), so they stay current as
    people type."""
    organisation = OrganisationSettings.load()
    if fresh:
        engagement = Engagement.objects.with_scope().get(pk=engagement.pk)
    by_cause = {
        row["cause"]: row
        for row in ScopeChange.objects.filter(engagement=engagement)
        .values("cause")
        .annotate(added=Sum("effort_delta_days"), size=Sum(Abs("effort_delta_days")), n=Count("id"))
        .order_by()
    }
    causes: list[dict[str, Any]] = [
        {"label": cause.label, **by_cause[cause.value]} for cause in ScopeCause if cause in by_cause
    ]
    scope = ScopeItem.objects.filter(engagement=engagement).aggregate(
        days=Sum("estimated_days"), n=Count("id")
    )
    critical = Milestone.objects.filter(engagement=engagement, critical=True, held_on__isnull=False)
    participation = critical.with_lead_contribution().aggregate(
        held=Count("id"), contributed=Count("id", filter=Q(lead_contributed=True))
    )
    net = sum((c["added"] for c in causes), Decimal(0))
    return {
        "engagement": engagement,
        "organisation": organisation,
        "drift": engagement.scope_drift(organisation.scope_tolerance_pct),
        "timeline": engagement.timeline(organisation.timeline_grace_days),
        "causes": causes,
        "scope_total": scope,
        "net_change": net,
        "current_effort": (engagement.contracted_effort_days or Decimal(0)) + net,
        "participation": participation,
    }


def _scope_change_form_factory(engagement: Engagement) -> Callable[..., Any]:
    people = User.objects.filter(is_active=True).only(*NAME_FIELDS)
    choices: list[tuple[Any, str]] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        form = ScopeChangeForm(*args, people=people, **kwargs)
        # One query for the page's approvers, not one per scope change card.
        if not choices:
            choices.extend([("", "---------"), *((p.pk, str(p)) for p in people)])
        cast(forms.ModelChoiceField, form.fields["approved_by"]).choices = choices
        return form

    return make


def _delivery_page(
    request: AuthedRequest, engagement: Engagement, *, failed: inline.RowEdit | None = None
) -> HttpResponse:
    context = _delivery_context(engagement, fresh=False)
    can_edit = engagement.is_editable_by(request.user)
    can_attend = can_record = (
        engagement.is_deliverable_by(request.user)
        and request.user.pk != engagement.commercial_lead_id
    )
    can_scope = not engagement.scope_is_frozen and can_edit
    can_change = can_record and engagement.stage in WON_STAGES
    changes = ScopeChange.objects.filter(engagement=engagement).select_related("approved_by")
    make_change = _scope_change_form_factory(engagement)
    sections: dict[str, tuple[inline.Rows, Any, Any]] = {
        "items": (SCOPE_ITEMS, ScopeItemForm, ScopeItem.objects.filter(engagement=engagement)),
        "changes": (SCOPE_CHANGES, make_change, changes),
        "milestones": (MILESTONES, MilestoneForm, _milestones(engagement)),
    }
    url_names = {"items": "scope_item", "changes": "scope_change", "milestones": "milestone"}
    add_forms = {"items": ScopeItemForm, "changes": make_change, "milestones": NewMilestoneForm}
    blocks: dict[str, Any] = {}
    for key, (rows, make_form, items) in sections.items():
        urls = _delivery_row_urls(engagement, url_names[key])
        model = items.model
        blocks[key] = {
            "rows": rows,
            "edits": inline.row_edits(rows, items, make_form, urls, failed),
            "add_form": failed.form
            if failed and not failed.row.pk and isinstance(failed.row, model)
            else inline.form_for(rows, add_forms[key], None),
            "add_url": reverse(f"engagements:{url_names[key]}s", args=[engagement.uuid]),
        }
    return render(
        request,
        "engagements/delivery.html",
        {
            **context,
            "blocks": blocks,
            "can_scope": can_scope,
            "can_record": can_record,
            "can_change": can_change,
            "can_attend": can_attend,
            "ratings": engagement.ratings.all(),
            "trail": audit_trail(engagement, limit=15),
        },
        status=400 if failed else 200,
    )


@require_GET
def delivery(request: AuthedRequest, uuid: Any) -> HttpResponse:
    return _delivery_page(request, _delivery_engagement(request, uuid))


def _delivery_row(
    request: AuthedRequest,
    uuid: Any,
    pk: int | None = None,
    *,
    kind: str,
) -> HttpResponse:
    engagement = _delivery_engagement(request, uuid)
    rows, model, url_name = {
        "items": (SCOPE_ITEMS, ScopeItem, "scope_item"),
        "changes": (SCOPE_CHANGES, ScopeChange, "scope_change"),
        "milestones": (MILESTONES, Milestone, "milestone"),
    }[kind]
    if request.method == "GET":
        return redirect(delivery_url(engagement, f"{rows.name}-{pk or 'add'}"))
    _delivery_access(request, uuid, scope=kind == "items")
    item = get_object_or_404(model, engagement=engagement, pk=pk) if pk else None
    make_form: Any
    save: Callable[..., Model]
    if kind == "items":
        make_form, save = ScopeItemForm, services.scope_item_save
        bound: dict[str, Any] = {"item": item}
    elif kind == "changes":
        make_form, save = _scope_change_form_factory(engagement), services.scope_change_save
        bound = {"change": item}
    else:
        make_form = MilestoneForm if item else NewMilestoneForm
        save, bound = services.milestone_save, {"milestone": item}
    return inline.row_save(
        request,
        rows=rows,
        item=item,
        make_form=make_form,
        save=inline.service_call(save, engagement=engagement, actor=request.user, **bound),
        urls=_delivery_row_urls(engagement, url_name),
        context=lambda: {
            **_delivery_context(engagement),
            "can_attend": engagement.is_deliverable_by(request.user),
        },
        page=lambda **extra: _delivery_page(request, engagement, **extra),
        back_url=delivery_url(engagement),
        refetch=(lambda row: _milestones(engagement).get(pk=row.pk))
        if kind == "milestones"
        else (lambda row: row),
        card_form=MilestoneForm if kind == "milestones" else None,
    )


def _delivery_row_delete(request: AuthedRequest, uuid: Any, pk: int, *, kind: str) -> HttpResponse:
    engagement = _delivery_access(request, uuid, scope=kind == "items")
    if kind == "items":
        item: Any = get_object_or_404(ScopeItem, engagement=engagement, pk=pk)
        rows = SCOPE_ITEMS

        def delete() -> None:
            services.scope_item_delete(item=item, actor=request.user)
    elif kind == "changes":
        item = get_object_or_404(ScopeChange, engagement=engagement, pk=pk)
        rows = SCOPE_CHANGES

        def delete() -> None:
            services.scope_change_delete(change=item, actor=request.user)
    else:
        item = get_object_or_404(Milestone, engagement=engagement, pk=pk)
        rows = MILESTONES

        def delete() -> None:
            services.milestone_delete(milestone=item, actor=request.user)

    return inline.row_delete(
        request,
        rows=rows,
        item=item,
        delete=delete,
        back_url=delivery_url(engagement),
        context=lambda: _delivery_context(engagement),
    )


scope_item = require_http_methods(["GET", "POST"])(functools.partial(_delivery_row, kind="items"))
scope_change = require_http_methods(["GET", "POST"])(
    functools.partial(_delivery_row, kind="changes")
)
milestone = require_http_methods(["GET", "POST"])(
    functools.partial(_delivery_row, kind="milestones")
)
scope_item_delete = require_http_methods(["GET", "POST"])(
    functools.partial(_delivery_row_delete, kind="items")
)
scope_change_delete = require_http_methods(["GET", "POST"])(
    functools.partial(_delivery_row_delete, kind="changes")
)
milestone_delete = require_http_methods(["GET", "POST"])(
    functools.partial(_delivery_row_delete, kind="milestones")
)


# Attendance ----------------------------------------------------------------------------


def _attendance_lines(milestone: Milestone, team: list[services.TeamSeat]) -> list[dict[str, Any]]:
    """Initial rows: what was recorded, else the commercial lead and the delivery manager
    contributing and everyone else absent, so the usual case is one click."""
    recorded = {a.person_id: a for a in milestone.attendance.all()}
    engagement = milestone.engagement
    lines = []
    for seat in team:
        got = recorded.get(seat.person.pk)
        default = (
            AttendanceMode.CONTRIBUTED
            if seat.person.pk in (engagement.commercial_lead_id, engagement.delivery_manager_id)
            else AttendanceMode.ABSENT
        )
        lines.append(
            {
                "person": seat.person.pk,
                "mode": got.mode if got else default,
                "note": got.note if got else "",
            }
        )
    return lines


@require_http_methods(["GET", "POST"])
def milestone_attendance(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    engagement = get_object_or_404(
        Engagement.objects.deliverable_by(request.user).select_related(
            "account", "commercial_lead", "delivery_manager"
        ),
        uuid=uuid,
    )
    item = get_object_or_404(
        Milestone.objects.prefetch_related("attendance"), engagement=engagement, pk=pk
    )
    item.engagement = engagement
    team = services.engagement_team(engagement)
    people = {seat.person.pk: seat for seat in team}
    back = request.POST.get("next") or request.GET.get("next") or ""
    # Only a path on this site: anything else ("-1", a name) redirect() would try to reverse,
    # and a control character does not belong in a Location header.
    if not (
        back.startswith("/")
        and back.isprintable()
        and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    ):
        back = ""
    back = back or delivery_url(engagement, f"milestone-{item.pk}")
    form = AttendanceForm(request.POST or None, milestone=item)
    formset = AttendanceLineFormSet(
        request.POST or None, initial=_attendance_lines(item, team), prefix="line"
    )
    error = ""
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            posted = [line for line in formset.cleaned_data if line]
            if sorted(line["person"] for line in posted) != sorted(people):
                # A stale form (the team changed) or a forged one: never a partial record.
                raise ValidationError(
                    "The team is not as it was when this form opened: someone listed is not "
                    "on this engagement's team, or someone is missing. Reload the form."
                )
            lines = [
                services.AttendanceLine(
                    people[line["person"]].person, line["mode"], line.get("note", "")
                )
                for line in posted
            ]
            services.milestone_attendance_record(
                milestone=item,
                actor=request.user,
                held_on=form.cleaned_data["held_on"],
                lines=lines,
            )
        except ValidationError as refusal:
            _apply_errors(form, refusal)
        else:
            missed = Milestone.objects.missed_by_lead().filter(pk=item.pk).exists()
            note = f"Attendance recorded for the {item.kind_label.lower()} of {engagement}."
            if missed:
                note += f" {engagement.commercial_lead} did not contribute: it is flagged."
            if request.htmx and request.POST.get("inline"):
                return render(
                    request,
                    "engagements/attendance.html#recorded",
                    {"milestone": item, "engagement": engagement, "note": note, "missed": missed},
                )
            messages.warning(request, note) if missed else messages.success(request, note)
            return inline.redirect_to(request, back)
    elif request.method == "POST":
        error = "Not saved: fix the marked fields."
    rows = []
    for line_form in formset.forms:
        person = str(line_form["person"].value())
        # A forged id of a thousand digits (or "²", a digit int() cannot read) is no one.
        known = person.isascii() and person.isdigit() and len(person) <= 18
        rows.append({"seat": people.get(int(person)) if known else None, "form": line_form})
    context = {
        "engagement": engagement,
        "milestone": item,
        "form": form,
        "formset": formset,
        "rows": rows,
        "back": back,
        "error": error,
        "inline": bool(request.GET.get("inline") or request.POST.get("inline")),
    }
    template = "engagements/attendance.html"
    if request.htmx and context["inline"]:
        template += "#attendance_form"
    # htmx swaps only successful replies, so a refused inline form comes back as 200.
    refused = request.method == "POST" and not request.htmx
    return render(request, template, context, status=400 if refused else 200)


# My milestones and delivery participation ----------------------------------------------

UPCOMING_PAGE = 25


def _milestone_rows(queryset: MilestoneQuerySet) -> MilestoneQuerySet:
    """What a milestone list row shows, in a fixed number of queries."""
    lead_attendance = MilestoneAttendance.objects.filter(
        milestone=OuterRef("pk"), person=OuterRef("engagement__commercial_lead")
    )
    return (
        queryset.with_lead_contribution()
        .annotate(
            lead_mode=Subquery(lead_attendance.values("mode")[:1]),
            recorded=Count("attendance"),
        )
        .select_related("engagement__account", "engagement__commercial_lead")
        .only(
            "uuid",
            "kind",
            "title",
            "planned_on",
            "held_on",
            "critical",
            "engagement__uuid",
            "engagement__name",
            "engagement__commercial_lead_id",
            "engagement__delivery_manager_id",
            "engagement__account__name",
            "engagement__account__uuid",
            *(f"engagement__commercial_lead__{f}" for f in NAME_FIELDS),
        )
    )


@require_GET
def my_milestones(request: AuthedRequest) -> HttpResponse:
    """The delivery manager's desk: milestones waiting for their attendance record, and
    what is coming up."""
    user = request.user
    today = timezone.localdate()
    mine = Milestone.objects.filter(engagement__delivery_manager=user).exclude(
        engagement__stage__in=[Stage.LOST, Stage.CANCELLED]
    )
    awaiting = _milestone_rows(services.awaiting_attendance(user)).order_by("planned_on", "id")
    upcoming = _milestone_rows(mine.filter(planned_on__gt=today, held_on__isnull=True)).order_by(
        "planned_on", "id"
    )
    page = Paginator(upcoming, UPCOMING_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "engagements/my_milestones.html",
        {"awaiting": awaiting[:50], "page": page, "today": today},
    )


def _participation_by_quarter(start: dt.date, end: dt.date) -> list[tuple[dt.date, int, int]]:
    rows = (
        Milestone.objects.filter(critical=True, held_on__range=(start, end))
        .with_lead_contribution()
        .annotate(quarter=TruncQuarter("held_on"))
        .values("quarter")
        .annotate(held=Count("id"), contributed=Count("id", filter=Q(lead_contributed=True)))
        .order_by("quarter")
    )
    return [(row["quarter"], row["contributed"], row["held"]) for row in rows]


@require_GET
def participation_chart(request: AuthedRequest) -> HttpResponse:
    if not request.user.sees_everything:
        raise Http404
    form = ParticipationFilterForm(request.GET or None)
    start, end = form.window()
    svg = charts.participation_chart(_participation_by_quarter(start, end))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def participation(request: AuthedRequest) -> HttpResponse:
    """For leadership: critical milestones held without the commercial lead contributing,
    and each lead's participation over the chosen window."""
    if not request.user.sees_everything:
        raise Http404
    form = ParticipationFilterForm(request.GET or None)
    start, end = form.window()
    held = Milestone.objects.filter(critical=True, held_on__range=(start, end))
    by_lead = (
        held.with_lead_contribution()
        .values("engagement__commercial_lead")
        .annotate(
            held_count=Count("id"),
            contributed=Count("id", filter=Q(lead_contributed=True)),
        )
        .order_by("engagement__commercial_lead")
    )
    leads = {
        u.pk: u
        for u in User.objects.filter(pk__in=[row["engagement__commercial_lead"] for row in by_lead])
    }
    rows = sorted(
        (
            {
                "lead": leads[row["engagement__commercial_lead"]],
                "held": row["held_count"],
                "contributed": row["contributed"],
                "pct": row["contributed"] * 100 / row["held_count"],
            }
            for row in by_lead
        ),
        key=lambda r: (r["pct"], str(r["lead"])),
    )
    totals = held.with_lead_contribution().aggregate(
        held_count=Count("id"), contributed=Count("id", filter=Q(lead_contributed=True))
    )
    missed = _milestone_rows(held.missed_by_lead()).order_by("-held_on", "-id")
    page = Paginator(missed, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "engagements/participation.html",
        {"form": form, "start": start, "end": end, "rows": rows, "totals": totals, "page": page},
    )


# Golden thread: the success plan ----------------------------------------------------------

PLAN_ACTIVITY_PAGE_SIZE = 20
PLAN_OUTCOME = inline.Rows("outcome", "business outcome", single=True)
PLAN_STEPS = inline.Rows(
    "step",
    "adoption step",
    figures="engagements/success_plan_step_figures.html",
    extras="engagements/success_plan_step_extras.html",
)
PLAN_METRICS = inline.Rows(
    "metric",
    "success metric",
    figures="engagements/success_plan_metric_figures.html",
    extras="engagements/success_plan_metric_extras.html",
)
PLAN_READING_PREFIX = "reading"
PLAN_ACTIVITY_PREFIX = "activity"


def success_plan_url(engagement: Engagement, anchor: str = "") -> str:
    url = reverse("engagements:success_plan", args=[engagement.uuid])
    return f"{url}#{anchor}" if anchor else url


def _plan_engagement(request: AuthedRequest, uuid: Any, *, edit: bool = False) -> Engagement:
    """The engagement if the person sees it; with `edit`, only if they may change its plan."""
    engagement = _visible_engagement(request, uuid)
    if edit and not services.success_plan_editable_by(engagement=engagement, user=request.user):
        raise Http404
    return engagement


def _plan_of(engagement: Engagement) -> SuccessPlan | None:
    plan = SuccessPlan.objects.filter(engagement=engagement).first()
    if plan is not None:
        plan.engagement = engagement
    return plan


def _plan_to_edit(request: AuthedRequest, uuid: Any) -> SuccessPlan:
    plan = _plan_of(_plan_engagement(request, uuid, edit=True))
    if plan is None:
        raise Http404
    return plan


def _plan_row_urls(engagement: Engagement, name: str) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [engagement.uuid, row.pk]
        return (
            reverse(f"engagements:success_plan_{name}", args=args),
            reverse(f"engagements:success_plan_{name}_delete", args=args),
        )

    return urls


def _plan_steps(plan: SuccessPlan) -> QuerySet[AdoptionStep]:
    overdue = Q(done_on__isnull=True, due_on__lt=timezone.localdate())
    return AdoptionStep.objects.filter(plan=plan).annotate(
        overdue=ExpressionWrapper(overdue, output_field=BooleanField())
    )


def _plan_steps_context(plan: SuccessPlan) -> dict[str, Any]:
    """The adoption plan's progress; sent again after every change to a step."""
    summary = AdoptionStep.objects.filter(plan=plan).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(done_on__isnull=False)),
        overdue=Count("pk", filter=Q(done_on__isnull=True, due_on__lt=timezone.localdate())),
    )
    return {"steps_summary": summary}


def _plan_number(value: Decimal | None) -> str:
    """2.50 as 2.5 and 1200.00 as 1,200: readings are read by people, not accountants."""
    return "" if value is None else f"{value.normalize():,f}"


def _plan_metric_figures(metric: SuccessMetric, engagement: Engagement) -> SuccessMetric:
    """What a metric's card shows besides its fields: its figures for people, progress, and
    its chart's address."""
    shown: Any = metric
    shown.display = {
        name: _plan_number(getattr(metric, name)) for name in ("baseline", "target", "current")
    }
    shown.progress = metric.progress_pct(shown.current)
    shown.progress_bar = None if shown.progress is None else max(0, min(100, shown.progress))
    chart = reverse("engagements:success_plan_metric_chart", args=[engagement.uuid, metric.pk])
    # A new address whenever the picture changes, so a cached chart is never stale.
    shown.chart_url = f"{chart}?v={metric.version}-{shown.readings_count}-{shown.readings_sum}"
    return metric


def _plan_metrics(plan: SuccessPlan) -> list[SuccessMetric]:
    return [
        _plan_metric_figures(metric, plan.engagement)
        for metric in services.success_metrics_with_progress(plan)
    ]


def _plan_metric(plan: SuccessPlan, pk: Any) -> SuccessMetric:
    metric = get_object_or_404(services.success_metrics_with_progress(plan), pk=pk)
    return _plan_metric_figures(metric, plan.engagement)


def _plan_metrics_context(
    plan: SuccessPlan,
    *,
    can_edit: bool = True,
    metrics: list[SuccessMetric] | None = None,
    reading_form: MetricReadingForm | None = None,
    reading_status: str = "",
) -> dict[str, Any]:
    """The quick reading form, whose choice of metrics follows every change to them."""
    if not can_edit:
        return {}
    metrics = _plan_metrics(plan) if metrics is None else metrics
    return {
        "metrics": metrics,
        "reading_form": reading_form
        or MetricReadingForm(metrics=metrics, prefix=PLAN_READING_PREFIX),
        "reading_url": reverse("engagements:success_plan_readings", args=[plan.engagement.uuid]),
        "reading_status": reading_status,
    }


def _plan_activities_context(
    request: AuthedRequest,
    plan: SuccessPlan,
    *,
    can_edit: bool = True,
    form: PostSaleActivityForm | None = None,
) -> dict[str, Any]:
    """The post-sale log, newest first, filtered by kind (`?kind=`) and paginated."""
    kind = request.GET.get("kind", "")
    if kind not in ActivityKind.values:
        kind = ""
    activities = PostSaleActivity.objects.filter(plan=plan)
    counts = dict(activities.order_by().values_list("kind").annotate(n=Count("pk")))
    shown = activities.select_related("by").order_by("-on", "-id")
    if kind:
        shown = shown.filter(kind=kind)
    engagement = plan.engagement
    if can_edit and form is None:
        form = PostSaleActivityForm(
            prefix=PLAN_ACTIVITY_PREFIX,
            people=services.success_plan_people(engagement),
            initial={"by": request.user.pk},
        )
    return {
        "engagement": engagement,
        "plan": plan,
        "can_edit": can_edit,
        "activity_kind": kind,
        "activity_kinds": [(k.value, k.label, counts.get(k.value, 0)) for k in ActivityKind],
        "activity_total": sum(counts.values()),
        "activity_page": Paginator(shown, PLAN_ACTIVITY_PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "activity_form": form,
        # Logging keeps the kind shown.
        "activity_url": reverse("engagements:success_plan_activities", args=[engagement.uuid])
        + (f"?kind={kind}" if kind else ""),
        "activity_page_url": success_plan_url(engagement),
    }


def _plan_trail(engagement: Engagement) -> QuerySet[AuditLogEntry]:
    """The engagement's history of its success plan (the plan's changes are recorded on it)."""
    return AuditLogEntry.objects.filter(
        object_type=engagement._meta.label_lower,
        object_id=str(engagement.pk),
        action__in=list(services.SUCCESS_PLAN_ACTIONS),
    ).select_related("actor")[:15]


def _plan_page(
    request: AuthedRequest,
    engagement: Engagement,
    plan: SuccessPlan | None,
    *,
    failed: inline.RowEdit | None = None,
    start_form: SuccessPlanForm | None = None,
    reading_form: MetricReadingForm | None = None,
    activity_form: PostSaleActivityForm | None = None,
) -> HttpResponse:
    can_edit = services.success_plan_editable_by(engagement=engagement, user=request.user)
    refused = bool(failed or start_form or reading_form or activity_form)
    context: dict[str, Any] = {
        "engagement": engagement,
        "plan": plan,
        "can_edit": can_edit,
        "trail": _plan_trail(engagement),
    }
    if plan is None:
        context["start_form"] = start_form or SuccessPlanForm(prefix=PLAN_OUTCOME.name)
        return render(
            request, "engagements/success_plan.html", context, status=400 if refused else 200
        )

    def add_form(rows: inline.Rows, model: type[Model], form_class: Any) -> Any:
        if failed is not None and isinstance(failed.row, model) and not failed.row.pk:
            return failed.form
        return inline.form_for(rows, form_class, None)

    page_url = success_plan_url(engagement)
    metrics = _plan_metrics(plan)
    context.update(
        {
            "outcome_rows": PLAN_OUTCOME,
            "outcome": inline.row_edits(
                PLAN_OUTCOME, [plan], SuccessPlanForm, lambda row: (page_url, ""), failed
            )[0],
            "step_rows": PLAN_STEPS,
            "step_edits": inline.row_edits(
                PLAN_STEPS,
                _plan_steps(plan),
                AdoptionStepForm,
                _plan_row_urls(engagement, "step"),
                failed,
            ),
            "step_add_form": add_form(PLAN_STEPS, AdoptionStep, AdoptionStepForm),
            "step_add_url": reverse("engagements:success_plan_steps", args=[engagement.uuid]),
            **_plan_steps_context(plan),
            "metric_rows": PLAN_METRICS,
            "metric_edits": inline.row_edits(
                PLAN_METRICS,
                metrics,
                SuccessMetricForm,
                _plan_row_urls(engagement, "metric"),
                failed,
            ),
            "metric_add_form": add_form(PLAN_METRICS, SuccessMetric, SuccessMetricForm),
            "metric_add_url": reverse("engagements:success_plan_metrics", args=[engagement.uuid]),
            **_plan_metrics_context(
                plan, can_edit=can_edit, metrics=metrics, reading_form=reading_form
            ),
            **_plan_activities_context(request, plan, can_edit=can_edit, form=activity_form),
        }
    )
    return render(request, "engagements/success_plan.html", context, status=400 if refused else 200)


@require_http_methods(["GET", "POST"])
def success_plan(request: AuthedRequest, uuid: Any) -> HttpResponse:
    if request.method == "GET":
        engagement = _plan_engagement(request, uuid)
        plan = _plan_of(engagement)
        if plan is not None and request.htmx and not request.htmx.boosted:
            # Filtering or paging the post-sale activities.
            can_edit = services.success_plan_editable_by(engagement=engagement, user=request.user)
            return render(
                request,
                "engagements/success_plan.html#activities",
                _plan_activities_context(request, plan, can_edit=can_edit),
            )
        return _plan_page(request, engagement, plan)
    engagement = _plan_engagement(request, uuid, edit=True)
    plan = _plan_of(engagement)
    if plan is None:
        return _plan_start(request, engagement)
    return inline.row_save(
        request,
        rows=PLAN_OUTCOME,
        item=plan,
        make_form=SuccessPlanForm,
        # The outcome's card always carries its version: none means the person was looking
        # at the page before anyone started the plan.
        save=lambda data, version: services.success_plan_save(
            engagement=engagement,
            actor=request.user,
            data=data,
            version=0 if version is None else version,
        ),
        urls=lambda row: (request.path, ""),
        context=dict,
        page=lambda **extra: _plan_page(request, engagement, plan, **extra),
        back_url=request.path,
    )


def _plan_start(request: AuthedRequest, engagement: Engagement) -> HttpResponse:
    form = SuccessPlanForm(request.POST, prefix=PLAN_OUTCOME.name)
    if form.is_valid():
        data, _version = form.data_and_version()
        try:
            services.success_plan_save(
                engagement=engagement, actor=request.user, data=data, version=0
            )
        except EditConflict:
            messages.error(
                request,
                "Someone else started this success plan a moment ago: here it is. Add your "
                "outcome to theirs if it still applies.",
            )
        except ValidationError as error:
            _apply_errors(form, error)
            return _plan_page(request, engagement, None, start_form=form)
        else:
            messages.success(
                request,
                "Success plan started. Next: the adoption steps and how success will be measured.",
            )
        return inline.redirect_to(request, success_plan_url(engagement))
    return _plan_page(request, engagement, None, start_form=form)


@require_POST
def success_plan_step(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    engagement = plan.engagement
    item = get_object_or_404(_plan_steps(plan), pk=pk) if pk else None
    return inline.row_save(
        request,
        rows=PLAN_STEPS,
        item=item,
        make_form=AdoptionStepForm,
        save=lambda data, version: services.adoption_step_save(
            plan=plan, actor=request.user, data=data, step=item, version=version
        ),
        urls=_plan_row_urls(engagement, "step"),
        context=lambda: _plan_steps_context(plan),
        page=lambda **extra: _plan_page(request, engagement, plan, **extra),
        back_url=success_plan_url(engagement),
        refetch=lambda row: _plan_steps(plan).get(pk=row.pk),
    )


@require_http_methods(["GET", "POST"])
def success_plan_step_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    item = get_object_or_404(AdoptionStep, plan=plan, pk=pk)
    item.plan = plan
    return inline.row_delete(
        request,
        rows=PLAN_STEPS,
        item=item,
        delete=lambda: services.adoption_step_delete(step=item, actor=request.user),
        back_url=success_plan_url(plan.engagement),
        context=lambda: _plan_steps_context(plan),
    )


@require_POST
def success_plan_metric(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    engagement = plan.engagement
    item = _plan_metric(plan, pk) if pk else None
    return inline.row_save(
        request,
        rows=PLAN_METRICS,
        item=item,
        make_form=SuccessMetricForm,
        save=lambda data, version: services.success_metric_save(
            plan=plan, actor=request.user, data=data, metric=item, version=version
        ),
        urls=_plan_row_urls(engagement, "metric"),
        context=lambda: _plan_metrics_context(plan),
        page=lambda **extra: _plan_page(request, engagement, plan, **extra),
        back_url=success_plan_url(engagement),
        refetch=lambda row: _plan_metric(plan, row.pk),
    )


@require_http_methods(["GET", "POST"])
def success_plan_metric_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    item = get_object_or_404(SuccessMetric, plan=plan, pk=pk)
    item.plan = plan
    return inline.row_delete(
        request,
        rows=PLAN_METRICS,
        item=item,
        delete=lambda: services.success_metric_delete(metric=item, actor=request.user),
        back_url=success_plan_url(plan.engagement),
        context=lambda: _plan_metrics_context(plan),
    )


@require_GET
def success_plan_metric_chart(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    engagement = _plan_engagement(request, uuid)
    metric = get_object_or_404(SuccessMetric, plan__engagement=engagement, pk=pk)
    readings = list(metric.readings.order_by("on").values_list("on", "value"))
    response = HttpResponse(
        charts.success_metric_chart(metric, readings), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
def success_plan_readings(request: AuthedRequest, uuid: Any) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    engagement = plan.engagement
    metrics = _plan_metrics(plan)
    form = MetricReadingForm(request.POST, metrics=metrics, prefix=PLAN_READING_PREFIX)
    saved: SuccessMetric | None = None
    if form.is_valid():
        data = form.cleaned_data
        metric = next(m for m in metrics if m.pk == data["metric"])
        try:
            services.metric_reading_record(
                metric=metric, actor=request.user, on=data["on"], value=data["value"]
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            saved = _plan_metric(plan, metric.pk)
    if not request.htmx:
        if saved is None:
            return _plan_page(request, engagement, plan, reading_form=form)
        messages.success(request, f"Reading of “{saved}” recorded.")
        return redirect(success_plan_url(engagement, f"metric-{saved.pk}"))
    status = ""
    if saved is not None:
        status = (
            f"Recorded {_plan_number(form.cleaned_data['value'])} for “{saved}” on "
            f"{form.cleaned_data['on']:%d %b %Y}."
        )
        form = MetricReadingForm(
            metrics=metrics, prefix=PLAN_READING_PREFIX, initial={"metric": saved.pk}
        )
    return render(
        request,
        "engagements/success_plan_reading_reply.html",
        {
            "can_edit": True,
            "rows": PLAN_METRICS,
            "edit": inline.edit_for(PLAN_METRICS, saved, None, _plan_row_urls(engagement, "metric"))
            if saved is not None
            else None,
            **_plan_metrics_context(
                plan, metrics=metrics, reading_form=form, reading_status=status
            ),
        },
    )


@require_POST
def success_plan_activities(request: AuthedRequest, uuid: Any) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    engagement = plan.engagement
    form = PostSaleActivityForm(
        request.POST,
        prefix=PLAN_ACTIVITY_PREFIX,
        people=services.success_plan_people(engagement),
    )
    logged = False
    if form.is_valid():
        try:
            services.post_sale_activity_log(plan=plan, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            logged = True
    if request.htmx:
        return render(
            request,
            "engagements/success_plan.html#activities",
            # After a success, a blank form for the next one.
            _plan_activities_context(request, plan, form=None if logged else form),
        )
    if logged:
        messages.success(request, "Post-sale activity logged.")
        kind = request.GET.get("kind", "")
        back = success_plan_url(engagement)
        return redirect(f"{back}?kind={kind}#activities" if kind in ActivityKind.values else back)
    return _plan_page(request, engagement, plan, activity_form=form)


@require_http_methods(["GET", "POST"])
def success_plan_activity_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    plan = _plan_to_edit(request, uuid)
    activity = get_object_or_404(PostSaleActivity, plan=plan, pk=pk)
    activity.plan = plan
    # Back to the same kind and page of the log.
    query = request.GET.urlencode()
    back = success_plan_url(plan.engagement)
    back = f"{back}?{query}#activities" if query else f"{back}#activities"
    if request.method != "POST":
        return render(
            request,
            "engagements/confirm_delete.html",
            {"object": activity, "kind": "post-sale activity", "cancel_url": back},
        )
    services.post_sale_activity_delete(activity=activity, actor=request.user)
    if request.htmx:
        return render(
            request,
            "engagements/success_plan.html#activities",
            _plan_activities_context(request, plan),
        )
    messages.success(request, "Post-sale activity removed.")
    return redirect(back)


# 1:1 cadence meetings ----------------------------------------------------------------------

MEETING = inline.Rows("meeting", "1:1", single=True)
OPPORTUNITIES = inline.Rows("opportunity", "opportunity")
TEMPERATURES = inline.Rows("temperature", "account temperature")
NEXT_STEPS = inline.Rows("step", "next step", figures="engagements/one_on_one_step_figures.html")
CAREER_NOTE = inline.Rows("career-note", "career notes", single=True)
# The manager's tab shows their latest meetings beside the cadence; the meetings tab has all.
RECENT_ONE_ON_ONES = 8

# How the cadence tables sort. "Days since" runs the other way from the date of the last
# 1:1, and someone never met counts as the most days since.
CADENCE_SORTS: dict[str, list[Any]] = {
    "days": [F("last_one_on_one").desc(nulls_last=True), "first_name", "last_name", "id"],
    "-days": [F("last_one_on_one").asc(nulls_first=True), "first_name", "last_name", "id"],
    "name": ["first_name", "last_name", "id"],
    "-name": ["-first_name", "-last_name", "-id"],
    "manager": ["manager__first_name", "manager__last_name", "first_name", "last_name", "id"],
    "-manager": ["-manager__first_name", "-manager__last_name", "first_name", "last_name", "id"],
}


def one_on_one_url(meeting: OneOnOne, anchor: str = "") -> str:
    url = reverse("engagements:one_on_one_detail", args=[meeting.uuid])
    return f"{url}#{anchor}" if anchor else url


def _one_on_one_tabs(user: User, manages: bool) -> list[tuple[str, str]]:
    tabs = [("reports", "My reports")] if manages else []
    if user.sees_everything:
        tabs.append(("everyone", "Everyone's cadence"))
    tabs.append(("meetings", "1:1 meetings"))
    return tabs


def _manages_anyone(user: User) -> bool:
    return User.objects.filter(manager=user, is_active=True).exists()


def _cadence_rows(user: User, show: str, organisation: OrganisationSettings) -> QuerySet[User]:
    today = timezone.localdate()
    latest = OneOnOne.objects.filter(
        seller=OuterRef("pk"), manager=OuterRef("manager"), held_on__lte=today
    ).order_by("-held_on", "-id")
    return (
        services.one_on_one_cadence(
            manager=user if show == "reports" else None, organisation=organisation, today=today
        )
        .select_related("manager")
        .only(*NAME_FIELDS, "manager_id", *(f"manager__{field}" for field in NAME_FIELDS))
        .annotate(last_uuid=Subquery(latest.values("uuid")[:1]))
    )


def _one_on_one_list_page(
    request: AuthedRequest, *, start_form: OneOnOneStartForm | None = None
) -> HttpResponse:
    user = request.user
    manages = _manages_anyone(user)
    tabs = _one_on_one_tabs(user, manages)
    show = "reports" if start_form is not None else request.GET.get("show", "")
    if show not in dict(tabs):
        show = tabs[0][0]
    context: dict[str, Any] = {"tabs": tabs, "show": show, "today": timezone.localdate()}
    if show == "meetings":
        open_steps = (
            NextStep.objects.filter(meeting=OuterRef("pk"), done_on__isnull=True)
            .order_by()
            .values("meeting")
            .annotate(n=Count("id"))
            .values("n")
        )
        meetings = (
            OneOnOne.objects.visible_to(user)
            .select_related("manager", "seller")
            .only(
                "uuid",
                "held_on",
                *(f"{who}__{field}" for who in ("manager", "seller") for field in NAME_FIELDS),
            )
            .annotate(open_steps=Coalesce(Subquery(open_steps), 0))
        )
        context["page"] = Paginator(meetings, PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        organisation = OrganisationSettings.load()
        sort = request.GET.get("sort", "")
        if sort not in CADENCE_SORTS or (show == "reports" and "manager" in sort):
            sort = "-days"
        rows = _cadence_rows(user, show, organisation).order_by(*CADENCE_SORTS[sort])
        context.update(
            page=Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
            sort=sort,
            cadence_days=organisation.one_on_one_cadence_days,
        )
        if show == "reports":
            context["start_form"] = start_form or OneOnOneStartForm(manager=user)
            context["recent"] = (
                OneOnOne.objects.filter(manager=user)
                .select_related("seller")
                .only("uuid", "held_on", *(f"seller__{field}" for field in NAME_FIELDS))[
                    :RECENT_ONE_ON_ONES
                ]
            )
    template = "engagements/one_on_one_list.html"
    if request.htmx and not request.htmx.boosted and start_form is None:
        template += "#results"
    return render(request, template, context, status=200 if start_form is None else 400)


@require_GET
def one_on_one_list(request: AuthedRequest) -> HttpResponse:
    return _one_on_one_list_page(request)


@require_POST
def one_on_one_start(request: AuthedRequest) -> HttpResponse:
    if not _manages_anyone(request.user):
        raise Http404
    form = OneOnOneStartForm(request.POST, manager=request.user)
    if form.is_valid():
        seller = form.cleaned_data["seller"]
        try:
            meeting = services.one_on_one_create(
                manager=request.user,
                seller=seller,
                held_on=form.cleaned_data["held_on"],
                actor=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"1:1 with {seller} opened, its agenda taken from the data.")
            return _redirect(request, one_on_one_url(meeting))
    return _one_on_one_list_page(request, start_form=form)


def _one_on_one(request: AuthedRequest, uuid: Any, *, edit: bool = False) -> OneOnOne:
    """The meeting if the person may see it (the two people and oversight roles); `edit`:
    only the two people. Anyone else gets a 404."""
    meeting = get_object_or_404(
        OneOnOne.objects.visible_to(request.user).select_related("manager", "seller"), uuid=uuid
    )
    if edit and not services.one_on_one_is_party(meeting, request.user):
        raise Http404
    return meeting


def _party_call(
    save: Callable[..., Model], **bound: Any
) -> Callable[[Mapping[str, Any], int | None], Model]:
    """inline.service_call, with a refusal of access read as "not found" like every page."""
    call = inline.service_call(save, **bound)

    def guarded(data: Mapping[str, Any], version: int | None) -> Model:
        try:
            return call(data, version)
        except PermissionDenied:
            raise Http404 from None

    return guarded


def _agenda_view(agenda: Mapping[str, Any]) -> dict[str, Any]:
    """The stored agenda with its dates as dates, for the template."""

    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return {
        **agenda,
        "since": day(agenda.get("since")),
        "missed_since": day(agenda.get("missed_since")),
        "built_on": day(agenda.get("built_on")),
        "missed_milestones": [
            {**m, "held_on": day(m.get("held_on"))} for m in agenda.get("missed_milestones", [])
        ],
        "carried_over": [
            {**s, "due_on": day(s.get("due_on"))} for s in agenda.get("carried_over", [])
        ],
    }


def _meeting_urls(user: User, meeting: OneOnOne) -> Callable[[Model], tuple[str, str]]:
    save = one_on_one_url(meeting)
    remove = (
        reverse("engagements:one_on_one_delete", args=[meeting.uuid])
        if user.pk == meeting.manager_id
        else ""
    )
    return lambda row: (save, remove)


def _meeting_row_urls(meeting: OneOnOne, name: str) -> Callable[[Model], tuple[str, str]]:
    def urls(row: Model) -> tuple[str, str]:
        args = [meeting.uuid, row.pk]
        # Only next steps are removed; the other rows are the seller's work, listed for them.
        deletable = name == "one_on_one_step"
        remove = reverse(f"engagements:{name}_delete", args=args) if deletable else ""
        return reverse(f"engagements:{name}", args=args), remove

    return urls


def _career_note_edit(
    request: AuthedRequest, meeting: OneOnOne, failed: inline.RowEdit | None
) -> inline.RowEdit:
    if failed is not None and failed.card_id == CAREER_NOTE.name:
        return failed
    note = CareerNote.objects.visible_to(request.user).filter(meeting=meeting).first()
    note = note or CareerNote(meeting=meeting)
    return inline.RowEdit(
        row=note,
        form=inline.form_for(CAREER_NOTE, CareerNoteForm, note),
        save_url=reverse("engagements:one_on_one_career_note", args=[meeting.uuid]),
        delete_url="",
        card_id=CAREER_NOTE.name,
    )


def _step_context(meeting: OneOnOne) -> dict[str, Any]:
    """What a next step's figures need, on the page and in a row editor's reply."""
    return {"meeting": meeting, "today": timezone.localdate()}


def _one_on_one_page(
    request: AuthedRequest, meeting: OneOnOne, *, failed: inline.RowEdit | None = None
) -> HttpResponse:
    user = request.user
    party = services.one_on_one_is_party(meeting, user)
    opportunities = meeting.opportunities.select_related("engagement__account")
    temperatures = meeting.temperatures.select_related("account")
    new_step = failed if failed and isinstance(failed.row, NextStep) and not failed.row.pk else None
    context = {
        **_step_context(meeting),
        "agenda": _agenda_view(meeting.agenda),
        "can_edit": party,
        "header_rows": MEETING,
        "header": inline.row_edits(
            MEETING, [meeting], OneOnOneForm, _meeting_urls(user, meeting), failed
        )[0],
        "opportunity_rows": OPPORTUNITIES,
        "opportunities": inline.row_edits(
            OPPORTUNITIES,
            opportunities,
            OneOnOneOpportunityForm,
            _meeting_row_urls(meeting, "one_on_one_opportunity"),
            failed,
        ),
        "temperature_rows": TEMPERATURES,
        "temperatures": inline.row_edits(
            TEMPERATURES,
            temperatures,
            AccountTemperatureForm,
            _meeting_row_urls(meeting, "one_on_one_temperature"),
            failed,
        ),
        "rows": NEXT_STEPS,
        "edits": inline.row_edits(
            NEXT_STEPS,
            meeting.next_steps.all(),
            NextStepForm,
            _meeting_row_urls(meeting, "one_on_one_step"),
            failed,
        ),
        "add_form": new_step.form if new_step else inline.form_for(NEXT_STEPS, NextStepForm, None),
        "add_url": reverse("engagements:one_on_one_steps", args=[meeting.uuid]),
        # Only the two people: the box is not even rendered for anyone else.
        "note_rows": CAREER_NOTE,
        "career_note": _career_note_edit(request, meeting, failed) if party else None,
        "trail": audit_trail(meeting, limit=15),
    }
    return render(
        request, "engagements/one_on_one_detail.html", context, status=400 if failed else 200
    )


@require_http_methods(["GET", "POST"])
def one_on_one_detail(request: AuthedRequest, uuid: Any) -> HttpResponse:
    if request.method == "GET":
        return _one_on_one_page(request, _one_on_one(request, uuid))
    meeting = _one_on_one(request, uuid, edit=True)
    return inline.row_save(
        request,
        rows=MEETING,
        item=meeting,
        make_form=OneOnOneForm,
        save=_party_call(services.one_on_one_update, meeting=meeting, actor=request.user),
        urls=_meeting_urls(request.user, meeting),
        context=dict,
        page=lambda **extra: _one_on_one_page(request, meeting, **extra),
        back_url=one_on_one_url(meeting),
    )


@require_http_methods(["GET", "POST"])
def one_on_one_delete(request: AuthedRequest, uuid: Any) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    if request.user.pk != meeting.manager_id:
        raise Http404
    if request.method == "POST":
        services.one_on_one_delete(meeting=meeting, actor=request.user)
        messages.success(request, f"“{meeting}” removed.")
        return _redirect(request, reverse("engagements:one_on_one_list"))
    return render(
        request,
        "engagements/confirm_delete.html",
        {
            "object": meeting,
            "kind": "1:1 with its notes and next steps",
            "cancel_url": one_on_one_url(meeting),
        },
    )


@require_POST
def one_on_one_opportunity(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    item = get_object_or_404(
        OneOnOneOpportunity.objects.select_related("engagement__account"), meeting=meeting, pk=pk
    )
    item.meeting = meeting
    return inline.row_save(
        request,
        rows=OPPORTUNITIES,
        item=item,
        make_form=OneOnOneOpportunityForm,
        save=_party_call(
            services.one_on_one_opportunity_save, opportunity=item, actor=request.user
        ),
        urls=_meeting_row_urls(meeting, "one_on_one_opportunity"),
        context=dict,
        page=lambda **extra: _one_on_one_page(request, meeting, **extra),
        back_url=one_on_one_url(meeting),
    )


@require_POST
def one_on_one_temperature(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    item = get_object_or_404(
        AccountTemperature.objects.select_related("account"), meeting=meeting, pk=pk
    )
    item.meeting = meeting
    return inline.row_save(
        request,
        rows=TEMPERATURES,
        item=item,
        make_form=AccountTemperatureForm,
        save=_party_call(services.account_temperature_save, temperature=item, actor=request.user),
        urls=_meeting_row_urls(meeting, "one_on_one_temperature"),
        context=dict,
        page=lambda **extra: _one_on_one_page(request, meeting, **extra),
        back_url=one_on_one_url(meeting),
    )


def _meeting_step(meeting: OneOnOne, pk: int) -> NextStep:
    step = get_object_or_404(NextStep, meeting=meeting, pk=pk)
    step.meeting = meeting
    return step


@require_POST
def one_on_one_step(request: AuthedRequest, uuid: Any, pk: int | None = None) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    item = _meeting_step(meeting, pk) if pk else None
    return inline.row_save(
        request,
        rows=NEXT_STEPS,
        item=item,
        make_form=NextStepForm,
        save=_party_call(services.next_step_save, meeting=meeting, actor=request.user, step=item),
        urls=_meeting_row_urls(meeting, "one_on_one_step"),
        context=lambda: _step_context(meeting),
        page=lambda **extra: _one_on_one_page(request, meeting, **extra),
        back_url=one_on_one_url(meeting),
    )


@require_POST
def one_on_one_step_done(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    step = services.next_step_mark_done(step=_meeting_step(meeting, pk), actor=request.user)
    if not request.htmx:
        messages.success(request, "Next step marked done.")
        return redirect(one_on_one_url(meeting, f"{NEXT_STEPS.name}-{step.pk}"))
    edit = inline.edit_for(
        NEXT_STEPS,
        step,
        inline.form_for(NEXT_STEPS, NextStepForm, step),
        _meeting_row_urls(meeting, "one_on_one_step"),
        status="Marked done",
    )
    return render(
        request,
        "components/row_card.html",
        {"rows": NEXT_STEPS, "edit": edit, "can_edit": True, **_step_context(meeting)},
    )


@require_http_methods(["GET", "POST"])
def one_on_one_step_delete(request: AuthedRequest, uuid: Any, pk: int) -> HttpResponse:
    meeting = _one_on_one(request, uuid, edit=True)
    item = _meeting_step(meeting, pk)
    return inline.row_delete(
        request,
        rows=NEXT_STEPS,
        item=item,
        delete=lambda: services.next_step_delete(step=item, actor=request.user),
        back_url=one_on_one_url(meeting),
        context=dict,
    )


@require_POST
def one_on_one_career_note(request: AuthedRequest, uuid: Any) -> HttpResponse:
    # Not the two people: not found, whatever their role.
    meeting = _one_on_one(request, uuid, edit=True)
    note = CareerNote.objects.visible_to(request.user).filter(meeting=meeting).first()
    url = reverse("engagements:one_on_one_career_note", args=[meeting.uuid])
    return inline.row_save(
        request,
        rows=CAREER_NOTE,
        item=note or CareerNote(meeting=meeting),
        make_form=CareerNoteForm,
        save=_party_call(services.career_note_save, meeting=meeting, actor=request.user),
        urls=lambda row: (url, ""),
        context=dict,
        page=lambda **extra: _one_on_one_page(request, meeting, **extra),
        back_url=one_on_one_url(meeting),
    )


# Documents: proposals and QBRs --------------------------------------------------------------

DOCUMENTS_PER_PAGE = 20


def _documents_page(
    request: AuthedRequest,
    *,
    account: Account,
    engagement: Engagement | None,
    blockers: list[services.Blocker] | None = None,
    qbr_form: QbrRequestForm | None = None,
    status: int = 200,
) -> HttpResponse:
    documents = (
        Document.objects.visible_to(request.user)
        .filter(account=account)
        .select_related("account", "engagement", "requested_by")
        .defer("snapshot")
        .order_by("-requested_at", "-id")
    )
    if engagement is not None:
        documents = documents.filter(engagement=engagement)
    page = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    can_request = (
        engagement.is_editable_by(request.user)
        if engagement is not None
        else account.is_editable_by(request.user)
    )
    if engagement is not None and blockers is None and can_request:
        # Shown before anyone clicks, so nobody is surprised by the refusal.
        blockers = services.document_blockers(
            kind=DocumentKind.PROPOSAL, engagement=engagement, quarter=None, today=today
        )
    context = {
        "account": account,
        "engagement": engagement,
        "page": page,
        "can_request": can_request,
        "blockers": blockers or [],
        "qbr_form": qbr_form or (QbrRequestForm(today=today) if engagement is None else None),
    }
    template = "engagements/documents.html"
    if request.htmx:
        template += "#documents"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def engagement_documents(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """The engagement's proposals, every version, and "Generate proposal"."""
    engagement = _visible_engagement(request, uuid)
    if request.method == "GET":
        return _documents_page(request, account=engagement.account, engagement=engagement)
    if not engagement.is_editable_by(request.user):
        raise Http404
    try:
        document = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=engagement, actor=request.user
        )
    except services.DocumentRefused as refusal:
        return _documents_page(
            request,
            account=engagement.account,
            engagement=engagement,
            blockers=refusal.blockers,
            status=422 if request.htmx else 200,
        )
    messages.success(request, f"Proposal version {document.version} is on its way.")
    if request.htmx:
        return _documents_page(request, account=engagement.account, engagement=engagement)
    return redirect("engagements:engagement_documents", uuid=engagement.uuid)


@require_http_methods(["GET", "POST"])
def account_documents(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """The account's QBRs and its engagements' proposals, and "Generate QBR"."""
    account = _visible_account(request, uuid)
    if request.method == "GET":
        return _documents_page(request, account=account, engagement=None)
    if not account.is_editable_by(request.user):
        raise Http404
    form = QbrRequestForm(request.POST, today=timezone.localdate())
    if not form.is_valid():
        return _documents_page(request, account=account, engagement=None, qbr_form=form, status=422)
    try:
        document = services.document_request(
            kind=DocumentKind.QBR,
            account=account,
            quarter=form.cleaned_data["quarter"],
            actor=request.user,
        )
    except services.DocumentRefused as refusal:
        return _documents_page(
            request, account=account, engagement=None, blockers=refusal.blockers, qbr_form=form
        )
    messages.success(request, f"{document.title} (version {document.version}) is on its way.")
    if request.htmx:
        return _documents_page(request, account=account, engagement=None)
    return redirect("engagements:account_documents", uuid=account.uuid)


def _visible_document(request: AuthedRequest, uuid: Any) -> Document:
    return get_object_or_404(
        Document.objects.visible_to(request.user)
        .select_related("account", "engagement", "requested_by")
        .defer("snapshot"),
        uuid=uuid,
    )


@require_GET
def document_status(request: AuthedRequest, uuid: Any) -> HttpResponse:
    """One document's row: what the page polls while it renders (polling stops once the
    row comes back finished)."""
    document = _visible_document(request, uuid)
    if not request.htmx:
        return redirect(_documents_url(document))
    return render(
        request,
        "engagements/documents.html#row",
        {"document": document, "can_request": document.account.is_editable_by(request.user)},
    )


def _documents_url(document: Document) -> str:
    if document.engagement is not None:
        return reverse("engagements:engagement_documents", args=[document.engagement.uuid])
    return reverse("engagements:account_documents", args=[document.account.uuid])


@require_POST
def document_retry(request: AuthedRequest, uuid: Any) -> HttpResponse:
    document = _visible_document(request, uuid)
    if not document.account.is_editable_by(request.user):
        raise Http404
    document = services.document_retry(document=document, actor=request.user)
    if request.htmx:
        return render(
            request, "engagements/documents.html#row", {"document": document, "can_request": True}
        )
    messages.success(request, f"{document.title}: trying again.")
    return redirect(_documents_url(document))


@require_GET
def document_download(request: AuthedRequest, uuid: Any) -> FileResponse:
    document = _visible_document(request, uuid)
    if document.status != DocumentStatus.READY or not document.file:
        raise Http404("This document is not ready.")
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.filename,
        content_type="application/pdf",
    )
