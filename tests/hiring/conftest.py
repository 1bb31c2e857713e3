"""Hiring personas: a hiring manager, two panel members from delivery, and an opening
on the starter profile with both on its panel."""

from __future__ import annotations

import pytest

from hiring import services
from hiring.models import Candidate, Opening
from tcp.models import Role, User
from tests.factories import UserFactory

SCORES = {
    "business_applicability": 3,
    "technical_clarity": 2,
    "audience_engagement": 3,
    "presentation_style": 2,
}


@pytest.fixture
def manager() -> User:
    return UserFactory.create(username="hiring", roles=[Role.HIRING_MANAGER])


@pytest.fixture
def panelists() -> list[User]:
    return [UserFactory.create(username=f"panel{n}", roles=[Role.DELIVERY_MANAGER]) for n in (1, 2)]


@pytest.fixture
def opening(manager: User, panelists: list[User]) -> Opening:
    profile = services.profile_create_starter(actor=manager)
    return services.opening_create(
        title="Technical seller",
        profile=profile,
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
        panel=panelists,
        actor=manager,
    )


def add_candidate(opening: Opening, manager: User, name: str = "Ada", stage: str = "") -> Candidate:
    candidate = services.candidate_add(
        opening=opening,
        first_name=name,
        last_name="Lovelace",
        email=f"{name}@x.org",
        actor=manager,
    )
    if stage:
        Candidate.objects.filter(pk=candidate.pk).update(stage=stage)
        candidate.refresh_from_db()
    return candidate
