"""Delivery in a real Chromium: a delivery manager records an architecture review the
commercial lead missed, and the engagement shows the flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engagements.models import Milestone, MilestoneAttendance, MilestoneKind, Stage
from tcp.models import Notification, Role
from tests.factories import (
    PASSWORD,
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_delivery_manager_records_a_missed_architecture_review_and_the_flag_appears(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    alex = UserFactory.create(
        username="alex", first_name="Alex", last_name="Carter", roles=[Role.ACCOUNT_MANAGER]
    )
    dana = UserFactory.create(
        username="dana", first_name="Dana", last_name="Okafor", roles=[Role.DELIVERY_MANAGER]
    )
    account = AccountFactory.create(name="Prairie Farm Credit")
    TeamMemberFactory.create(account=account, user=alex)
    today = dt.date.today()
    engagement = EngagementFactory.create(
        account=account,
        name="Identity platform rebuild",
        commercial_lead=alex,
        delivery_manager=dana,
        stage=Stage.DELIVERY,
        opened_on=today - dt.timedelta(days=200),
        contract_signed_on=today - dt.timedelta(days=90),
        contracted_start=today - dt.timedelta(days=60),
        contracted_end=today + dt.timedelta(days=120),
        contracted_effort_days=Decimal(240),
    )
    review = Milestone.objects.create(
        engagement=engagement,
        kind=MilestoneKind.ARCHITECTURE_REVIEW,
        title="Target identity architecture",
        planned_on=today - dt.timedelta(days=1),
        critical=True,
    )
    Milestone.objects.create(
        engagement=engagement,
        kind=MilestoneKind.GO_LIVE,
        planned_on=today + dt.timedelta(days=100),
        critical=True,
    )
    base = str(live_server)

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # "My milestones" from the navigation: the review waits for its attendance record.
    page.get_by_role("link", name="My milestones").click()
    waiting = page.locator(
        "section", has=page.get_by_role("heading", name="Waiting for attendance")
    )
    expect(waiting).to_contain_text("Target identity architecture")
    expect(page.locator("section", has_text="Coming up")).to_contain_text("Go-live")

    # One quick form, opened in place, a row per person with the usual answers filled in.
    waiting.get_by_role("link", name="Record attendance").click()
    form = page.locator(f"#attendance-{review.pk}")
    expect(form).to_be_visible()
    expect(form.get_by_label("Contributed")).to_have_count(2)
    lead_row = form.locator("tr", has_text="Alex Carter")
    expect(lead_row.get_by_label("Contributed")).to_be_checked()
    lead_row.get_by_text("Absent").click()
    dana_row = form.locator("tr", has_text="Dana Okafor")
    dana_row.get_by_label("Contribution of Dana Okafor").fill("Ran the review with the bank's CISO")
    page.screenshot(path=str(artifacts_dir / "attendance-form.png"), full_page=True)
    form.get_by_role("button", name="Save attendance").click()
    expect(page.locator(f"#attendance-{review.pk}")).to_contain_text("it is flagged")

    recorded = dict(MilestoneAttendance.objects.values_list("person__username", "mode"))
    assert recorded == {"alex": "absent", "dana": "contributed"}
    assert Notification.objects.filter(recipient=alex).count() == 1

    # The engagement carries the flag.
    page.goto(f"{base}{engagement.get_absolute_url()}")
    flag = page.locator("#missed-milestones")
    expect(flag).to_contain_text("Critical milestone without the commercial lead")
    expect(flag).to_contain_text("Target identity architecture")
    page.screenshot(path=str(artifacts_dir / "engagement-flagged.png"), full_page=True)

    # And the delivery page shows it on the milestone itself.
    flag.get_by_role("link").first.click()
    card = page.locator(f"#milestone-{review.pk}")
    expect(card).to_contain_text("lead did not contribute")
    expect(page.locator("#delivery-summary")).to_contain_text("Contributed to 0 of 1 held")
    page.screenshot(path=str(artifacts_dir / "delivery-page.png"), full_page=True)
