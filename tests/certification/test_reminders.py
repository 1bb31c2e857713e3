"""The daily job: it enrols and closes where the roles say so, marks statuses and e-mails
reminders for modules due within 14 days and for overdue people, at most once a week per
person; running it twice sends nothing more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail

from certification import services, tasks
from certification.models import ClosedReason, Enrollment, Reminder, Status
from tcp.celery import app as celery_app
from tcp.models import Role, User
from tests.certification.conftest import START, modules_of, pass_module
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Month one's modules are due on 4 April 2024, 14 days after this day.
FOURTEEN_DAYS_BEFORE = dt.date(2024, 3, 21)


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks queued after commit run at once, in this process."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = before


def _daily(on: dt.date, capture: Any) -> dict[str, int]:
    with capture(execute=True):
        return tasks.certification_daily.delay(on.isoformat()).get()


def test_a_module_due_in_14_days_is_reminded_and_one_due_in_15_is_not(
    enrollment: Enrollment,
) -> None:
    assert services.reminders_queue(on=FOURTEEN_DAYS_BEFORE - dt.timedelta(days=1)) == []
    assert len(services.reminders_queue(on=FOURTEEN_DAYS_BEFORE)) == 1


def test_running_the_daily_job_twice_sends_one_email(
    enrollment: Enrollment, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    first = _daily(FOURTEEN_DAYS_BEFORE, django_capture_on_commit_callbacks)
    second = _daily(FOURTEEN_DAYS_BEFORE, django_capture_on_commit_callbacks)

    assert (first["reminded"], second["reminded"]) == (1, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alex@example.com"]
    assert message.subject == "Certification: 2 modules due by 4 Apr 2024"
    assert "- Quality Assurance: How software fails: due 4 Apr 2024" in message.body
    assert Reminder.objects.get().sent_at is not None


def test_a_reminder_is_sent_once_even_when_its_task_runs_twice(enrollment: Enrollment) -> None:
    [reminder_id] = services.reminders_queue(on=FOURTEEN_DAYS_BEFORE)
    assert tasks.reminder_send(reminder_id) is True
    assert tasks.reminder_send(reminder_id) is False
    assert len(mail.outbox) == 1


def test_a_person_is_reminded_at_most_once_a_week(enrollment: Enrollment) -> None:
    assert len(services.reminders_queue(on=FOURTEEN_DAYS_BEFORE)) == 1
    six_days_later = FOURTEEN_DAYS_BEFORE + dt.timedelta(days=6)
    assert services.reminders_queue(on=six_days_later) == []
    assert len(services.reminders_queue(on=six_days_later + dt.timedelta(days=1))) == 1


def test_overdue_people_are_reminded_and_told_what_is_left(
    enrollment: Enrollment, assessor: User
) -> None:
    # Everything due in the last 14 days is passed: only being overdue brings a reminder.
    for module in modules_of(enrollment)[:-1]:
        pass_module(enrollment, module, dt.date(2024, 11, 20), assessor)
    on = dt.date(2024, 12, 30)

    [reminder_id] = services.reminders_queue(on=on)

    reminder = Reminder.objects.get(pk=reminder_id)
    assert reminder.subject == "Your certification is overdue (it was due on 4 Dec 2024)"
    assert "cannot be made commercial lead of a new engagement" in reminder.body
    assert "Steering a delivery" in reminder.body
    assert "How software fails" not in reminder.body


def test_nobody_certified_or_without_an_address_is_reminded(
    enrollment: Enrollment, assessor: User, curriculum: Any
) -> None:
    for module in modules_of(enrollment):
        pass_module(enrollment, module, dt.date(2024, 3, 20), assessor)
    silent = UserFactory.create(roles=[Role.ACCOUNT_MANAGER], email="")
    services.enrollment_open(person=silent, actor=None, on=START)
    assert services.reminders_queue(on=FOURTEEN_DAYS_BEFORE) == []


def test_the_daily_job_enrols_and_closes_what_the_roles_say(
    curriculum: Any, enrollment: Enrollment, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    # People who came in around the role service: a bulk import, a direct database edit.
    imported = UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER])
    User.objects.filter(pk=enrollment.person_id).update(roles=[Role.DELIVERY_MANAGER])
    on = dt.date(2024, 6, 3)

    first = _daily(on, django_capture_on_commit_callbacks)
    second = _daily(on, django_capture_on_commit_callbacks)

    # The imported technology manager and Alex's manager, who had never been enrolled.
    assert (first["opened"], first["closed"]) == (2, 1)
    assert (second["opened"], second["closed"], second["marked"]) == (0, 0, 0)
    assert Enrollment.objects.get(person=imported).started_on == on
    assert Enrollment.objects.get(person=enrollment.person.manager).started_on == on
    enrollment.refresh_from_db()
    assert (enrollment.closed_on, enrollment.closed_reason) == (on, ClosedReason.ROLE)


def test_the_daily_job_marks_statuses(
    enrollment: Enrollment, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    _daily(dt.date(2024, 12, 5), django_capture_on_commit_callbacks)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_since) == (Status.OVERDUE, dt.date(2024, 12, 5))
