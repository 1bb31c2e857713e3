"""A person's status from their results and the calendar, on its boundary days: on track,
behind the day after a module's month ends unpassed, overdue the day after the due date,
certified from the day the last module is passed. And coverage, counted in SQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Value

from certification import services
from certification.models import (
    AddMonths,
    Curriculum,
    Enrollment,
    Module,
    ModuleResult,
    Status,
    add_months,
)
from tcp.models import Role, User
from tests.certification.conftest import START, modules_of, pass_module
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
COUNTS = ("passed", "modules")


def _status(enrollment: Enrollment, on: dt.date) -> str:
    return enrollment.status_on(on)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2024, 3, 4), 9, dt.date(2024, 12, 4)),
        (dt.date(2024, 5, 31), 9, dt.date(2025, 2, 28)),
        (dt.date(2023, 5, 31), 9, dt.date(2024, 2, 29)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2024, 8, 31), 9, dt.date(2025, 5, 31)),
        (dt.date(2024, 12, 15), 1, dt.date(2025, 1, 15)),
    ],
)
def test_calendar_months_end_on_the_last_day_of_a_shorter_month_in_python_and_sql(
    start: dt.date, months: int, expected: dt.date, curriculum: Curriculum
) -> None:
    assert add_months(start, months) == expected
    in_sql = (
        Curriculum.objects.annotate(day=AddMonths(Value(start), Value(months)))
        .values_list("day", flat=True)
        .first()
    )
    assert in_sql == expected


def test_an_enrolment_on_the_31st_of_may_is_due_on_the_last_day_of_february(
    alex: User,
) -> None:
    enrollment = services.enrollment_open(person=alex, actor=None, on=dt.date(2024, 5, 31))
    assert enrollment.due_on == dt.date(2025, 2, 28)
    assert _status(enrollment, dt.date(2025, 2, 28)) != Status.OVERDUE
    assert _status(enrollment, dt.date(2025, 3, 1)) == Status.OVERDUE


def test_a_new_enrolment_is_on_track(enrollment: Enrollment) -> None:
    assert enrollment.due_on == dt.date(2024, 12, 4)
    assert _status(enrollment, START) == Status.ON_TRACK


def test_a_module_unpassed_on_its_due_day_is_not_behind_yet_and_is_the_day_after(
    enrollment: Enrollment,
) -> None:
    month_one_due = dt.date(2024, 4, 4)
    assert _status(enrollment, month_one_due) == Status.ON_TRACK
    assert _status(enrollment, month_one_due + DAY) == Status.BEHIND


def test_passing_the_months_modules_on_their_due_day_keeps_the_person_on_track(
    enrollment: Enrollment, assessor: User
) -> None:
    month_one_due = dt.date(2024, 4, 4)
    for module in modules_of(enrollment):
        if module.month == 1:
            pass_module(enrollment, module, month_one_due, assessor)
    assert _status(enrollment, month_one_due + DAY) == Status.ON_TRACK
    # Month two's module, due on 4 May, passed on 10 May: behind until that day.
    month_two = next(m for m in modules_of(enrollment) if m.month == 2)
    pass_module(enrollment, month_two, dt.date(2024, 5, 10), assessor)
    assert _status(enrollment, dt.date(2024, 5, 4)) == Status.ON_TRACK
    assert _status(enrollment, dt.date(2024, 5, 9)) == Status.BEHIND
    assert _status(enrollment, dt.date(2024, 5, 10)) == Status.ON_TRACK


def test_a_fail_does_not_count_and_a_later_pass_does(
    enrollment: Enrollment, assessor: User
) -> None:
    module = modules_of(enrollment)[0]
    pass_module(enrollment, module, dt.date(2024, 3, 20), assessor, score=module.pass_mark - 1)
    assert _status(enrollment, dt.date(2024, 4, 5)) == Status.BEHIND
    pass_module(enrollment, module, dt.date(2024, 4, 10), assessor)
    others = [m for m in modules_of(enrollment) if m.month == 1 and m != module]
    for other in others:
        pass_module(enrollment, other, dt.date(2024, 4, 10), assessor)
    assert _status(enrollment, dt.date(2024, 4, 9)) == Status.BEHIND
    assert _status(enrollment, dt.date(2024, 4, 10)) == Status.ON_TRACK


def test_a_behind_enrolment_becomes_overdue_the_day_after_its_due_date(
    enrollment: Enrollment,
) -> None:
    assert _status(enrollment, dt.date(2024, 12, 4)) == Status.BEHIND
    assert _status(enrollment, dt.date(2024, 12, 5)) == Status.OVERDUE


def test_a_person_is_certified_from_the_day_the_last_module_is_passed(
    enrollment: Enrollment, assessor: User
) -> None:
    modules = modules_of(enrollment)
    for module in modules[:-1]:
        pass_module(enrollment, module, module.due_for(START), assessor)
    last = modules[-1]
    last_day = dt.date(2024, 11, 20)
    pass_module(enrollment, last, last_day, assessor)

    enrollment.refresh_from_db()
    assert enrollment.certified_on == last_day
    assert _status(enrollment, last_day - DAY) == Status.ON_TRACK
    assert _status(enrollment, last_day) == Status.CERTIFIED
    # Certified stays certified after the due date.
    assert _status(enrollment, dt.date(2030, 1, 1)) == Status.CERTIFIED


def test_certified_late_is_overdue_until_the_day_of_the_last_pass(
    enrollment: Enrollment, assessor: User
) -> None:
    late_day = dt.date(2024, 12, 10)
    for module in modules_of(enrollment):
        pass_module(enrollment, module, late_day, assessor)
    assert _status(enrollment, late_day - DAY) == Status.OVERDUE
    assert _status(enrollment, late_day) == Status.CERTIFIED


def test_progress_counts_the_modules_passed_out_of_the_curriculums(
    enrollment: Enrollment, assessor: User
) -> None:
    def counts() -> tuple[int, int]:
        row = Enrollment.objects.filter(pk=enrollment.pk).with_status(START).values(*COUNTS)
        return row[0]["passed"], row[0]["modules"]

    assert counts() == (0, Module.objects.count())
    pass_module(enrollment, modules_of(enrollment)[0], START, assessor)
    # A second sitting of a passed module is refused, so passed counts modules.
    assert ModuleResult.objects.filter(enrollment=enrollment).count() == 1
    assert counts() == (1, Module.objects.count())


# Coverage ----------------------------------------------------------------------------------


def _person(curriculum: Curriculum, start: dt.date, role: str = Role.ACCOUNT_MANAGER) -> Enrollment:
    person = UserFactory.create(roles=[role])
    return services.enrollment_open(person=person, actor=None, on=start)


def test_coverage_counts_each_status_of_the_staff_enrolled_that_day(
    curriculum: Curriculum, assessor: User
) -> None:
    on = dt.date(2025, 1, 10)
    certified = _person(curriculum, dt.date(2024, 1, 8))
    for module in modules_of(certified):
        pass_module(certified, module, dt.date(2024, 6, 3), assessor)
    _person(curriculum, dt.date(2024, 12, 16))  # on track: nothing due yet
    _person(curriculum, dt.date(2024, 11, 4))  # behind: month one ended on 4 December
    _person(curriculum, dt.date(2024, 4, 1))  # overdue since 2 January
    left = _person(curriculum, dt.date(2024, 2, 5))
    services.enrollment_close(enrollment=left, actor=None, on=dt.date(2024, 9, 1), reason="left")
    _person(curriculum, dt.date(2025, 2, 3))  # not enrolled yet on that day

    coverage = services.certification_coverage(on=on)

    assert {k: coverage[k] for k in ("staff", "certified", "on_track", "behind", "overdue")} == {
        "staff": 4,
        "certified": 1,
        "on_track": 1,
        "behind": 1,
        "overdue": 1,
    }
    assert coverage["certified_pct"] == Decimal("25.0")
    assert coverage["overdue_pct"] == Decimal("25.0")
    # On the day the leaver's enrolment closed they no longer count; the day before they do.
    assert services.certification_coverage(on=dt.date(2024, 9, 1))["staff"] == 2
    assert services.certification_coverage(on=dt.date(2024, 8, 31))["staff"] == 3


def test_coverage_without_staff_is_zero_not_an_error(curriculum: Curriculum) -> None:
    coverage = services.certification_coverage(on=dt.date(2024, 1, 1))
    assert coverage["staff"] == 0
    assert coverage["certified_pct"] == Decimal(0)


def test_coverage_is_one_query(curriculum: Curriculum, django_assert_num_queries: Any) -> None:
    for start in (dt.date(2024, 1, 8), dt.date(2024, 6, 3), dt.date(2024, 9, 2)):
        _person(curriculum, start)
    with django_assert_num_queries(1):
        services.certification_coverage(on=dt.date(2024, 10, 1))


def test_the_daily_job_marks_each_changed_status_once(
    enrollment: Enrollment, assessor: User
) -> None:
    from tcp.models import AuditLogEntry

    assert services.statuses_mark(on=dt.date(2024, 4, 5)) == 1
    assert services.statuses_mark(on=dt.date(2024, 4, 5)) == 0
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_since) == (Status.BEHIND, dt.date(2024, 4, 5))
    assert AuditLogEntry.objects.filter(action="enrollment.status").count() == 1
