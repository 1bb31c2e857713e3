"""The rollup through real Celery workers: running the nightly job twice, while this process
recomputes the same periods, or on two workers at once, leaves the same rows and no error."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import timezone

from scorecard import services
from scorecard.models import KpiSnapshot
from scorecard.periods import Period
from scorecard.tasks import scorecard_nightly, scorecard_refresh
from tcp.models import OrganisationSettings
from tests.factories import EngagementFactory
from tests.scorecard.helpers import snapshot_rows
from tests.tcp.test_worker import worker  # noqa: F401 - the fixture

pytestmark = pytest.mark.worker


def test_the_nightly_job_twice_and_a_concurrent_recompute_give_the_same_rows(
    worker: subprocess.Popen[bytes],  # noqa: F811
) -> None:
    OrganisationSettings.load()
    quarter = Period.of("quarter", timezone.localdate()).previous
    for late in (False, True):
        EngagementFactory.create(
            stage="completed",
            opened_on=quarter.start,
            contract_signed_on=quarter.start,
            contracted_end=quarter.start,
            contracted_effort_days=Decimal(10),
            completed_on=quarter.start + dt.timedelta(days=int(late)),
        )
    first, second = scorecard_nightly.delay(), scorecard_nightly.delay()
    services.snapshots_recompute(period=quarter)  # meanwhile, in this process
    assert first.get(timeout=60) >= 0
    assert second.get(timeout=60) == 0  # nothing left to change
    rows = snapshot_rows()
    assert scorecard_nightly.delay().get(timeout=60) == 0
    assert scorecard_refresh.delay().get(timeout=60) == 0
    assert snapshot_rows() == rows
    adherence = KpiSnapshot.objects.get(
        kpi="timeline_adherence", period_type="quarter", period_start=quarter.start, dimension=""
    )
    assert (adherence.numerator, adherence.denominator, adherence.value) == (1, 2, 50)


def test_two_workers_running_the_nightly_job_at_once_write_the_rows_once(
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    OrganisationSettings.load()
    quarter = Period.of("quarter", timezone.localdate()).previous
    EngagementFactory.create(
        stage="completed",
        opened_on=quarter.start,
        contract_signed_on=quarter.start,
        contracted_end=quarter.start,
        contracted_effort_days=Decimal(10),
        completed_on=quarter.start,
    )
    start_worker("first")
    start_worker("second")  # each takes one job: one prefetched at a time
    jobs = [scorecard_nightly.delay(), scorecard_nightly.delay()]
    written = sorted(job.get(timeout=120) for job in jobs)
    # One wrote the rows; the other waited for it, then found nothing left to change.
    assert written[0] == 0 < written[1]
    assert {job.result for job in jobs} == set(written)
    rows = snapshot_rows()
    assert scorecard_nightly.delay().get(timeout=60) == 0
    assert snapshot_rows() == rows
    adherence = KpiSnapshot.objects.get(
        kpi="timeline_adherence", period_type="quarter", period_start=quarter.start, dimension=""
    )
    assert adherence.value == 100
