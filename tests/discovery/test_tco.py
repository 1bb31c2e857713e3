"""The TCO comparison: lifetime = one-off + yearly * lifespan, the difference to our proposal,
the downtime cost taken from the Failure-Cost Analysis, and bad input refused beside the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from discovery.models import (
    FailureCostAnalysis,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from discovery.services import (
    downtime_from_failure_costs,
    engagement_failure_costs,
    tco_get_or_create,
)
from engagements.models import Engagement
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for
from tests.discovery.conftest import HTMX, field_error, input_value, prefix_for, text_of
from tests.factories import AnalysisFactory, ScenarioFactory

pytestmark = pytest.mark.django_db


def _line(alternative: TcoAlternative, category: str, amount: int) -> TcoCostLine:
    return TcoCostLine.objects.create(
        alternative=alternative, category=category, amount=Decimal(amount)
    )


@pytest.fixture
def comparison(engagement: Engagement) -> TcoComparison:
    """Over five years: ours 140,000 + 20,000 a year = 240,000; a competitor 60,000 + 30,000
    a year = 210,000 (30,000 less); the status quo 0 + 55,000 a year = 275,000 (35,000 more)."""
    comparison = tco_get_or_create(engagement=engagement, actor=None)
    ours = comparison.alternatives.get(kind="ours")
    status_quo = comparison.alternatives.get(kind="status_quo")
    rival = TcoAlternative.objects.create(
        comparison=comparison, kind="competitor", name="Cloud PACS Ltd"
    )
    _line(ours, "purchase", 100_000)
    _line(ours, "implementation", 40_000)
    _line(ours, "operating", 12_000)
    _line(ours, "maintenance", 8_000)
    _line(rival, "purchase", 60_000)
    _line(rival, "operating", 30_000)
    _line(status_quo, "maintenance", 5_000)
    _line(status_quo, "downtime", 50_000)
    return comparison


def _totals(comparison: TcoComparison) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    return {
        a.kind if a.kind != "competitor" else a.name: (a.one_off, a.yearly, a.lifetime)
        for a in TcoAlternative.objects.filter(comparison=comparison).with_totals()
    }


def test_a_new_comparison_starts_with_our_proposal_and_the_status_quo(
    engagement: Engagement,
) -> None:
    comparison = tco_get_or_create(engagement=engagement, actor=None)
    assert comparison.lifespan_years == 5
    assert list(comparison.alternatives.values_list("kind", "name")) == [
        ("ours", "Our proposal"),
        ("status_quo", "Status quo"),
    ]
    assert tco_get_or_create(engagement=engagement, actor=None) == comparison
    assert comparison.alternatives.count() == 2


def test_lifetime_is_one_off_plus_yearly_times_lifespan(comparison: TcoComparison) -> None:
    assert _totals(comparison) == {
        "ours": (Decimal(140_000), Decimal(20_000), Decimal(240_000)),
        "Cloud PACS Ltd": (Decimal(60_000), Decimal(30_000), Decimal(210_000)),
        "status_quo": (Decimal(0), Decimal(55_000), Decimal(275_000)),
    }


def test_a_shorter_lifespan_counts_the_yearly_costs_fewer_times(
    comparison: TcoComparison,
) -> None:
    comparison.lifespan_years = 3
    comparison.save(update_fields=["lifespan_years"])
    assert {k: v[2] for k, v in _totals(comparison).items()} == {
        "ours": Decimal(200_000),
        "Cloud PACS Ltd": Decimal(150_000),
        "status_quo": Decimal(165_000),
    }


def test_an_alternative_without_lines_costs_nothing(engagement: Engagement) -> None:
    comparison = tco_get_or_create(engagement=engagement, actor=None)
    assert set(_totals(comparison).values()) == {(Decimal(0), Decimal(0), Decimal(0))}


def test_the_tco_page_shows_each_lifetime_and_its_difference_to_ours(
    owner: User, comparison: TcoComparison
) -> None:
    response = client_for(owner).get(reverse("discovery:tco", args=[comparison.engagement.uuid]))
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Totals over 5 years (GBP)" in page
    assert "Our proposal 140,000 20,000 240,000 —" in page
    assert "Cloud PACS Ltd 60,000 30,000 210,000 -30,000" in page
    assert "Status quo 0 55,000 275,000 +35,000 more than ours" in page
    differences = {a.name: a.difference for a in response.context["alternatives"]}
    assert differences == {
        "Our proposal": Decimal(0),
        "Cloud PACS Ltd": Decimal(-30_000),
        "Status quo": Decimal(35_000),
    }


def test_changing_the_lifespan_on_the_page_recomputes_the_totals(
    owner: User, comparison: TcoComparison
) -> None:
    url = reverse("discovery:tco", args=[comparison.engagement.uuid])
    client = client_for(owner)
    prefix = prefix_for(client.get(url).text, "lifespan_years")
    response = client.post(
        url,
        {f"{prefix}-lifespan_years": "10", f"{prefix}-version": comparison.version},
        **HTMX,
    )
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Totals over 10 years (GBP)" in page
    assert "Our proposal 140,000 20,000 340,000" in page
    comparison.refresh_from_db()
    assert (comparison.lifespan_years, comparison.version) == (10, 2)
    entry = AuditLogEntry.objects.get(action="tco.update")
    assert entry.changes == {"item": "TCO · PACS migration", "lifespan_years": [5, 10]}
    assert entry.object_id == str(comparison.engagement.pk)


# Downtime cost from the Failure-Cost Analysis -----------------------------------------


def test_the_failure_costs_come_from_complete_interviews_when_there_are_any(
    engagement: Engagement,
) -> None:
    done = AnalysisFactory.create(engagement=engagement, completed_at=timezone.now())
    ScenarioFactory.create(analysis=done)  # 45,000 an incident, 22,500 a year
    ScenarioFactory.create(analysis=done, likelihood_per_year=Decimal("0.25"))  # 11,250
    draft = AnalysisFactory.create(engagement=engagement)
    ScenarioFactory.create(analysis=draft, cost_per_incident=Decimal(10**6))
    assert engagement_failure_costs(engagement) == {
        "count": 2,
        "expected_loss": Decimal("33750"),
        "worst_case": Decimal("45000"),
    }
    done.completed_at = None
    done.save(update_fields=["completed_at"])
    assert engagement_failure_costs(engagement)["count"] == 3


def test_the_downtime_cost_is_the_expected_yearly_loss_of_the_complete_interviews(
    owner: User, comparison: TcoComparison, engagement: Engagement
) -> None:
    done = AnalysisFactory.create(engagement=engagement, completed_at=timezone.now())
    ScenarioFactory.create(analysis=done)  # 22,500 a year
    ScenarioFactory.create(analysis=done, likelihood_per_year=Decimal("0.25"))  # 11,250
    draft = AnalysisFactory.create(engagement=engagement)
    ScenarioFactory.create(analysis=draft, likelihood_per_year=Decimal(100))  # not yet agreed
    ours = comparison.alternatives.get(kind="ours")

    line = downtime_from_failure_costs(alternative=ours, actor=owner)

    assert (line.category, line.amount) == ("downtime", Decimal("33750.00"))
    assert "2 failure scenario(s)" in line.assumption
    assert _totals(comparison)["ours"] == (
        Decimal(140_000),
        Decimal("53750.00"),
        Decimal("408750.00"),
    )


def test_without_a_complete_interview_every_scenario_counts(
    owner: User, comparison: TcoComparison, engagement: Engagement
) -> None:
    ScenarioFactory.create(analysis__engagement=engagement)  # 22,500
    ScenarioFactory.create(analysis__engagement=engagement, likelihood_per_year=Decimal(1))
    line = downtime_from_failure_costs(
        alternative=comparison.alternatives.get(kind="ours"), actor=owner
    )
    assert line.amount == Decimal("67500.00")


def test_taking_the_downtime_cost_again_updates_the_same_line(
    owner: User, comparison: TcoComparison, analysis: FailureCostAnalysis
) -> None:
    scenario = ScenarioFactory.create(analysis=analysis)
    status_quo = comparison.alternatives.get(kind="status_quo")
    downtime_from_failure_costs(alternative=status_quo, actor=owner)
    assert status_quo.lines.get(category="downtime").amount == Decimal("22500.00")
    scenario.likelihood_per_year = Decimal(1)
    scenario.save(update_fields=["likelihood_per_year"])

    downtime_from_failure_costs(alternative=status_quo, actor=owner)

    line = status_quo.lines.get(category="downtime")
    # The fixture's downtime line (version 1) was updated twice, never duplicated.
    assert (line.amount, line.version) == (Decimal("45000.00"), 3)
    assert status_quo.lines.filter(category="downtime").count() == 1
    assert not AuditLogEntry.objects.filter(action="cost_line.create").exists()
    # One person's edits of one line within minutes read as one change, first to last.
    entry = AuditLogEntry.objects.get(action="cost_line.update")
    assert entry.changes["amount"] == ["50000", "45000"]


def test_the_downtime_cost_is_refused_when_no_scenario_was_recorded(
    owner: User, comparison: TcoComparison
) -> None:
    with pytest.raises(ValidationError, match="Record failure scenarios first"):
        downtime_from_failure_costs(
            alternative=comparison.alternatives.get(kind="ours"), actor=owner
        )


def test_the_downtime_button_on_the_page_sets_the_line(
    owner: User, comparison: TcoComparison, analysis: FailureCostAnalysis
) -> None:
    ScenarioFactory.create(analysis=analysis)
    rival = comparison.alternatives.get(kind="competitor")
    engagement = comparison.engagement
    client = client_for(owner)
    assert "Use the failure-cost figures as its yearly downtime cost (GBP 22,500)" in text_of(
        client.get(reverse("discovery:tco", args=[engagement.uuid])).text
    )
    response = client.post(reverse("discovery:downtime", args=[engagement.uuid, rival.pk]))
    assert response.status_code == 302
    assert rival.lines.get(category="downtime").amount == Decimal("22500.00")
    assert "Cloud PACS Ltd 60,000 52,500 322,500 +82,500" in text_of(
        client.get(reverse("discovery:tco", args=[engagement.uuid])).text
    )


def test_the_downtime_button_without_scenarios_says_why(
    owner: User, comparison: TcoComparison
) -> None:
    ours = comparison.alternatives.get(kind="ours")
    response = client_for(owner).post(
        reverse("discovery:downtime", args=[comparison.engagement.uuid, ours.pk])
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Record failure scenarios first: there is no failure cost to use."
    ]
    assert not ours.lines.filter(category="downtime").exists()


# Alternatives and lines ----------------------------------------------------------------


def test_a_competitor_is_added_and_removed(owner: User, comparison: TcoComparison) -> None:
    engagement = comparison.engagement
    client = client_for(owner)
    client.post(
        reverse("discovery:alternatives", args=[engagement.uuid]),
        {"alternative-new-name": "Legacy vendor renewal"},
    )
    added = comparison.alternatives.get(name="Legacy vendor renewal")
    assert added.kind == "competitor"
    client.post(reverse("discovery:alternative_delete", args=[engagement.uuid, added.pk]))
    assert not comparison.alternatives.filter(pk=added.pk).exists()
    assert [e.action for e in AuditLogEntry.objects.order_by("id")] == [
        "tco.create",
        "alternative.create",
        "alternative.delete",
    ]


def test_the_first_competitor_added_starts_the_comparison_and_the_trail_says_who(
    owner: User, engagement: Engagement
) -> None:
    client_for(owner).post(
        reverse("discovery:alternatives", args=[engagement.uuid]),
        {"alternative-new-name": "Legacy vendor renewal"},
    )
    comparison = TcoComparison.objects.get(engagement=engagement)
    assert sorted(comparison.alternatives.values_list("name", flat=True)) == [
        "Legacy vendor renewal",
        "Our proposal",
        "Status quo",
    ]
    trail = AuditLogEntry.objects.filter(object_id=str(engagement.pk)).order_by("id")
    assert [(e.action, e.actor) for e in trail] == [
        ("tco.create", owner),
        ("alternative.create", owner),
    ]


@pytest.mark.parametrize("kind", ["ours", "status_quo"])
def test_our_proposal_and_the_status_quo_cannot_be_removed(
    kind: str, owner: User, comparison: TcoComparison
) -> None:
    alternative = comparison.alternatives.get(kind=kind)
    response = client_for(owner).post(
        reverse("discovery:alternative_delete", args=[comparison.engagement.uuid, alternative.pk])
    )
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "is always part of the comparison; rename it instead." in message
    assert TcoAlternative.objects.filter(pk=alternative.pk).exists()


def test_a_cost_line_is_added_with_its_owner_shown(owner: User, comparison: TcoComparison) -> None:
    ours = comparison.alternatives.get(kind="ours")
    prefix = f"alt{ours.pk}-line-new"
    response = client_for(owner).post(
        reverse("discovery:lines", args=[comparison.engagement.uuid, ours.pk]),
        {f"{prefix}-category": "training", f"{prefix}-amount": "7500", f"{prefix}-assumption": ""},
        **HTMX,
    )
    assert response.status_code == 200
    line = ours.lines.get(category="training")
    assert line.amount == Decimal(7500)
    assert f'id="alt{ours.pk}-line-{line.pk}"' in response.text
    assert "Our proposal 147,500 20,000 247,500" in text_of(response.text)


# Bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize("lifespan", ["0", "16", "-1", "five"])
def test_a_lifespan_outside_1_to_15_years_is_refused_beside_the_field(
    lifespan: str, headers: dict[str, Any], owner: User, comparison: TcoComparison
) -> None:
    url = reverse("discovery:tco", args=[comparison.engagement.uuid])
    client = client_for(owner)
    prefix = prefix_for(client.get(url).text, "lifespan_years")
    response = client.post(
        url,
        {f"{prefix}-lifespan_years": lifespan, f"{prefix}-version": comparison.version},
        **headers,
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, f"id_{prefix}-lifespan_years_error")
    comparison.refresh_from_db()
    assert (comparison.lifespan_years, comparison.version) == (5, 1)
    assert not AuditLogEntry.objects.filter(actor=owner).exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_negative_cost_is_refused_beside_the_field(
    headers: dict[str, Any], owner: User, comparison: TcoComparison
) -> None:
    ours = comparison.alternatives.get(kind="ours")
    line = ours.lines.get(category="purchase")
    prefix = f"alt{ours.pk}-line-{line.pk}"
    response = client_for(owner).post(
        reverse("discovery:line", args=[comparison.engagement.uuid, line.pk]),
        {
            f"{prefix}-category": "purchase",
            f"{prefix}-amount": "-100",
            f"{prefix}-assumption": "",
            f"{prefix}-version": line.version,
        },
        **headers,
    )
    assert response.status_code in (200, 400)
    assert "greater than or equal to 0" in field_error(response.text, f"id_{prefix}-amount_error")
    line.refresh_from_db()
    assert (line.amount, line.version) == (Decimal(100_000), 1)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_new_line_with_a_negative_amount_is_refused_beside_the_field(
    headers: dict[str, Any], owner: User, comparison: TcoComparison
) -> None:
    ours = comparison.alternatives.get(kind="ours")
    prefix = f"alt{ours.pk}-line-new"
    response = client_for(owner).post(
        reverse("discovery:lines", args=[comparison.engagement.uuid, ours.pk]),
        {f"{prefix}-category": "training", f"{prefix}-amount": "-1"},
        **headers,
    )
    assert response.status_code in (200, 400)
    assert field_error(response.text, f"id_{prefix}-amount_error")
    assert not ours.lines.filter(category="training").exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_second_line_of_the_same_category_is_refused_with_a_reason(
    headers: dict[str, Any], owner: User, comparison: TcoComparison
) -> None:
    ours = comparison.alternatives.get(kind="ours")
    prefix = f"alt{ours.pk}-line-new"
    response = client_for(owner).post(
        reverse("discovery:lines", args=[comparison.engagement.uuid, ours.pk]),
        {f"{prefix}-category": "purchase", f"{prefix}-amount": "1"},
        **headers,
    )
    assert response.status_code in (200, 400)
    assert ours.lines.filter(category="purchase").count() == 1
    assert "already exists" in text_of(response.text)


def test_renaming_an_alternative_to_nothing_shows_the_error_beside_the_name(
    owner: User, comparison: TcoComparison
) -> None:
    rival = comparison.alternatives.get(kind="competitor")
    prefix = f"alternative-{rival.pk}"
    response = client_for(owner).post(
        reverse("discovery:alternative", args=[comparison.engagement.uuid, rival.pk]),
        {f"{prefix}-name": "", f"{prefix}-version": rival.version},
    )
    assert response.status_code == 400
    rival.refresh_from_db()
    assert rival.name == "Cloud PACS Ltd"
    assert field_error(response.text, f"id_{prefix}-name_error") == "This field is required."


def test_renaming_an_alternative_to_nothing_with_htmx_shows_the_error(
    owner: User, comparison: TcoComparison
) -> None:
    rival = comparison.alternatives.get(kind="competitor")
    prefix = f"alternative-{rival.pk}"
    response = client_for(owner).post(
        reverse("discovery:alternative", args=[comparison.engagement.uuid, rival.pk]),
        {f"{prefix}-name": "", f"{prefix}-version": rival.version},
        **HTMX,
    )
    assert field_error(response.text, f"id_{prefix}-name_error") == "This field is required."
    rival.refresh_from_db()
    assert rival.name == "Cloud PACS Ltd"


def test_a_competitor_without_a_name_is_refused_with_a_message(
    owner: User, comparison: TcoComparison
) -> None:
    response = client_for(owner).post(
        reverse("discovery:alternatives", args=[comparison.engagement.uuid]),
        {"alternative-new-name": "  "},
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Give the competitor a name."]
    assert comparison.alternatives.count() == 3


def test_a_refused_first_save_does_not_start_a_comparison(
    owner: User, engagement: Engagement
) -> None:
    url = reverse("discovery:tco", args=[engagement.uuid])
    client = client_for(owner)
    prefix = prefix_for(client.get(url).text, "lifespan_years")
    response = client.post(url, {f"{prefix}-lifespan_years": "0"})
    assert response.status_code == 400
    assert not TcoComparison.objects.filter(engagement=engagement).exists()


def test_the_page_shows_the_current_values_in_each_field(
    owner: User, comparison: TcoComparison
) -> None:
    comparison.lifespan_years = 7
    comparison.save(update_fields=["lifespan_years"])
    page = client_for(owner).get(reverse("discovery:tco", args=[comparison.engagement.uuid])).text
    assert input_value(page, f"{prefix_for(page, 'lifespan_years')}-lifespan_years") == "7"
