"""Discovery in the back office: read-only, so every change goes through the pages or the
API and their services (the discovery rule and the audit trail cannot be bypassed here)."""

from __future__ import annotations

from django.contrib import admin

from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis, FailureScenario
from engagements.admin import VisibleToUserAdmin
from tcp.admin import ReadOnly


class ScenarioInline(ReadOnly, admin.TabularInline):
    model = FailureScenario
    extra = 0
    fields = [
        "what_fails",
        "disruption_hours",
        "cost_per_hour",
        "cost_per_incident",
        "reputational_severity",
        "likelihood_per_year",
    ]


@admin.register(FailureCostAnalysis)
class FailureCostAnalysisAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["title", "engagement", "held_on", "interviewer", "completed_at"]
    list_select_related = ["engagement", "interviewer"]
    list_filter = [("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "engagement__name", "engagement__account__name"]
    inlines = [ScenarioInline]


@admin.register(ClientIntelligenceProfile)
class ClientIntelligenceProfileAdmin(ReadOnly, VisibleToUserAdmin):
    list_display = ["account", "updated_at", "updated_by"]
    list_select_related = ["account", "updated_by"]
    search_fields = ["account__name"]
