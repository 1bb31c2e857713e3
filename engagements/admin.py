from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from engagements import services
from engagements.models import (
    Account,
    AccountTeamMember,
    Contact,
    Engagement,
    Product,
    ProductLine,
    Stage,
    StageChange,
)
from tcp.http import AuthedRequest


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


@admin.register(Account)
class AccountAdmin(VisibleToUserAdmin):
    list_display = ["name", "industry", "region", "segment", "external_id", "updated_at"]
    list_filter = ["industry", "region", "segment"]
    search_fields = ["name", "external_id"]
    inlines = [TeamInline, ContactInline]


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
class EngagementAdmin(VisibleToUserAdmin):
    list_display = ["name", "account", "stage", "commercial_lead", "value", "opened_on"]
    list_filter = ["stage", "partner_led", "poc", "account__industry"]
    search_fields = ["name", "account__name", "external_id"]
    list_select_related = ["account", "commercial_lead"]
    autocomplete_fields = ["account", "commercial_lead", "delivery_manager"]
    # Stages change only through the stage service (the actions below), which applies the rules.
    readonly_fields = ["stage", "stage_changed_at", "stage_changed_by"]
    actions = [_stage_action(s) for s in Stage]
    date_hierarchy = "opened_on"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New engagements go through engagement_create (page or API), which checks the lead.
        return False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["engagement", "from_stage", "to_stage", "on", "by", "at"]
    list_select_related = ["engagement", "by"]
    readonly_fields = [f.name for f in StageChange._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[StageChange]:
        visible = Engagement.objects.visible_to(request.user)  # type: ignore[arg-type]
        return super().get_queryset(request).filter(engagement__in=visible)


admin.site.register(ProductLine, search_fields=["name"])
admin.site.register(Product, list_display=["name", "line"], list_filter=["line"])
