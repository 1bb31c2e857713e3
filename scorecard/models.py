"""Stored KPI figures, their targets, and the rollup's bookkeeping."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from scorecard.periods import PeriodType
from tcp.models import User


class KpiSnapshotQuerySet(models.QuerySet["KpiSnapshot"]):
    def visible_to(self, user: User) -> KpiSnapshotQuerySet:
        """The company-wide figures are for sales leadership and administrators."""
        if user.is_authenticated and user.is_active and user.sees_everything:
            return self
        return self.none()


class KpiSnapshot(models.Model):
    """One KPI for one period, for the organisation ("" dimension) or one dimension value.
    Numerator and denominator are kept so every figure can be explained."""

    kpi = models.CharField(max_length=40)
    period_type = models.CharField(max_length=8, choices=PeriodType.choices)
    period_start = models.DateField()
    dimension = models.CharField(max_length=20, blank=True)
    dimension_value = models.CharField(max_length=64, blank=True)
    numerator = models.DecimalField(max_digits=20, decimal_places=4)
    denominator = models.DecimalField(max_digits=20, decimal_places=4)
    value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = KpiSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["kpi", "period_type", "period_start", "dimension", "dimension_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_type", "period_start", "dimension", "dimension_value"],
                name="kpi_snapshot_once",
            )
        ]
        indexes = [models.Index(fields=["period_type", "period_start", "dimension"])]

    def __str__(self) -> str:
        where = f" {self.dimension}={self.dimension_value}" if self.dimension else ""
        return f"{self.kpi} {self.period_type} {self.period_start}{where}: {self.value}"


class TargetStatus(models.TextChoices):
    GREEN = "green", "On target"
    AMBER = "amber", "Close to target"
    RED = "red", "Off target"


class KpiTarget(models.Model):
    """What leadership aims for on a KPI over a type of period. Within `amber_margin` of the
    target (in the KPI's own unit) on the wrong side reads amber, further off red."""

    kpi = models.CharField(max_length=40)
    period_type = models.CharField(max_length=8, choices=PeriodType.choices)
    target = models.DecimalField(max_digits=16, decimal_places=2)
    amber_margin = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        default=Decimal(5),
        validators=[MinValueValidator(Decimal(0))],
        help_text="How far off the target still reads as close (amber).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kpi", "period_type"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "period_type"], name="kpi_target_once"),
            models.CheckConstraint(
                condition=models.Q(amber_margin__gte=0), name="kpi_target_margin_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} ({self.period_type}): {self.target}"

    def status(self, value: Decimal | None, *, higher_is_better: bool) -> str | None:
        if value is None:
            return None
        shortfall = self.target - value if higher_is_better else value - self.target
        if shortfall <= 0:
            return TargetStatus.GREEN
        if shortfall <= self.amber_margin:
            return TargetStatus.AMBER
        return TargetStatus.RED


class RollupState(models.Model):
    """The single row recording how far the change-driven recompute has read its inputs."""

    checked_until = models.DateTimeField(null=True, blank=True)
    last_full_run = models.DateTimeField(null=True, blank=True)
    # Whether StockMonth holds every month; until then a recompute builds it from all history.
    stock_months_built = models.BooleanField(default=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="rollup_state_one")]

    def __str__(self) -> str:
        return f"Checked until {self.checked_until}"


class InputChange(models.Model):
    """A business date on which a KPI input changed, waiting for the change-driven refresh.

    Database triggers (migration 0003) add the old and the new dates of every row written,
    changed or removed in the tables the KPIs read, in the statement's transaction, whichever
    path wrote it (a page, the API, the admin, a bulk upsert, a raw update). A day of None
    means every period (an organisation setting the figures depend on changed); `kpis` names
    the KPIs a day moves when the trigger knows them (an engagement's edit). The refresh
    takes the rows it can see and recomputes their periods in one transaction, so a change
    committed meanwhile waits for the next run and a crashed run leaves its rows queued."""

    day = models.DateField(null=True)
    # The KPIs the change can move on that day (and the stock KPIs after it); None for all.
    kpis = ArrayField(models.CharField(max_length=40), null=True)

    def __str__(self) -> str:
        return f"Input changed on {self.day or 'every day'}"


class StockMonth(models.Model):
    """What one month adds to a running total behind a KPI measured at a period's last day
    (backlog, open pipeline), for the organisation ("" dimension) or one breakdown value.

    The figure at the end of month m is the sum of the months up to m, so after a change
    the rollup regroups only the months of the changed days (InputChange) instead of all
    history: every row a month's change is grouped from falls on a day the triggers queue
    when it changes (see rollup.settle_stock_months)."""

    part = models.CharField(max_length=20)
    month = models.DateField()
    dimension = models.CharField(max_length=20, blank=True)
    dimension_value = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=24, decimal_places=4)
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["part", "month", "dimension", "dimension_value"], name="stock_month_once"
            )
        ]

    def __str__(self) -> str:
        where = f" {self.dimension}={self.dimension_value}" if self.dimension else ""
        return f"{self.part} {self.month}{where}: {self.amount} ({self.count})"
