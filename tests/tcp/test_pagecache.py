"""Pages served again from the cache while the data stands still (tcp.pagecache).

These run outside a test transaction, as a real request does: inside one, nothing is stored
or served (a page there may show its own uncommitted rows)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.contrib.messages import SUCCESS
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries

from engagements.models import Account
from tcp.middleware import SEEN
from tcp.models import OrganisationSettings, Role, User
from tcp.pagecache import TRIGGER, UNWATCHED_TABLES
from tests.factories import AccountFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user: User, *, check_form_tokens: bool = False) -> Client:
    """A browser signed in as `user` that holds a form token, as one has after any page,
    in an organisation whose settings exist (the first page to need them writes them)."""
    OrganisationSettings.load()
    client = Client(enforce_csrf_checks=check_form_tokens)
    client.force_login(user)
    client.get(reverse("engagements:account_list"))
    assert "csrftoken" in client.cookies
    return client


def served_twice(client: Client, url: str, assert_num_queries: DjangoAssertNumQueries) -> str:
    """The page drawn once, then served again: the second visit costs one query, the read
    of the data generation."""
    first = client.get(url)
    assert first.status_code == 200
    with assert_num_queries(1):
        again = client.get(url)
    assert again.status_code == 200
    return again.content.decode()


def rename(conn: psycopg.Connection, account: Account, name: str) -> None:
    """Rename the account in raw SQL on `conn`, as an integration writing directly would."""
    conn.execute("UPDATE engagements_account SET name = %s WHERE id = %s", [name, account.pk])


@pytest.fixture
def other_transaction() -> Iterator[psycopg.Connection]:
    """A second connection to the database, as another web worker holds."""
    with psycopg.connect(**connection.get_connection_params()) as conn:
        yield conn


def test_a_page_seen_again_while_nothing_changed_is_served_with_one_query(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    page = served_twice(client, account.get_absolute_url(), django_assert_num_queries)
    assert "Northvale Radiology Network" in page


def test_a_change_through_the_orm_is_on_the_next_page(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    served_twice(client, account.get_absolute_url(), django_assert_num_queries)
    account.name = "Northvale Imaging"
    account.save()
    assert "Northvale Imaging" in client.get(account.get_absolute_url()).content.decode()


def test_a_change_written_in_raw_sql_elsewhere_is_on_the_next_page(
    leadership: User,
    account: Account,
    other_transaction: psycopg.Connection,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client = signed_in(leadership)
    served_twice(client, reverse("engagements:account_list"), django_assert_num_queries)
    rename(other_transaction, account, "Renamed by the CRM")
    other_transaction.commit()
    page = client.get(reverse("engagements:account_list")).content.decode()
    assert "Renamed by the CRM" in page


def test_a_page_drawn_while_another_transaction_writes_is_not_stored(
    leadership: User,
    account: Account,
    other_transaction: psycopg.Connection,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client = signed_in(leadership)
    url = account.get_absolute_url()
    rename(other_transaction, account, "Not yet committed")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        second = client.get(url)
    # Drawn again (one query would mean served from a page stored during the write), and
    # without the name the other transaction has not committed.
    assert len(queries) > 1
    assert "Not yet committed" not in second.content.decode()
    other_transaction.commit()
    assert "Not yet committed" in client.get(url).content.decode()
    served_twice(client, url, django_assert_num_queries)


def test_nobody_is_served_a_page_stored_for_someone_else(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    other_leader = UserFactory.create(
        username="second-leader", first_name="Ines", roles=[Role.SALES_LEADERSHIP]
    )
    stranger = UserFactory.create(username="stranger", roles=[Role.ACCOUNT_MANAGER])
    TeamMemberFactory.create(user=stranger, account=AccountFactory.create())
    first, second, third = signed_in(leadership), signed_in(other_leader), signed_in(stranger)
    # The same browser (its form token's cookie) signed in as each of them in turn.
    for client in (second, third):
        client.cookies["csrftoken"] = first.cookies["csrftoken"].value
    # Stored for the first, with nothing written since.
    served_twice(first, account.get_absolute_url(), django_assert_num_queries)
    assert "Ines" in second.get(account.get_absolute_url()).content.decode()
    assert third.get(account.get_absolute_url()).status_code == 404


def test_a_stored_page_still_ends_a_session_left_idle(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    served_twice(client, account.get_absolute_url(), django_assert_num_queries)
    session = client.session
    session[SEEN] = int(time.time()) - settings.SESSION_IDLE_SECONDS - 1
    session.save()
    response = client.get(account.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_htmx_request_gets_its_part_not_the_stored_whole_page(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    url = reverse("engagements:account_list")
    assert "<html" in served_twice(client, url, django_assert_num_queries)
    part = client.get(url, headers={"hx-request": "true"}).content.decode()
    assert "<html" not in part
    assert "Northvale Radiology Network" in part


def test_a_served_page_carries_a_form_token_the_same_browser_can_post_with(
    owner: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    url = account.get_absolute_url()
    # Stored for one sign-in of the owner; another sign-in has its own form token.
    served_twice(signed_in(owner), url, django_assert_num_queries)
    browser = signed_in(owner, check_form_tokens=True)
    page = served_twice(browser, url, django_assert_num_queries)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = browser.post(
        reverse("engagements:contact_add", args=[account.uuid]),
        {"csrfmiddlewaretoken": token.group(1), "contact-name": "Dr Ada Obi"},
        follow=True,
    )
    assert response.redirect_chain == [(url, 302)]
    assert "Contact “Dr Ada Obi” added." in response.content.decode()


def test_a_message_waiting_to_be_shown_is_shown_not_a_stored_page(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    served_twice(client, account.get_absolute_url(), django_assert_num_queries)
    # A message left by the last form, in the cookie that carries it to the next page.
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(SUCCESS, "Contact added.")
    carrier = HttpResponse()
    storage.update(carrier)
    client.cookies[storage.cookie_name] = carrier.cookies[storage.cookie_name].value
    assert "Contact added." in client.get(account.get_absolute_url()).content.decode()


def test_each_serving_carries_a_fresh_nonce_that_its_policy_names(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    url = account.get_absolute_url()
    served_twice(client, url, django_assert_num_queries)
    nonces = []
    for _ in range(2):
        response = client.get(url)
        nonce = re.search(r'<script[^>]* nonce="([^"]+)"', response.content.decode())
        assert nonce is not None
        assert f"'nonce-{nonce.group(1)}'" in response.headers["Content-Security-Policy"]
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


def test_a_reload_that_asks_for_a_fresh_page_is_drawn_afresh(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    url = account.get_absolute_url()
    served_twice(client, url, django_assert_num_queries)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers={"cache-control": "no-cache"})
    assert len(queries) > 1


def test_a_person_deactivated_is_signed_out_not_served(
    leadership: User, account: Account, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in(leadership)
    url = account.get_absolute_url()
    served_twice(client, url, django_assert_num_queries)
    User.objects.filter(pk=leadership.pk).update(is_active=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_every_table_but_the_session_and_sign_in_logs_moves_the_generation() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_trigger g "
            "WHERE g.tgrelid = c.oid AND g.tgname = %s) FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'",
            [TRIGGER],
        )
        watched = dict(cursor.fetchall())
    assert {name for name, on in watched.items() if not on} == set(UNWATCHED_TABLES) & set(watched)
    assert watched["engagements_engagement"]
    assert watched["tcp_user"]
