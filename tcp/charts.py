"""The look every chart shares: SVG drawn on the server, so pages, print and PDF documents
show the same picture without any script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pygal.style import Style

# Colour-blind-safe hues (Okabe-Ito), dark enough for text and lines on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


def chart_style(*, colors: Sequence[str] = PALETTE, font_size: int = 13) -> Style:
    return Style(
        background="white",
        plot_background="white",
        foreground="#212529",
        foreground_strong="#212529",
        foreground_subtle="#6c757d",
        colors=tuple(colors),
        font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
        label_font_size=font_size,
        major_label_font_size=font_size,
        legend_font_size=font_size,
        title_font_size=font_size + 3,
        value_font_size=font_size - 1,
        no_data_font_size=16,
    )


# What every chart is drawn with: no script (the SVG is shown as an image and printed into
# documents) and an XML declaration so it stands alone as a file.
SVG_OPTIONS: dict[str, Any] = {"js": [], "disable_xml_declaration": False}
