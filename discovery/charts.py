"""Charts of discovery figures, drawn as SVG on the server so pages, print and PDF documents
show the same picture without any script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pygal
from pygal.style import Style

# Colour-blind-safe hues (Okabe-Ito), dark enough for text on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#212529",
    foreground_strong="#212529",
    foreground_subtle="#6c757d",
    colors=PALETTE,
    font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=16,
    value_font_size=12,
)


def tco_chart(alternatives: Sequence[Any], *, currency: str) -> str:
    """Lifetime cost of each alternative, one-off and yearly parts stacked.

    `alternatives` carry `name`, `one_off`, `yearly` and `lifetime` (TcoAlternativeQuerySet
    .with_totals()) and the comparison's lifespan through `comparison.lifespan_years`.
    """
    lifespan = alternatives[0].comparison.lifespan_years if alternatives else 0
    chart = pygal.StackedBar(
        style=STYLE,
        title=f"Total cost of ownership over {lifespan} years ({currency})",
        width=800,
        height=380,
        js=[],  # no script: the SVG is shown as an image and printed into documents
        disable_xml_declaration=False,
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
