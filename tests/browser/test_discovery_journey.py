"""Discovery in a real Chromium: from a refused proposal to an allowed one."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from discovery.models import FailureCostAnalysis, FailureScenario, NeverEvent
from engagements.models import Engagement, Stage
from tcp.models import AuditLogEntry, Role
from tests.factories import (
    PASSWORD,
    AccountFactory,
    ContactFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill_and_wait(page: Page, card: str, label: str, value: str) -> None:
    """Type into a field of an autosaving card and wait for its save to land."""
    field = page.locator(card).get_by_label(label, exact=True)
    field.fill(value)
    expect(page.locator(f"{card}-status")).to_contain_text("Saved")


def test_an_account_manager_completes_discovery_and_then_moves_to_proposal(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    alex = UserFactory.create(
        username="alex", first_name="Alex", last_name="Carter", roles=[Role.ACCOUNT_MANAGER]
    )
    account = AccountFactory.create(name="Northvale Radiology Network")
    TeamMemberFactory.create(account=account, user=alex)
    ContactFactory.create(account=account, name="Renée Albright", buyer_role="economic")
    ContactFactory.create(account=account, name="Marcus Idowu", buyer_role="technical")
    engagement = EngagementFactory.create(
        account=account, name="Patient-record migration", commercial_lead=alex
    )
    base = str(live_server)

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The proposal is refused, naming what is missing.
    page.goto(f"{base}{engagement.get_absolute_url()}")
    page.get_by_label("Move to").select_option("proposal")
    page.get_by_role("button", name="Change stage").click()
    blockers = page.locator("#blockers")
    expect(blockers).to_contain_text("Describe the operational constraints.")
    expect(blockers).to_contain_text("Complete a Failure-Cost Analysis")

    # The client intelligence profile, filled in place.
    blockers.get_by_role("link", name="Fix this").first.click()
    expect(page.get_by_role("heading", name="Client intelligence profile")).to_be_visible()
    expect(page.locator("#profile-completeness")).to_contain_text("Completeness: 0%")
    _fill_and_wait(
        page,
        "#profile",
        "Operational constraints",
        "Clinics open 06:00–23:00 every day; night reads for emergencies.",
    )
    add = page.locator("#target-add")
    add.get_by_label("Metric").fill("Imaging orders a day")
    add.get_by_label("Baseline").fill("3500")
    add.get_by_label("Target").fill("7000")
    add.get_by_label("Horizon year").fill(str(dt.date.today().year + 4))
    add.get_by_role("button", name="Add growth target").click()
    expect(page.locator("#target-list .row-card")).to_have_count(1)
    add = page.locator("#obligation-add")
    add.get_by_label("Framework", exact=True).select_option("hipaa")
    add.get_by_label("What it requires of the solution").fill("Log every read of a record.")
    add.get_by_role("button", name="Add regulatory obligation").click()
    expect(page.locator("#obligation-list .row-card")).to_have_count(1)
    for count, (person, role) in enumerate(
        (("Renée Albright", "economic"), ("Marcus Idowu", "technical")), start=1
    ):
        add = page.locator("#stakeholder-add")
        add.get_by_label("Contact").select_option(label=person)
        add.get_by_label("Buyer role").select_option(role)
        add.get_by_role("button", name="Add stakeholder").click()
        expect(page.locator("#stakeholder-list .row-card")).to_have_count(count)
    expect(page.locator("#profile-completeness")).to_contain_text("Completeness: 100%")

    # A Failure-Cost Analysis interview with two scenarios; the figures follow the typing.
    page.goto(f"{base}/engagements/{engagement.uuid}/discovery/")
    page.get_by_text("Start an interview").click()
    page.get_by_label("Who was interviewed").get_by_label("Marcus Idowu").check()
    page.get_by_role("button", name="Start the interview").click()
    expect(page.get_by_role("heading", name="Failure-Cost Analysis")).to_be_visible()

    scenarios = [
        ("Clinics cannot open prior images", "400", "8", "95000", "250000", "1"),
        ("Records attached to the wrong patient", "400", "48", "4000", "1500000", "0.05"),
    ]
    for what, sites, hours, per_hour, per_incident, likelihood in scenarios:
        add = page.locator("#scenario-add")
        add.get_by_label("What fails").fill(what)
        add.get_by_role("button", name="Add failure scenario").click()
        card = page.locator("#scenario-list .row-card").last
        expect(card).to_contain_text("missing operational, financial, reputational")
        card_id = "#" + str(card.get_attribute("id"))
        _fill_and_wait(page, card_id, "Sites affected", sites)
        _fill_and_wait(page, card_id, "Hours of disruption", hours)
        _fill_and_wait(page, card_id, "Cost per hour", per_hour)
        _fill_and_wait(page, card_id, "Cost per incident", per_incident)
        _fill_and_wait(page, card_id, "Yearly likelihood", likelihood)
        page.locator(card_id).get_by_label("Reputational severity").select_option("5")
        expect(page.locator(f"{card_id}-status")).to_contain_text("Saved")
        expect(page.locator(f"{card_id}-figures")).to_contain_text("all three dimensions")

    # 1 * (250,000 + 95,000 * 8) + 0.05 * (1,500,000 + 4,000 * 48) = 1,010,000 + 84,600
    first = page.locator("#scenario-list .row-card").first
    expect(first.locator(".row-figures")).to_contain_text(
        re.compile(r"Expected loss a year\s*GBP 1,010,000")
    )
    expect(page.locator("#fca-totals")).to_contain_text("GBP 1,094,600")
    # The worst single incident: 1,500,000 + 4,000 * 48.
    expect(page.locator("#fca-totals")).to_contain_text("GBP 1,692,000")

    # A constraint the scenarios justify, then the interview is complete.
    page.get_by_role("link", name="Discovery").click()
    add = page.locator("#constraint-add")
    add.get_by_label("Statement").fill("No planned downtime window at any clinic")
    add.get_by_label("Clinics cannot open prior images").check()
    add.get_by_role("button", name="Add “must never happen” constraint").click()
    expect(page.locator("#constraint-list .row-card")).to_have_count(1)
    page.get_by_role("link", name="Failure-Cost Analysis", exact=True).click()
    page.get_by_role("button", name="Complete the interview").click()
    expect(page.get_by_text("Interview complete.")).to_be_visible()

    page.get_by_role("link", name="Discovery").click()
    expect(page.locator("#checklist")).to_contain_text("Discovery is complete")
    page.screenshot(path=artifacts_dir / "discovery-page.png", full_page=True)

    # TCO: our proposal against the status quo, with its chart.
    page.get_by_role("link", name="Open the TCO comparison").click()
    _fill_and_wait(page, "#tco", "Lifespan (years)", "5")
    page.reload()
    cards = page.locator("[id^=alt][id$=-line-add]")
    ours, status_quo = cards.nth(0), cards.nth(1)
    ours.get_by_label("Category").select_option("implementation")
    ours.get_by_label("Amount").fill("1150000")
    ours.get_by_role("button", name="Add cost line").click()
    expect(page.locator("#tco-totals")).to_contain_text("1,150,000")
    status_quo.get_by_label("Category").select_option("operating")
    status_quo.get_by_label("Amount").fill("640000")
    status_quo.get_by_role("button", name="Add cost line").click()
    expect(page.locator("#tco-totals")).to_contain_text("3,200,000")  # 640,000 * 5 years
    chart = page.get_by_role("img", name="Bar chart of the lifetime cost")
    expect(chart).to_be_visible()
    chart.screenshot(path=artifacts_dir / "tco-chart.png")

    # Now the proposal is allowed.
    page.goto(f"{base}{engagement.get_absolute_url()}")
    page.get_by_label("Move to").select_option("proposal")
    page.get_by_role("button", name="Change stage").click()
    expect(page.get_by_text("Moved to proposal.")).to_be_visible()

    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL
    analysis = FailureCostAnalysis.objects.get(engagement=engagement)
    assert analysis.is_complete
    assert FailureScenario.objects.filter(analysis=analysis).count() == 2
    assert NeverEvent.objects.get(engagement=engagement).scenarios.count() == 1
    assert AuditLogEntry.objects.filter(action="scenario.update", actor=alex).exists()
    assert Engagement.objects.filter(stage=Stage.PROPOSAL).count() == 1
