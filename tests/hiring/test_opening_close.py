"""Closing an opening: asked for first, refused while candidates wait for an outcome, and
undone by opening it again; each step leaves its audit entry."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hiring import services
from hiring.models import Opening, Stage
from tcp.models import AuditLogEntry, Role, User
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.hiring.conftest import add_candidate

pytestmark = pytest.mark.django_db


def _actions(opening: Opening) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_id=str(opening.pk), action__startswith="opening.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_closing_asks_first_and_only_the_post_closes(opening: Opening, manager: User) -> None:
    client = client_for(manager)
    url = reverse("hiring:opening_close", args=[opening.uuid])
    asked = client.get(url)
    assert asked.status_code == 200
    assert "takes no new candidates" in asked.content.decode()
    opening.refresh_from_db()
    assert opening.is_open

    response = client.post(url, follow=True)

    opening.refresh_from_db()
    assert not opening.is_open
    page = response.content.decode()
    assert "Technical seller is closed." in page
    assert "This opening is closed: it takes no new candidates." in page
    assert "Add the candidate" not in page
    entry = AuditLogEntry.objects.get(action="opening.close", object_id=str(opening.pk))
    assert entry.actor == manager
    assert entry.changes == {"open": [True, False]}


def test_an_opening_with_candidates_in_the_pipeline_stays_open_and_says_how_many(
    opening: Opening, manager: User
) -> None:
    add_candidate(opening, manager, "Ada", stage=Stage.INTERVIEW)
    add_candidate(opening, manager, "Grace", stage=Stage.SCREENING)
    add_candidate(opening, manager, "Edsger", stage=Stage.REJECTED)
    client = client_for(manager)
    url = reverse("hiring:opening_close", args=[opening.uuid])

    asked = client.get(url).content.decode()
    response = client.post(url, follow=True)

    assert "2 candidates are still in the pipeline" in asked
    assert "Close the opening</button>" not in asked
    assert "2 candidates are still in the pipeline" in response.content.decode()
    opening.refresh_from_db()
    assert opening.is_open
    assert _actions(opening) == ["opening.create"]


def test_a_closed_opening_refuses_new_candidates_until_it_is_opened_again(
    opening: Opening, manager: User
) -> None:
    services.opening_set_open(opening=opening, is_open=False, actor=manager)
    client = client_for(manager)
    add = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@x.org"}

    refused = client.post(reverse("hiring:opening", args=[opening.uuid]), add)
    assert refused.status_code == 400
    assert "This opening is closed." in refused.content.decode()
    assert not opening.candidates.exists()

    reopened = client.post(reverse("hiring:opening_reopen", args=[opening.uuid]), follow=True)
    added = client.post(reverse("hiring:opening", args=[opening.uuid]), add)

    assert "is open again" in reopened.content.decode()
    assert added.status_code == 302
    assert opening.candidates.get().first_name == "Ada"
    assert _actions(opening) == ["opening.create", "opening.close", "opening.reopen"]


def test_closing_twice_records_one_close(opening: Opening, manager: User) -> None:
    services.opening_set_open(opening=opening, is_open=False, actor=manager)
    services.opening_set_open(opening=opening, is_open=False, actor=manager)

    assert _actions(opening) == ["opening.create", "opening.close"]


def test_only_a_hiring_manager_closes_and_everyone_else_gets_404(
    opening: Opening, panelists: list[User]
) -> None:
    url = reverse("hiring:opening_close", args=[opening.uuid])
    outsider = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])

    panel_member = client_for(panelists[0]).post(url)
    stranger = client_for(outsider).post(url)

    # A panel member sees the opening but changes nothing on it, like any hiring record.
    assert panel_member.status_code == 404
    assert stranger.status_code == 404
    opening.refresh_from_db()
    assert opening.is_open
