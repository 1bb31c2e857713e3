"""The list pages' filter forms keep what the person chose, as the browser sent it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tcp.models import User
from tests.conftest import client_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["engagements:account_list", "engagements:engagement_list"])
def test_the_search_box_shows_the_search_escaped(name: str, leadership: User) -> None:
    page = client_for(leadership).get(reverse(name), {"q": '<b>"Mutual"'}).text
    assert (
        '<input type="text" name="q" value="&lt;b&gt;&quot;Mutual&quot;" maxlength="100" '
        'class="form-control" id="id_q">'
    ) in page


def test_an_empty_search_box_has_no_value(leadership: User) -> None:
    page = client_for(leadership).get(reverse("engagements:account_list")).text
    assert '<input type="text" name="q" maxlength="100" class="form-control" id="id_q">' in page


def test_the_chosen_filters_stay_selected(leadership: User) -> None:
    AccountFactory.create(industry="banking")
    page = (
        client_for(leadership)
        .get(reverse("engagements:account_list"), {"industry": "banking", "sort": "-open_pipeline"})
        .text
    )
    assert '<option value="banking" selected>' in page
    assert '<option value="" selected>All industries</option>' not in page
    assert '<option value="" selected>All regions</option>' in page
    assert '<option value="-open_pipeline" selected>' in page
    assert 'aria-sort="descending"' in page
