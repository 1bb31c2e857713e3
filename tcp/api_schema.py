"""How the OpenAPI schema describes Parity's API truthfully: every error an operation can
answer, the ETag header, the upsert's 201, the bulk call's body, and request bodies that
refuse unknown fields (as the serializers do)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from tcp.api import BULK_LIMIT, ERRORS, BulkResponseSerializer

BODY_METHODS = {"POST", "PUT", "PATCH"}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "tcp.api_auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class ParityAutoSchema(AutoSchema):
    def _action(self) -> str:
        return getattr(self.view, "action", "") or ""

    def get_response_serializers(self) -> Any:
        if self._action() == "bulk":
            return {200: BulkResponseSerializer, 422: BulkResponseSerializer}
        return super().get_response_serializers()

    def get_request_serializer(self) -> Any:
        serializer = super().get_request_serializer()
        # PUT …/external/{id}/ changes only the fields sent on a record that exists; the
        # fields a new record needs are refused by the service's rule (422) when missing.
        if self._action() in ("bulk", "upsert") and serializer is not None:
            serializer_class: Any = type(serializer)
            return serializer_class(many=self._action() == "bulk", partial=True)
        return serializer

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        action = self._action()
        if action == "upsert" and "200" in responses:
            responses["201"] = {**responses["200"], "description": "Created"}
        codes = [400, 401, 429]
        if "{" in self.path or getattr(self.view, "only_for_some_roles", False):
            codes.append(404)
        if self.method in BODY_METHODS or self.method == "DELETE":
            codes += [403, 404, 409, 422]
        if self.method in BODY_METHODS:
            codes += [413, 415]
        if self.method in ("PUT", "PATCH", "DELETE") or action == "attendance":
            codes.append(412)
        if self.method in BODY_METHODS or getattr(self.view, "refuses_by_rule", False):
            codes.append(422)
        for code in sorted(set(codes)):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ERRORS[code], str(code))
        return responses

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> Any:
        headers = super()._get_response_headers_for_code(status_code, direction) or {}
        code = str(status_code)
        if code in ("200", "201") and self._action() not in ("list", "deleted", "bulk"):
            headers["ETag"] = {
                "schema": {"type": "string"},
                "description": "The record's version; send it back in If-Match.",
            }
        if code == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
        return headers


# Text the API refuses whatever the field: a NUL (PostgreSQL cannot store it) and, where a
# value is required, one that is blank once trimmed (DRF trims). Said as patterns, so that
# every string the schema allows is one the API takes.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


# drf-spectacular's pattern for a decimal lets every digit be optional, so it allows "" and
# "-", which DRF refuses: at least one digit, before or after the point.
SPECTACULAR_DECIMAL = re.compile(r"\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$")


def _decimal_pattern(whole: str, places: str) -> str:
    return rf"^-?(\d{{1,{whole}}}(\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"


def _text_rules(schema: Any) -> None:
    if isinstance(schema, list):
        for item in schema:
            _text_rules(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("format") == "decimal" and (
        found := SPECTACULAR_DECIMAL.fullmatch(schema.get("pattern", ""))
    ):
        schema["pattern"] = _decimal_pattern(*found.groups())
    if schema.get("type") == "string" and not {"format", "enum", "pattern"} & schema.keys():
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    for key in ("properties", "items", "allOf", "anyOf", "oneOf", "additionalProperties"):
        value = schema.get(key)
        if key == "properties" and isinstance(value, dict):
            for child in value.values():
                _text_rules(child)
        else:
            _text_rules(value)


def _no_email_format(schema: Any) -> None:
    """Responses give an email address as it is stored: addresses from a CRM or an older
    system need not pass today's check, and a reader must not refuse them."""
    if isinstance(schema, dict):
        if schema.get("format") == "email":
            del schema["format"]
        if any(isinstance(o, dict) and o.get("format") == "email" for o in schema.get("oneOf", [])):
            # Without the format, "" would match both of DRF's alternatives (any or blank).
            schema["anyOf"] = schema.pop("oneOf")
        for value in schema.values():
            _no_email_format(value)
    elif isinstance(schema, list):
        for value in schema:
            _no_email_format(value)


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request bodies refuse fields they do not know and text the API cannot store; say so
    in the schema. A bulk call takes any JSON objects (each is checked on its own and
    answered in `results`), described as the records they should be."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
            _text_rules(schema)
        else:
            _no_email_format(schema)
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                _text_rules(parameter.get("schema"))
            if not operation.get("operationId", "").endswith("_bulk_create"):
                continue
            # Refused in one piece (atomic) with the records' results, or refused outright.
            operation["responses"]["422"]["content"]["application/json"]["schema"] = {
                "oneOf": [
                    {"$ref": "#/components/schemas/BulkResponse"},
                    {"$ref": "#/components/schemas/Error"},
                ]
            }
            for media in operation.get("requestBody", {}).get("content", {}).values():
                body = media["schema"]
                record = body.get("items", {})
                body.update(minItems=1, maxItems=BULK_LIMIT)
                body["items"] = {"anyOf": [record, {"type": "object"}]}
    return result
