"""How the OpenAPI schema describes Parity's API truthfully: every error an operation can
answer, the ETag header, the upsert's 201, the bulk call's body, and request bodies that
refuse unknown fields (as the serializers do)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from tcp.api import ERRORS, BulkResponseSerializer

BODY_METHODS = {"POST", "PUT", "PATCH"}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "tcp.api_auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class ParityAutoSchema(AutoSchema):
    def _action(self) -> str:
        return getattr(self.view, "action", "") or ""

    def get_request_serializer(self) -> Any:
        serializer = super().get_request_serializer()
        if self._action() == "bulk":
            serializer_class: Any = type(serializer)
            return serializer_class(many=True, partial=True) if serializer is not None else None
        return serializer

    def get_response_serializers(self) -> Any:
        if self._action() == "bulk":
            return {200: BulkResponseSerializer, 400: BulkResponseSerializer}
        return super().get_response_serializers()

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        action = self._action()
        if action == "upsert" and "200" in responses:
            responses["201"] = {**responses["200"], "description": "Created"}
        codes = [400, 401, 429]
        if "{" in self.path:
            codes.append(404)
        if self.method in BODY_METHODS or self.method == "DELETE":
            codes += [403, 404, 409]
        if self.method in BODY_METHODS:
            codes += [413, 415]
        if self.method in ("PUT", "PATCH", "DELETE") or action == "attendance":
            codes.append(412)
        if self.method == "POST":
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


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Request bodies refuse fields they do not know; say so in the schema."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    return result
