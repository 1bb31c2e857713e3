"""The candidate's DiSC profile as a small bar chart."""

from __future__ import annotations

import pygal

from hiring.models import DiscProfile
from tcp.charts import SVG_OPTIONS, chart_style


def disc_chart(disc: DiscProfile) -> str:
    chart = pygal.Bar(
        **SVG_OPTIONS,
        style=chart_style(font_size=11),
        width=360,
        height=200,
        range=(0, 100),
        show_legend=False,
        print_values=True,
    )
    scores = disc.scores()
    chart.x_labels = [label for label, _ in scores]
    chart.add("Score", [score for _, score in scores])
    return str(chart.render(is_unicode=True))
