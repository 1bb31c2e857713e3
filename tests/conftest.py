"""Personas and shared fixtures.

The personas around one account and its engagement:
- owner: an account manager on the account's team;
- outsider: an account manager on another account's team;
- delivery_manager: delivers the engagement, is not on the account team;
- leadership: sales leadership, sees everything;
- administrator: runs the organisation settings and the back office.
"""

from __future__ import annotations

from pathlib import Path

import factory.random
import pytest
from django.test import Client

from engagements.models import Account, Engagement
from tcp.models import OrganisationSettings, Role, User
from tests.factories import (
    AccountFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)

# Fixtures that start real worker processes (tests/workers.py), and the figures the proof
# battery measures (tests/figures.py).
pytest_plugins = ["tests.workers", "tests.figures"]


@pytest.fixture(autouse=True)
def _the_same_generated_data_on_every_run(request: pytest.FixtureRequest) -> None:
    """The names and text Faker makes up for the factories are seeded from the test's id:
    a clash between them and what a test looks for (a generated name containing the one it
    checks is absent) fails every run, not one run in many. Sequence numbers still follow
    the order the tests run in."""
    factory.random.reseed_random(request.node.nodeid)


@pytest.fixture
def organisation(db: None) -> OrganisationSettings:
    return OrganisationSettings.load()


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="owner", roles=[Role.ACCOUNT_MANAGER])


@pytest.fixture
def outsider(db: None) -> User:
    user = UserFactory.create(username="outsider", roles=[Role.ACCOUNT_MANAGER])
    TeamMemberFactory.create(
        user=user, account=AccountFactory.create(name="Someone else's account")
    )
    return user


@pytest.fixture
def delivery_manager(db: None) -> User:
    return UserFactory.create(username="delivery", roles=[Role.DELIVERY_MANAGER])


@pytest.fixture
def leadership(db: None) -> User:
    return UserFactory.create(username="leader", roles=[Role.SALES_LEADERSHIP])


@pytest.fixture
def administrator(db: None) -> User:
    return UserFactory.create(username="admin", roles=[Role.ADMINISTRATOR], is_staff=True)


@pytest.fixture
def account(owner: User) -> Account:
    account = AccountFactory.create(name="Northvale Radiology Network")
    TeamMemberFactory.create(account=account, user=owner, role="account_manager")
    return account


@pytest.fixture
def engagement(account: Account, owner: User, delivery_manager: User) -> Engagement:
    return EngagementFactory.create(
        account=account,
        name="PACS migration",
        commercial_lead=owner,
        delivery_manager=delivery_manager,
    )


@pytest.fixture
def discovered(engagement: Engagement) -> Engagement:
    """The engagement with its discovery complete (profile and one interview)."""
    complete_discovery(engagement)
    return engagement


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """A folder for what a test saves (screenshots), under test-results/<test name>/."""
    root = Path(request.config.rootpath) / "test-results" / request.node.name
    root.mkdir(parents=True, exist_ok=True)
    return root
