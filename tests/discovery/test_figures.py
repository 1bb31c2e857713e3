"""Derived figures, checked against values worked out by hand.

Incident cost = cost per incident + cost per hour * hours of disruption.
Expected yearly loss = yearly likelihood * incident cost.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from discovery.models import FailureCostAnalysis, FailureScenario
from engagements.models import Engagement
from tcp.models import User
from tests.conftest import client_for
from tests.discovery.conftest import analysis_url, text_of
from tests.factories import ScenarioFactory

pytestmark = pytest.mark.django_db


def _figures(scenario: FailureScenario) -> tuple[Decimal, Decimal]:
    row = FailureScenario.objects.with_figures().get(pk=scenario.pk)
    return row.incident_cost, row.expected_loss  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("per_incident", "per_hour", "hours", "likelihood", "incident", "expected"),
    [
        ("5000", "10000", "4", "0.5", "45000", "22500"),  # 5,000 + 10,000 * 4; * 0.5
        (None, "2500", "3", "2", "7500", "15000"),  # no fixed cost: 2,500 * 3; * 2
        ("120000", None, "8", "0.1", "120000", "12000"),  # no hourly cost
        ("300", "800", None, "12", "300", "3600"),  # no hours yet: the hourly cost adds nothing
        ("300", "800", "1.5", "12", "1500", "18000"),  # 300 + 800 * 1.5; monthly
        ("5000", "10000", "4", "0", "45000", "0"),  # never expected: no yearly loss
    ],
    ids=["both", "hourly only", "fixed only", "no hours", "monthly", "never"],
)
def test_incident_cost_and_expected_loss_match_the_hand_computed_values(
    per_incident: str | None,
    per_hour: str | None,
    hours: str | None,
    likelihood: str,
    incident: str,
    expected: str,
    analysis: FailureCostAnalysis,
) -> None:
    def money(value: str | None) -> Decimal | None:
        return Decimal(value) if value is not None else None

    scenario = ScenarioFactory.create(
        analysis=analysis,
        cost_per_incident=money(per_incident),
        cost_per_hour=money(per_hour),
        disruption_hours=money(hours),
        likelihood_per_year=Decimal(likelihood),
    )
    assert _figures(scenario) == (Decimal(incident), Decimal(expected))


def test_a_scenario_with_no_figures_costs_nothing_yet(analysis: FailureCostAnalysis) -> None:
    scenario = ScenarioFactory.create(
        analysis=analysis,
        cost_per_incident=None,
        cost_per_hour=None,
        disruption_hours=None,
        likelihood_per_year=Decimal(0),
    )
    assert _figures(scenario) == (Decimal(0), Decimal(0))


@pytest.fixture
def three_scenarios(analysis: FailureCostAnalysis) -> list[FailureScenario]:
    return [
        # 45,000 an incident, 22,500 a year
        ScenarioFactory.create(analysis=analysis, what_fails="Archive unreachable"),
        # 120,000 an incident, 12,000 a year
        ScenarioFactory.create(
            analysis=analysis,
            what_fails="Patient data exposed",
            cost_per_incident=Decimal(120000),
            cost_per_hour=None,
            likelihood_per_year=Decimal("0.1"),
        ),
        # 1,500 an incident, 18,000 a year
        ScenarioFactory.create(
            analysis=analysis,
            what_fails="Slow image loading",
            cost_per_incident=Decimal(300),
            cost_per_hour=Decimal(800),
            disruption_hours=Decimal("1.5"),
            likelihood_per_year=Decimal(12),
        ),
    ]


def test_totals_add_the_expected_losses_and_keep_the_worst_incident(
    analysis: FailureCostAnalysis, three_scenarios: list[FailureScenario]
) -> None:
    totals = FailureScenario.objects.filter(analysis=analysis).totals()
    assert totals == {
        "count": 3,
        "expected_loss": Decimal("52500"),
        "worst_case": Decimal("120000"),
    }


def test_totals_of_no_scenarios_are_empty(analysis: FailureCostAnalysis) -> None:
    assert FailureScenario.objects.filter(analysis=analysis).totals() == {
        "count": 0,
        "expected_loss": None,
        "worst_case": None,
    }


def test_totals_count_only_the_interview_asked_for(
    analysis: FailureCostAnalysis, three_scenarios: list[FailureScenario], engagement: Engagement
) -> None:
    other = ScenarioFactory.create(
        analysis__engagement=engagement, cost_per_incident=Decimal(10**6)
    )
    assert FailureScenario.objects.filter(analysis=analysis).totals()["worst_case"] == Decimal(
        120000
    )
    assert FailureScenario.objects.filter(analysis=other.analysis).totals()["count"] == 1


def test_the_interview_page_shows_each_scenarios_figures_and_the_totals(
    owner: User, analysis: FailureCostAnalysis, three_scenarios: list[FailureScenario]
) -> None:
    page = text_of(client_for(owner).get(analysis_url("analysis", analysis)).text)
    assert "Scenarios 3" in page
    assert "Expected loss a year GBP 52,500" in page
    assert "Worst single incident GBP 120,000" in page
    assert "One incident costs GBP 45,000 Expected loss a year GBP 22,500" in page
    assert "One incident costs GBP 120,000 Expected loss a year GBP 12,000" in page
    assert "One incident costs GBP 1,500 Expected loss a year GBP 18,000" in page


def test_the_checklist_shows_each_interviews_expected_loss(
    owner: User, analysis: FailureCostAnalysis, three_scenarios: list[FailureScenario]
) -> None:
    from django.urls import reverse

    page = text_of(
        client_for(owner).get(reverse("discovery:checklist", args=[analysis.engagement.uuid])).text
    )
    assert "Radiology outage interview" in page
    assert "3 GBP 52,500 Draft" in page
