"""The core every app needs: people and their roles, the organisation's settings,
the audit log and in-app notifications."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Role(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    TECHNOLOGY_MANAGER = "technology_manager", "Technology manager"
    PARTNER_MANAGER = "partner_manager", "Partner manager"
    DELIVERY_MANAGER = "delivery_manager", "Delivery manager"
    SALES_LEADERSHIP = "sales_leadership", "Sales leadership"
    HIRING_MANAGER = "hiring_manager", "Hiring manager"
    ADMINISTRATOR = "administrator", "Administrator"


# People in these roles sell, so the TCP model requires their technical certification.
COMMERCIAL_ROLES = frozenset(
    {
        Role.ACCOUNT_MANAGER,
        Role.TECHNOLOGY_MANAGER,
        Role.PARTNER_MANAGER,
        Role.SALES_LEADERSHIP,
    }
)
# These roles see every account and engagement.
OVERSIGHT_ROLES = frozenset({Role.SALES_LEADERSHIP, Role.ADMINISTRATOR})


class UserQuerySet(models.QuerySet["User"]):
    def with_role(self, role: str) -> UserQuerySet:
        return self.filter(roles__contains=[role])

    def commercial(self) -> UserQuerySet:
        return self.filter(roles__overlap=sorted(COMMERCIAL_ROLES))


class ParityUserManager(UserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def with_role(self, role: str) -> UserQuerySet:
        return self.get_queryset().with_role(role)

    def commercial(self) -> UserQuerySet:
        return self.get_queryset().commercial()


class User(AbstractUser):
    """A member of staff. One person can hold several roles."""

    roles = ArrayField(
        models.CharField(max_length=32, choices=Role.choices),
        default=list,
        blank=True,
        help_text="What this person does; it decides what they see and may change.",
    )
    job_title = models.CharField(max_length=120, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    objects = ParityUserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        indexes = [GinIndex(fields=["roles"], name="user_roles_idx")]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def sees_everything(self) -> bool:
        return self.is_superuser or self.has_role(*OVERSIGHT_ROLES)

    @property
    def is_commercial(self) -> bool:
        return self.has_role(*COMMERCIAL_ROLES)

    @property
    def is_administrator(self) -> bool:
        return self.is_superuser or self.has_role(Role.ADMINISTRATOR)

    def role_labels(self) -> list[str]:
        return [Role(r).label for r in self.roles if r in Role.values]


class MaturityLevel(models.IntegerChoices):
    """How far the account team has grown (the single-threaded team model, levels 1-4)."""

    TECHNOLOGY_LED = 1, "1 · Technology manager owns the TCO"
    VALUE_LED = 2, "2 · Account manager owns the value proposition"
    PARTNER_LED = 3, "3 · Partner manager owns the TCO on partner-led deals"
    DELIVERY_LED = 4, "4 · Delivery manager owns the post-sales TCO"


def _last_full_year_before(day: dt.date) -> tuple[dt.date, dt.date]:
    year = day.year - 1
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


class OrganisationSettings(models.Model):
    """The single row of settings the KPIs and rules read. Edited by administrators."""

    name = models.CharField(max_length=120, default="Our company")
    currency = models.CharField(max_length=3, default="GBP", help_text="ISO 4217 code.")
    scope_tolerance_pct = models.DecimalField(
        "scope tolerance (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Scope changes caused by scoping misses up to this share of the contracted "
        "effort still count as accurately scoped.",
    )
    timeline_grace_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(365)],
        help_text="Days after the contracted end that still count as on time.",
    )
    tcp_adoption_date = models.DateField(
        "TCP adoption date",
        default=dt.date(2018, 7, 1),
        help_text="From this date discovery must precede every proposal; engagements proposed "
        "earlier are kept as pre-adoption history.",
    )
    baseline_start = models.DateField(
        null=True,
        blank=True,
        help_text="Start of the baseline window for indexed KPIs. Empty: the last full "
        "calendar year before adoption.",
    )
    baseline_end = models.DateField(null=True, blank=True)
    maturity_level = models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices, default=MaturityLevel.VALUE_LED
    )
    one_on_one_cadence_days = models.PositiveSmallIntegerField(
        "1:1 cadence (days)",
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="A manager's 1:1 with a report is overdue once this many days pass without one.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "organisation settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="organisation_settings_single_row"
            ),
            models.CheckConstraint(
                condition=models.Q(baseline_start__isnull=True, baseline_end__isnull=True)
                | models.Q(baseline_start__lte=models.F("baseline_end")),
                name="organisation_baseline_is_a_window",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def load(cls) -> OrganisationSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @property
    def baseline_window(self) -> tuple[dt.date, dt.date]:
        if self.baseline_start and self.baseline_end:
            return self.baseline_start, self.baseline_end
        return _last_full_year_before(self.tcp_adoption_date)


class AuditLogEntry(models.Model):
    """Who changed what, and when. Written in the same transaction as the change."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"])]
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor or 'system'} {self.action} {self.object_repr}"

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


ACTION_LABELS = {
    "account.create": "created the account",
    "account.update": "edited the account",
    "team.add": "added to the team",
    "team.remove": "removed from the team",
    "contact.create": "added a contact",
    "contact.update": "edited a contact",
    "contact.delete": "removed a contact",
    "engagement.create": "opened the engagement",
    "engagement.update": "edited the engagement",
    "engagement.stage": "changed the stage",
    "organisation.update": "changed the settings",
    "user.roles": "changed the roles",
    "api_token.create": "made an API token",
    "api_token.revoke": "revoked an API token",
}


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    message = models.CharField(max_length=300)
    link = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Makes a re-run of the job that wrote it a no-op.
    dedupe_key = models.CharField(max_length=120)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_once_per_event"
            )
        ]

    def __str__(self) -> str:
        return self.message

    def get_absolute_url(self) -> str:
        return self.link or reverse("notifications")

    def mark_read(self) -> None:
        if self.read_at is None:
            self.read_at = timezone.now()
            self.save(update_fields=["read_at"])


class Versioned(models.Model):
    """A row with a `version` that every save moves on, whichever code path saves it.

    The API's ETag is the version, and a save that started from an older version is refused
    (tcp.services.record_update), so nobody silently overwrites someone else's change. The
    increment runs in the UPDATE itself (version = version + 1), so two writers never hand
    out the same version for different contents.
    """

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding or kwargs.get("force_insert"):
            super().save(*args, **kwargs)
            return
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        self.version = models.F("version") + 1
        super().save(*args, **kwargs)
        self.refresh_from_db(fields=["version"])


class VersionedModel(Versioned):
    """A row people edit side by side, with who changed it last."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now),
            revoked_at__isnull=True,
            user__is_active=True,
        )


class ApiToken(models.Model):
    """A person's key for the REST API. Only a hash is stored: the token itself is shown
    once, when it is made, and cannot be read back."""

    PREFIX = "prt_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “Salesforce sync”.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so a person can tell their tokens apart without the secret.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Leave empty for a token that does not expire."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def hash(raw: str) -> str:
        # The token carries 256 random bits, so a fast hash is enough: there is nothing to
        # guess, and a slow one would cost every API request.
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class Tombstone(models.Model):
    """A synced row that was deleted, so an incremental pull learns it is gone."""

    resource = models.CharField(max_length=40)
    uuid = models.UUIDField()
    external_id = models.CharField(max_length=100, blank=True)
    deleted_at = models.DateTimeField(default=timezone.now)
    # The account and engagement the record belonged to, as plain ids (they may be gone
    # too), so a deletion is listed only to those who could see the record.
    account_pk = models.BigIntegerField(null=True, blank=True)
    engagement_pk = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["deleted_at", "id"]
        indexes = [models.Index(fields=["resource", "deleted_at", "id"])]

    def __str__(self) -> str:
        return f"{self.resource} {self.uuid} deleted {self.deleted_at:%Y-%m-%d %H:%M}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for repeats."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return self.key
