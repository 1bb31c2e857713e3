"""Recording assessment results: the pass mark decides, and bad input (a score out of range,
a module from another curriculum, a date outside the enrolment) is refused with an error
naming the field, leaving nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from certification import services
from certification.models import Curriculum, Enrollment, Module, ModuleResult, Track
from tcp.models import AuditLogEntry, Notification, Role, User
from tests.certification.conftest import START, modules_of, pass_module
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _record(enrollment: Enrollment, assessor: User, **overrides: Any) -> ModuleResult:
    values: dict[str, Any] = {
        "module": modules_of(enrollment)[0],
        "score": 80,
        "assessed_on": dt.date(2024, 3, 28),
        "assessor": assessor,
    }
    values.update(overrides)
    return services.module_result_record(enrollment=enrollment, **values)


def _nothing_written() -> None:
    assert not ModuleResult.objects.exists()
    assert not AuditLogEntry.objects.filter(action="result.record").exists()
    assert not Notification.objects.exists()


def test_a_score_at_the_pass_mark_passes_and_one_below_does_not(
    enrollment: Enrollment, assessor: User
) -> None:
    first, second = modules_of(enrollment)[:2]
    below = _record(enrollment, assessor, module=first, score=first.pass_mark - 1)
    at = _record(enrollment, assessor, module=second, score=second.pass_mark)
    assert (below.passed, at.passed) == (False, True)
    actors = set(
        AuditLogEntry.objects.filter(action="result.record").values_list("actor", flat=True)
    )
    assert actors == {assessor.pk}
    assert Notification.objects.filter(recipient=enrollment.person).count() == 2


@pytest.mark.parametrize("score", [-1, 101, 1000])
def test_a_score_out_of_range_is_refused_on_the_score(
    score: int, enrollment: Enrollment, assessor: User
) -> None:
    with pytest.raises(ValidationError) as refusal:
        _record(enrollment, assessor, score=score)
    assert refusal.value.message_dict == {"score": ["Give a whole number from 0 to 100."]}
    _nothing_written()


def test_a_module_of_another_curriculum_is_refused_on_the_module(
    enrollment: Enrollment, assessor: User, administrator: User
) -> None:
    other = services.curriculum_new_version(curriculum=enrollment.curriculum, actor=administrator)
    foreign = Module.objects.filter(curriculum=other).first()
    assert foreign is not None

    with pytest.raises(ValidationError) as refusal:
        _record(enrollment, assessor, module=foreign)

    assert list(refusal.value.message_dict) == ["module"]
    assert f"“{foreign.title}” is not in Alex Carter's curriculum" in str(refusal.value)
    _nothing_written()


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (START - dt.timedelta(days=1), "was enrolled on 4 Mar 2024"),
        (None, "future"),
    ],
    ids=["before the enrolment", "in the future"],
)
def test_an_assessment_date_outside_the_enrolment_is_refused(
    day: dt.date | None, message: str, enrollment: Enrollment, assessor: User
) -> None:
    day = day or timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError, match=message) as refusal:
        _record(enrollment, assessor, assessed_on=day)
    assert list(refusal.value.message_dict) == ["assessed_on"]
    _nothing_written()


def test_a_passed_module_is_not_sat_again_and_a_day_has_one_sitting(
    enrollment: Enrollment, assessor: User
) -> None:
    first, second = modules_of(enrollment)[:2]
    _record(enrollment, assessor, module=first)
    with pytest.raises(ValidationError, match="passed “How software fails” on 28 Mar 2024"):
        _record(enrollment, assessor, module=first, assessed_on=dt.date(2024, 4, 2))
    _record(enrollment, assessor, module=second, score=10)
    with pytest.raises(ValidationError, match="already has a result on 28 Mar 2024"):
        _record(enrollment, assessor, module=second, score=90)
    assert ModuleResult.objects.count() == 2


def test_nobody_assesses_themselves_and_only_assessors_assess(
    enrollment: Enrollment, assessor: User, colleague: User, manager: User
) -> None:
    with pytest.raises(PermissionDenied):
        _record(enrollment, enrollment.person)
    for outsider in (colleague, manager):
        with pytest.raises(PermissionDenied):
            _record(enrollment, outsider)
    leader = UserFactory.create(roles=[Role.SALES_LEADERSHIP])
    own = services.enrollment_open(person=leader, actor=None, on=START)
    with pytest.raises(PermissionDenied):
        _record(own, leader)
    _nothing_written()


def test_a_closed_enrolment_takes_no_more_results(enrollment: Enrollment, assessor: User) -> None:
    services.enrollment_close(
        enrollment=enrollment, actor=None, on=dt.date(2024, 6, 1), reason="left"
    )
    with pytest.raises(ValidationError, match="closed on 1 Jun 2024"):
        _record(enrollment, assessor)
    _nothing_written()


def test_the_last_pass_certifies_and_removing_a_result_takes_it_back(
    enrollment: Enrollment, assessor: User
) -> None:
    modules = modules_of(enrollment)
    for module in modules:
        pass_module(enrollment, module, module.due_for(START) - dt.timedelta(days=3), assessor)
    enrollment.refresh_from_db()
    assert enrollment.certified_on == modules[-1].due_for(START) - dt.timedelta(days=3)

    last = ModuleResult.objects.get(module=modules[-1])
    services.module_result_delete(result=last, actor=assessor)

    enrollment.refresh_from_db()
    assert enrollment.certified_on is None
    assert AuditLogEntry.objects.filter(action="result.delete", actor=assessor).exists()


def test_an_evidence_file_is_kept_with_the_result(
    enrollment: Enrollment, assessor: User, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    result = _record(
        enrollment,
        assessor,
        evidence_note="Reviewed a test plan",
        evidence_file=SimpleUploadedFile("plan-review.pdf", b"%PDF-1.4 review"),
    )
    assert str(result.evidence_file.name).startswith("certification/evidence/")
    assert result.evidence_file.read() == b"%PDF-1.4 review"


def test_evidence_a_browser_would_run_is_refused_and_nothing_is_recorded(
    enrollment: Enrollment, assessor: User, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(ValidationError) as refusal:
        _record(
            enrollment,
            assessor,
            evidence_file=SimpleUploadedFile("notes.html", b"<script>x</script>"),
        )
    assert "Attach a document or a picture" in refusal.value.message_dict["evidence_file"][0]
    assert not enrollment.results.exists()
    assert not any(tmp_path.rglob("*.html"))


def test_every_track_of_the_default_curriculum_has_modules(curriculum: Curriculum) -> None:
    for track in Track:
        assert curriculum.modules.filter(track=track).exists(), track
