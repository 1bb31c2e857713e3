"""Snapshots: recomputing replaces rows deterministically, a change recomputes only the
periods it can move, and two workers at once write the same rows without an error."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from engagements.models import Engagement
from scorecard import services
from scorecard.models import KpiSnapshot, RollupState
from scorecard.periods import Period, periods_between
from tcp.models import OrganisationSettings
from tests.factories import AccountFactory, EngagementFactory, UserFactory
from tests.scorecard.helpers import snapshot_rows

Q1 = Period.of("quarter", dt.date(2025, 2, 1))


def _completed(on: dt.date, end: dt.date = dt.date(2025, 1, 31)) -> Engagement:
    return EngagementFactory.create(
        account=AccountFactory.create(industry="banking"),
        stage="completed",
        contract_signed_on=dt.date(2024, 1, 10),
        contracted_end=end,
        contracted_effort_days=Decimal(100),
        completed_on=on,
    )


def _snapshot(kpi: str, period: Period, dimension: str = "", dim_value: str = "") -> KpiSnapshot:
    return KpiSnapshot.objects.get(
        kpi=kpi,
        period_type=period.kind,
        period_start=period.start,
        dimension=dimension,
        dimension_value=dim_value,
    )


def test_periods_are_calendar_months_quarters_and_years() -> None:
    assert Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31), "quarter") == Q1
    assert Q1.previous == Period(dt.date(2024, 10, 1), dt.date(2024, 12, 31), "quarter")
    assert Q1.year_ago.start == dt.date(2024, 1, 1)
    assert Period.of("month", dt.date(2024, 2, 10)).end == dt.date(2024, 2, 29)
    assert Period.of("year", dt.date(2024, 2, 10)).months == 12
    assert [p.label for p in periods_between("quarter", dt.date(2024, 12, 1), Q1.end)] == [
        "Q4 2024",
        "Q1 2025",
    ]


@pytest.mark.django_db
def test_a_snapshot_keeps_numerator_denominator_and_value_per_dimension(
    organisation: OrganisationSettings,
) -> None:
    _completed(dt.date(2025, 1, 31))
    _completed(dt.date(2025, 2, 2))
    services.snapshots_recompute(period=Q1)
    total = _snapshot("timeline_adherence", Q1)
    assert (total.numerator, total.denominator, total.value) == (2 - 1, 2, 50)
    assert _snapshot("timeline_adherence", Q1, "industry", "banking").value == 50
    empty = _snapshot("poc_success", Q1)
    assert (empty.denominator, empty.value) == (0, None)


@pytest.mark.django_db
def test_recomputing_twice_gives_byte_identical_rows_and_writes_nothing_the_second_time(
    organisation: OrganisationSettings,
) -> None:
    _completed(dt.date(2025, 1, 31))
    assert services.snapshots_recompute(period=Q1) > 0
    first = snapshot_rows()
    assert services.snapshots_recompute(period=Q1) == 0
    assert snapshot_rows() == first


@pytest.mark.django_db
def test_recomputing_replaces_figures_and_removes_rows_that_no_longer_exist(
    organisation: OrganisationSettings,
) -> None:
    engagement = _completed(dt.date(2025, 1, 31))
    services.snapshots_recompute(period=Q1)
    engagement.account.industry = "retail"
    engagement.account.save()
    engagement.completed_on = dt.date(2025, 3, 1)
    engagement.save()
    services.snapshots_recompute(period=Q1)
    assert _snapshot("timeline_adherence", Q1).value == 0
    assert not KpiSnapshot.objects.filter(dimension_value="banking").exists()
    assert _snapshot("timeline_adherence", Q1, "industry", "retail").value == 0


@pytest.mark.django_db
def test_a_change_touches_the_periods_of_its_dates_and_only_stock_kpis_after_them(
    organisation: OrganisationSettings,
) -> None:
    touched = services.periods_touching([dt.date(2025, 2, 3)])
    assert touched[Q1] is None
    assert touched[Period.of("month", dt.date(2025, 2, 1))] is None
    assert touched[Period.of("year", dt.date(2025, 2, 1))] is None
    later = touched[Period.of("month", dt.date(2025, 5, 1))]
    assert later is not None
    assert "backlog" in later
    assert "timeline_adherence" not in later
    assert Period.of("quarter", dt.date(2024, 12, 1)) not in touched


@pytest.mark.django_db
def test_a_burst_of_changes_costs_one_recompute_of_their_periods(
    organisation: OrganisationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = timezone.localdate()
    quarter = Period.of("quarter", today)
    engagements = [
        EngagementFactory.create(
            stage="completed",
            opened_on=quarter.start,
            contract_signed_on=quarter.start,
            contracted_end=quarter.start,
            completed_on=quarter.start,
        )
        for _ in range(3)
    ]
    RollupState.objects.create(pk=1, checked_until=timezone.now() - dt.timedelta(hours=1))
    calls: list[dict[Period, set[str] | None]] = []
    original = services.snapshots_recompute_many

    def counting(*, work: dict[Period, set[str] | None], **options: Any) -> int:
        calls.append(work)
        return original(work=work, **options)

    monkeypatch.setattr(services, "snapshots_recompute_many", counting)
    for _ in range(334):  # a burst of 1,000 edits to the same rows
        for engagement in engagements:
            engagement.completed_on = quarter.start + dt.timedelta(days=1)
            engagement.save(update_fields=["completed_on", "updated_at"])
    services.scorecard_refresh()
    assert len(calls) == 1  # one recompute, however many edits
    every_kpi = [period for period, keys in calls[0].items() if keys is None]
    assert quarter in every_kpi
    assert len(every_kpi) <= 3 * 3  # the months, quarter and year of the quarter's days
    assert _snapshot("timeline_adherence", quarter).value == 0
    calls.clear()
    services.scorecard_refresh()  # nothing changed since: only the overlap is re-read
    assert _snapshot("timeline_adherence", quarter).value == 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_recomputing_the_same_period_at_once_write_the_same_rows() -> None:
    OrganisationSettings.load()
    _completed(dt.date(2025, 1, 31))
    _completed(dt.date(2025, 3, 3))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            services.snapshots_recompute(period=Q1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = snapshot_rows()
    services.snapshots_recompute(period=Q1)
    assert snapshot_rows() == rows
    assert _snapshot("timeline_adherence", Q1).value == 50


@pytest.mark.django_db(transaction=True)
def test_a_refresh_during_the_nightly_rebuild_waits_for_it_instead_of_deadlocking() -> None:
    OrganisationSettings.load()
    RollupState.objects.get_or_create(pk=1)
    _completed(dt.date(2025, 1, 31))
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            services.scorecard_refresh()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        # The nightly run mid-rebuild: it holds the snapshot writers' lock…
        services._lock()
        worker = threading.Thread(target=refresh)
        worker.start()
        _wait_until_a_backend_waits_for_a_lock()
        # … and then writes the state row, which a refresh must not be holding.
        RollupState.objects.update_or_create(pk=1, defaults={"stock_months_built": True})
    worker.join()
    assert errors == []
    assert _snapshot("timeline_adherence", Q1).value == 100


def _wait_until_a_backend_waits_for_a_lock() -> None:
    for _ in range(100):
        with connection.cursor() as cursor:
            # Within a transaction the activity view is read once and kept: read it afresh.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the refresh never waited for the nightly run's lock")


@pytest.mark.django_db
def test_the_nightly_run_covers_inputs_dated_before_the_first_engagement(
    organisation: OrganisationSettings,
) -> None:
    from certification import services as certification

    certification.curriculum_install_default()
    seller = UserFactory.create(roles=["account_manager"])
    # Enrolled two years before the organisation's first engagement opened.
    certification.enrollment_open(person=seller, actor=None, on=dt.date(2015, 3, 2))
    _completed(dt.date(2025, 1, 20))
    services.scorecard_recompute_all()
    march = _snapshot("certification_coverage", Period.of("month", dt.date(2015, 3, 1)))
    assert (march.numerator, march.denominator) == (0, 1)
    assert services.data_span() == (dt.date(2015, 3, 2), timezone.localdate())
