"""What every response and session promises: a content security policy with a fresh nonce,
charts that carry their own narrower policy, and sessions that end on time, on sign-out and
when a person leaves."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tcp.middleware import SEEN, STARTED
from tcp.models import User
from tcp.services import user_set_active
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_pages_allow_only_their_own_scripts_and_styles_with_a_fresh_nonce(
    leadership: User,
) -> None:
    client = client_for(leadership)
    first, second = client.get("/"), client.get("/")

    policy = _policy(first)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"].startswith("'self' 'nonce-")
    assert policy["style-src"].startswith("'self' 'nonce-")
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in first["Content-Security-Policy"]
    assert policy["script-src"] != _policy(second)["script-src"]  # a nonce per response
    nonce = policy["script-src"].split("'nonce-")[1].rstrip("'")
    # The one script that needs it (htmx) carries it.
    assert f'nonce="{nonce}"' in first.content.decode()


def test_a_chart_carries_the_narrow_policy_of_an_image(leadership: User) -> None:
    response = client_for(leadership).get(reverse("scorecard:impact_chart"))

    assert response["Content-Type"].startswith("image/svg+xml")
    policy = _policy(response)
    assert policy["default-src"] == "'none'"
    assert policy["style-src"] == "'unsafe-inline'"
    assert "script-src" not in policy


def test_the_sign_in_page_and_errors_carry_the_policy_too() -> None:
    assert "Content-Security-Policy" in Client().get(reverse("login"))
    assert "Content-Security-Policy" in Client().get("/no-such-page/")


def test_signing_in_gives_a_new_session_key_and_signing_out_ends_it() -> None:
    UserFactory.create(username="morgan")
    client = Client()
    client.get(reverse("login"))
    before = client.cookies.get("sessionid")

    client.post(reverse("login"), {"username": "morgan", "password": PASSWORD})
    after = client.cookies["sessionid"].value
    assert before is None or before.value != after
    assert client.get("/").status_code == 200

    client.post(reverse("logout"))
    assert client.get("/").status_code == 302  # back to the sign-in page


def _age_session(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"started": STARTED, "seen": SEEN}[key]] = now - ago
    session.save()


def test_a_session_idle_past_the_limit_ends(leadership: User, settings: Any) -> None:
    settings.SESSION_IDLE_SECONDS = 600
    client = client_for(leadership)
    assert client.get("/").status_code == 200

    _age_session(client, started=700, seen=599)
    assert client.get("/").status_code == 200  # used within the limit: still signed in

    _age_session(client, started=1400, seen=601)
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert response["Location"].endswith("next=/accounts/")
    assert client.get("/").status_code == 302  # the session is over, not just this page


def test_a_session_ends_at_the_absolute_limit_however_busy(leadership: User, settings: Any) -> None:
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    client = client_for(leadership)
    client.get("/")

    _age_session(client, started=3601, seen=1)

    assert client.get("/").status_code == 302


def test_a_person_who_leaves_is_signed_out_at_their_next_request(
    leadership: User, administrator: User
) -> None:
    client = client_for(leadership)
    assert client.get("/").status_code == 200

    user_set_active(user=leadership, active=False, actor=administrator)

    assert client.get("/").status_code == 302


def test_the_api_does_not_use_or_need_a_session(owner: User) -> None:
    from tests.api.conftest import api_client_for

    response = api_client_for(owner).get("/api/v1/accounts/")

    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_the_health_check_loads_no_person_even_with_a_session(
    leadership: User, django_assert_num_queries: Any
) -> None:
    client = client_for(leadership)
    client.get("/")

    with django_assert_num_queries(1):  # its own probe of the database, nothing else
        assert client.get("/healthz").status_code == 200
