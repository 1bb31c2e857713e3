from __future__ import annotations

from decimal import Decimal

from django import template

from scorecard import charts
from scorecard.kpis import Kpi

register = template.Library()


@register.filter
def kpi_value(value: Decimal | None, kpi: Kpi) -> str:
    return charts.format_value(kpi, value)


@register.filter
def kpi_change(change: Decimal | None, kpi: Kpi) -> str:
    return charts.format_change(kpi, change)


@register.filter
def plain(value: Decimal | None) -> str:
    """A stored figure without trailing zeros."""
    if value is None:
        return "–"
    text = f"{value.normalize():f}"
    return text
