from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from engagements.demo import ADOPTION
from engagements.models import Account, Engagement, Stage
from tcp.models import OrganisationSettings, Role, User

pytestmark = pytest.mark.django_db


def _names() -> list[str]:
    return list(Engagement.objects.order_by("external_id").values_list("name", flat=True)[:50])


def test_the_demo_organisation_is_realistic_and_deterministic() -> None:
    call_command("seed_demo")
    assert User.objects.count() == 40
    # The small scale's 120 accounts and 400 engagements, and three showcase accounts with
    # one engagement each (discovery.demo).
    assert Account.objects.count() == 123
    assert Engagement.objects.count() == 403
    for role in Role:
        assert User.objects.with_role(role).exists(), role
    assert OrganisationSettings.load().tcp_adoption_date == ADOPTION
    assert Engagement.objects.filter(opened_on__year=2017).exists()
    assert Engagement.objects.filter(stage=Stage.DISCOVERY).exists()
    assert Engagement.objects.filter(stage=Stage.DELIVERY).exists()
    first = _names()

    call_command("seed_demo", "--reset")
    assert _names() == first


def test_the_demo_history_wins_more_after_adoption_than_before() -> None:
    call_command("seed_demo")
    won, lost = Q(contract_signed_on__isnull=False), Q(stage=Stage.LOST, proposal_on__isnull=False)

    def win_rate(**window: object) -> float:
        row = Engagement.objects.filter(**window).aggregate(
            won=Count("id", filter=won), lost=Count("id", filter=lost)
        )
        return row["won"] / (row["won"] + row["lost"])

    assert win_rate(proposal_on__lt=ADOPTION) < win_rate(proposal_on__gte=ADOPTION)


def test_the_demo_refuses_to_load_over_existing_data_unless_asked() -> None:
    call_command("seed_demo")
    with pytest.raises(CommandError):
        call_command("seed_demo")
    call_command("seed_demo", "--if-empty")
    assert Account.objects.count() == 123
