"""Charts of discovery figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pygal

from tcp.charts import SVG_OPTIONS, chart_style

STYLE = chart_style()


def tco_chart(
    alternatives: Sequence[Any], *, currency: str, width: int = 800, height: int = 380
) -> str:
    """Lifetime cost of each alternative, one-off and yearly parts stacked.

    `alternatives` carry `name`, `one_off`, `yearly` and `lifetime` (TcoAlternativeQuerySet
    .with_totals()) and the comparison's lifespan through `comparison.lifespan_years`.
    The size is the one it is shown at: text scales with the picture, so a chart drawn
    wide and shown narrow has text too small to read.
    """
    lifespan = alternatives[0].comparison.lifespan_years if alternatives else 0
    chart = pygal.StackedBar(
        style=STYLE,
        title=f"Total cost of ownership over {lifespan} years ({currency})",
        width=width,
        height=height,
        **SVG_OPTIONS,
        legend_at_bottom=True,
        print_values=False,
        value_formatter=lambda v: f"{v:,.0f}",
        y_labels_major_every=None,
        show_y_guides=True,
        truncate_label=30,
        no_data_text="No costs recorded yet",
    )
    chart.x_labels = [a.name for a in alternatives]
    chart.add("One-off costs", [float(a.one_off) for a in alternatives])
    chart.add(f"Yearly costs × {lifespan}", [float(a.yearly * lifespan) for a in alternatives])
    return str(chart.render(is_unicode=True))
