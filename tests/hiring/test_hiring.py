from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certification.models import Enrollment
from hiring import services
from hiring.models import (
    AuditionScore,
    Candidate,
    InterviewRating,
    JobProfile,
    Opening,
    PlannedQuestion,
    ProfileAttribute,
    Question,
    Stage,
)
from tcp import services as tcp_services
from tcp.models import AuditLogEntry, Role, User
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.hiring.conftest import SCORES
from tests.hiring.conftest import add_candidate as _candidate

pytestmark = pytest.mark.django_db


def test_the_starter_bank_installs_once_and_covers_every_measure(manager: User) -> None:
    assert services.question_bank_install(actor=manager) == 13
    assert services.question_bank_install(actor=manager) == 0
    measured = {m for q in Question.objects.all() for m in q.measures}
    assert measured == {"technical", "business", "interpersonal", "lifestyle", "maturity"}


def test_interview_scores_roll_up_per_category_against_the_profile_weights(
    manager: User,
) -> None:
    profile = JobProfile.objects.create(title="Seller", objectives="Sell")
    ProfileAttribute.objects.bulk_create(
        [
            ProfileAttribute(profile=profile, category="technical", description="a", weight=3),
            ProfileAttribute(profile=profile, category="technical", description="b", weight=1),
            ProfileAttribute(profile=profile, category="business", description="c", weight=2),
            ProfileAttribute(profile=profile, category="lifestyle", description="d", weight=5),
        ]
    )
    q1 = Question.objects.create(text="1", measures=["technical"], look_for="x")
    q2 = Question.objects.create(text="2", measures=["technical", "business"], look_for="x")
    q3 = Question.objects.create(text="3", measures=["business", "maturity"], look_for="x")
    for i, q in enumerate((q1, q2, q3)):
        PlannedQuestion.objects.create(profile=profile, question=q, position=i)
    opening = services.opening_create(
        title="o",
        profile=profile,
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
        panel=[],
        actor=manager,
    )
    candidate = _candidate(opening, manager)
    services.interview_record(
        candidate=candidate,
        ratings={q1.pk: (5, ""), q2.pk: (2, ""), q3.pk: (4, "")},
        interviewer=manager,
    )
    result = services.interview_rollup(candidate)
    # technical: (5+2)/2 = 3.5, weight 4; business: (2+4)/2 = 3.0, weight 2;
    # lifestyle weighted 5 but unrated, so it does not count; interpersonal: no weight.
    assert result.by_category == {
        "technical": Decimal("3.50"),
        "business": Decimal("3.00"),
        "interpersonal": None,
        "lifestyle": None,
    }
    assert result.weights == {"technical": 4, "business": 2, "interpersonal": 0, "lifestyle": 5}
    # (3.5*4 + 3.0*2) / 6 = 20/6 = 3.33
    assert result.overall == Decimal("3.33")


def test_a_rating_out_of_range_is_refused_and_nothing_is_saved(
    opening: Opening, manager: User
) -> None:
    candidate = _candidate(opening, manager)
    q = opening.profile.plan.values_list("question_id", flat=True)[0]
    with pytest.raises(ValidationError):
        services.interview_record(candidate=candidate, ratings={q: (6, "")}, interviewer=manager)
    response = client_for(manager).post(
        reverse("hiring:interview", args=[candidate.uuid]), {f"q{q}": "0"}
    )
    assert response.status_code == 400
    assert "Give a whole number from 1 to 5." in response.content.decode()
    assert not InterviewRating.objects.exists()


def test_a_panel_member_sees_no_other_scores_until_submitting_their_own(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    first, second = panelists
    candidate = _candidate(opening, manager, stage=Stage.AUDITION)
    services.audition_score_submit(
        candidate=candidate,
        panelist=first,
        scores=SCORES,
        would_buy=True,
        notes="Secret note from the first",
    )
    client = client_for(second)
    for name in ("hiring:audition", "hiring:candidate"):
        page = client.get(reverse(name, args=[candidate.uuid])).content.decode()
        assert "Secret note from the first" not in page
        assert "10/12" not in page
    compare = client.get(reverse("hiring:compare", args=[opening.uuid])).content.decode()
    assert "hidden until you score" in compare

    response = client.post(
        reverse("hiring:audition", args=[candidate.uuid]),
        {**dict.fromkeys(SCORES, "1"), "would_buy": "no"},
    )
    assert response.status_code == 302
    page = client.get(reverse("hiring:audition", args=[candidate.uuid])).content.decode()
    assert "Secret note from the first" in page
    summary = services.audition_summary(candidate)
    assert (summary["audition_low"], summary["audition_high"]) == (4, 10)
    assert summary["audition_mean"] == 7
    assert summary["audition_spread"] == 3
    assert summary["audition_would_buy"] == 1


def test_an_audition_score_out_of_range_gives_a_field_error_and_saves_nothing(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    candidate = _candidate(opening, manager, stage=Stage.AUDITION)
    response = client_for(panelists[0]).post(
        reverse("hiring:audition", args=[candidate.uuid]),
        {**dict.fromkeys(SCORES, "3"), "technical_clarity": "4", "would_buy": "yes"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["technical_clarity"]
    assert not AuditionScore.objects.exists()


def test_hiring_creates_the_user_with_the_role_and_enrols_them(
    opening: Opening, manager: User
) -> None:
    candidate = _candidate(opening, manager, stage=Stage.DECISION)
    response = client_for(manager).post(
        reverse("hiring:hire", args=[candidate.uuid]),
        {"username": "ada.l", "reason": "Best audition and writing.", "manager": manager.pk},
    )
    assert response.status_code == 302
    user = User.objects.get(username="ada.l")
    assert user.roles == [Role.ACCOUNT_MANAGER]
    assert user.manager == manager
    assert Enrollment.objects.filter(person=user, closed_on__isnull=True).exists()
    candidate.refresh_from_db()
    assert (candidate.stage, candidate.hired_user, candidate.decided_by) == (
        Stage.HIRED,
        user,
        manager,
    )


def test_a_username_clash_leaves_nothing_half_made(opening: Opening, manager: User) -> None:
    candidate = _candidate(opening, manager, stage=Stage.DECISION)
    UserFactory.create(username="ada.l")
    response = client_for(manager).post(
        reverse("hiring:hire", args=[candidate.uuid]),
        {"username": "ADA.L", "reason": "x", "manager": manager.pk},
    )
    assert response.status_code == 400
    assert response.context["hire_form"].errors["username"]
    candidate.refresh_from_db()
    assert candidate.stage == Stage.DECISION
    assert not Enrollment.objects.exists()


def test_a_failure_after_the_user_is_created_rolls_the_whole_hire_back(
    opening: Opening, manager: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _candidate(opening, manager, stage=Stage.DECISION)

    def broken(person: User, actor: User | None) -> None:
        raise RuntimeError("enrolment failed")

    monkeypatch.setattr(
        tcp_services, "PERSON_CHANGE_HOOKS", [*tcp_services.PERSON_CHANGE_HOOKS, broken]
    )
    with pytest.raises(RuntimeError):
        services.candidate_hire(candidate=candidate, username="ada.l", reason="x", actor=manager)
    assert not User.objects.filter(username="ada.l").exists()
    assert not Enrollment.objects.exists()
    candidate.refresh_from_db()
    assert (candidate.stage, candidate.hired_user) == (Stage.DECISION, None)
    assert not AuditLogEntry.objects.filter(action="candidate.hire").exists()


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [("cv.exe", 10, "Attach a PDF"), ("cv.pdf", services.DOCUMENT_MAX_BYTES + 1, "5 MB")],
)
def test_documents_of_the_wrong_type_or_too_large_are_refused(
    opening: Opening,
    manager: User,
    settings: Any,
    tmp_path: Any,
    name: str,
    size: int,
    message: str,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = client_for(manager).post(
        reverse("hiring:opening", args=[opening.uuid]),
        {"first_name": "Ada", "last_name": "L", "cv": SimpleUploadedFile(name, b"x" * size)},
    )
    assert response.status_code == 400
    assert message in str(response.context["form"].errors["cv"])
    assert not Candidate.objects.exists()


def test_documents_download_as_attachments_only_for_those_allowed(
    opening: Opening,
    manager: User,
    panelists: list[User],
    leadership: User,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    candidate = services.candidate_add(
        opening=opening,
        first_name="Ada",
        last_name="L",
        cv=SimpleUploadedFile("cv.pdf", b"%PDF-1"),
        actor=manager,
    )
    url = reverse("hiring:document", args=[candidate.uuid, "cv"])
    response = client_for(panelists[0]).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert client_for(leadership).get(url).status_code == 404


def test_erasure_removes_personal_data_and_files_and_keeps_anonymous_scores(
    opening: Opening,
    manager: User,
    panelists: list[User],
    settings: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    candidate = services.candidate_add(
        opening=opening,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@x.org",
        cv=SimpleUploadedFile("cv.pdf", b"%PDF-1"),
        actor=manager,
    )
    path = candidate.cv.path
    Candidate.objects.filter(pk=candidate.pk).update(stage=Stage.AUDITION)
    services.audition_score_submit(
        candidate=candidate, panelist=panelists[0], scores=SCORES, would_buy=True
    )
    with pytest.raises(ValidationError):
        services.candidate_erase(candidate=candidate, actor=manager)
    services.candidate_advance(
        candidate=candidate, stage=Stage.REJECTED, reason="Weaker audition", actor=manager
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.candidate_erase(candidate=candidate, actor=manager)
    candidate.refresh_from_db()
    assert (candidate.first_name, candidate.last_name, candidate.email, candidate.cv.name) == (
        "",
        "",
        "",
        "",
    )
    import os

    assert not os.path.exists(path)
    assert AuditionScore.objects.filter(candidate=candidate).count() == 1
    assert not AuditLogEntry.objects.filter(object_repr__contains="Lovelace").exists()


def test_outsiders_and_sales_leadership_get_404_on_every_page(
    opening: Opening, manager: User, outsider: User, leadership: User
) -> None:
    candidate = _candidate(opening, manager, stage=Stage.DECISION)
    services.disc_record(
        candidate=candidate,
        scores={"dominance": 70, "influence": 60, "steadiness": 20, "conscientiousness": 40},
        actor=manager,
    )
    gets = [
        reverse("hiring:opening", args=[opening.uuid]),
        reverse("hiring:compare", args=[opening.uuid]),
        reverse("hiring:candidate", args=[candidate.uuid]),
        reverse("hiring:audition", args=[candidate.uuid]),
        reverse("hiring:disc_chart", args=[candidate.uuid]),
    ]
    posts = [
        reverse(f"hiring:{n}", args=[candidate.uuid])
        for n in ("interview", "deliverable", "disc", "stage", "hire", "erase")
    ]
    for user in (outsider, leadership):
        client = client_for(user)
        for url in gets:
            assert client.get(url).status_code == 404, url
        for url in posts:
            assert client.post(url, {"username": "x", "reason": "x"}).status_code == 404, url
    assert Candidate.objects.get().stage == Stage.DECISION
    assert client_for(outsider).get(reverse("hiring:openings")).context["page"].paginator.count == 0


def test_a_panel_member_sees_the_candidate_but_cannot_change_it(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    candidate = _candidate(opening, manager)
    client = client_for(panelists[0])
    assert client.get(reverse("hiring:candidate", args=[candidate.uuid])).status_code == 200
    response = client.post(reverse("hiring:stage", args=[candidate.uuid]), {"stage": "interview"})
    assert response.status_code == 404
    assert Candidate.objects.get().stage == Stage.SCREENING


def test_pages_refuse_the_wrong_method(opening: Opening, manager: User) -> None:
    candidate = _candidate(opening, manager)
    client = client_for(manager)
    assert client.get(reverse("hiring:hire", args=[candidate.uuid])).status_code == 405
    assert client.post(reverse("hiring:compare", args=[opening.uuid])).status_code == 405
    assert client.get(reverse("hiring:attach", args=[candidate.uuid])).status_code == 405
    assert client.put(reverse("hiring:panel", args=[opening.uuid])).status_code == 405
    assert client.put(reverse("hiring:erase", args=[candidate.uuid])).status_code == 405


def test_the_pipeline_moves_one_step_at_a_time_and_records_the_timeline(
    opening: Opening, manager: User
) -> None:
    candidate = _candidate(opening, manager)
    client = client_for(manager)
    url = reverse("hiring:stage", args=[candidate.uuid])
    assert client.post(url, {"stage": "decision"}).status_code == 400
    assert client.post(url, {"stage": "interview"}).status_code == 302
    page = client.get(reverse("hiring:candidate", args=[candidate.uuid])).content.decode()
    assert "moved the candidate on" in page
    assert client.post(url, {"stage": "rejected"}).status_code == 400
    assert Candidate.objects.get().stage == Stage.INTERVIEW


def test_the_comparison_ranks_candidates_and_keeps_its_query_count(
    opening: Opening, manager: User, django_assert_max_num_queries: Any
) -> None:
    questions = list(opening.profile.plan.values_list("question_id", flat=True))
    client = client_for(manager)
    url = reverse("hiring:compare", args=[opening.uuid])

    def add(name: str, rating: int) -> None:
        c = _candidate(opening, manager, name=name, stage=Stage.AUDITION)
        services.interview_record(
            candidate=c, ratings=dict.fromkeys(questions, (rating, "")), interviewer=manager
        )

    add("Low", 2)
    add("High", 5)
    with django_assert_max_num_queries(12):
        rows = client.get(url).context["rows"]
    assert [r["candidate"].first_name for r in rows] == ["High", "Low"]
    rows = client.get(url + "?sort=-overall").context["rows"]
    assert [r["candidate"].first_name for r in rows] == ["Low", "High"]
    for n in range(5):
        add(f"More{n}", 3)
    with django_assert_max_num_queries(12):
        client.get(url)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("hiring:openings")).status_code == 200


def test_the_disc_chart_is_an_svg_and_names_the_dominant_quadrants(
    opening: Opening, manager: User
) -> None:
    candidate = _candidate(opening, manager)
    disc = services.disc_record(
        candidate=candidate,
        scores={"dominance": 70, "influence": 66, "steadiness": 20, "conscientiousness": 40},
        actor=manager,
    )
    assert disc.dominant() == ["Dominance", "Influence"]
    response = client_for(manager).get(reverse("hiring:disc_chart", args=[candidate.uuid]))
    assert response["Content-Type"] == "image/svg+xml"
    response = client_for(manager).post(
        reverse("hiring:disc", args=[candidate.uuid]),
        {"dominance": "101", "influence": "1", "steadiness": "1", "conscientiousness": "1"},
    )
    assert response.status_code == 400
    candidate.disc.refresh_from_db()
    assert candidate.disc.dominance == 70


def test_the_demo_opens_two_roles_with_candidates_at_every_kind_of_stage() -> None:
    from hiring import demo

    UserFactory.create(username="hm.harper", roles=[Role.HIRING_MANAGER, Role.SALES_LEADERSHIP])
    UserFactory.create(roles=[Role.SALES_LEADERSHIP])
    demo.build(None, [], [])  # type: ignore[arg-type]
    demo.build(None, [], [])  # type: ignore[arg-type]  # rebuilt: replaced, not added
    stages = {
        opening.title: sorted(opening.candidates.values_list("stage", flat=True))
        for opening in Opening.objects.all()
    }
    assert stages == {
        demo.DEMO_TITLE: [Stage.AUDITION, Stage.INTERVIEW, Stage.SCREENING],
        demo.PARTNER_TITLE: [Stage.DECISION, Stage.REJECTED],
    }
    deciding = Candidate.objects.get(stage=Stage.DECISION)
    assert deciding.audition_scores.count() == 2
    assert services.interview_rollup(deciding).overall is not None
    assert Candidate.objects.get(stage=Stage.REJECTED).decision_reason
