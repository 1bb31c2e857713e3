"""Enrolment follows the role: a commercial role enrols the person the same day in the current
curriculum, due nine calendar months later; losing the role or leaving closes it; one open
enrolment per person, kept by the database even under concurrent grants; a new curriculum
version leaves running enrolments as they are."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from certification import services
from certification.models import (
    ClosedReason,
    Curriculum,
    Enrollment,
    Module,
    Track,
    add_months,
)
from tcp.models import COMMERCIAL_ROLES, AuditLogEntry, Role, User
from tcp.services import user_set_active, user_set_roles
from tests.certification.conftest import START
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(curriculum: Curriculum) -> User:
    return UserFactory.create(username="newcomer", roles=[Role.DELIVERY_MANAGER])


def test_a_commercial_role_enrols_the_person_the_same_day_due_nine_months_later(
    newcomer: User, administrator: User, curriculum: Curriculum
) -> None:
    today = timezone.localdate()
    user_set_roles(
        user=newcomer, roles=[Role.DELIVERY_MANAGER, Role.PARTNER_MANAGER], actor=administrator
    )

    enrollment = Enrollment.objects.get(person=newcomer)
    assert (enrollment.curriculum, enrollment.started_on, enrollment.due_on) == (
        curriculum,
        today,
        add_months(today, 9),
    )
    assert enrollment.closed_on is None
    assert AuditLogEntry.objects.filter(
        action="enrollment.open", object_id=str(enrollment.pk), actor=administrator
    ).exists()


@pytest.mark.parametrize("role", sorted(Role.values))
def test_only_the_commercial_roles_enrol(role: str, newcomer: User) -> None:
    user_set_roles(user=newcomer, roles=[role], actor=None)
    assert Enrollment.objects.filter(person=newcomer).exists() == (role in COMMERCIAL_ROLES)


def test_a_second_commercial_role_keeps_the_one_enrolment(newcomer: User) -> None:
    user_set_roles(user=newcomer, roles=[Role.ACCOUNT_MANAGER], actor=None)
    user_set_roles(user=newcomer, roles=[Role.ACCOUNT_MANAGER, Role.SALES_LEADERSHIP], actor=None)
    assert Enrollment.objects.filter(person=newcomer).count() == 1


def test_losing_the_commercial_role_closes_the_enrolment(newcomer: User) -> None:
    user_set_roles(user=newcomer, roles=[Role.ACCOUNT_MANAGER], actor=None)
    user_set_roles(user=newcomer, roles=[Role.DELIVERY_MANAGER], actor=None)

    enrollment = Enrollment.objects.get(person=newcomer)
    assert enrollment.closed_on == timezone.localdate()
    assert enrollment.closed_reason == ClosedReason.ROLE


def test_leaving_the_company_closes_the_enrolment_and_coming_back_opens_a_new_one(
    newcomer: User,
) -> None:
    user_set_roles(user=newcomer, roles=[Role.ACCOUNT_MANAGER], actor=None)
    user_set_active(user=newcomer, active=False, actor=None)
    first = Enrollment.objects.get(person=newcomer)
    assert first.closed_reason == ClosedReason.LEFT

    user_set_active(user=newcomer, active=True, actor=None)
    assert Enrollment.objects.filter(person=newcomer).count() == 2
    assert Enrollment.objects.filter(person=newcomer, closed_on__isnull=True).count() == 1


def test_the_back_office_enrols_through_the_same_services(
    newcomer: User, administrator: User
) -> None:
    administrator.is_superuser = True
    administrator.save(update_fields=["is_superuser"])
    client = client_for(administrator)
    url = reverse("admin:tcp_user_change", args=[newcomer.pk])
    form = client.get(url).context["adminform"].form
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "username": newcomer.username,
            "roles": [Role.TECHNOLOGY_MANAGER],
            "is_active": "on",
            "date_joined_0": newcomer.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": newcomer.date_joined.strftime("%H:%M:%S"),
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data["manager"] = ""
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    assert Enrollment.objects.filter(person=newcomer, closed_on__isnull=True).count() == 1
    assert AuditLogEntry.objects.filter(action="user.roles", actor=administrator).exists()

    data.pop("is_active")
    assert client.post(url, data).status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_active is False
    assert Enrollment.objects.get(person=newcomer).closed_reason == ClosedReason.LEFT
    assert AuditLogEntry.objects.filter(action="user.active", actor=administrator).exists()


def test_the_database_refuses_a_second_open_enrolment(enrollment: Enrollment) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(
            person=enrollment.person,
            curriculum=enrollment.curriculum,
            started_on=START,
            due_on=enrollment.due_on,
        )
    # A closed one beside the open one is history, and allowed.
    Enrollment.objects.create(
        person=enrollment.person,
        curriculum=enrollment.curriculum,
        started_on=dt.date(2020, 1, 6),
        due_on=dt.date(2020, 10, 6),
        closed_on=dt.date(2020, 3, 1),
    )


def test_only_people_in_a_commercial_role_are_enrolled(newcomer: User) -> None:
    with pytest.raises(ValidationError):
        services.enrollment_open(person=newcomer, actor=None, on=START)
    assert not Enrollment.objects.exists()


# Concurrency: real transactions on separate connections -------------------------------------


def _in_threads(target: Any, count: int = 2) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target()
        except BaseException as error:  # the test reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_enrolments_of_one_person_end_with_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    curriculum = services.curriculum_install_default()
    person = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    # Both transactions look for an open enrolment before either inserts one.
    both_looked = threading.Barrier(2, timeout=10)
    lookup = services._open_enrollment

    found_none: list[int] = []

    def looked_up(who: User) -> Enrollment | None:
        found = lookup(who)
        if found is None:
            found_none.append(1)
            both_looked.wait()
        return found

    monkeypatch.setattr(services, "_open_enrollment", looked_up)

    def enrol() -> int:
        return services.enrollment_open(person=person, actor=None, on=START).pk

    first, second = _in_threads(enrol)

    # Both went for the insert; the constraint let one through and the other found it.
    assert len(found_none) == 2
    assert first == second
    assert Enrollment.objects.filter(person=person).count() == 1
    assert Enrollment.objects.get().curriculum == curriculum


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_role_grants_end_with_one_enrolment() -> None:
    services.curriculum_install_default()
    person = UserFactory.create(roles=[Role.DELIVERY_MANAGER])
    start = threading.Barrier(2, timeout=10)

    def grant() -> None:
        stale = User.objects.get(pk=person.pk)
        start.wait()
        user_set_roles(user=stale, roles=[Role.ACCOUNT_MANAGER], actor=None)

    _in_threads(grant)

    assert Enrollment.objects.filter(person=person).count() == 1
    assert AuditLogEntry.objects.filter(action="user.roles").count() == 1


# Curriculum versions ------------------------------------------------------------------------


def test_a_new_version_leaves_running_enrolments_on_theirs(
    enrollment: Enrollment, administrator: User, colleague: User
) -> None:
    original = enrollment.curriculum
    draft = services.curriculum_new_version(curriculum=original, actor=administrator)
    assert draft.version == original.version + 1
    assert not draft.is_published
    Module.objects.create(
        curriculum=draft,
        track=Track.QUALITY_ASSURANCE,
        month=9,
        title="Testing machine-learning systems",
        description="How to test what learns.",
    )
    # New enrolments keep joining the published version until the draft is published.
    assert services.curriculum_current() == original

    services.curriculum_publish(curriculum=draft, actor=administrator)
    newer = services.enrollment_open(person=colleague, actor=None, on=START)

    enrollment.refresh_from_db()
    assert enrollment.curriculum == original
    assert newer.curriculum == draft
    assert Module.objects.filter(curriculum=original).count() == 12
    assert Module.objects.filter(curriculum=draft).count() == 13
    assert AuditLogEntry.objects.filter(action="curriculum.publish", actor=administrator).exists()


def test_a_curriculum_missing_a_track_cannot_be_published(
    curriculum: Curriculum, administrator: User
) -> None:
    draft = services.curriculum_new_version(curriculum=curriculum, actor=administrator)
    draft.modules.filter(track=Track.BUSINESS_ANALYSIS).delete()
    with pytest.raises(ValidationError, match="Business Analysis"):
        services.curriculum_publish(curriculum=draft, actor=administrator)
    draft.refresh_from_db()
    assert not draft.is_published
    with pytest.raises(ValidationError, match="already published"):
        services.curriculum_publish(curriculum=curriculum, actor=administrator)


def test_a_published_curriculum_is_read_only_in_the_back_office(
    curriculum: Curriculum, administrator: User, rf: Any
) -> None:
    model_admin = admin.site._registry[Curriculum]
    request = rf.get("/")
    request.user = administrator
    administrator.is_superuser = True
    assert not model_admin.has_change_permission(request, curriculum)
    draft = services.curriculum_new_version(curriculum=curriculum, actor=administrator)
    assert model_admin.has_change_permission(request, draft)


def test_the_default_curriculum_covers_nine_months_and_three_tracks(
    curriculum: Curriculum,
) -> None:
    modules = list(curriculum.modules.all())
    assert {m.track for m in modules} == set(Track.values)
    assert {m.month for m in modules} == set(range(1, 10))
    assert curriculum.is_published
    # Installing again finds the one there.
    assert services.curriculum_install_default() == curriculum
    assert Curriculum.objects.count() == 1
