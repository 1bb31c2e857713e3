"""What the API reads and writes of discovery: the client intelligence profile, the
Failure-Cost Analyses with their scenarios, and each engagement's discovery summary."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis, FailureScenario
from engagements.serializers import visible_engagements
from tcp.api import RULE, RefField, StrictModelSerializer, UsernameField


class ProfileSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="account.uuid", read_only=True, help_text="The account's id.")
    version = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    missing = serializers.SerializerMethodField(help_text="What the profile still lacks.")

    class Meta:
        model = ClientIntelligenceProfile
        fields = [
            "id",
            "version",
            "updated_at",
            "business_context",
            "operational_constraints",
            "no_regulatory_obligations",
            "missing",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_missing(self, profile: ClientIntelligenceProfile) -> list[str]:
        return [message for message, _ in profile.missing()]


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = FailureScenario
        fields = [
            "what_fails",
            "sites_affected",
            "users_affected",
            "disruption_hours",
            "cost_per_hour",
            "cost_per_incident",
            "reputational_severity",
            "regulatory_exposure",
            "likelihood_per_year",
            "tolerable_downtime_hours",
        ]
        read_only_fields = fields


class AnalysisSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    version = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    engagement = RefField(queryset=visible_engagements, what="engagement")
    interviewer = UsernameField()
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    signed_off_on = serializers.DateField(read_only=True, allow_null=True)
    scenarios = ScenarioSerializer(many=True, read_only=True)

    class Meta:
        model = FailureCostAnalysis
        fields = [
            "id",
            "version",
            "updated_at",
            "engagement",
            "title",
            "held_on",
            "interviewer",
            "notes",
            "completed_at",
            "signed_off_on",
            "scenarios",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            engagement = attrs.pop("engagement", None)
            if engagement is not None and engagement.pk != self.instance.engagement_id:
                raise serializers.ValidationError(
                    {"engagement": ["An analysis cannot move to another engagement."]}, code=RULE
                )
        return attrs


class DiscoverySummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The engagement's id.")
    external_id = serializers.CharField(allow_null=True)
    complete = serializers.BooleanField(help_text="Whether a proposal may be made.")
    missing = serializers.ListField(child=serializers.CharField())
    analyses = serializers.IntegerField()
    completed_analyses = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
