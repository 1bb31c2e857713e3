from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def change(value: Any) -> str:
    """An audit value for people: `[old, new]` reads “old → new”; anything else as it is."""
    if isinstance(value, list) and len(value) == 2:
        old, new = (_show(v) for v in value)
        return f"{old} → {new}"
    return _show(value)


@register.filter
def money(value: Any) -> str:
    """A whole amount with thousands separators. Lists use it on every row, so it avoids
    floatformat's locale machinery."""
    if value in (None, ""):
        return "—"
    return f"{value:,.0f}"


def _show(value: Any) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


@register.filter
def audit_items(changes: dict[str, Any]) -> list[tuple[str, Any]]:
    """An audit entry's changes for people: readable field names, the changed row first,
    as they are."""
    items: list[tuple[str, Any]] = []
    for key, value in changes.items():
        if key == "item":
            items.insert(0, ("", f"“{value}”"))
        else:
            # Field names read as words; keys that are already words (a person's name)
            # keep their capitals.
            label = key if " " in key else key.replace("_", " ").capitalize()
            items.append((label, value))
    return items
