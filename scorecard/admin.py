from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from scorecard.models import KpiSnapshot, KpiTarget


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(admin.ModelAdmin):
    """Read-only: snapshots are written by the rollup alone, so they always match the data."""

    list_display = [
        "kpi",
        "period_type",
        "period_start",
        "dimension",
        "dimension_value",
        "numerator",
        "denominator",
        "value",
        "computed_at",
    ]
    list_filter = ["period_type", "dimension", "kpi"]
    date_hierarchy = "period_start"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: KpiSnapshot | None = None) -> bool:
        return False


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    list_display = ["kpi", "period_type", "target", "amber_margin", "updated_at", "updated_by"]
    list_filter = ["period_type"]
    readonly_fields = ["updated_at", "updated_by"]
