from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import factory
from django.contrib.auth.hashers import make_password

from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis, FailureScenario
from engagements.models import (
    Account,
    AccountTeamMember,
    Contact,
    Engagement,
    OneOnOne,
    ProductLine,
    Stage,
)
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


class ProfileFactory(factory.django.DjangoModelFactory[ClientIntelligenceProfile]):
    class Meta:
        model = ClientIntelligenceProfile

    account = factory.SubFactory(AccountFactory)
    operational_constraints = "Clinics open 07:00-22:00 every day; no change freezes."


class AnalysisFactory(factory.django.DjangoModelFactory[FailureCostAnalysis]):
    class Meta:
        model = FailureCostAnalysis

    engagement = factory.SubFactory(EngagementFactory)
    interviewer = factory.LazyAttribute(lambda a: a.engagement.commercial_lead)
    held_on = factory.LazyFunction(dt.date.today)


class ScenarioFactory(factory.django.DjangoModelFactory[FailureScenario]):
    """A scenario quantified on all three dimensions."""

    class Meta:
        model = FailureScenario

    analysis = factory.SubFactory(AnalysisFactory)
    what_fails = factory.Sequence(lambda n: f"Failure {n}")
    sites_affected = 40
    disruption_hours = Decimal("4")
    cost_per_hour = Decimal("10000")
    cost_per_incident = Decimal("5000")
    reputational_severity = 3
    likelihood_per_year = Decimal("0.5")


def complete_discovery(engagement: Engagement) -> FailureCostAnalysis:
    """Make discovery complete for `engagement`: a complete profile for its account (economic
    and technical buyers named, a growth target, no regulation applies) and one complete
    Failure-Cost Analysis with one quantified scenario."""
    from django.utils import timezone

    from discovery.models import GrowthTarget, Stakeholder

    profile, _ = ClientIntelligenceProfile.objects.get_or_create(
        account=engagement.account,
        defaults={
            "operational_constraints": "Sites run around the clock.",
            "no_regulatory_obligations": True,
        },
    )
    GrowthTarget.objects.create(
        profile=profile,
        metric="Daily orders",
        baseline=Decimal(3500),
        target=Decimal(7000),
        horizon_year=timezone.localdate().year + 4,
    )
    for role in ("economic", "technical"):
        contact = ContactFactory.create(account=engagement.account, buyer_role=role)
        Stakeholder.objects.create(profile=profile, contact=contact, buyer_role=role)
    analysis = AnalysisFactory.create(engagement=engagement, completed_at=timezone.now())
    ScenarioFactory.create(analysis=analysis)
    return analysis


class OneOnOneFactory(factory.django.DjangoModelFactory[OneOnOne]):
    """A 1:1 written straight to the database, with no agenda: the history a new 1:1 reads."""

    class Meta:
        model = OneOnOne

    manager = factory.SubFactory(UserFactory)
    seller = factory.SubFactory(UserFactory, manager=factory.SelfAttribute("..manager"))
    held_on = factory.LazyFunction(dt.date.today)
