"""1:1 cadence meetings: the cadence and its overdue boundary, the agenda read from the data,
private career notes, who may open and change a 1:1, bad input, and pinned query counts.

Personas: `seller` is the account manager who leads the engagement (the conftest `owner`),
reporting to `boss`, a manager without any oversight role; `other_manager` manages someone
else. Leadership and the administrator see every 1:1 but never its career notes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from engagements import services
from engagements.models import (
    AccountTemperature,
    AttendanceMode,
    CareerNote,
    Engagement,
    Milestone,
    MilestoneAttendance,
    MilestoneKind,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    ScopeCause,
    ScopeChange,
    Stage,
)
from tcp.models import AuditLogEntry, OrganisationSettings, Role, User
from tests.conftest import client_for
from tests.factories import AccountFactory, EngagementFactory, OneOnOneFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "Wants to lead the Nordic banking programme next year"
HTMX = {"HX-Request": "true"}


def _today() -> dt.date:
    return timezone.localdate()


def _ago(days: int) -> dt.date:
    return _today() - dt.timedelta(days=days)


@pytest.fixture
def boss(db: None) -> User:
    return UserFactory.create(
        username="boss", first_name="Bea", last_name="Boss", roles=[Role.ACCOUNT_MANAGER]
    )


@pytest.fixture
def seller(owner: User, boss: User) -> User:
    owner.manager = boss
    owner.save(update_fields=["manager"])
    return owner


@pytest.fixture
def other_manager(db: None) -> User:
    manager = UserFactory.create(username="other-manager", roles=[Role.TECHNOLOGY_MANAGER])
    UserFactory.create(username="their-report", manager=manager)
    return manager


@pytest.fixture
def superuser(db: None) -> User:
    return UserFactory.create(username="root", is_staff=True, is_superuser=True, roles=[])


@pytest.fixture
def meeting(seller: User, boss: User, engagement: Engagement) -> OneOnOne:
    return services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=boss)


def _url(meeting: OneOnOne, name: str = "one_on_one_detail", *extra: Any) -> str:
    return reverse(f"engagements:{name}", args=[meeting.uuid, *extra])


def _cadence(manager: User | None, **kwargs: Any) -> dict[str, tuple[Any, Any, Any]]:
    """username: (last 1:1, days since, overdue), as one_on_one_cadence annotates them."""
    cadence: Any = services.one_on_one_cadence(manager=manager, **kwargs)
    rows = cadence.values_list("username", "last_one_on_one", "days_since", "overdue")
    return {username: tuple(rest) for username, *rest in rows}


def _milestone(
    engagement: Engagement, *, held_days_ago: int, critical: bool = True, title: str = ""
) -> Milestone:
    held = _ago(held_days_ago)
    return Milestone.objects.create(
        engagement=engagement,
        kind=MilestoneKind.ARCHITECTURE_REVIEW,
        title=title,
        planned_on=held,
        held_on=held,
        critical=critical,
    )


# The cadence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence_days", "days_ago", "overdue"),
    [(14, 0, False), (14, 14, False), (14, 15, True), (7, 7, False), (7, 8, True)],
)
def test_exactly_the_cadence_since_the_last_1_1_is_on_time_and_one_day_more_is_overdue(
    cadence_days: int,
    days_ago: int,
    overdue: bool,
    boss: User,
    organisation: OrganisationSettings,
) -> None:
    organisation.one_on_one_cadence_days = cadence_days
    organisation.save()
    report = UserFactory.create(manager=boss)
    OneOnOneFactory.create(manager=boss, seller=report, held_on=_ago(days_ago + 30))
    OneOnOneFactory.create(manager=boss, seller=report, held_on=_ago(days_ago))

    assert _cadence(boss) == {report.username: (_ago(days_ago), days_ago, overdue)}


def test_the_cadence_counts_only_1_1s_held_with_the_current_manager_and_not_yet_in_the_diary(
    boss: User,
    other_manager: User,
    organisation: OrganisationSettings,
    django_assert_num_queries: Any,
) -> None:
    UserFactory.create(username="never", manager=boss)
    moved = UserFactory.create(username="moved", manager=boss)
    OneOnOneFactory.create(manager=other_manager, seller=moved, held_on=_ago(2))
    booked = UserFactory.create(username="booked", manager=boss)
    OneOnOneFactory.create(manager=boss, seller=booked, held_on=_today() + dt.timedelta(days=3))
    UserFactory.create(username="left", manager=boss, is_active=False)

    with django_assert_num_queries(1):
        rows = _cadence(boss, organisation=organisation)

    assert rows == dict.fromkeys(("never", "moved", "booked"), (None, None, True))


def test_leadership_sees_the_cadence_of_every_managers_reports(
    boss: User, other_manager: User, seller: User, leadership: User
) -> None:
    OneOnOneFactory.create(manager=boss, seller=seller, held_on=_ago(3))

    assert _cadence(None) == {
        "owner": (_ago(3), 3, False),
        "their-report": (None, None, True),
    }

    page = client_for(leadership).get(reverse("engagements:one_on_one_list"), {"show": "everyone"})
    assert page.status_code == 200
    assert str(boss) in page.text
    assert str(other_manager) in page.text
    assert page.text.count('class="table-warning"') == 1  # their-report: never met


def test_a_managers_page_lists_their_reports_most_overdue_first_with_a_start_button(
    boss: User, seller: User
) -> None:
    recent = UserFactory.create(first_name="Recent", manager=boss)
    OneOnOneFactory.create(manager=boss, seller=recent, held_on=_ago(1))
    OneOnOneFactory.create(manager=boss, seller=seller, held_on=_ago(20))
    never = UserFactory.create(first_name="Never", manager=boss)

    response = client_for(boss).get(reverse("engagements:one_on_one_list"))

    assert response.status_code == 200
    people = [person.pk for person in response.context["page"].object_list]
    assert people == [never.pk, seller.pk, recent.pk]
    assert response.text.count("Start 1:1") == 3
    assert response.text.count('class="table-warning"') == 2
    by_recency = client_for(boss).get(reverse("engagements:one_on_one_list"), {"sort": "days"})
    assert [p.pk for p in by_recency.context["page"].object_list] == [
        recent.pk,
        seller.pk,
        never.pk,
    ]


def test_a_seller_sees_their_own_1_1s_and_nobody_elses(
    meeting: OneOnOne, seller: User, other_manager: User
) -> None:
    theirs = OneOnOneFactory.create(manager=other_manager, seller=other_manager.reports.get())

    response = client_for(seller).get(reverse("engagements:one_on_one_list"))

    assert response.status_code == 200
    assert [t[0] for t in response.context["tabs"]] == ["meetings"]
    assert list(response.context["page"].object_list) == [meeting]
    assert str(theirs.uuid) not in response.text


def test_the_1_1s_link_is_shown_to_managers_their_reports_and_leadership_only(
    boss: User, seller: User, leadership: User, outsider: User
) -> None:
    label = ">1:1s</a>"
    for person in (boss, seller, leadership):
        assert label in client_for(person).get(reverse("home")).text, person
    assert label not in client_for(outsider).get(reverse("home")).text


# The agenda -------------------------------------------------------------------------------


@pytest.fixture
def history(seller: User, boss: User, engagement: Engagement) -> dict[str, Any]:
    """The seller's data: an engagement in discovery (the conftest one), one in delivery
    that drifted 20% from scoping misses, the previous 1:1 twenty days ago, and critical
    milestones missed before and after it."""
    delivering = EngagementFactory.create(
        account=engagement.account,
        name="Archive move",
        commercial_lead=seller,
        stage=Stage.DELIVERY,
        contracted_effort_days=Decimal("100.0"),
    )
    ScopeChange.objects.create(
        engagement=delivering,
        effort_delta_days=Decimal("20.0"),
        cause=ScopeCause.SCOPING_MISS,
        approved_by=boss,
        approved_on=_ago(5),
    )
    accurate = EngagementFactory.create(
        name="Small rollout",
        commercial_lead=seller,
        stage=Stage.CONTRACTED,
        contracted_effort_days=Decimal("50.0"),
    )
    ScopeChange.objects.create(
        engagement=accurate,
        effort_delta_days=Decimal("5.0"),  # exactly the 10% tolerance: accurate
        cause=ScopeCause.SCOPING_MISS,
        approved_by=boss,
        approved_on=_ago(5),
    )
    long_done = EngagementFactory.create(
        name="Finished long ago",
        commercial_lead=seller,
        stage=Stage.COMPLETED,
        completed_on=_ago(200),
        contracted_effort_days=Decimal("10.0"),
    )
    ScopeChange.objects.create(
        engagement=long_done,
        effort_delta_days=Decimal("-8.0"),
        cause=ScopeCause.SCOPING_MISS,
        approved_by=boss,
        approved_on=_ago(210),
    )
    EngagementFactory.create(name="Lost deal", commercial_lead=seller, stage=Stage.LOST)
    EngagementFactory.create(name="Someone else's deal", stage=Stage.PROPOSAL)
    previous = OneOnOneFactory.create(manager=boss, seller=seller, held_on=_ago(20))
    _milestone(delivering, held_days_ago=30, title="Review before the last 1:1")
    missed = _milestone(delivering, held_days_ago=10, title="Go-live rehearsal")
    attended = _milestone(delivering, held_days_ago=8, title="Review the lead ran")
    MilestoneAttendance.objects.create(
        milestone=attended, person=seller, mode=AttendanceMode.CONTRIBUTED
    )
    _milestone(delivering, held_days_ago=6, critical=False, title="Weekly check-in")
    return {"delivering": delivering, "previous": previous, "missed": missed}


def test_a_new_1_1_opens_with_its_agenda_read_from_the_data(
    history: dict[str, Any], seller: User, boss: User, engagement: Engagement
) -> None:
    meeting = services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=boss)

    agenda = meeting.agenda
    assert agenda["since"] == _ago(20).isoformat()
    assert sorted((e["name"], e["stage"]) for e in agenda["open_engagements"]) == [
        ("Archive move", "delivery"),
        ("PACS migration", "discovery"),
        ("Small rollout", "contracted"),
    ]
    assert [(m["milestone"], m["held_on"]) for m in agenda["missed_milestones"]] == [
        ("Go-live rehearsal", _ago(10).isoformat())
    ]
    assert agenda["deliveries_checked"] == 2
    assert [(d["name"], d["text"]) for d in agenda["scope_drift"]] == [
        ("Archive move", "Drifted 20% from scoping misses")
    ]
    not_enrolled = "Not enrolled yet: the daily check enrols everyone in a commercial role."
    assert agenda["sections"] == [
        {"key": "certification", "title": "Certification", "lines": [not_enrolled]}
    ]

    page = client_for(boss).get(_url(meeting)).text
    for text in ("Go-live rehearsal", "Drifted 20% from scoping misses", not_enrolled):
        assert text in page
    assert "Review before the last 1:1" not in page


def test_a_sellers_first_1_1_looks_back_a_fixed_window_for_missed_milestones(
    seller: User, boss: User, engagement: Engagement
) -> None:
    _milestone(engagement, held_days_ago=services.AGENDA_FIRST_LOOKBACK_DAYS + 1, title="Old")
    _milestone(engagement, held_days_ago=services.AGENDA_FIRST_LOOKBACK_DAYS - 1, title="Recent")

    agenda = services.one_on_one_agenda(seller=seller, since=None)

    assert agenda["since"] is None
    assert [m["milestone"] for m in agenda["missed_milestones"]] == ["Recent"]


def test_another_app_registers_the_certification_section_of_the_agenda(
    seller: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def certification(person: User) -> dict[str, Any]:
        return {"key": "certification", "title": "Certification", "lines": [f"{person}: due"]}

    monkeypatch.setattr(services, "ONE_ON_ONE_AGENDA_SECTIONS", [certification])

    agenda = services.one_on_one_agenda(seller=seller, since=None)

    assert agenda["sections"] == [
        {"key": "certification", "title": "Certification", "lines": [f"{seller}: due"]}
    ]


def test_a_new_1_1_prepares_its_rows_from_the_previous_one(
    history: dict[str, Any], seller: User, boss: User, engagement: Engagement
) -> None:
    previous: OneOnOne = history["previous"]
    AccountTemperature.objects.create(
        meeting=previous, account=engagement.account, temperature="warm"
    )
    NextStep.objects.create(meeting=previous, description="Book the CFO", due_on=_ago(2))
    NextStep.objects.create(
        meeting=previous, description="Send the case study", due_on=_ago(9), done_on=_ago(9)
    )

    meeting = services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=boss)

    opportunities = {o.engagement.name: o.stage for o in meeting.opportunities.all()}
    assert opportunities == {
        "PACS migration": "discovery",
        "Archive move": "delivery",
        "Small rollout": "contracted",
    }
    temperatures = {t.account_id: t.temperature for t in meeting.temperatures.all()}
    small_rollout = Engagement.objects.get(name="Small rollout")
    assert temperatures == {engagement.account_id: "warm", small_rollout.account_id: ""}
    assert [(s.description, s.due_on, s.done_on) for s in meeting.next_steps.all()] == [
        ("Book the CFO", _ago(2), None)
    ]
    assert [s["description"] for s in meeting.agenda["carried_over"]] == ["Book the CFO"]
    assert previous.next_steps.count() == 2  # the earlier record stays as it was
    entry = AuditLogEntry.objects.get(action="one_on_one.create")
    assert entry.changes["opportunities"] == 3


# Who may open a 1:1, and bad input ----------------------------------------------------------


def _nothing_opened() -> None:
    assert not OneOnOne.objects.exists()
    assert not OneOnOneOpportunity.objects.exists()
    assert not AuditLogEntry.objects.filter(action="one_on_one.create").exists()


def test_only_the_sellers_manager_opens_a_1_1_or_an_administrator_for_them(
    seller: User, boss: User, other_manager: User, outsider: User, administrator: User
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.one_on_one_create(
            manager=other_manager, seller=seller, held_on=_today(), actor=other_manager
        )
    assert refused.value.message_dict == {
        "seller": [f"{seller} does not report to {other_manager}."]
    }
    with pytest.raises(PermissionDenied):
        services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=outsider)
    _nothing_opened()

    meeting = services.one_on_one_create(
        manager=boss, seller=seller, held_on=_today(), actor=administrator
    )
    assert (meeting.manager, meeting.seller, meeting.updated_by) == (boss, seller, administrator)


def test_a_1_1_with_oneself_is_refused_with_a_clear_error(boss: User) -> None:
    boss.manager = boss  # a record that points at itself
    boss.save(update_fields=["manager"])

    with pytest.raises(ValidationError) as refused:
        services.one_on_one_create(manager=boss, seller=boss, held_on=_today(), actor=boss)
    assert "cannot hold one with yourself" in refused.value.message_dict["seller"][0]

    response = client_for(boss).post(
        reverse("engagements:one_on_one_start"),
        {"seller": boss.pk, "held_on": _today().isoformat()},
    )
    assert response.status_code == 400
    assert "cannot hold one with yourself" in response.text
    _nothing_opened()


def test_a_1_1_for_someone_who_left_is_refused(seller: User, boss: User) -> None:
    seller.is_active = False
    seller.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as refused:
        services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=boss)
    assert "has left the company" in refused.value.message_dict["seller"][0]
    _nothing_opened()


def test_a_1_1_can_be_booked_sixty_days_ahead_but_not_further_nor_twice_on_a_day(
    seller: User, boss: User
) -> None:
    far = _today() + dt.timedelta(days=services.ONE_ON_ONE_MAX_DAYS_AHEAD + 1)
    with pytest.raises(ValidationError) as refused:
        services.one_on_one_create(manager=boss, seller=seller, held_on=far, actor=boss)
    assert "at most 60 days ahead" in refused.value.message_dict["held_on"][0]
    _nothing_opened()

    booked = far - dt.timedelta(days=1)
    services.one_on_one_create(manager=boss, seller=seller, held_on=booked, actor=boss)
    with pytest.raises(ValidationError) as twice:
        services.one_on_one_create(manager=boss, seller=seller, held_on=booked, actor=boss)
    assert "already have a 1:1" in twice.value.message_dict["held_on"][0]
    assert OneOnOne.objects.count() == 1


def test_a_1_1_from_a_bygone_age_is_refused(seller: User, boss: User) -> None:
    with pytest.raises(ValidationError) as refused:
        services.one_on_one_create(
            manager=boss, seller=seller, held_on=dt.date(1, 1, 1), actor=boss
        )
    assert "too long ago" in refused.value.message_dict["held_on"][0]
    _nothing_opened()


# Career notes: the two people only ---------------------------------------------------------


def test_career_notes_are_written_only_by_the_two_people(
    meeting: OneOnOne,
    seller: User,
    boss: User,
    leadership: User,
    superuser: User,
    administrator: User,
) -> None:
    services.career_note_save(meeting=meeting, actor=boss, data={"text": SECRET})
    services.career_note_save(meeting=meeting, actor=seller, data={"text": SECRET + "."})

    for stranger in (leadership, superuser, administrator):
        with pytest.raises(PermissionDenied):
            services.career_note_save(meeting=meeting, actor=stranger, data={"text": "x"})
        assert not CareerNote.objects.visible_to(stranger).exists()
    assert CareerNote.objects.get(meeting=meeting).text == SECRET + "."
    assert list(CareerNote.objects.visible_to(seller)) == [meeting.career_note]


def test_career_notes_show_on_the_page_for_the_two_people_and_nobody_else(
    meeting: OneOnOne,
    seller: User,
    boss: User,
    leadership: User,
    superuser: User,
    administrator: User,
    outsider: User,
) -> None:
    services.career_note_save(meeting=meeting, actor=boss, data={"text": SECRET})

    for person in (boss, seller):
        assert SECRET in client_for(person).get(_url(meeting)).text
    for viewer in (leadership, superuser, administrator):
        response = client_for(viewer).get(_url(meeting))
        assert response.status_code == 200
        assert SECRET not in response.text
        assert 'name="career-note-text"' not in response.text
    assert client_for(outsider).get(_url(meeting)).status_code == 404


def test_nobody_else_can_write_career_notes_through_the_page(
    meeting: OneOnOne, leadership: User, superuser: User, other_manager: User
) -> None:
    services.career_note_save(meeting=meeting, actor=meeting.manager, data={"text": SECRET})
    for stranger in (leadership, superuser, other_manager):
        response = client_for(stranger).post(
            _url(meeting, "one_on_one_career_note"), {"career-note-text": "overwritten"}
        )
        assert response.status_code == 404
    assert CareerNote.objects.get(meeting=meeting).text == SECRET


def test_the_seller_writes_career_notes_in_place(meeting: OneOnOne, seller: User) -> None:
    response = client_for(seller).post(
        _url(meeting, "one_on_one_career_note"), {"career-note-text": SECRET}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Saved" in response.text
    assert CareerNote.objects.get(meeting=meeting).text == SECRET


def test_the_history_says_career_notes_changed_but_never_what_they_say(
    meeting: OneOnOne, boss: User
) -> None:
    services.career_note_save(meeting=meeting, actor=boss, data={"text": "First draft"})
    services.career_note_save(meeting=meeting, actor=boss, data={"text": SECRET})

    [entry] = AuditLogEntry.objects.filter(action="career_note.update")
    assert entry.changes == {}
    assert entry.actor == boss
    dumped = str(list(AuditLogEntry.objects.values_list("changes", "object_repr")))
    assert SECRET not in dumped
    assert "First draft" not in dumped


def test_the_admin_shows_the_1_1_and_never_its_career_notes(
    meeting: OneOnOne, superuser: User
) -> None:
    services.career_note_save(meeting=meeting, actor=meeting.manager, data={"text": SECRET})
    client = client_for(superuser)

    assert CareerNote not in admin.site._registry
    for url in (
        reverse("admin:engagements_oneonone_changelist"),
        reverse("admin:engagements_oneonone_change", args=[meeting.pk]),
        reverse("admin:tcp_auditlogentry_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.text
    change = client.get(reverse("admin:engagements_oneonone_change", args=[meeting.pk]))
    assert "PACS migration" in change.text  # the opportunity inline is there


# The pages: starting, access, editing in place ----------------------------------------------


def test_a_manager_starts_a_1_1_and_it_opens_with_its_agenda(
    history: dict[str, Any], seller: User, boss: User
) -> None:
    response = client_for(boss).post(
        reverse("engagements:one_on_one_start"),
        {"seller": seller.pk, "held_on": _today().isoformat()},
        follow=True,
    )

    meeting = OneOnOne.objects.get(held_on=_today())
    assert response.redirect_chain[-1][0] == _url(meeting)
    assert "Go-live rehearsal" in response.text
    assert "Drifted 20% from scoping misses" in response.text


def test_starting_a_1_1_with_a_bad_date_changes_nothing(seller: User, boss: User) -> None:
    far = _today() + dt.timedelta(days=90)
    response = client_for(boss).post(
        reverse("engagements:one_on_one_start"), {"seller": seller.pk, "held_on": far.isoformat()}
    )

    assert response.status_code == 400
    assert "at most 60 days ahead" in response.text
    _nothing_opened()


def test_a_manager_cannot_open_or_see_a_1_1_of_someone_elses_report(
    meeting: OneOnOne, seller: User, other_manager: User
) -> None:
    client = client_for(other_manager)
    start = client.post(
        reverse("engagements:one_on_one_start"),
        {"seller": seller.pk, "held_on": _today().isoformat()},
    )
    assert start.status_code == 400
    assert OneOnOne.objects.count() == 1

    opportunity = meeting.opportunities.get()
    temperature = meeting.temperatures.get()
    for url, data in (
        (_url(meeting), {}),
        (_url(meeting, "one_on_one_delete"), {}),
        (_url(meeting, "one_on_one_opportunity", opportunity.pk), {"opportunity-1-note": "x"}),
        (_url(meeting, "one_on_one_temperature", temperature.pk), {}),
        (_url(meeting, "one_on_one_steps"), {}),
        (_url(meeting, "one_on_one_career_note"), {}),
    ):
        assert client.get(url).status_code in (404, 405), url
        assert client.post(url, data).status_code == 404, url


def test_people_without_reports_cannot_start_a_1_1(outsider: User, seller: User) -> None:
    response = client_for(outsider).post(
        reverse("engagements:one_on_one_start"),
        {"seller": seller.pk, "held_on": _today().isoformat()},
    )
    assert response.status_code == 404
    _nothing_opened()


def test_the_pages_refuse_the_wrong_method(meeting: OneOnOne, boss: User) -> None:
    client = client_for(boss)
    opportunity = meeting.opportunities.get()
    assert client.get(reverse("engagements:one_on_one_start")).status_code == 405
    assert client.post(reverse("engagements:one_on_one_list")).status_code == 405
    assert client.put(_url(meeting)).status_code == 405
    assert client.get(_url(meeting, "one_on_one_opportunity", opportunity.pk)).status_code == 405
    assert client.get(_url(meeting, "one_on_one_career_note")).status_code == 405


def test_leadership_reads_a_1_1_but_cannot_change_it(meeting: OneOnOne, leadership: User) -> None:
    client = client_for(leadership)
    opportunity = meeting.opportunities.get()

    page = client.get(_url(meeting))
    assert page.status_code == 200
    assert "only Bea Boss and" in page.text
    response = client.post(
        _url(meeting, "one_on_one_opportunity", opportunity.pk),
        {f"opportunity-{opportunity.pk}-technical_win": "true"},
    )
    assert response.status_code == 404
    opportunity.refresh_from_db()
    assert opportunity.technical_win is None


def test_the_seller_records_a_technical_win_in_place(meeting: OneOnOne, seller: User) -> None:
    opportunity = meeting.opportunities.get()
    prefix = f"opportunity-{opportunity.pk}"

    response = client_for(seller).post(
        _url(meeting, "one_on_one_opportunity", opportunity.pk),
        {f"{prefix}-technical_win": "true", f"{prefix}-note": "Radiologists loved the demo"},
        headers=HTMX,
    )

    assert response.status_code == 200
    opportunity.refresh_from_db()
    assert (opportunity.technical_win, opportunity.note) == (True, "Radiologists loved the demo")
    entry = AuditLogEntry.objects.get(action="one_on_one.opportunity")
    assert entry.changes["item"] == "PACS migration"
    assert entry.changes["technical_win"] == ["not yet", "yes"]


def test_a_temperature_outside_the_choices_is_refused_and_changes_nothing(
    meeting: OneOnOne, boss: User
) -> None:
    temperature = meeting.temperatures.get()
    prefix = f"temperature-{temperature.pk}"
    url = _url(meeting, "one_on_one_temperature", temperature.pk)

    response = client_for(boss).post(url, {f"{prefix}-temperature": "lukewarm"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    temperature.refresh_from_db()
    assert temperature.temperature == ""
    with pytest.raises(ValidationError) as refused:
        services.account_temperature_save(
            temperature=temperature, actor=boss, data={"temperature": "lukewarm"}
        )
    assert "temperature" in refused.value.message_dict
    temperature.refresh_from_db()
    assert temperature.temperature == ""

    client_for(boss).post(url, {f"{prefix}-temperature": "hot"})
    temperature.refresh_from_db()
    assert temperature.temperature == "hot"


def test_a_next_step_without_a_due_date_is_refused_and_changes_nothing(
    meeting: OneOnOne, boss: User
) -> None:
    response = client_for(boss).post(
        _url(meeting, "one_on_one_steps"), {"step-new-description": "Call the CIO"}
    )

    assert response.status_code == 400
    assert "Give the date this step is due." in response.text
    assert not NextStep.objects.exists()
    with pytest.raises(ValidationError) as refused:
        services.next_step_save(meeting=meeting, actor=boss, data={"description": "Call the CIO"})
    assert refused.value.message_dict == {"due_on": ["Give the date this step is due."]}
    assert not NextStep.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="next_step").exists()


def test_next_steps_are_agreed_marked_done_and_removed(meeting: OneOnOne, seller: User) -> None:
    client = client_for(seller)
    due = _today() + dt.timedelta(days=7)
    added = client.post(
        _url(meeting, "one_on_one_steps"),
        {"step-new-description": "Draft the QBR deck", "step-new-due_on": due.isoformat()},
        headers=HTMX,
    )
    assert added.status_code == 200
    step = NextStep.objects.get(meeting=meeting)
    assert (step.description, step.due_on, step.done_on) == ("Draft the QBR deck", due, None)

    done = client.post(_url(meeting, "one_on_one_step_done", step.pk), headers=HTMX)
    assert done.status_code == 200
    assert "Marked done" in done.text
    step.refresh_from_db()
    assert step.done_on == _today()

    assert client.post(_url(meeting, "one_on_one_step_delete", step.pk)).status_code == 302
    assert not NextStep.objects.exists()
    actions = list(
        AuditLogEntry.objects.filter(object_id=str(meeting.pk))
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "one_on_one.create",
        "next_step.create",
        "next_step.done",
        "next_step.delete",
    ]


def test_a_step_cannot_be_done_in_the_future(meeting: OneOnOne, boss: User) -> None:
    with pytest.raises(ValidationError) as refused:
        services.next_step_save(
            meeting=meeting,
            actor=boss,
            data={
                "description": "Later",
                "due_on": _today(),
                "done_on": _today() + dt.timedelta(days=1),
            },
        )
    assert "done_on" in refused.value.message_dict
    assert not NextStep.objects.exists()


def test_the_meeting_date_and_future_ideas_are_edited_in_place(
    meeting: OneOnOne, boss: User
) -> None:
    client = client_for(boss)
    ok = client.post(
        _url(meeting),
        {
            "meeting-held_on": _ago(1).isoformat(),
            "meeting-future_opportunities": "Imaging AI pilot",
            "meeting-version": meeting.version,
        },
        headers=HTMX,
    )
    assert ok.status_code == 200
    meeting.refresh_from_db()
    assert (meeting.held_on, meeting.future_opportunities, meeting.version) == (
        _ago(1),
        "Imaging AI pilot",
        2,
    )

    far = _today() + dt.timedelta(days=61)
    refused = client.post(
        _url(meeting),
        {"meeting-held_on": far.isoformat(), "meeting-version": meeting.version},
    )
    assert refused.status_code == 400
    assert "at most 60 days ahead" in refused.text
    meeting.refresh_from_db()
    assert meeting.held_on == _ago(1)


def test_only_the_manager_removes_a_1_1(meeting: OneOnOne, boss: User, seller: User) -> None:
    assert client_for(seller).post(_url(meeting, "one_on_one_delete")).status_code == 404
    assert OneOnOne.objects.exists()

    response = client_for(boss).post(_url(meeting, "one_on_one_delete"))

    assert response.status_code == 302
    assert not OneOnOne.objects.exists()
    assert AuditLogEntry.objects.filter(action="one_on_one.delete").exists()


# Query counts ------------------------------------------------------------------------------


LIST_QUERIES = 8
EVERYONE_QUERIES = 6
MEETINGS_QUERIES = 5
MEETING_PAGE_QUERIES = 8


@pytest.mark.parametrize("rows", [2, 20])
def test_the_1_1s_page_runs_a_fixed_number_of_queries(
    rows: int, boss: User, leadership: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(rows):
        report = UserFactory.create(manager=boss)
        if i % 2:
            OneOnOneFactory.create(manager=boss, seller=report, held_on=_ago(i))
            OneOnOneFactory.create(manager=boss, seller=report, held_on=_ago(i + 30))
    url = reverse("engagements:one_on_one_list")
    manager, leader = client_for(boss), client_for(leadership)
    manager.get(url)
    leader.get(url)

    with django_assert_max_num_queries(LIST_QUERIES):
        assert len(manager.get(url).context["page"].object_list) == rows
    with django_assert_max_num_queries(MEETINGS_QUERIES):
        assert manager.get(url, {"show": "meetings"}).status_code == 200
    with django_assert_max_num_queries(EVERYONE_QUERIES):
        assert leader.get(url, {"show": "everyone", "sort": "manager"}).status_code == 200


@pytest.mark.parametrize("engagements", [1, 15])
def test_the_meeting_page_runs_a_fixed_number_of_queries(
    engagements: int,
    seller: User,
    boss: User,
    leadership: User,
    django_assert_max_num_queries: Any,
) -> None:
    for _ in range(engagements):
        EngagementFactory.create(
            commercial_lead=seller, stage=Stage.PROPOSAL, account=AccountFactory.create()
        )
    meeting = services.one_on_one_create(manager=boss, seller=seller, held_on=_today(), actor=boss)
    for i in range(engagements):
        NextStep.objects.create(meeting=meeting, description=f"Step {i}", due_on=_today())
    assert meeting.opportunities.count() == engagements
    party, leader = client_for(boss), client_for(leadership)
    party.get(_url(meeting))
    leader.get(_url(meeting))

    with django_assert_max_num_queries(MEETING_PAGE_QUERIES):
        assert party.get(_url(meeting)).status_code == 200
    with django_assert_max_num_queries(MEETING_PAGE_QUERIES - 1):  # no career notes to read
        assert leader.get(_url(meeting)).status_code == 200
