"""Journeys in a real Chromium against the live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engagements.models import Engagement, Stage, StageChange
from tcp.models import Role
from tests.factories import (
    PASSWORD,
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_account_manager_opens_an_account_and_moves_an_engagement_one_stage(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    alex = UserFactory.create(
        username="alex", first_name="Alex", last_name="Carter", roles=[Role.ACCOUNT_MANAGER]
    )
    account = AccountFactory.create(name="Northvale Radiology Network")
    TeamMemberFactory.create(account=account, user=alex)
    engagement = EngagementFactory.create(
        account=account, name="PACS migration", commercial_lead=alex
    )
    complete_discovery(engagement)
    base = str(live_server)

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Alex")).to_be_visible()

    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_label("Search").fill("Northvale")
    page.get_by_role("link", name="Northvale Radiology Network").click()
    expect(page.get_by_role("heading", name="Northvale Radiology Network")).to_be_visible()

    page.get_by_role("link", name="PACS migration").click()
    expect(page.get_by_role("heading", name="PACS migration")).to_be_visible()
    page.get_by_label("Move to").select_option("proposal")
    page.get_by_label("Note").fill("Proposal walked through with the CIO")
    page.get_by_role("button", name="Change stage").click()

    expect(page.get_by_text("Moved to proposal.")).to_be_visible()
    expect(page.locator("#engagement .stage-path li.current")).to_have_text("Proposal")
    page.screenshot(path=artifacts_dir / "engagement-moved-to-proposal.png", full_page=True)

    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL
    change = StageChange.objects.get(engagement=engagement, to_stage=Stage.PROPOSAL)
    assert (change.by, change.note) == (alex, "Proposal walked through with the CIO")
    assert Engagement.objects.filter(stage=Stage.PROPOSAL).count() == 1
