from __future__ import annotations

import html
from typing import Any

from django import template
from django.forms import BoundField
from django.template.context import Context
from django.template.defaulttags import querystring
from django.utils.safestring import SafeData, SafeString, mark_safe

register = template.Library()

# The list pages' shared pieces, built in Python: a page shows several of them, each with
# every choice or link, and the template engine (like format_html) spends microseconds on
# every node of every option. The components of the same names (templates/components/) call
# these, so their markup lives in one place.


def _escape(value: Any) -> str:
    """conditional_escape() without its lazy-string wrapper, which costs more than escaping."""
    return str(value) if isinstance(value, SafeData) else html.escape(str(value))


@register.simple_tag
def select_input(field: BoundField) -> SafeString:
    """A choice field as a plain <select>, its current value selected (components/select.html)."""
    current = field.value() or ""
    options = "".join(
        f'<option value="{_escape(value)}"{" selected" if value == current else ""}>'
        f"{_escape(label)}</option>"
        for value, label in field.field.choices  # type: ignore[attr-defined]
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<select name="{_escape(field.html_name)}" id="{_escape(field.auto_id)}" '
        f'class="form-select">{options}</select>'
    )


@register.simple_tag(takes_context=True)
def sort_header(context: Context, key: str, label: str, target: str = "") -> SafeString:
    """A column heading that sorts the list by `key`, or reverses it when it already does
    (components/sort_header.html). Needs `sort` and `request` in the context."""
    sort = context.get("sort")
    descending = f"-{key}"
    aria = arrow = ""
    if sort == key:
        aria, arrow = ' aria-sort="ascending"', " ▲"
    elif sort == descending:
        aria, arrow = ' aria-sort="descending"', " ▼"
    url = _escape(querystring(context, sort=descending if sort == key else key, page=None))
    htmx = f' hx-get="{url}" hx-target="{_escape(target)}" hx-push-url="true"' if target else ""
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<th scope="col"{aria}><a href="{url}"{htmx}>{_escape(label)}{arrow}</a></th>'
    )


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
