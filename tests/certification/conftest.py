"""Certification personas and helpers.

- `curriculum`: the default curriculum (version 1), installed as on first use;
- `alex`: an account manager enrolled on `START` (a Monday in March 2024), reporting to
  `manager`, an account manager with one report;
- `assessor`: sales leadership, who records results; `colleague`: another account manager,
  with no say over Alex's certification.
"""

from __future__ import annotations

import datetime as dt

import pytest

from certification import services
from certification.models import Curriculum, Enrollment, Module
from tcp.models import Role, User
from tests.factories import UserFactory

START = dt.date(2024, 3, 4)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def curriculum(db: None) -> Curriculum:
    return services.curriculum_install_default()


@pytest.fixture
def manager(db: None) -> User:
    return UserFactory.create(
        username="manager", first_name="Mina", last_name="Manager", roles=[Role.ACCOUNT_MANAGER]
    )


@pytest.fixture
def alex(curriculum: Curriculum, manager: User) -> User:
    return UserFactory.create(
        username="alex",
        first_name="Alex",
        last_name="Carter",
        roles=[Role.ACCOUNT_MANAGER],
        manager=manager,
    )


@pytest.fixture
def enrollment(alex: User) -> Enrollment:
    return services.enrollment_open(person=alex, actor=None, on=START)


@pytest.fixture
def assessor(db: None) -> User:
    return UserFactory.create(
        username="assessor", first_name="Sam", last_name="Assessor", roles=[Role.SALES_LEADERSHIP]
    )


@pytest.fixture
def colleague(db: None) -> User:
    return UserFactory.create(username="colleague", roles=[Role.ACCOUNT_MANAGER])


def modules_of(enrollment: Enrollment) -> list[Module]:
    return list(Module.objects.filter(curriculum=enrollment.curriculum).order_by("month", "id"))


def pass_module(
    enrollment: Enrollment,
    module: Module,
    on: dt.date,
    assessor: User,
    score: int | None = None,
) -> None:
    services.module_result_record(
        enrollment=enrollment,
        module=module,
        score=module.pass_mark if score is None else score,
        assessed_on=on,
        assessor=assessor,
    )
