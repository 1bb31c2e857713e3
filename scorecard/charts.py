"""Scorecard charts: SVG drawn on the server with the project's shared look. Every chart has
the same figures in a table beside it, which is its text alternative."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pygal

from scorecard.kpis import Kpi, Unit
from tcp.charts import SVG_OPTIONS, chart_style


def _rounded(kpi: Kpi, figure: Decimal) -> Decimal:
    """The figure rounded as it is shown. A small negative figure rounds to -0, which reads
    as a fall of nothing: adding zero makes it 0."""
    places = 0 if kpi.unit in (Unit.PERCENT, Unit.SCORE, Unit.MONEY) else 1
    return figure.quantize(Decimal(1).scaleb(-places)) + 0


def format_value(kpi: Kpi, value: Decimal | None) -> str:
    """A KPI's value as people read it: "61%", "2.3" with a times sign, "1,200", "no data"."""
    if value is None:
        return "no data"
    value = _rounded(kpi, value)
    if kpi.unit == Unit.PERCENT:
        return f"{value:.0f}%"
    if kpi.unit == Unit.INDEX:
        return f"{value:.1f}×"
    if kpi.unit == Unit.MONEY:
        return f"{value:,.0f}"
    if kpi.unit == Unit.SCORE:
        return f"{value:+.0f}"
    return f"{value:.1f}"


def format_change(kpi: Kpi, change: Decimal | None) -> str:
    """A change between two values: points for percentages and scores."""
    if change is None:
        return "–"
    change = _rounded(kpi, change)
    if kpi.unit in (Unit.PERCENT, Unit.SCORE):
        return f"{change:+.0f} pts"
    if kpi.unit == Unit.INDEX:
        return f"{change:+.1f}×"
    if kpi.unit == Unit.MONEY:
        return f"{change:+,.0f}"
    return f"{change:+.1f}"


def _options(kpi: Kpi | None, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        **SVG_OPTIONS,
        "style": chart_style(font_size=12),
        "width": 800,
        "height": 280,
        "truncate_label": -1,
        "truncate_legend": -1,
        "show_x_guides": False,
        "no_data_text": "No data for this period",
    }
    if kpi is not None:
        options["value_formatter"] = lambda v: format_value(kpi, Decimal(str(v)))
    options.update(extra)
    return options


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _percent_range(kpi: Kpi, values: Sequence[Decimal | None]) -> dict[str, Any]:
    """Shares run from 0 to 100 so bars and lines compare at a glance; a growth rate can
    go below zero and keeps pygal's own range."""
    shown = [v for v in values if v is not None]
    if kpi.unit == Unit.PERCENT and all(0 <= v <= 100 for v in shown):
        return {"range": (0, 100)}
    return {}


def trend_chart(kpi: Kpi, points: Sequence[tuple[str, Decimal | None]]) -> str:
    """The KPI over time: (period label, value), oldest first."""
    chart = pygal.Line(
        **_options(
            kpi,
            show_legend=False,
            x_label_rotation=0,
            **_percent_range(kpi, [value for _, value in points]),
        )
    )
    chart.x_labels = [label for label, _ in points]
    chart.add(kpi.name, [_float(value) for _, value in points], allow_interruptions=True)
    return str(chart.render(is_unicode=True))


def sparkline(kpi: Kpi, values: Sequence[Decimal | None]) -> str:
    chart = pygal.Line(
        **SVG_OPTIONS,
        style=chart_style(font_size=10),
        width=120,
        height=32,
        show_legend=False,
        show_x_labels=False,
        show_y_labels=False,
        show_dots=False,
        margin=2,
        allow_interruptions=True,
        no_data_text="",
    )
    chart.add(kpi.name, [_float(v) for v in values], stroke_style={"width": 2})
    return str(chart.render_sparkline(is_unicode=True))


def breakdown_chart(kpi: Kpi, rows: Sequence[tuple[str, Decimal | None]]) -> str:
    """The KPI per dimension value: (label, value)."""
    chart = pygal.HorizontalBar(
        **_options(
            kpi,
            show_legend=False,
            height=max(160, 40 + 28 * len(rows)),
            **_percent_range(kpi, [value for _, value in rows]),
        )
    )
    chart.x_labels = [label for label, _ in rows]
    chart.add(kpi.name, [_float(value) for _, value in rows])
    return str(chart.render(is_unicode=True))


def impact_chart(rows: Sequence[tuple[str, Decimal | None, Decimal | None]]) -> str:
    """Percentage KPIs before and after adoption: (name, pre, post)."""
    chart = pygal.Bar(
        **_options(
            None,
            range=(0, 100),
            legend_at_bottom=True,
            print_values=True,
            x_label_rotation=15,
            value_formatter=lambda v: f"{v:.0f}%",
        )
    )
    chart.x_labels = [name for name, _, _ in rows]
    chart.add("Before adoption", [_float(pre) for _, pre, _ in rows])
    chart.add("After adoption", [_float(post) for _, _, post in rows])
    return str(chart.render(is_unicode=True))
