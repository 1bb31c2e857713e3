"""The layout every signed-in page shares: its links and the unread notifications badge."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from engagements.models import Account
from tcp.models import Role, User
from tcp.services import notification_send
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _badge(html: str) -> str | None:
    match = re.search(r'aria-label="(\d+) unread"', html)
    return match.group(1) if match else None


def test_the_unread_badge_counts_new_notifications_at_once_and_clears_when_read(
    leadership: User,
) -> None:
    client = client_for(leadership)
    url = reverse("engagements:account_list")
    assert _badge(client.get(url).text) is None

    for key in ("first", "second"):
        notification_send(recipients=[leadership], message=key, link="", dedupe_key=key)
    assert _badge(client.get(url).text) == "2"

    client.post(reverse("notifications_read"))
    assert _badge(client.get(url).text) is None


def test_the_badge_counts_only_the_persons_own_notifications(leadership: User) -> None:
    colleague = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    notification_send(recipients=[colleague], message="Yours", link="", dedupe_key="k")
    assert _badge(client_for(leadership).get(reverse("home")).text) is None
    assert _badge(client_for(colleague).get(reverse("home")).text) == "1"


def _nav_link(html: str, label: str) -> str:
    match = re.search(rf'<a class="nav-link[^>]*>{label}</a>', html)
    assert match, f"no {label} link"
    return " ".join(match.group(0).split())


def test_the_current_section_is_marked_and_the_back_office_is_for_staff_only(
    leadership: User, administrator: User, account: Account
) -> None:
    client = client_for(leadership)
    accounts = reverse("engagements:account_list")
    listing = client.get(accounts).text
    assert _nav_link(listing, "Accounts") == (
        f'<a class="nav-link active" aria-current="page" href="{accounts}">Accounts</a>'
    )
    assert _nav_link(listing, "Home") == f'<a class="nav-link" href="{reverse("home")}">Home</a>'
    assert "Back office" not in listing
    # Below a section (an account's page) the section stays active, without aria-current.
    detail = client.get(account.get_absolute_url()).text
    assert (
        _nav_link(detail, "Accounts")
        == f'<a class="nav-link active" href="{accounts}">Accounts</a>'
    )

    staff_page = client_for(administrator).get(reverse("organisation_settings")).text
    assert _nav_link(staff_page, "Back office").endswith(
        f'href="{reverse("admin:index")}">Back office</a>'
    )
