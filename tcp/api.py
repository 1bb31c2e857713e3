"""The REST API's common ground (`/api/v1/`): token authentication, the one error shape,
incremental pull with a keyset cursor, ETag/If-Match, Idempotency-Key and the sync actions
(upsert by external id, bulk) that every resource shares.

Each app's api.py declares its resources as subclasses of SyncViewSet, naming the model, the
serializer and the services that write; the rules stay in the services.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial, wraps
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models.expressions import Func, RawSQL
from django.db.models.functions import Cast
from django.db.models.signals import post_delete
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import Route, SimpleRouter
from rest_framework.views import exception_handler as drf_exception_handler

from tcp.http import DATABASE_LOST, database_lost
from tcp.models import IdempotencyRecord, Tombstone, User
from tcp.pagecache import stored_list
from tcp.services import EditConflict

logger = logging.getLogger("django.request")

BULK_LIMIT = 1000
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000


# Errors ------------------------------------------------------------------------------------------


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the record's current state."

    def __init__(self, message: str, reasons: Sequence[str] = ()):
        super().__init__(message)
        self.reasons = list(reasons)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The record changed since you read it: fetch it again and reapply."


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


# The code of a serializer's ValidationError for a rule across fields (see RULE_CODES).
RULE = "rule"

ERROR_TYPES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    428: "precondition_required",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail tree as plain strings, lists and dicts."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def error_body(code: int, message: str, fields: Mapping[str, Any] | None = None) -> dict:
    body: dict[str, Any] = {"type": ERROR_TYPES.get(code, "error"), "message": message}
    if fields:
        body["fields"] = dict(fields)
    return body


def _django_validation_fields(exc: DjangoValidationError) -> tuple[str, dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        fields = {
            ("non_field_errors" if k == "__all__" else k): list(v)
            for k, v in exc.message_dict.items()
        }
        general = fields.pop("non_field_errors", [])
        message = general[0] if general else "Some fields are not valid."
        return message, ({**fields, "non_field_errors": general} if general else fields)
    return " ".join(exc.messages), {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error in one shape: {"type", "message", "fields"?, "reasons"?}."""
    from engagements.services import StageChangeRefused

    if isinstance(exc, EditConflict):
        exc = PreconditionFailed(str(exc.messages[0]))
    elif isinstance(exc, StageChangeRefused):
        reasons = [b.message for b in exc.blockers]
        exc = Conflict("The change is refused: " + " ".join(reasons), reasons)
    elif isinstance(exc, DjangoValidationError):
        # The services' rules: the request was well formed, the data breaks a rule.
        message, fields = _django_validation_fields(exc)
        return Response(error_body(422, message, fields), status=422)
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(
                413, f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            ),
            status=413,
        )
    elif database_lost(exc):
        # The database went away mid-request (a restart, a terminated connection): the
        # transaction under way went with it, so the request may be checked and sent again.
        logger.warning("Database unavailable: %s", exc)
        response = Response(error_body(503, DATABASE_LOST), status=503)
        response["Retry-After"] = "5"
        return response
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found, or not yours to see.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")

    response = drf_exception_handler(exc, context)
    if response is None:
        # A fault of ours: logged with its traceback as Django would, answered in the API's
        # shape rather than the site's HTML page.
        request = context.get("request")
        logger.error(
            "Internal Server Error: %s",
            getattr(request, "path", "?"),
            exc_info=exc,
            extra={"status_code": 500, "request": getattr(request, "_request", None)},
        )
        return Response(
            error_body(500, "Something went wrong on our side; it has been logged."), status=500
        )
    code = response.status_code
    detail = getattr(exc, "detail", None)
    if isinstance(exc, exceptions.ValidationError):
        if (codes := _codes(detail)) and codes <= RULE_CODES:
            code = response.status_code = 422
        fields = _flatten(detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        first = _first_message(fields)
        response.data = error_body(code, first or "The request is not valid.", fields)
    else:
        response.data = error_body(code, str(detail) if detail is not None else str(exc))
    if isinstance(exc, Conflict) and exc.reasons:
        response.data["reasons"] = exc.reasons
    return response


# Field errors that a well-formed request can still meet: a named record that does not exist
# (or is not the caller's to see), a rule across fields, or a check the schema cannot say (a
# decimal's bounds, sent as text; a website's host: RuleValidated). They answer 422, so that
# 400 always means the request does not match the schema.
RULE_CODES = {"missing", "does_not_exist", "out_of_range", RULE}


def _codes(detail: Any) -> set[str]:
    if isinstance(detail, dict):
        return set().union(*(_codes(v) for v in detail.values()))
    if isinstance(detail, list):
        return set().union(*(_codes(v) for v in detail))
    return {getattr(detail, "code", None) or "invalid"}


def _required_as_rule(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {k: _required_as_rule(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_required_as_rule(v) for v in detail]
    if getattr(detail, "code", None) == "required":
        return exceptions.ErrorDetail("A new record needs this field.", code=RULE)
    return detail


def _first_message(fields: Any, path: str = "") -> str:
    if isinstance(fields, dict):
        for key, value in fields.items():
            found = _first_message(value, key if key != "non_field_errors" else path)
            if found:
                return found
    elif isinstance(fields, list):
        for value in fields:
            found = _first_message(value, path)
            if found:
                return found
    elif fields:
        return f"{path}: {fields}" if path else str(fields)
    return ""


class ErrorSerializer(serializers.Serializer):
    """The shape of every error."""

    type = serializers.CharField(help_text="A stable code: invalid, not_found, conflict, …")
    message = serializers.CharField(help_text="What is wrong, for a person.")
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="Messages per field of the request: a list of messages, or for a list or "
        "a nested record, the messages of each item by its position or field.",
    )
    reasons = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Each rule that refused a change.",
    )


# Input -------------------------------------------------------------------------------------------


# The JSON type each kind of field takes, as the schema says: DRF would also read "true" or
# 1 as a boolean, "5" as an integer and 5 as text or a decimal, so a client's mistake in one
# place would pass unnoticed and the schema would not be the whole truth.
JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "Give true or false."),
    (serializers.IntegerField, (int,), "Give a whole number."),
    (serializers.DecimalField, (str,), 'Give the number as a string, e.g. "1000.00".'),
    (serializers.CharField, (str,), "Give text."),
    (serializers.DateField, (str,), "Give a date as text, e.g. 2026-01-31."),
    (serializers.DateTimeField, (str,), "Give a date and time as text."),
]


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    if value is None:
        return None
    for kind, types, message in JSON_TYPES:
        if isinstance(field, kind):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return message
            return None
    return None


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error rather than silently lost, and
    values of another JSON type than the field's."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name: f for name, f in self.fields.items() if not f.read_only}
            errors: dict[str, list[str]] = {
                str(name): ["This field is not known or cannot be written."]
                for name in data
                if name not in writable
            }
            for name, field in writable.items():
                if name in data and (problem := _json_type_error(field, data[name])):
                    errors[name] = [problem]
            if errors:
                raise exceptions.ValidationError(dict(sorted(errors.items())))
        return super().to_internal_value(data)


class RuleValidated(serializers.Field):
    """A field whose validators answer as a rule (see RULE_CODES): what they check is more
    than the schema can say (a decimal's bounds, sent as text; a web address's host)."""

    def run_validators(self, value: Any) -> None:
        try:
            super().run_validators(value)
        except exceptions.ValidationError as error:
            details = error.detail if isinstance(error.detail, list) else [error.detail]
            raise exceptions.ValidationError(
                [exceptions.ErrorDetail(str(d), code="out_of_range") for d in details]
            ) from None


class RangeDecimalField(RuleValidated, serializers.DecimalField):
    pass


class WebAddressField(RuleValidated, serializers.URLField):
    # The schema's `uri` is any RFC 3986 reference; a website must also have a real host.
    pass


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: RangeDecimalField,
        models.URLField: WebAddressField,
    }


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "description": "The record's id (UUID) or its external id.",
    }
)
class RefField(serializers.Field):
    """A related record named by its uuid or by its external id, read back as its uuid."""

    default_error_messages = {
        "missing": "No {what} has the id “{value}” (or you may not see it).",
        "invalid": "Give the {what}'s id or external id as a string.",
    }

    def __init__(self, *, queryset: Callable[[User], models.QuerySet], what: str, **kwargs: Any):
        self.get_queryset = queryset
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not data.strip() or len(data) > 100 or "\x00" in data:
            self.fail("invalid", what=self.what)
        user = self.context["request"].user
        cache: dict = self.context.setdefault("ref_cache", {})
        key = (self.what, data)
        if key not in cache:
            queryset = self.get_queryset(user)
            try:
                lookup = {"uuid": uuid.UUID(data)}
            except ValueError:
                lookup = {"external_id": data}
            cache[key] = queryset.filter(**lookup).first()
        if cache[key] is None:
            self.fail("missing", what=self.what, value=data[:100])
        return cache[key]

    def to_representation(self, value: Any) -> str:
        return str(value.uuid)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 200})
class NameField(serializers.SlugRelatedField):
    """A record named by a plain name (a product line): text PostgreSQL can compare, or a 400
    before any query."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not data or "\x00" in data or len(data) > 200:
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": 150, "description": "A username."}
)
class UsernameField(serializers.SlugRelatedField):
    """A person named by their username."""

    default_error_messages = {"blank": "Give a username."}

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF reads "" as null for related fields (an empty HTML select); in JSON it is a
        # blank username, not a way to say null.
        if data == "":
            self.fail("blank")
        return super().run_validation(data)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(slug_field="username", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data or len(data) > 150:
            self.fail("invalid")
        cache: dict = self.context.setdefault("ref_cache", {})
        key = ("user", data)
        if key not in cache:
            cache[key] = super().to_internal_value(data)
        return cache[key]


# RFC 3339 (the OpenAPI `date-time` format), exactly: a date, "T", a time with seconds and an
# offset. Looser forms (no seconds, no offset, a bare date) would each be read some way, but
# then the schema would not say what the API accepts.
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_updated_since(raw: str | None) -> dt.datetime | None:
    """The moment named by `updated_since`, in UTC; None when it is not given."""
    if raw is None:
        return None
    match = RFC3339.fullmatch(raw)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        fraction, zulu, sign, off_h, off_m = match.groups()[6:]
        offset = dt.timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        if zulu is None and (offset >= dt.timedelta(hours=24) or int(off_m) > 59):
            raise ValueError
        # A leap second (23:59:60) is a valid RFC 3339 time; it sorts just before the next one.
        leap = second == 60
        local = dt.datetime(
            year,
            month,
            day,
            hour,
            minute,
            59 if leap else second,
            999999 if leap else int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError:
        raise exceptions.ValidationError(
            {
                "updated_since": [
                    "Give a date and time in RFC 3339 (ISO 8601), e.g. 2026-01-31T12:00:00Z."
                ]
            }
        ) from None
    utc_offset = -offset if sign == "-" else offset
    try:
        return (local - utc_offset).replace(tzinfo=dt.UTC)
    except OverflowError:
        # Offsets at the ends of the calendar reach past year 1 or 9999: "changed since" a
        # moment before year 1 means since the beginning, one after 9999 means nothing.
        return (dt.datetime.min if utc_offset > dt.timedelta() else dt.datetime.max).replace(
            tzinfo=dt.UTC
        )


# Incremental pull --------------------------------------------------------------------------------


# The newest `updated_at` a pull may hand out now. A write that has not committed yet carries
# an `updated_at` from after its transaction began; if a pull handed out newer rows first, the
# late commit would land behind the client's cursor and be skipped for good. So a pull stops
# just before the start of the oldest transaction still open elsewhere. Part of the page's own
# query, so it costs no extra round trip.
SYNC_HORIZON = RawSQL(
    "(SELECT LEAST(clock_timestamp(), min(xact_start)) - interval '1 millisecond' "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' AND xact_start IS NOT NULL)",
    [],
    output_field=models.DateTimeField(),
)


# A position in (updated_at, id) order: microseconds since 1970 and the row's id. Every string
# of this shape is a position, so the schema's pattern says exactly which cursors are valid.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR_PATTERN = r"^[0-9]{1,17}_[1-9][0-9]{0,17}$"
CURSOR = re.compile(CURSOR_PATTERN.strip("^$"))


class KeysetPagination(BasePagination):
    """Pages in (updated_at, id) order, resumed from the last row handed out.

    DRF's CursorPagination orders by one field and breaks ties by offset, which skips or
    repeats rows when writes land between pages; a keyset on (updated_at, id) cannot.
    """

    page_size_query_param = "limit"

    def paginate_queryset(
        self, queryset: models.QuerySet, request: Request, view: Any = None
    ) -> list:
        self.request = request
        self.limit = self._limit(request)
        after = self._decode(request.query_params.get("cursor"))
        since = parse_updated_since(request.query_params.get("updated_since"))
        queryset = queryset.filter(updated_at__lte=SYNC_HORIZON)
        if since is not None:
            queryset = queryset.filter(updated_at__gte=since)
        if after is not None:
            moment, pk = after
            queryset = queryset.filter(
                models.Q(updated_at__gt=moment) | models.Q(updated_at=moment, pk__gt=pk)
            )
        rows = list(queryset.order_by("updated_at", "pk")[: self.limit + 1])
        self.has_next = len(rows) > self.limit
        rows = rows[: self.limit]
        self.last: tuple[dt.datetime, int] | None = after
        if rows:
            last = rows[-1]
            self.last = (
                (last["updated_at"], last["pk"])
                if isinstance(last, dict)
                else (last.updated_at, last.pk)
            )
        return rows

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return PAGE_SIZE_DEFAULT
        value = int(raw) if re.fullmatch(r"[0-9]{1,7}", raw) else 0
        if not 1 <= value <= PAGE_SIZE_MAX:
            raise exceptions.ValidationError(
                {"limit": [f"Give a whole number from 1 to {PAGE_SIZE_MAX}."]}
            )
        return value

    @staticmethod
    def _encode(moment: dt.datetime, pk: int) -> str:
        return f"{(moment - EPOCH) // dt.timedelta(microseconds=1)}_{pk}"

    @staticmethod
    def _decode(raw: str | None) -> tuple[dt.datetime, int] | None:
        if raw is None:
            return None
        if not CURSOR.fullmatch(raw):
            raise exceptions.ValidationError(
                {"cursor": ["The cursor is not one this API handed out."]}
            )
        micros, pk = raw.split("_")
        return EPOCH + dt.timedelta(microseconds=int(micros)), int(pk)

    def next_link(self) -> str | None:
        if not self.has_next or self.last is None:
            return None
        params = self.request.query_params.copy()
        params["cursor"] = self._encode(*self.last)
        return self.request.build_absolute_uri(self.request.path) + "?" + params.urlencode()

    def cursor(self) -> str | None:
        return self._encode(*self.last) if self.last is not None else None

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_link(), "cursor": self.cursor(), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "cursor", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page, or null when this is the last one so far.",
                },
                "cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Where this page ends: keep it and pass it as `cursor` "
                    "on the next pull to get exactly what changed since.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": "updated_since",
                "in": "query",
                "required": False,
                "description": "Only records changed at or after this moment (RFC 3339).",
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "The `cursor` from the previous page's `next` link.",
                "schema": {"type": "string", "pattern": CURSOR_PATTERN},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Records per page, 1 to {PAGE_SIZE_MAX}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": PAGE_SIZE_MAX,
                    "default": PAGE_SIZE_DEFAULT,
                },
            },
        ]


# Tombstones --------------------------------------------------------------------------------------

SYNCED: dict[type[models.Model], str] = {}
# For each synced model: the (account, engagement) ids a deleted row belonged to.
Owners = Callable[[models.Model], tuple[int | None, int | None]]
SYNCED_OWNERS: dict[type[models.Model], Owners] = {}


def parent_ids(obj: models.Model) -> tuple[int | None, int | None]:
    """The account and engagement a row hangs off, by its foreign keys."""
    return getattr(obj, "account_id", None), getattr(obj, "engagement_id", None)


def _record_tombstone(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    # A signal, not the delete services: rows deleted by a cascade (an engagement's
    # milestones) must reach sync too, and only the ORM's collector sees those.
    account_pk, engagement_pk = SYNCED_OWNERS[sender](instance)
    Tombstone.objects.create(
        resource=SYNCED[sender],
        uuid=instance.uuid,  # type: ignore[attr-defined]
        external_id=getattr(instance, "external_id", None) or "",
        account_pk=account_pk,
        engagement_pk=engagement_pk,
    )


def register_synced(model: type[models.Model], resource: str, owners: Owners) -> None:
    SYNCED[model] = resource
    SYNCED_OWNERS[model] = owners
    post_delete.connect(_record_tombstone, sender=model, dispatch_uid=f"tombstone-{resource}")


class TombstoneSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    updated_at = serializers.DateTimeField(source="deleted_at", read_only=True)

    class Meta:
        model = Tombstone
        fields = ["id", "external_id", "updated_at"]


class TombstonePagination(KeysetPagination):
    """Tombstones page in (deleted_at, id): the same cursor, under another column name."""

    def paginate_queryset(
        self, queryset: models.QuerySet, request: Request, view: Any = None
    ) -> list:
        return super().paginate_queryset(
            queryset.annotate(updated_at=models.F("deleted_at")), request, view
        )


# Conditional requests and idempotency ------------------------------------------------------------


def etag_of(obj: models.Model) -> str:
    return f'"{obj.version}"'  # type: ignore[attr-defined]


IF_MATCH_PATTERN = r'^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$'
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"


def expected_version(request: Request) -> int | None:
    """The version named by If-Match, None when absent; a malformed one is a 400."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    if not re.fullmatch(IF_MATCH_PATTERN.strip("^$"), raw):
        raise exceptions.ValidationError(
            {"If-Match": ['Send the ETag you received, e.g. If-Match: "3".']}
        )
    return int(raw.removeprefix("W/").strip('"'))


def _request_fingerprint(request: Request) -> str:
    payload = json.dumps(
        {"path": request.path, "query": request.META.get("QUERY_STRING", ""), "body": request.data},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    OpenApiParameter.HEADER,
    description="Any unique string of visible ASCII characters (e.g. a UUID). Sending the same "
    "key again returns the first answer and changes nothing; the same key with another body "
    "is a 422.",
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    description="The ETag you read. If the record changed since, the answer is 412 and "
    "nothing is written.",
)


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Replays the first answer to a POST sent again with the same Idempotency-Key.

    The key's row is inserted in the same transaction as the work, so a second request with
    the key waits on the unique index until the first commits, then replays its answer.
    """

    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(self, request, *args, **kwargs)
        if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN.strip("^$"), key):
            raise exceptions.ValidationError(
                {"Idempotency-Key": ["Give a key of 1 to 255 visible ASCII characters."]}
            )
        fingerprint = _request_fingerprint(request)
        user = request.user
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))", [key, user.pk]
                )
            stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if stored is not None:
                if stored.request_hash != fingerprint:
                    raise Unprocessable(
                        "This Idempotency-Key was used for a different request: use a new key."
                    )
                replay = Response(stored.body, status=stored.status_code, headers=stored.headers)
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = handler(self, request, *args, **kwargs)
            if response.status_code < 500:
                IdempotencyRecord.objects.create(
                    user=user,
                    key=key,
                    request_hash=fingerprint,
                    status_code=response.status_code,
                    body=json.loads(json.dumps(response.data, default=str)),
                    headers={k: v for k, v in response.items() if k in ("ETag", "Location")},
                )
            return response

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def lock_external_ids(resource: str, external_ids: Iterable[str]) -> None:
    """Serialise every writer of these external ids until the transaction ends, so two
    upserts of one id never both create (the unique constraint backs this up)."""
    keys = sorted({f"{resource}:{e}" for e in external_ids})
    if not keys:
        return
    with connection.cursor() as cursor:
        # Sorted, so two bulk calls with overlapping ids take their locks in the same order.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) k "
            "ORDER BY k",
            [keys],
        )


# Resources ---------------------------------------------------------------------------------------


class BulkResultSerializer(serializers.Serializer):
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.UUIDField(required=False, allow_null=True)
    errors = serializers.DictField(
        required=False, child=serializers.ListField(child=serializers.JSONField())
    )


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=text)
    for code, text in {
        400: "The request is not valid; `fields` names each problem.",
        401: "No valid token or session.",
        403: "You can see the record but may not change it.",
        404: "Not found, or not yours to see.",
        409: "A rule refuses the change; `reasons` names each.",
        412: "The record changed since the ETag you sent.",
        413: "The body is too large.",
        415: "Send JSON.",
        422: "Well formed, but refused: a record it names does not exist (or is not yours "
        "to see), a rule across fields or of the service refuses it, or the Idempotency-Key "
        "was used for a different request.",
        429: "Too many requests: wait for Retry-After seconds.",
    }.items()
}


class SyncReadViewSet(viewsets.GenericViewSet):
    """List (incremental, with deletions) and read one record by its id.

    Subclasses name `model`, `resource` and `serializer_class`; records come from
    `model.objects.visible_to(user)`, so one outside the caller's reach is a 404.
    """

    model: ClassVar[type[models.Model]]
    resource: ClassVar[str]
    lookup_field = "uuid"
    # Anything up to the next slash: a malformed id is then this API's JSON 404, not the
    # site's HTML one.
    lookup_value_regex = "[^/]+"
    pagination_class = KeysetPagination

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "resource" in cls.__dict__ and issubclass(cls, WithDeletions):
            register_synced(cls.model, cls.resource, cls.tombstone_owners)

    def base_queryset(self) -> models.QuerySet:
        return self.model.objects.visible_to(self.request.user)  # type: ignore[attr-defined]

    def get_queryset(self) -> models.QuerySet:
        return self.base_queryset()

    def get_object(self) -> Any:
        try:
            key = uuid.UUID(str(self.kwargs.get("uuid")))
        except ValueError:
            raise Http404 from None
        obj = self.get_queryset().filter(uuid=key).first()
        if obj is None:
            raise Http404
        return obj

    def respond(self, obj: models.Model, code: int = 200) -> Response:
        data = self.get_serializer(obj).data
        if hasattr(obj, "version"):
            tag = etag_of(obj)
        else:
            # A record read but never written here (a certification status): the ETag only
            # tells a poller whether anything it reads has moved.
            digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
            tag = f'W/"{digest.hexdigest()[:16]}"'
        return Response(data, status=code, headers={"ETag": tag})

    # A list built as JSON by PostgreSQL (output name -> SQL expression), spliced into the
    # response without Python touching each value: several times faster for long pages. The
    # expressions must give what the serializer gives; tests compare the two on the same rows.
    list_json: ClassVar[dict[str, Any] | None] = None

    def list(self, request: Request) -> HttpResponse | Response:
        if self.list_json is None:
            # DRF's own rendering happens after the view: nothing here to store.
            return self.draw_list(request)
        return stored_list(request, lambda: self.draw_list(request))

    def draw_list(self, request: Request) -> HttpResponse | Response:
        if self.list_json is None:
            page = self.paginate_queryset(self.get_queryset())
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        pairs: list[Any] = []
        for name, column in self.list_json.items():
            pairs += [models.Value(name), column]
        document = Cast(Func(*pairs, function="json_build_object"), models.TextField())
        paginator = self.paginator
        assert isinstance(paginator, KeysetPagination)
        rows = paginator.paginate_queryset(
            self.base_queryset().values("pk", "updated_at").annotate(out_json=document),
            request,
            self,
        )
        head = json.dumps({"next": paginator.next_link(), "cursor": paginator.cursor()})
        body = head[:-1] + ', "results": [' + ", ".join(r["out_json"] for r in rows) + "]}"
        return HttpResponse(body.encode(), content_type="application/json")

    def retrieve(self, request: Request, uuid: str) -> Response:
        obj = self.get_object()
        return self.respond(obj)


class WithDeletions:
    """Adds GET {prefix}/deleted/: the records deleted (at or after `updated_since`)."""

    resource: ClassVar[str]
    paginate_queryset: Callable[..., Any]
    get_paginated_response: Callable[..., Response]

    @staticmethod
    def tombstone_owners(obj: models.Model) -> tuple[int | None, int | None]:
        """What a deleted record belonged to, kept on its tombstone."""
        return parent_ids(obj)

    def tombstone_visibility(self, user: Any) -> models.Q:
        """The deletions `user` may learn of: those of records they could have seen. Each
        resource says how, from the ids on the tombstone."""
        raise NotImplementedError

    @extend_schema(responses=TombstoneSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=TombstonePagination)
    def deleted(self, request: Request) -> Response:
        """Records deleted (at or after `updated_since`) that you could see, so a sync can
        remove them too."""
        rows = Tombstone.objects.filter(resource=self.resource)
        if not request.user.sees_everything:
            rows = rows.filter(self.tombstone_visibility(request.user))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(TombstoneSerializer(page, many=True).data)


class SyncWriteViewSet(SyncReadViewSet):
    """Adds create (POST, with Idempotency-Key), change (PATCH) and delete, both with
    If-Match. Subclasses implement perform_create/perform_update/perform_destroy by calling
    their services, and `may_create`; `obj.is_editable_by(user)` guards changes."""

    def perform_create(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def perform_update(self, obj: Any, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def perform_destroy(self, obj: Any) -> None:
        raise NotImplementedError

    def may_create(self, data: dict[str, Any]) -> bool:
        return True

    def check_editable(self, obj: Any) -> None:
        """Visible but not the caller's to change: 403 (they know it exists already)."""
        if not obj.is_editable_by(self.request.user):
            raise exceptions.PermissionDenied("You can see this record but may not change it.")

    def validated(self, data: Any, *, instance: Any = None, partial: bool = False) -> dict:
        serializer = self.get_serializer(instance, data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def validated_new(self, data: Any) -> dict:
        """A new record's fields: one the record needs but the body leaves out is the rule of
        PUT …/external/{id}/ (which changes only what is sent on a record that exists)."""
        try:
            return self.validated(data)
        except exceptions.ValidationError as error:
            raise exceptions.ValidationError(_required_as_rule(error.detail)) from None

    def locked(self, obj: Any, expected: int | None) -> Any:
        """The row locked for this transaction, refused (412) when If-Match named an older
        version: the check and the write cannot be separated by another writer."""
        row = self.model._default_manager.select_for_update().get(pk=obj.pk)
        if expected is not None and row.version != expected:  # type: ignore[attr-defined]
            raise PreconditionFailed()
        return row

    def create_checked(self, data: dict[str, Any]) -> models.Model:
        if not self.may_create(data):
            raise exceptions.PermissionDenied("You may not add this record here.")
        try:
            with transaction.atomic():
                return self.perform_create(data)
        except IntegrityError as error:
            raise Conflict(
                "The record clashes with one that exists (an external id or a date already used)."
            ) from error

    @extend_schema(parameters=[IDEMPOTENCY_HEADER])
    @idempotent
    def create(self, request: Request) -> Response:
        obj = self.create_checked(self.validated(request.data))
        return self.respond(obj, status.HTTP_201_CREATED)

    @extend_schema(parameters=[IF_MATCH_HEADER])
    def partial_update(self, request: Request, uuid: str) -> Response:
        obj = self.get_object()
        self.check_editable(obj)
        expected = expected_version(request)
        data = self.validated(request.data, instance=obj, partial=True)
        with transaction.atomic():
            obj = self.perform_update(self.locked(obj, expected), data)
        return self.respond(obj)

    @extend_schema(parameters=[IF_MATCH_HEADER])
    def destroy(self, request: Request, uuid: str) -> Response:
        obj = self.get_object()
        self.check_editable(obj)
        expected = expected_version(request)
        with transaction.atomic():
            self.perform_destroy(self.locked(obj, expected))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncViewSet(WithDeletions, SyncWriteViewSet):
    """Adds the CRM's writes by external id: upsert (PUT …/external/{id}/) and bulk."""

    @extend_schema(
        parameters=[
            IF_MATCH_HEADER,
            OpenApiParameter(
                "external_id",
                {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[^\x00/]+$"},
                OpenApiParameter.PATH,
                description="The CRM's id of the record.",
            ),
        ]
    )
    def upsert(self, request: Request, external_id: str) -> Response:
        """Create (201) or update (200) the record with this external id."""
        if not 0 < len(external_id) <= 100 or "\x00" in external_id:
            raise exceptions.ValidationError({"external_id": ["Give 1 to 100 characters."]})
        expected = expected_version(request)
        if (
            isinstance(request.data, Mapping)
            and request.data.get("external_id", external_id) != external_id
        ):
            raise exceptions.ValidationError(
                {"external_id": ["The body names another external id than the URL."]}, code=RULE
            )
        with transaction.atomic():
            lock_external_ids(self.resource, [external_id])
            existing = self.model._default_manager.filter(external_id=external_id).first()
            if existing is None:
                data = self.validated_new(request.data)
                data["external_id"] = external_id
                return self.respond(self.create_checked(data), status.HTTP_201_CREATED)
            if not self.base_queryset().filter(pk=existing.pk).exists():
                raise Http404
            self.check_editable(existing)
            data = self.validated(request.data, instance=existing, partial=True)
            obj = self.perform_update(self.locked(existing, expected), data)
            return self.respond(obj)

    @extend_schema(
        parameters=[
            IDEMPOTENCY_HEADER,
            OpenApiParameter(
                "atomic",
                OpenApiTypes.BOOL,
                description="true: apply all records or none (422 when any fails).",
            ),
        ],
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    @idempotent
    def bulk(self, request: Request) -> Response:
        """Upsert up to 1,000 records by external id, with a result per record."""
        rows = request.data
        if not isinstance(rows, list):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON array."]})
        if not all(isinstance(row, dict) for row in rows):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Each record must be a JSON object."]}
            )
        if not 0 < len(rows) <= BULK_LIMIT:
            raise exceptions.ValidationError(
                {"non_field_errors": [f"Send 1 to {BULK_LIMIT} records."]}
            )
        atomic = _flag(request.query_params.get("atomic"), "atomic")
        results = BulkUpsert(self, rows, atomic=atomic).run()
        body: dict[str, Any] = {
            ("errors" if k == "error" else k): sum(1 for r in results if r["status"] == k)
            for k in _BULK_STATES
        }
        body["results"] = results
        return Response(body, status=422 if atomic and body["errors"] else 200)

    def bulk_create(self, rows: list[dict[str, Any]]) -> list[models.Model]:
        """Create many validated rows. A resource with a set-based service overrides this;
        the default calls the one-row service for each."""
        for data in rows:
            if not self.may_create(data):
                raise exceptions.PermissionDenied("You may not add this record here.")
        return [self.perform_create(data) for data in rows]

    def bulk_changed(self, obj: Any, data: dict[str, Any]) -> bool:
        """Whether writing `data` would change `obj` (an unchanged record is not written)."""
        for name, value in data.items():
            field = obj._meta.get_field(name)
            if field.many_to_many:
                if {o.pk for o in getattr(obj, name).all()} != {v.pk for v in value}:
                    return True
            elif field.is_relation:
                if getattr(obj, field.attname) != (value.pk if value is not None else None):
                    return True
            elif getattr(obj, name) != value:
                return True
        return False


_BULK_STATES = ("created", "updated", "unchanged", "error")


def _flag(raw: str | None, name: str) -> bool:
    if raw in (None, "false"):
        return False
    if raw == "true":
        return True
    raise exceptions.ValidationError({name: ["Give true or false."]})


def _uuid(obj: models.Model) -> uuid.UUID:
    return obj.uuid  # type: ignore[attr-defined]


class _RollBack(Exception):
    pass


class BulkUpsert:
    """One bulk call: validate every record, then create the new ones together and update
    the changed ones, each refusal reported against its record."""

    def __init__(self, view: SyncViewSet, rows: list[Any], *, atomic: bool):
        self.view = view
        self.rows = rows
        self.atomic = atomic
        self.results: list[dict[str, Any]] = [{} for _ in rows]

    def _error(self, i: int, ext: Any, fields: Any) -> None:
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        self.results[i] = {
            "external_id": ext if isinstance(ext, str) else None,
            "status": "error",
            "errors": fields,
        }

    def run(self) -> list[dict[str, Any]]:
        seen: dict[str, int] = {}
        keyed: list[tuple[int, str, Any]] = []
        for i, row in enumerate(self.rows):
            ext = row.get("external_id") if isinstance(row, dict) else None
            if not isinstance(row, dict):
                self._error(i, None, ["Each record must be a JSON object."])
            elif not isinstance(ext, str) or not 0 < len(ext) <= 100 or "\x00" in ext:
                self._error(i, ext, {"external_id": ["Each record needs an external_id."]})
            elif ext in seen:
                self._error(i, ext, {"external_id": ["The same external_id appears twice."]})
            else:
                seen[ext] = i
                keyed.append((i, ext, row))
        try:
            with transaction.atomic():
                self._apply(keyed)
                if self.atomic and any(r.get("status") == "error" for r in self.results):
                    raise _RollBack
        except _RollBack:
            for r in self.results:
                if r["status"] != "error":
                    r["status"] = "error"
                    r["errors"] = {
                        "non_field_errors": ["Not applied: another record in the call failed."]
                    }
                    r.pop("id", None)
        return self.results

    def _apply(self, keyed: list[tuple[int, str, Any]]) -> None:
        view = self.view
        lock_external_ids(view.resource, [ext for _, ext, _ in keyed])
        rows: Iterable[Any] = view.model._default_manager.filter(
            external_id__in=[ext for _, ext, _ in keyed]
        )
        existing = {obj.external_id: obj for obj in rows}
        visible = set(
            view.base_queryset()
            .filter(pk__in=[o.pk for o in existing.values()])
            .values_list("pk", flat=True)
        )
        # One serializer for every record: building a ModelSerializer's fields costs more
        # than validating a record with them, and they hold no state of their own.
        serializer = view.get_serializer_class()(context=view.get_serializer_context())
        new: list[tuple[int, str, dict]] = []
        for i, ext, row in keyed:
            obj = existing.get(ext)
            if obj is not None and obj.pk not in visible:
                self._error(i, ext, {"external_id": ["Not found, or not yours to see."]})
                continue
            for attr in ("_validated_data", "_errors", "_data"):
                serializer.__dict__.pop(attr, None)
            serializer.instance = obj
            serializer.initial_data = row
            serializer.partial = obj is not None
            if not serializer.is_valid():
                self._error(i, ext, _flatten(serializer.errors))
                continue
            data = dict(serializer.validated_data)
            data["external_id"] = ext
            if obj is None:
                new.append((i, ext, data))
                continue
            if not view.bulk_changed(obj, data):
                self.results[i] = {"external_id": ext, "status": "unchanged", "id": str(obj.uuid)}
                continue
            self._one(i, ext, partial(view.perform_update, obj, data), "updated", obj)
        if new:
            self._create(new)

    def _one(
        self,
        i: int,
        ext: str,
        write: Callable[[], models.Model],
        state: str,
        check: Any = None,
    ) -> None:
        try:
            with transaction.atomic():
                if check is not None:
                    self.view.check_editable(check)
                obj = write()
        except exceptions.APIException as error:
            self._error(i, ext, _flatten(error.detail))
            return
        except DjangoValidationError as error:
            self._error(i, ext, _django_validation_fields(error)[1] or error.messages)
            return
        except IntegrityError:
            self._error(i, ext, ["The record clashes with one that exists."])
            return
        self.results[i] = {"external_id": ext, "status": state, "id": str(_uuid(obj))}

    def _create(self, new: list[tuple[int, str, dict]]) -> None:
        try:
            with transaction.atomic():
                created = self.view.bulk_create([data for _, _, data in new])
        except (DjangoValidationError, IntegrityError, exceptions.APIException):
            # Some record is refused: fall back to one at a time to say which.
            for i, ext, data in new:
                self._one(i, ext, partial(self.view.create_checked, data), "created")
            return
        for (i, ext, _), obj in zip(new, created, strict=True):
            self.results[i] = {"external_id": ext, "status": "created", "id": str(_uuid(obj))}


class SyncRouter(SimpleRouter):
    """DRF's routes plus PUT {prefix}/external/{external_id}/ for the upsert."""

    routes = [
        *SimpleRouter.routes,
        Route(
            url=r"^{prefix}/external/(?P<external_id>[^/]+){trailing_slash}$",
            mapping={"put": "upsert"},
            name="{basename}-upsert",
            detail=False,
            initkwargs={"suffix": "Upsert"},
        ),
    ]

    def get_urls(self) -> list[Any]:
        urls = [*super().get_urls(), re_path(r"^", not_found)]
        for pattern in urls:
            pattern.callback = in_utc(pattern.callback)
            # The API authenticates in DRF (token or session), not with the login page.
            pattern.callback.login_required = False
        return urls


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under the API: the API's 404, in its error shape."""
    return JsonResponse(error_body(404, "No such API resource."), status=404)


def in_utc(view: Callable[..., Any]) -> Callable[..., Any]:
    """The API speaks UTC (`…Z`), whatever the organisation's time zone: integrators compare
    moments across systems, and the lists built by PostgreSQL format them the same way."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with timezone.override(dt.UTC):
            return view(*args, **kwargs)

    return wrapper


def utc_text(column: str) -> Func:
    """A timestamp as the API writes it (REST_FRAMEWORK DATETIME_FORMAT), in SQL."""
    return Func(
        models.F(column),
        models.Value('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        function="to_char",
        template="to_char(%(expressions)s)",
        arg_joiner=" AT TIME ZONE 'UTC', ",
        output_field=models.TextField(),
    )
