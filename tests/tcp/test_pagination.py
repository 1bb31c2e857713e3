from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from engagements.models import Account
from tcp.pagination import page_with_total
from tests.conftest import client_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _page(number: Any, *, per_page: int = 2, industry: str = "banking") -> Any:
    counted = Account.objects.filter(industry=industry)
    return page_with_total(
        rows=counted.order_by("name", "id"), counted=counted, number=number, per_page=per_page
    )


def _names(page: Any) -> list[str]:
    return [account.name for account in page.object_list]


@pytest.fixture
def banks() -> None:
    for name in ("Bank A", "Bank B", "Bank C", "Bank D", "Bank E"):
        AccountFactory.create(name=name, industry="banking")
    AccountFactory.create(name="Shop", industry="retail")


@pytest.mark.usefixtures("banks")
def test_a_page_and_the_total_of_the_filtered_list_come_from_one_query(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(1):
        page = _page("2")
        assert _names(page) == ["Bank C", "Bank D"]
        assert page.paginator.count == 5
        assert page.paginator.num_pages == 3
        assert (page.has_previous(), page.has_next()) == (True, True)
        assert (page.start_index(), page.end_index()) == (3, 4)


@pytest.mark.usefixtures("banks")
@pytest.mark.parametrize("number", [None, "", "two", "-1", "0"])
def test_a_page_number_that_is_not_a_page_shows_the_first_page(number: Any) -> None:
    page = _page(number)
    assert page.number == 1
    assert _names(page) == ["Bank A", "Bank B"]


@pytest.mark.usefixtures("banks")
@pytest.mark.parametrize("number", ["9", str(2**64), "9" * 40])
def test_a_page_number_past_the_end_shows_the_last_page_as_django_does(number: str) -> None:
    page = _page(number)
    assert page.number == 3
    assert _names(page) == ["Bank E"]
    assert page.paginator.count == 5


def test_a_huge_page_number_on_the_account_list_is_the_last_page_not_an_error(
    leadership: Any,
) -> None:
    AccountFactory.create(name="Only one")
    response = client_for(leadership).get(reverse("engagements:account_list"), {"page": "9" * 30})
    assert response.status_code == 200
    assert "Only one" in response.text


@pytest.mark.usefixtures("banks")
def test_an_empty_list_is_one_empty_page_without_counting_again(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(1):
        page = _page(1, industry="healthcare")
        assert _names(page) == []
        assert page.paginator.count == 0
        assert page.paginator.num_pages == 1
