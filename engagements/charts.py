"""Charts of engagement figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pygal

from engagements.models import SuccessMetric
from tcp.charts import SVG_OPTIONS, chart_style

# Colour-blind-safe hues (Okabe-Ito), dark enough for lines on white: readings, target,
# baseline.
PALETTE = ("#0072B2", "#009E73", "#6c757d")

# A reading: the day and the value read.
Reading = tuple[dt.date, Decimal]

STYLE = chart_style(colors=PALETTE, font_size=11)


def success_metric_chart(metric: SuccessMetric, readings: Sequence[Reading]) -> str:
    """A small line chart of a success metric's readings over time, with its target and
    baseline as dashed lines across the same days. `readings` are (day, value), oldest
    first."""
    options: dict[str, Any] = {
        "style": STYLE,
        "width": 480,
        "height": 200,
        **SVG_OPTIONS,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_x_guides": False,
        "show_y_guides": False,
        "margin_right": 40,  # room for the last day's label
        "value_formatter": lambda v: f"{v:,.2f}".rstrip("0").rstrip("."),
        "no_data_text": "No readings yet",
    }
    if not readings:
        empty = pygal.Line(**options, show_x_labels=False, show_y_labels=False)
        return str(empty.render(is_unicode=True))
    # Days as numbers on an XY chart keep the spacing true to time (pygal's DateLine uses a
    # deprecated part of the standard library).
    days = [day.toordinal() for day, _ in readings]
    first, last = days[0], days[-1]
    if first == last:
        first, last = first - 1, last + 1
    marks = [float(metric.baseline), float(metric.target)]
    values = [float(value) for _, value in readings]
    span = [*values, *marks]
    pad = (max(span) - min(span)) * 0.12 or 1.0
    chart = pygal.XY(
        **options,
        range=(min(span) - pad, max(span) + pad),
        xrange=(first, last),
        x_value_formatter=lambda x: f"{dt.date.fromordinal(round(x)):%d %b %Y}",
    )
    # Label the first and last reading's days and the two values progress runs between.
    chart.x_labels = sorted({days[0], days[-1]})
    chart.y_labels = sorted(set(marks))
    unit = f" ({metric.unit})" if metric.unit else ""
    chart.add(f"Readings{unit}", list(zip(days, values, strict=True)), stroke_style={"width": 2.5})
    flat = {"show_dots": False, "stroke_style": {"width": 2, "dasharray": "6,4"}}
    chart.add("Target", [(first, marks[1]), (last, marks[1])], **flat)
    chart.add("Baseline", [(first, marks[0]), (last, marks[0])], **flat)
    return str(chart.render(is_unicode=True))


def participation_chart(quarters: Sequence[tuple[dt.date, int, int]]) -> str:
    """The share of critical milestones the commercial lead contributed to, per quarter.
    `quarters` are (first day, contributed, held), oldest first."""
    chart = pygal.Bar(
        **SVG_OPTIONS,
        style=chart_style(font_size=12),
        width=800,
        height=260,
        range=(0, 100),
        show_legend=False,
        # Figures on the bars while they fit; beyond that the tooltips and the table say.
        print_values=len(quarters) <= 12,
        value_formatter=lambda v: f"{v:.0f}%",
        no_data_text="No critical milestones held",
        x_label_rotation=0 if len(quarters) <= 12 else 45,
        show_minor_x_labels=len(quarters) <= 12,
        x_labels_major_every=4 if len(quarters) > 12 else None,
    )
    chart.x_labels = [f"Q{(start.month - 1) // 3 + 1} {start:%y}" for start, _, _ in quarters]
    chart.add(
        "Lead contributed",
        [
            {"value": contributed * 100 / held, "label": f"{contributed} of {held}"}
            if held
            else None
            for _, contributed, held in quarters
        ],
    )
    return str(chart.render(is_unicode=True))
