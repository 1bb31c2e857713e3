from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Exists, OuterRef

from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis
from discovery.services import discovery_blockers
from engagements.demo import ADOPTION
from engagements.models import Engagement

pytestmark = pytest.mark.django_db


def test_every_demo_engagement_proposed_since_adoption_has_complete_discovery() -> None:
    call_command("seed_demo")
    proposed = Engagement.objects.filter(proposal_on__gte=ADOPTION)
    assert proposed.count() > 100
    complete = FailureCostAnalysis.objects.complete().filter(engagement=OuterRef("pk"))
    assert not proposed.exclude(Exists(complete)).exists()
    profiles = ClientIntelligenceProfile.objects.with_counts().filter(
        account__engagements__in=proposed
    )
    assert all(profile.is_complete for profile in profiles.distinct())


def test_the_demo_shows_discovery_at_three_points_of_progress() -> None:
    call_command("seed_demo")
    radiology = Engagement.objects.get(name="Patient-record platform migration")
    lender = Engagement.objects.get(name="Borrower portal on cloud identity")
    insurer = Engagement.objects.get(name="Life and disability claims digitisation")

    assert discovery_blockers(engagement=radiology) == []
    assert radiology.never_events.count() == 2
    lender_gaps = [b.message for b in discovery_blockers(engagement=lender)]
    assert lender_gaps == [
        "Complete a Failure-Cost Analysis for this engagement: at least one failure scenario, "
        "each quantified on operational, financial and reputational cost."
    ]
    assert len(discovery_blockers(engagement=insurer)) == 6
