"""The REST API for hiring (/api/v1/hiring-candidates/{id}/audition-scores/): a candidate's
audition scores with the panel's summary, and a panel member submitting their own.

The candidate page's rules hold unchanged: a candidate outside the caller's reach is a 404
(Candidate.objects.visible_to), and a panel member reads the panel's scores only once they
have submitted their own (services.audition_scores_visible), so nobody anchors on a
colleague's marks through the API either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hiring import services
from hiring.models import AUDITION_CRITERIA, AUDITION_MAX, AuditionScore, Candidate, Stage
from tcp.api import ERRORS, IDEMPOTENCY_HEADER, StrictSerializer, SyncRouter, idempotent
from tcp.api_schema import ParityAutoSchema


class AuditionSchema(ParityAutoSchema):
    """Audition scores carry no version (a submitted score is final), so no ETag, and no
    rule answers 409: a refusal is a 400 naming what is wrong, or a 403."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        responses.pop("409", None)
        if "403" not in responses:
            # Reading is refused to a panel member who has not scored yet.
            responses["403"] = self._get_response_for_code(ERRORS[403], "403")
        return responses

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> Any:
        headers = super()._get_response_headers_for_code(status_code, direction) or {}
        headers.pop("ETag", None)
        return headers


def _audition_schema[F: Callable[..., Any]](view_method: F) -> F:
    # extend_schema builds on the schema class it finds here (drf-spectacular's rule).
    view_method.kwargs = {**getattr(view_method, "kwargs", {}), "schema": AuditionSchema}  # type: ignore[attr-defined]
    return view_method


def _score() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=AUDITION_MAX,
        help_text=f"1 weak, 2 sound, {AUDITION_MAX} strong.",
        error_messages={
            "min_value": f"Score from 1 to {AUDITION_MAX}.",
            "max_value": f"Score from 1 to {AUDITION_MAX}.",
        },
    )


class AuditionScoreInputSerializer(StrictSerializer):
    business_applicability = _score()
    technical_clarity = _score()
    audience_engagement = _score()
    presentation_style = _score()
    would_buy = serializers.BooleanField(help_text="Would you buy from this candidate?")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class AuditionScoreSerializer(serializers.ModelSerializer):
    panelist = serializers.CharField(
        source="panelist.username",
        read_only=True,
        allow_null=True,
        help_text="The panel member's username (null once their account is deleted).",
    )
    total = serializers.IntegerField(
        read_only=True, help_text=f"The four scores added up, 4 to {4 * AUDITION_MAX}."
    )

    class Meta:
        model = AuditionScore
        fields = [
            "panelist",
            *(name for name, _ in AUDITION_CRITERIA),
            "total",
            "would_buy",
            "notes",
            "submitted_at",
        ]
        read_only_fields = fields


def _figure(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, read_only=True, help_text=help_text
    )


class CriterionSummarySerializer(serializers.Serializer):
    criterion = serializers.ChoiceField(choices=[name for name, _ in AUDITION_CRITERIA])
    label = serializers.CharField()
    mean = _figure("Mean score, 1 to 3; null before any score.")
    lowest = serializers.IntegerField(allow_null=True)
    highest = serializers.IntegerField(allow_null=True)


class AuditionSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Panel scores received.")
    mean = _figure("Mean total (4 to 12); null before any score.")
    lowest = serializers.IntegerField(allow_null=True, help_text="Lowest total.")
    highest = serializers.IntegerField(allow_null=True, help_text="Highest total.")
    spread = _figure("Standard deviation of the totals: how far the panel disagrees.")
    would_buy = serializers.IntegerField(help_text="Panel members who would buy.")


class AuditionScoresSerializer(serializers.Serializer):
    candidate = serializers.UUIDField(help_text="The candidate's id.")
    # Not "stage": that name belongs to the engagement's stages in the schema's enums.
    candidate_stage = serializers.ChoiceField(choices=Stage.choices)
    summary = AuditionSummarySerializer()
    criteria = CriterionSummarySerializer(many=True)
    scores = AuditionScoreSerializer(many=True)


def audition_scores_body(candidate: Candidate) -> dict[str, Any]:
    summary = services.audition_summary(candidate)
    labels = dict(AUDITION_CRITERIA)
    return {
        "candidate": candidate.uuid,
        "candidate_stage": candidate.stage,
        "summary": {
            "count": summary["audition_count"],
            "mean": summary["audition_mean"],
            "lowest": summary["audition_low"],
            "highest": summary["audition_high"],
            "spread": summary["audition_spread"],
            "would_buy": summary["audition_would_buy"],
        },
        "criteria": [
            {"criterion": name, "label": labels[name], "mean": m, "lowest": lo, "highest": hi}
            for (name, _), (_, m, lo, hi) in zip(
                AUDITION_CRITERIA, summary["criteria"], strict=True
            )
        ],
        "scores": list(candidate.audition_scores.select_related("panelist")),
    }


class CandidateViewSet(viewsets.GenericViewSet):
    """Candidates as the hiring pages show them: to hiring managers, administrators and
    the opening's panel; anyone else gets a 404."""

    lookup_field = "uuid"
    # Anything up to the next slash, as the other resources: a malformed id reaches
    # get_object and is this API's JSON 404.
    lookup_value_regex = "[^/]+"
    pagination_class = None
    queryset = Candidate.objects.none()
    serializer_class = AuditionScoresSerializer

    def get_object(self) -> Candidate:
        try:
            key = uuid.UUID(str(self.kwargs.get("uuid")))
        except ValueError:
            raise Http404 from None
        candidate = (
            Candidate.objects.visible_to(self.request.user)
            .select_related("opening")
            .filter(uuid=key)
            .first()
        )
        if candidate is None:
            raise Http404
        return candidate

    @extend_schema(operation_id="hiring_candidates_audition_scores_list")
    @action(
        detail=True,
        methods=["get"],
        url_path="audition-scores",
        pagination_class=None,
        schema=AuditionSchema,
    )
    def audition_scores(self, request: Request, uuid: str) -> Response:
        """The panel's scores of the candidate's audition, with the spread. A panel member
        who has not submitted their own scores yet is refused (403)."""
        candidate = self.get_object()
        if not services.audition_scores_visible(candidate=candidate, user=request.user):
            raise exceptions.PermissionDenied(
                "Submit your own audition scores first: the panel's show after that."
            )
        return Response(AuditionScoresSerializer(audition_scores_body(candidate)).data)

    @audition_scores.mapping.post
    @extend_schema(
        operation_id="hiring_candidates_audition_scores_create",
        request=AuditionScoreInputSerializer,
        responses={201: AuditionScoresSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @_audition_schema
    @idempotent
    def audition_score_submit(self, request: Request, uuid: str) -> Response:
        """Submit your own scores of the audition (panel members only, while the candidate
        is at the audition, once: a submitted score is final). The answer is the panel's
        scores, now open to you."""
        candidate = self.get_object()
        payload = AuditionScoreInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.audition_score_submit(
            candidate=candidate,
            panelist=request.user,
            scores={name: data[name] for name, _ in AUDITION_CRITERIA},
            would_buy=data["would_buy"],
            notes=data["notes"],
        )
        body = AuditionScoresSerializer(audition_scores_body(candidate)).data
        return Response(body, status=status.HTTP_201_CREATED)


def register(router: SyncRouter) -> None:
    router.register("hiring-candidates", CandidateViewSet, basename="hiring-candidate")
