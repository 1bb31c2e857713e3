"""Pages of a list with their total in one query.

Django's Paginator counts first and then fetches the page: two round trips to the database on
every list page. Here the count rides along as a scalar subquery of the page query, which the
database runs once; only a page number past the end costs the extra queries.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Func, IntegerField, QuerySet, Subquery, Value

TOTAL = "page_total"
MAX_OFFSET = 2**63 - 1  # PostgreSQL's bigint


def _number(raw: Any) -> int:
    """Django's get_page() reading of the number: anything but a whole number ≥ 1 is page 1."""
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


def page_with_total(
    *, rows: QuerySet[Any], counted: QuerySet[Any], number: Any, per_page: int
) -> Page:
    """Page `number` of `rows` (filtered, annotated, ordered), with `counted` (the same filter,
    without what only the rows need) counted inside the same query. Behaves like
    Paginator(rows, per_page).get_page(number): a bad number is the first page, one past the
    end the last."""
    number = _number(number)
    if number > MAX_OFFSET // per_page:
        # Far past any end, and an OFFSET the database could not even hold: Django's way.
        return Paginator(rows, per_page).get_page(number)
    total = Subquery(
        counted.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n"),
        output_field=IntegerField(),
    )
    offset = (number - 1) * per_page
    found = list(rows.annotate(**{TOTAL: total})[offset : offset + per_page])
    if not found and number > 1:
        # Past the end: Django's way, which counts first and then shows the last page.
        return Paginator(rows, per_page).get_page(number)
    paginator = Paginator(rows, per_page)
    # Paginator.count is a cached property; the total is already known.
    paginator.__dict__["count"] = getattr(found[0], TOTAL) if found else 0
    return Page(found, number, paginator)
