"""Core workflows: the audit trail, notifications, organisation settings and roles."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from tcp.models import (
    ACTION_LABELS,
    ApiToken,
    AuditLogEntry,
    Notification,
    OrganisationSettings,
    User,
)


def _plain(value: Any) -> Any:
    """A JSON-safe form of a field value for the audit log."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, decimal.Decimal):
        # 4000.00 from the database and 4000 from a form are the same amount.
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, dt.date | dt.datetime):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def field_values(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value differs."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    changes: Mapping[str, Any] | None = None,
) -> AuditLogEntry:
    """Record one change. Call it inside the transaction that makes the change."""
    return AuditLogEntry.objects.create(
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes={k: _plain(v) for k, v in (changes or {}).items()},
    )


def audit_record_many(
    *, actor: User | None, action: str, changes: Iterable[tuple[models.Model, Mapping[str, Any]]]
) -> None:
    """audit_record for many rows changed together, in one insert."""
    AuditLogEntry.objects.bulk_create(
        [
            AuditLogEntry(
                actor=actor,
                action=action,
                object_type=obj._meta.label_lower,
                object_id=str(obj.pk),
                object_repr=str(obj)[:200],
                changes={k: _plain(v) for k, v in change.items()},
            )
            for obj, change in changes
        ]
    )


def audit_trail(obj: models.Model, *, limit: int = 50) -> models.QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).select_related("actor")[:limit]


def notification_send(
    *, recipients: Iterable[User], message: str, link: str, dedupe_key: str
) -> None:
    """Notify each recipient once per `dedupe_key`: running it again adds nothing."""
    rows = [
        Notification(recipient=user, message=message[:300], link=link, dedupe_key=dedupe_key)
        for user in {u.pk: u for u in recipients}.values()
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


class EditConflict(ValidationError):
    """The row changed after this edit began; `current` is the row as it is now."""

    def __init__(self, current: models.Model):
        self.current = current
        who = getattr(current, "updated_by", None) or "Someone else"
        at = (
            timezone.localtime(current.updated_at).strftime("%H:%M")
            if hasattr(current, "updated_at")
            else ""
        )
        super().__init__(
            f"Not saved: {who} changed this at {at}, after you opened it. "
            "The form now shows their version; make your change again if it still applies."
        )


def _split_m2m(obj: models.Model, data: Mapping[str, Any]) -> tuple[dict, dict]:
    m2m_names = {f.name for f in obj._meta.many_to_many}
    plain = {k: v for k, v in data.items() if k not in m2m_names}
    m2m = {k: v for k, v in data.items() if k in m2m_names}
    return plain, m2m


def _m2m_values(obj: models.Model, names: Iterable[str]) -> dict[str, list[str]]:
    return {name: sorted(str(o) for o in getattr(obj, name).all()) for name in names}


def _audit_changes(obj: models.Model, audit_on: models.Model | None, changes: dict) -> dict:
    # A child row audited on its parent names itself, so the parent's history reads well.
    return {"item": str(obj), **changes} if audit_on is not None else changes


@transaction.atomic
def record_update[M: models.Model](
    *,
    obj: M,
    actor: User | None,
    data: Mapping[str, Any],
    action: str,
    expected_version: int | None = None,
    audit_on: models.Model | None = None,
) -> M:
    """Write `data` onto one row, validated, and audit what really changed.

    The old values come from the stored row (locked), not from `obj`: a bound ModelForm
    has already written the new values onto its instance. For a versioned row (a `version`
    field), an `expected_version` other than the stored one raises EditConflict. Raises
    ValidationError, writing nothing, when the row would be invalid. `audit_on` records the
    change in a parent's history instead of the row's own.
    """
    stored: Any = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    versioned = hasattr(stored, "version")
    if versioned and expected_version is not None and stored.version != expected_version:
        raise EditConflict(stored)
    plain, m2m = _split_m2m(obj, data)
    before = {**field_values(stored, plain.keys()), **_m2m_values(stored, m2m.keys())}
    for name, value in plain.items():
        setattr(obj, name, value)
    obj.full_clean(exclude=list(m2m))
    fields = [*plain.keys(), *(f.name for f in obj._meta.fields if getattr(f, "auto_now", False))]
    if hasattr(obj, "updated_by"):
        obj.updated_by = actor
        fields.append("updated_by")
    obj.save(update_fields=fields)
    for name, value in m2m.items():
        getattr(obj, name).set(value)
    after = {**field_values(obj, plain.keys()), **_m2m_values(obj, m2m.keys())}
    changes = changed_fields(before, after)
    if changes:
        _audit_edit(
            actor=actor,
            action=action,
            obj=obj,
            audit_on=audit_on,
            changes=changes,
            before_item=str(stored) if audit_on is not None else None,
        )
    return obj


# Rows save as people type: one person's edits of one row within this window read as one
# change in the history, from the first old value to the last new one.
EDIT_MERGE_WINDOW = dt.timedelta(minutes=5)


def _audit_edit(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    audit_on: models.Model | None,
    changes: dict[str, list[Any]],
    before_item: str | None = None,
) -> None:
    target = audit_on or obj
    last = (
        AuditLogEntry.objects.select_for_update()
        .filter(object_type=target._meta.label_lower, object_id=str(target.pk))
        .order_by("-at", "-id")
        .first()
    )
    item = str(obj) if audit_on is not None else None
    now = timezone.now()
    if (
        last is not None
        and actor is not None
        and last.actor_id == actor.pk
        and last.action == action
        and now - last.at <= EDIT_MERGE_WINDOW
        and last.changes.get("item") == (before_item or item)
    ):
        merged = {k: v for k, v in last.changes.items() if k != "item"}
        for field, (old, new) in changes.items():
            first_old = merged[field][0] if field in merged else old
            merged[field] = [first_old, new]
        merged = {k: v for k, v in merged.items() if v[0] != v[1]}
        last.changes = {"item": item, **merged} if item else merged
        last.at = now
        last.save(update_fields=["changes", "at"])
        return
    body: dict[str, Any] = {"item": item} if item else {}
    audit_record(actor=actor, action=action, obj=target, changes={**body, **changes})


@transaction.atomic
def record_create[M: models.Model](
    *,
    obj: M,
    actor: User | None,
    data: Mapping[str, Any],
    action: str,
    audit_on: models.Model | None = None,
) -> M:
    """Create one row from validated `data` (many-to-many values included) and audit it."""
    plain, m2m = _split_m2m(obj, data)
    for name, value in plain.items():
        setattr(obj, name, value)
    if hasattr(obj, "updated_by"):
        obj.updated_by = actor
    obj.full_clean(exclude=list(m2m))
    obj.save()
    for name, value in m2m.items():
        getattr(obj, name).set(value)
    values = {**field_values(obj, plain.keys()), **_m2m_values(obj, m2m.keys())}
    audit_record(
        actor=actor,
        action=action,
        obj=audit_on or obj,
        changes=_audit_changes(
            obj, audit_on, {k: v for k, v in values.items() if v not in ("", None, [])}
        ),
    )
    return obj


def record_save[M: models.Model](
    *,
    item: M,
    actor: User | None,
    data: Mapping[str, Any],
    noun: str,
    audit_on: models.Model | None,
    version: int | None,
) -> M:
    """Create `item` (no primary key yet) or update it from the version the person started
    from; actions are "<noun>.create" and "<noun>.update"."""
    if item.pk is None:
        return record_create(
            obj=item, actor=actor, data=data, action=f"{noun}.create", audit_on=audit_on
        )
    return record_update(
        obj=item,
        actor=actor,
        data=data,
        action=f"{noun}.update",
        expected_version=version,
        audit_on=audit_on,
    )


@transaction.atomic
def record_delete(
    *,
    obj: models.Model,
    actor: User | None,
    action: str,
    audit_on: models.Model | None = None,
) -> None:
    """Delete one row and record it (in the parent's history when `audit_on` is given)."""
    audit_record(
        actor=actor, action=action, obj=audit_on or obj, changes=_audit_changes(obj, audit_on, {})
    )
    obj.delete()


def organisation_update(
    *, organisation: OrganisationSettings, actor: User, data: Mapping[str, Any]
) -> OrganisationSettings:
    """Apply validated values (from OrganisationSettingsForm) and record the change."""
    return record_update(obj=organisation, actor=actor, data=data, action="organisation.update")


# Other apps act when a person's roles or active flag change (certification enrols whoever
# gets a commercial role) by registering a hook here from their AppConfig.ready(), so the
# core never imports them. Each hook gets the person and the actor, inside the change's
# transaction.
PersonHook = Callable[[User, User | None], None]
PERSON_CHANGE_HOOKS: list[PersonHook] = []

ACTION_LABELS["user.active"] = "changed whether the person works here"


@transaction.atomic
def user_set_roles(*, user: User, roles: Iterable[str], actor: User | None) -> User:
    """Give a person exactly these roles, and record who changed them.

    Compares with the stored roles (locked), so two changes at once apply one after the
    other and the hooks run once per real change.
    """
    new_roles = sorted(set(roles))
    old_roles = sorted(User.objects.select_for_update().only("roles").get(pk=user.pk).roles)
    if new_roles != old_roles:
        user.roles = new_roles
        user.save(update_fields=["roles"])
        audit_record(
            actor=actor, action="user.roles", obj=user, changes={"roles": [old_roles, new_roles]}
        )
        for hook in PERSON_CHANGE_HOOKS:
            hook(user, actor)
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool, actor: User | None) -> User:
    """Mark a person as working here or as having left, and record who did it."""
    was_active = User.objects.select_for_update().only("is_active").get(pk=user.pk).is_active
    if active != was_active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor, action="user.active", obj=user, changes={"active": [was_active, active]}
        )
        for hook in PERSON_CHANGE_HOOKS:
            hook(user, actor)
    return user


# API tokens --------------------------------------------------------------------------------


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: dt.datetime | None = None, actor: User | None
) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns it with the secret, which is never stored and
    cannot be shown again."""
    if not name.strip():
        raise ValidationError({"name": "Name the token after what will use it."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "Choose a moment in the future."})
    raw = ApiToken.generate()
    token = ApiToken(user=user, name=name.strip(), expires_at=expires_at)
    token.key_hash = ApiToken.hash(raw)
    token.hint = raw[: len(ApiToken.PREFIX) + 4]
    token.full_clean()
    token.save()
    audit_record(actor=actor, action="api_token.create", obj=user, changes={"token": str(token)})
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> None:
    """Stop a token working at once. Revoking twice changes nothing."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_record(
            actor=actor, action="api_token.revoke", obj=token.user, changes={"token": str(token)}
        )
