"""What the scorecard tests share."""

from __future__ import annotations

from scorecard.models import KpiSnapshot


def snapshot_rows() -> list[tuple[object, ...]]:
    """Every snapshot row in a fixed order, to compare two runs."""
    return list(
        KpiSnapshot.objects.order_by(
            "kpi", "period_type", "period_start", "dimension", "dimension_value"
        ).values_list(
            "kpi",
            "period_type",
            "period_start",
            "dimension",
            "dimension_value",
            "numerator",
            "denominator",
            "value",
            "computed_at",
        )
    )
