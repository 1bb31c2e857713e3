from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from engagements import services
from engagements.models import (
    Account,
    AccountTeamMember,
    AccountTemperature,
    AdoptionStep,
    ClientRating,
    Contact,
    Document,
    Engagement,
    Milestone,
    MilestoneAttendance,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    PostSaleActivity,
    Product,
    ProductLine,
    RevenueEntry,
    ScopeChange,
    Stage,
    StageChange,
    SuccessMetric,
    SuccessPlan,
)
from tcp.admin import ReadOnly
from tcp.http import AuthedRequest
from tcp.models import ACTION_LABELS
from tcp.services import audit_record, field_values, record_create, record_update

ACTION_LABELS["engagement.delete"] = "deleted the engagement"
ACTION_LABELS["account.delete"] = "deleted the account"
ACTION_LABELS["team.update"] = "changed a seat on the team"


class AuditedDeletion(admin.ModelAdmin):
    """A deletion here is in the record's history: who, when, and what it was."""

    delete_action: str
    delete_fields: tuple[str, ...]

    @transaction.atomic
    def delete_model(self, request: Any, obj: Any) -> None:
        changes = field_values(obj, self.delete_fields)
        audit_record(actor=request.user, action=self.delete_action, obj=obj, changes=changes)
        obj.delete()

    def delete_queryset(self, request: Any, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


class VisibleToUserAdmin(admin.ModelAdmin):
    """The admin lists only what the pages would show the same person."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        return qs.visible_to(request.user) if hasattr(qs, "visible_to") else qs


class TeamInline(admin.TabularInline):
    model = AccountTeamMember
    extra = 0
    autocomplete_fields = ["user"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "job_title", "email", "buyer_role", "external_id"]


def _changed(form: forms.ModelForm) -> dict[str, Any]:
    """The model fields the person changed in an admin form, with their new values."""
    names = {f.name for f in form._meta.model._meta.get_fields()}
    return {n: form.cleaned_data[n] for n in form.changed_data if n in names and n != "id"}


@admin.register(Account)
class AccountAdmin(AuditedDeletion, VisibleToUserAdmin):
    """Accounts, their team and contacts, saved through the services so that every change
    is in the account's history as on the pages and in the API."""

    list_display = ["name", "industry", "region", "segment", "external_id", "updated_at"]
    list_filter = ["industry", "region", "segment"]
    search_fields = ["name", "external_id"]
    inlines = [TeamInline, ContactInline]
    delete_action = "account.delete"
    delete_fields = ("name", "industry", "region", "external_id")

    def save_model(self, request: Any, obj: Account, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            changes = field_values(obj, services.ACCOUNT_FIELDS)
            audit_record(actor=request.user, action="account.create", obj=obj, changes=changes)
        elif data := _changed(form):
            services.account_update(account=obj, actor=request.user, data=data)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        account, actor = form.instance, request.user
        # What Django's own change message reads (formset.save() would set them).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.deleted_forms:
            if row.instance.pk is None:
                continue
            formset.deleted_objects.append(row.instance)
            if isinstance(row.instance, Contact):
                services.contact_delete(contact=row.instance, actor=actor)
            else:
                services.team_member_remove(member=row.instance, actor=actor)
        for row in formset.forms:
            if row in formset.deleted_forms or not row.has_changed():
                continue
            data, item = _changed(row), row.instance
            if item.pk is None:
                formset.new_objects.append(item)
            else:
                formset.changed_objects.append((item, row.changed_data))
            if isinstance(item, Contact):
                existing = item if item.pk else None
                services.contact_save(account=account, actor=actor, data=data, contact=existing)
            elif item.pk is None:
                record_create(obj=item, actor=actor, data=data, action="team.add", audit_on=account)
            else:
                record_update(
                    obj=item, actor=actor, data=data, action="team.update", audit_on=account
                )


def _stage_action(stage: Stage) -> Callable[..., None]:
    def action(
        modeladmin: admin.ModelAdmin, request: AuthedRequest, queryset: QuerySet[Engagement]
    ) -> None:
        moved = 0
        for engagement in queryset:
            try:
                services.engagement_advance(
                    engagement=engagement, to_stage=stage, actor=request.user
                )
            except services.StageChangeRefused as refusal:
                modeladmin.message_user(
                    request,
                    f"{engagement}: {' '.join(b.message for b in refusal.blockers)}",
                    messages.ERROR,
                )
            else:
                moved += 1
        if moved:
            modeladmin.message_user(
                request, f"Moved {moved} engagement(s) to {stage.label.lower()}."
            )

    action.__name__ = f"move_to_{stage.value}"
    return admin.action(description=f"Move selected to {stage.label.lower()}")(action)


@admin.register(Engagement)
class EngagementAdmin(AuditedDeletion, VisibleToUserAdmin):
    list_display = ["name", "account", "stage", "commercial_lead", "value", "opened_on"]
    list_filter = ["stage", "partner_led", "poc", "account__industry"]
    search_fields = ["name", "account__name", "external_id"]
    list_select_related = ["account", "commercial_lead"]
    # Read-only here: a change of lead, effort or dates goes through the pages or the API,
    # whose services apply the rules (the certification gate, the frozen scope); stages
    # change through the stage service (the actions below).
    readonly_fields = [
        *(f.name for f in Engagement._meta.fields if f.name != "id"),
        "product_lines",
    ]
    actions = [_stage_action(s) for s in Stage]
    date_hierarchy = "opened_on"
    delete_action = "engagement.delete"
    delete_fields = ("account", "stage", "commercial_lead", "value")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New engagements go through engagement_create (page or API), which checks the lead.
        return False

    def save_model(self, request: Any, obj: Engagement, form: Any, change: bool) -> None:
        # Every field is read-only: a save would change nothing but move the version on,
        # refusing the next write of a CRM that holds the current one.
        pass


@admin.register(StageChange)
class StageChangeAdmin(ReadOnly, admin.ModelAdmin):
    """The stage history: written only by the stage service, never edited or removed."""

    list_display = ["engagement", "from_stage", "to_stage", "on", "by", "at"]
    list_select_related = ["engagement", "by"]
    readonly_fields = [f.name for f in StageChange._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StageChange]:
        visible = Engagement.objects.visible_to(request.user)  # type: ignore[arg-type]
        return super().get_queryset(request).filter(engagement__in=visible)


admin.site.register(ProductLine, search_fields=["name"])
admin.site.register(Product, list_display=["name", "line"], list_filter=["line"])


# Revenue and ratings: edited here (and through the API), always through the services ------


class EngagementPartForm(forms.ModelForm):
    """Runs the service's own checks, so a refusal shows beside the field, not as an error
    page."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        engagement = data.get("engagement") or getattr(self.instance, "engagement", None)
        if engagement is not None and not self.errors:
            try:
                self.check_rules(engagement, data)
            except ValidationError as refusal:
                if not hasattr(refusal, "error_dict"):
                    self.add_error(None, refusal)
                for field, errors in getattr(refusal, "error_dict", {}).items():
                    self.add_error(field if field in self.fields else None, errors)
        return data

    def check_rules(self, engagement: Engagement, data: dict[str, Any]) -> None:
        raise NotImplementedError


class RevenueEntryForm(EngagementPartForm):
    class Meta:
        model = RevenueEntry
        fields = ["engagement", "month", "revenue", "cost", "external_id"]

    def check_rules(self, engagement: Engagement, data: dict[str, Any]) -> None:
        services.revenue_entry_check(
            engagement=engagement, data=data, entry=self.instance if self.instance.pk else None
        )


class ClientRatingForm(EngagementPartForm):
    class Meta:
        model = ClientRating
        fields = [
            "engagement",
            "rated_on",
            "self_rating",
            "client_rating",
            "recommend_score",
            "note",
        ]

    def check_rules(self, engagement: Engagement, data: dict[str, Any]) -> None:
        services.client_rating_check(
            engagement=engagement, data=data, rating=self.instance if self.instance.pk else None
        )


class EngagementPartAdmin(VisibleToUserAdmin):
    """Saves and deletes through the app's services, which audit every change."""

    # A raw id, not autocomplete: its widget fails on a malformed value instead of
    # showing the field's error.
    raw_id_fields = ["engagement"]
    list_select_related = ["engagement"]
    search_fields = ["engagement__name", "engagement__account__name"]
    save_service: Callable[..., Any]
    delete_service: Callable[..., Any]
    noun: str

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A month of revenue or a rating belongs to its engagement for good: moving it would
        # rewrite two engagements' history.
        return ["engagement"] if obj is not None else []

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        data = {k: v for k, v in form.cleaned_data.items() if k != "engagement"}
        saved = type(self).save_service(
            engagement=obj.engagement if change else form.cleaned_data["engagement"],
            actor=request.user,
            data=data,
            **{self.noun: obj if change else None},
        )
        obj.pk = saved.pk

    def delete_model(self, request: Any, obj: Any) -> None:
        type(self).delete_service(**{self.noun: obj}, actor=request.user)

    def delete_queryset(self, request: Any, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(RevenueEntry)
class RevenueEntryAdmin(EngagementPartAdmin):
    form = RevenueEntryForm
    fields = ["engagement", "month", "revenue", "cost", "external_id"]
    list_display = ["engagement", "month", "revenue", "cost", "external_id"]
    date_hierarchy = "month"
    save_service = services.revenue_entry_save
    delete_service = services.revenue_entry_delete
    noun = "entry"


@admin.register(ClientRating)
class ClientRatingAdmin(EngagementPartAdmin):
    form = ClientRatingForm
    fields = ["engagement", "rated_on", "self_rating", "client_rating", "recommend_score", "note"]
    list_display = ["engagement", "rated_on", "self_rating", "client_rating", "recommend_score"]
    date_hierarchy = "rated_on"
    save_service = services.client_rating_save
    delete_service = services.client_rating_delete
    noun = "rating"


class AttendanceInline(ReadOnly, admin.TabularInline):
    model = MilestoneAttendance
    extra = 0
    fields = ["person", "mode", "note", "recorded_by", "recorded_at"]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["__str__", "engagement", "planned_on", "held_on", "critical"]
    list_filter = ["kind", "critical"]
    list_select_related = ["engagement"]
    search_fields = ["title", "engagement__name"]
    date_hierarchy = "planned_on"
    inlines = [AttendanceInline]


@admin.register(ScopeChange)
class ScopeChangeAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["engagement", "effort_delta_days", "cause", "approved_by", "approved_on"]
    list_filter = ["cause"]
    list_select_related = ["engagement", "approved_by"]
    search_fields = ["engagement__name", "note"]


# Golden thread: success plans, read-only here so every change goes through the page and its
# services (the rules and the history cannot be bypassed) ---------------------------------


class AdoptionStepInline(ReadOnly, admin.TabularInline):
    model = AdoptionStep
    extra = 0
    fields = ["description", "owner", "due_on", "done_on"]


class SuccessMetricInline(ReadOnly, admin.TabularInline):
    model = SuccessMetric
    extra = 0
    fields = ["name", "unit", "baseline", "target"]


class PostSaleActivityInline(ReadOnly, admin.TabularInline):
    model = PostSaleActivity
    extra = 0
    fields = ["on", "kind", "description", "by"]


@admin.register(SuccessPlan)
class SuccessPlanAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["engagement", "updated_at", "updated_by"]
    list_select_related = ["engagement", "updated_by"]
    search_fields = ["engagement__name", "engagement__account__name", "business_outcome"]
    inlines = [AdoptionStepInline, SuccessMetricInline, PostSaleActivityInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SuccessPlan]:
        # The plans of the engagements the pages would show the same person.
        visible = Engagement.objects.visible_to(request.user)  # type: ignore[arg-type]
        return super().get_queryset(request).filter(engagement__in=visible)


# 1:1 cadence meetings: read-only here, and without their career notes, which only the two
# people read on the meeting's page (CareerNote is never registered, not even as an inline)


class OneOnOneOpportunityInline(ReadOnly, admin.TabularInline):
    model = OneOnOneOpportunity
    extra = 0
    fields = ["engagement", "stage", "technical_win", "note"]


class AccountTemperatureInline(ReadOnly, admin.TabularInline):
    model = AccountTemperature
    extra = 0
    fields = ["account", "temperature", "note"]


class NextStepInline(ReadOnly, admin.TabularInline):
    model = NextStep
    extra = 0
    fields = ["description", "due_on", "done_on"]


@admin.register(OneOnOne)
class OneOnOneAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["held_on", "manager", "seller", "updated_at"]
    list_select_related = ["manager", "seller"]
    list_filter = ["held_on"]
    search_fields = ["manager__first_name", "manager__last_name", "seller__first_name"]
    fields = ["manager", "seller", "held_on", "future_opportunities", "agenda", "updated_by"]
    readonly_fields = ["agenda"]
    date_hierarchy = "held_on"
    inlines = [OneOnOneOpportunityInline, AccountTemperatureInline, NextStepInline]


@admin.register(Document)
class DocumentAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["__str__", "kind", "status", "attempts", "requested_by", "requested_at"]
    list_filter = ["kind", "status"]
    search_fields = ["account__name", "engagement__name"]
    list_select_related = ["account", "engagement", "requested_by"]
    exclude = ["snapshot"]
