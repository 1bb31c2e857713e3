from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from tcp.models import AuditLogEntry, Notification, OrganisationSettings, User
from tcp.services import user_set_active, user_set_roles


class ReadOnly:
    """Records that change only through their pages and services, where the rules and the
    history live: the back office shows them without add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Parity", {"fields": ("roles", "job_title", "manager")}),
    )
    list_display = ["username", "first_name", "last_name", "email", "roles", "is_active"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["username", "first_name", "last_name", "email"]

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        # Roles and leaving go through their services, which record the change and let
        # other apps act on it (certification enrols whoever gets a commercial role).
        roles, active = list(obj.roles), obj.is_active
        if change:
            stored = User.objects.only("roles", "is_active").get(pk=obj.pk)
            obj.roles, obj.is_active = stored.roles, stored.is_active
        else:
            obj.roles = []
        super().save_model(request, obj, form, change)
        user_set_active(user=obj, active=active, actor=request.user)
        user_set_roles(user=obj, roles=roles, actor=request.user)


@admin.register(OrganisationSettings)
class OrganisationSettingsAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return not OrganisationSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "message", "read_at"]
    list_select_related = ["recipient"]
