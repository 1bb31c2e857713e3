"""The TCP impact view against a hand-made organisation that reproduces the seed's Table 1:
scope accuracy 61% -> 89%, timeline adherence 54% -> 81%, retention 43% -> 74%, revenue per
account 1.0x -> 2.3x, adoption on 1 July 2018, pre window 2017 and post window 2025."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from engagements.models import Account, Engagement, RevenueEntry, ScopeChange
from scorecard import services
from scorecard.periods import Period
from tcp.models import OrganisationSettings, Role, User
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PRE = Period.window(dt.date(2017, 1, 1), dt.date(2017, 12, 31))
POST = Period.window(dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def _engagements(lead: User, rows: list[dict[str, object]]) -> list[Engagement]:
    return Engagement.objects.bulk_create(
        Engagement(
            name=f"Engagement {i}",
            commercial_lead=lead,
            stage="completed" if row.get("completed_on") else "delivery",
            value=Decimal(100000),
            opened_on=dt.date(2010, 1, 1),
            **row,
        )
        for i, row in enumerate(rows)
    )


def _delivered(
    lead: User, account: Account, year: int, signed: dt.date, accurate: int, on_time: int
) -> None:
    """100 engagements completed in `year`: `accurate` within the scope tolerance and
    `on_time` by their contracted end."""
    end = dt.date(year, 6, 30)
    engagements = _engagements(
        lead,
        [
            {
                "account": account,
                "contract_signed_on": signed,
                "contracted_start": signed,
                "contracted_end": end,
                "contracted_effort_days": Decimal(100),
                "completed_on": end if i < on_time else end + dt.timedelta(days=15),
            }
            for i in range(100)
        ],
    )
    ScopeChange.objects.bulk_create(
        ScopeChange(
            engagement=engagement,
            effort_delta_days=Decimal(20),
            cause="scoping_miss",
            approved_by=lead,
            approved_on=end,
        )
        for engagement in engagements[accurate:]
    )


@pytest.fixture
def table_one(db: None) -> User:
    org = OrganisationSettings.load()
    org.tcp_adoption_date = dt.date(2018, 7, 1)
    org.save()
    lead = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    tenured = Account.objects.bulk_create(
        Account(name=f"Client {i:03d}", industry="healthcare", region="uk_ireland")
        for i in range(100)
    )
    # Every client's first contract: mid-2014, finished in 2015.
    first = _engagements(
        lead,
        [
            {
                "account": a,
                "contract_signed_on": dt.date(2014, 6, 1),
                "completed_on": dt.date(2015, 6, 1),
            }
            for a in tenured
        ],
    )
    # Active in 2017: 43 clients (the first one through the delivered work below).
    _engagements(
        lead,
        [
            {
                "account": a,
                "contract_signed_on": dt.date(2016, 6, 1),
                "completed_on": dt.date(2018, 3, 1),
            }
            for a in tenured[1:43]
        ],
    )
    # Active in 2025: 74 clients.
    _engagements(
        lead, [{"account": a, "contract_signed_on": dt.date(2024, 6, 1)} for a in tenured[:74]]
    )
    _delivered(lead, tenured[0], 2017, dt.date(2016, 2, 1), accurate=61, on_time=54)
    newcomer = Account.objects.create(name="New client", industry="retail", region="apac")
    _delivered(lead, newcomer, 2025, dt.date(2023, 1, 2), accurate=89, on_time=81)
    # Revenue: 12,000 per account in 2017, 27,600 in 2025 (ten accounts each).
    for engagement in first[:10]:
        RevenueEntry.objects.create(
            engagement=engagement, month=dt.date(2017, 6, 1), revenue=Decimal(12000)
        )
        RevenueEntry.objects.create(
            engagement=engagement, month=dt.date(2025, 6, 1), revenue=Decimal(27600)
        )
    return UserFactory.create(username="impact-leader", roles=[Role.SALES_LEADERSHIP])


def test_the_default_windows_are_the_year_before_adoption_and_the_last_complete_year(
    table_one: User,
) -> None:
    pre, post = services.default_windows(dt.date(2026, 11, 22))
    assert (pre.start, pre.end) == (PRE.start, PRE.end)
    assert (post.start, post.end) == (POST.start, POST.end)


def test_the_hand_made_organisation_reproduces_table_one(table_one: User) -> None:
    lines = {line.kpi.key: line for line in services.tcp_impact(pre=PRE, post=POST)}

    def shown(key: str) -> tuple[object, object, object]:
        line = lines[key]
        assert line.pre is not None
        assert line.post is not None
        return line.pre.value, line.post.value, line.change

    assert shown("deal_scope_accuracy") == (61, 89, 28)
    assert shown("timeline_adherence") == (54, 81, 27)
    assert shown("client_retention") == (43, 74, 31)
    assert shown("revenue_per_account") == (Decimal("1.0"), Decimal("2.3"), Decimal("1.3"))


def test_the_impact_page_shows_table_one_side_by_side(table_one: User) -> None:
    response = client_for(table_one).get(
        "/scorecard/impact/",
        {"pre_start": "2017-01-01", "pre_end": "2017-12-31", "post_start": "2025-01-01"},
    )
    assert response.status_code == 200
    rows = {row["key"]: row for row in response.context["rows"]}
    assert (rows["deal_scope_accuracy"]["pre"], rows["deal_scope_accuracy"]["post"]) == (
        "61%",
        "89%",
    )
    assert (rows["timeline_adherence"]["pre"], rows["timeline_adherence"]["post"]) == (
        "54%",
        "81%",
    )
    assert (rows["client_retention"]["pre"], rows["client_retention"]["post"]) == ("43%", "74%")
    assert (rows["revenue_per_account"]["pre"], rows["revenue_per_account"]["post"]) == (
        "1.0×",
        "2.3×",
    )
    assert rows["deal_scope_accuracy"]["change"] == "+28 pts"
    html = response.content.decode()
    for figure in ("61%", "89%", "54%", "81%", "43%", "74%", "1.0×", "2.3×", "+31 pts"):
        assert figure in html


def test_the_default_impact_page_compares_the_default_windows(table_one: User) -> None:
    today = timezone.localdate()
    response = client_for(table_one).get("/scorecard/impact/")
    assert response.status_code == 200
    assert response.context["pre"].start == dt.date(2017, 1, 1)
    assert response.context["post"].start == dt.date(today.year - 1, 1, 1)


def test_the_impact_chart_is_an_svg(table_one: User) -> None:
    response = client_for(table_one).get(
        "/scorecard/impact/chart.svg", {"pre_start": "2017-01-01", "pre_end": "2017-12-31"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"Deal scope accuracy" in response.content


def test_a_window_that_ends_before_it_starts_is_refused_beside_the_field(
    table_one: User,
) -> None:
    response = client_for(table_one).get(
        "/scorecard/impact/", {"pre_start": "2017-12-31", "pre_end": "2017-01-01"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["pre_end"]


def test_the_impact_view_is_not_found_for_an_account_manager(table_one: User, owner: User) -> None:
    assert client_for(owner).get("/scorecard/impact/").status_code == 404


def test_the_impact_view_refuses_a_post(table_one: User) -> None:
    assert client_for(table_one).post("/scorecard/impact/").status_code == 405
