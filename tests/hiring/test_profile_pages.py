"""The hiring managers' pages for job profiles (objectives, weighted attributes, the
interview plan picked from the question bank) and for an opening's panel."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from hiring import services
from hiring.models import JobProfile, Opening, PlannedQuestion, ProfileAttribute, Question
from tcp.models import AuditLogEntry, Notification, Role, User
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def profile(manager: User) -> JobProfile:
    return services.job_profile_create(
        actor=manager,
        data={"title": "Partner seller", "objectives": "Win through partners."},
    )


def _attribute(profile: JobProfile, manager: User, **data: Any) -> ProfileAttribute:
    return services.profile_attribute_save(
        profile=profile,
        actor=manager,
        data={"category": "technical", "description": "Cloud", "weight": 3, **data},
    )


def test_a_hiring_manager_creates_a_profile_and_lands_on_its_page(manager: User) -> None:
    response = client_for(manager).post(
        reverse("hiring:profiles"),
        {
            "new-title": "Technical seller, health",
            "new-objectives": "Influence clinical and IT buyers; own the relationship.",
            "new-interdependence_note": "Wins depend on the delivery team.",
        },
    )
    profile = JobProfile.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("hiring:profile", args=[profile.uuid])
    assert profile.interdependence_note == "Wins depend on the delivery team."
    entry = AuditLogEntry.objects.get(action="job_profile.create")
    assert (entry.actor, entry.object_id) == (manager, str(profile.pk))


def test_a_profile_without_objectives_gives_a_field_error_and_saves_nothing(
    manager: User,
) -> None:
    response = client_for(manager).post(
        reverse("hiring:profiles"), {"new-title": "Seller", "new-objectives": ""}
    )
    assert response.status_code == 400
    assert response.context["create_form"].errors["objectives"]
    assert 'id="id_new-objectives_error"' in response.content.decode()
    assert not JobProfile.objects.exists()


def test_the_profile_list_searches_sorts_pages_and_keeps_its_query_count(
    manager: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        profile = services.job_profile_create(
            actor=manager, data={"title": f"Role {n:02}", "objectives": "x"}
        )
        _attribute(profile, manager)
    services.job_profile_create(actor=manager, data={"title": "Zebra", "objectives": "x"})
    client = client_for(manager)
    url = reverse("hiring:profiles")
    with django_assert_max_num_queries(8):
        page = client.get(url).context["page"]
    assert page.paginator.count == 31
    assert [p.title for p in page.object_list][:2] == ["Role 00", "Role 01"]
    assert page.object_list[0].attribute_count == 1
    assert client.get(url + "?sort=-title").context["page"].object_list[0].title == "Zebra"
    found = client.get(url + "?q=zeb").context["page"]
    assert [p.title for p in found] == ["Zebra"]
    assert len(client.get(url + "?page=2").context["page"].object_list) == 6
    # A search typed into the box fetches only the results.
    fragment = client.get(url + "?q=zeb", headers=HTMX).content.decode()
    assert "Zebra" in fragment
    assert "New job profile" not in fragment
    empty = client.get(url + "?q=nothing-like-it").content.decode()
    assert "No job profile matches this search" in empty


def test_attributes_are_added_edited_and_weighted_per_category(
    profile: JobProfile, manager: User
) -> None:
    client = client_for(manager)
    add = reverse("hiring:attributes", args=[profile.uuid])
    response = client.post(
        add,
        {
            "attribute-new-category": "business",
            "attribute-new-description": "P&L",
            "attribute-new-weight": "4",
        },
    )
    assert response.status_code == 302
    attribute = ProfileAttribute.objects.get()
    # In place, as people type: only what changed around the inputs comes back.
    response = client.post(
        reverse("hiring:attribute", args=[profile.uuid, attribute.pk]),
        {
            f"attribute-{attribute.pk}-category": "business",
            f"attribute-{attribute.pk}-description": "Reads a P&L",
            f"attribute-{attribute.pk}-weight": "6",
            f"attribute-{attribute.pk}-version": str(attribute.version),
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    reply = response.content.decode()
    assert 'id="profile-weights" aria-labelledby="weights-heading" hx-swap-oob="true"' in reply
    assert '<td>Business</td><td class="num">6</td><td class="num">100%</td>' in reply
    attribute.refresh_from_db()
    assert (attribute.description, attribute.weight) == ("Reads a P&L", 6)
    assert services.category_weights(profile)["business"] == 6
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"profile_attribute.create", "profile_attribute.update"} <= actions


def test_a_weight_out_of_range_is_a_field_error_and_changes_nothing(
    profile: JobProfile, manager: User
) -> None:
    attribute = _attribute(profile, manager)
    response = client_for(manager).post(
        reverse("hiring:attribute", args=[profile.uuid, attribute.pk]),
        {
            f"attribute-{attribute.pk}-category": "technical",
            f"attribute-{attribute.pk}-description": "Cloud",
            f"attribute-{attribute.pk}-weight": "11",
            f"attribute-{attribute.pk}-version": str(attribute.version),
        },
    )
    assert response.status_code == 400
    assert "Give a whole number from 1 to 10." in response.content.decode()
    attribute.refresh_from_db()
    assert attribute.weight == 3


def test_an_edit_over_someone_elses_newer_change_is_refused(
    profile: JobProfile, manager: User
) -> None:
    url = reverse("hiring:profile", args=[profile.uuid])
    stale = profile.version
    services.job_profile_update(profile=profile, actor=manager, data={"title": "Renamed"})
    response = client_for(manager).post(
        url,
        {
            "job-profile-title": "Mine",
            "job-profile-objectives": "x",
            "job-profile-version": str(stale),
        },
        headers=HTMX,
    )
    assert "changed this at" in response.content.decode()
    profile.refresh_from_db()
    assert profile.title == "Renamed"


def test_removing_an_attribute_asks_first_then_removes_it(
    profile: JobProfile, manager: User
) -> None:
    attribute = _attribute(profile, manager)
    client = client_for(manager)
    url = reverse("hiring:attribute_delete", args=[profile.uuid, attribute.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Remove this attribute?" in confirm.content.decode()
    assert ProfileAttribute.objects.exists()
    assert client.post(url).status_code == 302
    assert not ProfileAttribute.objects.exists()
    assert AuditLogEntry.objects.filter(
        action="profile_attribute.delete", object_id=str(profile.pk)
    ).exists()


def test_questions_are_picked_from_the_bank_into_the_plan_and_taken_out_again(
    profile: JobProfile, manager: User
) -> None:
    services.question_bank_install(actor=manager)
    question = Question.objects.get(key="solution-delivered")
    client = client_for(manager)
    page = client.get(reverse("hiring:profile", args=[profile.uuid])).content.decode()
    assert "No questions planned yet" in page
    response = client.post(
        reverse("hiring:plan_add", args=[profile.uuid]), {"question": question.pk}, headers=HTMX
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    # The plan shows what the question measures, the answer to look for and follow-ups.
    plan = fragment.split('id="plan-list"')[1].split("Question bank")[0]
    assert question.text in plan
    for shown in ("Technical", "Business", question.look_for, question.follow_ups):
        assert shown in plan
    # and the bank no longer offers it.
    assert question.text not in fragment.split("Question bank")[1]
    planned = PlannedQuestion.objects.get(profile=profile)
    again = client.post(reverse("hiring:plan_add", args=[profile.uuid]), {"question": question.pk})
    assert again.status_code == 400
    assert PlannedQuestion.objects.filter(profile=profile).count() == 1

    remove = reverse("hiring:plan_remove", args=[profile.uuid, planned.pk])
    assert "Remove this question from the interview plan?" in client.get(remove).content.decode()
    assert client.post(remove).status_code == 302
    assert not PlannedQuestion.objects.exists()
    actions = list(
        AuditLogEntry.objects.filter(object_id=str(profile.pk))
        .order_by("at", "pk")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["interview_plan.add", "interview_plan.remove"]


def test_the_bank_is_searched_by_word_and_by_what_it_measures(
    profile: JobProfile, manager: User
) -> None:
    services.question_bank_install(actor=manager)
    client = client_for(manager)
    url = reverse("hiring:profile", args=[profile.uuid])
    bank = client.get(url + "?measure=maturity", headers=HTMX).context["bank"]
    assert bank.paginator.count == Question.objects.filter(measures__contains=["maturity"]).count()
    assert all("maturity" in q.measures for q in bank.object_list)
    bank = client.get(url + "?q=whiteboard").context["bank"]
    assert [q.key for q in bank.object_list] == ["solution-delivered"]
    assert client.get(url + "?page=2").context["bank"].number == 2


def test_a_new_question_goes_into_the_bank_and_the_plan_or_names_what_is_missing(
    profile: JobProfile, manager: User
) -> None:
    client = client_for(manager)
    url = reverse("hiring:question_add", args=[profile.uuid])
    refused = client.post(url, {"question-text": "Why us?", "question-look_for": "Homework"})
    assert refused.status_code == 400
    assert refused.context["question_form"].errors["measures"] == [
        "Say what the question measures."
    ]
    assert not Question.objects.exists()
    response = client.post(
        url,
        {
            "question-text": "Why us?",
            "question-measures": ["business", "maturity"],
            "question-look_for": "Homework on our offering.",
            "question-follow_ups": "What would you sell first?",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    question = Question.objects.get()
    assert question.measures == ["business", "maturity"]
    assert PlannedQuestion.objects.get().question == question
    assert "Added to the bank and the plan" in response.content.decode()


def test_the_panel_is_changed_and_a_removal_is_confirmed_first(
    opening: Opening, manager: User, panelists: list[User], django_capture_on_commit_callbacks: Any
) -> None:
    first, second = panelists
    newcomer = UserFactory.create(username="newcomer", roles=[Role.TECHNOLOGY_MANAGER])
    client = client_for(manager)
    url = reverse("hiring:panel", args=[opening.uuid])
    data = {"hiring_manager": manager.pk, "panel": [first.pk, newcomer.pk]}
    question = client.post(url, data)
    assert question.status_code == 200
    assert f"Take {second} off the panel?" in question.content.decode()
    assert set(opening.panel.all()) == {first, second}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "confirmed": "yes"}, headers=HTMX)
    assert response.status_code == 200
    assert "Panel saved." in response.content.decode()
    assert set(opening.panel.all()) == {first, newcomer}
    entry = AuditLogEntry.objects.get(action="opening.panel")
    assert entry.changes == {"added": [str(newcomer)], "removed": [str(second)]}
    assert Notification.objects.filter(recipient=newcomer).exists()


def test_only_a_hiring_manager_can_run_an_opening(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    response = client_for(manager).post(
        reverse("hiring:panel", args=[opening.uuid]), {"hiring_manager": panelists[0].pk}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["hiring_manager"]
    opening.refresh_from_db()
    assert opening.hiring_manager == manager


def test_outsiders_panel_members_and_leadership_get_404_on_the_profile_pages(
    opening: Opening, manager: User, panelists: list[User], outsider: User, leadership: User
) -> None:
    profile = opening.profile
    attribute = profile.attributes.first()
    planned = profile.plan.first()
    assert attribute is not None
    assert planned is not None
    gets = [
        reverse("hiring:profiles"),
        reverse("hiring:profile", args=[profile.uuid]),
        reverse("hiring:attribute_delete", args=[profile.uuid, attribute.pk]),
        reverse("hiring:plan_remove", args=[profile.uuid, planned.pk]),
        reverse("hiring:panel", args=[opening.uuid]),
    ]
    posts = [
        *gets,
        reverse("hiring:attributes", args=[profile.uuid]),
        reverse("hiring:attribute", args=[profile.uuid, attribute.pk]),
        reverse("hiring:plan_add", args=[profile.uuid]),
        reverse("hiring:plan_move", args=[profile.uuid, planned.pk]),
        reverse("hiring:question_add", args=[profile.uuid]),
    ]
    before = AuditLogEntry.objects.count()
    for user in (outsider, leadership, panelists[0]):
        client = client_for(user)
        for url in gets:
            assert client.get(url).status_code == 404, url
        for url in posts:
            assert (
                client.post(url, {"panel": [user.pk], "question": planned.question_id}).status_code
                == 404
            ), url
    assert AuditLogEntry.objects.count() == before
    assert profile.attributes.count() == len(services.STARTER_ATTRIBUTES)
    assert set(opening.panel.all()) == set(panelists)


def test_profile_pages_refuse_the_wrong_method(profile: JobProfile, manager: User) -> None:
    client = client_for(manager)
    assert client.get(reverse("hiring:attributes", args=[profile.uuid])).status_code == 405
    assert client.get(reverse("hiring:plan_add", args=[profile.uuid])).status_code == 405
    assert client.put(reverse("hiring:profile", args=[profile.uuid])).status_code == 405
    assert client.get(reverse("hiring:question_add", args=[profile.uuid])).status_code == 405
    assert client.delete(reverse("hiring:profiles")).status_code == 405


def test_the_profile_page_keeps_its_query_count_however_many_rows(
    opening: Opening, manager: User, django_assert_max_num_queries: Any
) -> None:
    profile = opening.profile
    url = reverse("hiring:profile", args=[profile.uuid])
    client = client_for(manager)
    # The page's own queries are 9; the rest of the allowance is the session's upkeep.
    with django_assert_max_num_queries(12) as before:
        client.get(url)
    for n in range(10):
        _attribute(profile, manager, description=f"Extra {n}")
    with django_assert_max_num_queries(len(before)):
        page = client.get(url)
    assert len(page.context["edits"]) == len(services.STARTER_ATTRIBUTES) + 10
    assert len(page.context["plan"]) == len(services.STARTER_QUESTIONS)


def test_a_planned_question_moves_up_and_down_and_stops_at_the_ends(
    opening: Opening, manager: User
) -> None:
    profile = opening.profile
    first, second, *_ = list(profile.plan.all())
    client = client_for(manager)
    response = client.post(
        reverse("hiring:plan_move", args=[profile.uuid, second.pk]),
        {"direction": "up"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert list(profile.plan.values_list("pk", flat=True))[:2] == [second.pk, first.pk]
    # Already first: nothing changes.
    client.post(reverse("hiring:plan_move", args=[profile.uuid, second.pk]), {"direction": "up"})
    assert list(profile.plan.values_list("pk", flat=True))[:2] == [second.pk, first.pk]
    refused = client.post(
        reverse("hiring:plan_move", args=[profile.uuid, first.pk]), {"direction": "sideways"}
    )
    assert refused.status_code == 400
    assert list(profile.plan.values_list("position", flat=True)) == list(
        range(len(services.STARTER_QUESTIONS))
    )
    entry = AuditLogEntry.objects.get(action="interview_plan.move")
    assert entry.changes["position"] == [2, 1]
    # The candidate's interview follows the plan's order.
    candidate = services.candidate_add(
        opening=opening, first_name="Ada", last_name="L", actor=manager
    )
    page = client.get(reverse("hiring:candidate", args=[candidate.uuid]))
    assert page.context["interview_form"].rows()[0][0] == second.question
