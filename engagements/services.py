"""Engagement workflows. Every entry point (pages, API, admin, tasks, commands) calls these,
so each rule lives here once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from engagements.models import (
    STAGE_DATE_FIELD,
    TRANSITIONS,
    Account,
    AccountTeamMember,
    Contact,
    Engagement,
    Stage,
    StageChange,
)
from tcp.models import OrganisationSettings, User
from tcp.services import audit_record, changed_fields, field_values, record_update


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
    blockers = engagement_lead_blockers(lead=engagement.commercial_lead, on=engagement.opened_on)
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
