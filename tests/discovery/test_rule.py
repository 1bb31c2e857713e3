"""Discovery precedes proposal: refused through every entry point until the profile is
complete and a Failure-Cost Analysis is complete; history before the adoption date is exempt."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from discovery.models import (
    ClientIntelligenceProfile,
    FailureCostAnalysis,
    FailureScenario,
    GrowthTarget,
    RegulatoryObligation,
    Stakeholder,
)
from discovery.services import discovery_blockers, fca_complete
from engagements.models import Account, Engagement, Stage, StageChange
from engagements.services import StageChangeRefused, engagement_advance, engagement_create
from tcp.models import OrganisationSettings, User
from tests.conftest import client_for
from tests.discovery.conftest import HTMX, text_of
from tests.factories import (
    AccountFactory,
    AnalysisFactory,
    ContactFactory,
    EngagementFactory,
    ScenarioFactory,
    UserFactory,
    complete_discovery,
    contracted_values,
)

pytestmark = pytest.mark.django_db

PROFILE_GAPS = [
    "Client intelligence profile: Record at least one growth target (3–5 year horizon).",
    "Client intelligence profile: Record the regulatory obligations, or confirm that none apply.",
    "Client intelligence profile: Describe the operational constraints.",
    "Client intelligence profile: Name the economic buyer among the stakeholders.",
    "Client intelligence profile: Name the technical buyer among the stakeholders.",
]
FCA_GAP = (
    "Complete a Failure-Cost Analysis for this engagement: at least one failure scenario, "
    "each quantified on operational, financial and reputational cost."
)
NOTHING_DONE = [*PROFILE_GAPS, FCA_GAP]


def _messages(refusal: pytest.ExceptionInfo[StageChangeRefused]) -> list[str]:
    return [b.message for b in refusal.value.blockers]


def _assert_not_moved(engagement: Engagement) -> None:
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.proposal_on) == (Stage.DISCOVERY, None)
    assert not StageChange.objects.filter(engagement=engagement).exists()


# The stage service --------------------------------------------------------------------


def test_proposal_is_refused_until_discovery_is_complete(
    engagement: Engagement, owner: User
) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner)
    assert _messages(refusal) == NOTHING_DONE
    _assert_not_moved(engagement)


def _section(page: str, anchor: str) -> str:
    """The part of the page a link to `#anchor` lands on ('' when nothing has that id)."""
    found = re.search(rf'<section[^>]*id="{re.escape(anchor)}".*?</section>', page, re.S)
    return found.group(0) if found else ""


def test_the_refusal_links_each_gap_to_where_it_is_fixed(
    engagement: Engagement, owner: User
) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner)
    profile = reverse("discovery:profile", args=[engagement.account.uuid])
    *gaps, fca = refusal.value.blockers
    assert fca.fix_url == reverse("discovery:checklist", args=[engagement.uuid])
    page = client_for(owner).get(profile).text
    # Each profile gap leads to the section of the profile page holding what is missing.
    landing = {}
    for gap in gaps:
        path, _, anchor = gap.fix_url.partition("#")
        assert path == profile
        landing[gap.message] = _section(page, anchor)
    assert 'name="target-new-metric"' in landing[PROFILE_GAPS[0]]
    assert 'name="obligation-new-framework"' in landing[PROFILE_GAPS[1]]
    assert "-operational_constraints" in landing[PROFILE_GAPS[2]]
    assert 'name="stakeholder-new-buyer_role"' in landing[PROFILE_GAPS[3]]
    assert 'name="stakeholder-new-buyer_role"' in landing[PROFILE_GAPS[4]]


def test_a_complete_profile_alone_is_not_enough(engagement: Engagement, owner: User) -> None:
    complete_discovery(engagement)
    FailureCostAnalysis.objects.filter(engagement=engagement).update(completed_at=None)
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner)
    assert _messages(refusal) == [FCA_GAP]
    _assert_not_moved(engagement)


def test_a_complete_interview_of_another_engagement_does_not_count(
    engagement: Engagement, owner: User
) -> None:
    sibling = EngagementFactory.create(account=engagement.account, commercial_lead=owner)
    complete_discovery(sibling)
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner)
    assert _messages(refusal) == [FCA_GAP]


def test_proposal_is_allowed_once_discovery_is_complete(
    discovered: Engagement, owner: User
) -> None:
    engagement_advance(engagement=discovered, to_stage=Stage.PROPOSAL, actor=owner)
    discovered.refresh_from_db()
    assert (discovered.stage, discovered.proposal_on) == (Stage.PROPOSAL, timezone.localdate())


def test_the_rule_does_not_stop_an_engagement_being_lost(
    engagement: Engagement, owner: User
) -> None:
    engagement_advance(engagement=engagement, to_stage=Stage.LOST, actor=owner)
    engagement.refresh_from_db()
    assert engagement.stage == Stage.LOST


# The adoption date ---------------------------------------------------------------------


@pytest.fixture
def old_engagement(account: Account, owner: User) -> Engagement:
    """Opened before the default adoption date (1 Jul 2018), with no discovery at all."""
    return EngagementFactory.create(
        account=account, commercial_lead=owner, opened_on=dt.date(2018, 1, 10)
    )


def test_a_proposal_dated_before_the_adoption_date_is_exempt(
    old_engagement: Engagement, owner: User, organisation: OrganisationSettings
) -> None:
    day_before = organisation.tcp_adoption_date - dt.timedelta(days=1)
    engagement_advance(
        engagement=old_engagement, to_stage=Stage.PROPOSAL, actor=owner, on=day_before
    )
    old_engagement.refresh_from_db()
    assert (old_engagement.stage, old_engagement.proposal_on) == (Stage.PROPOSAL, day_before)
    assert old_engagement.is_pre_adoption(organisation.tcp_adoption_date)


def test_from_the_adoption_date_on_there_is_no_exemption(
    old_engagement: Engagement, owner: User, organisation: OrganisationSettings
) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(
            engagement=old_engagement,
            to_stage=Stage.PROPOSAL,
            actor=owner,
            on=organisation.tcp_adoption_date,
        )
    assert _messages(refusal) == NOTHING_DONE
    _assert_not_moved(old_engagement)


def test_the_exemption_follows_the_organisations_adoption_date(
    engagement: Engagement, owner: User, organisation: OrganisationSettings
) -> None:
    organisation.tcp_adoption_date = dt.date(2024, 6, 1)
    organisation.save(update_fields=["tcp_adoption_date"])
    engagement_advance(
        engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner, on=dt.date(2024, 5, 31)
    )
    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL


# The stage form on the engagement page -------------------------------------------------


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_the_stage_form_refuses_proposal_and_names_what_is_missing_with_links(
    headers: dict[str, Any], owner: User, engagement: Engagement
) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_advance", args=[engagement.uuid]),
        {"to_stage": "proposal", "on": "2024-03-01"},
        **headers,
    )
    assert response.status_code == 200
    page = text_of(response.text)
    assert "The stage was not changed:" in page
    for message in NOTHING_DONE:
        assert message in page
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner)
    for blocker in refusal.value.blockers:
        assert f'href="{blocker.fix_url}"' in response.text
    assert f'href="{reverse("discovery:checklist", args=[engagement.uuid])}"' in response.text
    assert ("<html" in response.text) is not bool(headers)
    _assert_not_moved(engagement)


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_the_stage_form_moves_to_proposal_once_discovery_is_complete(
    headers: dict[str, Any], owner: User, discovered: Engagement
) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_advance", args=[discovered.uuid]),
        {"to_stage": "proposal", "on": "2024-03-01"},
        **headers,
    )
    assert response.status_code == (200 if headers else 302)
    discovered.refresh_from_db()
    assert (discovered.stage, discovered.proposal_on) == (Stage.PROPOSAL, dt.date(2024, 3, 1))


# The admin's bulk stage action ---------------------------------------------------------


@pytest.fixture
def superuser(db: None) -> User:
    return UserFactory.create(username="root", is_staff=True, is_superuser=True)


def _admin_move(user: User, *engagements: Engagement) -> list[str]:
    response = client_for(user).post(
        reverse("admin:engagements_engagement_changelist"),
        {"action": "move_to_proposal", "_selected_action": [e.pk for e in engagements]},
    )
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_admin_bulk_action_refuses_proposal_without_discovery(
    superuser: User, engagement: Engagement
) -> None:
    [message] = _admin_move(superuser, engagement)
    assert message.startswith(f"{engagement}: ")
    for gap in NOTHING_DONE:
        assert gap in message
    _assert_not_moved(engagement)


def test_the_admin_bulk_action_moves_only_the_engagements_whose_discovery_is_complete(
    superuser: User, engagement: Engagement, owner: User
) -> None:
    ready = EngagementFactory.create(account=engagement.account, commercial_lead=owner)
    complete_discovery(ready)
    messages = _admin_move(superuser, engagement, ready)
    assert f"{engagement}: " in messages[0]
    assert messages[1] == "Moved 1 engagement(s) to proposal."
    ready.refresh_from_db()
    assert ready.stage == Stage.PROPOSAL
    _assert_not_moved(engagement)


# Records created straight into a later stage (the CRM path) -----------------------------


def _create(account: Account, lead: User, stage: str, **dates: dt.date) -> Engagement:
    return engagement_create(
        account=account,
        actor=None,
        stage=stage,
        name="Synced from CRM",
        commercial_lead=lead,
        delivery_manager=UserFactory.create(roles=["delivery_manager"]),
        **{**contracted_values(), **dates},
    )


@pytest.mark.parametrize("stage", [Stage.PROPOSAL, Stage.CONTRACTED, Stage.COMPLETED])
def test_an_engagement_created_straight_into_a_later_stage_must_have_had_discovery(
    stage: Stage, owner: User
) -> None:
    account = AccountFactory.create()
    complete_discovery(EngagementFactory.create(account=account, commercial_lead=owner))
    before = Engagement.objects.count()
    with pytest.raises(StageChangeRefused) as refusal:
        _create(
            account,
            owner,
            stage,
            opened_on=dt.date(2024, 1, 5),
            proposal_on=dt.date(2024, 2, 1),
            contract_signed_on=dt.date(2024, 3, 1),
            completed_on=dt.date(2024, 12, 20),
        )
    # The account's profile is complete, but the new record has no interview of its own.
    assert FCA_GAP in _messages(refusal)
    assert not any(m.startswith("Client intelligence profile") for m in _messages(refusal))
    assert Engagement.objects.count() == before


def test_an_engagement_created_in_proposal_names_the_profile_gaps_too(owner: User) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        _create(
            AccountFactory.create(),
            owner,
            Stage.PROPOSAL,
            opened_on=dt.date(2024, 1, 5),
            proposal_on=dt.date(2024, 2, 1),
        )
    assert _messages(refusal) == NOTHING_DONE


def test_history_created_in_a_later_stage_before_the_adoption_date_is_exempt(
    owner: User,
) -> None:
    engagement = _create(
        AccountFactory.create(),
        owner,
        Stage.CONTRACTED,
        opened_on=dt.date(2017, 2, 1),
        proposal_on=dt.date(2017, 3, 1),
        contract_signed_on=dt.date(2017, 4, 1),
    )
    assert engagement.stage == Stage.CONTRACTED
    assert engagement.is_pre_adoption(OrganisationSettings.load().tcp_adoption_date)


@pytest.mark.parametrize("stage", [Stage.LOST, Stage.CANCELLED])
def test_a_closed_record_with_a_proposal_date_cannot_slip_past_discovery(
    stage: Stage, owner: User
) -> None:
    with pytest.raises(StageChangeRefused):
        _create(
            AccountFactory.create(),
            owner,
            stage,
            opened_on=dt.date(2024, 1, 5),
            proposal_on=dt.date(2024, 2, 1),
            lost_on=dt.date(2024, 3, 1),
            cancelled_on=dt.date(2024, 3, 1),
        )


# Completeness of the profile -----------------------------------------------------------


def _remove_targets(profile: ClientIntelligenceProfile) -> None:
    profile.growth_targets.all().delete()


def _obligations_unanswered(profile: ClientIntelligenceProfile) -> None:
    profile.no_regulatory_obligations = False
    profile.save(update_fields=["no_regulatory_obligations"])


def _blank_constraints(profile: ClientIntelligenceProfile) -> None:
    profile.operational_constraints = "  \n "
    profile.save(update_fields=["operational_constraints"])


def _remove_buyer(role: str) -> Callable[[ClientIntelligenceProfile], None]:
    def remove(profile: ClientIntelligenceProfile) -> None:
        profile.stakeholders.filter(buyer_role=role).delete()

    return remove


@pytest.mark.parametrize(
    ("spoil", "gap"),
    [
        (_remove_targets, PROFILE_GAPS[0]),
        (_obligations_unanswered, PROFILE_GAPS[1]),
        (_blank_constraints, PROFILE_GAPS[2]),
        (_remove_buyer("economic"), PROFILE_GAPS[3]),
        (_remove_buyer("technical"), PROFILE_GAPS[4]),
    ],
    ids=["growth target", "obligations", "operational constraints", "economic", "technical"],
)
def test_each_profile_check_alone_blocks_the_proposal(
    spoil: Callable[[ClientIntelligenceProfile], None],
    gap: str,
    discovered: Engagement,
    owner: User,
) -> None:
    spoil(ClientIntelligenceProfile.objects.get(account=discovered.account))
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=discovered, to_stage=Stage.PROPOSAL, actor=owner)
    assert _messages(refusal) == [gap]
    _assert_not_moved(discovered)


def test_recorded_obligations_stand_in_for_the_no_obligations_tick(
    discovered: Engagement, owner: User
) -> None:
    profile = ClientIntelligenceProfile.objects.get(account=discovered.account)
    _obligations_unanswered(profile)
    RegulatoryObligation.objects.create(
        profile=profile, framework="hipaa", requirement="Audit every access to patient records."
    )
    assert discovery_blockers(engagement=discovered) == []
    engagement_advance(engagement=discovered, to_stage=Stage.PROPOSAL, actor=owner)


@pytest.mark.parametrize("other_role", ["user", "coach"])
def test_a_stakeholder_with_another_buyer_role_does_not_count_as_the_economic_buyer(
    other_role: str, discovered: Engagement
) -> None:
    profile = ClientIntelligenceProfile.objects.get(account=discovered.account)
    # The contact is the economic buyer in the CRM; on the profile they play another role.
    profile.stakeholders.filter(buyer_role="economic").update(buyer_role=other_role)
    assert [b.message for b in discovery_blockers(engagement=discovered)] == [PROFILE_GAPS[3]]


def test_the_stakeholder_role_on_the_profile_counts_not_the_contacts_crm_role(
    discovered: Engagement,
) -> None:
    profile = ClientIntelligenceProfile.objects.get(account=discovered.account)
    profile.stakeholders.filter(buyer_role="technical").delete()
    coach = ContactFactory.create(account=discovered.account, buyer_role="coach")
    Stakeholder.objects.create(profile=profile, contact=coach, buyer_role="technical")
    assert discovery_blockers(engagement=discovered) == []


def test_several_targets_and_buyers_count_once_each(discovered: Engagement) -> None:
    profile = ClientIntelligenceProfile.objects.get(account=discovered.account)
    GrowthTarget.objects.create(
        profile=profile,
        metric="Sites",
        baseline=Decimal(40),
        target=Decimal(60),
        horizon_year=timezone.localdate().year + 3,
    )
    profile = ClientIntelligenceProfile.objects.with_counts().get(pk=profile.pk)
    assert (profile.n_targets, profile.n_economic, profile.n_technical) == (2, 1, 1)
    assert (profile.is_complete, profile.completeness) == (True, 100)


def test_an_account_without_a_profile_misses_all_five_checks(engagement: Engagement) -> None:
    assert not ClientIntelligenceProfile.objects.filter(account=engagement.account).exists()
    assert [b.message for b in discovery_blockers(engagement=engagement)] == NOTHING_DONE


# Completeness of the interviews --------------------------------------------------------


def test_an_interview_without_scenarios_cannot_be_completed(
    engagement: Engagement, owner: User
) -> None:
    analysis = AnalysisFactory.create(engagement=engagement)
    with pytest.raises(ValidationError, match=r"Add at least one failure scenario\."):
        fca_complete(analysis=analysis, actor=owner)
    analysis.refresh_from_db()
    assert analysis.completed_at is None


@pytest.mark.parametrize(
    ("blank", "dimension"),
    [
        ({"disruption_hours": None}, "operational"),
        ({"sites_affected": None, "users_affected": None}, "operational"),
        ({"cost_per_hour": None, "cost_per_incident": None}, "financial"),
        ({"reputational_severity": None}, "reputational"),
    ],
    ids=["no hours", "neither sites nor users", "no cost", "no severity"],
)
def test_one_scenario_missing_a_dimension_keeps_the_interview_open(
    blank: dict[str, None], dimension: str, engagement: Engagement, owner: User
) -> None:
    analysis = AnalysisFactory.create(engagement=engagement)
    ScenarioFactory.create(analysis=analysis, what_fails="Archive down")
    ScenarioFactory.create(analysis=analysis, what_fails="Reporting down", **blank)
    with pytest.raises(ValidationError) as refusal:
        fca_complete(analysis=analysis, actor=owner)
    assert refusal.value.messages == [f"Quantify “Reporting down”: {dimension} impact missing."]
    analysis.refresh_from_db()
    assert analysis.completed_at is None


@pytest.mark.parametrize(
    "operational",
    [
        {"sites_affected": 3, "users_affected": None},
        {"sites_affected": None, "users_affected": 250},
        {"sites_affected": 0, "users_affected": None},
    ],
    ids=["sites", "users", "zero sites"],
)
def test_operational_needs_hours_and_either_sites_or_users(
    operational: dict[str, int | None], engagement: Engagement, owner: User
) -> None:
    analysis = AnalysisFactory.create(engagement=engagement)
    ScenarioFactory.create(analysis=analysis, **operational)
    fca_complete(analysis=analysis, actor=owner)
    assert FailureCostAnalysis.objects.complete().filter(pk=analysis.pk).exists()
    assert not FailureScenario.objects.filter(analysis=analysis).unquantified().exists()


def test_one_financial_figure_is_enough(engagement: Engagement, owner: User) -> None:
    analysis = AnalysisFactory.create(engagement=engagement)
    ScenarioFactory.create(analysis=analysis, cost_per_hour=None, cost_per_incident=Decimal(0))
    fca_complete(analysis=analysis, actor=owner)
    analysis.refresh_from_db()
    assert analysis.is_complete
