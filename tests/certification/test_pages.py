"""The certification pages: my certification, a person's page, the team view, leadership,
coverage and the assessor page; who may open each, the wrong method, bad input leaving the
database as it was, and pinned query counts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certification import services
from certification.models import Curriculum, Enrollment, Module, ModuleResult
from tcp.models import Role, User
from tests.certification.conftest import HTMX, START, modules_of, pass_module
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WENT_FIRST = ("went_first",)


def _url(name: str, *args: Any) -> str:
    return reverse(f"certification:{name}", args=args)


def _bars(html: str) -> dict[str, str]:
    """Each progress bar's label and value."""
    return {
        label: value
        for value, label in re.findall(
            r'<progress class="completeness[^"]*" value="(\d+)" max="100" aria-label="([^"]+)"',
            html,
        )
    }


# My certification and a person's page ---------------------------------------------------------


def test_my_certification_shows_a_bar_per_track_and_what_is_due_next(
    enrollment: Enrollment, assessor: User
) -> None:
    qa_first = modules_of(enrollment)[0]
    pass_module(enrollment, qa_first, START, assessor)

    page = client_for(enrollment.person).get(_url("mine"))

    assert page.status_code == 200
    assert _bars(page.text) == {
        "All tracks: 1 of 12 modules passed": "8",
        "Quality Assurance: 1 of 4 modules passed": "25",
        "Project Management: 0 of 4 modules passed": "0",
        "Business Analysis: 0 of 4 modules passed": "0",
    }
    assert "Late:" in page.text
    assert "cannot be made commercial lead of a new engagement" in page.text
    assert page.context["progress"].status == "overdue"


def test_someone_outside_the_commercial_roles_has_nothing_to_take(
    delivery_manager: User,
) -> None:
    page = client_for(delivery_manager).get(_url("mine"))
    assert page.status_code == 200
    assert "No certification to take" in page.text


def test_a_persons_page_is_seen_by_them_their_manager_leadership_and_assessors(
    enrollment: Enrollment, manager: User, leadership: User, assessor: User, colleague: User
) -> None:
    url = _url("enrollment", enrollment.uuid)
    for viewer in (enrollment.person, manager, leadership, assessor):
        assert client_for(viewer).get(url).status_code == 200, viewer
    assert client_for(colleague).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 302  # to the login page


def test_certification_pages_refuse_the_wrong_method(
    enrollment: Enrollment, leadership: User
) -> None:
    client = client_for(leadership)
    for name, args in (
        ("mine", ()),
        ("enrollment", (enrollment.uuid,)),
        ("team", ()),
        ("leadership", ()),
        ("coverage", ()),
        ("assess_list", ()),
    ):
        assert client.post(_url(name, *args)).status_code == 405, name
    assert client.put(_url("assess", enrollment.uuid)).status_code == 405


# The team view ------------------------------------------------------------------------------


def _report(manager: User, start: dt.date, **names: str) -> Enrollment:
    person = UserFactory.create(roles=[Role.ACCOUNT_MANAGER], manager=manager, **names)
    return services.enrollment_open(person=person, actor=None, on=start)


def test_a_manager_sees_their_reports_and_filters_by_status(
    enrollment: Enrollment, manager: User, curriculum: Curriculum
) -> None:
    today = dt.date.today()
    _report(manager, today, first_name="Nia", last_name="New")
    someone_else = UserFactory.create(roles=[Role.ACCOUNT_MANAGER], first_name="Otto")
    services.enrollment_open(person=someone_else, actor=None, on=START)
    client = client_for(manager)

    page = client.get(_url("team"))
    assert [e.person.first_name for e in page.context["page"].object_list] == ["Alex", "Nia"]

    overdue = client.get(_url("team"), {"status": "overdue"})
    assert [e.person.first_name for e in overdue.context["page"].object_list] == ["Alex"]
    on_track = client.get(_url("team"), {"status": "on_track"}, headers=HTMX)
    assert "<html" not in on_track.text
    assert [e.person.first_name for e in on_track.context["page"].object_list] == ["Nia"]
    # A bad filter value is dropped, not an error.
    assert client.get(_url("team"), {"status": "asleep", "sort": "shoe"}).status_code == 200


@pytest.mark.parametrize(
    ("sort", "first"), [("name", "Alex"), ("-name", "Nia"), ("-started", "Nia"), ("due", "Alex")]
)
def test_the_team_view_sorts(
    sort: str, first: str, enrollment: Enrollment, manager: User, curriculum: Curriculum
) -> None:
    _report(manager, dt.date.today(), first_name="Nia", last_name="New")
    page = client_for(manager).get(_url("team"), {"sort": sort})
    assert page.context["page"].object_list[0].person.first_name == first


def test_leadership_sees_everyone_in_the_team_view(
    enrollment: Enrollment, leadership: User, curriculum: Curriculum
) -> None:
    _report(UserFactory.create(roles=[Role.ACCOUNT_MANAGER]), START)
    assert client_for(leadership).get(_url("team")).context["page"].paginator.count == 2


def test_someone_who_leads_nobody_has_no_team_view(colleague: User) -> None:
    assert client_for(colleague).get(_url("team")).status_code == 404


@pytest.mark.parametrize("rows", [2, 25])
def test_the_team_view_runs_a_fixed_number_of_queries(
    rows: int, manager: User, curriculum: Curriculum, django_assert_num_queries: Any
) -> None:
    for _ in range(rows):
        _report(manager, START)
    client = client_for(manager)
    client.get(_url("team"))
    with django_assert_num_queries(4):
        assert client.get(_url("team"), {"sort": "-progress"}).status_code == 200


# Leadership and coverage ---------------------------------------------------------------------


def test_leadership_sees_whether_each_manager_was_certified_before_their_team(
    enrollment: Enrollment, manager: User, leadership: User, assessor: User
) -> None:
    # The manager was enrolled after Alex and is not certified: not first.
    services.enrollment_open(person=manager, actor=None, on=START + dt.timedelta(days=7))
    page = client_for(leadership).get(_url("leadership"))
    [row] = [m for m in page.context["page"].object_list if m == manager]
    assert (row.team, row.team_enrolled_from, row.went_first) == (1, START, False)
    assert page.context["totals"]["with_team"] == 1
    assert page.context["totals"]["went_first"] == 0


def test_a_manager_certified_by_the_day_their_team_was_enrolled_went_first(
    manager: User, assessor: User, curriculum: Curriculum, leadership: User
) -> None:
    own = services.enrollment_open(person=manager, actor=None, on=dt.date(2023, 1, 9))
    for module in modules_of(own):
        pass_module(own, module, dt.date(2023, 9, 1), assessor)
    _report(manager, dt.date(2023, 9, 1))

    def went_first() -> bool | None:
        row = services.leadership_rows(on=dt.date.today()).values(*WENT_FIRST)
        return row.get(pk=manager.pk)["went_first"]

    assert went_first() is True
    # A day later than the team's first enrolment is not first.
    ModuleResult.objects.filter(enrollment=own).update(assessed_on=dt.date(2023, 9, 2))
    Enrollment.objects.filter(pk=own.pk).update(certified_on=dt.date(2023, 9, 2))
    assert went_first() is False


@pytest.mark.parametrize("rows", [2, 20])
def test_the_leadership_view_runs_a_fixed_number_of_queries(
    rows: int, leadership: User, curriculum: Curriculum, django_assert_num_queries: Any
) -> None:
    for _ in range(rows):
        _report(UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER]), START)
    client = client_for(leadership)
    client.get(_url("leadership"))
    with django_assert_num_queries(5):
        client.get(_url("leadership"), {"sort": "-certified"})


def test_only_leadership_and_administrators_see_leadership_and_coverage(
    enrollment: Enrollment, manager: User, administrator: User
) -> None:
    for name in ("leadership", "coverage"):
        assert client_for(manager).get(_url(name)).status_code == 404
        assert client_for(enrollment.person).get(_url(name)).status_code == 404
        assert client_for(administrator).get(_url(name)).status_code == 200


def test_coverage_shows_the_shares_on_the_chosen_day(
    enrollment: Enrollment, leadership: User
) -> None:
    client = client_for(leadership)
    on_time = client.get(_url("coverage"), {"on": "2024-06-01"})
    assert on_time.context["summary"]["staff"] == 1
    assert on_time.context["summary"]["behind"] == 1
    later = client.get(_url("coverage"))
    assert later.context["summary"]["overdue_pct"] == 100
    assert "100.0%" in later.text
    # A malformed day shows today's figures and the field's error.
    bad = client.get(_url("coverage"), {"on": "last tuesday"})
    assert bad.status_code == 200
    assert bad.context["summary"]["on"] == dt.date.today()
    assert "Enter a valid date." in bad.text


# Assessing -----------------------------------------------------------------------------------


def _result_post(module: Module, **values: Any) -> dict[str, Any]:
    return {
        "module": module.pk,
        "score": "85",
        "assessed_on": "2024-03-28",
        "evidence_note": "Reviewed a live test plan",
        **values,
    }


def test_an_assessor_records_a_result_and_the_page_shows_it(
    enrollment: Enrollment, assessor: User
) -> None:
    module = modules_of(enrollment)[0]
    client = client_for(assessor)
    assert client.get(_url("assess", enrollment.uuid)).status_code == 200

    response = client.post(_url("assess", enrollment.uuid), _result_post(module))

    assert response.status_code == 302
    result = ModuleResult.objects.get()
    assert (result.module, result.score, result.passed, result.assessor) == (
        module,
        85,
        True,
        assessor,
    )
    page = client.get(response["Location"]).text
    assert "How software fails: 85/100, passed." in page


def test_with_htmx_only_the_modules_row_and_the_progress_come_back(
    enrollment: Enrollment, assessor: User
) -> None:
    module = modules_of(enrollment)[0]
    response = client_for(assessor).post(
        _url("assess", enrollment.uuid), _result_post(module), headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert f'id="module-{module.pk}"' in response.text
    assert 'id="summary" aria-labelledby="summary-heading" hx-swap-oob="true"' in response.text
    assert _bars(response.text)["Quality Assurance: 1 of 4 modules passed"] == "25"


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_score_out_of_range_shows_beside_the_field_and_saves_nothing(
    headers: dict[str, str], enrollment: Enrollment, assessor: User
) -> None:
    module = modules_of(enrollment)[0]
    response = client_for(assessor).post(
        _url("assess", enrollment.uuid), _result_post(module, score="140"), headers=headers
    )
    assert response.status_code == (200 if headers else 400)
    assert f'id="m{module.pk}-score_error"' in response.text
    assert "Give a whole number from 0 to 100." in response.text
    assert not ModuleResult.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_module_of_another_curriculum_is_refused_and_saves_nothing(
    headers: dict[str, str], enrollment: Enrollment, assessor: User, administrator: User
) -> None:
    draft = services.curriculum_new_version(curriculum=enrollment.curriculum, actor=administrator)
    foreign = Module.objects.filter(curriculum=draft).first()
    assert foreign is not None

    response = client_for(assessor).post(
        _url("assess", enrollment.uuid), _result_post(foreign), headers=headers
    )

    assert response.status_code == (200 if headers else 400)
    refusal = re.search(r'<div id="assess-refusal"[^>]*>(.*?)</div></div>', response.text, re.S)
    assert refusal is not None
    assert f"“{foreign.title}” is not in Alex Carter&#x27;s curriculum" in refusal.group(1)
    if headers:
        assert response["HX-Reswap"] == "none"
    assert not ModuleResult.objects.exists()


def test_nobody_assesses_themselves_and_others_cannot_assess(
    enrollment: Enrollment, assessor: User, manager: User
) -> None:
    own = services.enrollment_open(person=assessor, actor=None, on=START)
    module = modules_of(own)[0]
    client = client_for(assessor)
    assert client.get(_url("assess", own.uuid)).status_code == 403
    assert client.post(_url("assess", own.uuid), _result_post(module)).status_code == 403
    assert _url("assess", own.uuid) not in client.get(_url("assess_list")).text
    for outsider in (manager, enrollment.person):
        other = client_for(outsider)
        assert other.get(_url("assess_list")).status_code == 404
        assert other.post(_url("assess", enrollment.uuid), _result_post(module)).status_code == 404
    assert not ModuleResult.objects.exists()


def test_the_assessor_list_finds_people_by_name(
    enrollment: Enrollment, assessor: User, curriculum: Curriculum
) -> None:
    other = UserFactory.create(roles=[Role.PARTNER_MANAGER], first_name="Priya")
    services.enrollment_open(person=other, actor=None, on=START)
    client = client_for(assessor)
    assert client.get(_url("assess_list")).context["page"].paginator.count == 2
    found = client.get(_url("assess_list"), {"q": "carter"}, headers=HTMX)
    assert [e.person for e in found.context["page"].object_list] == [enrollment.person]


@pytest.mark.parametrize("rows", [2, 25])
def test_the_assessor_list_runs_a_fixed_number_of_queries(
    rows: int, assessor: User, curriculum: Curriculum, django_assert_num_queries: Any
) -> None:
    for _ in range(rows):
        _report(UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER]), START)
    client = client_for(assessor)
    client.get(_url("assess_list"))
    with django_assert_num_queries(4):
        assert client.get(_url("assess_list")).status_code == 200


def test_a_result_recorded_by_mistake_is_removed(
    enrollment: Enrollment, assessor: User, colleague: User
) -> None:
    pass_module(enrollment, modules_of(enrollment)[0], START, assessor)
    result = ModuleResult.objects.get()
    url = _url("result_delete", result.uuid)
    assert client_for(colleague).post(url).status_code == 404
    client = client_for(assessor)
    assert "Remove this assessment result?" in client.get(url).text
    assert client.post(url).status_code == 302
    assert not ModuleResult.objects.exists()


def test_evidence_files_are_for_the_people_who_see_the_enrolment(
    enrollment: Enrollment, assessor: User, colleague: User, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    module = modules_of(enrollment)[0]
    upload = SimpleUploadedFile("review.pdf", b"%PDF-1.4 evidence", "application/pdf")
    client_for(assessor).post(
        _url("assess", enrollment.uuid), _result_post(module, evidence_file=upload)
    )
    result = ModuleResult.objects.get()
    url = _url("evidence", result.uuid)

    download = client_for(enrollment.person).get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 evidence"  # type: ignore[attr-defined]
    assert client_for(colleague).get(url).status_code == 404


def test_the_navigation_offers_certification_to_those_it_concerns(
    owner: User, delivery_manager: User
) -> None:
    assert f'href="{_url("mine")}">Certification</a>' in client_for(owner).get("/").text
    assert ">Certification</a>" not in client_for(delivery_manager).get("/").text
