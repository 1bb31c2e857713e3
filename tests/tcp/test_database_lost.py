"""A request whose database connection is terminated (pg_terminate_backend, as a restart or
a failover does) answers 503 with Retry-After, saves nothing, and the next request works."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from engagements.models import Account
from tcp.http import database_lost
from tcp.models import User
from tcp.services import api_token_create

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_this_connection() -> None:
    """End this process's database session from another one, as the server would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def _after_the_request() -> None:
    # At the end of a request Django closes a connection that failed; the test client
    # leaves that to the test.
    connection.close()


def test_a_page_answers_503_and_the_next_request_is_served(owner: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    _terminate_this_connection()
    response = client.get("/accounts/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "saved whole or not at all" in response.text
    _after_the_request()
    assert client.get("/accounts/").status_code == 200


def test_an_api_write_answers_503_in_the_api_shape_and_writes_nothing(owner: User) -> None:
    _token, secret = api_token_create(user=owner, name="CRM", actor=owner)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = '{"name": "Harbour Freight", "industry": "banking", "region": "uk_ireland"}'
    _terminate_this_connection()
    response = client.put("/api/v1/accounts/external/crm-1/", body, content_type="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["type"] == "unavailable"
    _after_the_request()
    assert not Account.objects.filter(external_id="crm-1").exists()
    again = client.put("/api/v1/accounts/external/crm-1/", body, content_type="application/json")
    assert again.status_code == 201, again.json()


def test_a_query_cancelled_by_its_time_limit_is_not_taken_for_a_lost_connection() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
        with pytest.raises(OperationalError) as cancelled:
            cursor.execute("SELECT pg_sleep(1)")
    assert not database_lost(cancelled.value)
    connection.close()
