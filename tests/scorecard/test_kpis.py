"""Each KPI of the design's table against hand-built rows, on the edges of its definition:
the period's boundary days, empty denominators ("no data", never 0%), and a breakdown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engagements.models import (
    AttendanceMode,
    ClientRating,
    Engagement,
    Milestone,
    MilestoneAttendance,
    RevenueEntry,
    ScopeChange,
    StageChange,
)
from scorecard.kpis import KPIS, REGISTRY, Context, Dimension, Unit
from scorecard.periods import Period
from tcp.models import OrganisationSettings
from tests.factories import (
    AccountFactory,
    AnalysisFactory,
    EngagementFactory,
    ProductLineFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Q1 = Period.of("quarter", dt.date(2025, 2, 1))  # 1 Jan to 31 Mar 2025
D = Decimal


def value(key: str, period: Period = Q1, dimension: str | None = None) -> object:
    kpi = REGISTRY[key]
    figures = kpi.figures(period, dimension, Context.load())
    if dimension is None:
        return kpi.value(*figures[""]) if figures else None
    return {k: kpi.value(*v) for k, v in figures.items()}


def raw(key: str, period: Period = Q1) -> tuple[Decimal, Decimal]:
    return REGISTRY[key].figures(period, None, Context.load())[""]


def completed(on: dt.date, **kwargs: object) -> Engagement:
    fields = {
        "stage": "completed",
        "contract_signed_on": dt.date(2024, 1, 10),
        "contracted_start": dt.date(2024, 2, 1),
        "contracted_end": dt.date(2025, 1, 31),
        "contracted_effort_days": D("100.0"),
        "completed_on": on,
    }
    fields.update(kwargs)
    return EngagementFactory.create(**fields)


def miss(engagement: Engagement, days: str, cause: str = "scoping_miss") -> None:
    ScopeChange.objects.create(
        engagement=engagement,
        effort_delta_days=D(days),
        cause=cause,
        approved_by=engagement.commercial_lead,
        approved_on=dt.date(2024, 6, 1),
    )


def test_every_kpi_of_the_design_is_registered() -> None:
    keys = {kpi.key for kpi in KPIS}
    assert {
        "deal_scope_accuracy",
        "timeline_adherence",
        "client_retention",
        "revenue_per_account",
        "revenue",
        "profit",
        "backlog",
        "losses",
        "win_rate",
        "win_rate_value",
        "pipeline_growth",
        "poc_success",
        "poc_conversion",
        "cross_portfolio",
        "win_rate_partner",
        "win_rate_direct",
        "discovery_compliance",
        "delivery_participation",
        "certification_coverage",
        "delivery_gap",
        "client_satisfaction",
        "nps",
    } <= keys
    assert len(keys) == len(KPIS)


def test_every_kpi_shows_no_data_rather_than_zero_for_an_empty_period(
    organisation: OrganisationSettings,
) -> None:
    for kpi in KPIS:
        figures = kpi.figures(Q1, None, Context.load())
        shown = kpi.value(*figures[""]) if figures else None
        if kpi.unit == Unit.MONEY:
            assert shown == 0, kpi.key
        else:
            assert shown is None, kpi.key


def test_scope_accuracy_counts_scoping_misses_up_to_the_tolerance_as_accurate(
    organisation: OrganisationSettings,
) -> None:
    exact = completed(dt.date(2025, 1, 1))
    miss(exact, "6")
    miss(exact, "-4")  # absolute effort: 10 days of 100 is exactly the tolerance
    over = completed(dt.date(2025, 3, 31))
    miss(over, "10.1")
    other_cause = completed(dt.date(2025, 2, 1))
    miss(other_cause, "50", cause="client_request")
    completed(dt.date(2024, 12, 31))  # the day before the period
    assert raw("deal_scope_accuracy") == (D(2), D(3))
    assert value("deal_scope_accuracy") == D("66.6667")


def test_scope_accuracy_follows_the_organisations_tolerance(
    organisation: OrganisationSettings,
) -> None:
    engagement = completed(dt.date(2025, 2, 1))
    miss(engagement, "15")
    assert value("deal_scope_accuracy") == 0
    organisation.scope_tolerance_pct = D(15)
    organisation.save()
    assert value("deal_scope_accuracy") == 100


def test_timeline_adherence_allows_the_grace_days(organisation: OrganisationSettings) -> None:
    completed(dt.date(2025, 1, 31))  # on the contracted end
    completed(dt.date(2025, 2, 2))  # two days late
    assert value("timeline_adherence") == 50
    organisation.timeline_grace_days = 2
    organisation.save()
    assert value("timeline_adherence") == 100


def test_client_retention_counts_tenured_accounts_active_in_the_last_twelve_months(
    organisation: OrganisationSettings,
) -> None:
    end = Q1.end  # 31 Mar 2025; tenure cut-off 31 Mar 2022; window from 1 Apr 2024
    kept = AccountFactory.create()
    EngagementFactory.create(account=kept, contract_signed_on=dt.date(2022, 3, 31))
    EngagementFactory.create(
        account=kept, contract_signed_on=dt.date(2023, 1, 1), completed_on=dt.date(2024, 4, 1)
    )
    gone = AccountFactory.create()
    EngagementFactory.create(
        account=gone, contract_signed_on=dt.date(2020, 1, 1), completed_on=dt.date(2024, 3, 31)
    )
    too_new = AccountFactory.create()
    EngagementFactory.create(account=too_new, contract_signed_on=dt.date(2022, 4, 1))
    never_signed = AccountFactory.create()
    EngagementFactory.create(account=never_signed)
    assert end == dt.date(2025, 3, 31)
    assert raw("client_retention") == (D(1), D(2))
    assert value("client_retention") == 50


def test_revenue_per_account_is_indexed_to_the_baseline_scaled_to_the_periods_length(
    organisation: OrganisationSettings,
) -> None:
    organisation.baseline_start = dt.date(2017, 1, 1)
    organisation.baseline_end = dt.date(2017, 12, 31)
    organisation.save()
    old = EngagementFactory.create()
    for month in range(1, 13):  # 120k over a year for one account: 30k a quarter
        RevenueEntry.objects.create(engagement=old, month=dt.date(2017, month, 1), revenue=D(10000))
    a, b = EngagementFactory.create(), EngagementFactory.create()
    RevenueEntry.objects.create(engagement=a, month=dt.date(2025, 1, 1), revenue=D(60000))
    RevenueEntry.objects.create(engagement=b, month=dt.date(2025, 3, 1), revenue=D(78000))
    # (138k / 2 accounts) / 30k
    assert raw("revenue_per_account") == (D("69000.0000"), D("30000.0000"))
    assert value("revenue_per_account") == D("2.3000")
    assert value("revenue_per_account", Period.of("quarter", dt.date(2025, 6, 1))) is None


def test_revenue_profit_backlog_and_losses(organisation: OrganisationSettings) -> None:
    running = EngagementFactory.create(
        stage="delivery", value=D(100000), contract_signed_on=dt.date(2024, 6, 1)
    )
    RevenueEntry.objects.create(
        engagement=running, month=dt.date(2025, 3, 1), revenue=D(30000), cost=D(20000)
    )
    RevenueEntry.objects.create(
        engagement=running, month=dt.date(2025, 4, 1), revenue=D(10000), cost=D(1000)
    )
    EngagementFactory.create(  # finished: nothing left to recognise
        stage="completed",
        value=D(5000),
        contract_signed_on=dt.date(2024, 1, 1),
        completed_on=dt.date(2025, 2, 1),
    )
    EngagementFactory.create(stage="lost", value=D(40000), lost_on=dt.date(2025, 3, 31))
    EngagementFactory.create(stage="lost", value=D(99000), lost_on=dt.date(2025, 4, 1))
    assert value("revenue") == D(30000)
    assert value("profit") == D(10000)
    assert value("backlog") == D(70000)
    assert value("losses") == D(40000)


def test_win_rate_by_count_and_value_and_by_partner_flag(
    organisation: OrganisationSettings,
) -> None:
    EngagementFactory.create(
        stage="contracted",
        value=D(300),
        contract_signed_on=dt.date(2025, 1, 1),
        partner_led=True,
    )
    EngagementFactory.create(stage="lost", value=D(100), lost_on=dt.date(2025, 3, 31))
    EngagementFactory.create(stage="lost", value=D(100), lost_on=dt.date(2025, 2, 1))
    EngagementFactory.create(stage="proposal", value=D(999))  # still open: not closed
    assert value("win_rate") == D("33.3333")
    assert value("win_rate_value") == 60
    assert value("win_rate_partner") == 100
    assert value("win_rate_direct") == 0


def test_pipeline_growth_compares_open_value_at_the_end_with_the_start(
    organisation: OrganisationSettings,
) -> None:
    EngagementFactory.create(value=D(100), opened_on=dt.date(2024, 12, 31))
    EngagementFactory.create(value=D(50), opened_on=dt.date(2025, 1, 1))  # opened in P
    EngagementFactory.create(  # open at the start, won in P
        value=D(100), opened_on=dt.date(2024, 6, 1), contract_signed_on=dt.date(2025, 2, 1)
    )
    assert raw("pipeline_growth") == (D(-50), D(200))
    assert value("pipeline_growth") == -25


def test_pipeline_growth_without_a_pipeline_at_the_start_has_no_data(
    organisation: OrganisationSettings,
) -> None:
    EngagementFactory.create(value=D(50), opened_on=dt.date(2025, 1, 1))
    assert value("pipeline_growth") is None


def test_poc_success_and_conversion(organisation: OrganisationSettings) -> None:
    EngagementFactory.create(
        poc="successful",
        poc_concluded_on=dt.date(2025, 1, 5),
        contract_signed_on=dt.date(2025, 2, 1),
    )
    EngagementFactory.create(
        poc="successful", poc_concluded_on=dt.date(2024, 12, 1), lost_on=dt.date(2025, 3, 1)
    )
    EngagementFactory.create(poc="failed", poc_concluded_on=dt.date(2025, 3, 31))
    EngagementFactory.create(poc="running")
    assert value("poc_success") == D("50")
    assert value("poc_conversion") == 50


def test_cross_portfolio_deals_need_two_product_lines(organisation: OrganisationSettings) -> None:
    one, two = ProductLineFactory.create(name="Cloud"), ProductLineFactory.create(name="Data")
    both = EngagementFactory.create(contract_signed_on=dt.date(2025, 1, 2))
    both.product_lines.set([one, two])
    single = EngagementFactory.create(contract_signed_on=dt.date(2025, 1, 2))
    single.product_lines.set([one])
    EngagementFactory.create(contract_signed_on=dt.date(2025, 1, 2))
    assert value("cross_portfolio") == D("33.3333")
    assert value("cross_portfolio", dimension=Dimension.PRODUCT_LINE) == {
        str(one.pk): 50,
        str(two.pk): 100,
    }


def test_discovery_compliance_counts_proposals_from_the_adoption_date(
    organisation: OrganisationSettings,
) -> None:
    proven = EngagementFactory.create()
    AnalysisFactory.create(engagement=proven, completed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    StageChange.objects.create(engagement=proven, to_stage="proposal", on=dt.date(2025, 2, 1))
    assert value("discovery_compliance") == 100
    organisation.tcp_adoption_date = dt.date(2025, 3, 1)
    organisation.save()
    assert value("discovery_compliance") is None  # pre-adoption history is exempt


def test_delivery_participation_counts_the_leads_contribution_at_critical_milestones(
    organisation: OrganisationSettings,
) -> None:
    engagement = EngagementFactory.create()
    lead = engagement.commercial_lead
    attended = Milestone.objects.create(
        engagement=engagement,
        kind="go_live",
        planned_on=dt.date(2025, 1, 1),
        held_on=dt.date(2025, 1, 1),
        critical=True,
    )
    MilestoneAttendance.objects.create(
        milestone=attended, person=lead, mode=AttendanceMode.CONTRIBUTED
    )
    observed = Milestone.objects.create(
        engagement=engagement,
        kind="architecture_review",
        planned_on=dt.date(2025, 2, 1),
        held_on=dt.date(2025, 2, 1),
        critical=True,
    )
    MilestoneAttendance.objects.create(
        milestone=observed, person=lead, mode=AttendanceMode.OBSERVED
    )
    Milestone.objects.create(  # not critical
        engagement=engagement,
        kind="qbr",
        planned_on=dt.date(2025, 2, 1),
        held_on=dt.date(2025, 2, 1),
    )
    Milestone.objects.create(  # planned, not held
        engagement=engagement, kind="go_live", planned_on=dt.date(2025, 2, 1), critical=True
    )
    assert raw("delivery_participation") == (D(1), D(2))


def test_delivery_gap_satisfaction_and_nps(organisation: OrganisationSettings) -> None:
    engagement = EngagementFactory.create()
    for day, ours, theirs, recommend in [(1, 9, 5, 10), (2, 8, 8, 6), (3, 10, 7, None)]:
        ClientRating.objects.create(
            engagement=engagement,
            rated_on=dt.date(2025, 1, day),
            self_rating=ours,
            client_rating=theirs,
            recommend_score=recommend,
        )
    ClientRating.objects.create(
        engagement=engagement, rated_on=dt.date(2025, 4, 1), self_rating=1, client_rating=10
    )
    assert value("delivery_gap") == D("2.3333")
    assert value("client_satisfaction") == D("6.6667")
    assert raw("nps") == (D(0), D(2))
    assert value("nps") == 0


def test_certification_coverage_reads_the_certification_records(
    organisation: OrganisationSettings,
) -> None:
    from certification import services

    services.curriculum_install_default()
    UserFactory.create(roles=["account_manager"])
    services.enrollment_open(
        person=UserFactory.create(roles=["account_manager"]),
        actor=None,
        on=dt.date(2024, 1, 1),
    )
    numerator, denominator = raw("certification_coverage")
    assert denominator >= 1
    assert numerator == 0
    assert value("certification_coverage") == 0


def test_a_breakdown_by_industry_groups_the_rows(organisation: OrganisationSettings) -> None:
    bank = AccountFactory.create(industry="banking")
    clinic = AccountFactory.create(industry="healthcare")
    completed(dt.date(2025, 1, 31), account=bank)
    completed(dt.date(2025, 3, 1), account=bank)
    completed(dt.date(2025, 1, 31), account=clinic)
    assert value("timeline_adherence", dimension=Dimension.INDUSTRY) == {
        "banking": 50,
        "healthcare": 100,
    }


def test_a_breakdown_by_commercial_lead_uses_the_leads_id(
    organisation: OrganisationSettings,
) -> None:
    engagement = completed(dt.date(2025, 1, 31))
    assert value("timeline_adherence", dimension=Dimension.COMMERCIAL_LEAD) == {
        str(engagement.commercial_lead_id): 100
    }


def test_an_unsupported_dimension_gives_no_breakdown(organisation: OrganisationSettings) -> None:
    assert value("client_retention", dimension=Dimension.PRODUCT_LINE) == {}


def test_the_tcp_kpis_are_flagged_in_the_order_of_table_one() -> None:
    from scorecard.kpis import TCP_KPIS

    assert [kpi.key for kpi in TCP_KPIS][:4] == [
        "deal_scope_accuracy",
        "timeline_adherence",
        "client_retention",
        "revenue_per_account",
    ]
    assert all(kpi.tcp for kpi in TCP_KPIS)
    assert {kpi.key for kpi in KPIS if kpi.tcp} == {kpi.key for kpi in TCP_KPIS}
