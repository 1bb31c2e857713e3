"""Certification in a real Chromium: an assessor records two passed modules for Alex on the
assessor page, and Alex's own page shows the progress bars moving."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from certification import services
from certification.models import Module, ModuleResult
from tcp.models import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _bar(page: Page, label: str) -> str | None:
    return page.get_by_label(label, exact=False).first.get_attribute("value")


def test_an_assessor_records_two_passes_and_the_persons_progress_bars_move(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    alex = UserFactory.create(
        username="alex", first_name="Alex", last_name="Carter", roles=[Role.ACCOUNT_MANAGER]
    )
    UserFactory.create(
        username="sam", first_name="Sam", last_name="Reyes", roles=[Role.SALES_LEADERSHIP]
    )
    enrollment = services.enrollment_open(
        person=alex, actor=None, on=timezone.localdate() - dt.timedelta(days=20)
    )
    modules = {m.title: m for m in Module.objects.filter(curriculum=enrollment.curriculum)}
    base = str(live_server)

    # Alex's page before: nothing passed.
    _sign_in(page, base, "alex")
    page.get_by_role("link", name="Certification").click()
    summary = page.locator("#summary")
    expect(summary).to_contain_text("0 of 12")
    assert _bar(page, "Quality Assurance:") == "0"
    page.screenshot(path=str(artifacts_dir / "alex-before.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # The assessor finds Alex and records two passes, each without leaving the page.
    _sign_in(page, base, "sam")
    page.get_by_role("link", name="Certification").click()
    page.get_by_role("link", name="Assess").click()
    page.get_by_role("link", name="Alex Carter").click()
    expect(page.get_by_role("heading", name="Assess Alex Carter")).to_be_visible()

    for title, score in (
        ("How software fails", "82"),
        ("Stakeholders and the business case", "91"),
    ):
        card = page.locator(f"#module-{modules[title].pk}")
        card.get_by_label("Score").fill(score)
        card.get_by_label("Evidence", exact=True).fill("Written paper and a debrief")
        card.get_by_role("button", name="Record result").click()
        expect(card.get_by_text("Passed", exact=True)).to_be_visible()
        expect(card).to_contain_text(f"{score}/100, passed")
    expect(page.locator("#summary")).to_contain_text("2 of 12")
    expect(page.locator("#messages")).to_contain_text("Stakeholders and the business case: 91/100")
    page.screenshot(path=str(artifacts_dir / "assessor-page.png"), full_page=True)
    assert ModuleResult.objects.filter(enrollment=enrollment, passed=True).count() == 2
    page.get_by_role("button", name="Sign out").click()

    # Alex's page after: the bars of both tracks have moved.
    _sign_in(page, base, "alex")
    page.get_by_role("link", name="Certification").click()
    expect(page.locator("#summary")).to_contain_text("2 of 12")
    assert _bar(page, "Quality Assurance:") == "25"
    assert _bar(page, "Business Analysis:") == "25"
    assert _bar(page, "Project Management:") == "0"
    assert _bar(page, "All tracks:") == "17"
    expect(page.locator("#module-" + str(modules["How software fails"].pk))).to_contain_text(
        "82/100"
    )
    page.screenshot(path=str(artifacts_dir / "alex-after.png"), full_page=True)
