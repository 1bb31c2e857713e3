"""The candidate's forms with and without htmx, the hire's manager, and erasure asked
for before it is done."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certification.models import Enrollment
from engagements.forms import OneOnOneStartForm
from hiring import services
from hiring.models import AuditionScore, Candidate, InterviewRating, Opening, Stage
from tcp.models import AuditLogEntry, Role, User
from tests.api.conftest import api_client_for
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.hiring.conftest import SCORES, add_candidate

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_interview_ratings_save_in_place_with_the_new_roll_up(
    opening: Opening, manager: User
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.INTERVIEW)
    questions = list(opening.profile.plan.values_list("question_id", flat=True))
    response = client_for(manager).post(
        reverse("hiring:interview", args=[candidate.uuid]),
        {f"q{pk}": "4" for pk in questions},
        headers=HTMX,
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section class="card mb-3" id="interview"')
    assert "Interview ratings saved." in fragment
    assert '<strong id="interview-overall">4.00</strong>' in fragment
    assert InterviewRating.objects.filter(candidate=candidate).count() == len(questions)


def test_a_bad_rating_through_htmx_comes_back_beside_its_field_and_saves_nothing(
    opening: Opening, manager: User
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.INTERVIEW)
    first, second = opening.profile.plan.values_list("question_id", flat=True)[:2]
    response = client_for(manager).post(
        reverse("hiring:interview", args=[candidate.uuid]),
        {f"q{first}": "3", f"q{second}": "9"},
        headers=HTMX,
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert f'id="id_q{second}_error">Give a whole number from 1 to 5.' in fragment
    assert "Interview ratings saved." not in fragment
    assert not InterviewRating.objects.exists()


def test_the_writing_review_and_disc_save_in_place(opening: Opening, manager: User) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    client = client_for(manager)
    review = client.post(
        reverse("hiring:deliverable", args=[candidate.uuid]),
        {"rating": "2", "notes": "Sound"},
        headers=HTMX,
    ).content.decode()
    assert 'id="deliverable"' in review
    assert "Rated 2 of 3" in review
    disc = client.post(
        reverse("hiring:disc", args=[candidate.uuid]),
        {"dominance": "80", "influence": "40", "steadiness": "30", "conscientiousness": "77"},
        headers=HTMX,
    ).content.decode()
    assert "Dominant: Dominance, Conscientiousness" in disc
    refused = client.post(
        reverse("hiring:disc", args=[candidate.uuid]),
        {"dominance": "-1", "influence": "40", "steadiness": "30", "conscientiousness": "77"},
        headers=HTMX,
    )
    assert refused.status_code == 200
    assert 'id="id_dominance_error"' in refused.content.decode()
    candidate.disc.refresh_from_db()
    assert candidate.disc.dominance == 80


def test_a_stage_change_reloads_the_page_and_a_refusal_stays_in_place(
    opening: Opening, manager: User
) -> None:
    candidate = add_candidate(opening, manager)
    client = client_for(manager)
    url = reverse("hiring:stage", args=[candidate.uuid])
    refused = client.post(url, {"stage": "rejected"}, headers=HTMX)
    assert refused.status_code == 200
    assert 'id="id_stage_reason_error">Say why the candidate' in refused.content.decode()
    moved = client.post(url, {"stage": "interview"}, headers=HTMX)
    assert moved["HX-Redirect"] == reverse("hiring:candidate", args=[candidate.uuid])
    assert Candidate.objects.get().stage == Stage.INTERVIEW


def test_a_panel_member_submits_the_audition_in_place_and_then_sees_the_panel(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    first, second = panelists
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    services.audition_score_submit(
        candidate=candidate, panelist=first, scores=SCORES, would_buy=True, notes="Strong close"
    )
    client = client_for(second)
    url = reverse("hiring:audition", args=[candidate.uuid])
    refused = client.post(url, {**SCORES, "would_buy": "maybe"}, headers=HTMX)
    assert refused.status_code == 200
    assert "Strong close" not in refused.content.decode()
    assert 'id="id_would_buy_error"' in refused.content.decode()
    response = client.post(url, {**SCORES, "would_buy": "no"}, headers=HTMX)
    fragment = response.content.decode()
    assert "Your scores are in." in fragment
    assert "You gave 10 of 12 and would not buy" in fragment
    assert "Strong close" in fragment
    assert AuditionScore.objects.filter(candidate=candidate).count() == 2


def test_the_hire_reports_to_the_chosen_manager_and_shows_in_their_team_and_one_on_ones(
    opening: Opening, manager: User
) -> None:
    lead = UserFactory.create(username="lead", roles=[Role.ACCOUNT_MANAGER])
    candidate = add_candidate(opening, manager, stage=Stage.DECISION)
    client = client_for(manager)
    page = client.get(reverse("hiring:candidate", args=[candidate.uuid]))
    # The opening's hiring manager is offered first.
    assert page.context["hire_form"]["manager"].value() == manager.pk
    response = client.post(
        reverse("hiring:hire", args=[candidate.uuid]),
        {"username": "ada.l", "reason": "Strongest audition", "manager": lead.pk},
        headers=HTMX,
    )
    assert response["HX-Redirect"] == reverse("hiring:candidate", args=[candidate.uuid])
    hired = User.objects.get(username="ada.l")
    assert hired.manager == lead
    team = client_for(lead).get(reverse("certification:team"))
    assert [e.person for e in team.context["page"].object_list] == [hired]
    assert list(OneOnOneStartForm(manager=lead).fields["seller"].queryset) == [hired]  # type: ignore[attr-defined]


def test_the_hire_without_a_choice_reports_to_the_openings_hiring_manager(
    opening: Opening, manager: User
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.DECISION)
    user = services.candidate_hire(candidate=candidate, username="ada", reason="x", actor=manager)
    assert user.manager == manager
    assert Enrollment.objects.filter(person=user).count() == 1


def test_a_hire_under_someone_who_has_left_is_refused_and_nothing_is_made(
    opening: Opening, manager: User
) -> None:
    gone = UserFactory.create(username="gone", is_active=False)
    candidate = add_candidate(opening, manager, stage=Stage.DECISION)
    with pytest.raises(services.ValidationError) as refusal:
        services.candidate_hire(
            candidate=candidate, username="ada", reason="x", actor=manager, manager=gone
        )
    assert "manager" in refusal.value.message_dict
    assert not User.objects.filter(username="ada").exists()
    assert not Enrollment.objects.exists()
    assert Candidate.objects.get().stage == Stage.DECISION


def test_erasure_asks_first_and_only_a_post_erases(
    opening: Opening, manager: User, settings: Any, tmp_path: Any
) -> None:
    candidate = add_candidate(opening, manager)
    services.candidate_advance(
        candidate=candidate, stage=Stage.REJECTED, reason="Not now", actor=manager
    )
    client = client_for(manager)
    url = reverse("hiring:erase", args=[candidate.uuid])
    page = client.get(reverse("hiring:candidate", args=[candidate.uuid])).content.decode()
    assert f'href="{url}"' in page
    assert 'hx-confirm="Erase Ada Lovelace' in page
    confirm = client.get(url)
    assert "This cannot be undone." in confirm.content.decode()
    assert Candidate.objects.get().first_name == "Ada"
    assert client.post(url, headers=HTMX)["HX-Redirect"] == reverse(
        "hiring:candidate", args=[candidate.uuid]
    )
    assert Candidate.objects.get().first_name == ""


def test_openings_are_searched_sorted_and_listed_in_a_fixed_number_of_queries(
    opening: Opening, manager: User, django_assert_max_num_queries: Any
) -> None:
    add_candidate(opening, manager)
    for n in range(8):
        services.opening_create(
            title=f"Partner seller {n}",
            profile=opening.profile,
            role=Role.PARTNER_MANAGER,
            hiring_manager=manager,
            panel=[],
            actor=manager,
        )
    client = client_for(manager)
    url = reverse("hiring:openings")
    with django_assert_max_num_queries(9):
        page = client.get(url).context["page"]
    assert page.paginator.count == 9
    found = client.get(url + "?q=partner+7").context["page"].object_list
    assert [o.title for o in found] == ["Partner seller 7"]
    by_candidates = client.get(url + "?sort=-candidates").context["page"].object_list
    assert (by_candidates[0].title, by_candidates[0].candidate_count) == ("Technical seller", 1)
    fragment = client.get(url + "?q=partner", headers=HTMX).content.decode()
    assert "Partner seller 7" in fragment
    assert "Open a role" not in fragment


def test_a_document_is_attached_later_and_replaces_the_one_before(
    opening: Opening,
    manager: User,
    settings: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    candidate = add_candidate(opening, manager, stage=Stage.INTERVIEW)
    client = client_for(manager)
    url = reverse("hiring:attach", args=[candidate.uuid])
    sample = SimpleUploadedFile("design.docx", b"PK\x03\x04" + b"0" * 100)
    response = client.post(url, {"document": "writing_sample", "file": sample})
    assert response.status_code == 302
    candidate.refresh_from_db()
    first = candidate.writing_sample.path
    assert str(candidate.writing_sample.name).endswith("design.docx")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url, {"document": "writing_sample", "file": SimpleUploadedFile("v2.txt", b"Plain")}
        )
    candidate.refresh_from_db()
    assert str(candidate.writing_sample.name).endswith("v2.txt")
    assert not os.path.exists(first)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("tool.exe", b"MZ", "Attach a PDF, DOCX, ODT, TXT file."),
        ("cv.pdf", b"MZ\x90\x00 a program renamed", "This file is not the PDF its name says"),
        ("cv.docx", b"%PDF-1.7", "This file is not the DOCX its name says"),
        ("cv.txt", b"text\x00with a NUL", "This file is not the TXT its name says"),
        ("cv.pdf", b"%PDF-" + b"x" * services.DOCUMENT_MAX_BYTES, "5 MB or less"),
    ],
)
def test_a_document_of_the_wrong_type_or_too_large_is_refused_beside_the_field(
    opening: Opening,
    manager: User,
    settings: Any,
    tmp_path: Any,
    name: str,
    content: bytes,
    message: str,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    candidate = add_candidate(opening, manager)
    response = client_for(manager).post(
        reverse("hiring:attach", args=[candidate.uuid]),
        {"document": "cv", "file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 400
    assert message in " ".join(response.context["document_form"].errors["file"])
    assert 'id="id_document_file_error"' in response.content.decode()
    candidate.refresh_from_db()
    assert not candidate.cv
    assert not any(tmp_path.rglob("*.*"))


def test_erasure_also_clears_what_people_wrote_about_the_candidate(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    # The marker is a name the factories' generated people cannot have: a short one such as "Ada"
    # is also inside "Adam" or "Adams", which the opening's audit entry may name as a panelist.
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    question = opening.profile.plan.values_list("question_id", flat=True)[0]
    services.interview_record(
        candidate=candidate,
        ratings={question: (4, "Quarrington spoke of her time at X")},
        interviewer=manager,
    )
    services.audition_score_submit(
        candidate=candidate,
        panelist=panelists[0],
        scores=SCORES,
        would_buy=True,
        notes="Quarrington won us",
    )
    services.deliverable_review_record(
        candidate=candidate, rating=2, notes="Quarrington's prose", reviewer=manager
    )
    services.candidate_advance(
        candidate=candidate,
        stage=Stage.REJECTED,
        reason="Quarrington prefers London",
        actor=manager,
    )
    services.candidate_erase(candidate=candidate, actor=manager)
    candidate.refresh_from_db()
    assert candidate.decision_reason == ""
    rating = InterviewRating.objects.get()
    assert (rating.rating, rating.notes) == (4, "")
    score = AuditionScore.objects.get()
    assert (score.total, score.notes) == (10, "")
    assert (candidate.deliverable_review.rating, candidate.deliverable_review.notes) == (2, "")
    assert not AuditLogEntry.objects.filter(changes__icontains="Quarrington").exists()
    assert services.interview_rollup(candidate).overall == Decimal("4.00")


def test_a_member_of_another_openings_panel_gets_404_on_this_one(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    elsewhere = UserFactory.create(username="elsewhere", roles=[Role.DELIVERY_MANAGER])
    services.opening_create(
        title="Partner seller",
        profile=opening.profile,
        role=Role.PARTNER_MANAGER,
        hiring_manager=manager,
        panel=[elsewhere],
        actor=manager,
    )
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    client = client_for(elsewhere)
    for url in (
        reverse("hiring:opening", args=[opening.uuid]),
        reverse("hiring:compare", args=[opening.uuid]),
        reverse("hiring:candidate", args=[candidate.uuid]),
        reverse("hiring:audition", args=[candidate.uuid]),
    ):
        assert client.get(url).status_code == 404, url
    api = api_client_for(elsewhere)
    path = f"/api/v1/hiring-candidates/{candidate.uuid}/audition-scores/"
    assert api.get(path).status_code == 404
    assert api.post(path, {**SCORES, "would_buy": True}, format="json").status_code == 404
    assert (
        client.post(
            reverse("hiring:audition", args=[candidate.uuid]), {**SCORES, "would_buy": "yes"}
        ).status_code
        == 404
    )
    assert not AuditionScore.objects.exists()
    assert [o.title for o in client.get(reverse("hiring:openings")).context["page"]] == [
        "Partner seller"
    ]


def test_the_opening_page_lists_candidates_in_a_fixed_number_of_queries(
    opening: Opening, manager: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(manager)
    url = reverse("hiring:opening", args=[opening.uuid])
    add_candidate(opening, manager)
    # The page's own queries are 7; the rest of the allowance is the session's upkeep.
    with django_assert_max_num_queries(10) as one:
        client.get(url)
    for n in range(10):
        add_candidate(opening, manager, name=f"More{n}")
    with django_assert_max_num_queries(len(one)):
        page = client.get(url)
    assert len(page.context["candidates"]) == 11


def test_the_candidate_page_keeps_its_query_count_however_long_the_plan(
    opening: Opening, manager: User, django_assert_max_num_queries: Any
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.INTERVIEW)
    questions = list(opening.profile.plan.values_list("question_id", flat=True))
    services.interview_record(
        candidate=candidate, ratings=dict.fromkeys(questions, (3, "")), interviewer=manager
    )
    client = client_for(manager)
    with django_assert_max_num_queries(19):
        page = client.get(reverse("hiring:candidate", args=[candidate.uuid]))
    assert len(page.context["interview_form"].rows()) == len(questions)


def test_the_openings_candidates_are_searched_filtered_sorted_and_paged(
    opening: Opening, manager: User
) -> None:
    for n in range(26):
        add_candidate(opening, manager, name=f"Cand{n:02}")
    add_candidate(opening, manager, name="Zora", stage=Stage.AUDITION)
    add_candidate(opening, manager, name="Yuri", stage=Stage.INTERVIEW)
    client = client_for(manager)
    url = reverse("hiring:opening", args=[opening.uuid])
    page = client.get(url).context["page"]
    # Furthest along first.
    assert [c.first_name for c in page.object_list[:2]] == ["Zora", "Yuri"]
    assert page.paginator.count == 28
    assert len(client.get(url + "?page=2").context["page"].object_list) == 3
    found = client.get(url + "?q=zor").context["candidates"]
    assert [c.first_name for c in found] == ["Zora"]
    at_interview = client.get(url + "?stage=interview").context["candidates"]
    assert [c.first_name for c in at_interview] == ["Yuri"]
    earliest = client.get(url + "?sort=-stage").context["candidates"]
    assert earliest[0].stage == Stage.SCREENING
    fragment = client.get(url + "?q=yuri", headers=HTMX).content.decode()
    assert "Yuri Lovelace" in fragment
    assert "Add a candidate" not in fragment
    assert "No candidate matches" in client.get(url + "?q=nobody").content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_ending_a_candidacy_asks_first_and_changes_nothing_until_confirmed(
    opening: Opening, manager: User, htmx: bool
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.INTERVIEW)
    client = client_for(manager)
    url = reverse("hiring:stage", args=[candidate.uuid])
    headers = HTMX if htmx else {}
    data = {"stage": "rejected", "reason": "Weaker on architecture"}
    question = client.post(url, data, headers=headers)
    assert question.status_code == 200
    page = question.content.decode()
    assert "Mark Ada Lovelace as rejected?" in page
    assert 'name="confirmed" value="yes"' in page
    assert Candidate.objects.get().stage == Stage.INTERVIEW
    assert not AuditLogEntry.objects.filter(action="candidate.stage").exists()
    done = client.post(url, {**data, "confirmed": "yes"}, headers=headers)
    assert done.status_code == (200 if htmx else 302)
    rejected = Candidate.objects.get()
    assert (rejected.stage, rejected.decision_reason, rejected.decided_by) == (
        Stage.REJECTED,
        "Weaker on architecture",
        manager,
    )
    assert AuditLogEntry.objects.filter(action="candidate.stage").count() == 1
