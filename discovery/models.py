"""What discovery learns before any proposal: the client's context (profile), what a
failure would cost them (Failure-Cost Analysis interviews and the constraints they justify),
and what each alternative would cost over its life (TCO)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from engagements.models import (
    Account,
    BuyerRole,
    Contact,
    Engagement,
    Responsibility,
    TeamRole,
    responsibility_owner,
)
from tcp.models import User, VersionedModel

NOT_NEGATIVE = [MinValueValidator(Decimal(0))]
ZERO = Value(Decimal(0), output_field=models.DecimalField(max_digits=14, decimal_places=2))

# Client intelligence profile -----------------------------------------------------------


class ProfileQuerySet(models.QuerySet["ClientIntelligenceProfile"]):
    def visible_to(self, user: User) -> ProfileQuerySet:
        """A profile is seen by whoever sees its account."""
        return self.filter(account__in=Account.objects.visible_to(user))

    def with_counts(self) -> ProfileQuerySet:
        """The counts completeness needs, in one query."""
        return self.annotate(
            n_targets=Count("growth_targets", distinct=True),
            n_obligations=Count("obligations", distinct=True),
            n_economic=Count(
                "stakeholders", filter=Q(stakeholders__buyer_role=BuyerRole.ECONOMIC), distinct=True
            ),
            n_technical=Count(
                "stakeholders",
                filter=Q(stakeholders__buyer_role=BuyerRole.TECHNICAL),
                distinct=True,
            ),
        )


class ClientIntelligenceProfile(VersionedModel):
    """The client's operating context, mapped before any proposal (one per account)."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="intelligence_profile"
    )
    business_context = models.TextField(
        blank=True,
        help_text="What the client does, how it makes money and what is changing for it.",
    )
    operational_constraints = models.TextField(
        blank=True,
        help_text="How the client must keep running: opening hours, peak seasons, sites that "
        "cannot stop, change freezes, data that may not leave a region.",
    )
    no_regulatory_obligations = models.BooleanField(
        "no regulatory obligations apply",
        default=False,
        help_text="Tick only once you have asked and the client confirmed that no regulation "
        "shapes the solution.",
    )

    objects = ProfileQuerySet.as_manager()

    # Set by ProfileQuerySet.with_counts().
    n_targets: int
    n_obligations: int
    n_economic: int
    n_technical: int

    def __str__(self) -> str:
        return f"Client intelligence · {self.account}"

    def missing(self) -> list[tuple[str, str]]:
        """What stops the profile counting as complete: (message, anchor on the profile page).

        Needs the counts from ProfileQuerySet.with_counts().
        """
        gaps: list[tuple[str, str]] = []
        if not getattr(self, "n_targets", 0):
            gaps.append(("Record at least one growth target (3–5 year horizon).", "targets"))
        if not getattr(self, "n_obligations", 0) and not self.no_regulatory_obligations:
            gaps.append(
                (
                    "Record the regulatory obligations, or confirm that none apply.",
                    "obligations",
                )
            )
        if not self.operational_constraints.strip():
            gaps.append(("Describe the operational constraints.", "context"))
        if not getattr(self, "n_economic", 0):
            gaps.append(("Name the economic buyer among the stakeholders.", "stakeholders"))
        if not getattr(self, "n_technical", 0):
            gaps.append(("Name the technical buyer among the stakeholders.", "stakeholders"))
        return gaps

    @property
    def is_complete(self) -> bool:
        return not self.missing()

    @property
    def completeness(self) -> int:
        """Share of the five checks that pass, as a whole percentage."""
        return round(100 * (5 - len(self.missing())) / 5)


class GrowthTarget(VersionedModel):
    profile = models.ForeignKey(
        ClientIntelligenceProfile, on_delete=models.CASCADE, related_name="growth_targets"
    )
    metric = models.CharField(max_length=200, help_text="e.g. daily orders processed")
    baseline = models.DecimalField(max_digits=16, decimal_places=2)
    target = models.DecimalField(max_digits=16, decimal_places=2)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. orders/day, %, users")
    horizon_year = models.PositiveSmallIntegerField(
        help_text="The year the client wants to reach the target: 3 to 5 years out."
    )

    class Meta:
        ordering = ["horizon_year", "id"]

    def __str__(self) -> str:
        return f"{self.metric}: {self.baseline} → {self.target} by {self.horizon_year}"

    def clean(self) -> None:
        # The horizon is counted from when the target was recorded, so history stays valid.
        start = (
            timezone.localdate(self.created_at).year if self.created_at else dt.date.today().year
        )
        if self.horizon_year is not None and not start + 3 <= self.horizon_year <= start + 5:
            raise ValidationError(
                {
                    "horizon_year": f"Growth targets look 3 to 5 years ahead: "
                    f"choose a year from {start + 3} to {start + 5}."
                }
            )


class Framework(models.TextChoices):
    HIPAA = "hipaa", "HIPAA"
    SOX = "sox", "SOX"
    GDPR = "gdpr", "GDPR"
    PCI_DSS = "pci_dss", "PCI DSS"
    GLBA = "glba", "GLBA"
    DORA = "dora", "DORA"
    NIS2 = "nis2", "NIS2"
    ISO_27001 = "iso_27001", "ISO/IEC 27001"
    SOC2 = "soc2", "SOC 2"
    OTHER = "other", "Other (describe)"


class RegulatoryObligation(VersionedModel):
    profile = models.ForeignKey(
        ClientIntelligenceProfile, on_delete=models.CASCADE, related_name="obligations"
    )
    framework = models.CharField(max_length=16, choices=Framework.choices)
    framework_other = models.CharField(
        "other framework", max_length=120, blank=True, help_text="Name it when it is not listed."
    )
    requirement = models.TextField(
        "what it requires of the solution",
        help_text="e.g. audit every access to patient records; keep card data out of scope.",
    )

    class Meta:
        ordering = ["framework", "id"]

    def __str__(self) -> str:
        return self.framework_name

    @property
    def framework_name(self) -> str:
        if self.framework == Framework.OTHER:
            return self.framework_other or "Other"
        return Framework(self.framework).label

    def clean(self) -> None:
        if self.framework == Framework.OTHER and not self.framework_other.strip():
            raise ValidationError({"framework_other": "Name the framework."})


class Stakeholder(VersionedModel):
    profile = models.ForeignKey(
        ClientIntelligenceProfile, on_delete=models.CASCADE, related_name="stakeholders"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    buyer_role = models.CharField(max_length=16, choices=BuyerRole.choices)
    notes = models.CharField(
        max_length=300, blank=True, help_text="What they care about; how they judge success."
    )

    class Meta:
        ordering = ["buyer_role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "contact"], name="stakeholder_once")
        ]

    def __str__(self) -> str:
        return f"{self.contact} ({BuyerRole(self.buyer_role).label})"

    def clean(self) -> None:
        if (
            self.contact_id
            and self.profile_id
            and self.contact.account_id != self.profile.account_id
        ):
            raise ValidationError({"contact": "Choose a contact at this account."})


# Failure-Cost Analysis -----------------------------------------------------------------


class FailureCostAnalysisQuerySet(models.QuerySet["FailureCostAnalysis"]):
    def visible_to(self, user: User) -> FailureCostAnalysisQuerySet:
        """An interview is seen by whoever sees its engagement."""
        return self.filter(engagement__in=Engagement.objects.visible_to(user))

    def complete(self) -> FailureCostAnalysisQuerySet:
        return self.filter(completed_at__isnull=False)


class FailureCostAnalysis(VersionedModel):
    """One Failure-Cost Analysis interview: the client quantifies what a failure would cost.

    Complete once fca_complete() accepted it: at least one scenario, each quantified on the
    operational, financial and reputational dimensions. Services keep that true afterwards.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="failure_cost_analyses"
    )
    title = models.CharField(max_length=200, default="Failure-Cost Analysis")
    held_on = models.DateField("interview date", default=dt.date.today)
    interviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    interviewees = models.ManyToManyField(Contact, blank=True, related_name="+")
    notes = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    signed_off_by = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The client who confirmed the figures.",
    )
    signed_off_on = models.DateField(null=True, blank=True)

    objects = FailureCostAnalysisQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = "Failure-Cost Analysis"
        verbose_name_plural = "Failure-Cost Analyses"

    def __str__(self) -> str:
        return f"{self.title} ({self.held_on:%d %b %Y})"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class Severity(models.IntegerChoices):
    NEGLIGIBLE = 1, "1 · Negligible: nobody outside notices"
    MINOR = 2, "2 · Minor: complaints from a few clients"
    MODERATE = 3, "3 · Moderate: local press, some clients leave"
    MAJOR = 4, "4 · Major: national press or a regulator asks questions"
    SEVERE = 5, "5 · Severe: lasting damage to the brand or the licence to operate"


# The derived figures, written once as SQL expressions so every page, total and document
# computes them the same way. Cost of one incident: the fixed cost plus the hourly cost
# over the hours of disruption. Expected yearly loss: that cost times the yearly likelihood.
INCIDENT_COST = Coalesce(F("cost_per_incident"), ZERO) + Coalesce(F("cost_per_hour"), ZERO) * (
    Coalesce(F("disruption_hours"), ZERO)
)
EXPECTED_LOSS = Coalesce(F("likelihood_per_year"), ZERO) * INCIDENT_COST

OPERATIONAL_QUANTIFIED = Q(disruption_hours__isnull=False) & (
    Q(sites_affected__isnull=False) | Q(users_affected__isnull=False)
)
FINANCIAL_QUANTIFIED = Q(cost_per_hour__isnull=False) | Q(cost_per_incident__isnull=False)
REPUTATIONAL_QUANTIFIED = Q(reputational_severity__isnull=False)
QUANTIFIED = OPERATIONAL_QUANTIFIED & FINANCIAL_QUANTIFIED & REPUTATIONAL_QUANTIFIED


def scenario_aggregates() -> dict[str, models.Aggregate]:
    """Count, total expected yearly loss and the costliest single incident of scenarios."""
    money = models.DecimalField(max_digits=14, decimal_places=2)
    return {
        "count": Count("id"),
        "expected_loss": Sum(EXPECTED_LOSS, output_field=money),
        "worst_case": Max(INCIDENT_COST, output_field=money),
    }


class FailureScenarioQuerySet(models.QuerySet["FailureScenario"]):
    def with_figures(self) -> FailureScenarioQuerySet:
        money = models.DecimalField(max_digits=14, decimal_places=2)
        return self.annotate(
            incident_cost=models.ExpressionWrapper(INCIDENT_COST, output_field=money),
            expected_loss=models.ExpressionWrapper(EXPECTED_LOSS, output_field=money),
        )

    def unquantified(self) -> FailureScenarioQuerySet:
        return self.exclude(QUANTIFIED)

    def totals(self) -> dict[str, Decimal | int | None]:
        """Scenario count, total expected yearly loss and the worst single incident."""
        return self.aggregate(**scenario_aggregates())


class FailureScenario(VersionedModel):
    analysis = models.ForeignKey(
        FailureCostAnalysis, on_delete=models.CASCADE, related_name="scenarios"
    )
    what_fails = models.CharField(
        "what fails", max_length=300, help_text="e.g. the image archive is unreachable"
    )
    # Operational
    sites_affected = models.PositiveIntegerField(null=True, blank=True)
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    disruption_hours = models.DecimalField(
        "hours of disruption",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="How long one incident disrupts the client.",
    )
    # Financial
    cost_per_hour = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="While it lasts.",
    )
    cost_per_incident = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="Fixed costs of one incident: fines, recovery, compensation.",
    )
    # Reputational
    reputational_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True
    )
    reputational_note = models.CharField(
        "reputational impact", max_length=300, blank=True, help_text="Who would hear of it."
    )
    regulatory_exposure = models.CharField(
        max_length=300, blank=True, help_text="Which rule is breached, and what follows."
    )
    likelihood_per_year = models.DecimalField(
        "yearly likelihood",
        max_digits=9,
        decimal_places=3,
        default=Decimal(0),
        validators=[*NOT_NEGATIVE, MaxValueValidator(Decimal(10_000))],
        help_text="Expected incidents a year: 0.1 is once in ten years, 4 is quarterly.",
    )
    tolerable_downtime_hours = models.DecimalField(
        "tolerable downtime (hours)",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text="The longest outage the client can accept. Zero means none at all.",
    )

    objects = FailureScenarioQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(likelihood_per_year__gte=0)
                & (Q(cost_per_hour__isnull=True) | Q(cost_per_hour__gte=0))
                & (Q(cost_per_incident__isnull=True) | Q(cost_per_incident__gte=0))
                & (Q(disruption_hours__isnull=True) | Q(disruption_hours__gte=0))
                & (Q(tolerable_downtime_hours__isnull=True) | Q(tolerable_downtime_hours__gte=0)),
                name="scenario_figures_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(reputational_severity__isnull=True)
                | Q(reputational_severity__range=(1, 5)),
                name="scenario_severity_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return self.what_fails

    def missing_dimensions(self) -> list[str]:
        """The dimensions still to quantify (the row form of QUANTIFIED)."""
        missing = []
        if self.disruption_hours is None or (
            self.sites_affected is None and self.users_affected is None
        ):
            missing.append("operational")
        if self.cost_per_hour is None and self.cost_per_incident is None:
            missing.append("financial")
        if self.reputational_severity is None:
            missing.append("reputational")
        return missing


class NeverEvent(VersionedModel):
    """A "must never happen" constraint, justified by failure scenarios; it binds the proposal."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="never_events"
    )
    statement = models.CharField(
        max_length=300, help_text="e.g. no planned downtime window during the migration"
    )
    scenarios = models.ManyToManyField(FailureScenario, related_name="never_events")

    class Meta:
        ordering = ["id"]
        verbose_name = "“must never happen” constraint"

    def __str__(self) -> str:
        return self.statement


# TCO -----------------------------------------------------------------------------------


class TcoComparison(VersionedModel):
    """Our proposal against the competitors and the client's status quo, over a lifespan."""

    engagement = models.OneToOneField(Engagement, on_delete=models.CASCADE, related_name="tco")
    lifespan_years = models.PositiveSmallIntegerField(
        "lifespan (years)",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(15)],
        help_text="Yearly costs count this many times.",
    )
    expected_reward = models.TextField(
        blank=True, help_text="What the client gains with our proposal, as they would put it."
    )
    risks = models.TextField(
        blank=True, help_text="What could make the client doubt it, and how we reduce that."
    )

    def __str__(self) -> str:
        return f"TCO · {self.engagement}"


class AlternativeKind(models.TextChoices):
    OURS = "ours", "Our proposal"
    COMPETITOR = "competitor", "Competitor"
    STATUS_QUO = "status_quo", "Status quo"


class TcoAlternativeQuerySet(models.QuerySet["TcoAlternative"]):
    def with_totals(self) -> TcoAlternativeQuerySet:
        """One-off and yearly costs, and the lifetime total over the comparison's lifespan."""
        money = models.DecimalField(max_digits=14, decimal_places=2)
        recurring = Q(lines__category__in=RECURRING)
        one_off = Coalesce(Sum("lines__amount", filter=~recurring), ZERO, output_field=money)
        yearly = Coalesce(Sum("lines__amount", filter=recurring), ZERO, output_field=money)
        return self.annotate(
            one_off=one_off,
            yearly=yearly,
            lifetime=models.ExpressionWrapper(
                one_off + yearly * F("comparison__lifespan_years"), output_field=money
            ),
            lines_version=Coalesce(Sum("lines__version"), 0),
        )


class TcoAlternative(VersionedModel):
    comparison = models.ForeignKey(
        TcoComparison, on_delete=models.CASCADE, related_name="alternatives"
    )
    kind = models.CharField(max_length=16, choices=AlternativeKind.choices)
    name = models.CharField(max_length=120)

    objects = TcoAlternativeQuerySet.as_manager()

    # Set by TcoAlternativeQuerySet.with_totals() and the TCO page.
    one_off: Decimal
    yearly: Decimal
    lifetime: Decimal
    lines_version: int
    difference: Decimal | None

    class Meta:
        # Our proposal and the status quo are created with the comparison, competitors later.
        ordering = ["comparison", "id"]
        constraints = [
            # Competitors are many; our proposal and the status quo are one each.
            models.UniqueConstraint(
                fields=["comparison", "kind"],
                condition=~Q(kind="competitor"),
                name="one_ours_and_one_status_quo",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CostCategory(models.TextChoices):
    PURCHASE = "purchase", "Purchase and licences"
    IMPLEMENTATION = "implementation", "Implementation"
    TRAINING = "training", "Training"
    OPERATING = "operating", "Operating (per year)"
    MAINTENANCE = "maintenance", "Maintenance and support (per year)"
    DOWNTIME = "downtime", "Downtime (per year)"


RECURRING = (CostCategory.OPERATING, CostCategory.MAINTENANCE, CostCategory.DOWNTIME)
# The parts of the TCO that come from implementation and running the solution; a delivery
# manager owns them at maturity level 4.
POST_SALES = (
    CostCategory.IMPLEMENTATION,
    CostCategory.TRAINING,
    CostCategory.OPERATING,
    CostCategory.MAINTENANCE,
    CostCategory.DOWNTIME,
)


def cost_owner_seat(category: str, *, maturity_level: int, partner_led: bool) -> TeamRole:
    """The account-team seat that owns a cost line (DESIGN: ownership by maturity level)."""
    part = Responsibility.TCO_POST_SALES if category in POST_SALES else Responsibility.TCO_PRE_SALES
    return responsibility_owner(part, maturity_level=maturity_level, partner_led=partner_led)


class TcoCostLine(VersionedModel):
    alternative = models.ForeignKey(TcoAlternative, on_delete=models.CASCADE, related_name="lines")
    category = models.CharField(max_length=16, choices=CostCategory.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2, validators=NOT_NEGATIVE)
    assumption = models.CharField(
        max_length=300,
        blank=True,
        help_text="What the figure rests on, so the client can check it.",
    )

    class Meta:
        ordering = ["alternative_id", "category"]
        constraints = [
            models.UniqueConstraint(fields=["alternative", "category"], name="cost_line_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="cost_line_not_negative"),
        ]

    # Set by the TCO page: the seat that owns the figure and who holds it.
    owner: TeamRole
    owner_person: Any

    def __str__(self) -> str:
        return f"{self.alternative} · {CostCategory(self.category).label}"

    @property
    def is_recurring(self) -> bool:
        return self.category in RECURRING
