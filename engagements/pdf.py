"""HTML to PDF with WeasyPrint, loading nothing from outside the document.

Imported by the render alone: WeasyPrint is a heavy import that web processes never need.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles import finders
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STYLESHEET = "documents/print.css"


class LocalOnlyFetcher(URLFetcher):
    """Resources a document may load: images embedded as data: URIs, nothing else. A remote
    URL that reached a document (typed into a field, say) is refused, never fetched."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        raise ValueError(f"documents load no external resources ({url[:80]})")


def _stylesheet() -> CSS:
    path = finders.find(STYLESHEET)
    assert isinstance(path, str), f"{STYLESHEET} is missing from the static files"
    return CSS(filename=path, url_fetcher=LocalOnlyFetcher())


def html_to_pdf(html: str) -> tuple[bytes, int]:
    """The PDF of `html` and its page count. Fonts come from the system (fontconfig)."""
    rendered = HTML(string=html, base_url="data:,", url_fetcher=LocalOnlyFetcher()).render(
        stylesheets=[_stylesheet()]
    )
    pdf = rendered.write_pdf()
    assert pdf is not None
    return pdf, len(rendered.pages)
