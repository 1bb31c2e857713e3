"""Round trips through a real Celery worker process on the real broker."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Callable

import pytest

from engagements.models import Stage
from engagements.services import engagement_advance
from tcp.models import Notification, Role
from tests.factories import (
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)


@pytest.fixture
def worker(start_worker: Callable[..., subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    return start_worker("test-worker")


def _wait_for(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
def test_a_stage_change_reaches_the_account_team_through_a_real_worker(
    worker: subprocess.Popen[bytes],
) -> None:
    lead = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    colleague = UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER])
    account = AccountFactory.create(name="Hearthstone Mutual")
    TeamMemberFactory.create(account=account, user=lead, role="account_manager")
    TeamMemberFactory.create(account=account, user=colleague, role="technology_manager")
    engagement = EngagementFactory.create(
        account=account, name="Claims platform rebuild", commercial_lead=lead
    )
    complete_discovery(engagement)

    engagement_advance(
        engagement=engagement, to_stage=Stage.PROPOSAL, actor=lead, on=dt.date(2024, 2, 1)
    )

    assert _wait_for(lambda: Notification.objects.filter(recipient=colleague).exists())
    note = Notification.objects.get(recipient=colleague)
    assert "moved “Claims platform rebuild” (Hearthstone Mutual) to proposal" in note.message
    assert note.link == engagement.get_absolute_url()
    # The person who made the change is not told about it.
    assert not Notification.objects.filter(recipient=lead).exists()


@pytest.mark.worker
def test_running_the_notification_job_twice_notifies_once(worker: subprocess.Popen[bytes]) -> None:
    from engagements.tasks import engagement_stage_notify

    lead = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    colleague = UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER])
    account = AccountFactory.create()
    TeamMemberFactory.create(account=account, user=colleague, role="technology_manager")
    engagement = EngagementFactory.create(account=account, commercial_lead=lead)
    engagement_advance(
        engagement=engagement, to_stage=Stage.LOST, actor=lead, on=dt.date(2024, 2, 1)
    )
    change = engagement.stage_changes.get()

    results = [engagement_stage_notify.delay(change.pk).get(timeout=30) for _ in range(2)]

    assert results == [1, 1]
    assert Notification.objects.filter(recipient=colleague).count() == 1
