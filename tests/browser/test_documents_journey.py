"""A proposal generated in Chromium, rendered by a real worker, downloaded from the page."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engagements.models import Document, DocumentStatus
from tcp.models import Role
from tests.engagements.documents_helpers import pdf_text
from tests.factories import (
    PASSWORD,
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_account_manager_generates_a_proposal_watches_it_render_and_downloads_it(
    live_server: object,
    page: Page,
    artifacts_dir: Path,
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    alex = UserFactory.create(
        username="alex", first_name="Alex", last_name="Carter", roles=[Role.ACCOUNT_MANAGER]
    )
    account = AccountFactory.create(name="Northvale Radiology Network")
    TeamMemberFactory.create(account=account, user=alex)
    engagement = EngagementFactory.create(
        account=account, name="PACS migration", commercial_lead=alex
    )
    base = str(live_server)

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{base}{engagement.get_absolute_url()}")
    page.get_by_role("link", name="Documents").click()

    # Discovery is not done: the page says what is missing, and the click is refused.
    expect(page.get_by_text("A proposal needs complete discovery first")).to_be_visible()
    page.get_by_role("button", name="Generate proposal").click()
    expect(page.get_by_text("Complete a Failure-Cost Analysis for this engagement")).to_be_visible()
    assert not Document.objects.exists()

    complete_discovery(engagement)
    start_worker("documents")
    page.reload()
    expect(page.get_by_text("No proposals yet")).to_be_visible()
    page.get_by_role("button", name="Generate proposal").click()
    expect(page.get_by_text("Proposal version 1 is on its way.")).to_be_visible()
    row = page.locator("tbody tr").first
    page.screenshot(path=artifacts_dir / "proposal-requested.png", full_page=True)

    # The row polls until the worker has stored the PDF, then offers it.
    expect(row.get_by_text("Ready")).to_be_visible(timeout=60_000)
    page.screenshot(path=artifacts_dir / "proposal-ready.png", full_page=True)
    with page.expect_download() as download:
        row.get_by_role("link", name="Download PDF").click()
    saved = artifacts_dir / download.value.suggested_filename
    download.value.save_as(saved)

    assert saved.name == "pacs-migration-proposal-v1.pdf"
    pages, text = pdf_text(saved.read_bytes())
    assert pages >= 2
    assert "Proposal: PACS migration" in text
    assert Document.objects.get().status == DocumentStatus.READY
