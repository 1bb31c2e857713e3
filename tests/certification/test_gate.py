"""The gate and the flags: a person whose certification is overdue cannot be made commercial
lead of a new engagement (through the service and the page), the engagements they already
lead are flagged but keep them, and the 1:1 agenda says where the seller stands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from certification import services as certification
from certification.models import Enrollment, add_months
from engagements import services
from engagements.models import Account, Engagement, Stage
from tcp.models import Role, User
from tests.certification.conftest import START, modules_of, pass_module
from tests.conftest import client_for
from tests.factories import EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2024, 12, 4)


def _open(account: Account, lead: User, opened_on: dt.date) -> Engagement:
    return services.engagement_create(
        account=account,
        actor=None,
        name="Claims platform rebuild",
        commercial_lead=lead,
        value=300_000,
        opened_on=opened_on,
    )


def test_an_overdue_person_cannot_lead_a_new_engagement_from_the_day_after_the_due_date(
    enrollment: Enrollment, account: Account, assessor: User
) -> None:
    pass_module(enrollment, modules_of(enrollment)[0], START, assessor)
    person = enrollment.person
    assert services.engagement_lead_blockers(lead=person, on=DUE) == []

    [blocker] = services.engagement_lead_blockers(lead=person, on=DUE + dt.timedelta(days=1))
    assert blocker.message.startswith(
        "Alex Carter's certification is overdue (it was due on 4 Dec 2024)"
    )
    # It names the modules still to pass, and not the one passed.
    assert "Stakeholders and the business case" in blocker.message
    assert "Steering a delivery" in blocker.message
    assert "How software fails" not in blocker.message

    # The engagement is new today, so a backdated opening date does not slip past.
    with pytest.raises(services.StageChangeRefused, match="certification is overdue"):
        _open(account, person, DUE)
    assert not Engagement.objects.exists()


def test_a_certified_person_leads_whenever(
    enrollment: Enrollment, account: Account, assessor: User
) -> None:
    with pytest.raises(services.StageChangeRefused):
        _open(account, enrollment.person, dt.date(2024, 12, 19))
    for module in modules_of(enrollment):
        pass_module(enrollment, module, dt.date(2024, 12, 20), assessor)
    person = enrollment.person
    assert services.engagement_lead_blockers(lead=person, on=dt.date(2024, 12, 19))
    assert services.engagement_lead_blockers(lead=person, on=dt.date(2024, 12, 20)) == []
    assert _open(account, person, dt.date(2024, 12, 19))


def test_handing_an_engagement_to_an_overdue_lead_is_refused(
    enrollment: Enrollment, engagement: Engagement, owner: User
) -> None:
    with pytest.raises(services.StageChangeRefused, match="certification is overdue"):
        services.engagement_update(
            engagement=engagement, actor=owner, data={"commercial_lead": enrollment.person}
        )
    engagement.refresh_from_db()
    assert engagement.commercial_lead == owner


def _create_form(lead: User, opened_on: str) -> dict[str, Any]:
    return {
        "name": "Zero-downtime PACS upgrade",
        "commercial_lead": lead.pk,
        "value": "350000",
        "opened_on": opened_on,
        "poc": "none",
    }


def test_the_new_engagement_page_refuses_an_overdue_lead_and_names_the_modules(
    enrollment: Enrollment, owner: User, account: Account
) -> None:
    url = reverse("engagements:engagement_create", args=[account.uuid])
    client = client_for(owner)

    refused = client.post(url, _create_form(enrollment.person, "2024-12-05"))

    assert refused.status_code == 200
    assert "certification is overdue (it was due on 4 Dec 2024)" in refused.text
    assert "How software fails" in refused.text
    assert not Engagement.objects.filter(name="Zero-downtime PACS upgrade").exists()

    # Backdating the opening to before the due date changes nothing: the lead is made today.
    backdated = client.post(url, _create_form(enrollment.person, "2024-12-04"))
    assert backdated.status_code == 200
    assert "certification is overdue" in backdated.text
    assert not Engagement.objects.filter(name="Zero-downtime PACS upgrade").exists()


def test_running_engagements_of_an_overdue_lead_are_flagged_not_reassigned(
    enrollment: Enrollment, account: Account, leadership: User
) -> None:
    running = EngagementFactory.create(account=account, commercial_lead=enrollment.person)
    finished = EngagementFactory.create(
        account=account, commercial_lead=enrollment.person, stage=Stage.LOST
    )
    client = client_for(leadership)

    page = client.get(running.get_absolute_url()).text
    assert "Alex Carter, the commercial lead, is overdue with the technical certification" in page
    assert "engagement-notice" not in client.get(finished.get_absolute_url()).text
    running.refresh_from_db()
    assert running.commercial_lead == enrollment.person


def test_no_flag_while_the_lead_is_on_track_or_not_enrolled(
    engagement: Engagement, leadership: User, curriculum: Any
) -> None:
    client = client_for(leadership)
    assert "engagement-notice" not in client.get(engagement.get_absolute_url()).text
    certification.enrollment_open(person=engagement.commercial_lead, actor=None, on=START)
    assert certification.engagement_notice(engagement)  # overdue today
    today = timezone.localdate()
    Enrollment.objects.update(started_on=today, due_on=add_months(today, 9))
    assert certification.engagement_notice(engagement) == []


# The 1:1 agenda ------------------------------------------------------------------------------


def test_the_1_1_agenda_shows_the_sellers_certification(
    enrollment: Enrollment, manager: User, assessor: User
) -> None:
    pass_module(enrollment, modules_of(enrollment)[0], START, assessor)

    agenda = services.one_on_one_agenda(seller=enrollment.person, since=None)

    [section] = [s for s in agenda["sections"] if s["key"] == "certification"]
    assert section["title"] == "Certification"
    assert section["lines"][0] == "Overdue: 1 of 12 modules passed; due by 4 Dec 2024."
    assert section["lines"][1].startswith("Late: Stakeholders and the business case (due 4 Apr")


def test_the_1_1_agenda_shows_what_is_next_for_someone_on_track(curriculum: Any) -> None:
    seller = UserFactory.create(roles=[Role.ACCOUNT_MANAGER])
    today = timezone.localdate()
    certification.enrollment_open(person=seller, actor=None, on=today)

    lines = certification.agenda_section(seller)["lines"]

    assert lines[0].startswith("On track: 0 of 12 modules passed")
    assert lines[1].startswith("Next: Stakeholders and the business case, due")


def test_the_1_1_agenda_of_someone_not_enrolled(delivery_manager: User) -> None:
    assert certification.agenda_section(delivery_manager)["lines"] == [
        "Not enrolled: the certification is for people in a commercial role."
    ]


def test_the_back_office_cannot_hand_an_engagement_to_an_overdue_lead(
    enrollment: Enrollment, engagement: Engagement, owner: User
) -> None:
    admin = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    url = reverse("admin:engagements_engagement_change", args=[engagement.pk])
    response = client_for(admin).post(url, {"commercial_lead": enrollment.person.pk})
    assert response.status_code in (200, 302)
    engagement.refresh_from_db()
    assert engagement.commercial_lead == owner
