"""What the API reads and writes for accounts, engagements and their delivery records.
Serializers translate and validate fields; the services in services.py decide."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engagements.models import (
    Account,
    AccountTeamMember,
    AttendanceMode,
    ClientRating,
    Contact,
    Document,
    DocumentKind,
    DocumentStatus,
    Engagement,
    Milestone,
    Product,
    ProductLine,
    RevenueEntry,
    ScopeChange,
    ScopeItem,
    Stage,
)
from tcp.api import (
    RULE,
    NameField,
    RefField,
    StrictModelSerializer,
    StrictSerializer,
    UsernameField,
)
from tcp.models import User

SYNC_FIELDS = ["id", "external_id", "version", "created_at", "updated_at"]


class SyncModelSerializer(StrictModelSerializer):
    """A record the CRM keeps in step: public id, external id, version and timestamps."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    external_id = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="The CRM's id."
    )
    version = serializers.IntegerField(read_only=True, help_text="The ETag's value.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_validators(self) -> list[Any]:
        # Uniqueness (one revenue entry a month, …) is the services' rule, checked with the
        # row locked and reported in their words; the database constraint backs it up.
        return []


def visible_accounts(user: User) -> Any:
    return Account.objects.visible_to(user)


def visible_engagements(user: User) -> Any:
    return Engagement.objects.visible_to(user)


class AccountSerializer(SyncModelSerializer):
    class Meta:
        model = Account
        fields = [*SYNC_FIELDS, "name", "industry", "region", "segment", "website", "notes"]


class ContactSerializer(SyncModelSerializer):
    account = RefField(queryset=visible_accounts, what="account")

    class Meta:
        model = Contact
        fields = [
            *SYNC_FIELDS,
            "account",
            "name",
            "job_title",
            "email",
            "phone",
            "buyer_role",
        ]


class ProductSerializer(SyncModelSerializer):
    line = NameField(
        slug_field="name",
        queryset=ProductLine.objects.all(),
        help_text="The product line's name (made when new).",
    )

    class Meta:
        model = Product
        fields = [*SYNC_FIELDS, "line", "name"]

    def to_internal_value(self, data: Any) -> Any:
        # A product line is a plain name: a new one is made rather than refused.
        if isinstance(data, dict) and isinstance(data.get("line"), str):
            name = data["line"].strip()
            if name and len(name) <= 120 and "\x00" not in name:
                ProductLine.objects.get_or_create(name=name)
        return super().to_internal_value(data)


class EngagementSerializer(SyncModelSerializer):
    account = RefField(queryset=visible_accounts, what="account")
    commercial_lead = UsernameField()
    delivery_manager = UsernameField(required=False, allow_null=True)
    product_lines = NameField(
        slug_field="name", many=True, required=False, queryset=ProductLine.objects.all()
    )
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="Set when creating; later, change it with the stage action.",
    )

    class Meta:
        model = Engagement
        fields = [
            *SYNC_FIELDS,
            "account",
            "name",
            "stage",
            "commercial_lead",
            "delivery_manager",
            "value",
            "contracted_effort_days",
            "partner_led",
            "poc",
            "poc_concluded_on",
            "product_lines",
            "opened_on",
            "proposal_on",
            "contract_signed_on",
            "contracted_start",
            "contracted_end",
            "completed_on",
            "lost_on",
            "cancelled_on",
            "description",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            if "stage" in attrs and attrs["stage"] != self.instance.stage:
                raise serializers.ValidationError(
                    {"stage": ["Change the stage with POST …/engagements/{id}/stage/."]}, code=RULE
                )
            attrs.pop("stage", None)
            if "account" in attrs and attrs["account"].pk != self.instance.account_id:
                raise serializers.ValidationError(
                    {"account": ["An engagement cannot move to another account."]}, code=RULE
                )
            attrs.pop("account", None)
        return attrs


class StageChangeSerializer(StrictSerializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    on = serializers.DateField(required=False, help_text="The day it happened (today if left out).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class TeamMemberSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    account = RefField(queryset=visible_accounts, what="account")
    user = UsernameField()
    version = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = AccountTeamMember
        fields = ["id", "version", "updated_at", "account", "user", "role", "since"]
        # The uniqueness of a seat is the service's rule, with its own message.
        validators: list[Any] = []


class EngagementPartSerializer(SyncModelSerializer):
    engagement = RefField(queryset=visible_engagements, what="engagement")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            self.instance is not None
            and "engagement" in attrs
            and attrs["engagement"].pk != self.instance.engagement_id
        ):
            raise serializers.ValidationError(
                {"engagement": ["A record cannot move to another engagement."]}, code=RULE
            )
        return attrs


class ScopeItemSerializer(EngagementPartSerializer):
    class Meta:
        model = ScopeItem
        fields = [*SYNC_FIELDS, "engagement", "title", "estimated_days", "note"]


class ScopeChangeSerializer(EngagementPartSerializer):
    approved_by = UsernameField()

    class Meta:
        model = ScopeChange
        fields = [
            *SYNC_FIELDS,
            "engagement",
            "effort_delta_days",
            "cause",
            "approved_by",
            "approved_on",
            "note",
        ]


class AttendanceSerializer(StrictSerializer):
    person = UsernameField()
    mode = serializers.ChoiceField(choices=AttendanceMode.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MilestoneSerializer(EngagementPartSerializer):
    critical = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Left out: architecture reviews and go-lives are critical.",
    )
    attendance = serializers.SerializerMethodField()

    class Meta:
        model = Milestone
        fields = [
            *SYNC_FIELDS,
            "engagement",
            "kind",
            "title",
            "planned_on",
            "held_on",
            "critical",
            "note",
            "attendance",
        ]
        read_only_fields = ["held_on"]

    @extend_schema_field(AttendanceSerializer(many=True))
    def get_attendance(self, milestone: Milestone) -> list[dict[str, str]]:
        return [
            {"person": a.person.username, "mode": a.mode, "note": a.note}
            for a in milestone.attendance.all()
        ]


class AttendanceRecordSerializer(StrictSerializer):
    held_on = serializers.DateField()
    attendance = AttendanceSerializer(many=True, allow_empty=False)


class RevenueEntrySerializer(EngagementPartSerializer):
    class Meta:
        model = RevenueEntry
        fields = [*SYNC_FIELDS, "engagement", "month", "revenue", "cost"]


class ClientRatingSerializer(EngagementPartSerializer):
    class Meta:
        model = ClientRating
        fields = [
            *SYNC_FIELDS,
            "engagement",
            "rated_on",
            "self_rating",
            "client_rating",
            "recommend_score",
            "note",
        ]


# Documents ---------------------------------------------------------------------------------


class DocumentSerializer(serializers.ModelSerializer):
    """A requested proposal or QBR and where its render stands."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    account = serializers.UUIDField(source="account.uuid", read_only=True)
    engagement = serializers.UUIDField(
        source="engagement.uuid", read_only=True, allow_null=True, default=None
    )
    quarter = serializers.DateField(source="period_start", read_only=True, allow_null=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, default=None
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "kind",
            "account",
            "engagement",
            "quarter",
            "version",
            "status",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "attempts",
            "error",
            "pages",
            "size",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, document: Document) -> str | None:
        if document.status != DocumentStatus.READY:
            return None
        return reverse("document-download", args=[document.uuid])


class DocumentRequestSerializer(StrictSerializer):
    """Ask for a proposal (name the engagement) or a QBR (name the account and a day in the
    quarter)."""

    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    engagement = RefField(
        queryset=visible_engagements, what="engagement", required=False, allow_null=True
    )
    account = RefField(queryset=visible_accounts, what="account", required=False, allow_null=True)
    quarter = serializers.DateField(required=False, allow_null=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["kind"] == DocumentKind.PROPOSAL:
            if not data.get("engagement"):
                raise serializers.ValidationError(
                    {"engagement": ["A proposal is for an engagement: name it."]}, code=RULE
                )
            if data.get("account") or data.get("quarter"):
                raise serializers.ValidationError(
                    {"quarter": ["A proposal takes an engagement only."]}, code=RULE
                )
        else:
            missing = {
                name: [f"A QBR needs its {name}."]
                for name in ("account", "quarter")
                if not data.get(name)
            }
            if missing:
                raise serializers.ValidationError(missing, code=RULE)
            if data.get("engagement"):
                raise serializers.ValidationError(
                    {"engagement": ["A QBR is for an account, not an engagement."]}, code=RULE
                )
        return data
