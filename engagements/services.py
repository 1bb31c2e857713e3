"""Engagement workflows. Every entry point (pages, API, admin, tasks, commands) calls these,
so each rule lives here once."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractDay
from django.urls import reverse
from django.utils import timezone

from engagements.documents import document_html, quarter_start, snapshot_build
from engagements.models import (
    CLOSED_STAGES,
    STAGE_DATE_FIELD,
    TRANSITIONS,
    Account,
    AccountTeamMember,
    AccountTemperature,
    AdoptionStep,
    AttendanceMode,
    CareerNote,
    ClientRating,
    Contact,
    Document,
    DocumentKind,
    DocumentStatus,
    Engagement,
    MetricReading,
    Milestone,
    MilestoneAttendance,
    MilestoneQuerySet,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    PostSaleActivity,
    Product,
    RevenueEntry,
    ScopeChange,
    ScopeItem,
    Stage,
    StageChange,
    SuccessMetric,
    SuccessPlan,
    TeamRole,
)
from tcp.models import ACTION_LABELS, AuditLogEntry, OrganisationSettings, User
from tcp.services import (
    EDIT_MERGE_WINDOW,
    audit_record,
    audit_record_many,
    changed_fields,
    field_values,
    notification_send,
    record_create,
    record_delete,
    record_save,
    record_update,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Blocker:
    """One thing that stops an engagement entering a stage, and where to fix it."""

    message: str
    fix_url: str = ""


class StageChangeRefused(ValidationError):
    def __init__(self, blockers: list[Blocker]):
        self.blockers = blockers
        super().__init__([b.message for b in blockers])


# Other apps add rules for entering a stage (discovery before proposal; certification
# before leading) by registering here from their AppConfig.ready(), so the one stage
# service applies them all without this hub importing its spokes.
StageGuard = Callable[[Engagement, str, dt.date, OrganisationSettings], list[Blocker]]
LeadGuard = Callable[[User, dt.date], list[Blocker]]
STAGE_GUARDS: list[StageGuard] = []
LEAD_GUARDS: list[LeadGuard] = []

# Stages in the order a won engagement passes through them.
MAIN_PATH = [Stage.DISCOVERY, Stage.PROPOSAL, Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED]


def _edit_url(engagement: Engagement) -> str:
    return reverse("engagements:engagement_edit", args=[engagement.uuid]) if engagement.pk else ""


def _field_blockers(engagement: Engagement, to_stage: str) -> list[Blocker]:
    fix = _edit_url(engagement)
    missing: list[str] = []
    if to_stage in (Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED):
        if not engagement.value:
            missing.append("the contract value")
        if engagement.contracted_start is None:
            missing.append("the contracted start date")
        if engagement.contracted_end is None:
            missing.append("the contracted end date")
        if not engagement.contracted_effort_days:
            missing.append("the contracted effort in days")
    if to_stage in (Stage.DELIVERY, Stage.COMPLETED) and engagement.delivery_manager_id is None:
        missing.append("a delivery manager")
    return [Blocker(f"Add {item}.", fix) for item in missing]


def engagement_stage_blockers(
    *,
    engagement: Engagement,
    to_stage: str,
    on: dt.date,
    organisation: OrganisationSettings | None = None,
) -> list[Blocker]:
    """Everything that stops `engagement` entering `to_stage` on day `on` (empty: allowed).

    Does not check whether the move itself is allowed from the current stage.
    """
    organisation = organisation or OrganisationSettings.load()
    blockers = _field_blockers(engagement, to_stage)
    if on < engagement.opened_on:
        blockers.append(
            Blocker(
                f"The date {on:%d %b %Y} is before the engagement opened "
                f"({engagement.opened_on:%d %b %Y})."
            )
        )
    if on > timezone.localdate():
        blockers.append(Blocker(f"The date {on:%d %b %Y} is in the future."))
    for guard in STAGE_GUARDS:
        blockers.extend(guard(engagement, to_stage, on, organisation))
    return blockers


def engagement_lead_blockers(*, lead: User, on: dt.date) -> list[Blocker]:
    """Reasons a person cannot become commercial lead of a new engagement."""
    blockers: list[Blocker] = []
    if not lead.is_active:
        blockers.append(Blocker(f"{lead} has left the company."))
    if not lead.is_commercial:
        blockers.append(Blocker(f"{lead} does not hold a commercial role."))
    for guard in LEAD_GUARDS:
        blockers.extend(guard(lead, on))
    return blockers


def _notify_stage_change(engagement: Engagement, change: StageChange) -> None:
    from engagements.tasks import engagement_stage_notify

    transaction.on_commit(partial(engagement_stage_notify.delay, change.pk))


@transaction.atomic
def engagement_advance(
    *,
    engagement: Engagement,
    to_stage: str,
    actor: User | None,
    on: dt.date | None = None,
    note: str = "",
) -> Engagement:
    """Move an engagement to another stage.

    Preconditions: the move is allowed from the current stage (TRANSITIONS) and nothing
    blocks the target stage (engagement_stage_blockers); otherwise StageChangeRefused,
    naming each missing thing, and nothing is written. Stamps the stage's date, records
    who and when, and notifies the account team after commit.
    """
    on = on or timezone.localdate()
    locked = Engagement.objects.select_for_update().get(pk=engagement.pk)
    if to_stage not in Stage.values:
        raise StageChangeRefused([Blocker(f"“{to_stage}” is not a stage.")])
    if to_stage not in TRANSITIONS[locked.stage]:
        raise StageChangeRefused(
            [
                Blocker(
                    f"An engagement in {Stage(locked.stage).label.lower()} cannot move to "
                    f"{Stage(to_stage).label.lower()}."
                )
            ]
        )
    blockers = engagement_stage_blockers(engagement=locked, to_stage=to_stage, on=on)
    if blockers:
        raise StageChangeRefused(blockers)

    from_stage = locked.stage
    locked.stage = to_stage
    locked.stage_changed_at = timezone.now()
    locked.stage_changed_by = actor
    fields = ["stage", "stage_changed_at", "stage_changed_by", "updated_at"]
    date_field = STAGE_DATE_FIELD.get(to_stage)
    if date_field:
        setattr(locked, date_field, on)
        fields.append(date_field)
    if to_stage == Stage.DISCOVERY:
        # Reopened: the earlier proposal no longer stands.
        locked.proposal_on = None
        fields.append("proposal_on")
    locked.save(update_fields=fields)
    change = StageChange.objects.create(
        engagement=locked, from_stage=from_stage, to_stage=to_stage, on=on, by=actor, note=note
    )
    audit_record(
        actor=actor,
        action="engagement.stage",
        obj=locked,
        changes={"stage": [from_stage, to_stage], "on": on, "note": note},
    )
    _notify_stage_change(locked, change)
    engagement.refresh_from_db(fields=[f for f in fields if f != "updated_at"])
    return engagement


ENGAGEMENT_FIELDS = (
    "name",
    "description",
    "commercial_lead",
    "delivery_manager",
    "value",
    "contracted_effort_days",
    "partner_led",
    "poc",
    "poc_concluded_on",
    "opened_on",
    "proposal_on",
    "contract_signed_on",
    "contracted_start",
    "contracted_end",
    "completed_on",
    "lost_on",
    "cancelled_on",
    "external_id",
)


def _check_path(engagement: Engagement, organisation: OrganisationSettings) -> list[Blocker]:
    """A record created straight into a later stage must satisfy every stage it skipped."""
    target = engagement.stage
    passed = MAIN_PATH[1 : MAIN_PATH.index(Stage(target)) + 1] if target in MAIN_PATH else []
    if target not in MAIN_PATH and engagement.proposal_on is not None:
        # Lost or cancelled after a proposal: the proposal still had to follow the rules.
        passed = [Stage.PROPOSAL]
    blockers: list[Blocker] = []
    for stage in passed:
        date_field = STAGE_DATE_FIELD.get(stage)
        on = getattr(engagement, date_field) if date_field else None
        on = on or engagement.contracted_start or engagement.opened_on
        for blocker in engagement_stage_blockers(
            engagement=engagement, to_stage=stage, on=on, organisation=organisation
        ):
            if blocker not in blockers:
                blockers.append(blocker)
    date_field = STAGE_DATE_FIELD.get(target)
    if date_field and getattr(engagement, date_field) is None:
        blockers.append(
            Blocker(f"Give the date the engagement became {Stage(target).label.lower()}.")
        )
    return blockers


@transaction.atomic
def engagement_create(
    *,
    account: Account,
    actor: User | None,
    stage: str = Stage.DISCOVERY,
    product_lines: Iterable[Any] = (),
    **data: Any,
) -> Engagement:
    """Open an engagement for an account.

    Preconditions: the commercial lead may lead (engagement_lead_blockers); an engagement
    created in a later stage satisfies every rule of the stages it skipped (so a CRM sync
    cannot slip past discovery). Otherwise StageChangeRefused and nothing is written.
    """
    unknown = set(data) - set(ENGAGEMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown engagement fields: {sorted(unknown)}")
    engagement = Engagement(account=account, stage=stage, **data)
    engagement.full_clean(exclude=["product_lines"])
    organisation = OrganisationSettings.load()
    # The lead is made lead today, whatever opening date is typed: a backdated engagement
    # must not slip past an overdue certification. History loaded already closed is
    # judged on the day it opened.
    lead_on = engagement.opened_on if stage in CLOSED_STAGES else timezone.localdate()
    blockers = engagement_lead_blockers(lead=engagement.commercial_lead, on=lead_on)
    if stage != Stage.DISCOVERY:
        blockers += _check_path(engagement, organisation)
    if blockers:
        raise StageChangeRefused(blockers)
    engagement.stage_changed_at = timezone.now()
    engagement.stage_changed_by = actor
    engagement.save()
    engagement.product_lines.set(list(product_lines))
    StageChange.objects.create(
        engagement=engagement,
        from_stage="",
        to_stage=stage,
        on=engagement.opened_on,
        by=actor,
        note="Created",
    )
    audit_record(
        actor=actor,
        action="engagement.create",
        obj=engagement,
        changes=field_values(engagement, ["stage", "commercial_lead", "value"]),
    )
    return engagement


@transaction.atomic
def engagement_bulk_create(
    *, rows: Sequence[Mapping[str, Any]], actor: User | None
) -> list[Engagement]:
    """engagement_create for many rows in a few statements (a CRM's bulk sync).

    The same rules: each commercial lead may lead (checked once per person), and a row in
    a later stage than discovery goes through engagement_create, whose path rules read
    other records. Field checks that need the database (foreign keys, uniqueness, check
    constraints) are left to the insert: if it fails, nothing is written and the caller
    retries row by row to say which one. Returns the engagements in the order given.
    """
    today = timezone.localdate()
    now = timezone.now()
    lead_blockers: dict[int, list[Blocker]] = {}
    made: list[Engagement | None] = []
    fresh: list[tuple[Engagement, list[Any]]] = []
    for row in rows:
        data = dict(row)
        account = data.pop("account")
        stage = data.pop("stage", Stage.DISCOVERY)
        lines = list(data.pop("product_lines", ()))
        if stage != Stage.DISCOVERY:
            made.append(
                engagement_create(
                    account=account, actor=actor, stage=stage, product_lines=lines, **data
                )
            )
            continue
        unknown = set(data) - set(ENGAGEMENT_FIELDS)
        if unknown:
            raise TypeError(f"unknown engagement fields: {sorted(unknown)}")
        engagement = Engagement(account=account, stage=stage, **data)
        # Related rows were looked up by the caller; the rest is checked by the insert.
        engagement.full_clean(
            exclude=["product_lines", "account", "commercial_lead", "delivery_manager"],
            validate_unique=False,
            validate_constraints=False,
        )
        lead = engagement.commercial_lead
        if lead.pk not in lead_blockers:
            lead_blockers[lead.pk] = engagement_lead_blockers(lead=lead, on=today)
        if lead_blockers[lead.pk]:
            raise StageChangeRefused(lead_blockers[lead.pk])
        engagement.stage_changed_at = now
        engagement.stage_changed_by = actor
        fresh.append((engagement, lines))
        made.append(None)
    created = Engagement.objects.bulk_create([e for e, _ in fresh])
    Engagement.product_lines.through.objects.bulk_create(
        [
            Engagement.product_lines.through(engagement_id=e.pk, productline_id=line.pk)
            for e, (_, lines) in zip(created, fresh, strict=True)
            for line in lines
        ]
    )
    StageChange.objects.bulk_create(
        [
            StageChange(
                engagement=e,
                from_stage="",
                to_stage=e.stage,
                on=e.opened_on,
                by=actor,
                note="Created",
            )
            for e in created
        ]
    )
    audit_record_many(
        actor=actor,
        action="engagement.create",
        changes=[(e, field_values(e, ["stage", "commercial_lead", "value"])) for e in created],
    )
    fresh_iter = iter(created)
    return [e if e is not None else next(fresh_iter) for e in made]


@transaction.atomic
def engagement_update(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    product_lines: Iterable[Any] | None = None,
) -> Engagement:
    """Change an engagement's details (never its stage: that is engagement_advance).

    A new commercial lead must pass engagement_lead_blockers; the stored values must still
    satisfy the current stage's rules.
    """
    unknown = set(data) - set(ENGAGEMENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown engagement fields: {sorted(unknown)}")
    # The stored row, not the instance: a bound ModelForm has already written onto it.
    stored = Engagement.objects.select_for_update().get(pk=engagement.pk)
    before = field_values(stored, data.keys())
    old_lead_id = stored.commercial_lead_id
    for name, value in data.items():
        setattr(engagement, name, value)
    engagement.full_clean(exclude=["product_lines"])
    blockers: list[Blocker] = []
    if engagement.commercial_lead_id != old_lead_id:
        blockers += engagement_lead_blockers(
            lead=engagement.commercial_lead, on=timezone.localdate()
        )
    if engagement.stage in (Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED):
        blockers += _field_blockers(engagement, engagement.stage)
    if blockers:
        raise StageChangeRefused(blockers)
    if engagement.contracted_effort_days != stored.contracted_effort_days:
        _refuse_effort_change(stored)
    engagement.save(update_fields=[*data.keys(), "updated_at"])
    changes = changed_fields(before, field_values(engagement, data.keys()))
    if product_lines is not None:
        old = sorted(str(p) for p in engagement.product_lines.all())
        engagement.product_lines.set(list(product_lines))
        new = sorted(str(p) for p in engagement.product_lines.all())
        if old != new:
            changes["product_lines"] = [old, new]
    if changes:
        audit_record(actor=actor, action="engagement.update", obj=engagement, changes=changes)
    return engagement


# Delivery: contracted scope, scope changes, milestones and attendance ---------------------

ACTION_LABELS.update(
    {
        "scope_item.create": "added a scope item",
        "scope_item.update": "edited a scope item",
        "scope_item.delete": "removed a scope item",
        "scope_change.create": "recorded a scope change",
        "scope_change.update": "edited a scope change",
        "scope_change.delete": "removed a scope change",
        "milestone.create": "planned a milestone",
        "milestone.update": "edited a milestone",
        "milestone.delete": "removed a milestone",
        "milestone.attendance": "recorded attendance",
    }
)


def _lock_engagement(engagement: Engagement) -> Engagement:
    return Engagement.objects.select_for_update().get(pk=engagement.pk)


def _sync_contracted_effort(engagement: Engagement) -> None:
    """Before the contract, the contracted effort is the sum of the scope items."""
    total = ScopeItem.objects.filter(engagement=engagement).aggregate(days=Sum("estimated_days"))[
        "days"
    ]
    if engagement.contracted_effort_days != total:
        engagement.contracted_effort_days = total
        engagement.save(update_fields=["contracted_effort_days", "updated_at"])


def _refuse_frozen_scope(engagement: Engagement) -> None:
    if engagement.scope_is_frozen:
        raise ValidationError(
            "The scope was frozen when the engagement was contracted: record a scope change "
            "instead."
        )


@transaction.atomic
def scope_item_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    item: ScopeItem | None = None,
    version: int | None = None,
) -> ScopeItem:
    """Add or change a scope item while the engagement is in discovery or proposal; the
    contracted effort follows their sum. Refused once it is contracted (the scope froze)."""
    locked = _lock_engagement(engagement)
    _refuse_frozen_scope(locked)
    saved = record_save(
        item=item or ScopeItem(engagement=locked),
        actor=actor,
        data=data,
        noun="scope_item",
        audit_on=locked,
        version=version,
    )
    _sync_contracted_effort(locked)
    return saved


@transaction.atomic
def scope_item_delete(*, item: ScopeItem, actor: User | None) -> None:
    locked = _lock_engagement(item.engagement)
    _refuse_frozen_scope(locked)
    record_delete(obj=item, actor=actor, action="scope_item.delete", audit_on=locked)
    _sync_contracted_effort(locked)


def _check_business_date(
    day: dt.date | None, *, field: str, engagement: Engagement, earliest: dt.date, since: str
) -> None:
    if day is None:
        return
    if day < earliest:
        raise ValidationError({field: f"{day:%d %b %Y} is before {since} ({earliest:%d %b %Y})."})
    if day > timezone.localdate():
        raise ValidationError({field: f"{day:%d %b %Y} is in the future."})


@transaction.atomic
def scope_change_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    change: ScopeChange | None = None,
    version: int | None = None,
) -> ScopeChange:
    """Record or correct a change to the contracted scope.

    Preconditions: the engagement has been contracted (before that, its scope items are
    still being estimated); the change adds or removes effort (not zero); it was approved
    between the contract signature and today.
    """
    locked = _lock_engagement(engagement)
    _refuse_own_record(locked, actor)
    if locked.stage not in (Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED):
        raise ValidationError(
            "Scope changes are recorded once the engagement is contracted; before that, "
            "change its scope items."
        )
    delta = data.get("effort_delta_days", change.effort_delta_days if change else None)
    if delta is not None and delta == 0:
        raise ValidationError(
            {"effort_delta_days": "Enter the days added (positive) or taken out (negative)."}
        )
    approved_on = data.get("approved_on", change.approved_on if change else None)
    _check_business_date(
        approved_on,
        field="approved_on",
        engagement=locked,
        earliest=locked.contract_signed_on or locked.opened_on,
        since="the contract was signed" if locked.contract_signed_on else "the engagement opened",
    )
    return record_save(
        item=change or ScopeChange(engagement=locked),
        actor=actor,
        data=data,
        noun="scope_change",
        audit_on=locked,
        version=version,
    )


@transaction.atomic
def scope_change_delete(*, change: ScopeChange, actor: User | None) -> None:
    locked = _lock_engagement(change.engagement)
    _refuse_own_record(locked, actor)
    record_delete(obj=change, actor=actor, action="scope_change.delete", audit_on=locked)


def _refuse_own_record(engagement: Engagement, actor: User | None) -> None:
    """The delivery record (scope changes, milestones, attendance) measures the commercial
    lead, so the lead does not keep it: the delivery manager does."""
    if actor is not None and actor.pk == engagement.commercial_lead_id:
        raise PermissionDenied(
            "The commercial lead's delivery record is kept by the delivery manager."
        )


def _check_held_on(engagement: Engagement, held_on: dt.date | None) -> None:
    _check_business_date(
        held_on,
        field="held_on",
        engagement=engagement,
        earliest=engagement.opened_on,
        since="the engagement began",
    )


@transaction.atomic
def milestone_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    milestone: Milestone | None = None,
    version: int | None = None,
) -> Milestone:
    """Plan a milestone or change it. A new milestone whose `critical` is not given (None)
    is critical when its kind is (architecture reviews and go-lives). It cannot have been
    held before the engagement began or in the future."""
    locked = _lock_engagement(engagement)
    _refuse_own_record(locked, actor)
    data = dict(data)
    if data.get("critical") is None:
        if milestone is None:
            data["critical"] = Milestone.critical_by_default(data.get("kind", ""))
        else:
            data.pop("critical", None)
    _check_held_on(locked, data.get("held_on"))
    planned = data.get("planned_on")
    if planned is not None and planned < locked.opened_on:
        raise ValidationError(
            {
                "planned_on": f"{planned:%d %b %Y} is before the engagement began "
                f"({locked.opened_on:%d %b %Y})."
            }
        )
    return record_save(
        item=milestone or Milestone(engagement=locked),
        actor=actor,
        data=data,
        noun="milestone",
        audit_on=locked,
        version=version,
    )


@transaction.atomic
def milestone_delete(*, milestone: Milestone, actor: User | None) -> None:
    locked = _lock_engagement(milestone.engagement)
    _refuse_own_record(locked, actor)
    record_delete(obj=milestone, actor=actor, action="milestone.delete", audit_on=locked)


def awaiting_attendance(user: User) -> MilestoneQuerySet:
    """Milestones of the engagements `user` delivers that have come due without an
    attendance record."""
    recorded = MilestoneAttendance.objects.filter(milestone=OuterRef("pk"))
    return (
        Milestone.objects.filter(
            engagement__delivery_manager=user, planned_on__lte=timezone.localdate()
        )
        .exclude(engagement__stage__in=[Stage.LOST, Stage.CANCELLED])
        .filter(Q(held_on__isnull=True) | ~Exists(recorded))
    )


@dataclass(frozen=True)
class TeamSeat:
    person: User
    seat: str  # what they are on this engagement, for people


def engagement_team(engagement: Engagement) -> list[TeamSeat]:
    """Who can attend the engagement's milestones: the commercial lead, the delivery
    manager and everyone with a seat on the account team, each once (lead first)."""
    seats: dict[int, TeamSeat] = {}
    lead = engagement.commercial_lead
    seats[lead.pk] = TeamSeat(lead, "Commercial lead")
    if engagement.delivery_manager_id is not None:
        manager = engagement.delivery_manager
        assert manager is not None
        seats.setdefault(manager.pk, TeamSeat(manager, "Delivery manager"))
    members = AccountTeamMember.objects.filter(account_id=engagement.account_id).select_related(
        "user"
    )
    for member in members:
        seats.setdefault(member.user_id, TeamSeat(member.user, TeamRole(member.role).label))
    return list(seats.values())


@dataclass(frozen=True)
class AttendanceLine:
    person: User
    mode: str
    note: str = ""


def _notify_missed(milestone: Milestone, engagement: Engagement) -> None:
    lead = engagement.commercial_lead
    recipients = [lead]
    manager = lead.manager
    if (
        manager is not None
        and Engagement.objects.visible_to(manager).filter(pk=engagement.pk).exists()
    ):
        recipients.append(manager)
    held = milestone.held_on
    assert held is not None
    notification_send(
        recipients=recipients,
        message=f"{lead} did not contribute to the {milestone.kind_label.lower()} of "
        f"{engagement} held on {held:%d %b %Y}, a critical milestone.",
        link=reverse("engagements:delivery", args=[engagement.uuid]) + f"#milestone-{milestone.pk}",
        dedupe_key=f"milestone-missed-{milestone.pk}-{held:%Y%m%d}",
    )


@transaction.atomic
def milestone_attendance_record(
    *,
    milestone: Milestone,
    actor: User | None,
    held_on: dt.date,
    lines: Sequence[AttendanceLine],
) -> Milestone:
    """Record that a milestone was held on `held_on` and how each person attended,
    replacing what was recorded before for the milestone.

    Preconditions: every person is on the engagement's team (engagement_team) and appears
    once; each mode is an AttendanceMode; the date is between the engagement's opening and
    today. Otherwise ValidationError and nothing changes. A critical milestone held without
    the commercial lead contributing notifies the lead and their manager.
    """
    locked = Milestone.objects.select_for_update().get(pk=milestone.pk)
    engagement = Engagement.objects.select_related("commercial_lead", "delivery_manager").get(
        pk=locked.engagement_id
    )
    _refuse_own_record(engagement, actor)
    if held_on is None:
        raise ValidationError({"held_on": "Give the date the milestone was held."})
    _check_held_on(engagement, held_on)
    team = {seat.person.pk for seat in engagement_team(engagement)}
    seen: set[int] = set()
    for line in lines:
        if line.person.pk not in team:
            raise ValidationError(
                f"{line.person} is not on this engagement's team, so their attendance "
                "cannot be recorded."
            )
        if line.person.pk in seen:
            raise ValidationError(f"{line.person} is listed twice.")
        seen.add(line.person.pk)
        if line.mode not in AttendanceMode.values:
            raise ValidationError(f"“{line.mode}” is not a way of attending.")
        if len(line.note) > 300:
            raise ValidationError(f"Keep the note on {line.person} under 300 characters.")

    before = {
        str(a.person): a.mode
        for a in MilestoneAttendance.objects.filter(milestone=locked).select_related("person")
    }
    old_held = locked.held_on
    locked.held_on = held_on
    locked.updated_by = actor
    locked.save(update_fields=["held_on", "version", "updated_by", "updated_at"])
    MilestoneAttendance.objects.filter(milestone=locked).exclude(person__in=seen).delete()
    now = timezone.now()
    MilestoneAttendance.objects.bulk_create(
        [
            MilestoneAttendance(
                milestone=locked,
                person=line.person,
                mode=line.mode,
                note=line.note,
                recorded_by=actor,
                recorded_at=now,
            )
            for line in lines
        ],
        update_conflicts=True,
        unique_fields=["milestone", "person"],
        update_fields=["mode", "note", "recorded_by", "recorded_at"],
    )
    after = {str(line.person): line.mode for line in lines}
    changes: dict[str, Any] = changed_fields(before, after)
    if old_held != held_on:
        changes["held_on"] = [old_held, held_on]
    audit_record(
        actor=actor,
        action="milestone.attendance",
        obj=engagement,
        changes={"item": str(locked), **changes},
    )
    lead_contributed = any(
        line.person.pk == engagement.commercial_lead_id and line.mode == AttendanceMode.CONTRIBUTED
        for line in lines
    )
    if locked.critical and not lead_contributed:
        _notify_missed(locked, engagement)
    milestone.refresh_from_db()
    return milestone


# Revenue and ratings: the financial and customer KPIs' inputs ----------------------------

ACTION_LABELS.update(
    {
        "revenue.create": "recorded revenue",
        "revenue.update": "corrected revenue",
        "revenue.delete": "removed revenue",
        "rating.create": "recorded a client rating",
        "rating.update": "corrected a client rating",
        "rating.delete": "removed a client rating",
    }
)


def revenue_entry_check(
    *, engagement: Engagement, data: Mapping[str, Any], entry: RevenueEntry | None = None
) -> dict[str, Any]:
    """The rules of a revenue entry beyond its fields (forms call it to show them beside
    the fields); returns the data with the month on its first day."""
    if engagement.stage not in (
        Stage.CONTRACTED,
        Stage.DELIVERY,
        Stage.COMPLETED,
        Stage.CANCELLED,
    ):
        raise ValidationError({"engagement": "Revenue is recorded on contracted engagements only."})
    data = dict(data)
    if data.get("month"):
        data["month"] = data["month"].replace(day=1)
    month = data.get("month", entry.month if entry else None)
    clash = RevenueEntry.objects.filter(engagement=engagement, month__isnull=False)
    if entry is not None:
        clash = clash.exclude(pk=entry.pk)
    if month and clash.filter(month=month).exists():
        raise ValidationError({"month": f"{month:%B %Y} already has an entry; correct that one."})
    return data


@transaction.atomic
def revenue_entry_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    entry: RevenueEntry | None = None,
) -> RevenueEntry:
    """Record one month's revenue and cost of an engagement (any day of the month names
    the month). Revenue is recognised on won work only, one entry per month."""
    locked = _lock_engagement(engagement)
    data = revenue_entry_check(engagement=locked, data=data, entry=entry)
    return record_save(
        item=entry or RevenueEntry(engagement=locked),
        actor=actor,
        data=data,
        noun="revenue",
        audit_on=locked,
        version=None,
    )


@transaction.atomic
def revenue_entry_delete(*, entry: RevenueEntry, actor: User | None) -> None:
    locked = _lock_engagement(entry.engagement)
    record_delete(obj=entry, actor=actor, action="revenue.delete", audit_on=locked)


def client_rating_check(
    *, engagement: Engagement, data: Mapping[str, Any], rating: ClientRating | None = None
) -> None:
    """The rules of a rating beyond its fields: rated between the opening and today, one
    rating a day."""
    rated_on = data.get("rated_on", rating.rated_on if rating else None)
    _check_business_date(
        rated_on,
        field="rated_on",
        engagement=engagement,
        earliest=engagement.opened_on,
        since="the engagement opened",
    )
    clash = ClientRating.objects.filter(engagement=engagement)
    if rating is not None:
        clash = clash.exclude(pk=rating.pk)
    if rated_on and clash.filter(rated_on=rated_on).exists():
        raise ValidationError({"rated_on": "There is already a rating on that day."})


@transaction.atomic
def client_rating_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    rating: ClientRating | None = None,
) -> ClientRating:
    """Record how we and the client rated the work (1-10 each) on a day not in the future."""
    locked = _lock_engagement(engagement)
    client_rating_check(engagement=locked, data=data, rating=rating)
    return record_save(
        item=rating or ClientRating(engagement=locked),
        actor=actor,
        data=data,
        noun="rating",
        audit_on=locked,
        version=None,
    )


@transaction.atomic
def client_rating_delete(*, rating: ClientRating, actor: User | None) -> None:
    locked = _lock_engagement(rating.engagement)
    record_delete(obj=rating, actor=actor, action="rating.delete", audit_on=locked)


def _refuse_effort_change(stored: Engagement) -> None:
    """The contracted effort is frozen at the contract, and before it comes from the scope
    items when there are any."""
    if stored.scope_is_frozen:
        raise ValidationError(
            {
                "contracted_effort_days": "The contracted effort was frozen when the engagement "
                "was contracted; record a scope change instead."
            }
        )
    if ScopeItem.objects.filter(engagement=stored).exists():
        raise ValidationError(
            {
                "contracted_effort_days": "The contracted effort is the sum of the scope items; "
                "change those instead."
            }
        )


ACCOUNT_FIELDS = ("name", "industry", "region", "segment", "website", "notes", "external_id")


@transaction.atomic
def account_create(
    *, actor: User | None, team: Mapping[str, User] | None = None, **data: Any
) -> Account:
    """Create an account; `team` maps a seat (TeamRole) to the person who takes it.

    An account manager who creates an account takes its account-manager seat, so they can
    see what they created.
    """
    account = Account(**data)
    account.full_clean()
    account.save()
    seats = dict(team or {})
    if actor is not None and not actor.sees_everything and "account_manager" not in seats:
        seats["account_manager"] = actor
    for role, user in seats.items():
        AccountTeamMember.objects.create(account=account, user=user, role=role)
    audit_record(
        actor=actor,
        action="account.create",
        obj=account,
        changes=field_values(account, ACCOUNT_FIELDS),
    )
    return account


def account_update(*, account: Account, actor: User | None, data: Mapping[str, Any]) -> Account:
    """Change an account's details (validated; nothing is written when invalid)."""
    return record_update(obj=account, actor=actor, data=data, action="account.update")


@transaction.atomic
def team_member_add(
    *, account: Account, user: User, role: str, actor: User | None
) -> AccountTeamMember:
    """Seat a person on the account team. A seat they already hold is refused."""
    if AccountTeamMember.objects.filter(account=account, user=user, role=role).exists():
        raise ValidationError({"user": f"{user} already holds this seat on the team."})
    member = AccountTeamMember.objects.create(account=account, user=user, role=role)
    audit_record(
        actor=actor, action="team.add", obj=account, changes={"member": str(user), "role": role}
    )
    return member


@transaction.atomic
def team_member_remove(*, member: AccountTeamMember, actor: User | None) -> None:
    account = member.account
    audit_record(
        actor=actor,
        action="team.remove",
        obj=account,
        changes={"member": str(member.user), "role": member.role},
    )
    member.delete()


@transaction.atomic
def product_save(
    *, actor: User | None, data: Mapping[str, Any], product: Product | None = None
) -> Product:
    """Add a product to the catalogue or change one."""
    return record_save(
        item=product or Product(),
        actor=actor,
        data=data,
        noun="product",
        audit_on=None,
        version=None,
    )


def product_delete(*, product: Product, actor: User | None) -> None:
    record_delete(obj=product, actor=actor, action="product.delete")


CONTACT_FIELDS = ("name", "job_title", "email", "phone", "buyer_role", "external_id")


@transaction.atomic
def contact_save(
    *, account: Account, actor: User | None, data: Mapping[str, Any], contact: Contact | None = None
) -> Contact:
    """Create a contact on `account`, or update `contact` (which must belong to it)."""
    creating = contact is None
    contact = contact or Contact(account=account)
    if contact.account_id != account.pk:
        raise ValidationError("The contact belongs to another account.")
    stored = None if creating else Contact.objects.select_for_update().get(pk=contact.pk)
    before = field_values(stored, data.keys()) if stored else {}
    for name, value in data.items():
        setattr(contact, name, value)
    contact.full_clean()
    contact.save()
    changes = changed_fields(before, field_values(contact, data.keys()))
    audit_record(
        actor=actor,
        action="contact.create" if creating else "contact.update",
        obj=contact,
        changes=changes,
    )
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: User | None) -> None:
    audit_record(actor=actor, action="contact.delete", obj=contact, changes={"name": contact.name})
    contact.delete()


# Golden thread: the success plan, its adoption steps and metrics, and post-sale work -------

SUCCESS_PLAN_ACTIONS = {
    "success_plan.create": "started the success plan",
    "success_plan.update": "edited the business outcome",
    "adoption_step.create": "added an adoption step",
    "adoption_step.update": "edited an adoption step",
    "adoption_step.delete": "removed an adoption step",
    "success_metric.create": "added a success metric",
    "success_metric.update": "edited a success metric",
    "success_metric.delete": "removed a success metric",
    "metric_reading.record": "recorded a success metric reading",
    "post_sale_activity.log": "logged a post-sale activity",
    "post_sale_activity.delete": "removed a post-sale activity",
}
ACTION_LABELS.update(SUCCESS_PLAN_ACTIONS)

SUCCESS_PLAN_FIELDS = ("business_outcome",)
ADOPTION_STEP_FIELDS = ("description", "owner", "due_on", "done_on")
SUCCESS_METRIC_FIELDS = ("name", "unit", "baseline", "target")
POST_SALE_ACTIVITY_FIELDS = ("kind", "on", "description", "by")


def success_plan_editable_by(*, engagement: Engagement, user: User) -> bool:
    """Whether `user` may change the engagement's success plan: whoever may edit the
    engagement, and whoever delivers it, since adoption and the value the client gets after
    the sale are delivery's work as much as sales'. Everyone who sees it may read it."""
    if user.is_active and user.sees_everything:
        return True
    editors = Engagement.objects.editable_by(user) | Engagement.objects.deliverable_by(user)
    return editors.filter(pk=engagement.pk).exists()


def success_plan_people(engagement: Engagement) -> QuerySet[User]:
    """Who can have done post-sale work on the engagement: its commercial lead, its delivery
    manager and the account team."""
    return (
        User.objects.filter(
            Q(pk=engagement.commercial_lead_id)
            | Q(pk=engagement.delivery_manager_id)
            | Q(account_seats__account_id=engagement.account_id)
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def success_metrics_with_progress(plan: SuccessPlan) -> QuerySet[SuccessMetric]:
    """The plan's metrics, each with `current` and `current_on` (its latest reading) and
    `readings_count` and `readings_sum`, which change whenever its chart does; all in one
    query."""
    latest = MetricReading.objects.filter(metric=OuterRef("pk")).order_by("-on")
    per_metric = MetricReading.objects.filter(metric=OuterRef("pk")).order_by().values("metric")
    return SuccessMetric.objects.filter(plan=plan).annotate(
        current=Subquery(latest.values("value")[:1]),
        current_on=Subquery(latest.values("on")[:1]),
        readings_count=Coalesce(Subquery(per_metric.annotate(n=Count("pk")).values("n")), 0),
        readings_sum=Subquery(per_metric.annotate(total=Sum("value")).values("total")),
    )


def _golden_fields(data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")


def _golden_not_in_future(day: dt.date | None, *, field: str, what: str) -> None:
    if day is not None and day > timezone.localdate():
        raise ValidationError({field: f"{what} cannot be in the future ({day:%d %b %Y})."})


@transaction.atomic
def success_plan_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> SuccessPlan:
    """Write the client's business outcome, starting the engagement's success plan on the
    first save.

    `version` is the version of the plan the person started from, 0 when they saw no plan:
    a plan someone else started or changed meanwhile is not overwritten (EditConflict);
    None skips the check. A blank outcome is refused (ValidationError) and nothing is
    written.
    """
    _golden_fields(data, SUCCESS_PLAN_FIELDS)
    # Locking the engagement makes two people starting its plan at once take turns.
    locked = Engagement.objects.select_for_update().get(pk=engagement.pk)
    plan = SuccessPlan.objects.filter(engagement=locked).first()
    if plan is None:
        return record_create(
            obj=SuccessPlan(engagement=locked),
            actor=actor,
            data=data,
            action="success_plan.create",
            audit_on=locked,
        )
    plan.engagement = locked
    return record_update(
        obj=plan,
        actor=actor,
        data=data,
        action="success_plan.update",
        expected_version=version,
        audit_on=locked,
    )


@transaction.atomic
def adoption_step_save(
    *,
    plan: SuccessPlan,
    actor: User | None,
    data: Mapping[str, Any],
    step: AdoptionStep | None = None,
    version: int | None = None,
) -> AdoptionStep:
    """Add a step to the adoption plan, or change one of its steps. A step cannot have been
    done in the future."""
    _golden_fields(data, ADOPTION_STEP_FIELDS)
    if step is not None and step.plan_id != plan.pk:
        raise ValidationError("This step belongs to another success plan.")
    done_on = data.get("done_on", step.done_on if step else None)
    _golden_not_in_future(done_on, field="done_on", what="The date it was done")
    return record_save(
        item=step or AdoptionStep(plan=plan),
        actor=actor,
        data=data,
        noun="adoption_step",
        audit_on=plan.engagement,
        version=version,
    )


def adoption_step_delete(*, step: AdoptionStep, actor: User | None) -> None:
    record_delete(
        obj=step, actor=actor, action="adoption_step.delete", audit_on=step.plan.engagement
    )


@transaction.atomic
def success_metric_save(
    *,
    plan: SuccessPlan,
    actor: User | None,
    data: Mapping[str, Any],
    metric: SuccessMetric | None = None,
    version: int | None = None,
) -> SuccessMetric:
    """Add a success metric to the plan, or change one. Its target must differ from its
    baseline: progress is measured from one to the other (a target below the baseline means
    lower is better)."""
    _golden_fields(data, SUCCESS_METRIC_FIELDS)
    if metric is not None and metric.plan_id != plan.pk:
        raise ValidationError("This metric belongs to another success plan.")
    baseline = data.get("baseline", metric.baseline if metric else None)
    target = data.get("target", metric.target if metric else None)
    if baseline is not None and target is not None and baseline == target:
        raise ValidationError(
            {
                "target": "The target must differ from the baseline: progress is measured "
                "from one to the other."
            }
        )
    return record_save(
        item=metric or SuccessMetric(plan=plan),
        actor=actor,
        data=data,
        noun="success_metric",
        audit_on=plan.engagement,
        version=version,
    )


def success_metric_delete(*, metric: SuccessMetric, actor: User | None) -> None:
    """Remove a metric and its readings."""
    record_delete(
        obj=metric, actor=actor, action="success_metric.delete", audit_on=metric.plan.engagement
    )


@transaction.atomic
def metric_reading_record(
    *,
    metric: SuccessMetric,
    actor: User | None,
    on: dt.date | None,
    value: Decimal | None,
) -> MetricReading:
    """Record the metric's value on a day. A second reading on the same day replaces the
    first. The day cannot be in the future; both are required (ValidationError naming the
    field, nothing written)."""
    errors: dict[str, str] = {}
    if on is None:
        errors["on"] = "Give the day of the reading."
    elif on > timezone.localdate():
        errors["on"] = f"A reading cannot be in the future ({on:%d %b %Y})."
    if value is None:
        errors["value"] = "Give the value read."
    if errors or on is None or value is None:
        raise ValidationError(errors)
    # Locking the metric makes two readings of the same day take turns instead of colliding.
    locked = (
        SuccessMetric.objects.select_related("plan__engagement")
        .select_for_update(of=("self",))
        .get(pk=metric.pk)
    )
    reading = MetricReading.objects.filter(metric=locked, on=on).first()
    before = reading.value if reading is not None else None
    reading = reading or MetricReading(metric=locked, on=on)
    reading.value = value
    reading.recorded_by = actor
    reading.full_clean(
        exclude=["metric", "recorded_by"], validate_unique=False, validate_constraints=False
    )
    if before is not None and before == reading.value:
        return reading
    reading.save()
    audit_record(
        actor=actor,
        action="metric_reading.record",
        obj=locked.plan.engagement,
        changes={
            "item": str(locked),
            "on": on,
            "value": [before, reading.value] if before is not None else reading.value,
        },
    )
    return reading


@transaction.atomic
def post_sale_activity_log(
    *, plan: SuccessPlan, actor: User | None, data: Mapping[str, Any]
) -> PostSaleActivity:
    """Log work done after the sale (information, implementation or infusion).

    `by` (the actor when not given) must be someone on the engagement: its commercial lead,
    its delivery manager or the account team. The day cannot be in the future.
    """
    _golden_fields(data, POST_SALE_ACTIVITY_FIELDS)
    values = {"by": actor, **data}
    _golden_not_in_future(values.get("on"), field="on", what="An activity's date")
    by = values["by"]
    engagement = plan.engagement
    if by is not None and not success_plan_people(engagement).filter(pk=by.pk).exists():
        raise ValidationError({"by": f"{by} is not on the team of {engagement}."})
    return record_create(
        obj=PostSaleActivity(plan=plan),
        actor=actor,
        data=values,
        action="post_sale_activity.log",
        audit_on=engagement,
    )


def post_sale_activity_delete(*, activity: PostSaleActivity, actor: User | None) -> None:
    record_delete(
        obj=activity,
        actor=actor,
        action="post_sale_activity.delete",
        audit_on=activity.plan.engagement,
    )


# 1:1 cadence meetings ----------------------------------------------------------------------

ACTION_LABELS.update(
    {
        "one_on_one.create": "opened a 1:1",
        "one_on_one.update": "edited the 1:1",
        "one_on_one.delete": "removed a 1:1",
        "one_on_one.opportunity": "noted an opportunity discussed",
        "one_on_one.temperature": "noted how warm an account is",
        "next_step.create": "agreed a next step",
        "next_step.update": "edited a next step",
        "next_step.done": "marked a next step done",
        "next_step.delete": "removed a next step",
        "career_note.update": "edited the private career notes",
    }
)

# The seller's live work: what they are selling and what they are delivering.
AGENDA_STAGES = (Stage.DISCOVERY, Stage.PROPOSAL, Stage.CONTRACTED, Stage.DELIVERY)
# A delivery finished this recently is still worth talking about when its scope drifted.
AGENDA_RECENT_COMPLETION_DAYS = 90
# A seller's first 1:1 has no "since the last one": look back this far for missed milestones.
AGENDA_FIRST_LOOKBACK_DAYS = 90
# A 1:1 may be put in the diary up to this many days ahead.
ONE_ON_ONE_MAX_DAYS_AHEAD = 60
# ...and recorded after the fact up to this many years back (history kept elsewhere before).
ONE_ON_ONE_MAX_YEARS_BACK = 10

# Other apps add what a 1:1 should also cover (the certification app: where the seller
# stands in the curriculum) by registering a callable here from their AppConfig.ready(),
# so the agenda grows without this hub importing its spokes. Each callable takes the
# seller and returns one JSON-safe section: {"key": str, "title": str, "lines": [str]}.
AgendaSection = Callable[[User], dict[str, Any]]
ONE_ON_ONE_AGENDA_SECTIONS: list[AgendaSection] = []

CERTIFICATION_NOT_TRACKED = {
    "key": "certification",
    "title": "Certification",
    "lines": ["Certification status is not tracked yet."],
}

_WIN_WORDS = {True: "yes", False: "no", None: "not yet"}


def one_on_one_agenda(
    *,
    seller: User,
    since: dt.date | None,
    organisation: OrganisationSettings | None = None,
) -> dict[str, Any]:
    """What a 1:1 with `seller` should cover, read from the data, as JSON-safe values.

    `since` is the day of the seller's previous 1:1: the critical milestones they missed as
    commercial lead after that day are listed (without one, those of the last
    AGENDA_FIRST_LOOKBACK_DAYS days). Scope drift covers the deliveries they lead that are
    running or finished in the last AGENDA_RECENT_COMPLETION_DAYS days, listing those that
    drifted beyond the organisation's tolerance.
    """
    organisation = organisation or OrganisationSettings.load()
    today = timezone.localdate()
    window_start = since or today - dt.timedelta(days=AGENDA_FIRST_LOOKBACK_DAYS)
    led = Engagement.objects.filter(commercial_lead=seller)

    live = led.filter(stage__in=AGENDA_STAGES).select_related("account")
    missed = (
        Milestone.objects.missed_by_lead()
        .filter(engagement__commercial_lead=seller, held_on__gt=window_start)
        .select_related("engagement")
        .order_by("held_on", "id")
    )
    recent = today - dt.timedelta(days=AGENDA_RECENT_COMPLETION_DAYS)
    deliveries = list(
        led.with_scope()
        .filter(
            Q(stage__in=(Stage.CONTRACTED, Stage.DELIVERY))
            | Q(stage=Stage.COMPLETED, completed_on__gte=recent)
        )
        .select_related("account")
        .order_by("name", "id")
    )
    drifting = []
    for engagement in deliveries:
        drift = engagement.scope_drift(organisation.scope_tolerance_pct)
        if drift.accurate is False:
            drifting.append(
                {
                    "uuid": str(engagement.uuid),
                    "name": engagement.name,
                    "account": engagement.account.name,
                    "stage": engagement.stage,
                    "text": str(drift),
                }
            )

    sections = [section(seller) for section in ONE_ON_ONE_AGENDA_SECTIONS]
    if not any(section.get("key") == "certification" for section in sections):
        sections.append(dict(CERTIFICATION_NOT_TRACKED))
    return {
        "built_on": today.isoformat(),
        "since": since.isoformat() if since else None,
        "missed_since": window_start.isoformat(),
        "open_engagements": [
            {
                "uuid": str(e.uuid),
                "name": e.name,
                "account": e.account.name,
                "stage": e.stage,
                "stage_label": Stage(e.stage).label,
            }
            for e in live.order_by("account__name", "name", "id")
        ],
        "missed_milestones": [
            {
                "engagement": m.engagement.name,
                "engagement_uuid": str(m.engagement.uuid),
                "milestone": str(m),
                "held_on": m.held_on.isoformat() if m.held_on else None,
            }
            for m in missed
        ],
        "deliveries_checked": len(deliveries),
        "scope_drift": drifting,
        "sections": sections,
    }


def one_on_one_is_party(meeting: OneOnOne, user: User) -> bool:
    """The two people in the 1:1: the only ones who change it or read its career notes."""
    return (
        user.is_authenticated
        and user.is_active
        and user.pk in (meeting.manager_id, meeting.seller_id)
    )


def _check_party(meeting: OneOnOne, actor: User | None) -> None:
    if actor is None or not one_on_one_is_party(meeting, actor):
        raise PermissionDenied("Only the two people in this 1:1 may change it.")


def _check_one_on_one_date(
    *, manager: User, seller: User, held_on: dt.date, meeting: OneOnOne | None = None
) -> None:
    latest = timezone.localdate() + dt.timedelta(days=ONE_ON_ONE_MAX_DAYS_AHEAD)
    earliest = timezone.localdate() - dt.timedelta(days=ONE_ON_ONE_MAX_YEARS_BACK * 366)
    if held_on < earliest:
        raise ValidationError(
            {"held_on": f"{held_on:%d %b %Y} is too long ago for a 1:1 to be recorded now."}
        )
    if held_on > latest:
        raise ValidationError(
            {
                "held_on": f"A 1:1 can be put in the diary at most {ONE_ON_ONE_MAX_DAYS_AHEAD} "
                f"days ahead (until {latest:%d %b %Y})."
            }
        )
    same_day = OneOnOne.objects.filter(manager=manager, seller=seller, held_on=held_on)
    if meeting is not None:
        same_day = same_day.exclude(pk=meeting.pk)
    if same_day.exists():
        raise ValidationError(
            {"held_on": f"{manager} and {seller} already have a 1:1 on {held_on:%d %b %Y}."}
        )


def _previous_one_on_one(seller: User, before: dt.date) -> OneOnOne | None:
    earlier = OneOnOne.objects.filter(seller=seller, held_on__lt=before)
    return earlier.order_by("-held_on", "-id").first()


@transaction.atomic
def one_on_one_create(
    *, manager: User, seller: User, held_on: dt.date, actor: User | None
) -> OneOnOne:
    """Open a 1:1 between `manager` and their report `seller`, its agenda filled from the data.

    Preconditions: `actor` is the manager, or an administrator opening it for them
    (otherwise PermissionDenied); `seller` is another active person who reports to the
    active `manager`; `held_on` is at most ONE_ON_ONE_MAX_DAYS_AHEAD days ahead and the two
    have no other 1:1 that day (otherwise ValidationError naming the field). Nothing is
    written when refused.

    Besides the agenda snapshot it prepares the meeting's rows: one opportunity per live
    engagement the seller leads (its stage copied), one temperature per account of those
    engagements (pre-filled with the temperature the seller gave it at their latest earlier
    1:1), and a copy of each next step the previous 1:1 left unfinished, so an agreed step
    stays on the table until it is done. The earlier meeting keeps its own rows as the
    record of what was agreed then.
    """
    if (
        actor is None
        or not actor.is_active
        or not (actor.pk == manager.pk or actor.is_administrator)
    ):
        raise PermissionDenied("Only the manager opens a 1:1 with one of their reports.")
    if seller.pk == manager.pk:
        raise ValidationError(
            {"seller": "A 1:1 needs two people: you cannot hold one with yourself."}
        )
    if not manager.is_active:
        raise ValidationError({"seller": f"{manager} has left the company."})
    if not seller.is_active:
        raise ValidationError({"seller": f"{seller} has left the company."})
    if seller.manager_id != manager.pk:
        raise ValidationError({"seller": f"{seller} does not report to {manager}."})
    _check_one_on_one_date(manager=manager, seller=seller, held_on=held_on)

    previous = _previous_one_on_one(seller, held_on)
    agenda = one_on_one_agenda(seller=seller, since=previous.held_on if previous else None)
    carried = list(previous.next_steps.filter(done_on__isnull=True)) if previous else []
    agenda["carried_over"] = [
        {"description": step.description, "due_on": step.due_on.isoformat()} for step in carried
    ]
    meeting = OneOnOne(
        manager=manager, seller=seller, held_on=held_on, agenda=agenda, updated_by=actor
    )
    meeting.full_clean()
    meeting.save()

    live = list(
        Engagement.objects.filter(commercial_lead=seller, stage__in=AGENDA_STAGES)
        .select_related("account")
        .order_by("account__name", "name", "id")
    )
    OneOnOneOpportunity.objects.bulk_create(
        OneOnOneOpportunity(meeting=meeting, engagement=e, stage=e.stage) for e in live
    )
    accounts = list({e.account_id: e.account for e in live}.values())
    earlier = {
        t.account_id: t.temperature
        for t in AccountTemperature.objects.filter(
            meeting__seller=seller,
            meeting__held_on__lt=held_on,
            account__in=[a.pk for a in accounts],
        )
        .exclude(temperature="")
        .order_by("account_id", "-meeting__held_on", "-meeting_id")
        .distinct("account_id")
    }
    AccountTemperature.objects.bulk_create(
        AccountTemperature(meeting=meeting, account=a, temperature=earlier.get(a.pk, ""))
        for a in accounts
    )
    NextStep.objects.bulk_create(
        NextStep(meeting=meeting, description=s.description, due_on=s.due_on) for s in carried
    )
    audit_record(
        actor=actor,
        action="one_on_one.create",
        obj=meeting,
        changes={
            "manager": str(manager),
            "seller": str(seller),
            "held_on": held_on,
            "opportunities": len(live),
            "accounts": len(accounts),
            "steps carried over": len(carried),
        },
    )
    return meeting


ONE_ON_ONE_FIELDS = ("held_on", "future_opportunities")


@transaction.atomic
def one_on_one_update(
    *,
    meeting: OneOnOne,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> OneOnOne:
    """Change a 1:1's date or its future opportunity ideas.

    Preconditions: `actor` is one of the two people (PermissionDenied); the date follows
    the same rules as when the 1:1 was opened; `version`, when given, is the stored one
    (EditConflict otherwise).
    """
    _check_party(meeting, actor)
    unknown = set(data) - set(ONE_ON_ONE_FIELDS)
    if unknown:
        raise TypeError(f"unknown 1:1 fields: {sorted(unknown)}")
    held_on = data.get("held_on")
    if held_on is not None:
        _check_one_on_one_date(
            manager=meeting.manager, seller=meeting.seller, held_on=held_on, meeting=meeting
        )
    return record_update(
        obj=meeting, actor=actor, data=data, action="one_on_one.update", expected_version=version
    )


@transaction.atomic
def one_on_one_delete(*, meeting: OneOnOne, actor: User | None) -> None:
    """Remove a 1:1 opened by mistake, with its rows and career notes. Only its manager may."""
    if actor is None or not actor.is_active or actor.pk != meeting.manager_id:
        raise PermissionDenied("Only the manager who holds the 1:1 may remove it.")
    audit_record(
        actor=actor,
        action="one_on_one.delete",
        obj=meeting,
        changes={"seller": str(meeting.seller), "held_on": meeting.held_on},
    )
    meeting.delete()


def _meeting_row_update[M: OneOnOneOpportunity | AccountTemperature](
    *,
    row: M,
    actor: User | None,
    data: Mapping[str, Any],
    fields: tuple[str, ...],
    action: str,
    label: str,
) -> M:
    """Write `data` onto a row of a 1:1 and record it in the meeting's history, naming the
    row by what it is about (an engagement, an account)."""
    _check_party(row.meeting, actor)
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    stored = type(row)._default_manager.select_for_update().get(pk=row.pk)
    before = field_values(stored, data.keys())
    for name, value in data.items():
        setattr(row, name, value)
    row.full_clean()
    row.save(update_fields=list(data))
    changes = changed_fields(before, field_values(row, data.keys()))
    if "technical_win" in changes:
        changes["technical_win"] = [_WIN_WORDS[v] for v in changes["technical_win"]]
    if changes:
        audit_record(
            actor=actor, action=action, obj=row.meeting, changes={"item": label, **changes}
        )
    return row


@transaction.atomic
def one_on_one_opportunity_save(
    *,
    opportunity: OneOnOneOpportunity,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> OneOnOneOpportunity:
    """Record whether the client is won over technically (`technical_win`: True, False or
    None for not yet) and a note. `version` is accepted for the row editor and unused:
    only the two people edit these rows."""
    return _meeting_row_update(
        row=opportunity,
        actor=actor,
        data=data,
        fields=("technical_win", "note"),
        action="one_on_one.opportunity",
        label=opportunity.engagement.name,
    )


@transaction.atomic
def account_temperature_save(
    *,
    temperature: AccountTemperature,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> AccountTemperature:
    """Record how warm the relationship with an account is (one of Temperature, or blank
    for not said) and a note. A value outside the choices is refused."""
    return _meeting_row_update(
        row=temperature,
        actor=actor,
        data=data,
        fields=("temperature", "note"),
        action="one_on_one.temperature",
        label=temperature.account.name,
    )


def _check_step_dates(data: Mapping[str, Any], *, creating: bool) -> None:
    if (creating or "due_on" in data) and data.get("due_on") is None:
        raise ValidationError({"due_on": "Give the date this step is due."})
    done_on = data.get("done_on")
    if done_on is not None and done_on > timezone.localdate():
        raise ValidationError({"done_on": "A step cannot be done in the future."})


@transaction.atomic
def next_step_save(
    *,
    meeting: OneOnOne,
    actor: User | None,
    data: Mapping[str, Any],
    step: NextStep | None = None,
    version: int | None = None,
) -> NextStep:
    """Agree a next step in a 1:1 (`step` None) or change one. A step needs a due date; its
    done date, when given, is not in the future."""
    _check_party(meeting, actor)
    if step is not None and step.meeting_id != meeting.pk:
        raise ValidationError("This step belongs to another 1:1.")
    _check_step_dates(data, creating=step is None)
    return record_save(
        item=step or NextStep(meeting=meeting),
        actor=actor,
        data=data,
        noun="next_step",
        audit_on=meeting,
        version=version,
    )


@transaction.atomic
def next_step_mark_done(
    *, step: NextStep, actor: User | None, on: dt.date | None = None
) -> NextStep:
    """Mark a step done on `on` (today by default). A step already done keeps its date."""
    _check_party(step.meeting, actor)
    locked = NextStep.objects.select_for_update().get(pk=step.pk)
    if locked.done_on is not None:
        return locked
    locked.done_on = on or timezone.localdate()
    _check_step_dates({"done_on": locked.done_on}, creating=False)
    locked.save(update_fields=["done_on"])
    audit_record(
        actor=actor,
        action="next_step.done",
        obj=step.meeting,
        changes={"item": str(locked), "done_on": locked.done_on},
    )
    return locked


@transaction.atomic
def next_step_delete(*, step: NextStep, actor: User | None) -> None:
    _check_party(step.meeting, actor)
    record_delete(obj=step, actor=actor, action="next_step.delete", audit_on=step.meeting)


@transaction.atomic
def career_note_save(
    *,
    meeting: OneOnOne,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> CareerNote:
    """Write the 1:1's private career notes (`data["text"]`).

    Refused with PermissionDenied unless `actor` is the manager or the seller of the 1:1:
    not leadership, not administrators. The audit log records that the notes changed and
    by whom, never what they say, because administrators read the audit log.
    """
    _check_party(meeting, actor)
    assert actor is not None
    unknown = set(data) - {"text"}
    if unknown:
        raise TypeError(f"unknown career note fields: {sorted(unknown)}")
    note, _ = CareerNote.objects.select_for_update().get_or_create(meeting=meeting)
    text = data.get("text") or ""
    if note.text == text:
        return note
    note.text = text
    note.full_clean()
    note.save(update_fields=["text", "updated_at"])
    last = (
        AuditLogEntry.objects.select_for_update()
        .filter(object_type=note._meta.label_lower, object_id=str(note.pk))
        .order_by("-at", "-id")
        .first()
    )
    now = timezone.now()
    if last is not None and last.actor_id == actor.pk and now - last.at <= EDIT_MERGE_WINDOW:
        # Notes save as people type: one sitting reads as one change.
        last.at = now
        last.save(update_fields=["at"])
    else:
        audit_record(actor=actor, action="career_note.update", obj=note)
    return note


def one_on_one_cadence(
    *,
    manager: User | None,
    organisation: OrganisationSettings | None = None,
    today: dt.date | None = None,
) -> QuerySet[User]:
    """Each active report who sells (a commercial role: the 1:1 cadence is for technical
    sellers) with the cadence of their 1:1s with their manager, in one query.

    `manager`: that person's reports; None: everyone in the organisation who has a manager
    (leadership's view). Each row carries `last_one_on_one` (the latest 1:1 held with their
    current manager on or before today; 1:1s in the diary do not count yet), `days_since`
    (None when never) and `overdue`: no 1:1 ever, or more than the organisation's cadence
    days since the last one. Exactly the cadence is on time: a fortnightly 1:1 held every
    14 days is never overdue; on day 15 it is.
    """
    organisation = organisation or OrganisationSettings.load()
    today = today or timezone.localdate()
    people = User.objects.commercial().filter(is_active=True)
    people = people.exclude(manager=None) if manager is None else people.filter(manager=manager)
    cutoff = today - dt.timedelta(days=organisation.one_on_one_cadence_days)
    return people.annotate(
        last_one_on_one=Max(
            "one_on_ones__held_on",
            filter=Q(one_on_ones__manager=F("manager"), one_on_ones__held_on__lte=today),
        )
    ).annotate(
        days_since=ExtractDay(
            ExpressionWrapper(
                Value(today, output_field=DateField()) - F("last_one_on_one"),
                output_field=DurationField(),
            )
        ),
        overdue=Case(
            When(Q(last_one_on_one__isnull=True) | Q(last_one_on_one__lt=cutoff), then=True),
            default=False,
            output_field=BooleanField(),
        ),
    )


# Certification: notices on an engagement page ----------------------------------------------

# Other apps flag a running engagement without changing it (the certification app: its
# commercial lead's certification is overdue) by registering a callable here from their
# AppConfig.ready(). Each takes the engagement and returns sentences to show on its page.
EngagementNotice = Callable[[Engagement], list[str]]
ENGAGEMENT_NOTICES: list[EngagementNotice] = []


def engagement_notices(engagement: Engagement) -> list[str]:
    """What the registered apps flag on this engagement's page."""
    return [text for notice in ENGAGEMENT_NOTICES for text in notice(engagement)]


# Documents: proposals and QBRs ----------------------------------------------------------


ACTION_LABELS.update(
    {
        "document.request": "asked for a document",
        "document.retry": "asked to render a document again",
    }
)


class DocumentRefused(ValidationError):
    def __init__(self, blockers: list[Blocker]):
        self.blockers = blockers
        super().__init__([b.message for b in blockers])


def _document_subject(kind: str, account: Account, engagement: Engagement | None, quarter: Any):
    return Document.objects.filter(
        kind=kind, account=account, engagement=engagement, period_start=quarter
    )


def document_blockers(
    *, kind: str, engagement: Engagement | None, quarter: dt.date | None, today: dt.date
) -> list[Blocker]:
    """What stops this document being produced today (empty: it may be).

    A proposal obeys the rule of the proposal stage, applied by the same registered guards:
    discovery must be complete.
    """
    if kind == DocumentKind.PROPOSAL:
        assert engagement is not None
        organisation = OrganisationSettings.load()
        return [
            blocker
            for guard in STAGE_GUARDS
            for blocker in guard(engagement, Stage.PROPOSAL, today, organisation)
        ]
    assert quarter is not None
    if quarter > today:
        return [Blocker(f"The quarter starting {quarter:%-d %b %Y} has not begun yet.")]
    return []


@transaction.atomic
def document_request(
    *,
    kind: str,
    actor: User,
    engagement: Engagement | None = None,
    account: Account | None = None,
    quarter: dt.date | None = None,
) -> Document:
    """Ask for the next version of an engagement's proposal, or of an account's QBR for the
    quarter containing `quarter`; the render runs in a worker after commit.

    A version already on its way is returned instead of a new one, so a second click renders
    nothing twice. Raises PermissionDenied unless `actor` may change the engagement (or the
    account), and DocumentRefused naming what is missing (a proposal before discovery is
    complete, a quarter still to come).
    """
    from engagements.tasks import document_render_task

    today = timezone.localdate()
    if kind == DocumentKind.PROPOSAL:
        if engagement is None:
            raise ValidationError({"engagement": "A proposal is for an engagement."})
        account, quarter = engagement.account, None
        if not engagement.is_editable_by(actor):
            raise PermissionDenied("Only the account team and leadership produce proposals.")
    elif kind == DocumentKind.QBR:
        if account is None or quarter is None:
            raise ValidationError({"quarter": "A QBR is for an account and a quarter."})
        engagement, quarter = None, quarter_start(quarter)
        if not account.is_editable_by(actor):
            raise PermissionDenied("Only the account team and leadership produce QBRs.")
    else:
        raise ValidationError({"kind": f"Unknown kind of document: {kind!r}."})
    blockers = document_blockers(kind=kind, engagement=engagement, quarter=quarter, today=today)
    if blockers:
        raise DocumentRefused(blockers)
    # One request at a time per account: the second click waits here, then finds the first.
    Account.objects.select_for_update().filter(pk=account.pk).first()
    subject = _document_subject(kind, account, engagement, quarter)
    existing = subject.unfinished().first()
    if existing is not None:
        return existing
    version = (subject.aggregate(v=Max("version"))["v"] or 0) + 1
    now = timezone.now()
    document = Document.objects.create(
        kind=kind,
        account=account,
        engagement=engagement,
        period_start=quarter,
        version=version,
        requested_by=actor,
        requested_at=now,
        enqueued_at=now,
    )
    audit_record(
        actor=actor,
        action="document.request",
        obj=document,
        changes={"kind": kind, "version": version},
    )
    transaction.on_commit(partial(document_render_task.delay, document.pk))
    return document


@transaction.atomic
def document_retry(*, document: Document, actor: User) -> Document:
    """Queue a failed render again (the same version). Anything else is returned as it is."""
    from engagements.tasks import document_render_task

    if not document.account.is_editable_by(actor):
        raise PermissionDenied("Only the account team and leadership produce documents.")
    Account.objects.select_for_update().filter(pk=document.account_id).first()
    subject = _document_subject(
        document.kind, document.account, document.engagement, document.period_start
    )
    other = subject.unfinished().exclude(pk=document.pk).first()
    if other is not None:
        return other
    now = timezone.now()
    retried = Document.objects.filter(pk=document.pk, status=DocumentStatus.FAILED).update(
        status=DocumentStatus.QUEUED, error="", enqueued_at=now, finished_at=None, claim=None
    )
    document.refresh_from_db()
    if retried:
        audit_record(
            actor=actor, action="document.retry", obj=document, changes={"status": "queued"}
        )
        transaction.on_commit(partial(document_render_task.delay, document.pk))
    return document


def _store_file(name: str, content: bytes) -> None:
    """Write the PDF under its fixed name, replacing any earlier attempt in one step, so
    two renders of the same version leave one whole file, never two or a torn one."""
    path = Path(default_storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
        part.write(content)
        part.flush()
        os.fsync(part.fileno())
    os.replace(part.name, path)


def document_render(*, document_id: int) -> bool:
    """Render one requested document and store its PDF. True when this call stored it.

    A proposal whose discovery is no longer complete fails, naming what is missing (the
    rule of the proposal stage, checked again in the worker).

    Safe to run any number of times, at once or after a crash: a render claims the row
    with a conditional UPDATE (queued, or rendering with an expired lease), and only the
    holder of the claim may mark it ready. The values are snapshotted once, by the first
    render, so a later attempt prints the same figures.
    """
    from engagements.pdf import html_to_pdf

    now = timezone.now()
    claim = uuid.uuid4()
    lease = dt.timedelta(seconds=settings.DOCUMENT_LEASE_SECONDS)
    claimed = (
        Document.objects.filter(pk=document_id)
        .filter(
            Q(status=DocumentStatus.QUEUED)
            | Q(status=DocumentStatus.RENDERING, lease_until__lt=now)
        )
        .update(
            status=DocumentStatus.RENDERING,
            claim=claim,
            started_at=now,
            lease_until=now + lease,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return False
    document = Document.objects.select_related("account", "engagement", "requested_by").get(
        pk=document_id
    )
    mine = Document.objects.filter(pk=document_id, claim=claim, status=DocumentStatus.RENDERING)
    if document.snapshot is None:
        # The rule holds here too: discovery reopened since the request stops the proposal.
        blockers = document_blockers(
            kind=document.kind,
            engagement=document.engagement,
            quarter=document.period_start,
            today=timezone.localdate(),
        )
        if blockers:
            mine.update(
                status=DocumentStatus.FAILED,
                error="Refused: " + " ".join(b.message for b in blockers),
                finished_at=timezone.now(),
                lease_until=None,
            )
            return False
    try:
        snapshot = document.snapshot
        if snapshot is None:
            # Through JSON once, so this render reads exactly what a later one would.
            snapshot = json.loads(json.dumps(snapshot_build(document), cls=DjangoJSONEncoder))
            mine.update(snapshot=snapshot)
        pdf, pages = html_to_pdf(document_html(snapshot))
    except DatabaseError:
        raise  # transient: the lease runs out and the sweep queues it again
    except Exception as error:
        logger.exception("document %s could not be rendered", document_id)
        mine.update(
            status=DocumentStatus.FAILED,
            error=f"The document could not be rendered ({type(error).__name__}: {error})."[:1000],
            finished_at=timezone.now(),
            lease_until=None,
        )
        return False
    name = document.storage_name()
    _store_file(name, pdf)
    return bool(
        mine.update(
            status=DocumentStatus.READY,
            file=name,
            pages=pages,
            size=len(pdf),
            finished_at=timezone.now(),
            lease_until=None,
        )
    )


def documents_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Queue again the renders the database says are unfinished but nobody is doing: queued
    for a while with nothing taking them (the broker lost the message), or rendering past
    their lease (the worker died). Returns their ids. Running it twice is harmless: the
    render's claim lets one of the copies through."""
    from engagements.tasks import document_render_task

    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.DOCUMENT_SWEEP_AFTER_SECONDS)
    due = Document.objects.filter(
        Q(status=DocumentStatus.QUEUED, enqueued_at__lt=stale)
        | Q(status=DocumentStatus.RENDERING, lease_until__lt=now, enqueued_at__lt=stale)
    )
    ids = list(due.order_by("requested_at").values_list("pk", flat=True)[:500])
    Document.objects.filter(pk__in=ids).update(enqueued_at=now)
    for document_id in ids:
        document_render_task.delay(document_id)
    return ids
