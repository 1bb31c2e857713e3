"""An API list pulled again while the data stands still is served from the cache, and so
is the token's lookup (tcp.pagecache); nothing of either outlives a change.

Outside a test transaction, as a real call is: inside one nothing is stored or served."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIClient

from engagements.models import Engagement
from tcp.models import ApiToken, User
from tcp.services import api_token_create, api_token_revoke
from tests.factories import EngagementFactory

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/engagements/?limit=100"


def calling_as(user: User, **token: object) -> tuple[APIClient, ApiToken]:
    made, raw = api_token_create(user=user, name="CRM sync", actor=None, **token)  # type: ignore[arg-type]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # The first call writes the token's last use; from then on calls only read.
    assert client.get(LIST).status_code == 200
    return client, made


def names(client: APIClient) -> list[str]:
    response = client.get(LIST)
    assert response.status_code == 200
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def open_transaction() -> Iterator[psycopg.Connection]:
    """Another backend in the middle of a transaction, as a long report is."""
    with psycopg.connect(**connection.get_connection_params()) as conn:
        conn.execute("SELECT 1")
        yield conn
        conn.rollback()


def test_a_pull_repeated_while_nothing_changed_is_served_with_one_query(
    owner: User, engagement: Engagement, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client, _ = calling_as(owner)
    first = names(client)
    with django_assert_num_queries(1):
        assert names(client) == first == ["PACS migration"]


def test_a_record_changed_since_is_on_the_next_pull(
    owner: User, engagement: Engagement, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client, _ = calling_as(owner)
    names(client)
    Engagement.objects.filter(pk=engagement.pk).update(name="PACS migration, phase 2")
    assert names(client) == ["PACS migration, phase 2"]


def test_each_caller_gets_only_their_own_records(
    owner: User, outsider: User, engagement: Engagement
) -> None:
    EngagementFactory.create(
        account=outsider.account_seats.get().account,
        name="Someone else's deal",
        commercial_lead=outsider,
    )
    owners, _ = calling_as(owner)
    outsiders, _ = calling_as(outsider)
    assert names(owners) == names(owners) == ["PACS migration"]
    assert names(outsiders) == names(outsiders) == ["Someone else's deal"]


def test_a_revoked_token_is_refused_on_the_very_next_call(
    owner: User, engagement: Engagement
) -> None:
    client, token = calling_as(owner)
    names(client)
    names(client)
    api_token_revoke(token=token, actor=owner)
    assert client.get(LIST).status_code == 401


def test_a_token_that_has_expired_since_it_was_last_looked_up_is_refused(
    owner: User, engagement: Engagement, monkeypatch: pytest.MonkeyPatch
) -> None:
    expires = timezone.now() + dt.timedelta(hours=1)
    client, _ = calling_as(owner, expires_at=expires)
    names(client)
    monkeypatch.setattr(timezone, "now", lambda: expires + dt.timedelta(seconds=1))
    assert client.get(LIST).status_code == 401


def test_a_pull_drawn_while_another_transaction_is_open_is_drawn_again_next_time(
    owner: User, engagement: Engagement, open_transaction: psycopg.Connection
) -> None:
    client, _ = calling_as(owner)
    names(client)
    with CaptureQueriesContext(connection) as queries:
        names(client)
    # Not served: an open transaction holds back what a pull may hand out.
    assert len(queries) > 1


def test_a_pull_that_asks_for_no_cache_is_drawn_afresh(owner: User, engagement: Engagement) -> None:
    client, _ = calling_as(owner)
    names(client)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, headers={"cache-control": "no-cache"})
    assert response.json()["results"][0]["name"] == "PACS migration"
    assert len(queries) > 1


def test_a_served_pull_still_counts_against_the_token_s_rate(
    owner: User, engagement: Engagement, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tcp.api_auth import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/minute"})
    client, _ = calling_as(owner)
    codes = [client.get(LIST).status_code for _ in range(3)]
    # calling_as made the first call; the second is drawn and stored, the third served
    # from it, and the fourth refused all the same.
    assert codes == [200, 200, 429]


def test_a_call_a_minute_later_records_the_token_s_use_and_is_still_served_from_the_cache(
    owner: User,
    engagement: Engagement,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client, token = calling_as(owner)
    first = names(client)
    later = timezone.now() + dt.timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    # The generation's read, and the last use written: writing it throws nothing away.
    with django_assert_num_queries(2):
        assert names(client) == first
    token.refresh_from_db()
    assert token.last_used_at == later
    with django_assert_num_queries(1):
        assert names(client) == first


def test_writing_a_token_s_last_use_leaves_the_data_generation_while_revoking_it_moves_it(
    owner: User,
) -> None:
    from tcp.pagecache import data_generation

    token, _ = api_token_create(user=owner, name="CRM sync", actor=None)
    before = data_generation()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    assert data_generation() == before
    api_token_revoke(token=token, actor=owner)
    assert data_generation() != before
