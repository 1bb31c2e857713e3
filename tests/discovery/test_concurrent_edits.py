"""Two people open the same row; the first saves; the second save, made from the version they
opened, is refused with a message naming who changed it, and shows the current values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis, FailureScenario
from engagements.models import Account
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for
from tests.discovery.conftest import (
    HTMX,
    analysis_url,
    input_value,
    post_scenario,
    prefix_for,
    text_of,
)

pytestmark = pytest.mark.django_db


def _refused_by(owner: User, text: str) -> bool:
    return f"Not saved: {owner} changed this at" in text and "after you opened it" in text


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_scenario_saved_over_someone_elses_newer_change_is_refused(
    headers: dict[str, Any], owner: User, colleague: User, scenario: FailureScenario
) -> None:
    opened_at = scenario.version
    first = post_scenario(client_for(owner), scenario, htmx=True, cost_per_hour="12000")
    assert first.status_code == 200

    second = post_scenario(
        client_for(colleague),
        scenario,
        htmx=bool(headers),
        cost_per_hour="99999",
        what_fails="Archive offline",
        version=opened_at,
    )

    assert second.status_code == (200 if headers else 400)
    assert _refused_by(owner, text_of(second.text))
    prefix = f"scenario-{scenario.pk}"
    assert input_value(second.text, f"{prefix}-cost_per_hour") == "12000.00"
    assert input_value(second.text, f"{prefix}-what_fails") == "Image archive unreachable"
    assert input_value(second.text, f"{prefix}-version") == "2"
    stored = FailureScenario.objects.get(pk=scenario.pk)
    assert (stored.cost_per_hour, stored.what_fails, stored.version, stored.updated_by) == (
        Decimal(12000),
        "Image archive unreachable",
        2,
        owner,
    )
    assert list(AuditLogEntry.objects.values_list("action", "actor")) == [
        ("scenario.update", owner.pk)
    ]


def test_after_a_refusal_the_second_person_can_save_from_the_current_version(
    owner: User, colleague: User, scenario: FailureScenario
) -> None:
    post_scenario(client_for(owner), scenario, htmx=True, cost_per_hour="12000")
    post_scenario(client_for(colleague), scenario, htmx=True, cost_per_hour="1", version=1)
    response = post_scenario(
        client_for(colleague), scenario, htmx=True, cost_per_hour="13000", version=2
    )
    assert "Saved" in text_of(response.text)
    scenario.refresh_from_db()
    assert (scenario.cost_per_hour, scenario.version, scenario.updated_by) == (
        Decimal(13000),
        3,
        colleague,
    )


def _header_post(
    client: Client, analysis: FailureCostAnalysis, prefix: str, *, title: str, version: int
) -> dict[str, object]:
    return {
        f"{prefix}-title": title,
        f"{prefix}-held_on": analysis.held_on.isoformat(),
        f"{prefix}-interviewer": analysis.interviewer_id,
        f"{prefix}-notes": "",
        f"{prefix}-version": version,
    }


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_an_interview_header_saved_over_a_newer_change_is_refused(
    headers: dict[str, Any], owner: User, colleague: User, analysis: FailureCostAnalysis
) -> None:
    url = analysis_url("analysis", analysis)
    mine, theirs = client_for(owner), client_for(colleague)
    prefix = prefix_for(mine.get(url).text, "title")
    assert prefix_for(theirs.get(url).text, "title") == prefix

    mine.post(url, _header_post(mine, analysis, prefix, title="First title", version=1), **HTMX)
    second = theirs.post(
        url, _header_post(theirs, analysis, prefix, title="Second title", version=1), **headers
    )

    assert second.status_code == (200 if headers else 400)
    assert _refused_by(owner, text_of(second.text))
    assert input_value(second.text, f"{prefix}-title") == "First title"
    analysis.refresh_from_db()
    assert (analysis.title, analysis.version) == ("First title", 2)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_profile_saved_over_a_newer_change_is_refused(
    headers: dict[str, Any], owner: User, colleague: User, account: Account
) -> None:
    profile = ClientIntelligenceProfile.objects.create(
        account=account, operational_constraints="Clinics open 07:00-22:00."
    )
    url = reverse("discovery:profile", args=[account.uuid])
    mine, theirs = client_for(owner), client_for(colleague)
    prefix = prefix_for(mine.get(url).text, "operational_constraints")
    theirs.get(url)

    def data(text: str) -> dict[str, object]:
        return {
            f"{prefix}-business_context": "",
            f"{prefix}-operational_constraints": text,
            f"{prefix}-version": 1,
        }

    assert mine.post(url, data("Open around the clock."), **HTMX).status_code == 200
    second = theirs.post(url, data("No change freezes."), **headers)

    assert second.status_code == (200 if headers else 400)
    assert _refused_by(owner, text_of(second.text))
    assert "Open around the clock." in second.text
    profile.refresh_from_db()
    assert (profile.operational_constraints, profile.version) == ("Open around the clock.", 2)
    assert AuditLogEntry.objects.filter(action="profile.update").count() == 1
