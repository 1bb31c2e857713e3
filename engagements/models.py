"""Accounts, their people and products, and the engagements sold to them."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from tcp.models import MaturityLevel, User, Versioned, VersionedModel


class Industry(models.TextChoices):
    HEALTHCARE = "healthcare", "Healthcare"
    BANKING = "banking", "Banking & lending"
    INSURANCE = "insurance", "Insurance"
    MANUFACTURING = "manufacturing", "Manufacturing"
    RETAIL = "retail", "Retail"
    PUBLIC_SECTOR = "public_sector", "Public sector"
    ENERGY = "energy", "Energy & utilities"
    LOGISTICS = "logistics", "Logistics"


class Region(models.TextChoices):
    UK_IRELAND = "uk_ireland", "UK & Ireland"
    NORTHERN_EUROPE = "northern_europe", "Northern Europe"
    SOUTHERN_EUROPE = "southern_europe", "Southern Europe"
    NORTH_AMERICA = "north_america", "North America"
    APAC = "apac", "Asia-Pacific"


class Segment(models.TextChoices):
    ESTABLISHED = "established", "Established"
    WHITE_SPACE = "white_space", "White space"


class TeamRole(models.TextChoices):
    """Seats on the single-threaded account team."""

    ACCOUNT_MANAGER = "account_manager", "Account manager"
    TECHNOLOGY_MANAGER = "technology_manager", "Technology manager"
    PARTNER_MANAGER = "partner_manager", "Partner manager"
    DELIVERY_MANAGER = "delivery_manager", "Delivery manager"


class Responsibility(models.TextChoices):
    VALUE_PROPOSITION = "value_proposition", "Value proposition"
    TCO_PRE_SALES = "tco_pre_sales", "TCO (pre-sales)"
    TCO_POST_SALES = "tco_post_sales", "TCO (post-sales)"


def responsibility_owner(
    responsibility: str, *, maturity_level: int, partner_led: bool
) -> TeamRole:
    """Which seat on the account team owns a responsibility at a maturity level.

    Level 1: the technology manager owns the TCO and the account manager the rest.
    Level 2: the account manager takes the value proposition.
    Level 3: on partner-led deals the partner manager owns the TCO.
    Level 4: the delivery manager owns the post-sales parts of the TCO.
    """
    if responsibility == Responsibility.VALUE_PROPOSITION:
        if maturity_level >= MaturityLevel.VALUE_LED:
            return TeamRole.ACCOUNT_MANAGER
        return TeamRole.TECHNOLOGY_MANAGER
    if (
        responsibility == Responsibility.TCO_POST_SALES
        and maturity_level >= MaturityLevel.DELIVERY_LED
    ):
        return TeamRole.DELIVERY_MANAGER
    if partner_led and maturity_level >= MaturityLevel.PARTNER_LED:
        return TeamRole.PARTNER_MANAGER
    return TeamRole.TECHNOLOGY_MANAGER


_ZERO_UUID = uuid.UUID(int=0)


@functools.cache
def _detail_url_prefix(name: str) -> str:
    """The path before the uuid of a detail page. List pages link every row, and a full
    reverse() per row costs more than the rest of the row put together."""
    return reverse(name, args=[_ZERO_UUID]).removesuffix(f"{_ZERO_UUID}/")


class TimestampedModel(Versioned):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: User) -> AccountQuerySet:
        """The one visibility rule for accounts.

        Oversight roles see every account; anyone else sees the accounts whose team they
        sit on and the accounts of the engagements they lead or deliver.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        on_team = AccountTeamMember.objects.filter(account=OuterRef("pk"), user=user)
        works_on = Engagement.objects.filter(account=OuterRef("pk")).filter(
            Q(commercial_lead=user) | Q(delivery_manager=user)
        )
        return self.filter(Exists(on_team) | Exists(works_on))

    def editable_by(self, user: User) -> AccountQuerySet:
        """Accounts the user may change: oversight roles, or a commercial seat on the team."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        seat = AccountTeamMember.objects.filter(
            account=OuterRef("pk"), user=user, role__in=COMMERCIAL_SEATS
        )
        return self.filter(Exists(seat))


class Account(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text="The account's id in your CRM: the sync finds and updates the account by "
        "it. Leave it empty for an account kept only in Parity.",
    )
    name = models.CharField(max_length=200)
    industry = models.CharField(max_length=32, choices=Industry.choices)
    region = models.CharField(max_length=32, choices=Region.choices)
    segment = models.CharField(
        max_length=16,
        choices=Segment.choices,
        default=Segment.WHITE_SPACE,
        help_text="Established: we already serve them. White space: a new logo.",
    )
    website = models.URLField(blank=True)
    notes = models.TextField(blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name", "id"]),
            models.Index(fields=["industry", "region"]),
            # The account list filtered by one of these, in name order: one index range,
            # instead of walking the name index past every account of the other values.
            models.Index(fields=["industry", "name", "id"], name="account_industry_name_idx"),
            models.Index(fields=["region", "name", "id"], name="account_region_name_idx"),
            models.Index(fields=["segment", "name", "id"], name="account_segment_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{_detail_url_prefix('engagements:account_detail')}{self.uuid}/"

    def is_editable_by(self, user: User) -> bool:
        # editable_by() lets oversight roles change everything; skip the query for them.
        if user.is_active and user.sees_everything:
            return True
        return Account.objects.editable_by(user).filter(pk=self.pk).exists()

    # Enum lookups: cheaper than get_FOO_display(), which rebuilds a dict on every call.
    @property
    def industry_label(self) -> str:
        return Industry(self.industry).label

    @property
    def region_label(self) -> str:
        return Region(self.region).label

    @property
    def segment_label(self) -> str:
        return Segment(self.segment).label


# Team seats that may change the account and run its engagements.
COMMERCIAL_SEATS = [
    TeamRole.ACCOUNT_MANAGER,
    TeamRole.TECHNOLOGY_MANAGER,
    TeamRole.PARTNER_MANAGER,
]


class AccountPartQuerySet[M: models.Model](models.QuerySet[M]):
    """Rows that belong to one account are seen by whoever sees the account."""

    def visible_to(self, user: User) -> AccountPartQuerySet[M]:
        if user.is_authenticated and user.is_active and user.sees_everything:
            return self
        return self.filter(account__in=Account.objects.visible_to(user).values("pk"))


class AccountTeamMember(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_seats"
    )
    role = models.CharField(max_length=32, choices=TeamRole.choices)
    since = models.DateField(default=dt.date.today)

    objects = AccountPartQuerySet["AccountTeamMember"].as_manager()

    class Meta:
        ordering = ["role", "user__first_name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "role", "user"], name="team_seat_once")
        ]
        indexes = [models.Index(fields=["user", "account"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.account}"


class BuyerRole(models.TextChoices):
    ECONOMIC = "economic", "Economic buyer"
    TECHNICAL = "technical", "Technical buyer"
    USER = "user", "User buyer"
    COACH = "coach", "Coach"


class Contact(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    job_title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    buyer_role = models.CharField(max_length=16, choices=BuyerRole.choices, blank=True)

    objects = AccountPartQuerySet["Contact"].as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProductLine(models.Model):
    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet["Product"]):
    def visible_to(self, user: User) -> ProductQuerySet:
        """The catalogue is open to everyone at work here."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self


class Product(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["line__name", "name"]
        constraints = [models.UniqueConstraint(fields=["line", "name"], name="product_once")]

    def __str__(self) -> str:
        return f"{self.line} · {self.name}"

    def is_editable_by(self, user: User) -> bool:
        return user.is_active and user.sees_everything


class Stage(models.TextChoices):
    DISCOVERY = "discovery", "Discovery"
    PROPOSAL = "proposal", "Proposal"
    CONTRACTED = "contracted", "Contracted"
    DELIVERY = "delivery", "Delivery"
    COMPLETED = "completed", "Completed"
    LOST = "lost", "Lost"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STAGES = (Stage.DISCOVERY, Stage.PROPOSAL)
WON_STAGES = (Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED)
CLOSED_STAGES = (Stage.COMPLETED, Stage.LOST, Stage.CANCELLED)

# Where an engagement may go from each stage. Going back to discovery from proposal is
# allowed (the client reopened the problem); won work can only be cancelled, not lost.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Stage.DISCOVERY: (Stage.PROPOSAL, Stage.LOST, Stage.CANCELLED),
    Stage.PROPOSAL: (Stage.CONTRACTED, Stage.DISCOVERY, Stage.LOST, Stage.CANCELLED),
    Stage.CONTRACTED: (Stage.DELIVERY, Stage.CANCELLED),
    Stage.DELIVERY: (Stage.COMPLETED, Stage.CANCELLED),
    Stage.COMPLETED: (),
    Stage.LOST: (),
    Stage.CANCELLED: (),
}

# The date field each stage stamps when an engagement enters it.
STAGE_DATE_FIELD: dict[str, str] = {
    Stage.PROPOSAL: "proposal_on",
    Stage.CONTRACTED: "contract_signed_on",
    Stage.COMPLETED: "completed_on",
    Stage.LOST: "lost_on",
    Stage.CANCELLED: "cancelled_on",
}


class PocOutcome(models.TextChoices):
    NONE = "none", "No proof of concept"
    RUNNING = "running", "Running"
    SUCCESSFUL = "successful", "Successful"
    FAILED = "failed", "Failed"


class EngagementQuerySet(models.QuerySet["Engagement"]):
    def visible_to(self, user: User) -> EngagementQuerySet:
        """The one visibility rule for engagements.

        Oversight roles see all; team members see their accounts' engagements; a commercial
        lead or delivery manager sees the engagements they lead or deliver.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        on_team = AccountTeamMember.objects.filter(account=OuterRef("account"), user=user)
        return self.filter(Exists(on_team) | Q(commercial_lead=user) | Q(delivery_manager=user))

    def editable_by(self, user: User) -> EngagementQuerySet:
        """Engagements the user may change or move between stages."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        seat = AccountTeamMember.objects.filter(
            account=OuterRef("account"), user=user, role__in=COMMERCIAL_SEATS
        )
        return self.filter(Exists(seat) | Q(commercial_lead=user))

    def deliverable_by(self, user: User) -> EngagementQuerySet:
        """Engagements whose delivery the user records (milestones, attendance): oversight
        roles, the engagement's delivery manager, or a delivery-manager seat on its account.
        Not the commercial lead: nobody records their own attendance."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        seat = AccountTeamMember.objects.filter(
            account=OuterRef("account"), user=user, role=TeamRole.DELIVERY_MANAGER
        )
        return self.filter(Exists(seat) | Q(delivery_manager=user))

    def open(self) -> EngagementQuerySet:
        return self.filter(stage__in=OPEN_STAGES)

    def with_scope(self) -> EngagementQuerySet:
        """Annotate `scoping_miss_days` (see scoping_miss_days())."""
        return self.annotate(scoping_miss_days=scoping_miss_days())


class Engagement(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="engagements")
    name = models.CharField(max_length=200)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DISCOVERY)
    commercial_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_engagements"
    )
    delivery_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivered_engagements",
    )
    value = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Total contract value in the organisation's currency.",
    )
    contracted_effort_days = models.DecimalField(
        "contracted effort (days)",
        max_digits=9,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    partner_led = models.BooleanField(default=False)
    poc = models.CharField(
        "proof of concept", max_length=16, choices=PocOutcome.choices, default=PocOutcome.NONE
    )
    poc_concluded_on = models.DateField("PoC concluded on", null=True, blank=True)
    product_lines = models.ManyToManyField(ProductLine, blank=True, related_name="engagements")

    opened_on = models.DateField(default=dt.date.today)
    proposal_on = models.DateField("proposal date", null=True, blank=True)
    contract_signed_on = models.DateField(null=True, blank=True)
    contracted_start = models.DateField(null=True, blank=True)
    contracted_end = models.DateField(null=True, blank=True)
    completed_on = models.DateField("completed (actual end)", null=True, blank=True)
    lost_on = models.DateField(null=True, blank=True)
    cancelled_on = models.DateField(null=True, blank=True)

    stage_changed_at = models.DateTimeField(null=True, blank=True)
    stage_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-id"]
        indexes = [
            models.Index(fields=["account", "stage"]),
            models.Index(fields=["commercial_lead", "stage"]),
            models.Index(fields=["stage", "-opened_on"]),
            models.Index(fields=["-opened_on", "-id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="engagement_value_not_negative"),
            models.CheckConstraint(
                condition=Q(contracted_end__isnull=True)
                | Q(contracted_start__isnull=True)
                | Q(contracted_end__gte=models.F("contracted_start")),
                name="engagement_contract_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{_detail_url_prefix('engagements:engagement_detail')}{self.uuid}/"

    def is_editable_by(self, user: User) -> bool:
        if user.is_active and user.sees_everything:
            return True
        return Engagement.objects.editable_by(user).filter(pk=self.pk).exists()

    def is_deliverable_by(self, user: User) -> bool:
        if user.is_active and user.sees_everything:
            return True
        return Engagement.objects.deliverable_by(user).filter(pk=self.pk).exists()

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label

    @property
    def scope_is_frozen(self) -> bool:
        """Scope items are estimates made before the contract; once it is signed the
        contracted effort stands and changes are recorded as scope changes."""
        return self.stage not in OPEN_STAGES

    def scope_drift(self, tolerance_pct: Decimal) -> ScopeDrift:
        """Needs `scoping_miss_days` from EngagementQuerySet.with_scope()."""
        return ScopeDrift(
            contracted_days=self.contracted_effort_days,
            scoping_miss_days=Decimal(getattr(self, "scoping_miss_days", 0) or 0),
            tolerance_pct=tolerance_pct,
        )

    def timeline(self, grace_days: int, today: dt.date | None = None) -> Timeline:
        return Timeline(
            contracted_end=self.contracted_end,
            completed_on=self.completed_on,
            grace_days=grace_days,
            today=today or timezone.localdate(),
            stopped_on=self.cancelled_on or self.lost_on,
        )

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    def next_stages(self) -> tuple[str, ...]:
        return TRANSITIONS[self.stage]

    def is_pre_adoption(self, adoption_date: dt.date) -> bool:
        """History from before the TCP model: proposed before the organisation adopted it."""
        return self.proposal_on is not None and self.proposal_on < adoption_date

    def stage_progress(self) -> list[tuple[str, str, str]]:
        """(value, label, state) for the main path, state in done / current / todo."""
        path = [Stage.DISCOVERY, Stage.PROPOSAL, Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED]
        current = path.index(Stage(self.stage)) if self.stage in path else -1
        steps = []
        for i, stage in enumerate(path):
            state = "done" if i < current else "current" if i == current else "todo"
            steps.append((stage.value, stage.label, state))
        return steps


class StageChange(models.Model):
    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    on = models.DateField(help_text="The business date of the change.")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.engagement}: {self.from_stage or '∅'} → {self.to_stage}"


# Delivery: contracted scope and its changes ----------------------------------------------


class EngagementPartQuerySet[M: models.Model](models.QuerySet[M]):
    """Rows that belong to one engagement are seen by whoever sees the engagement."""

    def visible_to(self, user: User) -> EngagementPartQuerySet[M]:
        if user.is_authenticated and user.is_active and user.sees_everything:
            return self
        return self.filter(engagement__in=Engagement.objects.visible_to(user).values("pk"))


class ScopeItem(VersionedModel):
    """A piece of the contracted scope, estimated before the contract is signed. The
    engagement's contracted effort is their sum, frozen when it is contracted."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="scope_items")
    title = models.CharField(max_length=200)
    estimated_days = models.DecimalField(
        "estimated effort (days)",
        max_digits=7,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    note = models.TextField(blank=True)

    objects = EngagementPartQuerySet["ScopeItem"].as_manager()

    class Meta:
        ordering = ["engagement", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(estimated_days__gt=0), name="scope_item_effort_positive"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ScopeCause(models.TextChoices):
    SCOPING_MISS = "scoping_miss", "Scoping miss"
    CLIENT_REQUEST = "client_request", "Client request"
    REGULATORY_CHANGE = "regulatory_change", "Regulatory change"
    OTHER = "other", "Other"


class ScopeChange(VersionedModel):
    """Effort added to or taken from the contracted scope during delivery, and why."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="scope_changes"
    )
    effort_delta_days = models.DecimalField(
        "effort change (days)",
        max_digits=7,
        decimal_places=1,
        help_text="Days added to the scope (positive) or taken out of it (negative).",
    )
    cause = models.CharField(max_length=24, choices=ScopeCause.choices)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_on = models.DateField()
    note = models.TextField(blank=True)

    objects = EngagementPartQuerySet["ScopeChange"].as_manager()

    class Meta:
        ordering = ["engagement", "approved_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(effort_delta_days=0), name="scope_change_is_a_change"
            )
        ]

    def __str__(self) -> str:
        return f"{self.effort_delta_days:+} days · {self.cause_label}"

    @property
    def cause_label(self) -> str:
        return ScopeCause(self.cause).label


def scoping_miss_days() -> Any:
    """SQL: the absolute effort of an engagement's scoping-miss changes (0 when none).
    Used with an engagement as the outer row."""
    misses = (
        ScopeChange.objects.filter(engagement=OuterRef("pk"), cause=ScopeCause.SCOPING_MISS)
        .order_by()
        .values("engagement")
        .annotate(days=Sum(Abs("effort_delta_days")))
        .values("days")
    )
    return Coalesce(Subquery(misses), Value(Decimal(0)), output_field=models.DecimalField())


def scope_accurate(tolerance_pct: Decimal) -> Q:
    """SQL: scoping misses add up to at most `tolerance_pct` of the contracted effort.
    Multiplies instead of dividing so exactly the tolerance counts as accurate. Needs
    EngagementQuerySet.with_scope()."""
    return Q(
        scoping_miss_days__lte=ExpressionWrapper(
            F("contracted_effort_days") * tolerance_pct / 100,
            output_field=models.DecimalField(),
        )
    )


def on_time(grace_days: int) -> Q:
    """SQL: completed no later than the contracted end plus the grace days."""
    return Q(completed_on__lte=F("contracted_end") + dt.timedelta(days=grace_days))


@dataclass(frozen=True)
class ScopeDrift:
    contracted_days: Decimal | None
    scoping_miss_days: Decimal
    tolerance_pct: Decimal

    @property
    def pct(self) -> Decimal | None:
        if not self.contracted_days:
            return None
        return self.scoping_miss_days * 100 / self.contracted_days

    @property
    def accurate(self) -> bool | None:
        if not self.contracted_days:
            return None
        return self.scoping_miss_days * 100 <= self.tolerance_pct * self.contracted_days

    def __str__(self) -> str:
        pct = self.pct
        if pct is None:
            return "No contracted effort yet"
        if not self.scoping_miss_days:
            return "Scope accurate: no scoping misses"
        # One decimal at most, so a drift just over the tolerance does not read as on it.
        shown = f"{pct:.1f}".removesuffix(".0")
        if self.accurate:
            return f"Scope accurate: drifted {shown}% from scoping misses"
        return f"Drifted {shown}% from scoping misses"


@dataclass(frozen=True)
class Timeline:
    """Contracted end against actual end, with the organisation's grace days."""

    contracted_end: dt.date | None
    completed_on: dt.date | None
    grace_days: int
    today: dt.date
    stopped_on: dt.date | None = None  # cancelled (or lost) before it finished

    @property
    def deadline(self) -> dt.date | None:
        if self.contracted_end is None:
            return None
        return self.contracted_end + dt.timedelta(days=self.grace_days)

    @property
    def on_time(self) -> bool | None:
        """True or False once completed; None while running or without a contract."""
        if self.deadline is None or self.completed_on is None:
            return None
        return self.completed_on <= self.deadline

    @property
    def days_late(self) -> int:
        if self.stopped_on is not None and self.completed_on is None:
            return 0
        end = self.completed_on or self.today
        if self.deadline is None or end <= self.deadline:
            return 0
        return (end - self.deadline).days

    def __str__(self) -> str:
        if self.deadline is None:
            return "No contracted end date yet"
        if self.completed_on is None and self.stopped_on is not None:
            return f"Stopped on {self.stopped_on:%d %b %Y}, before it finished"
        if self.completed_on is None:
            if self.days_late:
                return f"Running {self.days_late} days past the contracted end"
            return f"{(self.deadline - self.today).days} days to the contracted end"
        if self.on_time:
            return "Finished on time"
        return f"Finished {self.days_late} days late"


# Delivery: milestones and who attended them --------------------------------------------


class MilestoneKind(models.TextChoices):
    DISCOVERY_WORKSHOP = "discovery_workshop", "Discovery workshop"
    ARCHITECTURE_REVIEW = "architecture_review", "Architecture review"
    IMPLEMENTATION = "implementation", "Implementation milestone"
    GO_LIVE = "go_live", "Go-live"
    QBR = "qbr", "Quarterly business review"
    OTHER = "other", "Other"


# The moments a project's direction is set: the commercial lead must be there.
CRITICAL_KINDS = frozenset({MilestoneKind.ARCHITECTURE_REVIEW, MilestoneKind.GO_LIVE})


class AttendanceMode(models.TextChoices):
    CONTRIBUTED = "contributed", "Contributed"
    OBSERVED = "observed", "Observed"
    ABSENT = "absent", "Absent"


class MilestoneQuerySet(models.QuerySet["Milestone"]):
    def visible_to(self, user: User) -> MilestoneQuerySet:
        """Milestones of the engagements the user can see."""
        if user.is_authenticated and user.is_active and user.sees_everything:
            return self
        return self.filter(engagement__in=Engagement.objects.visible_to(user).values("pk"))

    def with_lead_contribution(self) -> MilestoneQuerySet:
        """Annotate `lead_contributed`: the engagement's commercial lead attended as a
        contributor. The one definition the flag and the participation KPI use."""
        contributed = MilestoneAttendance.objects.filter(
            milestone=OuterRef("pk"),
            person=OuterRef("engagement__commercial_lead"),
            mode=AttendanceMode.CONTRIBUTED,
        )
        return self.annotate(lead_contributed=Exists(contributed))

    def missed_by_lead(self) -> MilestoneQuerySet:
        """Critical milestones held without the commercial lead contributing."""
        return (
            self.with_lead_contribution()
            .filter(critical=True, held_on__isnull=False)
            .exclude(lead_contributed=True)  # type: ignore[misc]  # an annotation
        )


class Milestone(VersionedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=24, choices=MilestoneKind.choices)
    title = models.CharField(max_length=200, blank=True)
    planned_on = models.DateField()
    held_on = models.DateField(null=True, blank=True)
    critical = models.BooleanField(
        default=False,
        help_text="A moment that sets the project's direction: the commercial lead must "
        "contribute. Architecture reviews and go-lives are critical unless you say otherwise.",
    )
    note = models.TextField(blank=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["planned_on", "id"]
        indexes = [
            models.Index(fields=["engagement", "planned_on"]),
            models.Index(fields=["held_on"], name="milestone_held_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.kind_label

    @property
    def kind_label(self) -> str:
        return MilestoneKind(self.kind).label

    @property
    def name(self) -> str:
        return str(self)

    @staticmethod
    def critical_by_default(kind: str) -> bool:
        return kind in CRITICAL_KINDS

    @property
    def is_due(self) -> bool:
        """Held, or its planned day has come: time to record who attended."""
        return self.held_on is not None or self.planned_on <= timezone.localdate()

    @property
    def slip_days(self) -> int | None:
        """Days the milestone was held after (positive) or before (negative) its plan."""
        if self.held_on is None:
            return None
        return (self.held_on - self.planned_on).days


class MilestoneAttendance(models.Model):
    """Who from the account team was at a milestone, and how."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="attendance")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="milestone_attendance"
    )
    mode = models.CharField(max_length=16, choices=AttendanceMode.choices)
    note = models.CharField("contribution", max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["milestone", "person__first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "person"], name="attendance_once")
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.mode_label}"

    @property
    def mode_label(self) -> str:
        return AttendanceMode(self.mode).label


# The golden thread: what the client wants out of the work and how we will know -----------


class SuccessPlan(VersionedModel):
    engagement = models.OneToOneField(
        Engagement, on_delete=models.CASCADE, related_name="success_plan"
    )
    business_outcome = models.TextField(
        help_text="The change in the client's business this work exists for, in their words."
    )

    def __str__(self) -> str:
        return f"Success plan · {self.engagement}"


class AdoptionStep(VersionedModel):
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="steps")
    description = models.CharField(max_length=300)
    owner = models.CharField(
        max_length=120, help_text="Who makes it happen, on our side or the client's."
    )
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "due_on", "id"]

    def __str__(self) -> str:
        return self.description


class SuccessMetric(VersionedModel):
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True)
    baseline = models.DecimalField(max_digits=14, decimal_places=2)
    target = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(target=F("baseline")), name="success_metric_target_moves"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def progress_pct(self, current: Decimal | None) -> Decimal | None:
        """How far from baseline to target the current value has come (may pass 100)."""
        if current is None:
            return None
        return (current - self.baseline) * 100 / (self.target - self.baseline)


class MetricReading(models.Model):
    metric = models.ForeignKey(SuccessMetric, on_delete=models.CASCADE, related_name="readings")
    on = models.DateField()
    value = models.DecimalField(max_digits=14, decimal_places=2)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["metric", "on"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "on"], name="metric_reading_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.value} on {self.on}"


class ActivityKind(models.TextChoices):
    INFORMATION = "information", "Information"
    IMPLEMENTATION = "implementation", "Implementation"
    INFUSION = "infusion", "Infusion"


class PostSaleActivity(models.Model):
    """Work after the sale that helps the client get the value they bought: keeping them
    informed, helping them implement, and spreading the solution further into the business."""

    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    on = models.DateField()
    description = models.CharField(max_length=300)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan", "-on", "-id"]
        verbose_name_plural = "post-sale activities"

    def __str__(self) -> str:
        return self.description


# 1:1 cadence meetings between a manager and a technical seller ---------------------------


class OneOnOneQuerySet(models.QuerySet["OneOnOne"]):
    def visible_to(self, user: User) -> OneOnOneQuerySet:
        """The two people, and oversight roles (who see the cadence, never career notes)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        return self.filter(Q(manager=user) | Q(seller=user))


class OneOnOne(VersionedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="one_on_ones_held"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="one_on_ones"
    )
    held_on = models.DateField()
    future_opportunities = models.TextField(
        "future opportunity ideas", blank=True, help_text="Openings worth exploring next."
    )
    # What the data said when the meeting was opened: kept as it was, so the record shows
    # what the two people saw.
    agenda = models.JSONField(default=dict, blank=True, editable=False)

    objects = OneOnOneQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = verbose_name_plural = "1:1 meetings"
        indexes = [models.Index(fields=["seller", "-held_on"])]
        constraints = [
            models.CheckConstraint(condition=~Q(manager=F("seller")), name="one_on_one_two_people")
        ]

    def __str__(self) -> str:
        return f"1:1 {self.manager} · {self.seller} · {self.held_on:%d %b %Y}"


class Temperature(models.TextChoices):
    COLD = "cold", "Cold"
    COOL = "cool", "Cool"
    WARM = "warm", "Warm"
    HOT = "hot", "Hot"


class OneOnOneOpportunity(models.Model):
    meeting = models.ForeignKey(OneOnOne, on_delete=models.CASCADE, related_name="opportunities")
    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(
        max_length=16, choices=Stage.choices, help_text="The stage when it was discussed."
    )
    technical_win = models.BooleanField(
        null=True, blank=True, help_text="Is the client confident our solution will work for them?"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["meeting", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "engagement"], name="opportunity_once")
        ]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.engagement_id}"


class AccountTemperature(models.Model):
    meeting = models.ForeignKey(OneOnOne, on_delete=models.CASCADE, related_name="temperatures")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    temperature = models.CharField(max_length=8, choices=Temperature.choices, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["meeting", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "account"], name="temperature_once")
        ]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.account_id}: {self.temperature or 'not said'}"


class NextStep(models.Model):
    meeting = models.ForeignKey(OneOnOne, on_delete=models.CASCADE, related_name="next_steps")
    description = models.CharField(max_length=300)
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["meeting", "due_on", "id"]

    def __str__(self) -> str:
        return self.description


class CareerNoteQuerySet(models.QuerySet["CareerNote"]):
    def visible_to(self, user: User) -> CareerNoteQuerySet:
        """Only the two people in the meeting: not sales leadership, not administrators."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(Q(meeting__manager=user) | Q(meeting__seller=user))


class CareerNote(models.Model):
    """Private career notes of a 1:1, kept apart from the meeting so no page, export or
    API that shows meetings can carry them by accident."""

    meeting = models.OneToOneField(OneOnOne, on_delete=models.CASCADE, related_name="career_note")
    text = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CareerNoteQuerySet.as_manager()

    def __str__(self) -> str:
        return "Career notes"


# Money and the client's view, for the financial and customer KPIs -------------------------


class RevenueEntry(TimestampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    engagement = models.ForeignKey(
        Engagement, on_delete=models.PROTECT, related_name="revenue_entries"
    )
    month = models.DateField(help_text="The first day of the month the revenue was recognised.")
    revenue = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )

    objects = EngagementPartQuerySet["RevenueEntry"].as_manager()

    class Meta:
        ordering = ["engagement", "month"]
        verbose_name_plural = "revenue entries"
        indexes = [models.Index(fields=["month"])]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "month"], name="revenue_once_a_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="revenue_month_first_day"),
            models.CheckConstraint(
                condition=Q(revenue__gte=0, cost__gte=0), name="revenue_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.engagement} · {self.month:%b %Y}"

    def clean(self) -> None:
        # People type any day of the month; the month is what counts.
        if self.month:
            self.month = self.month.replace(day=1)


class ClientRating(TimestampedModel):
    """How we rated our delivery and how the client rated it (the delivery gap), and the
    client's answer to "would you recommend us?" for NPS."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="ratings")
    rated_on = models.DateField()
    self_rating = models.PositiveSmallIntegerField(
        "our rating", validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    client_rating = models.PositiveSmallIntegerField(
        "client's rating", validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    recommend_score = models.PositiveSmallIntegerField(
        "would recommend (0–10)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10)],
        help_text="The client's answer to the NPS question, if asked.",
    )
    note = models.TextField(blank=True)

    objects = EngagementPartQuerySet["ClientRating"].as_manager()

    class Meta:
        ordering = ["engagement", "-rated_on"]
        constraints = [
            models.UniqueConstraint(fields=["engagement", "rated_on"], name="rating_once_a_day"),
            models.CheckConstraint(
                condition=Q(self_rating__range=(1, 10), client_rating__range=(1, 10)),
                name="rating_one_to_ten",
            ),
            models.CheckConstraint(
                condition=Q(recommend_score__isnull=True) | Q(recommend_score__lte=10),
                name="recommend_zero_to_ten",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.engagement} · {self.rated_on}"

    @property
    def gap(self) -> int:
        return self.self_rating - self.client_rating


# Documents: proposals and QBRs rendered to PDF by a worker -------------------------------


def quarter_label(start: dt.date) -> str:
    """ "Q3 2026" for any day of that quarter."""
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


class DocumentKind(models.TextChoices):
    PROPOSAL = "proposal", "Proposal"
    QBR = "qbr", "Quarterly business review"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


UNFINISHED_DOCUMENT = (DocumentStatus.QUEUED, DocumentStatus.RENDERING)


class DocumentQuerySet(models.QuerySet["Document"]):
    def visible_to(self, user: User) -> DocumentQuerySet:
        """A proposal is seen by whoever sees its engagement; a QBR by whoever sees its
        account."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        return self.filter(
            Q(engagement__isnull=False, engagement__in=Engagement.objects.visible_to(user))
            | Q(engagement__isnull=True, account__in=Account.objects.visible_to(user))
        )

    def unfinished(self) -> DocumentQuerySet:
        return self.filter(status__in=UNFINISHED_DOCUMENT)


class Document(models.Model):
    """One version of a generated document: the request, its progress, and the PDF.

    The values it shows are frozen in `snapshot` when it is first rendered, so a render run
    again after a crash prints the same figures. `claim` is the token of the render that
    holds it; only that render may store its result (engagements.services.document_render).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="documents")
    engagement = models.ForeignKey(
        Engagement, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    period_start = models.DateField(
        null=True, blank=True, help_text="The first day of the quarter a QBR covers."
    )
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # When a render was last put on the queue: the sweep queues it again if nothing took it.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    snapshot = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    file = models.FileField(upload_to="documents/", max_length=300, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "account", "engagement", "period_start", "version"],
                nulls_distinct=False,
                name="document_version_once",
            ),
            # Two clicks on "Generate" make one request: one unfinished version per subject.
            models.UniqueConstraint(
                fields=["kind", "account", "engagement", "period_start"],
                condition=Q(status__in=UNFINISHED_DOCUMENT),
                nulls_distinct=False,
                name="document_one_unfinished",
            ),
            models.CheckConstraint(
                condition=(Q(kind="proposal") & Q(engagement__isnull=False, period_start=None))
                | (Q(kind="qbr") & Q(engagement=None, period_start__isnull=False)),
                name="document_subject_fits_kind",
            ),
        ]
        indexes = [models.Index(fields=["status", "enqueued_at"], name="document_status_idx")]

    def __str__(self) -> str:
        return f"{self.title} · version {self.version}"

    @property
    def title(self) -> str:
        if self.kind == DocumentKind.PROPOSAL:
            return f"Proposal · {self.engagement}"
        return f"QBR {self.quarter_label} · {self.account}"

    @property
    def quarter_label(self) -> str:
        return quarter_label(self.period_start) if self.period_start else ""

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED_DOCUMENT

    @property
    def filename(self) -> str:
        subject = self.engagement.name if self.engagement else self.account.name
        stem = "proposal" if self.kind == DocumentKind.PROPOSAL else f"qbr-{self.quarter_label}"
        return f"{slugify(subject)}-{slugify(stem)}-v{self.version}.pdf"

    def storage_name(self) -> str:
        """Where the PDF of this version is stored: one fixed name per version, so a render
        that runs twice writes the same file instead of a second one."""
        return f"documents/{self.account.uuid}/{self.uuid}.pdf"
