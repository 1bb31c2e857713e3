"""Loading the signed-in person on each request (tcp.backends.ModelBackend)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tcp.models import Role, User
from tcp.services import notification_send
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _nav(user: User) -> str:
    return client_for(user).get(reverse("home")).text.split('id="main-nav"')[1]


@pytest.mark.parametrize(("active", "shown"), [(True, True), (False, False)])
def test_one_on_ones_appear_for_a_person_with_an_active_report(active: bool, shown: bool) -> None:
    manager = UserFactory.create(roles=[Role.DELIVERY_MANAGER])
    UserFactory.create(roles=[Role.ACCOUNT_MANAGER], manager=manager, is_active=active)
    assert (">1:1s</a>" in _nav(manager)) is shown


def test_the_person_and_the_navigation_figures_are_one_query(
    owner: User, django_assert_num_queries: Any
) -> None:
    notification_send(recipients=[owner], message="Hello", link="", dedupe_key="k")
    client = client_for(owner)
    client.get(reverse("notifications"))
    # The person with the unread count and whether anyone reports to them, then the page's
    # own count and list of notifications.
    with django_assert_num_queries(3):
        page = client.get(reverse("notifications")).text
    assert 'aria-label="1 unread"' in page


def test_a_deactivated_person_is_signed_out_on_the_next_request(owner: User) -> None:
    client = client_for(owner)
    assert client.get(reverse("home")).status_code == 200
    User.objects.filter(pk=owner.pk).update(is_active=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
