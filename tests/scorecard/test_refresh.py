"""The change-driven refresh: whatever path changes a KPI input (a service, a raw update, a
deletion, an account moved to another industry, a setting), the next refresh brings every
period it moved, old dates included, back in line with a full recompute."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from certification import services as certification_services
from certification.models import Enrollment
from engagements.models import Account, Engagement, RevenueEntry
from scorecard import services
from scorecard.models import InputChange, KpiSnapshot
from scorecard.periods import Period
from tcp.models import OrganisationSettings
from tests.factories import AccountFactory, EngagementFactory, ProductLineFactory, UserFactory
from tests.scorecard.helpers import snapshot_rows

pytestmark = pytest.mark.django_db

Q1 = Period.of("quarter", dt.date(2025, 2, 1))
Q2 = Period.of("quarter", dt.date(2025, 5, 1))


@pytest.fixture
def banking(organisation: OrganisationSettings) -> Account:
    return AccountFactory.create(industry="banking")


def _completed(account: Account, on: dt.date, end: dt.date) -> Engagement:
    return EngagementFactory.create(
        account=account,
        stage="completed",
        opened_on=dt.date(2024, 1, 2),
        contract_signed_on=dt.date(2024, 1, 10),
        contracted_end=end,
        contracted_effort_days=Decimal(100),
        completed_on=on,
    )


def _adherence(period: Period, dimension: str = "", value: str = "") -> tuple[Decimal, ...]:
    row = KpiSnapshot.objects.filter(
        kpi="timeline_adherence",
        period_type=period.kind,
        period_start=period.start,
        dimension=dimension,
        dimension_value=value,
    ).first()
    return (row.numerator, row.denominator) if row else ()


def _refreshed_like_a_full_recompute() -> None:
    services.scorecard_refresh()
    refreshed = [row[:-1] for row in snapshot_rows()]  # computed_at aside
    services.scorecard_recompute_all()
    assert [row[:-1] for row in snapshot_rows()] == refreshed


@pytest.fixture
def on_time_in_q1(banking: Account) -> Engagement:
    """Completed on time in February 2025, and the scorecard up to date with it."""
    engagement = _completed(banking, dt.date(2025, 2, 10), end=dt.date(2025, 2, 28))
    services.scorecard_recompute_all()
    services.scorecard_refresh()
    assert _adherence(Q1) == (1, 1)
    return engagement


def test_a_completion_moved_to_the_next_quarter_leaves_the_old_one_too(
    on_time_in_q1: Engagement,
) -> None:
    on_time_in_q1.completed_on = dt.date(2025, 5, 5)
    on_time_in_q1.save(update_fields=["completed_on", "updated_at"])
    services.scorecard_refresh()
    assert _adherence(Q1) == (0, 0)  # no data
    assert _adherence(Q2) == (0, 1)  # now late
    _refreshed_like_a_full_recompute()


def test_a_raw_update_is_noticed_as_well_as_a_saved_one(on_time_in_q1: Engagement) -> None:
    Engagement.objects.filter(pk=on_time_in_q1.pk).update(completed_on=dt.date(2025, 3, 31))
    services.scorecard_refresh()
    assert _adherence(Q1) == (0, 1)
    _refreshed_like_a_full_recompute()


def test_a_deleted_engagement_leaves_its_periods(on_time_in_q1: Engagement) -> None:
    on_time_in_q1.delete()
    services.scorecard_refresh()
    assert _adherence(Q1) == (0, 0)  # no data
    _refreshed_like_a_full_recompute()


def test_an_account_moved_to_another_industry_moves_its_breakdown(
    on_time_in_q1: Engagement, banking: Account
) -> None:
    assert _adherence(Q1, "industry", "banking") == (1, 1)
    banking.industry = "retail"
    banking.save(update_fields=["industry"])
    services.scorecard_refresh()
    assert _adherence(Q1, "industry", "banking") in ((), (0, 0))
    assert _adherence(Q1, "industry", "retail") == (1, 1)
    _refreshed_like_a_full_recompute()


def test_a_renamed_account_queues_nothing(on_time_in_q1: Engagement, banking: Account) -> None:
    InputChange.objects.all().delete()
    banking.name = "Northvale Bank"
    banking.save(update_fields=["name"])
    assert not InputChange.objects.exists()


def test_a_longer_grace_period_recomputes_every_period(
    banking: Account, organisation: OrganisationSettings
) -> None:
    _completed(banking, dt.date(2025, 2, 10), end=dt.date(2025, 2, 5))
    services.scorecard_recompute_all()
    services.scorecard_refresh()
    assert _adherence(Q1) == (0, 1)  # five days late with no grace
    organisation.timeline_grace_days = 7
    organisation.save()
    services.scorecard_refresh()
    assert _adherence(Q1) == (1, 1)
    _refreshed_like_a_full_recompute()


def test_the_queue_is_emptied_by_the_run_that_covers_it(on_time_in_q1: Engagement) -> None:
    on_time_in_q1.completed_on = dt.date(2025, 3, 1)
    on_time_in_q1.save(update_fields=["completed_on", "updated_at"])
    assert set(InputChange.objects.values_list("day", flat=True)) >= {
        dt.date(2025, 2, 10),
        dt.date(2025, 3, 1),
    }
    services.scorecard_refresh()
    assert not InputChange.objects.exists()
    assert services.scorecard_refresh() == 0  # nothing new: nothing written


def test_a_change_to_today_refreshes_todays_periods(banking: Account) -> None:
    services.scorecard_refresh()
    today = timezone.localdate()
    _completed(banking, today, end=today)
    services.scorecard_refresh()
    assert _adherence(Period.of("quarter", today)) == (1, 1)


@pytest.fixture
def with_revenue(on_time_in_q1: Engagement) -> Engagement:
    """June 2024's revenue, a month none of the engagement's own dates fall in."""
    RevenueEntry.objects.create(
        engagement=on_time_in_q1,
        month=dt.date(2024, 6, 1),
        revenue=Decimal(50_000),
        cost=Decimal(20_000),
    )
    services.scorecard_recompute_all()
    return on_time_in_q1


def test_revenue_follows_its_engagement_to_a_new_commercial_lead(with_revenue: Engagement) -> None:
    with_revenue.commercial_lead = UserFactory.create(username="newlead")
    with_revenue.save(update_fields=["commercial_lead", "updated_at"])
    _refreshed_like_a_full_recompute()


def test_revenue_follows_its_engagement_into_a_product_line(with_revenue: Engagement) -> None:
    with_revenue.product_lines.add(ProductLineFactory.create(name="Imaging"))
    _refreshed_like_a_full_recompute()


def test_revenue_changed_in_the_baseline_moves_revenue_per_account_everywhere(
    with_revenue: Engagement, organisation: OrganisationSettings
) -> None:
    organisation.baseline_start, organisation.baseline_end = (
        dt.date(2024, 1, 1),
        dt.date(2024, 12, 31),
    )
    organisation.save()
    services.scorecard_refresh()
    RevenueEntry.objects.filter(engagement=with_revenue).update(revenue=Decimal(80_000))
    _refreshed_like_a_full_recompute()


def test_an_enrolment_status_marked_without_a_date_moved_queues_nothing(
    organisation: OrganisationSettings,
) -> None:
    certification_services.curriculum_install_default()
    person = UserFactory.create(username="seller")
    certification_services.enrollment_open(person=person, actor=None, on=dt.date(2025, 1, 6))
    InputChange.objects.all().delete()
    Enrollment.objects.update(status="overdue", status_since=dt.date(2025, 11, 1))
    assert not InputChange.objects.exists()
    Enrollment.objects.update(certified_on=dt.date(2025, 9, 1))
    assert InputChange.objects.filter(day=dt.date(2025, 9, 1)).exists()


def test_a_completion_moved_queues_its_own_kpis_on_its_days_and_the_backlog_on_its_revenue(
    on_time_in_q1: Engagement,
) -> None:
    RevenueEntry.objects.create(
        engagement=on_time_in_q1, month=dt.date(2024, 6, 1), revenue=Decimal(10), cost=0
    )
    services.scorecard_refresh()
    Engagement.objects.filter(pk=on_time_in_q1.pk).update(completed_on=dt.date(2025, 5, 20))
    queued = {(row.day, tuple(sorted(row.kpis or ()))) for row in InputChange.objects.all()}
    stock = ("backlog", "client_retention", "pipeline_growth")
    assert queued == {
        (dt.date(2025, 2, 10), ("deal_scope_accuracy", "timeline_adherence")),
        (dt.date(2025, 5, 20), ("deal_scope_accuracy", "timeline_adherence")),
        *((day, stock) for day in (dt.date(2024, 1, 2), dt.date(2024, 1, 10))),
        *((day, stock) for day in (dt.date(2025, 2, 10), dt.date(2025, 5, 20))),
        (dt.date(2024, 6, 1), ("backlog",)),
    }
    moved: dict[dt.date, set[str]] = {}
    for day, kpis in queued:
        assert day is not None
        moved.setdefault(day, set()).update(kpis)
    q2 = services.periods_touching(moved)[Q2]
    assert q2 is not None
    assert "win_rate" not in q2
    assert {"timeline_adherence", "backlog"} <= q2
    _refreshed_like_a_full_recompute()
    assert _adherence(Q2) == (0, 1)


def test_every_kpi_is_computed_by_one_step_of_the_rollup() -> None:
    from scorecard import kpis, rollup

    steps = [*rollup.FAMILIES.values(), rollup.STOCK]
    assert sorted(key for keys in steps for key in keys) == sorted(k.key for k in kpis.KPIS)
