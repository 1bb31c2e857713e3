"""Guessing passwords: after the limit of failed sign-ins for one account, attempts are
refused for a while, from whichever address they come; the real person gets back in once
the pause ends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit(settings: Any) -> int:
    # The production limit is 100; the rule is the same at any limit, and 5 is quick.
    settings.AXES_FAILURE_LIMIT = 5
    return 5


def _sign_in(password: str, address: str, username: str = "target") -> Any:
    return Client(REMOTE_ADDR=address).post(
        reverse("login"), {"username": username, "password": password}
    )


def test_after_the_limit_of_failures_even_the_right_password_is_refused_from_any_address(
    limit: int,
) -> None:
    UserFactory.create(username="target")
    for n in range(limit - 1):
        failed = _sign_in("wrong", f"10.0.0.{n}")
        assert failed.status_code == 200  # the form again, with its error
        assert "didn't match" in failed.content.decode()
    assert _sign_in("wrong", "10.0.0.250").status_code == 429  # the limit is reached

    refused = _sign_in(PASSWORD, "192.0.2.77")

    assert refused.status_code == 429
    assert "Sign-in paused for this account" in refused.content.decode()
    assert "_auth_user_id" not in refused.client.session


def test_the_pause_ends_and_the_real_person_signs_in_again(limit: int, settings: Any) -> None:
    UserFactory.create(username="target")
    for n in range(limit):
        _sign_in("wrong", f"10.0.1.{n}")
    assert _sign_in(PASSWORD, "10.0.1.200").status_code == 429

    # The cool-off passes.
    AccessAttempt.objects.update(
        attempt_time=dt.datetime.now(tz=dt.UTC)
        - settings.AXES_COOLOFF_TIME
        - dt.timedelta(seconds=1)
    )

    response = _sign_in(PASSWORD, "10.0.1.200")
    assert response.status_code == 302
    assert response.url == "/"


def test_failures_on_one_account_do_not_lock_another(limit: int) -> None:
    UserFactory.create(username="target")
    UserFactory.create(username="colleague")
    for _ in range(limit):
        _sign_in("wrong", "10.0.2.1")

    assert _sign_in(PASSWORD, "10.0.2.1", username="colleague").status_code == 302


def test_the_default_limit_is_at_most_a_hundred_failures_an_hour() -> None:
    from django.conf import settings

    assert settings.AXES_FAILURE_LIMIT <= 100
    assert dt.timedelta(hours=1) >= settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]


def test_a_successful_sign_in_clears_the_count(limit: int) -> None:
    UserFactory.create(username="target")
    for _ in range(limit - 1):
        _sign_in("wrong", "10.0.3.1")
    assert _sign_in(PASSWORD, "10.0.3.1").status_code == 302

    for _ in range(limit - 1):
        _sign_in("wrong", "10.0.3.1")
    assert _sign_in(PASSWORD, "10.0.3.1").status_code == 302
