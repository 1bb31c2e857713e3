"""The demo organisation's certification: the head of sales certified before anyone else was
enrolled, everyone certified by the end of 2019, and a few people behind or overdue today."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db.models import Min
from django.utils import timezone

from certification import services
from certification.models import Enrollment, Status
from engagements.models import CLOSED_STAGES, Engagement
from tcp.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_starts_with_leadership_and_covers_everyone_within_two_years() -> None:
    call_command("seed_demo")
    today = timezone.localdate()

    # Every commercial person is enrolled, once.
    commercial = User.objects.commercial().filter(is_active=True)
    assert Enrollment.objects.active().count() == commercial.count()
    assert not commercial.exclude(enrollments__closed_on__isnull=True).exists()

    head = Enrollment.objects.get(person__username="leader")
    assert head.started_on.year == 2017
    assert head.certified_on is not None
    first_other = Enrollment.objects.exclude(pk=head.pk).aggregate(m=Min("started_on"))["m"]
    assert head.certified_on <= first_other
    head_row = services.leadership_rows(on=today).get(username="leader")
    assert head_row.went_first is True  # type: ignore[attr-defined]

    assert services.certification_coverage(on=dt.date(2019, 12, 31))["certified_pct"] == 100
    now = services.certification_coverage(on=today)
    assert now["behind"] >= 2
    assert now["overdue"] >= 2
    assert now["on_track"] >= 2
    # The overdue lead running engagements, all opened before they fell overdue.
    for overdue in Enrollment.objects.filter(status=Status.OVERDUE):
        led = Engagement.objects.filter(commercial_lead=overdue.person)
        assert not led.filter(opened_on__gt=overdue.due_on).exists()
    flagged = Engagement.objects.filter(
        commercial_lead__enrollments__status=Status.OVERDUE
    ).exclude(stage__in=CLOSED_STAGES)
    assert flagged.exists()
    assert services.engagement_notice(flagged[0])
    # The stored statuses are the computed ones.
    for enrollment in Enrollment.objects.with_status(today):
        assert enrollment.status == enrollment.standing  # type: ignore[attr-defined]
    # The named logins finished long ago.
    for username in ("am.alex", "tm.tariq", "hm.harper"):
        assert Enrollment.objects.get(person__username=username).status == Status.CERTIFIED

    call_command("seed_demo", "--reset")
    assert Enrollment.objects.active().count() == commercial.count()
