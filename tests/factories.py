from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import factory
from django.contrib.auth.hashers import make_password

from engagements.models import Account, AccountTeamMember, Contact, Engagement, ProductLine, Stage
from tcp.models import Role, User

PASSWORD = "correct-horse-battery"


@cache
def _password_hash() -> str:
    # Hashing is deliberately slow; every test user shares one hash.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    roles = factory.LazyFunction(lambda: [Role.ACCOUNT_MANAGER])
    password = factory.LazyFunction(_password_hash)


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n:03d}")
    industry = "healthcare"
    region = "uk_ireland"
    segment = "established"


class TeamMemberFactory(factory.django.DjangoModelFactory[AccountTeamMember]):
    class Meta:
        model = AccountTeamMember

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    role = "account_manager"


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    buyer_role = "economic"


class ProductLineFactory(factory.django.DjangoModelFactory[ProductLine]):
    class Meta:
        model = ProductLine
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Line {n}")


class EngagementFactory(factory.django.DjangoModelFactory[Engagement]):
    class Meta:
        model = Engagement

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Engagement {n:03d}")
    stage = Stage.DISCOVERY
    commercial_lead = factory.SubFactory(UserFactory)
    value = Decimal("250000.00")
    opened_on = dt.date(2024, 1, 15)


def contracted_values() -> dict[str, Any]:
    """What an engagement needs before it can be contracted."""
    return {
        "value": Decimal("480000.00"),
        "contracted_start": dt.date(2024, 4, 1),
        "contracted_end": dt.date(2024, 12, 20),
        "contracted_effort_days": Decimal("400.0"),
    }
