"""Round trips through a real Celery worker process on the real broker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from engagements.models import Stage
from engagements.services import engagement_advance
from tcp.celery import app as celery_app
from tcp.models import Notification, Role
from tests.factories import (
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the database this test runs against (the test database, not the main one)."""
    s = connection.settings_dict
    host = quote(s["HOST"] or "localhost", safe="")
    port = f":{s['PORT']}" if s["PORT"] else ""
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@pytest.fixture
def worker(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tcp",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname=test-worker@%h",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=0.5):
            assert process.poll() is None, "the worker exited during start-up"
            assert time.monotonic() < deadline, "the worker did not answer within 60 s"
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


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
