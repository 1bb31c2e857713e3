"""The API's request parser: JSON whose every string is text (DEFAULT_PARSER_CLASSES).

Its own module: DRF imports the parser while building APIView, before tcp.api can load.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate_at(data: Any) -> str | None:
    """The top-level field whose value (at any depth) holds a text that is not Unicode text
    ("non_field_errors" when it is not under a field), or None."""
    pending: list[tuple[str, Any]] = [("non_field_errors", data)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return where
                pending.append((key if where == "non_field_errors" else where, item))
        elif isinstance(value, list):
            pending.extend((where, item) for item in value)
    return None


class TextJSONParser(JSONParser):
    """JSON whose every string is Unicode text. JSON can escape half of a surrogate pair
    ("\\ud800") that no UTF-8 text holds: PostgreSQL could not store it nor the answer echo
    it back, so it is refused here, naming the field."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        where = _lone_surrogate_at(data)
        if where is not None:
            raise exceptions.ValidationError(
                {where: ["Give text: this holds half of a surrogate pair (\\ud800-\\udfff)."]}
            )
        return data
