"""The API's browsable documentation in Chromium, under the site's content security policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_documentation_renders_its_operations_from_installed_files(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server}/api/docs/")

    expect(page.get_by_text("Parity API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/documents/").first).to_be_visible()
    page.screenshot(path=artifacts_dir / "api-docs.png")
    # Everything the page loads comes from this server: no CDN.
    assert all(url.startswith(str(live_server)) or url.startswith("data:") for url in requested)
