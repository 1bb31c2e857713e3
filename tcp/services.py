"""Core workflows: the audit trail, notifications, organisation settings and roles."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models, transaction

from tcp.models import AuditLogEntry, Notification, OrganisationSettings, User


def _plain(value: Any) -> Any:
    """A JSON-safe form of a field value for the audit log."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | decimal.Decimal):
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


@transaction.atomic
def record_update[M: models.Model](
    *, obj: M, actor: User | None, data: Mapping[str, Any], action: str
) -> M:
    """Write `data` onto one row, validated, and audit what really changed.

    The old values come from the stored row (locked), not from `obj`: a bound ModelForm
    has already written the new values onto its instance. Raises ValidationError, writing
    nothing, when the row would be invalid.
    """
    stored = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    before = field_values(stored, data.keys())
    for name, value in data.items():
        setattr(obj, name, value)
    obj.full_clean()
    auto_now = [f.name for f in obj._meta.fields if getattr(f, "auto_now", False)]
    obj.save(update_fields=[*data.keys(), *auto_now])
    changes = changed_fields(before, field_values(obj, data.keys()))
    if changes:
        audit_record(actor=actor, action=action, obj=obj, changes=changes)
    return obj


def organisation_update(
    *, organisation: OrganisationSettings, actor: User, data: Mapping[str, Any]
) -> OrganisationSettings:
    """Apply validated values (from OrganisationSettingsForm) and record the change."""
    return record_update(obj=organisation, actor=actor, data=data, action="organisation.update")


@transaction.atomic
def user_set_roles(*, user: User, roles: Iterable[str], actor: User | None) -> User:
    """Give a person exactly these roles, and record who changed them."""
    new_roles = sorted(set(roles))
    old_roles = sorted(user.roles)
    if new_roles != old_roles:
        user.roles = new_roles
        user.save(update_fields=["roles"])
        audit_record(
            actor=actor, action="user.roles", obj=user, changes={"roles": [old_roles, new_roles]}
        )
    return user
