"""Revenue entries and client ratings: edited in the admin through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from engagements import services
from engagements.models import ClientRating, Engagement, RevenueEntry, Stage
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for


@pytest.fixture
def delivering(engagement: Engagement) -> Engagement:
    Engagement.objects.filter(pk=engagement.pk).update(
        stage=Stage.DELIVERY,
        contracted_effort_days=Decimal(100),
        contract_signed_on=dt.date(2024, 3, 1),
        contracted_start=dt.date(2024, 3, 15),
        contracted_end=dt.date(2024, 12, 20),
    )
    engagement.refresh_from_db()
    return engagement


@pytest.fixture
def administrator(administrator: User) -> User:
    """The back-office persona with the rights to keep revenue and ratings."""
    from django.contrib.auth.models import Permission

    administrator.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="engagements",
            content_type__model__in=["revenueentry", "clientrating", "engagement"],
        )
    )
    return administrator


def _revenue_form(engagement: Engagement, month: str, revenue: str = "42000") -> dict[str, str]:
    return {"engagement": str(engagement.pk), "month": month, "revenue": revenue, "cost": "30000"}


def test_an_administrator_records_a_month_of_revenue_in_the_admin(
    administrator: User, delivering: Engagement
) -> None:
    response = client_for(administrator).post(
        reverse("admin:engagements_revenueentry_add"), _revenue_form(delivering, "2024-05-17")
    )
    assert response.status_code == 302
    entry = RevenueEntry.objects.get()
    assert (entry.month, entry.revenue, entry.cost) == (
        dt.date(2024, 5, 1),
        Decimal("42000.00"),
        Decimal("30000.00"),
    )
    audit = AuditLogEntry.objects.get(action="revenue.create")
    assert audit.actor == administrator
    assert audit.object_id == str(delivering.pk)


def test_a_second_entry_for_the_same_month_is_refused_beside_the_field(
    administrator: User, delivering: Engagement
) -> None:
    services.revenue_entry_save(
        engagement=delivering,
        actor=None,
        data={"month": dt.date(2024, 5, 1), "revenue": Decimal(1), "cost": Decimal(0)},
    )
    response = client_for(administrator).post(
        reverse("admin:engagements_revenueentry_add"), _revenue_form(delivering, "2024-05-30")
    )
    assert response.status_code == 200
    assert "May 2024 already has an entry" in str(response.context["adminform"].form.errors)
    assert RevenueEntry.objects.count() == 1


def test_revenue_waits_for_the_contract(administrator: User, engagement: Engagement) -> None:
    response = client_for(administrator).post(
        reverse("admin:engagements_revenueentry_add"), _revenue_form(engagement, "2024-05-01")
    )
    assert response.status_code == 200
    assert "contracted engagements only" in str(response.context["adminform"].form.errors)
    assert not RevenueEntry.objects.exists()


def test_negative_revenue_is_refused(administrator: User, delivering: Engagement) -> None:
    response = client_for(administrator).post(
        reverse("admin:engagements_revenueentry_add"),
        _revenue_form(delivering, "2024-05-01", revenue="-5"),
    )
    assert response.status_code == 200
    assert "revenue" in response.context["adminform"].form.errors
    assert not RevenueEntry.objects.exists()


def test_a_rating_out_of_range_is_refused_beside_the_field(
    administrator: User, delivering: Engagement
) -> None:
    response = client_for(administrator).post(
        reverse("admin:engagements_clientrating_add"),
        {
            "engagement": str(delivering.pk),
            "rated_on": "2024-11-01",
            "self_rating": "11",
            "client_rating": "7",
        },
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"self_rating"}
    assert not ClientRating.objects.exists()


def test_a_rating_records_the_delivery_gap(delivering: Engagement) -> None:
    rating = services.client_rating_save(
        engagement=delivering,
        actor=None,
        data={"rated_on": dt.date(2024, 11, 1), "self_rating": 8, "client_rating": 5},
    )
    assert rating.gap == 3
    with pytest.raises(ValidationError, match="already a rating on that day"):
        services.client_rating_save(
            engagement=delivering,
            actor=None,
            data={"rated_on": dt.date(2024, 11, 1), "self_rating": 8, "client_rating": 8},
        )
    with pytest.raises(ValidationError, match="in the future"):
        services.client_rating_save(
            engagement=delivering,
            actor=None,
            data={"rated_on": dt.date(2999, 1, 1), "self_rating": 8, "client_rating": 8},
        )
    assert ClientRating.objects.count() == 1


def test_removing_revenue_in_the_admin_is_audited(
    administrator: User, delivering: Engagement
) -> None:
    entry = services.revenue_entry_save(
        engagement=delivering,
        actor=None,
        data={"month": dt.date(2024, 5, 1), "revenue": Decimal(10), "cost": Decimal(0)},
    )
    url = reverse("admin:engagements_revenueentry_delete", args=[entry.pk])
    response = client_for(administrator).post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not RevenueEntry.objects.exists()
    assert AuditLogEntry.objects.filter(action="revenue.delete", actor=administrator).exists()


def test_a_revenue_entry_stays_with_its_engagement_when_corrected(
    administrator: User, delivering: Engagement
) -> None:
    entry = services.revenue_entry_save(
        engagement=delivering,
        actor=None,
        data={"month": dt.date(2024, 5, 1), "revenue": Decimal(10), "cost": Decimal(0)},
    )
    url = reverse("admin:engagements_revenueentry_change", args=[entry.pk])
    response = client_for(administrator).post(
        url, {"month": "2024-05-01", "revenue": "12", "cost": "1"}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.engagement_id, entry.revenue) == (delivering.pk, Decimal("12.00"))
    audit = AuditLogEntry.objects.get(action="revenue.update")
    assert audit.object_id == str(delivering.pk)


def test_a_malformed_engagement_in_the_admin_is_a_field_error(administrator: User) -> None:
    response = client_for(administrator).post(
        reverse("admin:engagements_revenueentry_add"),
        {"engagement": "not-a-number", "month": "2024-05-01", "revenue": "1", "cost": "0"},
    )
    assert response.status_code == 200
    assert "engagement" in response.context["adminform"].form.errors
