"""The KPI registry: every figure on the balanced scorecard, defined once, computed in SQL.

Each KPI computes a numerator and a denominator for one period, either for the whole
organisation or broken down by a dimension, in one aggregate query. The value is derived
from the two (see Kpi.value), so any figure can be explained by the rows behind it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from discovery.models import FailureCostAnalysis
from engagements.models import (
    Account,
    ClientRating,
    Engagement,
    EngagementQuerySet,
    Milestone,
    PocOutcome,
    RevenueEntry,
    Stage,
    StageChange,
    on_time,
    scope_accurate,
)
from scorecard.periods import Period
from tcp.models import OrganisationSettings

ZERO = Decimal(0)
PLACES = Decimal("0.0001")


class Perspective(models.TextChoices):
    FINANCIAL = "financial", "Financial"
    CUSTOMER = "customer", "Customer"
    INTERNAL = "internal", "Internal"
    LEARNING = "learning", "Learning & growth"


class Unit(models.TextChoices):
    PERCENT = "percent", "%"
    MONEY = "money", "money"
    COUNT = "count", "count"
    INDEX = "index", "index"
    POINTS = "points", "points"
    SCORE = "score", "score"


class Dimension(models.TextChoices):
    INDUSTRY = "industry", "Industry"
    REGION = "region", "Region"
    PRODUCT_LINE = "product_line", "Product line"
    COMMERCIAL_LEAD = "commercial_lead", "Commercial lead"
    SEGMENT = "segment", "Segment"


# Where each dimension sits, seen from an engagement.
ENGAGEMENT_PATHS: dict[str, str] = {
    Dimension.INDUSTRY: "account__industry",
    Dimension.REGION: "account__region",
    Dimension.PRODUCT_LINE: "product_lines",
    Dimension.COMMERCIAL_LEAD: "commercial_lead",
    Dimension.SEGMENT: "account__segment",
}
ACCOUNT_DIMENSIONS = (Dimension.INDUSTRY, Dimension.REGION, Dimension.SEGMENT)
ALL_DIMENSIONS = tuple(Dimension)

# dimension value ("" for the organisation as a whole) -> (numerator, denominator)
Figures = dict[str, tuple[Decimal, Decimal]]


@dataclass(frozen=True)
class Context:
    """The organisation's settings a computation reads, fixed for one run."""

    tolerance_pct: Decimal
    grace_days: int
    adoption_date: dt.date
    baseline: Period

    @classmethod
    def load(cls, *, baseline: Period | None = None) -> Context:
        org = OrganisationSettings.load()
        start, end = org.baseline_window
        return cls(
            tolerance_pct=org.scope_tolerance_pct,
            grace_days=org.timeline_grace_days,
            adoption_date=org.tcp_adoption_date,
            baseline=baseline or Period.window(start, end),
        )


def _d(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(PLACES)


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__range": (period.start, period.end)})


def _grouped(qs: QuerySet[Any], path: str | None, **aggregates: Any) -> dict[str, dict[str, Any]]:
    """Run `aggregates` over `qs` in one query: once in total (path None) or per value of
    the field at `path`. Rows without a value for the dimension are left out of a breakdown."""
    if path is None:
        return {"": qs.aggregate(**aggregates)}
    rows = (
        qs.filter(**{f"{path}__isnull": False})
        .values(dim=F(path))
        .order_by("dim")
        .annotate(**aggregates)
    )
    return {str(row["dim"]): row for row in rows}


def _path(prefix: str, dimension: str | None) -> str | None:
    return None if dimension is None else prefix + ENGAGEMENT_PATHS[dimension]


def _ratio(qs: QuerySet[Any], numerator: Q, path: str | None) -> Figures:
    # distinct: a breakdown by product line joins each row once per line.
    rows = _grouped(
        qs,
        path,
        num=Count("pk", filter=numerator, distinct=True),
        den=Count("pk", distinct=True),
    )
    return {key: (_d(row["num"]), _d(row["den"])) for key, row in rows.items()}


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    perspective: str
    unit: str
    higher_is_better: bool
    definition: str
    compute: Callable[[Period, str | None, Context], Figures]
    dimensions: tuple[str, ...] = ALL_DIMENSIONS
    tcp: bool = False
    # The engagements behind the figure: (denominator rows, numerator condition).
    records: Callable[[Period, Context], tuple[QuerySet[Engagement], Q]] | None = None

    @property
    def unit_label(self) -> str:
        return Unit(self.unit).label

    def value(self, numerator: Decimal, denominator: Decimal) -> Decimal | None:
        """The figure shown; None ("no data") when the denominator is empty. Money is a
        total (its denominator counts the rows behind it), so it is shown even when zero."""
        if self.unit == Unit.MONEY:
            return numerator.quantize(PLACES)
        if not denominator:
            return None
        if self.unit in (Unit.PERCENT, Unit.SCORE):
            return (numerator * 100 / denominator).quantize(PLACES)
        return (numerator / denominator).quantize(PLACES)

    def figures(self, period: Period, dimension: str | None = None, ctx: Context | None = None):
        """{dimension value: (numerator, denominator)} for `period` ("" without a dimension).
        An unsupported dimension gives no breakdown."""
        if dimension is not None and dimension not in self.dimensions:
            return {}
        return self.compute(period, dimension, ctx or Context.load())


# Engagement-based ratios: a denominator queryset and a numerator condition -------------


def _engagement_ratio(
    base: Callable[[Period, Context], tuple[QuerySet[Engagement], Q]],
) -> Callable[[Period, str | None, Context], Figures]:
    def compute(period: Period, dimension: str | None, ctx: Context) -> Figures:
        qs, numerator = base(period, ctx)
        return _ratio(qs, numerator, _path("", dimension))

    return compute


def _completed(period: Period, ctx: Context) -> EngagementQuerySet:
    return Engagement.objects.filter(_in("completed_on", period))


def scope_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _completed(period, ctx).with_scope(), scope_accurate(ctx.tolerance_pct)


def timeline_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _completed(period, ctx), on_time(ctx.grace_days)


def _closed(period: Period) -> QuerySet[Engagement]:
    return Engagement.objects.filter(_in("contract_signed_on", period) | _in("lost_on", period))


def win_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _closed(period), _in("contract_signed_on", period)


def partner_win_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _closed(period).filter(partner_led=True), _in("contract_signed_on", period)


def direct_win_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _closed(period).filter(partner_led=False), _in("contract_signed_on", period)


def poc_success_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    concluded = Engagement.objects.filter(
        _in("poc_concluded_on", period), poc__in=[PocOutcome.SUCCESSFUL, PocOutcome.FAILED]
    )
    return concluded, Q(poc=PocOutcome.SUCCESSFUL)


def poc_conversion_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return _closed(period).filter(poc=PocOutcome.SUCCESSFUL), _in("contract_signed_on", period)


def cross_portfolio_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    through = Engagement.product_lines.through
    lines = (
        through.objects.filter(engagement=OuterRef("pk"))
        .order_by()
        .values("engagement")
        .annotate(n=Count("*"))
        .values("n")  # type: ignore[misc]  # an annotation
    )
    won = Engagement.objects.filter(_in("contract_signed_on", period)).annotate(
        line_count=Coalesce(Subquery(lines), 0)
    )
    return won, Q(line_count__gte=2)


def _win_value(period: Period, dimension: str | None, ctx: Context) -> Figures:
    qs, won = win_rows(period, ctx)
    rows = _grouped(qs, _path("", dimension), num=Sum("value", filter=won), den=Sum("value"))
    return {key: (_d(row["num"]), _d(row["den"])) for key, row in rows.items()}


# Other bases ---------------------------------------------------------------------------


def _participation(period: Period, dimension: str | None, ctx: Context) -> Figures:
    held = Milestone.objects.with_lead_contribution().filter(_in("held_on", period), critical=True)
    return _ratio(held, Q(lead_contributed=True), _path("engagement__", dimension))


def participation_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    held = Milestone.objects.filter(_in("held_on", period), critical=True)
    missed = Milestone.objects.missed_by_lead().filter(_in("held_on", period))
    engagements = Engagement.objects.filter(pk__in=held.values("engagement"))
    # An engagement counts towards the numerator when no critical milestone was missed.
    return engagements, ~Q(pk__in=missed.values("engagement"))


def _proposals(period: Period, ctx: Context) -> QuerySet[StageChange]:
    return StageChange.objects.filter(
        _in("on", period), to_stage=Stage.PROPOSAL, on__gte=ctx.adoption_date
    )


def _discovery(period: Period, dimension: str | None, ctx: Context) -> Figures:
    analysed = FailureCostAnalysis.objects.complete().filter(engagement=OuterRef("engagement"))
    qs = _proposals(period, ctx).annotate(analysed=Exists(analysed))
    return _ratio(qs, Q(analysed=True), _path("engagement__", dimension))


def discovery_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    analysed = FailureCostAnalysis.objects.complete().filter(engagement=OuterRef("pk"))
    qs = Engagement.objects.filter(pk__in=_proposals(period, ctx).values("engagement"))
    return qs.annotate(analysed=Exists(analysed)), Q(analysed=True)


def _accounts_retained(period: Period, ctx: Context) -> tuple[QuerySet[Account], Q]:
    end = period.end
    cutoff = _years_before(end, 3)
    window_start = _years_before(end, 1) + dt.timedelta(days=1)
    tenured = Engagement.objects.filter(account=OuterRef("pk"), contract_signed_on__lte=cutoff)
    active = Engagement.objects.filter(
        Q(completed_on__isnull=True) | Q(completed_on__gte=window_start),
        Q(cancelled_on__isnull=True) | Q(cancelled_on__gte=window_start),
        account=OuterRef("pk"),
        contract_signed_on__lte=end,
    )
    qs = Account.objects.filter(Exists(tenured)).annotate(active=Exists(active))
    return qs, Q(active=True)


def _retention(period: Period, dimension: str | None, ctx: Context) -> Figures:
    qs, retained = _accounts_retained(period, ctx)
    return _ratio(qs, retained, dimension)


def retention_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    accounts, retained = _accounts_retained(period, ctx)
    kept = accounts.filter(retained)
    qs = Engagement.objects.filter(
        account__in=accounts.values("pk"), contract_signed_on__lte=period.end
    )
    return qs, Q(account__in=kept.values("pk"))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _revenue(period: Period) -> QuerySet[RevenueEntry]:
    return RevenueEntry.objects.filter(_in("month", period))


def _per_account(period: Period, path: str | None) -> dict[str, Decimal]:
    rows = _grouped(
        _revenue(period),
        path,
        revenue=Sum("revenue"),
        accounts=Count("engagement__account", distinct=True),
    )
    return {
        key: Decimal(row["revenue"]) / row["accounts"]
        for key, row in rows.items()
        if row["accounts"]
    }


def _revenue_per_account(period: Period, dimension: str | None, ctx: Context) -> Figures:
    path = _path("engagement__", dimension)
    now = _per_account(period, path)
    base = _per_account(ctx.baseline, path)
    scale = Decimal(period.months) / ctx.baseline.months
    return {key: (_d(value), _d(base.get(key, ZERO) * scale)) for key, value in now.items()}


def _money(
    qs: Callable[[Period], QuerySet[Any]], amount: Any, prefix: str = ""
) -> Callable[[Period, str | None, Context], Figures]:
    def compute(period: Period, dimension: str | None, ctx: Context) -> Figures:
        rows = _grouped(
            qs(period), _path(prefix, dimension), num=Sum(amount), den=Count("pk", distinct=True)
        )
        return {key: (_d(row["num"]), _d(row["den"])) for key, row in rows.items()}

    return compute


def _backlog_rows(period: Period) -> QuerySet[Engagement]:
    end = period.end
    recognised = (
        RevenueEntry.objects.filter(engagement=OuterRef("pk"), month__lte=end)
        .order_by()
        .values("engagement")
        .annotate(total=Sum("revenue"))
        .values("total")
    )
    money = models.DecimalField(max_digits=16, decimal_places=2)
    return (
        Engagement.objects.filter(contract_signed_on__lte=end)
        .exclude(completed_on__lte=end)
        .exclude(cancelled_on__lte=end)
        .annotate(
            unrecognised=Greatest(
                F("value") - Coalesce(Subquery(recognised), Value(ZERO), output_field=money),
                Value(ZERO),
                output_field=money,
            )
        )
    )


def _lost(period: Period) -> QuerySet[Engagement]:
    return Engagement.objects.filter(_in("lost_on", period))


def _open_at(day: dt.date) -> Q:
    """Open pipeline at the end of `day`: opened, and not yet won, lost or cancelled."""
    return Q(opened_on__lte=day) & ~(
        Q(contract_signed_on__lte=day) | Q(lost_on__lte=day) | Q(cancelled_on__lte=day)
    )


def _pipeline(period: Period, dimension: str | None, ctx: Context) -> Figures:
    before = period.start - dt.timedelta(days=1)
    rows = _grouped(
        Engagement.objects.filter(opened_on__lte=period.end),
        _path("", dimension),
        end=Sum("value", filter=_open_at(period.end)),
        start=Sum("value", filter=_open_at(before)),
    )
    return {key: (_d(row["end"]) - _d(row["start"]), _d(row["start"])) for key, row in rows.items()}


def pipeline_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    before = period.start - dt.timedelta(days=1)
    qs = Engagement.objects.filter(_open_at(period.end) | _open_at(before))
    return qs, _open_at(period.end)


def _ratings(period: Period) -> QuerySet[ClientRating]:
    return ClientRating.objects.filter(_in("rated_on", period))


def _rating_mean(amount: Any) -> Callable[[Period, str | None, Context], Figures]:
    def compute(period: Period, dimension: str | None, ctx: Context) -> Figures:
        rows = _grouped(
            _ratings(period),
            _path("engagement__", dimension),
            num=Sum(amount),
            den=Count("pk", distinct=True),
        )
        return {key: (_d(row["num"]), _d(row["den"])) for key, row in rows.items()}

    return compute


def _nps(period: Period, dimension: str | None, ctx: Context) -> Figures:
    rows = _grouped(
        _ratings(period).filter(recommend_score__isnull=False),
        _path("engagement__", dimension),
        promoters=Count("pk", filter=Q(recommend_score__gte=9), distinct=True),
        detractors=Count("pk", filter=Q(recommend_score__lte=6), distinct=True),
        den=Count("pk", distinct=True),
    )
    return {
        key: (_d(row["promoters"] - row["detractors"]), _d(row["den"])) for key, row in rows.items()
    }


# The numerator condition of a figure that every record behind it counts towards (a sum, not
# a ratio). Not an empty Q(): the KPI page asks When(condition), which refuses an empty one.
EVERY = Q(pk__isnull=False)


def rating_rows(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    qs = Engagement.objects.filter(pk__in=_ratings(period).values("engagement"))
    return qs, EVERY


def _coverage(field: str) -> Callable[[Period, str | None, Context], Figures]:
    def compute(period: Period, dimension: str | None, ctx: Context) -> Figures:
        try:
            from certification.services import certification_coverage
        except ImportError:  # certification not installed: no figure rather than a wrong one
            return {}
        counts = certification_coverage(on=period.end)
        return {"": (_d(counts[field]), _d(counts["staff"]))}

    return compute


def _engagement_records(
    qs: Callable[[Period], QuerySet[Engagement]],
) -> Callable[[Period, Context], tuple[QuerySet[Engagement], Q]]:
    def records(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
        return qs(period), EVERY

    return records


def _revenue_records(period: Period, ctx: Context) -> tuple[QuerySet[Engagement], Q]:
    return Engagement.objects.filter(pk__in=_revenue(period).values("engagement")), EVERY


KPIS: tuple[Kpi, ...] = (
    # Financial
    Kpi(
        "revenue_per_account",
        "Revenue per account (indexed)",
        Perspective.FINANCIAL,
        Unit.INDEX,
        True,
        "Revenue recognised in the period per account with revenue, against the same figure "
        "for the baseline window scaled to the period's length.",
        _revenue_per_account,
        tcp=True,
        records=_revenue_records,
    ),
    Kpi(
        "revenue",
        "Revenue",
        Perspective.FINANCIAL,
        Unit.MONEY,
        True,
        "Revenue recognised in the period.",
        _money(_revenue, "revenue", "engagement__"),
        records=_revenue_records,
    ),
    Kpi(
        "profit",
        "Profit",
        Perspective.FINANCIAL,
        Unit.MONEY,
        True,
        "Revenue less cost recognised in the period.",
        _money(_revenue, F("revenue") - F("cost"), "engagement__"),
        records=_revenue_records,
    ),
    Kpi(
        "backlog",
        "Backlog",
        Perspective.FINANCIAL,
        Unit.MONEY,
        True,
        "Contracted value not yet recognised as revenue at the period's last day.",
        _money(_backlog_rows, "unrecognised"),
        records=_engagement_records(_backlog_rows),
    ),
    Kpi(
        "losses",
        "Losses",
        Perspective.FINANCIAL,
        Unit.MONEY,
        False,
        "Value of the engagements lost in the period.",
        _money(_lost, "value"),
        records=_engagement_records(_lost),
    ),
    # Customer
    Kpi(
        "client_retention",
        "Client retention (>3 years)",
        Perspective.CUSTOMER,
        Unit.PERCENT,
        True,
        "Accounts whose first contract is at least three years old at the period's end and "
        "that had an engagement under contract in the twelve months to it, of all accounts "
        "whose first contract is that old.",
        _retention,
        dimensions=ACCOUNT_DIMENSIONS,
        tcp=True,
        records=retention_rows,
    ),
    Kpi(
        "delivery_gap",
        "Delivery gap",
        Perspective.CUSTOMER,
        Unit.POINTS,
        False,
        "Mean of our self-rating less the client's rating, over the ratings in the period.",
        _rating_mean(F("self_rating") - F("client_rating")),
        records=rating_rows,
    ),
    Kpi(
        "client_satisfaction",
        "Client satisfaction",
        Perspective.CUSTOMER,
        Unit.POINTS,
        True,
        "Mean client rating (1–10) over the ratings in the period.",
        _rating_mean("client_rating"),
        records=rating_rows,
    ),
    Kpi(
        "nps",
        "Net promoter score",
        Perspective.CUSTOMER,
        Unit.SCORE,
        True,
        "Promoters (9–10) less detractors (0–6), per hundred answers in the period.",
        _nps,
        records=rating_rows,
    ),
    # Internal
    Kpi(
        "deal_scope_accuracy",
        "Deal scope accuracy",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Engagements completed in the period whose scoping-miss changes stay within the scope "
        "tolerance of the contracted effort, of all completed in the period.",
        _engagement_ratio(scope_rows),
        tcp=True,
        records=scope_rows,
    ),
    Kpi(
        "timeline_adherence",
        "Timeline adherence",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Engagements completed in the period by their contracted end plus the grace days, "
        "of all completed in the period.",
        _engagement_ratio(timeline_rows),
        tcp=True,
        records=timeline_rows,
    ),
    Kpi(
        "win_rate",
        "Win rate",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Engagements won in the period, of those won or lost in it.",
        _engagement_ratio(win_rows),
        records=win_rows,
    ),
    Kpi(
        "win_rate_value",
        "Win rate (value)",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Value won in the period, of the value won or lost in it.",
        _win_value,
        records=win_rows,
    ),
    Kpi(
        "win_rate_partner",
        "Win rate, partner-led",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Win rate of the partner-led engagements closed in the period.",
        _engagement_ratio(partner_win_rows),
        records=partner_win_rows,
    ),
    Kpi(
        "win_rate_direct",
        "Win rate, direct",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Win rate of the direct (not partner-led) engagements closed in the period.",
        _engagement_ratio(direct_win_rows),
        records=direct_win_rows,
    ),
    Kpi(
        "pipeline_growth",
        "Pipeline growth",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Change in open pipeline value from the period's start to its last day.",
        _pipeline,
        records=pipeline_rows,
    ),
    Kpi(
        "poc_success",
        "PoC success",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Successful proofs of concept, of those concluded in the period.",
        _engagement_ratio(poc_success_rows),
        records=poc_success_rows,
    ),
    Kpi(
        "poc_conversion",
        "PoC conversion",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Engagements won, of those with a successful proof of concept closed in the period.",
        _engagement_ratio(poc_conversion_rows),
        records=poc_conversion_rows,
    ),
    Kpi(
        "cross_portfolio",
        "Cross-portfolio deals",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Engagements won in the period with two or more product lines, of all won in it.",
        _engagement_ratio(cross_portfolio_rows),
        records=cross_portfolio_rows,
    ),
    Kpi(
        "discovery_compliance",
        "Discovery compliance",
        Perspective.INTERNAL,
        Unit.PERCENT,
        True,
        "Proposals entered in the period (from the adoption date) with a complete "
        "Failure-Cost Analysis, of all proposals entered. The rule makes it 100%: this is the "
        "proof.",
        _discovery,
        records=discovery_rows,
    ),
    # Learning & growth
    Kpi(
        "delivery_participation",
        "Delivery participation",
        Perspective.LEARNING,
        Unit.PERCENT,
        True,
        "Critical milestones held in the period where the commercial lead contributed, of all "
        "critical milestones held in it.",
        _participation,
        tcp=True,
        records=participation_rows,
    ),
    Kpi(
        "certification_coverage",
        "Certification coverage",
        Perspective.LEARNING,
        Unit.PERCENT,
        True,
        "Commercial staff certified at the period's last day, of all commercial staff then.",
        _coverage("certified"),
        dimensions=(),
        tcp=True,
    ),
    Kpi(
        "certification_on_track",
        "Certification on track",
        Perspective.LEARNING,
        Unit.PERCENT,
        True,
        "Commercial staff on track with their certification at the period's last day.",
        _coverage("on_track"),
        dimensions=(),
    ),
    Kpi(
        "certification_overdue",
        "Certification overdue",
        Perspective.LEARNING,
        Unit.PERCENT,
        False,
        "Commercial staff whose certification is overdue at the period's last day.",
        _coverage("overdue"),
        dimensions=(),
    ),
)

REGISTRY: dict[str, Kpi] = {kpi.key: kpi for kpi in KPIS}
# In the order of the seed's Table 1, then the model's other measures.
TCP_KPIS = tuple(
    REGISTRY[key]
    for key in (
        "deal_scope_accuracy",
        "timeline_adherence",
        "client_retention",
        "revenue_per_account",
        "delivery_participation",
        "certification_coverage",
    )
)


def get(key: str) -> Kpi:
    return REGISTRY[key]
