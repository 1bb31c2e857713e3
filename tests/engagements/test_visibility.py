"""Who sees what: every page, for every persona, against an object inside and outside reach."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import reverse

from engagements.models import Account, Contact, Engagement
from tcp.models import User
from tests.conftest import client_for
from tests.factories import ContactFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "outsider", "delivery_manager", "leadership", "administrator"]

# page name -> (method, url builder, personas allowed)
PAGES: dict[str, tuple[str, Callable[[Account, Engagement, Contact, int], str], set[str]]] = {
    "account detail": (
        "get",
        lambda a, e, c, m: reverse("engagements:account_detail", args=[a.uuid]),
        {"owner", "delivery_manager", "leadership", "administrator"},
    ),
    "account edit": (
        "get",
        lambda a, e, c, m: reverse("engagements:account_edit", args=[a.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "contact edit": (
        "get",
        lambda a, e, c, m: reverse("engagements:contact_edit", args=[a.uuid, c.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "contact delete": (
        "get",
        lambda a, e, c, m: reverse("engagements:contact_delete", args=[a.uuid, c.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "team remove": (
        "get",
        lambda a, e, c, m: reverse("engagements:team_remove", args=[a.uuid, m]),
        {"owner", "leadership", "administrator"},
    ),
    "new engagement": (
        "get",
        lambda a, e, c, m: reverse("engagements:engagement_create", args=[a.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "engagement detail": (
        "get",
        lambda a, e, c, m: reverse("engagements:engagement_detail", args=[e.uuid]),
        {"owner", "delivery_manager", "leadership", "administrator"},
    ),
    "engagement edit": (
        "get",
        lambda a, e, c, m: reverse("engagements:engagement_edit", args=[e.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "contact add (post)": (
        "post",
        lambda a, e, c, m: reverse("engagements:contact_add", args=[a.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "team add (post)": (
        "post",
        lambda a, e, c, m: reverse("engagements:team_add", args=[a.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "stage change (post)": (
        "post",
        lambda a, e, c, m: reverse("engagements:engagement_advance", args=[e.uuid]),
        {"owner", "leadership", "administrator"},
    ),
    "organisation settings": (
        "get",
        lambda a, e, c, m: reverse("organisation_settings"),
        {"administrator"},
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_page_answers_only_the_personas_within_reach(
    page: str, persona: str, request: pytest.FixtureRequest, engagement: Engagement
) -> None:
    method, url_for, allowed = PAGES[page]
    account = engagement.account
    contact = ContactFactory.create(account=account)
    member = account.team.get()
    user: User = request.getfixturevalue(persona)
    response = getattr(client_for(user), method)(url_for(account, engagement, contact, member.pk))
    if persona in allowed:
        assert response.status_code in (200, 302), response.status_code
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_visitors_are_sent_to_sign_in(page: str, engagement: Engagement) -> None:
    method, url_for, _ = PAGES[page]
    contact = ContactFactory.create(account=engagement.account)
    url = url_for(engagement.account, engagement, contact, engagement.account.team.get().pk)
    response = getattr(client_for(None), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_lists_show_only_what_the_person_may_see(
    engagement: Engagement, outsider: User, owner: User
) -> None:
    for url in (reverse("engagements:account_list"), reverse("engagements:engagement_list")):
        assert engagement.account.name in client_for(owner).get(url).text
        assert engagement.account.name not in client_for(outsider).get(url).text
    assert "Someone else" in client_for(outsider).get(reverse("engagements:account_list")).text


def test_a_delivery_manager_sees_only_the_engagements_they_deliver(
    engagement: Engagement, delivery_manager: User, owner: User
) -> None:
    from tests.factories import EngagementFactory

    other = EngagementFactory.create(
        account=engagement.account, name="Other work", commercial_lead=owner
    )
    visible = set(Engagement.objects.visible_to(delivery_manager))
    assert visible == {engagement}
    assert (
        other.name
        not in client_for(delivery_manager).get(reverse("engagements:engagement_list")).text
    )


def test_a_delivery_manager_on_the_account_team_sees_its_engagements_but_cannot_change_them(
    engagement: Engagement,
) -> None:
    seated = TeamMemberFactory.create(account=engagement.account, role="delivery_manager").user
    assert list(Engagement.objects.visible_to(seated)) == [engagement]
    assert not Engagement.objects.editable_by(seated).exists()


def test_inactive_people_see_nothing(engagement: Engagement, owner: User) -> None:
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert not Account.objects.visible_to(owner).exists()
    assert not Engagement.objects.visible_to(owner).exists()


def test_the_back_office_lists_only_what_the_person_may_see(
    engagement: Engagement, outsider: User, leadership: User
) -> None:
    from django.contrib.auth.models import Permission

    view_accounts = Permission.objects.get(codename="view_account")
    for user in (outsider, leadership):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.user_permissions.add(view_accounts)
    url = reverse("admin:engagements_account_changelist")
    outsiders_view = client_for(outsider).get(url)
    assert outsiders_view.status_code == 200
    assert engagement.account.name not in outsiders_view.text
    assert "Someone else" in outsiders_view.text
    assert engagement.account.name in client_for(leadership).get(url).text
