from __future__ import annotations

import functools
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engagements import services
from engagements.forms import (
    AccountFilterForm,
    AccountForm,
    ContactForm,
    EngagementFilterForm,
    EngagementForm,
    StageChangeForm,
    TeamMemberForm,
)
from engagements.models import OPEN_STAGES, Account, AccountTeamMember, Contact, Engagement
from tcp.http import AuthedRequest
from tcp.models import OrganisationSettings
from tcp.services import audit_trail

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
    accounts = accounts.annotate(
        open_pipeline=Coalesce(
            Subquery(open_pipeline, output_field=money), Value(0, output_field=money)
        )
    ).order_by(sort, "id")
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
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
    sort = data.get("sort") or "-opened_on"
    page = Paginator(engagements.order_by(sort, "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "engagements/engagement_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, {"form": form, "page": page, "sort": sort})


def _visible_engagement(request: AuthedRequest, uuid: Any) -> Engagement:
    return get_object_or_404(
        Engagement.objects.visible_to(request.user).select_related(
            "account", "commercial_lead", "delivery_manager", "stage_changed_by"
        ),
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
        "stage_form": extra.pop("stage_form", None) or StageChangeForm(engagement=engagement),
        "history": engagement.stage_changes.select_related("by")[:20],
        "product_lines": engagement.product_lines.all(),
        "pre_adoption": engagement.is_pre_adoption(organisation.tcp_adoption_date),
        "organisation": organisation,
        "trail": audit_trail(engagement, limit=10),
        **extra,
    }


@require_GET
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
