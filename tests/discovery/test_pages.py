"""Who may read and write the discovery pages, wrong methods, and pinned query counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from discovery.models import (
    FailureCostAnalysis,
    FailureScenario,
    GrowthTarget,
    NeverEvent,
    TcoAlternative,
)
from discovery.services import tco_get_or_create
from engagements.models import Engagement
from tcp.models import User
from tests.conftest import client_for
from tests.discovery.conftest import text_of
from tests.factories import ContactFactory, ScenarioFactory

pytestmark = pytest.mark.django_db


@dataclass
class World:
    """One engagement with every kind of discovery row, so every URL can be built."""

    engagement: Engagement
    analysis: FailureCostAnalysis
    scenario: FailureScenario
    target: GrowthTarget
    constraint: NeverEvent
    alternative: TcoAlternative
    line_pk: int


@pytest.fixture
def world(discovered: Engagement) -> World:
    analysis = FailureCostAnalysis.objects.get(engagement=discovered)
    scenario = analysis.scenarios.get()
    constraint = NeverEvent.objects.create(engagement=discovered, statement="Never lose an image")
    constraint.scenarios.set([scenario])
    comparison = tco_get_or_create(engagement=discovered, actor=None)
    rival = TcoAlternative.objects.create(comparison=comparison, kind="competitor", name="Rival")
    line = rival.lines.create(category="purchase", amount=1000)
    return World(
        engagement=discovered,
        analysis=analysis,
        scenario=scenario,
        target=GrowthTarget.objects.get(profile__account=discovered.account),
        constraint=constraint,
        alternative=rival,
        line_pk=line.pk,
    )


Url = Callable[[World], str]


def _e(name: str, *more: Callable[[World], Any]) -> Url:
    return lambda w: reverse(f"discovery:{name}", args=[w.engagement.uuid, *(m(w) for m in more)])


def _i(name: str, *more: Callable[[World], Any]) -> Url:
    return lambda w: reverse(
        f"discovery:{name}",
        args=[w.engagement.uuid, w.analysis.uuid, *(m(w) for m in more)],
    )


def _a(name: str, *more: Any) -> Url:
    return lambda w: reverse(
        f"discovery:{name}",
        args=[w.engagement.account.uuid, *(m(w) if callable(m) else m for m in more)],
    )


READS: dict[str, Url] = {
    "profile": _a("profile"),
    "checklist": _e("checklist"),
    "interview": _i("analysis"),
    "tco": _e("tco"),
    "tco chart": _e("tco_chart"),
}

# Every POST (and the GET of each delete confirmation, which only editors may see).
WRITES: dict[str, Url] = {
    "profile save": _a("profile"),
    "target add": _a("profile_items", "targets"),
    "target save": _a("profile_item", "targets", lambda w: w.target.pk),
    "target delete": _a("profile_item_delete", "targets", lambda w: w.target.pk),
    "interview start": _e("analysis_create"),
    "interview save": _i("analysis"),
    "interview delete": _i("analysis_delete"),
    "interview complete": _i("analysis_complete"),
    "interview reopen": _i("analysis_reopen"),
    "interview sign-off": _i("analysis_sign_off"),
    "scenario add": _i("scenarios"),
    "scenario save": _i("scenario", lambda w: w.scenario.pk),
    "scenario delete": _i("scenario_delete", lambda w: w.scenario.pk),
    "constraint add": _e("constraints"),
    "constraint save": _e("constraint", lambda w: w.constraint.pk),
    "constraint delete": _e("constraint_delete", lambda w: w.constraint.pk),
    "tco save": _e("tco"),
    "competitor add": _e("alternatives"),
    "alternative save": _e("alternative", lambda w: w.alternative.pk),
    "alternative delete": _e("alternative_delete", lambda w: w.alternative.pk),
    "line add": _e("lines", lambda w: w.alternative.pk),
    "line save": _e("line", lambda w: w.line_pk),
    "line delete": _e("line_delete", lambda w: w.line_pk),
    "downtime": _e("downtime", lambda w: w.alternative.pk),
}
CONFIRMATIONS = ["target delete", "interview delete", "scenario delete", "constraint delete"]
CONFIRMATIONS += ["alternative delete", "line delete"]
POST_ONLY = [
    "target add",
    "target save",
    "interview start",
    "interview complete",
    "interview reopen",
    "interview sign-off",
    "scenario add",
    "scenario save",
    "competitor add",
    "alternative save",
    "line add",
    "line save",
    "downtime",
]


def _counts(world: World) -> tuple[int, ...]:
    return (
        FailureCostAnalysis.objects.count(),
        FailureScenario.objects.count(),
        NeverEvent.objects.count(),
        GrowthTarget.objects.count(),
        TcoAlternative.objects.count(),
        FailureCostAnalysis.objects.complete().count(),
    )


# Reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", READS)
@pytest.mark.parametrize("persona", ["owner", "delivery_manager", "leadership"])
def test_the_team_delivery_and_leadership_can_read_every_discovery_page(
    page: str, persona: str, world: World, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    assert client_for(user).get(READS[page](world)).status_code == 200


def test_a_reader_who_cannot_edit_sees_no_edit_controls(
    delivery_manager: User, world: World
) -> None:
    page = client_for(delivery_manager).get(READS["interview"](world)).text
    assert "Complete the interview" not in page
    assert "Reopen as draft" not in page
    assert "<fieldset disabled>" in page
    assert "Add failure scenario" not in page
    checklist = client_for(delivery_manager).get(READS["checklist"](world)).text
    assert "Start the interview" not in checklist


@pytest.mark.parametrize("page", READS)
def test_an_outsider_gets_not_found_on_every_discovery_page(
    page: str, outsider: User, world: World
) -> None:
    assert client_for(outsider).get(READS[page](world)).status_code == 404


@pytest.mark.parametrize("page", READS)
def test_an_anonymous_visitor_is_sent_to_sign_in(page: str, world: World) -> None:
    url = READS[page](world)
    response = client_for(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# Writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", WRITES)
@pytest.mark.parametrize("persona", ["outsider", "delivery_manager"])
def test_outsiders_and_readers_get_not_found_on_every_write_and_nothing_changes(
    action: str, persona: str, world: World, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    before = _counts(world)
    response = client_for(user).post(
        WRITES[action](world),
        {f"scenario-{world.scenario.pk}-what_fails": "Hijacked", "scenario-new-what_fails": "X"},
    )
    assert response.status_code == 404
    assert _counts(world) == before
    world.scenario.refresh_from_db()
    assert world.scenario.what_fails != "Hijacked"


@pytest.mark.parametrize("action", CONFIRMATIONS)
@pytest.mark.parametrize("persona", ["outsider", "delivery_manager"])
def test_readers_never_see_a_delete_confirmation(
    action: str, persona: str, world: World, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    assert client_for(user).get(WRITES[action](world)).status_code == 404


@pytest.mark.parametrize("action", ["scenario save", "target add", "interview delete"])
def test_an_anonymous_post_is_sent_to_sign_in_and_changes_nothing(
    action: str, world: World
) -> None:
    before = _counts(world)
    response = client_for(None).post(WRITES[action](world), {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert _counts(world) == before


def test_leadership_can_write(leadership: User, world: World) -> None:
    scenario = world.scenario
    prefix = f"scenario-{scenario.pk}"
    response = client_for(leadership).post(
        WRITES["scenario save"](world),
        {
            f"{prefix}-what_fails": "Archive offline",
            f"{prefix}-sites_affected": "40",
            f"{prefix}-disruption_hours": "4",
            f"{prefix}-cost_per_hour": "10000",
            f"{prefix}-reputational_severity": "3",
            f"{prefix}-likelihood_per_year": "1",
            f"{prefix}-version": scenario.version,
        },
    )
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert (scenario.what_fails, scenario.updated_by) == ("Archive offline", leadership)
    response = client_for(leadership).post(
        WRITES["competitor add"](world), {"alternative-new-name": "Second rival"}
    )
    assert response.status_code == 302
    assert TcoAlternative.objects.filter(name="Second rival").exists()


@pytest.mark.parametrize("action", CONFIRMATIONS)
def test_the_owner_is_asked_before_anything_is_removed(
    action: str, owner: User, world: World
) -> None:
    before = _counts(world)
    response = client_for(owner).get(WRITES[action](world))
    assert response.status_code == 200
    assert "Remove" in text_of(response.text)
    assert _counts(world) == before


# Wrong methods -------------------------------------------------------------------------


@pytest.mark.parametrize("action", POST_ONLY)
def test_a_get_on_a_post_only_url_is_refused(action: str, owner: User, world: World) -> None:
    assert client_for(owner).get(WRITES[action](world)).status_code == 405


@pytest.mark.parametrize("page", ["checklist", "tco chart"])
def test_a_post_on_a_read_only_page_is_refused(page: str, owner: User, world: World) -> None:
    assert client_for(owner).post(READS[page](world)).status_code == 405


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(method: str, owner: User, world: World) -> None:
    response = getattr(client_for(owner), method)(WRITES["scenario save"](world))
    assert response.status_code == 405


def test_the_tco_chart_is_an_svg_of_the_lifetimes(owner: User, world: World) -> None:
    response = client_for(owner).get(READS["tco chart"](world))
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg") or b"<svg" in response.content[:200]


def test_the_checklist_says_when_discovery_is_complete(owner: User, world: World) -> None:
    page = text_of(client_for(owner).get(READS["checklist"](world)).text)
    assert "Discovery is complete: the engagement may move to proposal." in page
    assert "1 of 1 interview complete." in page
    assert "100% complete." in page


def test_the_checklist_says_what_is_missing(owner: User, engagement: Engagement) -> None:
    page = text_of(
        client_for(owner).get(reverse("discovery:checklist", args=[engagement.uuid])).text
    )
    assert "The engagement cannot move to proposal until both hold." in page
    assert "No interview recorded yet." in page
    assert "Describe the operational constraints." in page


# Query counts --------------------------------------------------------------------------


def _grow(engagement: Engagement, scenarios: int, constraints: int) -> FailureCostAnalysis:
    analysis = FailureCostAnalysis.objects.get(engagement=engagement)
    rows = [analysis.scenarios.get()]
    rows += [ScenarioFactory.create(analysis=analysis) for _ in range(scenarios - 1)]
    for n in range(constraints):
        never = NeverEvent.objects.create(engagement=engagement, statement=f"Never {n}")
        never.scenarios.set(rows)
    ContactFactory.create_batch(scenarios, account=engagement.account)
    analysis.interviewees.set(engagement.account.contacts.all())
    return analysis


SIZES = [(1, 1), (8, 4)]
SIZE_IDS = ["1 scenario, 1 constraint", "8 scenarios, 4 constraints"]

# Measured with one scenario and one constraint; every size must give the same number.
CHECKLIST_QUERIES = 18
INTERVIEW_QUERIES = 14


@pytest.mark.parametrize(("scenarios", "constraints"), SIZES, ids=SIZE_IDS)
def test_the_discovery_checklist_runs_a_fixed_number_of_queries(
    scenarios: int,
    constraints: int,
    owner: User,
    discovered: Engagement,
    django_assert_num_queries: Any,
) -> None:
    _grow(discovered, scenarios, constraints)
    client = client_for(owner)
    url = reverse("discovery:checklist", args=[discovered.uuid])
    client.get(url)
    with django_assert_num_queries(CHECKLIST_QUERIES):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize(("scenarios", "constraints"), SIZES, ids=SIZE_IDS)
def test_the_interview_editor_runs_a_fixed_number_of_queries(
    scenarios: int,
    constraints: int,
    owner: User,
    discovered: Engagement,
    django_assert_num_queries: Any,
) -> None:
    analysis = _grow(discovered, scenarios, constraints)
    client = client_for(owner)
    url = reverse("discovery:analysis", args=[discovered.uuid, analysis.uuid])
    client.get(url)
    with django_assert_num_queries(INTERVIEW_QUERIES):
        assert client.get(url).status_code == 200
