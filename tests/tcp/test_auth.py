from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tcp.models import Role, User
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_a_person_signs_in_and_out() -> None:
    UserFactory.create(username="priya", roles=[Role.ACCOUNT_MANAGER])
    client = Client()
    response = client.post(reverse("login"), {"username": "priya", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_is_refused_with_a_message() -> None:
    UserFactory.create(username="priya")
    response = Client().post(reverse("login"), {"username": "priya", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.text


@pytest.mark.parametrize(
    ("roles", "sees", "hidden"),
    [
        ([Role.ACCOUNT_MANAGER], ["Accounts", "Engagements"], ["Organisation"]),
        ([Role.DELIVERY_MANAGER], ["Engagements"], ["Organisation"]),
        ([Role.SALES_LEADERSHIP], ["Accounts", "Engagements"], ["Organisation"]),
        ([Role.ADMINISTRATOR], ["Accounts", "Organisation"], []),
        ([Role.HIRING_MANAGER], [], ["Accounts", "Organisation"]),
    ],
)
def test_the_navigation_shows_each_role_what_it_uses(
    roles: list[str], sees: list[str], hidden: list[str]
) -> None:
    nav = (
        client_for(UserFactory.create(roles=roles))
        .get(reverse("home"))
        .text.split('id="main-nav"')[1]
        .split("</ul>")[0]
    )
    for label in sees:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_commercial_staff_are_the_sellers_and_their_leaders() -> None:
    sellers = {
        UserFactory.create(roles=[role])
        for role in (
            Role.ACCOUNT_MANAGER,
            Role.TECHNOLOGY_MANAGER,
            Role.PARTNER_MANAGER,
            Role.SALES_LEADERSHIP,
        )
    }
    UserFactory.create(roles=[Role.DELIVERY_MANAGER])
    UserFactory.create(roles=[Role.HIRING_MANAGER, Role.ADMINISTRATOR])
    assert set(User.objects.commercial()) == sellers
    assert all(user.is_commercial for user in sellers)
