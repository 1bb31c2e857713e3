"""Discovery fixtures: a draft interview with one scenario, a second editor on the account
team, and helpers that post a row form the way the page does (its prefix and version)."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import reverse

from discovery.models import FailureCostAnalysis, FailureScenario
from engagements.models import Account, Engagement
from tcp.models import Role, User
from tests.factories import AnalysisFactory, ScenarioFactory, TeamMemberFactory, UserFactory

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def colleague(account: Account) -> User:
    """A second account manager on the same account team: edits the same rows as the owner."""
    user = UserFactory.create(
        username="colleague", first_name="Kofi", last_name="Mensah", roles=[Role.ACCOUNT_MANAGER]
    )
    TeamMemberFactory.create(account=account, user=user, role="account_manager")
    return user


@pytest.fixture
def analysis(engagement: Engagement, owner: User) -> FailureCostAnalysis:
    """A draft interview of the engagement."""
    return AnalysisFactory.create(
        engagement=engagement, interviewer=owner, title="Radiology outage interview"
    )


@pytest.fixture
def scenario(analysis: FailureCostAnalysis) -> FailureScenario:
    """One scenario quantified on all three dimensions: an incident costs 45,000 (5,000 +
    10,000 an hour for 4 hours), twice a decade (expected 22,500 a year)."""
    return ScenarioFactory.create(
        analysis=analysis,
        what_fails="Image archive unreachable",
        sites_affected=40,
        users_affected=None,
        disruption_hours=Decimal("4"),
        cost_per_hour=Decimal("10000"),
        cost_per_incident=Decimal("5000"),
        reputational_severity=3,
        likelihood_per_year=Decimal("0.5"),
    )


def analysis_url(name: str, analysis: FailureCostAnalysis, *more: Any) -> str:
    return reverse(f"discovery:{name}", args=[analysis.engagement.uuid, analysis.uuid, *more])


def form_data(prefix: str, obj: models.Model, fields: list[str], **changes: Any) -> dict[str, Any]:
    """The POST a row card sends: every field under `<prefix>-`, the version it was opened at."""
    data: dict[str, Any] = {}
    for name in fields:
        value = changes[name] if name in changes else getattr(obj, name)
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, bool):
            value = "on" if value else ""
            if not value:
                continue
        elif value is None:
            value = ""
        data[f"{prefix}-{name}"] = value
    data[f"{prefix}-version"] = changes.get("version", getattr(obj, "version", ""))
    return data


SCENARIO_FIELDS = [
    "what_fails",
    "sites_affected",
    "users_affected",
    "disruption_hours",
    "cost_per_hour",
    "cost_per_incident",
    "reputational_severity",
    "reputational_note",
    "regulatory_exposure",
    "likelihood_per_year",
    "tolerable_downtime_hours",
]


def scenario_data(scenario: FailureScenario, **changes: Any) -> dict[str, Any]:
    return form_data(f"scenario-{scenario.pk}", scenario, SCENARIO_FIELDS, **changes)


def post_scenario(
    client: Client, scenario: FailureScenario, *, htmx: bool = False, **changes: Any
) -> Any:
    url = analysis_url("scenario", scenario.analysis, scenario.pk)
    return client.post(url, scenario_data(scenario, **changes), **(HTMX if htmx else {}))


def field_error(page: str, element_id: str) -> str:
    """The text of the error shown beside a field (`id_<prefix>-<field>_error`), '' if none."""
    found = re.findall(rf'<div[^>]*id="{re.escape(element_id)}"[^>]*>(.*?)</div>', page, re.S)
    return html.unescape(" ".join(t.strip() for t in found if t.strip()))


def input_value(page: str, name: str) -> str | None:
    """The value an input named `name` shows, as the browser would read it."""
    tag = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    if tag is None:
        return None
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def text_of(page: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def prefix_for(page: str, field: str) -> str:
    """The prefix the page gives the form holding `field` (what the browser will post)."""
    found = re.search(rf'name="([\w-]+)-{re.escape(field)}"', page)
    assert found is not None, f"no {field} input on the page"
    return found.group(1)
