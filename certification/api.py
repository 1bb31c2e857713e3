"""The REST API for certification (/api/v1/certification-enrollments/, read only): each
person's enrolment and where they stand today."""

from __future__ import annotations

from django.db.models import DateTimeField, QuerySet
from django.db.models.functions import Cast, Coalesce, Greatest
from django.utils import timezone
from rest_framework import serializers

from certification.models import Enrollment, Status
from tcp.api import SyncReadViewSet, SyncRouter


class EnrollmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    person = serializers.CharField(source="person.username", read_only=True)
    curriculum = serializers.CharField(source="curriculum.__str__", read_only=True)
    status = serializers.ChoiceField(
        source="standing", choices=Status.choices, read_only=True, help_text="As of today."
    )
    modules_passed = serializers.IntegerField(source="passed", read_only=True)
    modules = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "person",
            "curriculum",
            "started_on",
            "due_on",
            "certified_on",
            "closed_on",
            "closed_reason",
            "status",
            "modules_passed",
            "modules",
            "updated_at",
        ]


def _as_moment(field: str) -> Cast:
    return Cast(field, output_field=DateTimeField())


class EnrollmentViewSet(SyncReadViewSet):
    """Visible as on the certification pages: everyone's to leadership and administrators,
    a manager's reports', and one's own. `updated_at` moves when the enrolment starts, its
    status changes (the daily job), a module completes it, or it closes."""

    model = Enrollment
    serializer_class = EnrollmentSerializer

    def get_queryset(self) -> QuerySet:
        created = "created_at"
        return (
            self.base_queryset()
            .with_status(timezone.localdate())  # type: ignore[attr-defined]
            .select_related("person", "curriculum")
            .annotate(
                updated_at=Greatest(
                    created,
                    Coalesce(_as_moment("status_since"), created),
                    Coalesce(_as_moment("certified_on"), created),
                    Coalesce(_as_moment("closed_on"), created),
                )
            )
        )


def register(router: SyncRouter) -> None:
    router.register("certification-enrollments", EnrollmentViewSet, basename="enrollment")
