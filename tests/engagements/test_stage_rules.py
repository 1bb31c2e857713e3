from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from engagements import services
from engagements.models import Engagement, Stage, StageChange
from engagements.services import Blocker, StageChangeRefused, engagement_advance, engagement_create
from tcp.models import AuditLogEntry, OrganisationSettings, Role, User
from tests.factories import AccountFactory, EngagementFactory, UserFactory, contracted_values

pytestmark = pytest.mark.django_db


def _messages(refusal: pytest.ExceptionInfo[StageChangeRefused]) -> list[str]:
    return [b.message for b in refusal.value.blockers]


def test_moving_to_proposal_stamps_the_date_and_records_who_and_when(
    discovered: Engagement, owner: User
) -> None:
    engagement = discovered
    on = dt.date(2024, 3, 1)
    engagement_advance(
        engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner, on=on, note="Sent"
    )

    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL
    assert engagement.proposal_on == on
    assert engagement.stage_changed_by == owner
    change = StageChange.objects.get(engagement=engagement, to_stage=Stage.PROPOSAL)
    assert (change.from_stage, change.by, change.on, change.note) == (
        Stage.DISCOVERY,
        owner,
        on,
        "Sent",
    )
    entry = AuditLogEntry.objects.get(action="engagement.stage", object_id=str(engagement.pk))
    assert entry.actor == owner
    assert entry.changes["stage"] == ["discovery", "proposal"]


def test_a_stage_cannot_be_skipped(engagement: Engagement, owner: User) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.CONTRACTED, actor=owner)
    assert _messages(refusal) == ["An engagement in discovery cannot move to contracted."]
    engagement.refresh_from_db()
    assert engagement.stage == Stage.DISCOVERY
    assert not StageChange.objects.filter(engagement=engagement).exists()


def test_contracting_is_refused_until_value_dates_and_effort_are_known(owner: User) -> None:
    engagement = EngagementFactory.create(
        stage=Stage.PROPOSAL,
        proposal_on=dt.date(2024, 2, 1),
        value=Decimal(0),
        commercial_lead=owner,
    )
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(
            engagement=engagement, to_stage=Stage.CONTRACTED, actor=owner, on=dt.date(2024, 3, 1)
        )
    assert _messages(refusal) == [
        "Add the contract value.",
        "Add the contracted start date.",
        "Add the contracted end date.",
        "Add the contracted effort in days.",
    ]
    assert all(b.fix_url.endswith("/edit/") for b in refusal.value.blockers)
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.contract_signed_on) == (Stage.PROPOSAL, None)


def test_contracting_succeeds_once_the_contract_is_described(owner: User) -> None:
    engagement = EngagementFactory.create(
        stage=Stage.PROPOSAL,
        proposal_on=dt.date(2024, 2, 1),
        commercial_lead=owner,
        **contracted_values(),
    )
    engagement_advance(
        engagement=engagement, to_stage=Stage.CONTRACTED, actor=owner, on=dt.date(2024, 3, 10)
    )
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.contract_signed_on) == (
        Stage.CONTRACTED,
        dt.date(2024, 3, 10),
    )


def test_delivery_needs_a_delivery_manager(owner: User, delivery_manager: User) -> None:
    engagement = EngagementFactory.create(
        stage=Stage.CONTRACTED, commercial_lead=owner, **contracted_values()
    )
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(
            engagement=engagement, to_stage=Stage.DELIVERY, actor=owner, on=dt.date(2024, 4, 1)
        )
    assert _messages(refusal) == ["Add a delivery manager."]

    engagement.delivery_manager = delivery_manager
    engagement.save(update_fields=["delivery_manager"])
    engagement_advance(
        engagement=engagement, to_stage=Stage.DELIVERY, actor=owner, on=dt.date(2024, 4, 1)
    )
    engagement.refresh_from_db()
    assert engagement.stage == Stage.DELIVERY


def test_completing_records_the_actual_end(owner: User, delivery_manager: User) -> None:
    engagement = EngagementFactory.create(
        stage=Stage.DELIVERY,
        commercial_lead=owner,
        delivery_manager=delivery_manager,
        **contracted_values(),
    )
    engagement_advance(
        engagement=engagement, to_stage=Stage.COMPLETED, actor=owner, on=dt.date(2024, 12, 18)
    )
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.completed_on) == (Stage.COMPLETED, dt.date(2024, 12, 18))
    assert engagement.next_stages() == ()


@pytest.mark.parametrize("final", [Stage.COMPLETED, Stage.LOST, Stage.CANCELLED])
def test_closed_engagements_cannot_move(final: Stage, owner: User) -> None:
    engagement = EngagementFactory.create(stage=final, commercial_lead=owner)
    with pytest.raises(StageChangeRefused):
        engagement_advance(engagement=engagement, to_stage=Stage.DISCOVERY, actor=owner)


def test_a_change_dated_before_the_engagement_opened_is_refused(
    engagement: Engagement, owner: User
) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(
            engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner, on=dt.date(2023, 12, 31)
        )
    assert "before the engagement opened" in _messages(refusal)[0]


def test_a_change_dated_in_the_future_is_refused(engagement: Engagement, owner: User) -> None:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage=Stage.LOST, actor=owner, on=tomorrow)
    assert "in the future" in _messages(refusal)[0]


def test_an_unknown_stage_is_refused(engagement: Engagement, owner: User) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(engagement=engagement, to_stage="won", actor=owner)
    assert _messages(refusal) == ["“won” is not a stage."]


def test_reopening_discovery_clears_the_proposal_date(owner: User) -> None:
    engagement = EngagementFactory.create(
        stage=Stage.PROPOSAL, proposal_on=dt.date(2024, 2, 1), commercial_lead=owner
    )
    engagement_advance(
        engagement=engagement, to_stage=Stage.DISCOVERY, actor=owner, on=dt.date(2024, 2, 20)
    )
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.proposal_on) == (Stage.DISCOVERY, None)


def test_a_rule_registered_by_another_app_stops_the_stage_change(
    engagement: Engagement, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def discovery_first(
        e: Engagement, to_stage: str, on: dt.date, org: OrganisationSettings
    ) -> list[Blocker]:
        return (
            [Blocker("Complete the client intelligence profile.", "/fix/")]
            if to_stage == Stage.PROPOSAL
            else []
        )

    monkeypatch.setattr(services, "STAGE_GUARDS", [discovery_first])
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_advance(
            engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner, on=dt.date(2024, 2, 1)
        )
    assert _messages(refusal) == ["Complete the client intelligence profile."]
    engagement_advance(
        engagement=engagement, to_stage=Stage.LOST, actor=owner, on=dt.date(2024, 2, 1)
    )


def test_an_engagement_created_directly_in_a_later_stage_must_satisfy_the_stages_it_skipped(
    owner: User,
) -> None:
    account = AccountFactory.create()
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_create(
            account=account,
            actor=None,
            stage=Stage.DELIVERY,
            name="Synced from CRM",
            commercial_lead=owner,
            opened_on=dt.date(2024, 1, 1),
            proposal_on=dt.date(2024, 1, 20),
            contract_signed_on=dt.date(2024, 2, 1),
        )
    assert "Add the contracted start date." in _messages(refusal)
    assert "Add a delivery manager." in _messages(refusal)
    assert not Engagement.objects.exists()


def test_an_engagement_created_in_a_later_stage_with_everything_in_place_is_accepted(
    owner: User, delivery_manager: User
) -> None:
    engagement = engagement_create(
        account=AccountFactory.create(),
        actor=None,
        stage=Stage.COMPLETED,
        name="Historic rollout",
        commercial_lead=owner,
        delivery_manager=delivery_manager,
        opened_on=dt.date(2017, 3, 1),
        proposal_on=dt.date(2017, 4, 1),
        contract_signed_on=dt.date(2017, 5, 1),
        completed_on=dt.date(2017, 12, 1),
        **contracted_values()
        | {"contracted_start": dt.date(2017, 5, 15), "contracted_end": dt.date(2017, 11, 30)},
    )
    assert engagement.stage == Stage.COMPLETED
    assert StageChange.objects.get(engagement=engagement).to_stage == Stage.COMPLETED


def test_a_completed_engagement_needs_its_completion_date(
    owner: User, delivery_manager: User
) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_create(
            account=AccountFactory.create(),
            actor=None,
            stage=Stage.COMPLETED,
            name="No end",
            commercial_lead=owner,
            delivery_manager=delivery_manager,
            opened_on=dt.date(2017, 3, 1),
            **contracted_values(),
        )
    assert "Give the date the engagement became completed." in _messages(refusal)


def test_only_commercial_staff_can_lead_an_engagement(delivery_manager: User) -> None:
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_create(
            account=AccountFactory.create(),
            actor=None,
            name="Wrong lead",
            commercial_lead=delivery_manager,
        )
    assert _messages(refusal) == [f"{delivery_manager} does not hold a commercial role."]
    assert not Engagement.objects.exists()


def test_a_person_who_has_left_cannot_lead_a_new_engagement() -> None:
    gone = UserFactory.create(roles=[Role.ACCOUNT_MANAGER], is_active=False)
    with pytest.raises(StageChangeRefused) as refusal:
        engagement_create(
            account=AccountFactory.create(), actor=None, name="Orphan", commercial_lead=gone
        )
    assert _messages(refusal) == [f"{gone} has left the company."]


def test_pre_adoption_history_is_recognised_by_its_proposal_date(
    organisation: OrganisationSettings,
) -> None:
    adoption = organisation.tcp_adoption_date
    before = EngagementFactory.build(proposal_on=adoption - dt.timedelta(days=1))
    on_the_day = EngagementFactory.build(proposal_on=adoption)
    never_proposed = EngagementFactory.build(proposal_on=None)
    assert before.is_pre_adoption(adoption)
    assert not on_the_day.is_pre_adoption(adoption)
    assert not never_proposed.is_pre_adoption(adoption)
