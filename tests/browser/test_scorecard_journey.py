"""The scorecard in a real Chromium: sales leadership opens it, steps back a quarter and
breaks it down by industry without a page load, opens a KPI and follows its figure to the
engagements behind it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from scorecard import services
from tcp.models import OrganisationSettings, Role
from tests.factories import PASSWORD, AccountFactory, EngagementFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_leadership_steps_through_the_scorecard_to_the_engagements_behind_a_figure(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    OrganisationSettings.load()
    UserFactory.create(
        username="lee", first_name="Lee", last_name="Hart", roles=[Role.SALES_LEADERSHIP]
    )
    last = services.default_period("quarter", timezone.localdate())
    previous = last.previous
    bank = AccountFactory.create(name="Prairie Farm Credit", industry="banking")
    clinic = AccountFactory.create(name="Northvale Radiology", industry="healthcare")
    for account, name, late in [
        (bank, "Loan portal", False),
        (clinic, "PACS migration", True),
        (clinic, "Scheduling rebuild", False),
    ]:
        EngagementFactory.create(
            account=account,
            name=name,
            stage="completed",
            opened_on=previous.start - dt.timedelta(days=100),
            contract_signed_on=previous.start - dt.timedelta(days=60),
            contracted_end=previous.start + dt.timedelta(days=10),
            contracted_effort_days=Decimal(100),
            completed_on=previous.start + dt.timedelta(days=20 if late else 5),
        )
    for period in (last, previous, previous.previous, last.year_ago, previous.year_ago):
        services.snapshots_recompute(period=period)
    base = str(live_server)

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("lee")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Scorecard").click()
    expect(page.get_by_role("heading", name="Balanced scorecard")).to_be_visible()
    expect(page.locator("#period-heading")).to_have_text(last.label)
    page.screenshot(path=str(artifacts_dir / "scorecard.png"), full_page=True)
    # A page load would clear this; htmx swaps keep it.
    page.evaluate("window.stillHere = true")

    page.get_by_role("link", name="Previous quarter").click()
    expect(page.locator("#period-heading")).to_have_text(previous.label)
    assert f"start={previous.start.isoformat()}" in page.url
    adherence = page.locator('tr[data-kpi="timeline_adherence"]')
    expect(adherence).to_contain_text("67%")

    page.get_by_label("Break down by").select_option("industry")
    expect(page.locator("#period-heading")).to_contain_text("by industry")
    expect(page.locator("tr.breakdown").first).to_be_visible()
    expect(page.get_by_text("Healthcare: 50%").first).to_be_visible()
    assert page.evaluate("window.stillHere") is True
    page.screenshot(path=str(artifacts_dir / "scorecard-by-industry.png"), full_page=True)

    adherence.get_by_role("link", name="Timeline adherence").click()
    expect(page.get_by_role("heading", name="Timeline adherence", level=1)).to_be_visible()
    breakdown = page.locator("#breakdown-table")
    expect(breakdown).to_contain_text("Banking & lending")
    expect(breakdown.locator("tr", has_text="Healthcare")).to_contain_text("50%")
    rows = page.locator("#engagements-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="PACS migration")).to_contain_text("No")
    page.screenshot(path=str(artifacts_dir / "kpi-page.png"), full_page=True)

    rows.filter(has_text="PACS migration").get_by_role("link", name="PACS migration").click()
    expect(page.get_by_role("heading", name="PACS migration")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "engagement.png"), full_page=True)

    # Leadership's other view: the TCP impact, before and after adoption.
    page.goto(f"{base}/scorecard/impact/")
    expect(page.get_by_role("heading", name="TCP impact")).to_be_visible()
    expect(page.locator("#impact-table")).to_contain_text("Deal scope accuracy")
    page.screenshot(path=str(artifacts_dir / "tcp-impact.png"), full_page=True)
