"""Delivery: contracted scope and its changes, milestones, attendance and the flag on a
critical milestone held without the commercial lead."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from engagements import services
from engagements.models import (
    AttendanceMode,
    Engagement,
    Milestone,
    MilestoneAttendance,
    MilestoneKind,
    ScopeCause,
    ScopeChange,
    ScopeItem,
    Stage,
    on_time,
    scope_accurate,
)
from tcp.models import AuditLogEntry, Notification, OrganisationSettings, Role, User
from tests.conftest import client_for
from tests.factories import (
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
    contracted_values,
)


@pytest.fixture
def delivering(engagement: Engagement) -> Engagement:
    """The persona engagement in delivery: 100 days contracted, signed on 1 March 2024."""
    Engagement.objects.filter(pk=engagement.pk).update(
        stage=Stage.DELIVERY,
        value=Decimal("300000"),
        contracted_effort_days=Decimal("100.0"),
        proposal_on=dt.date(2024, 2, 1),
        contract_signed_on=dt.date(2024, 3, 1),
        contracted_start=dt.date(2024, 3, 15),
        contracted_end=dt.date(2024, 12, 20),
    )
    engagement.refresh_from_db()
    return engagement


def _review(engagement: Engagement, **data: Any) -> Milestone:
    values = {"kind": MilestoneKind.ARCHITECTURE_REVIEW, "planned_on": dt.date(2024, 4, 10)}
    return services.milestone_save(engagement=engagement, actor=None, data={**values, **data})


def _attend(
    milestone: Milestone, actor: User | None, held_on: dt.date | None = None, **modes: str
) -> Milestone:
    """Record attendance by username: mode."""
    people = {u.username: u for u in User.objects.filter(username__in=modes)}
    lines = [services.AttendanceLine(people[name], mode) for name, mode in modes.items()]
    return services.milestone_attendance_record(
        milestone=milestone, actor=actor, held_on=held_on or dt.date(2024, 4, 12), lines=lines
    )


def _change(engagement: Engagement, days: str, cause: str = ScopeCause.SCOPING_MISS) -> None:
    services.scope_change_save(
        engagement=engagement,
        actor=None,
        data={
            "effort_delta_days": Decimal(days),
            "cause": cause,
            "approved_by": engagement.delivery_manager,
            "approved_on": dt.date(2024, 5, 1),
        },
    )


def _drift(engagement: Engagement) -> Any:
    stored = Engagement.objects.with_scope().get(pk=engagement.pk)
    return stored.scope_drift(OrganisationSettings.load().scope_tolerance_pct)


def _accurate_in_sql(engagement: Engagement) -> bool:
    tolerance = OrganisationSettings.load().scope_tolerance_pct
    return (
        Engagement.objects.with_scope()
        .filter(pk=engagement.pk)
        .filter(scope_accurate(tolerance))
        .exists()
    )


# Contracted scope ------------------------------------------------------------------------


def test_the_contracted_effort_is_the_sum_of_the_scope_items(engagement: Engagement) -> None:
    for title, days in [("Data migration", "40.5"), ("Integration", "22"), ("Training", "7.5")]:
        services.scope_item_save(
            engagement=engagement,
            actor=None,
            data={"title": title, "estimated_days": Decimal(days)},
        )
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("70.0")

    training = ScopeItem.objects.get(title="Training")
    services.scope_item_delete(item=training, actor=None)
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("62.5")


def test_the_contracted_effort_freezes_when_the_engagement_is_contracted(
    owner: User, engagement: Engagement
) -> None:
    Engagement.objects.filter(pk=engagement.pk).update(**contracted_values())
    engagement.refresh_from_db()
    item = services.scope_item_save(
        engagement=engagement,
        actor=owner,
        data={"title": "Platform build", "estimated_days": Decimal("120")},
    )
    complete_discovery(engagement)
    services.engagement_advance(
        engagement=engagement, to_stage=Stage.PROPOSAL, actor=owner, on=dt.date(2024, 2, 1)
    )
    services.engagement_advance(
        engagement=engagement, to_stage=Stage.CONTRACTED, actor=owner, on=dt.date(2024, 3, 1)
    )
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("120.0")

    with pytest.raises(ValidationError, match="frozen"):
        services.scope_item_save(
            engagement=engagement,
            actor=owner,
            data={"title": "More", "estimated_days": Decimal("5")},
        )
    with pytest.raises(ValidationError, match="frozen"):
        services.scope_item_save(
            engagement=engagement, actor=owner, data={"estimated_days": Decimal("150")}, item=item
        )
    with pytest.raises(ValidationError, match="frozen"):
        services.scope_item_delete(item=item, actor=owner)
    with pytest.raises(ValidationError, match="frozen"):
        services.engagement_update(
            engagement=engagement, actor=owner, data={"contracted_effort_days": Decimal("150")}
        )
    _change(engagement, "30", ScopeCause.CLIENT_REQUEST)
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("120.0")
    assert ScopeItem.objects.get().estimated_days == Decimal("120.0")


def test_the_contracted_effort_cannot_be_typed_over_the_scope_items(
    owner: User, engagement: Engagement
) -> None:
    services.scope_item_save(
        engagement=engagement, actor=owner, data={"title": "Build", "estimated_days": 10}
    )
    with pytest.raises(ValidationError, match="sum of the scope items"):
        services.engagement_update(
            engagement=engagement, actor=owner, data={"contracted_effort_days": Decimal("99")}
        )
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("10.0")


def test_a_negative_estimate_is_refused_beside_the_field_and_nothing_is_saved(
    owner: User, engagement: Engagement
) -> None:
    url = reverse("engagements:scope_items", args=[engagement.uuid])
    response = client_for(owner).post(
        url, {"scope-item-new-title": "Build", "scope-item-new-estimated_days": "-3"}
    )
    assert response.status_code == 400
    errors = response.context["blocks"]["items"]["add_form"].errors
    assert "estimated_days" in errors
    assert not ScopeItem.objects.exists()
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days is None


def test_a_scope_item_added_through_the_page_updates_the_contracted_effort(
    owner: User, engagement: Engagement
) -> None:
    url = reverse("engagements:scope_items", args=[engagement.uuid])
    response = client_for(owner).post(
        url, {"scope-item-new-title": "Build", "scope-item-new-estimated_days": "42.5"}
    )
    assert response.status_code == 302
    engagement.refresh_from_db()
    assert engagement.contracted_effort_days == Decimal("42.5")
    entry = AuditLogEntry.objects.filter(action="scope_item.create").get()
    assert entry.actor == owner
    assert entry.changes["item"] == "Build"


# Scope changes and accuracy --------------------------------------------------------------


def test_scoping_misses_of_exactly_the_tolerance_are_still_accurate(
    delivering: Engagement,
) -> None:
    _change(delivering, "6")
    _change(delivering, "-4")  # counts as 4 days of misjudged scope, not minus 4
    _change(delivering, "50", ScopeCause.CLIENT_REQUEST)  # not a scoping miss
    drift = _drift(delivering)
    assert drift.scoping_miss_days == Decimal("10.0")
    assert drift.pct == Decimal(10)
    assert drift.accurate is True
    assert _accurate_in_sql(delivering) is True
    assert str(drift) == "Scope accurate: drifted 10% from scoping misses"


def test_scoping_misses_just_over_the_tolerance_have_drifted(delivering: Engagement) -> None:
    _change(delivering, "6")
    _change(delivering, "-4.1")
    drift = _drift(delivering)
    assert drift.accurate is False
    assert _accurate_in_sql(delivering) is False
    assert str(drift) == "Drifted 10.1% from scoping misses"


def test_drift_is_told_in_plain_words(delivering: Engagement) -> None:
    assert str(_drift(delivering)) == "Scope accurate: no scoping misses"
    _change(delivering, "14")
    assert str(_drift(delivering)) == "Drifted 14% from scoping misses"


def test_the_tolerance_comes_from_the_organisation_settings(delivering: Engagement) -> None:
    _change(delivering, "14")
    organisation = OrganisationSettings.load()
    organisation.scope_tolerance_pct = Decimal("15")
    organisation.save()
    assert _drift(delivering).accurate is True
    assert _accurate_in_sql(delivering) is True


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"effort_delta_days": Decimal(0)}, "effort_delta_days", "positive"),
        ({"approved_on": dt.date(2024, 2, 20)}, "approved_on", "before the contract was signed"),
        ({"approved_on": dt.date(2999, 1, 1)}, "approved_on", "in the future"),
    ],
)
def test_a_bad_scope_change_is_refused_and_nothing_is_saved(
    delivering: Engagement, data: dict[str, Any], field: str, message: str
) -> None:
    values = {
        "effort_delta_days": Decimal("5"),
        "cause": ScopeCause.SCOPING_MISS,
        "approved_by": delivering.delivery_manager,
        "approved_on": dt.date(2024, 5, 1),
        **data,
    }
    with pytest.raises(ValidationError) as refusal:
        services.scope_change_save(engagement=delivering, actor=None, data=values)
    assert message in " ".join(refusal.value.message_dict[field])
    assert not ScopeChange.objects.exists()


def test_scope_changes_wait_for_the_contract(engagement: Engagement) -> None:
    with pytest.raises(ValidationError, match="once the engagement is contracted"):
        _change(engagement, "5")
    assert not ScopeChange.objects.exists()


# Timeline adherence ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "completed", "expected"),
    [
        (0, dt.date(2024, 12, 20), True),
        (0, dt.date(2024, 12, 21), False),
        (3, dt.date(2024, 12, 23), True),
        (3, dt.date(2024, 12, 24), False),
        (0, dt.date(2024, 11, 1), True),
    ],
)
def test_timeline_adherence_counts_the_grace_days(
    delivering: Engagement, grace: int, completed: dt.date, expected: bool
) -> None:
    Engagement.objects.filter(pk=delivering.pk).update(
        stage=Stage.COMPLETED, completed_on=completed
    )
    delivering.refresh_from_db()
    assert delivering.timeline(grace).on_time is expected
    in_sql = Engagement.objects.filter(pk=delivering.pk).filter(on_time(grace)).exists()
    assert in_sql is expected


def test_the_timeline_says_how_late_in_plain_words(delivering: Engagement) -> None:
    today = dt.date(2025, 1, 2)
    assert str(delivering.timeline(0, today)) == "Running 13 days past the contracted end"
    assert str(delivering.timeline(0, dt.date(2024, 12, 1))) == "19 days to the contracted end"
    delivering.completed_on = dt.date(2024, 12, 30)
    assert str(delivering.timeline(2, today)) == "Finished 8 days late"
    delivering.completed_on, delivering.cancelled_on = None, dt.date(2024, 9, 1)
    assert str(delivering.timeline(0, today)) == "Stopped on 01 Sep 2024, before it finished"
    assert delivering.timeline(0, today).days_late == 0


# Milestones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "critical"),
    [
        (MilestoneKind.ARCHITECTURE_REVIEW, True),
        (MilestoneKind.GO_LIVE, True),
        (MilestoneKind.DISCOVERY_WORKSHOP, False),
        (MilestoneKind.IMPLEMENTATION, False),
        (MilestoneKind.QBR, False),
    ],
)
def test_architecture_reviews_and_go_lives_are_critical_by_default(
    delivering: Engagement, kind: str, critical: bool
) -> None:
    assert _review(delivering, kind=kind).critical is critical


def test_a_planner_can_say_otherwise_about_critical(delivering: Engagement) -> None:
    assert _review(delivering, critical=False).critical is False
    assert _review(delivering, kind=MilestoneKind.QBR, critical=True).critical is True


def test_a_held_date_before_the_engagement_began_is_refused(delivering: Engagement) -> None:
    with pytest.raises(ValidationError) as refusal:
        _review(delivering, held_on=dt.date(2023, 12, 31))
    assert "before the engagement began" in refusal.value.message_dict["held_on"][0]
    assert not Milestone.objects.exists()


def test_a_held_date_before_the_engagement_began_is_shown_beside_the_field(
    delivery_manager: User, delivering: Engagement
) -> None:
    milestone = _review(delivering)
    response = client_for(delivery_manager).post(
        reverse("engagements:milestone", args=[delivering.uuid, milestone.pk]),
        {
            f"milestone-{milestone.pk}-kind": "architecture_review",
            f"milestone-{milestone.pk}-planned_on": "2024-04-10",
            f"milestone-{milestone.pk}-held_on": "2023-06-01",
            f"milestone-{milestone.pk}-critical": "on",
            f"milestone-{milestone.pk}-version": str(milestone.version),
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "before the engagement began" in response.text
    assert f'id="id_milestone-{milestone.pk}-held_on_error"' in response.text
    milestone.refresh_from_db()
    assert milestone.held_on is None


# Attendance and the flag -----------------------------------------------------------------


def _missed(engagement: Engagement) -> list[Milestone]:
    return list(Milestone.objects.missed_by_lead().filter(engagement=engagement))


@pytest.mark.parametrize(
    ("lead_mode", "flagged"),
    [
        (AttendanceMode.ABSENT, True),
        (AttendanceMode.OBSERVED, True),
        (AttendanceMode.CONTRIBUTED, False),
    ],
)
def test_a_critical_milestone_is_flagged_unless_the_lead_contributed(
    delivering: Engagement, delivery_manager: User, lead_mode: str, flagged: bool
) -> None:
    review = _review(delivering)
    _attend(review, delivery_manager, owner=lead_mode, delivery=AttendanceMode.CONTRIBUTED)
    assert bool(_missed(delivering)) is flagged


def test_a_critical_milestone_held_without_any_record_is_flagged(
    delivering: Engagement,
) -> None:
    planned = _review(delivering)
    assert _missed(delivering) == []  # not held yet
    _review(delivering, held_on=dt.date(2024, 4, 12))
    assert len(_missed(delivering)) == 1
    assert planned not in _missed(delivering)


def test_an_ordinary_milestone_is_never_flagged(
    delivering: Engagement, delivery_manager: User
) -> None:
    workshop = _review(delivering, kind=MilestoneKind.DISCOVERY_WORKSHOP)
    _attend(workshop, delivery_manager, owner=AttendanceMode.ABSENT)
    assert _missed(delivering) == []


def test_the_flag_reaches_the_engagement_the_lead_and_leadership(
    delivering: Engagement, delivery_manager: User, owner: User, leadership: User
) -> None:
    owner.manager = leadership
    owner.save(update_fields=["manager"])
    review = _review(delivering, title="Target architecture")
    last_week = dt.date.today() - dt.timedelta(days=7)
    _attend(review, delivery_manager, held_on=last_week, owner=AttendanceMode.ABSENT)

    page = client_for(owner).get(delivering.get_absolute_url())
    assert "Critical milestone without the commercial lead" in page.text
    assert "Target architecture" in page.text

    home = client_for(owner).get(reverse("home"))
    assert "Critical milestones held without you contributing" in home.text
    assert Notification.objects.filter(recipient=owner).count() == 1
    assert Notification.objects.filter(recipient=leadership).count() == 1

    board = client_for(leadership).get(reverse("engagements:participation") + "?start=2024-01-01")
    assert board.status_code == 200
    assert "Target architecture" in board.text
    assert board.context["totals"] == {"held_count": 1, "contributed": 0}
    assert "1 critical milestone</a> held in the last twelve months" in (
        client_for(leadership).get(reverse("home")).text
    )


def test_recording_the_same_attendance_twice_notifies_once(
    delivering: Engagement, delivery_manager: User, owner: User
) -> None:
    review = _review(delivering)
    _attend(review, delivery_manager, owner=AttendanceMode.ABSENT)
    _attend(review, delivery_manager, owner=AttendanceMode.ABSENT)
    assert Notification.objects.filter(recipient=owner).count() == 1
    assert MilestoneAttendance.objects.count() == 1


def test_attendance_for_someone_off_the_team_is_refused_and_nothing_changes(
    delivering: Engagement, delivery_manager: User, outsider: User
) -> None:
    review = _review(delivering)
    _attend(review, delivery_manager, owner=AttendanceMode.CONTRIBUTED)
    with pytest.raises(ValidationError, match="not on this engagement's team"):
        services.milestone_attendance_record(
            milestone=review,
            actor=delivery_manager,
            held_on=dt.date(2024, 4, 20),
            lines=[
                services.AttendanceLine(delivering.commercial_lead, AttendanceMode.ABSENT),
                services.AttendanceLine(outsider, AttendanceMode.CONTRIBUTED),
            ],
        )
    review.refresh_from_db()
    assert review.held_on == dt.date(2024, 4, 12)
    assert list(MilestoneAttendance.objects.values_list("person__username", "mode")) == [
        ("owner", "contributed")
    ]


def test_the_attendance_form_lists_the_team_with_defaults_filled_in(
    delivering: Engagement, delivery_manager: User, account: Any
) -> None:
    tm = UserFactory.create(username="tariq", roles=[Role.TECHNOLOGY_MANAGER])
    TeamMemberFactory.create(account=account, user=tm, role="technology_manager")
    review = _review(delivering)
    response = client_for(delivery_manager).get(
        reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    )
    assert response.status_code == 200
    initial = [
        (row["seat"].person.username, row["form"].initial["mode"])
        for row in response.context["rows"]
    ]
    # The owner leads and holds the account-manager seat: listed once, as lead.
    assert initial == [
        ("owner", "contributed"),
        ("delivery", "contributed"),
        ("tariq", "absent"),
    ]


def _attendance_post(
    engagement: Engagement, milestone: Milestone, modes: dict[User, str], held: str
) -> dict[str, str]:
    data = {
        "held_on": held,
        "line-TOTAL_FORMS": str(len(modes)),
        "line-INITIAL_FORMS": str(len(modes)),
    }
    for i, (person, mode) in enumerate(modes.items()):
        data[f"line-{i}-person"] = str(person.pk)
        data[f"line-{i}-mode"] = mode
        data[f"line-{i}-note"] = "Walked the client through the failover design"
    return data


def test_a_delivery_manager_records_attendance_through_the_page(
    delivering: Engagement, delivery_manager: User, owner: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    response = client_for(delivery_manager).post(
        url,
        _attendance_post(
            delivering, review, {owner: "absent", delivery_manager: "contributed"}, "2024-04-11"
        ),
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.held_on == dt.date(2024, 4, 11)
    assert dict(MilestoneAttendance.objects.values_list("person__username", "mode")) == {
        "owner": "absent",
        "delivery": "contributed",
    }
    entry = AuditLogEntry.objects.get(action="milestone.attendance")
    assert entry.actor == delivery_manager
    assert entry.changes[str(owner)] == [None, "absent"]


def test_an_inline_attendance_save_answers_with_the_flag(
    delivering: Engagement, delivery_manager: User, owner: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    data = _attendance_post(
        delivering, review, {owner: "observed", delivery_manager: "contributed"}, "2024-04-11"
    )
    response = client_for(delivery_manager).post(
        url, {**data, "inline": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "did not contribute: it is flagged" in response.text
    assert "<html" not in response.text


def test_a_forged_person_in_the_attendance_form_changes_nothing(
    delivering: Engagement, delivery_manager: User, outsider: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    response = client_for(delivery_manager).post(
        url, _attendance_post(delivering, review, {outsider: "contributed"}, "2024-04-11")
    )
    assert response.status_code == 400
    assert "is not on this engagement" in response.text
    assert not MilestoneAttendance.objects.exists()
    review.refresh_from_db()
    assert review.held_on is None


@pytest.mark.parametrize("extra_forms", [0, 2])
def test_a_form_missing_someone_or_padded_with_empty_rows_changes_nothing(
    delivering: Engagement, delivery_manager: User, owner: User, extra_forms: int
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    data = _attendance_post(delivering, review, {owner: "absent"}, "2024-04-11")
    data["line-TOTAL_FORMS"] = str(1 + extra_forms)
    response = client_for(delivery_manager).post(url, data)
    assert response.status_code == 400
    if not extra_forms:
        assert "Reload the form" in response.text
    assert not MilestoneAttendance.objects.exists()
    review.refresh_from_db()
    assert review.held_on is None


def test_the_commercial_lead_cannot_rewrite_their_own_delivery_record(
    delivering: Engagement, delivery_manager: User, owner: User
) -> None:
    review = _review(delivering)
    _attend(review, delivery_manager, owner=AttendanceMode.ABSENT)
    _change(delivering, "30")
    change = ScopeChange.objects.get()
    client = client_for(owner)
    prefix = f"milestone-{review.pk}"
    edit = client.post(
        reverse("engagements:milestone", args=[delivering.uuid, review.pk]),
        {
            f"{prefix}-kind": "qbr",
            f"{prefix}-planned_on": "2024-04-10",
            f"{prefix}-held_on": "2024-04-12",
            f"{prefix}-version": str(review.version + 1),
        },
    )
    assert edit.status_code == 404
    args = [delivering.uuid, review.pk]
    assert client.post(reverse("engagements:milestone_delete", args=args)).status_code == 404
    args = [delivering.uuid, change.pk]
    assert client.post(reverse("engagements:scope_change_delete", args=args)).status_code == 404
    assert _missed(delivering) == [review]
    assert ScopeChange.objects.filter(cause=ScopeCause.SCOPING_MISS).count() == 1
    with pytest.raises(PermissionDenied):
        services.milestone_save(
            engagement=delivering, actor=owner, data={"critical": False}, milestone=review
        )
    with pytest.raises(PermissionDenied):
        services.scope_change_save(
            engagement=delivering,
            actor=owner,
            data={"cause": ScopeCause.CLIENT_REQUEST},
            change=change,
        )


def test_a_milestone_planned_before_the_engagement_began_is_refused(
    delivering: Engagement,
) -> None:
    with pytest.raises(ValidationError) as refusal:
        _review(delivering, planned_on=dt.date(1, 1, 1))
    assert "before the engagement began" in refusal.value.message_dict["planned_on"][0]
    assert not Milestone.objects.exists()


def test_a_held_date_in_the_future_is_refused_on_the_attendance_form(
    delivering: Engagement, delivery_manager: User, owner: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    response = client_for(delivery_manager).post(
        url,
        _attendance_post(
            delivering, review, {owner: "contributed", delivery_manager: "observed"}, "2999-01-01"
        ),
    )
    assert response.status_code == 400
    assert "in the future" in response.text
    assert not MilestoneAttendance.objects.exists()


def test_nobody_records_their_own_attendance_as_commercial_lead(
    delivering: Engagement, owner: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    assert client_for(owner).get(url).status_code == 404
    response = client_for(owner).post(
        url, _attendance_post(delivering, review, {owner: "contributed"}, "2024-04-11")
    )
    assert response.status_code == 404
    assert not MilestoneAttendance.objects.exists()


def test_outsiders_get_404_on_every_delivery_page_and_post(
    delivering: Engagement, outsider: User
) -> None:
    review = _review(delivering)
    client = client_for(outsider)
    uuid = delivering.uuid
    assert client.get(reverse("engagements:delivery", args=[uuid])).status_code == 404
    cases: list[tuple[str, list[Any]]] = [
        ("scope_items", [uuid]),
        ("scope_changes", [uuid]),
        ("milestones", [uuid]),
        ("milestone", [uuid, review.pk]),
        ("milestone_delete", [uuid, review.pk]),
        ("milestone_attendance", [uuid, review.pk]),
    ]
    for name, args in cases:
        assert client.post(reverse(f"engagements:{name}", args=args), {}).status_code == 404
    assert Milestone.objects.count() == 1


def test_the_participation_chart_shows_each_quarters_share(
    delivering: Engagement, delivery_manager: User, leadership: User, owner: User
) -> None:
    _attend(_review(delivering), delivery_manager, owner=AttendanceMode.ABSENT)
    second = _review(delivering, kind=MilestoneKind.GO_LIVE)
    services.milestone_attendance_record(
        milestone=second,
        actor=delivery_manager,
        held_on=dt.date(2024, 5, 2),
        lines=[services.AttendanceLine(owner, AttendanceMode.CONTRIBUTED)],
    )
    url = reverse("engagements:participation_chart") + "?start=2024-01-01&end=2024-12-31"
    response = client_for(leadership).get(url)
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert "Q2 24" in svg
    assert "50%" in svg
    assert client_for(owner).get(url).status_code == 404
    board = client_for(leadership).get(reverse("engagements:participation") + "?start=2024-01-01")
    assert 'chart.svg?start=2024-01-01"' in board.text


def test_only_leadership_sees_the_participation_board(
    owner: User, delivery_manager: User, leadership: User
) -> None:
    url = reverse("engagements:participation")
    assert client_for(owner).get(url).status_code == 404
    assert client_for(delivery_manager).get(url).status_code == 404
    assert client_for(leadership).get(url).status_code == 200


def test_delivery_pages_refuse_the_wrong_method(
    delivering: Engagement, delivery_manager: User
) -> None:
    client = client_for(delivery_manager)
    assert client.post(reverse("engagements:delivery", args=[delivering.uuid])).status_code == 405
    assert client.delete(reverse("engagements:my_milestones")).status_code == 405


def test_a_milestone_is_removed_only_after_confirming(
    delivering: Engagement, delivery_manager: User
) -> None:
    review = _review(delivering)
    url = reverse("engagements:milestone_delete", args=[delivering.uuid, review.pk])
    client = client_for(delivery_manager)
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert Milestone.objects.filter(pk=review.pk).exists()
    assert client.post(url).status_code == 302
    assert not Milestone.objects.filter(pk=review.pk).exists()


# Lists keep a fixed number of queries ----------------------------------------------------


def _deliveries(count: int, manager: User) -> None:
    for _ in range(count):
        lead = UserFactory.create()
        engagement = EngagementFactory.create(
            commercial_lead=lead,
            delivery_manager=manager,
            stage=Stage.DELIVERY,
            contracted_effort_days=Decimal(50),
        )
        today = dt.date.today()
        for days in (-20, -3, 5, 30):
            Milestone.objects.create(
                engagement=engagement,
                kind=MilestoneKind.ARCHITECTURE_REVIEW,
                critical=True,
                planned_on=today + dt.timedelta(days=days),
                held_on=today + dt.timedelta(days=days) if days == -20 else None,
            )


@pytest.mark.parametrize("engagements", [1, 8])
def test_my_milestones_runs_a_fixed_number_of_queries(
    delivery_manager: User, engagements: int, django_assert_num_queries: Any
) -> None:
    _deliveries(engagements, delivery_manager)
    client = client_for(delivery_manager)
    response = client.get(reverse("engagements:my_milestones"))
    assert len(response.context["awaiting"]) == 2 * engagements
    assert len(response.context["page"].object_list) == 2 * engagements
    with django_assert_num_queries(4):
        client.get(reverse("engagements:my_milestones"))


@pytest.mark.parametrize("team", [0, 8])
def test_the_attendance_form_runs_a_fixed_number_of_queries(
    delivering: Engagement,
    delivery_manager: User,
    account: Any,
    team: int,
    django_assert_num_queries: Any,
) -> None:
    for _ in range(team):
        TeamMemberFactory.create(account=account, role="technology_manager")
    review = _review(delivering)
    _attend(review, delivery_manager, owner=AttendanceMode.CONTRIBUTED)
    url = reverse("engagements:milestone_attendance", args=[delivering.uuid, review.pk])
    client = client_for(delivery_manager)
    assert len(client.get(url).context["rows"]) == 2 + team
    with django_assert_num_queries(5):
        client.get(url)


@pytest.mark.parametrize("rows", [1, 6])
def test_the_delivery_page_runs_a_fixed_number_of_queries(
    delivering: Engagement, delivery_manager: User, rows: int, django_assert_num_queries: Any
) -> None:
    for i in range(rows):
        _review(delivering, kind=MilestoneKind.IMPLEMENTATION, title=f"Step {i}")
        _change(delivering, "1.5")
    client = client_for(delivery_manager)
    url = reverse("engagements:delivery", args=[delivering.uuid])
    assert client.get(url).status_code == 200
    with django_assert_num_queries(14):
        client.get(url)
