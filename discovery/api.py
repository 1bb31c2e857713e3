"""The REST API for discovery (/api/v1/): client intelligence profiles (read and write),
Failure-Cost Analyses (read and write) and each engagement's discovery summary (read)."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from discovery import services
from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis
from discovery.serializers import AnalysisSerializer, DiscoverySummarySerializer, ProfileSerializer
from engagements.api import deleted_in_visible_engagements
from engagements.models import Engagement
from tcp.api import SyncReadViewSet, SyncRouter, SyncWriteViewSet, WithDeletions


class ProfileViewSet(SyncWriteViewSet):
    """One profile per account, named by the account's id; made with the account."""

    model = ClientIntelligenceProfile
    serializer_class = ProfileSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().with_counts().select_related("account")  # type: ignore[attr-defined]

    def get_object(self) -> Any:
        try:
            key = uuid_module.UUID(str(self.kwargs.get("uuid")))
        except ValueError:
            raise Http404 from None
        obj = self.get_queryset().filter(account__uuid=key).first()
        if obj is None:
            raise Http404
        return obj

    def check_editable(self, obj: ClientIntelligenceProfile) -> None:
        if not obj.account.is_editable_by(self.request.user):
            raise exceptions.PermissionDenied("You can see this profile but may not change it.")

    def perform_update(self, obj: ClientIntelligenceProfile, data: dict[str, Any]) -> Model:
        services.profile_update(profile=obj, actor=self.request.user, data=data)
        return self.get_object()


class AnalysisViewSet(WithDeletions, SyncWriteViewSet):
    model = FailureCostAnalysis
    resource = "failure-cost-analyses"
    serializer_class = AnalysisSerializer

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_engagements(user)

    def get_queryset(self) -> QuerySet:
        return (
            self.base_queryset()
            .select_related("engagement", "interviewer")
            .prefetch_related("scenarios")
        )

    def may_create(self, data: dict[str, Any]) -> bool:
        return data["engagement"].is_editable_by(self.request.user)

    def check_editable(self, obj: FailureCostAnalysis) -> None:
        if not obj.engagement.is_editable_by(self.request.user):
            raise exceptions.PermissionDenied("You can see this analysis but may not change it.")

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.fca_create(engagement=engagement, actor=self.request.user, data=data)

    def perform_update(self, obj: FailureCostAnalysis, data: dict[str, Any]) -> Model:
        return services.fca_update(analysis=obj, actor=self.request.user, data=data)

    def perform_destroy(self, obj: FailureCostAnalysis) -> None:
        services.fca_delete(analysis=obj, actor=self.request.user)


class DiscoverySummaryViewSet(SyncReadViewSet):
    """Per engagement: may a proposal be made, and if not, what is missing."""

    model = Engagement
    serializer_class = DiscoverySummarySerializer

    def get_queryset(self) -> QuerySet:
        return (
            self.base_queryset()
            .select_related("account")
            .annotate(
                n_analyses=Count("failure_cost_analyses", distinct=True),
                n_complete=Count(
                    "failure_cost_analyses",
                    filter=Q(failure_cost_analyses__completed_at__isnull=False),
                    distinct=True,
                ),
            )
        )

    def summary(self, engagement: Any, profile: Any = None) -> dict[str, Any]:
        blockers = services.discovery_blockers(
            engagement=engagement,
            profile=profile or services.profile_with_counts(engagement.account),
            has_analysis=engagement.n_complete > 0,
        )
        missing = [b.message for b in blockers]
        return {
            "id": engagement.uuid,
            "external_id": engagement.external_id,
            "complete": not missing,
            "missing": missing,
            "analyses": engagement.n_analyses,
            "completed_analyses": engagement.n_complete,
            "updated_at": engagement.updated_at,
        }

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        # The page's profiles in one query; an account without one reads as an empty profile.
        profiles = {
            p.account_id: p
            for p in ClientIntelligenceProfile.objects.with_counts().filter(
                account_id__in={e.account_id for e in page}
            )
        }
        rows = [self.summary(e, profiles.get(e.account_id)) for e in page]
        return self.get_paginated_response(DiscoverySummarySerializer(rows, many=True).data)

    def retrieve(self, request: Request, uuid: str) -> Response:
        engagement = self.get_object()
        return Response(DiscoverySummarySerializer(self.summary(engagement)).data)


def register(router: SyncRouter) -> None:
    router.register("client-intelligence-profiles", ProfileViewSet, basename="profile")
    router.register("failure-cost-analyses", AnalysisViewSet, basename="analysis")
    router.register("discovery-summaries", DiscoverySummaryViewSet, basename="discovery-summary")
