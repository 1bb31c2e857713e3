"""Failure-Cost Analysis interviews: starting, quantifying scenarios, completing, reopening,
signing off, the constraints they justify, bad input, and the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from discovery.models import FailureCostAnalysis, FailureScenario, NeverEvent
from discovery.services import fca_complete
from engagements.models import Contact, Engagement
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for
from tests.discovery.conftest import (
    HTMX,
    analysis_url,
    field_error,
    post_scenario,
    prefix_for,
    text_of,
)
from tests.factories import (
    ContactFactory,
    EngagementFactory,
    ScenarioFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(engagement: Engagement) -> Contact:
    return ContactFactory.create(account=engagement.account, name="Dr Amara Lewis")


@pytest.fixture
def complete(analysis: FailureCostAnalysis, scenario: FailureScenario) -> FailureCostAnalysis:
    """The interview completed, with its one quantified scenario."""
    return fca_complete(analysis=analysis, actor=analysis.interviewer)


# Starting an interview -----------------------------------------------------------------


def test_starting_an_interview_opens_its_editor(
    owner: User, engagement: Engagement, contact: Contact
) -> None:
    response = client_for(owner).post(
        reverse("discovery:analysis_create", args=[engagement.uuid]),
        {
            "title": "Imaging outage interview",
            "held_on": "2024-05-02",
            "interviewer": owner.pk,
            "interviewees": [contact.pk],
        },
    )
    analysis = FailureCostAnalysis.objects.get(engagement=engagement)
    assert response.status_code == 302
    assert response["Location"] == analysis_url("analysis", analysis)
    assert (analysis.title, analysis.held_on, analysis.interviewer) == (
        "Imaging outage interview",
        dt.date(2024, 5, 2),
        owner,
    )
    assert list(analysis.interviewees.all()) == [contact]
    assert not analysis.is_complete
    entry = AuditLogEntry.objects.get(action="fca.create")
    assert (entry.actor, entry.object_id) == (owner, str(engagement.pk))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"held_on": "tomorrow"}, "held_on", "The interview cannot be in the future."),
        ({"held_on": "not a date"}, "held_on", "Enter a valid date."),
        ({"title": ""}, "title", "This field is required."),
        ({"interviewer": ""}, "interviewer", "This field is required."),
        ({"interviewees": "foreign"}, "interviewees", "Select a valid choice."),
    ],
    ids=["future", "garbage date", "no title", "no interviewer", "another account's contact"],
)
def test_a_bad_interview_is_not_started_and_the_error_sits_beside_the_field(
    change: dict[str, str], field: str, message: str, owner: User, engagement: Engagement
) -> None:
    data: dict[str, object] = {
        "title": "Imaging outage interview",
        "held_on": "2024-05-02",
        "interviewer": owner.pk,
    }
    data.update(change)
    if data.get("held_on") == "tomorrow":
        data["held_on"] = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    if data.get("interviewees") == "foreign":
        data["interviewees"] = [ContactFactory.create().pk]
    response = client_for(owner).post(
        reverse("discovery:analysis_create", args=[engagement.uuid]), data
    )
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_{field}_error")
    assert not FailureCostAnalysis.objects.exists()
    assert not AuditLogEntry.objects.exists()


# Scenarios -----------------------------------------------------------------------------


def test_a_scenario_is_added_by_what_fails_then_quantified_in_its_card(
    owner: User, analysis: FailureCostAnalysis
) -> None:
    client = client_for(owner)
    response = client.post(
        analysis_url("scenarios", analysis),
        {"scenario-new-what_fails": "Reporting portal down"},
        **HTMX,
    )
    scenario = FailureScenario.objects.get(analysis=analysis)
    assert response.status_code == 200
    assert f'id="scenario-{scenario.pk}"' in response.text
    assert "missing operational, financial, reputational" in text_of(response.text)

    response = post_scenario(
        client,
        scenario,
        htmx=True,
        users_affected="300",
        disruption_hours="2",
        cost_per_hour="1500",
        reputational_severity="2",
        likelihood_per_year="3",
    )
    scenario.refresh_from_db()
    assert (scenario.users_affected, scenario.cost_per_hour, scenario.version) == (
        300,
        Decimal(1500),
        2,
    )
    page = text_of(response.text)
    assert "One incident costs GBP 3,000 Expected loss a year GBP 9,000" in page
    assert "all three dimensions" in page
    assert "Every scenario is quantified: the interview can be completed." in page
    assert [e.action for e in AuditLogEntry.objects.order_by("id")] == [
        "scenario.create",
        "scenario.update",
    ]


def test_a_scenario_saved_without_javascript_comes_back_to_its_card(
    owner: User, scenario: FailureScenario
) -> None:
    response = post_scenario(client_for(owner), scenario, cost_per_hour="12000")
    assert response.status_code == 302
    assert response["Location"].endswith(
        analysis_url("analysis", scenario.analysis) + f"#scenario-{scenario.pk}"
    )
    scenario.refresh_from_db()
    assert scenario.cost_per_hour == Decimal(12000)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cost_per_hour", "-1", "greater than or equal to 0"),
        ("cost_per_incident", "-0.01", "greater than or equal to 0"),
        ("disruption_hours", "-4", "greater than or equal to 0"),
        ("tolerable_downtime_hours", "-1", "greater than or equal to 0"),
        ("likelihood_per_year", "-0.5", "greater than or equal to 0"),
        ("likelihood_per_year", "10001", "less than or equal to 10000"),
        ("reputational_severity", "0", "Select a valid choice."),
        ("reputational_severity", "6", "Select a valid choice."),
        ("sites_affected", "-3", "greater than or equal to 0"),
        ("cost_per_hour", "lots", "Enter a number."),
        ("cost_per_hour", "1" * 20, "Ensure that there are no more than"),
        ("what_fails", "", "This field is required."),
    ],
)
def test_a_bad_figure_is_refused_beside_its_field_and_nothing_changes(
    field: str,
    value: str,
    message: str,
    headers: dict[str, Any],
    owner: User,
    scenario: FailureScenario,
) -> None:
    response = post_scenario(client_for(owner), scenario, htmx=bool(headers), **{field: value})
    assert response.status_code == (200 if headers else 400)
    assert message in field_error(response.text, f"id_scenario-{scenario.pk}-{field}_error")
    assert "Not saved: fix the marked fields." in response.text
    stored = FailureScenario.objects.get(pk=scenario.pk)
    assert (stored.version, stored.cost_per_hour, stored.reputational_severity) == (
        1,
        Decimal(10000),
        3,
    )
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_new_scenario_needs_to_say_what_fails(
    headers: dict[str, Any], owner: User, analysis: FailureCostAnalysis
) -> None:
    response = client_for(owner).post(
        analysis_url("scenarios", analysis), {"scenario-new-what_fails": ""}, **headers
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, "id_scenario-new-what_fails_error") == (
        "This field is required."
    )
    assert not FailureScenario.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_future_interview_date_is_refused_in_the_header(
    headers: dict[str, Any], owner: User, analysis: FailureCostAnalysis
) -> None:
    client = client_for(owner)
    url = analysis_url("analysis", analysis)
    prefix = prefix_for(client.get(url).text, "held_on")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(
        url,
        {
            f"{prefix}-title": analysis.title,
            f"{prefix}-held_on": tomorrow.isoformat(),
            f"{prefix}-interviewer": owner.pk,
            f"{prefix}-version": analysis.version,
        },
        **headers,
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, f"id_{prefix}-held_on_error") == (
        "The interview cannot be in the future."
    )
    analysis.refresh_from_db()
    assert (analysis.held_on, analysis.version) == (timezone.localdate(), 1)


def test_a_refused_header_save_keeps_every_scenario_card_on_the_page(
    owner: User, analysis: FailureCostAnalysis
) -> None:
    twin = ScenarioFactory.create(analysis=analysis, pk=analysis.pk, what_fails="Twin failure")
    client = client_for(owner)
    url = analysis_url("analysis", analysis)
    prefix = prefix_for(client.get(url).text, "held_on")
    response = client.post(
        url,
        {
            f"{prefix}-title": "",
            f"{prefix}-held_on": analysis.held_on.isoformat(),
            f"{prefix}-interviewer": owner.pk,
            f"{prefix}-version": analysis.version,
        },
    )
    assert response.status_code == 400
    assert f'id="scenario-{twin.pk}"' in response.text
    assert 'value="Twin failure"' in response.text


# Completing, reopening, signing off ----------------------------------------------------


def test_completing_a_quantified_interview_marks_it_complete_and_audits_it(
    owner: User, scenario: FailureScenario
) -> None:
    analysis = scenario.analysis
    response = client_for(owner).post(analysis_url("analysis_complete", analysis))
    assert response.status_code == 302
    assert response["Location"] == analysis_url("analysis", analysis)
    analysis.refresh_from_db()
    assert (analysis.is_complete, analysis.completed_by, analysis.version) == (True, owner, 2)
    entry = AuditLogEntry.objects.get(action="fca.complete")
    assert entry.changes == {"item": str(analysis), "scenarios": 1}
    page = text_of(client_for(owner).get(analysis_url("analysis", analysis)).text)
    assert f"Complete, by {owner}." in page


def test_completing_an_interview_with_gaps_lists_them_and_keeps_it_a_draft(
    owner: User, analysis: FailureCostAnalysis
) -> None:
    ScenarioFactory.create(analysis=analysis, what_fails="Archive down", reputational_severity=None)
    ScenarioFactory.create(
        analysis=analysis, what_fails="Portal slow", cost_per_hour=None, cost_per_incident=None
    )
    response = client_for(owner).post(analysis_url("analysis_complete", analysis))
    assert response.status_code == 400
    page = text_of(response.text)
    assert "The interview was not completed:" in page
    assert "Quantify “Archive down”: reputational impact missing." in page
    assert "Quantify “Portal slow”: financial impact missing." in page
    analysis.refresh_from_db()
    assert analysis.completed_at is None
    assert not AuditLogEntry.objects.filter(action="fca.complete").exists()


def test_completing_an_empty_interview_is_refused(
    owner: User, analysis: FailureCostAnalysis
) -> None:
    response = client_for(owner).post(analysis_url("analysis_complete", analysis), **HTMX)
    assert response.status_code == 400
    assert "Add at least one failure scenario." in text_of(response.text)
    analysis.refresh_from_db()
    assert not analysis.is_complete


def test_completing_twice_changes_nothing(owner: User, complete: FailureCostAnalysis) -> None:
    completed_at = complete.completed_at
    client_for(owner).post(analysis_url("analysis_complete", complete))
    complete.refresh_from_db()
    assert (complete.completed_at, complete.version) == (completed_at, 2)
    assert AuditLogEntry.objects.filter(action="fca.complete").count() == 1


def test_reopening_takes_the_interview_back_to_draft_and_drops_the_sign_off(
    owner: User, complete: FailureCostAnalysis, contact: Contact
) -> None:
    client = client_for(owner)
    client.post(
        analysis_url("analysis_sign_off", complete),
        {"contact": contact.pk, "on": timezone.localdate().isoformat()},
    )
    response = client.post(analysis_url("analysis_reopen", complete))
    assert response.status_code == 302
    complete.refresh_from_db()
    assert (complete.completed_at, complete.signed_off_by, complete.signed_off_on) == (
        None,
        None,
        None,
    )
    assert AuditLogEntry.objects.filter(action="fca.reopen", actor=owner).exists()
    assert "Draft" in text_of(client.get(analysis_url("analysis", complete)).text)


def test_the_client_signs_off_a_complete_interview(
    owner: User, complete: FailureCostAnalysis, contact: Contact
) -> None:
    on = timezone.localdate() - dt.timedelta(days=2)
    response = client_for(owner).post(
        analysis_url("analysis_sign_off", complete), {"contact": contact.pk, "on": on.isoformat()}
    )
    assert response.status_code == 302
    complete.refresh_from_db()
    assert (complete.signed_off_by, complete.signed_off_on) == (contact, on)
    page = text_of(client_for(owner).get(analysis_url("analysis", complete)).text)
    assert f"Signed off by Dr Amara Lewis on {on.day} {on:%b %Y}" in page
    entry = AuditLogEntry.objects.get(action="fca.sign_off")
    assert entry.changes["signed_off_by"] == "Dr Amara Lewis"


@pytest.mark.parametrize(
    ("who", "when", "field", "message"),
    [
        ("ours", "future", "on", "The sign-off date cannot be in the future."),
        ("foreign", "today", "contact", "Select a valid choice."),
        ("ours", "nonsense", "on", "Enter a valid date."),
    ],
    ids=["future", "another account's contact", "garbage date"],
)
def test_a_bad_sign_off_is_refused_beside_the_field(
    who: str,
    when: str,
    field: str,
    message: str,
    owner: User,
    complete: FailureCostAnalysis,
    contact: Contact,
) -> None:
    on = {
        "future": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        "today": timezone.localdate().isoformat(),
        "nonsense": "soon",
    }[when]
    signer = contact if who == "ours" else ContactFactory.create()
    response = client_for(owner).post(
        analysis_url("analysis_sign_off", complete), {"contact": signer.pk, "on": on}
    )
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_{field}_error")
    complete.refresh_from_db()
    assert complete.signed_off_by is None


def test_signing_off_a_draft_interview_is_refused_and_says_why(
    owner: User, analysis: FailureCostAnalysis, contact: Contact
) -> None:
    response = client_for(owner).post(
        analysis_url("analysis_sign_off", analysis),
        {"contact": contact.pk, "on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400
    analysis.refresh_from_db()
    assert analysis.signed_off_by is None
    assert "Complete the interview before the client signs it off." in text_of(response.text)


# A complete interview stays complete ----------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_complete_interview_refuses_a_save_that_unquantifies_a_scenario(
    headers: dict[str, Any], owner: User, complete: FailureCostAnalysis
) -> None:
    scenario = complete.scenarios.get()
    response = post_scenario(
        client_for(owner), scenario, htmx=bool(headers), reputational_severity=""
    )
    assert response.status_code == (200 if headers else 400)
    assert (
        "This interview is complete, so every scenario must stay quantified: add the "
        "reputational figures, or reopen the interview first." in text_of(response.text)
    )
    scenario.refresh_from_db()
    assert (scenario.reputational_severity, scenario.version) == (3, 1)
    assert not AuditLogEntry.objects.filter(action="scenario.update").exists()


def test_a_complete_interview_accepts_a_save_that_keeps_it_quantified(
    owner: User, complete: FailureCostAnalysis
) -> None:
    scenario = complete.scenarios.get()
    post_scenario(client_for(owner), scenario, htmx=True, cost_per_hour="", users_affected="12")
    scenario.refresh_from_db()
    assert (scenario.cost_per_hour, scenario.users_affected) == (None, 12)
    complete.refresh_from_db()
    assert complete.is_complete


def test_a_complete_interview_refuses_a_new_scenario_that_is_not_quantified(
    owner: User, complete: FailureCostAnalysis
) -> None:
    client_for(owner).post(
        analysis_url("scenarios", complete), {"scenario-new-what_fails": "Another failure"}
    )
    assert list(complete.scenarios.values_list("what_fails", flat=True)) == [
        "Image archive unreachable"
    ]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_complete_interview_refuses_to_delete_its_last_scenario(
    headers: dict[str, Any], owner: User, complete: FailureCostAnalysis
) -> None:
    scenario = complete.scenarios.get()
    response = client_for(owner).post(
        analysis_url("scenario_delete", complete, scenario.pk), **headers
    )
    refusal = "A complete interview keeps at least one scenario: reopen it to remove the last one."
    if headers:
        assert refusal in text_of(response.text)
        assert response["HX-Reswap"] == "none"
    else:
        assert response.status_code == 302
        assert [str(m) for m in get_messages(response.wsgi_request)] == [refusal]
    assert FailureScenario.objects.filter(pk=scenario.pk).exists()
    assert not AuditLogEntry.objects.filter(action="scenario.delete").exists()


def test_a_complete_interview_may_lose_one_of_several_scenarios(
    owner: User, complete: FailureCostAnalysis
) -> None:
    extra = ScenarioFactory.create(analysis=complete)
    response = client_for(owner).post(analysis_url("scenario_delete", complete, extra.pk), **HTMX)
    assert response.status_code == 200
    assert not FailureScenario.objects.filter(pk=extra.pk).exists()
    assert AuditLogEntry.objects.filter(action="scenario.delete").count() == 1


def test_removing_a_scenario_asks_first(owner: User, scenario: FailureScenario) -> None:
    url = analysis_url("scenario_delete", scenario.analysis, scenario.pk)
    page = client_for(owner).get(url)
    assert page.status_code == 200
    assert "Image archive unreachable" in page.text
    assert FailureScenario.objects.filter(pk=scenario.pk).exists()


# "Must never happen" constraints -------------------------------------------------------


def _constraint_post(
    owner: User, engagement: Engagement, data: dict[str, Any], **headers: Any
) -> Any:
    return client_for(owner).post(
        reverse("discovery:constraints", args=[engagement.uuid]), data, **headers
    )


def test_a_constraint_is_recorded_with_the_scenarios_that_justify_it(
    owner: User, scenario: FailureScenario, engagement: Engagement
) -> None:
    response = _constraint_post(
        owner,
        engagement,
        {
            "constraint-new-statement": "No planned downtime during clinic hours",
            "constraint-new-scenarios": [scenario.pk],
        },
    )
    assert response.status_code == 302
    never = NeverEvent.objects.get(engagement=engagement)
    assert list(never.scenarios.all()) == [scenario]
    page = text_of(client_for(owner).get(analysis_url("analysis", scenario.analysis)).text)
    assert "Must never happen No planned downtime during clinic hours" in page


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize("scenarios", ["none", "another engagement's"])
def test_a_constraint_needs_scenarios_of_this_engagement(
    scenarios: str,
    headers: dict[str, Any],
    owner: User,
    scenario: FailureScenario,
    engagement: Engagement,
) -> None:
    data: dict[str, object] = {"constraint-new-statement": "Never lose an image"}
    if scenarios != "none":
        elsewhere = ScenarioFactory.create(
            analysis__engagement=EngagementFactory.create(account=engagement.account)
        )
        data["constraint-new-scenarios"] = [elsewhere.pk]
    response = _constraint_post(owner, engagement, data, **headers)
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, "id_constraint-new-scenarios_error")
    assert not NeverEvent.objects.exists()


def test_removing_an_interview_removes_the_constraints_only_it_justified(
    owner: User, scenario: FailureScenario, engagement: Engagement
) -> None:
    other = ScenarioFactory.create(analysis__engagement=engagement)
    only_here = NeverEvent.objects.create(engagement=engagement, statement="Never lose an image")
    only_here.scenarios.set([scenario])
    shared = NeverEvent.objects.create(engagement=engagement, statement="Never stop reporting")
    shared.scenarios.set([scenario, other])

    response = client_for(owner).post(analysis_url("analysis_delete", scenario.analysis))

    assert response.status_code == 302
    assert not FailureCostAnalysis.objects.filter(pk=scenario.analysis.pk).exists()
    assert list(NeverEvent.objects.values_list("statement", flat=True)) == ["Never stop reporting"]
    assert {e.action for e in AuditLogEntry.objects.all()} == {"constraint.delete", "fca.delete"}


# The audit trail on the discovery page -------------------------------------------------


def test_every_change_is_audited_and_shows_on_the_discovery_page(
    owner: User, analysis: FailureCostAnalysis, engagement: Engagement
) -> None:
    client = client_for(owner)
    client.post(analysis_url("scenarios", analysis), {"scenario-new-what_fails": "Archive down"})
    scenario = FailureScenario.objects.get(analysis=analysis)
    post_scenario(
        client,
        scenario,
        sites_affected="4",
        disruption_hours="2",
        cost_per_incident="900",
        reputational_severity="2",
    )
    client.post(analysis_url("analysis_complete", analysis))
    client.post(analysis_url("analysis_reopen", analysis))
    client.post(analysis_url("scenario_delete", analysis, scenario.pk))

    entries = AuditLogEntry.objects.filter(object_id=str(engagement.pk)).order_by("id")
    assert [(e.action, e.actor) for e in entries] == [
        ("scenario.create", owner),
        ("scenario.update", owner),
        ("fca.complete", owner),
        ("fca.reopen", owner),
        ("scenario.delete", owner),
    ]
    assert entries[1].changes["cost_per_incident"] == [None, "900"]
    page = text_of(client.get(reverse("discovery:checklist", args=[engagement.uuid])).text)
    for label in (
        "added a failure scenario",
        "edited a failure scenario",
        "completed a Failure-Cost Analysis",
        "reopened a Failure-Cost Analysis",
        "removed a failure scenario",
    ):
        assert f"{owner} · {label}" in page
