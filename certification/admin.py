from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from certification import services
from certification.models import Curriculum, Enrollment, Module, ModuleResult, Reminder
from tcp.admin import ReadOnly
from tcp.http import AuthedRequest


class ModuleInline(admin.TabularInline):
    """Modules are edited while their version is a draft; a published version is frozen, so
    the people enrolled in it keep exactly the modules they started with."""

    model = Module
    extra = 0
    fields = ["month", "track", "title", "description", "pass_mark"]

    def _draft(self, obj: Curriculum | None) -> bool:
        return obj is None or not obj.is_published

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._draft(obj) and super().has_delete_permission(request, obj)


@admin.register(Curriculum)
class CurriculumAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "published_at", "module_count", "enrollment_count"]
    readonly_fields = ["version", "published_at"]
    fields = ["name", "version", "summary", "published_at"]
    inlines = [ModuleInline]
    actions = ["new_version", "publish"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Curriculum]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_modules=Count("modules", distinct=True),
                n_enrollments=Count("enrollments", distinct=True),
            )
        )

    @admin.display(description="modules", ordering="n_modules")
    def module_count(self, obj: Any) -> int:
        return int(obj.n_modules)

    @admin.display(description="enrolments", ordering="n_enrollments")
    def enrollment_count(self, obj: Any) -> int:
        return int(obj.n_enrollments)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A published version is read-only; start a new version to change the curriculum.
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: Any, obj: Curriculum, form: Any, change: bool) -> None:
        if not change:
            # A version made here starts as a draft numbered after the latest one.
            obj.version = services.next_version_number()
        super().save_model(request, obj, form, change)

    @admin.action(description="Start a new version from the selected curriculum")
    def new_version(self, request: AuthedRequest, queryset: QuerySet[Curriculum]) -> None:
        for curriculum in queryset:
            try:
                draft = services.curriculum_new_version(curriculum=curriculum, actor=request.user)
            except ValidationError as refusal:
                self.message_user(request, " ".join(refusal.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Version {draft.version} is a draft copy of version {curriculum.version}: "
                    "edit its modules, then publish it.",
                )

    @admin.action(description="Publish the selected drafts (new enrolments join them)")
    def publish(self, request: AuthedRequest, queryset: QuerySet[Curriculum]) -> None:
        for curriculum in queryset.order_by("version"):
            try:
                services.curriculum_publish(curriculum=curriculum, actor=request.user)
            except ValidationError as refusal:
                self.message_user(
                    request, f"{curriculum}: {' '.join(refusal.messages)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{curriculum} is published.")


class ResultInline(ReadOnly, admin.TabularInline):
    model = ModuleResult
    extra = 0
    fields = ["module", "score", "passed", "assessed_on", "assessor", "evidence_note"]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnly, admin.ModelAdmin):
    """Enrolments open and close with people's roles, and results are recorded on the
    assessor page: both through the services, which keep the rules and the history."""

    list_display = [
        "person",
        "curriculum",
        "started_on",
        "due_on",
        "status",
        "certified_on",
        "closed_on",
    ]
    list_filter = ["status", "curriculum", "closed_reason"]
    list_select_related = ["person", "curriculum"]
    search_fields = ["person__first_name", "person__last_name", "person__username"]
    date_hierarchy = "started_on"
    inlines = [ResultInline]


@admin.register(Reminder)
class ReminderAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["queued_on", "enrollment", "subject", "sent_at"]
    list_select_related = ["enrollment__person", "enrollment__curriculum"]
    date_hierarchy = "queued_on"
