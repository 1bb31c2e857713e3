"""The REST API for the scorecard (/api/v1/, read only): the KPI snapshots the dashboards
show, and the TCP impact figures (before and after the organisation adopted TCP). Both are
for sales leadership and administrators, as the company-wide pages are."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from scorecard import services
from scorecard.kpis import REGISTRY
from scorecard.models import KpiSnapshot
from scorecard.periods import Period, PeriodType
from tcp.api import RULE, KeysetPagination, SyncRouter


class SnapshotSerializer(serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(source="computed_at", read_only=True)

    class Meta:
        model = KpiSnapshot
        fields = [
            "kpi",
            "period_type",
            "period_start",
            "dimension",
            "dimension_value",
            "numerator",
            "denominator",
            "value",
            "updated_at",
        ]
        read_only_fields = fields


class SnapshotPagination(KeysetPagination):
    """Snapshots page in (computed_at, id): the same cursor under their own column."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:
        return super().paginate_queryset(
            queryset.annotate(updated_at=F("computed_at")), request, view
        )


FILTERS = [
    OpenApiParameter("kpi", str, enum=sorted(REGISTRY), description="A KPI key."),
    OpenApiParameter("period_type", str, enum=PeriodType.values),
    OpenApiParameter(
        "dimension",
        {"type": "string", "maxLength": 20},
        description="Empty for the organisation's total.",
    ),
]


class SnapshotViewSet(viewsets.GenericViewSet):
    serializer_class = SnapshotSerializer
    pagination_class = SnapshotPagination
    queryset = KpiSnapshot.objects.none()

    def get_queryset(self) -> QuerySet:
        rows = KpiSnapshot.objects.visible_to(self.request.user)
        params = self.request.query_params
        if "kpi" in params:
            if params["kpi"] not in REGISTRY:
                raise exceptions.ValidationError({"kpi": ["Not a KPI key."]})
            rows = rows.filter(kpi=params["kpi"])
        if "period_type" in params:
            if params["period_type"] not in PeriodType.values:
                raise exceptions.ValidationError(
                    {"period_type": [f"One of {', '.join(PeriodType.values)}."]}
                )
            rows = rows.filter(period_type=params["period_type"])
        if "dimension" in params:
            if len(params["dimension"]) > 20 or "\x00" in params["dimension"]:
                raise exceptions.ValidationError({"dimension": ["Not a dimension."]})
            rows = rows.filter(dimension=params["dimension"])
        return rows

    @extend_schema(parameters=FILTERS)
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ImpactLineSerializer(serializers.Serializer):
    kpi = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    before = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    after = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    change = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)


@extend_schema_serializer(many=False)  # one answer, though it is the viewset's `list`
class ImpactSerializer(serializers.Serializer):
    before_start = serializers.DateField()
    before_end = serializers.DateField()
    after_start = serializers.DateField()
    after_end = serializers.DateField()
    lines = ImpactLineSerializer(many=True)


class WindowSerializer(serializers.Serializer):
    before_start = serializers.DateField(required=False)
    before_end = serializers.DateField(required=False)
    after_start = serializers.DateField(required=False)
    after_end = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for side in ("before", "after"):
            start, end = attrs.get(f"{side}_start"), attrs.get(f"{side}_end")
            if start and end and start > end:
                raise serializers.ValidationError(
                    {f"{side}_end": ["Ends before it starts."]}, code=RULE
                )
        return attrs


class ImpactViewSet(viewsets.GenericViewSet):
    """Each TCP KPI over a window before adoption and one after (by default the last full
    year before adoption and the last full year), as in the TCP impact page."""

    serializer_class = ImpactSerializer
    pagination_class = None
    refuses_by_rule = True  # a window that ends before it starts is a 422
    only_for_some_roles = True  # anyone but leadership and administrators: a 404
    queryset = KpiSnapshot.objects.none()

    @extend_schema(parameters=[WindowSerializer])
    def list(self, request: Request) -> Response:
        if not request.user.sees_everything:
            raise exceptions.NotFound("Not found, or not yours to see.")
        blank = [name for name in WindowSerializer().fields if request.query_params.get(name) == ""]
        if blank:
            raise exceptions.ValidationError(
                {name: ["Give a date, e.g. 2025-01-01."] for name in blank}
            )
        query = WindowSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        pre, post = services.default_windows()
        given = query.validated_data

        def window(side: str, default: Period) -> Period:
            start: dt.date = given.get(f"{side}_start", default.start)
            end: dt.date = given.get(f"{side}_end", default.end)
            if start > end:
                raise exceptions.ValidationError(
                    {f"{side}_end": ["Ends before it starts."]}, code=RULE
                )
            return Period.window(start, end)

        pre, post = window("before", pre), window("after", post)
        lines = [
            {
                "kpi": line.kpi.key,
                "name": line.kpi.name,
                "unit": line.kpi.unit,
                "before": line.pre.value if line.pre else None,
                "after": line.post.value if line.post else None,
                "change": line.change,
            }
            for line in services.tcp_impact(pre=pre, post=post)
        ]
        body = {
            "before_start": pre.start,
            "before_end": pre.end,
            "after_start": post.start,
            "after_end": post.end,
            "lines": lines,
        }
        return Response(ImpactSerializer(body).data)


def register(router: SyncRouter) -> None:
    router.register("kpi-snapshots", SnapshotViewSet, basename="kpi-snapshot")
    router.register("tcp-impact", ImpactViewSet, basename="tcp-impact")
