"""Accounts, their people and products, and the engagements sold to them."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from tcp.models import MaturityLevel, User


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


class TimestampedModel(models.Model):
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
        max_length=100, null=True, blank=True, unique=True, help_text="The CRM's id."
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


class AccountTeamMember(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_seats"
    )
    role = models.CharField(max_length=32, choices=TeamRole.choices)
    since = models.DateField(default=dt.date.today)

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


class Product(models.Model):
    line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["line__name", "name"]
        constraints = [models.UniqueConstraint(fields=["line", "name"], name="product_once")]

    def __str__(self) -> str:
        return f"{self.line} · {self.name}"


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

    def open(self) -> EngagementQuerySet:
        return self.filter(stage__in=OPEN_STAGES)


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

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label

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
