from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tcp.models import Role, User
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_a_person_signs_in_and_out() -> None:
    UserFactory(username="priya", roles=[Role.ACCOUNT_MANAGER])
    client = Client()
    response = client.post(reverse("login"), {"username": "priya", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_is_refused_with_a_message() -> None:
    UserFactory(username="priya")
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
def test_the_navigation_shows_each_role_what_it_uses(roles: list[str], sees: list[str], hidden: list[str]) -> None:
    nav = client_for(UserFactory(roles=roles)).get(reverse("home")).text.split('id="main-nav"')[1].split("</ul>")[0]
    for label in sees:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_commercial_roles_are_the_ones_the_seed_certifies() -> None:
    assert UserFactory.build(roles=[Role.TECHNOLOGY_MANAGER]).is_commercial
    assert not UserFactory.build(roles=[Role.DELIVERY_MANAGER]).is_commercial
    assert set(User.objects.commercial()) == set()
