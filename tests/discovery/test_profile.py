"""The client intelligence profile: context, growth targets, regulatory obligations and
stakeholders, edited in place; completeness shown as it changes; bad input refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from discovery.models import (
    ClientIntelligenceProfile,
    GrowthTarget,
    RegulatoryObligation,
    Stakeholder,
)
from engagements.models import Account, Engagement
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for
from tests.discovery.conftest import HTMX, field_error, prefix_for, text_of
from tests.factories import ContactFactory, complete_discovery

pytestmark = pytest.mark.django_db


def _url(account: Account, kind: str = "", pk: int | None = None) -> str:
    if not kind:
        return reverse("discovery:profile", args=[account.uuid])
    if pk is None:
        return reverse("discovery:profile_items", args=[account.uuid, kind])
    return reverse("discovery:profile_item", args=[account.uuid, kind, pk])


def _add(client: Client, account: Account, kind: str, prefix: str, htmx: bool, **data: Any) -> Any:
    return client.post(
        _url(account, kind),
        {f"{prefix}-{k}": v for k, v in data.items()},
        **(HTMX if htmx else {}),
    )


def test_a_new_account_starts_with_every_gap_listed(owner: User, account: Account) -> None:
    page = text_of(client_for(owner).get(_url(account)).text)
    assert "Completeness: 0%" in page
    assert "Still missing before any proposal:" in page
    assert "Record at least one growth target (3–5 year horizon)." in page


def test_each_gap_links_to_the_section_where_it_is_fixed(owner: User, account: Account) -> None:
    page = client_for(owner).get(_url(account)).text
    anchors = re.findall(r'<li><a href="#([\w-]+)">', page)
    assert len(anchors) == 5
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    constraints_section = page.split(f'id="{anchors[2]}"', 1)[1].split("</section>", 1)[0]
    assert "operational_constraints" in constraints_section


def test_the_profile_fills_in_step_by_step_until_complete(owner: User, account: Account) -> None:
    client = client_for(owner)
    economic = ContactFactory.create(account=account, name="Helen Achebe")
    technical = ContactFactory.create(account=account, name="Sam Ortiz")
    prefix = prefix_for(client.get(_url(account)).text, "operational_constraints")

    response = client.post(
        _url(account),
        {
            f"{prefix}-business_context": "Regional radiology network",
            f"{prefix}-operational_constraints": "Clinics open 07:00-22:00.",
            f"{prefix}-no_regulatory_obligations": "on",
        },
        **HTMX,
    )
    assert "Completeness: 40%" in text_of(response.text)
    trail = AuditLogEntry.objects.filter(object_type="discovery.clientintelligenceprofile")
    assert [(e.action, e.actor) for e in trail.order_by("id")] == [
        ("profile.create", owner),
        ("profile.update", owner),
    ]
    year = timezone.localdate().year
    response = _add(
        client,
        account,
        "targets",
        "target-new",
        True,
        metric="Studies a day",
        baseline="3500",
        target="7000",
        unit="studies",
        horizon_year=year + 4,
    )
    assert "Completeness: 60%" in text_of(response.text)
    _add(
        client,
        account,
        "stakeholders",
        "stakeholder-new",
        True,
        contact=economic.pk,
        buyer_role="economic",
    )
    response = _add(
        client,
        account,
        "stakeholders",
        "stakeholder-new",
        True,
        contact=technical.pk,
        buyer_role="technical",
    )
    assert "Complete: the profile meets the discovery rule." in text_of(response.text)

    profile = ClientIntelligenceProfile.objects.with_counts().get(account=account)
    assert profile.is_complete
    assert [e.action for e in AuditLogEntry.objects.order_by("id")] == [
        "profile.create",
        "profile.update",
        "target.create",
        "stakeholder.create",
        "stakeholder.create",
    ]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize("years_ahead", [2, 6, 0, -1])
def test_a_growth_target_outside_three_to_five_years_is_refused_beside_the_year(
    years_ahead: int, headers: dict[str, Any], owner: User, account: Account
) -> None:
    year = timezone.localdate().year
    response = _add(
        client_for(owner),
        account,
        "targets",
        "target-new",
        bool(headers),
        metric="Studies a day",
        baseline="3500",
        target="7000",
        horizon_year=year + years_ahead,
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, "id_target-new-horizon_year_error") == (
        f"Growth targets look 3 to 5 years ahead: choose a year from {year + 3} to {year + 5}."
    )
    assert not GrowthTarget.objects.exists()
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize("years_ahead", [3, 5])
def test_a_growth_target_three_or_five_years_out_is_accepted(
    years_ahead: int, owner: User, account: Account
) -> None:
    response = _add(
        client_for(owner),
        account,
        "targets",
        "target-new",
        False,
        metric="Studies a day",
        baseline="3500",
        target="7000",
        horizon_year=timezone.localdate().year + years_ahead,
    )
    assert response.status_code == 302
    assert GrowthTarget.objects.get().horizon_year == timezone.localdate().year + years_ahead


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_editing_a_target_to_a_bad_year_keeps_the_stored_one(
    headers: dict[str, Any], owner: User, discovered: Engagement
) -> None:
    target = GrowthTarget.objects.get(profile__account=discovered.account)
    prefix = f"target-{target.pk}"
    response = client_for(owner).post(
        _url(discovered.account, "targets", target.pk),
        {
            f"{prefix}-metric": target.metric,
            f"{prefix}-baseline": "3500",
            f"{prefix}-target": "-",
            f"{prefix}-horizon_year": "1999",
            f"{prefix}-version": target.version,
        },
        **headers,
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, f"id_{prefix}-horizon_year_error")
    assert "Enter a number." in field_error(response.text, f"id_{prefix}-target_error")
    stored = GrowthTarget.objects.get(pk=target.pk)
    assert (stored.horizon_year, stored.version) == (target.horizon_year, 1)


def test_a_refused_target_save_leaves_the_other_sections_intact(
    owner: User, discovered: Engagement
) -> None:
    account = discovered.account
    stakeholder = Stakeholder.objects.filter(profile__account=account).first()
    assert stakeholder is not None
    target = GrowthTarget.objects.get(profile__account=account)
    # Give a target the stakeholder's id, as happens by chance in any real database.
    twin = GrowthTarget.objects.filter(pk=stakeholder.pk).first() or GrowthTarget.objects.create(
        pk=stakeholder.pk,
        profile=target.profile,
        metric="Studies a day",
        baseline=1,
        target=2,
        horizon_year=target.horizon_year,
    )
    prefix = f"target-{twin.pk}"
    response = client_for(owner).post(
        _url(account, "targets", twin.pk),
        {
            f"{prefix}-metric": "",
            f"{prefix}-baseline": "1",
            f"{prefix}-target": "2",
            f"{prefix}-horizon_year": twin.horizon_year,
            f"{prefix}-version": twin.version,
        },
    )
    assert response.status_code == 400
    assert response.text.count(f'id="{prefix}"') == 1
    assert f'id="stakeholder-{stakeholder.pk}"' in response.text


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_an_other_framework_needs_a_name(
    headers: dict[str, Any], owner: User, account: Account
) -> None:
    response = _add(
        client_for(owner),
        account,
        "obligations",
        "obligation-new",
        bool(headers),
        framework="other",
        framework_other=" ",
        requirement="Keep records ten years.",
    )
    assert response.status_code == (200 if headers else 400)
    assert field_error(response.text, "id_obligation-new-framework_other_error") == (
        "Name the framework."
    )
    assert not RegulatoryObligation.objects.exists()


def test_a_named_other_framework_is_recorded_by_its_name(owner: User, account: Account) -> None:
    client = client_for(owner)
    _add(
        client,
        account,
        "obligations",
        "obligation-new",
        False,
        framework="other",
        framework_other="CQC",
        requirement="Keep records ten years.",
    )
    assert RegulatoryObligation.objects.get().framework_name == "CQC"
    assert "CQC" in text_of(client.get(_url(account)).text)


@pytest.mark.parametrize("framework", ["", "sox2"])
def test_an_unknown_framework_is_refused(framework: str, owner: User, account: Account) -> None:
    response = _add(
        client_for(owner),
        account,
        "obligations",
        "obligation-new",
        True,
        framework=framework,
        requirement="x",
    )
    assert field_error(response.text, "id_obligation-new-framework_error")
    assert not RegulatoryObligation.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_stakeholder_must_be_a_contact_at_this_account(
    headers: dict[str, Any], owner: User, account: Account
) -> None:
    stranger = ContactFactory.create(name="Someone Elsewhere")
    response = _add(
        client_for(owner),
        account,
        "stakeholders",
        "stakeholder-new",
        bool(headers),
        contact=stranger.pk,
        buyer_role="economic",
    )
    assert response.status_code == (200 if headers else 400)
    assert "Select a valid choice." in field_error(
        response.text, "id_stakeholder-new-contact_error"
    )
    assert not Stakeholder.objects.exists()


def test_a_stakeholder_needs_a_known_buyer_role(owner: User, account: Account) -> None:
    contact = ContactFactory.create(account=account)
    response = _add(
        client_for(owner),
        account,
        "stakeholders",
        "stakeholder-new",
        True,
        contact=contact.pk,
        buyer_role="decider",
    )
    assert "Select a valid choice." in field_error(
        response.text, "id_stakeholder-new-buyer_role_error"
    )
    assert not Stakeholder.objects.exists()


def test_the_same_contact_cannot_be_named_twice_and_the_page_says_so(
    owner: User, discovered: Engagement
) -> None:
    economic = Stakeholder.objects.get(
        profile__account=discovered.account, buyer_role="economic"
    ).contact
    response = _add(
        client_for(owner),
        discovered.account,
        "stakeholders",
        "stakeholder-new",
        True,
        contact=economic.pk,
        buyer_role="coach",
    )
    assert Stakeholder.objects.filter(contact=economic).count() == 1
    assert "already exists" in text_of(response.text)


def test_removing_a_stakeholder_reopens_the_gap(owner: User, discovered: Engagement) -> None:
    account = discovered.account
    technical = Stakeholder.objects.get(profile__account=account, buyer_role="technical")
    url = reverse(
        "discovery:profile_item_delete", args=[account.uuid, "stakeholders", technical.pk]
    )
    response = client_for(owner).post(url, **HTMX)
    assert response.status_code == 200
    assert "Name the technical buyer among the stakeholders." in text_of(response.text)
    assert not Stakeholder.objects.filter(pk=technical.pk).exists()
    assert AuditLogEntry.objects.filter(action="stakeholder.delete", actor=owner).exists()


def test_an_unknown_kind_of_profile_row_is_not_found(owner: User, account: Account) -> None:
    assert client_for(owner).post(_url(account, "wishes")).status_code == 404


def test_a_row_of_another_accounts_profile_is_not_found(
    owner: User, account: Account, discovered: Engagement
) -> None:
    other = Engagement.objects.create(
        account=ContactFactory.create().account,
        name="Elsewhere",
        commercial_lead=owner,
        opened_on=discovered.opened_on,
    )
    complete_discovery(other)
    foreign = GrowthTarget.objects.get(profile__account=other.account)
    response = client_for(owner).post(
        _url(account, "targets", foreign.pk), {f"target-{foreign.pk}-metric": "Hijacked"}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.metric == "Daily orders"


def test_profile_changes_show_in_the_history_of_the_profile_and_discovery_pages(
    owner: User, engagement: Engagement
) -> None:
    account = engagement.account
    client = client_for(owner)
    prefix = prefix_for(client.get(_url(account)).text, "operational_constraints")
    client.post(_url(account), {f"{prefix}-operational_constraints": "Open every day."})
    label = f"{owner} · edited the client intelligence profile"
    assert label in text_of(client.get(_url(account)).text)
    checklist = reverse("discovery:checklist", args=[engagement.uuid])
    assert label in text_of(client.get(checklist).text)
