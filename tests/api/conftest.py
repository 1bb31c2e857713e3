"""API personas: each persona of tests/conftest.py with a token, calling /api/v1/."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tcp.models import User
from tcp.services import api_token_create


def api_client_for(user: User) -> APIClient:
    _, raw = api_token_create(user=user, name="tests", actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api_for() -> Callable[[User], APIClient]:
    return api_client_for
