"""The REST API for accounts, engagements and their delivery records (/api/v1/).

Each resource reads through the model's visible_to() and writes through services.py, so
the API keeps the same rules as the pages; a refused stage change is a 409 with reasons.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.db.models import F, Model, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast, Coalesce, Greatest
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from engagements import services
from engagements.models import (
    Account,
    AccountTeamMember,
    ClientRating,
    Contact,
    Document,
    DocumentStatus,
    Engagement,
    Milestone,
    Product,
    ProductLine,
    RevenueEntry,
    ScopeChange,
    ScopeItem,
)
from engagements.serializers import (
    AccountSerializer,
    AttendanceRecordSerializer,
    ClientRatingSerializer,
    ContactSerializer,
    DocumentRequestSerializer,
    DocumentSerializer,
    EngagementSerializer,
    MilestoneSerializer,
    ProductSerializer,
    RevenueEntrySerializer,
    ScopeChangeSerializer,
    ScopeItemSerializer,
    StageChangeSerializer,
    TeamMemberSerializer,
)
from tcp.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    IF_MATCH_HEADER,
    Conflict,
    SyncReadViewSet,
    SyncRouter,
    SyncViewSet,
    SyncWriteViewSet,
    WithDeletions,
    expected_version,
    idempotent,
    utc_text,
)

# Records that are closed rather than deleted (an engagement is lost or cancelled; an
# account with history stays): no DELETE.
NO_DELETE = ["get", "post", "put", "patch", "head", "options"]


def deleted_in_visible_accounts(user: Any) -> Q:
    """A deletion of an account's record is told to those who see the account."""
    return Q(account_pk__in=Account.objects.visible_to(user).values("pk"))


def deleted_in_visible_engagements(user: Any) -> Q:
    """A deletion of an engagement's record is told to those who see the engagement."""
    return Q(engagement_pk__in=Engagement.objects.visible_to(user).values("pk"))


class AccountViewSet(SyncViewSet):
    model = Account
    resource = "accounts"
    serializer_class = AccountSerializer
    http_method_names = NO_DELETE

    @staticmethod
    def tombstone_owners(obj: Model) -> tuple[int | None, int | None]:
        return obj.pk, None

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_accounts(user)

    def may_create(self, data: dict[str, Any]) -> bool:
        user = self.request.user
        return user.sees_everything or user.is_commercial

    def perform_create(self, data: dict[str, Any]) -> Model:
        return services.account_create(actor=self.request.user, **data)

    def perform_update(self, obj: Account, data: dict[str, Any]) -> Model:
        return services.account_update(account=obj, actor=self.request.user, data=data)


class ContactViewSet(SyncViewSet):
    model = Contact
    resource = "contacts"
    serializer_class = ContactSerializer

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_accounts(user)

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().select_related("account")

    def may_create(self, data: dict[str, Any]) -> bool:
        return data["account"].is_editable_by(self.request.user)

    def check_editable(self, obj: Contact) -> None:
        if not obj.account.is_editable_by(self.request.user):
            raise exceptions.PermissionDenied("You can see this contact but may not change it.")

    def perform_create(self, data: dict[str, Any]) -> Model:
        account = data.pop("account")
        return services.contact_save(account=account, actor=self.request.user, data=data)

    def perform_update(self, obj: Contact, data: dict[str, Any]) -> Model:
        data.pop("account", None)
        return services.contact_save(
            account=obj.account, actor=self.request.user, data=data, contact=obj
        )

    def perform_destroy(self, obj: Contact) -> None:
        services.contact_delete(contact=obj, actor=self.request.user)


class ProductViewSet(SyncViewSet):
    model = Product
    resource = "products"
    serializer_class = ProductSerializer

    def tombstone_visibility(self, user: Any) -> Q:
        return Q()  # the catalogue is open to everyone at work here

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().select_related("line")

    def may_create(self, data: dict[str, Any]) -> bool:
        return self.request.user.sees_everything

    def perform_create(self, data: dict[str, Any]) -> Model:
        return services.product_save(actor=self.request.user, data=data)

    def perform_update(self, obj: Product, data: dict[str, Any]) -> Model:
        return services.product_save(actor=self.request.user, data=data, product=obj)

    def perform_destroy(self, obj: Product) -> None:
        services.product_delete(product=obj, actor=self.request.user)


class EngagementViewSet(SyncViewSet):
    model = Engagement
    resource = "engagements"
    serializer_class = EngagementSerializer
    http_method_names = NO_DELETE

    @staticmethod
    def tombstone_owners(obj: Model) -> tuple[int | None, int | None]:
        return getattr(obj, "account_id", None), obj.pk

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_engagements(user)

    def get_queryset(self) -> QuerySet:
        return (
            self.base_queryset()
            .select_related("account", "commercial_lead", "delivery_manager")
            .prefetch_related("product_lines")
        )

    list_json = {
        "id": F("uuid"),
        "external_id": F("external_id"),
        "version": F("version"),
        "created_at": utc_text("created_at"),
        "updated_at": utc_text("updated_at"),
        "account": F("account__uuid"),
        "name": F("name"),
        "stage": F("stage"),
        "commercial_lead": F("commercial_lead__username"),
        "delivery_manager": F("delivery_manager__username"),
        # numeric as text keeps its scale, as the serializer's strings do ("1000.00").
        "value": Cast("value", TextField()),
        "contracted_effort_days": Cast("contracted_effort_days", TextField()),
        "partner_led": F("partner_led"),
        "poc": F("poc"),
        "poc_concluded_on": F("poc_concluded_on"),
        "product_lines": ArraySubquery(
            ProductLine.objects.filter(engagements=OuterRef("pk")).order_by("name").values("name")
        ),
        **{
            name: F(name)
            for name in (
                "opened_on",
                "proposal_on",
                "contract_signed_on",
                "contracted_start",
                "contracted_end",
                "completed_on",
                "lost_on",
                "cancelled_on",
                "description",
            )
        },
    }

    def may_create(self, data: dict[str, Any]) -> bool:
        return data["account"].is_editable_by(self.request.user)

    def perform_create(self, data: dict[str, Any]) -> Model:
        return services.engagement_create(actor=self.request.user, **data)

    def perform_update(self, obj: Engagement, data: dict[str, Any]) -> Model:
        lines = data.pop("product_lines", None)
        return services.engagement_update(
            engagement=obj, actor=self.request.user, data=data, product_lines=lines
        )

    def bulk_create(self, rows: list[dict[str, Any]]) -> list[Model]:
        editable = {
            a.pk for a in {r["account"] for r in rows} if a.is_editable_by(self.request.user)
        }
        if any(r["account"].pk not in editable for r in rows):
            raise exceptions.PermissionDenied("You may not add engagements to this account.")
        return list(services.engagement_bulk_create(rows=rows, actor=self.request.user))

    @extend_schema(request=StageChangeSerializer, responses=EngagementSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def stage(self, request: Request, uuid: str) -> Response:
        """Move the engagement to another stage, by the same rules as the page: a refused
        move is a 409 whose `reasons` name each thing missing."""
        engagement = self.get_object()
        self.check_editable(engagement)
        payload = StageChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.engagement_advance(
            engagement=engagement,
            to_stage=payload.validated_data["stage"],
            actor=request.user,
            on=payload.validated_data.get("on"),
            note=payload.validated_data["note"],
        )
        return self.respond(self.get_object())


class TeamMemberViewSet(WithDeletions, SyncWriteViewSet):
    """Seats on account teams; a seat is added or removed, not edited."""

    model = AccountTeamMember
    resource = "account-team-members"
    serializer_class = TeamMemberSerializer
    http_method_names = ["get", "post", "delete", "head", "options"]

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_accounts(user)

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().select_related("account", "user")

    def may_create(self, data: dict[str, Any]) -> bool:
        return data["account"].is_editable_by(self.request.user)

    def check_editable(self, obj: AccountTeamMember) -> None:
        if not obj.account.is_editable_by(self.request.user):
            raise exceptions.PermissionDenied("You can see this team but may not change it.")

    def perform_create(self, data: dict[str, Any]) -> Model:
        return services.team_member_add(
            account=data["account"], user=data["user"], role=data["role"], actor=self.request.user
        )

    def perform_destroy(self, obj: AccountTeamMember) -> None:
        services.team_member_remove(member=obj, actor=self.request.user)


class EngagementPartViewSet(SyncViewSet):
    """A record that belongs to one engagement; `may_write` says who keeps it."""

    def tombstone_visibility(self, user: Any) -> Q:
        return deleted_in_visible_engagements(user)

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().select_related("engagement")

    def may_write(self, engagement: Engagement) -> bool:
        return engagement.is_deliverable_by(self.request.user)

    def may_create(self, data: dict[str, Any]) -> bool:
        return self.may_write(data["engagement"])

    def check_editable(self, obj: Any) -> None:
        if not self.may_write(obj.engagement):
            raise exceptions.PermissionDenied("You can see this record but may not change it.")


class ScopeItemViewSet(EngagementPartViewSet):
    """Scope items, estimated by the account team before the contract."""

    model = ScopeItem
    resource = "scope-items"
    serializer_class = ScopeItemSerializer

    def may_write(self, engagement: Engagement) -> bool:
        return engagement.is_editable_by(self.request.user)

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.scope_item_save(engagement=engagement, actor=self.request.user, data=data)

    def perform_update(self, obj: ScopeItem, data: dict[str, Any]) -> Model:
        data.pop("engagement", None)
        return services.scope_item_save(
            engagement=obj.engagement, actor=self.request.user, data=data, item=obj
        )

    def perform_destroy(self, obj: ScopeItem) -> None:
        services.scope_item_delete(item=obj, actor=self.request.user)


class ScopeChangeViewSet(EngagementPartViewSet):
    model = ScopeChange
    resource = "scope-changes"
    serializer_class = ScopeChangeSerializer

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().select_related("approved_by")

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.scope_change_save(engagement=engagement, actor=self.request.user, data=data)

    def perform_update(self, obj: ScopeChange, data: dict[str, Any]) -> Model:
        data.pop("engagement", None)
        return services.scope_change_save(
            engagement=obj.engagement, actor=self.request.user, data=data, change=obj
        )

    def perform_destroy(self, obj: ScopeChange) -> None:
        services.scope_change_delete(change=obj, actor=self.request.user)


class MilestoneViewSet(EngagementPartViewSet):
    model = Milestone
    resource = "milestones"
    serializer_class = MilestoneSerializer

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().prefetch_related("attendance__person")

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.milestone_save(engagement=engagement, actor=self.request.user, data=data)

    def perform_update(self, obj: Milestone, data: dict[str, Any]) -> Model:
        data.pop("engagement", None)
        return services.milestone_save(
            engagement=obj.engagement, actor=self.request.user, data=data, milestone=obj
        )

    def perform_destroy(self, obj: Milestone) -> None:
        services.milestone_delete(milestone=obj, actor=self.request.user)

    @extend_schema(
        request=AttendanceRecordSerializer,
        responses=MilestoneSerializer,
        parameters=[IF_MATCH_HEADER],
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def attendance(self, request: Request, uuid: str) -> Response:
        """Record the day the milestone was held and how each person on the team attended
        (the whole team, each person once); it replaces what was recorded before."""
        milestone = self.get_object()
        self.check_editable(milestone)
        expected = expected_version(request)
        payload = AttendanceRecordSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        lines = [
            services.AttendanceLine(person=a["person"], mode=a["mode"], note=a["note"])
            for a in payload.validated_data["attendance"]
        ]
        with transaction.atomic():
            services.milestone_attendance_record(
                milestone=self.locked(milestone, expected),
                actor=request.user,
                held_on=payload.validated_data["held_on"],
                lines=lines,
            )
        return self.respond(self.get_object())


class RevenueEntryViewSet(EngagementPartViewSet):
    """A month's revenue and cost, usually from the ERP: kept by leadership and
    administrators."""

    model = RevenueEntry
    resource = "revenue-entries"
    serializer_class = RevenueEntrySerializer

    def may_write(self, engagement: Engagement) -> bool:
        return self.request.user.sees_everything

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.revenue_entry_save(
            engagement=engagement, actor=self.request.user, data=data
        )

    def perform_update(self, obj: RevenueEntry, data: dict[str, Any]) -> Model:
        data.pop("engagement", None)
        return services.revenue_entry_save(
            engagement=obj.engagement, actor=self.request.user, data=data, entry=obj
        )

    def perform_destroy(self, obj: RevenueEntry) -> None:
        services.revenue_entry_delete(entry=obj, actor=self.request.user)


class ClientRatingViewSet(EngagementPartViewSet):
    model = ClientRating
    resource = "client-ratings"
    serializer_class = ClientRatingSerializer

    def perform_create(self, data: dict[str, Any]) -> Model:
        engagement = data.pop("engagement")
        return services.client_rating_save(
            engagement=engagement, actor=self.request.user, data=data
        )

    def perform_update(self, obj: ClientRating, data: dict[str, Any]) -> Model:
        data.pop("engagement", None)
        return services.client_rating_save(
            engagement=obj.engagement, actor=self.request.user, data=data, rating=obj
        )

    def perform_destroy(self, obj: ClientRating) -> None:
        services.client_rating_delete(rating=obj, actor=self.request.user)


# Documents: request a render, poll it, download the PDF ----------------------------------


class DocumentViewSet(SyncReadViewSet):
    """Proposals and QBRs. POST asks for a new version (202; the render runs in a worker,
    and a version already on its way is returned instead of a second one); poll the
    document until `status` is `ready` (or `failed`, with `error`), then GET its
    `download_url`. A proposal is refused (409, with `reasons`) until discovery is complete.
    """

    model = Document
    resource = "documents"
    serializer_class = DocumentSerializer

    def get_queryset(self) -> QuerySet:
        requested = "requested_at"
        return (
            self.base_queryset()
            .select_related("account", "engagement", "requested_by")
            .defer("snapshot")
            .annotate(
                updated_at=Greatest(
                    requested,
                    Coalesce("started_at", requested),
                    Coalesce("finished_at", requested),
                    Coalesce("enqueued_at", requested),
                )
            )
        )

    def respond(self, obj: Model, code: int = 200) -> Response:
        data = self.get_serializer(obj).data
        # Documents are never written through the API, so their ETag only tells a poller
        # whether anything moved.
        tag = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        return Response(data, status=code, headers={"ETag": f'W/"{tag[:16]}"'})

    @extend_schema(
        request=DocumentRequestSerializer,
        responses={202: DocumentSerializer, **{c: ERRORS[c] for c in (400, 403, 409, 422)}},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        payload = DocumentRequestSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            document = services.document_request(
                kind=data["kind"],
                engagement=data.get("engagement"),
                account=data.get("account"),
                quarter=data.get("quarter"),
                actor=request.user,
            )
        except services.DocumentRefused as refusal:
            reasons = [b.message for b in refusal.blockers]
            raise Conflict("The document is refused: " + " ".join(reasons), reasons) from None
        except DjangoPermissionDenied:
            raise exceptions.PermissionDenied(
                "You can see this record but may not produce its documents."
            ) from None
        return self.respond(self.get_queryset().get(pk=document.pk), status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: ERRORS[404],
        }
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def download(self, request: Request, uuid: str) -> FileResponse:
        """The PDF of a ready document (404 until it is ready)."""
        document = self.get_object()
        if document.status != DocumentStatus.READY or not document.file:
            raise Http404
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=document.filename,
            content_type="application/pdf",
        )


def register(router: SyncRouter) -> None:
    router.register("accounts", AccountViewSet, basename="account")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("products", ProductViewSet, basename="product")
    router.register("engagements", EngagementViewSet, basename="engagement")
    router.register("account-team-members", TeamMemberViewSet, basename="team-member")
    router.register("scope-items", ScopeItemViewSet, basename="scope-item")
    router.register("scope-changes", ScopeChangeViewSet, basename="scope-change")
    router.register("milestones", MilestoneViewSet, basename="milestone")
    router.register("revenue-entries", RevenueEntryViewSet, basename="revenue-entry")
    router.register("client-ratings", ClientRatingViewSet, basename="client-rating")
    router.register("documents", DocumentViewSet, basename="document")
