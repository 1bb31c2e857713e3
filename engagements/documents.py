"""Proposal and QBR documents: what each shows, frozen into a snapshot, then HTML, then PDF.

A document is a list of sections. Each app contributes the sections it knows about from its
AppConfig.ready() (discovery: client context, failure costs, TCO; certification: the team's
certification), so this hub builds a proposal without importing its spokes. A section's
builder reads the database and returns plain, display-ready values (text, numbers as text,
charts as SVG): the snapshot. Rendering is a pure function of the snapshot, so a render
that runs again prints exactly what the first one would have. engagements.pdf turns the
HTML into PDF.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pygal
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncQuarter
from django.template.loader import render_to_string
from django.utils import timezone

from engagements.models import (
    AdoptionStep,
    Document,
    DocumentKind,
    Engagement,
    MetricReading,
    Milestone,
    MilestoneAttendance,
    RevenueEntry,
    ScopeChange,
    ScopeItem,
    SuccessMetric,
    SuccessPlan,
    on_time,
    quarter_label,
    scope_accurate,
)
from tcp.charts import SVG_OPTIONS, chart_style
from tcp.models import OrganisationSettings

# Quarters of history on the QBR's trend charts, the quarter itself included.
QBR_TREND_QUARTERS = 4
# How far past the quarter's end the QBR looks for upcoming milestones.
QBR_UPCOMING_DAYS = 120


@dataclass(frozen=True)
class Context:
    """What every section builder receives."""

    document: Document
    organisation: OrganisationSettings
    today: dt.date
    # Reads that several sections share, made once per document (see once()).
    shared: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, read: Callable[[], Any]) -> Any:
        if key not in self.shared:
            self.shared[key] = read()
        return self.shared[key]

    @property
    def engagement(self) -> Engagement:
        assert self.document.engagement is not None
        return self.document.engagement

    def money(self, value: Decimal | int | float | None) -> str:
        return money(value, self.organisation.currency)


SectionData = dict[str, Any]


@dataclass(frozen=True)
class DocumentSection:
    key: str
    title: str
    order: int
    template: str
    # Returns the section's values, or None when the section has nothing to show.
    build: Callable[[Context], SectionData | None]


DOCUMENT_SECTIONS: dict[str, list[DocumentSection]] = {kind: [] for kind in DocumentKind.values}


def document_section_register(kind: str, section: DocumentSection) -> None:
    """Add a section to every document of `kind` (idempotent: ready() may run twice)."""
    sections = DOCUMENT_SECTIONS[kind]
    if all(s.key != section.key for s in sections):
        sections.append(section)
        sections.sort(key=lambda s: s.order)


# Formatting: the snapshot holds text as the reader will see it --------------------------


def money(value: Decimal | int | float | None, currency: str) -> str:
    if value is None:
        return "—"
    return f"{currency} {Decimal(value):,.0f}"


def day(value: dt.date | None) -> str:
    return f"{value:%-d %b %Y}" if value else "—"


def number(value: Decimal | int | float | None, places: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(value):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct(part: int | Decimal, whole: int | Decimal) -> str:
    if not whole:
        return "no data"
    return f"{Decimal(part) * 100 / Decimal(whole):.0f}%"


def quarter_start(on: dt.date) -> dt.date:
    return dt.date(on.year, (on.month - 1) // 3 * 3 + 1, 1)


def quarter_shift(start: dt.date, quarters: int) -> dt.date:
    months = start.year * 12 + start.month - 1 + quarters * 3
    return dt.date(months // 12, months % 12 + 1, 1)


def quarter_end(start: dt.date) -> dt.date:
    return quarter_shift(start, 1) - dt.timedelta(days=1)


UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def svg_data_uri(svg: str) -> str:
    """An SVG as an image source the PDF renderer reads without fetching anything.

    pygal names each chart with a random id; it is replaced by one derived from the chart
    itself, so the same figures always give the same document.
    """
    stable = hashlib.sha256(UUID_PATTERN.sub("", svg).encode()).hexdigest()[:32]
    svg = UUID_PATTERN.sub(str(uuid.UUID(stable)), svg)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


# Snapshot, HTML, PDF ----------------------------------------------------------------------


def snapshot_build(document: Document, *, today: dt.date | None = None) -> dict[str, Any]:
    """Read everything the document shows. Precondition: `document` has its account (and
    engagement, for a proposal) loaded."""
    context = Context(
        document=document,
        organisation=OrganisationSettings.load(),
        today=today or timezone.localdate(),
    )
    sections = []
    for section in DOCUMENT_SECTIONS[document.kind]:
        data = section.build(context)
        if data is not None:
            sections.append(
                {
                    "key": section.key,
                    "title": section.title,
                    "template": section.template,
                    "data": data,
                }
            )
    account = document.account
    if document.kind == DocumentKind.PROPOSAL:
        title = f"Proposal: {context.engagement.name}"
        subtitle = f"for {account.name}"
    else:
        assert document.period_start is not None
        title = f"Quarterly business review, {quarter_label(document.period_start)}"
        subtitle = (
            f"{account.name} · {day(document.period_start)} to "
            f"{day(quarter_end(document.period_start))}"
        )
    return {
        "kind": document.kind,
        "title": title,
        "subtitle": subtitle,
        "account": account.name,
        "version": document.version,
        "prepared_on": day(context.today),
        "prepared_by": str(document.requested_by) if document.requested_by else "Parity",
        "toc": document.kind == DocumentKind.PROPOSAL,
        "sections": sections,
    }


def document_html(snapshot: dict[str, Any]) -> str:
    """The document as HTML, from its snapshot alone."""
    return render_to_string("engagements/documents/document.html", snapshot)


# Charts ------------------------------------------------------------------------------------

CHART_STYLE = chart_style(font_size=12)


def _chart_options(**extra: Any) -> dict[str, Any]:
    return {
        "style": CHART_STYLE,
        "width": 720,
        "height": 300,
        **SVG_OPTIONS,
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "show_x_guides": False,
        **extra,
    }


def rates_chart(labels: list[str], series: dict[str, list[float | None]]) -> str:
    chart = pygal.Bar(
        **_chart_options(range=(0, 100), value_formatter=lambda v: f"{v:.0f}%"),
        title="Delivery over the last quarters (%)",
        print_values=True,
        print_values_position="top",
        no_data_text="No completed work or critical milestones in these quarters",
    )
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return str(chart.render(is_unicode=True))


def revenue_chart(labels: list[str], values: list[float], currency: str) -> str:
    chart = pygal.Bar(
        **_chart_options(value_formatter=lambda v: f"{v:,.0f}", show_legend=False),
        title=f"Revenue recognised ({currency})",
        print_values=True,
        print_values_position="top",
        no_data_text="No revenue recorded in these quarters",
    )
    chart.x_labels = labels
    chart.add("Revenue", values)
    return str(chart.render(is_unicode=True))


# Proposal sections owned by the engagement -------------------------------------------------


def _proposal_scope(context: Context) -> SectionData:
    engagement = context.engagement
    items = list(ScopeItem.objects.filter(engagement=engagement).order_by("id"))
    total = sum((item.estimated_days for item in items), Decimal(0))
    return {
        "items": [
            {"name": item.title, "days": number(item.estimated_days), "note": item.note}
            for item in items
        ],
        "total": number(engagement.contracted_effort_days or total),
        "value": context.money(engagement.value),
        "period": (
            f"{day(engagement.contracted_start)} to {day(engagement.contracted_end)}"
            if engagement.contracted_start
            else "to be agreed"
        ),
        "frozen": engagement.scope_is_frozen,
    }


def _proposal_golden_thread(context: Context) -> SectionData:
    plan = SuccessPlan.objects.filter(engagement=context.engagement).first()
    if plan is None:
        return {"outcome": "", "steps": [], "metrics": []}
    steps = plan.steps.order_by("due_on", "id")
    metrics = plan.metrics.order_by("id")
    return {
        "outcome": plan.business_outcome,
        "steps": [
            {"description": s.description, "owner": s.owner, "due": day(s.due_on)} for s in steps
        ],
        "metrics": [
            {
                "name": m.name,
                "baseline": f"{number(m.baseline, 2)} {m.unit}".strip(),
                "target": f"{number(m.target, 2)} {m.unit}".strip(),
            }
            for m in metrics
        ],
    }


def _proposal_milestones(context: Context) -> SectionData:
    milestones = Milestone.objects.filter(engagement=context.engagement).order_by("planned_on")
    return {
        "milestones": [
            {
                "name": m.name,
                "kind": m.kind_label,
                "planned": day(m.planned_on),
                "critical": m.critical,
            }
            for m in milestones
        ]
    }


# QBR sections ---------------------------------------------------------------------------


def _qbr_window(context: Context) -> tuple[dt.date, dt.date, dt.date]:
    """(first quarter of the trend, the quarter's start, the quarter's last day)."""
    start = context.document.period_start
    assert start is not None
    return quarter_shift(start, 1 - QBR_TREND_QUARTERS), start, quarter_end(start)


def _by_quarter(rows: Any) -> dict[dt.date, dict[str, Any]]:
    found: dict[dt.date, dict[str, Any]] = {}
    for row in rows:
        quarter = row.pop("quarter")
        found[quarter.date() if isinstance(quarter, dt.datetime) else quarter] = row
    return found


def _qbr_scorecard(context: Context) -> SectionData:
    """The account's delivery figures for the quarter and the quarters before it, each KPI
    by its scorecard definition (scope accuracy, timeline adherence, the lead at critical
    milestones, revenue), in one grouped query per source."""
    first, start, end = _qbr_window(context)
    account = context.document.account
    organisation = context.organisation
    completed = (
        Engagement.objects.filter(account=account, completed_on__range=(first, end))
        .with_scope()
        .annotate(quarter=TruncQuarter("completed_on"))
        .values("quarter")
        .annotate(
            completed=Count("id"),
            on_time=Count("id", filter=on_time(organisation.timeline_grace_days)),
            accurate=Count(
                "id",
                filter=scope_accurate(organisation.scope_tolerance_pct)
                & Q(contracted_effort_days__gt=0),
            ),
        )
        .order_by()
    )
    critical = (
        Milestone.objects.filter(
            engagement__account=account, critical=True, held_on__range=(first, end)
        )
        .with_lead_contribution()
        .annotate(quarter=TruncQuarter("held_on"))
        .values("quarter")
        .annotate(held=Count("id"), attended=Count("id", filter=Q(lead_contributed=True)))
        .order_by()
    )
    money_field = DecimalField(max_digits=16, decimal_places=2)
    revenue = (
        RevenueEntry.objects.filter(engagement__account=account, month__range=(first, end))
        .annotate(quarter=TruncQuarter("month"))
        .values("quarter")
        .annotate(
            revenue=Coalesce(Sum("revenue"), Decimal(0), output_field=money_field),
            cost=Coalesce(Sum("cost"), Decimal(0), output_field=money_field),
        )
        .order_by()
    )
    by_completed = _by_quarter(completed)
    by_critical = _by_quarter(critical)
    by_revenue = _by_quarter(revenue)

    quarters = [quarter_shift(first, i) for i in range(QBR_TREND_QUARTERS)]
    labels = [quarter_label(q) for q in quarters]

    def rate(found: dict[dt.date, dict[str, Any]], q: dt.date, part: str, whole: str) -> Any:
        row = found.get(q) or {}
        return (row.get(part, 0), row.get(whole, 0))

    rows = []
    series: dict[str, list[float | None]] = {
        "Scope accuracy": [],
        "Timeline adherence": [],
        "Lead at critical milestones": [],
    }
    for q in quarters:
        accurate, done = rate(by_completed, q, "accurate", "completed")
        in_time, _ = rate(by_completed, q, "on_time", "completed")
        attended, held = rate(by_critical, q, "attended", "held")
        money_row = by_revenue.get(q) or {}
        for name, (part, whole) in zip(
            series, ((accurate, done), (in_time, done), (attended, held)), strict=True
        ):
            series[name].append(float(part * 100 / whole) if whole else None)
        rows.append(
            {
                "quarter": quarter_label(q),
                "completed": done,
                "scope_accuracy": pct(accurate, done),
                "scope_accuracy_detail": f"{accurate} of {done}",
                "timeline_adherence": pct(in_time, done),
                "timeline_adherence_detail": f"{in_time} of {done}",
                "participation": pct(attended, held),
                "participation_detail": f"{attended} of {held}",
                "revenue": context.money(money_row.get("revenue", 0)),
                "profit": context.money(
                    money_row.get("revenue", Decimal(0)) - money_row.get("cost", Decimal(0))
                ),
                "current": q == start,
            }
        )
    revenue_values = [float((by_revenue.get(q) or {}).get("revenue", 0)) for q in quarters]
    return {
        "quarter": rows[-1],
        "rows": rows,
        "rates_chart": svg_data_uri(rates_chart(labels, series)),
        "revenue_chart": svg_data_uri(revenue_chart(labels, revenue_values, organisation.currency)),
        "tolerance": number(organisation.scope_tolerance_pct),
        "grace_days": organisation.timeline_grace_days,
    }


def _qbr_success_metrics(context: Context) -> SectionData:
    _, _, end = _qbr_window(context)
    latest = MetricReading.objects.filter(metric=OuterRef("pk"), on__lte=end).order_by("-on")
    metrics = (
        SuccessMetric.objects.filter(plan__engagement__account=context.document.account)
        .filter(plan__engagement__contract_signed_on__lte=end)
        .exclude(plan__engagement__stage__in=("lost", "cancelled"))
        .select_related("plan__engagement")
        .annotate(
            current=latest.values("value")[:1],
            read_on=latest.values("on")[:1],
        )
        .order_by("plan__engagement__name", "id")
    )
    rows = []
    for metric in metrics:
        progress = metric.progress_pct(metric.current)
        rows.append(
            {
                "engagement": metric.plan.engagement.name,
                "name": metric.name,
                "baseline": f"{number(metric.baseline, 2)} {metric.unit}".strip(),
                "target": f"{number(metric.target, 2)} {metric.unit}".strip(),
                "current": (
                    f"{number(metric.current, 2)} {metric.unit}".strip()
                    if metric.current is not None
                    else "not read yet"
                ),
                "read_on": day(metric.read_on),
                "progress": f"{progress:.0f}%" if progress is not None else "—",
                "progress_value": max(0, min(100, int(progress))) if progress is not None else 0,
            }
        )
    return {"metrics": rows}


def _qbr_milestones_held(context: Context) -> SectionData:
    _, start, end = _qbr_window(context)
    lead_attendance = MilestoneAttendance.objects.filter(
        milestone=OuterRef("pk"), person=OuterRef("engagement__commercial_lead")
    )
    milestones = (
        Milestone.objects.filter(engagement__account=context.document.account)
        .filter(held_on__range=(start, end))
        .select_related("engagement__commercial_lead")
        .with_lead_contribution()
        .annotate(
            present=Count("attendance", filter=~Q(attendance__mode="absent")),
            lead_mode=lead_attendance.values("mode")[:1],
            recorded=Exists(MilestoneAttendance.objects.filter(milestone=OuterRef("pk"))),
        )
        .order_by("held_on", "id")
    )
    rows = []
    for m in milestones:
        if not m.recorded:
            lead = "not recorded"
        elif m.lead_mode:
            lead = {"contributed": "contributed", "observed": "observed"}.get(m.lead_mode, "absent")
        else:
            lead = "absent"
        rows.append(
            {
                "engagement": m.engagement.name,
                "name": m.name,
                "held": day(m.held_on),
                "critical": m.critical,
                "lead": f"{m.engagement.commercial_lead}: {lead}",
                "flag": m.critical and not m.lead_contributed,  # type: ignore[attr-defined]
                "present": m.present,
            }
        )
    return {"milestones": rows}


def _qbr_scope_changes(context: Context) -> SectionData:
    _, start, end = _qbr_window(context)
    changes = (
        ScopeChange.objects.filter(engagement__account=context.document.account)
        .filter(approved_on__range=(start, end))
        .select_related("engagement")
        .order_by("approved_on", "id")
    )
    return {
        "changes": [
            {
                "engagement": c.engagement.name,
                "on": day(c.approved_on),
                "days": f"{c.effort_delta_days:+,.1f}".rstrip("0").rstrip("."),
                "cause": c.cause_label,
                "note": c.note,
            }
            for c in changes
        ]
    }


def _qbr_upcoming(context: Context) -> SectionData:
    _, _, end = _qbr_window(context)
    upcoming = (
        Milestone.objects.filter(engagement__account=context.document.account)
        .filter(
            held_on__isnull=True,
            planned_on__gt=end,
            planned_on__lte=end + dt.timedelta(days=QBR_UPCOMING_DAYS),
        )
        .exclude(engagement__stage__in=("lost", "cancelled", "completed"))
        .select_related("engagement")
        .order_by("planned_on", "id")
    )
    return {
        "days": QBR_UPCOMING_DAYS,
        "milestones": [
            {
                "engagement": m.engagement.name,
                "name": m.name,
                "planned": day(m.planned_on),
                "critical": m.critical,
            }
            for m in upcoming
        ],
    }


def _qbr_risks(context: Context) -> SectionData:
    """Risks: deliveries past their contracted end, scope drifting past the tolerance,
    critical milestones held without the lead. Open actions: adoption steps not done."""
    _, start, end = _qbr_window(context)
    organisation = context.organisation
    account = context.document.account
    running = (
        Engagement.objects.filter(account=account, stage__in=("contracted", "delivery"))
        .filter(contract_signed_on__lte=end)
        .with_scope()
        .order_by("name")
    )
    risks = []
    for engagement in running:
        timeline = engagement.timeline(organisation.timeline_grace_days, today=end)
        if timeline.days_late:
            risks.append(
                f"{engagement.name}: {timeline.days_late} days past the contracted end "
                f"({day(engagement.contracted_end)})."
            )
        drift = engagement.scope_drift(organisation.scope_tolerance_pct)
        if drift.accurate is False:
            risks.append(f"{engagement.name}: {drift}.")
    missed = (
        Milestone.objects.filter(engagement__account=account, held_on__range=(start, end))
        .missed_by_lead()
        .select_related("engagement__commercial_lead")
        .order_by("held_on")
    )
    for m in missed:
        risks.append(
            f"{m.engagement.name}: the {m.kind_label.lower()} on {day(m.held_on)} was held "
            f"without {m.engagement.commercial_lead}, the commercial lead."
        )
    steps = (
        AdoptionStep.objects.filter(plan__engagement__account=account, done_on__isnull=True)
        .filter(due_on__lte=end + dt.timedelta(days=QBR_UPCOMING_DAYS))
        .exclude(plan__engagement__stage__in=("lost", "cancelled"))
        .select_related("plan__engagement")
        .order_by("due_on", "id")
    )
    actions = [
        {
            "engagement": s.plan.engagement.name,
            "description": s.description,
            "owner": s.owner,
            "due": day(s.due_on),
            "overdue": s.due_on <= end,
        }
        for s in steps
    ]
    return {"risks": risks, "actions": actions}


for _kind, _section in (
    (
        DocumentKind.PROPOSAL,
        DocumentSection(
            "scope", "Scope and effort", 40, "engagements/documents/_scope.html", _proposal_scope
        ),
    ),
    (
        DocumentKind.PROPOSAL,
        DocumentSection(
            "golden-thread",
            "Outcome, adoption and success measures",
            60,
            "engagements/documents/_golden_thread.html",
            _proposal_golden_thread,
        ),
    ),
    (
        DocumentKind.PROPOSAL,
        DocumentSection(
            "milestones",
            "Milestone plan",
            80,
            "engagements/documents/_milestone_plan.html",
            _proposal_milestones,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "scorecard",
            "Scorecard for the quarter",
            10,
            "engagements/documents/_qbr_scorecard.html",
            _qbr_scorecard,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "success-metrics",
            "Progress on the success metrics",
            20,
            "engagements/documents/_qbr_metrics.html",
            _qbr_success_metrics,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "milestones-held",
            "Milestones held and who attended",
            30,
            "engagements/documents/_qbr_milestones.html",
            _qbr_milestones_held,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "scope-changes",
            "Scope changes",
            40,
            "engagements/documents/_qbr_scope_changes.html",
            _qbr_scope_changes,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "upcoming",
            "Coming up",
            50,
            "engagements/documents/_qbr_upcoming.html",
            _qbr_upcoming,
        ),
    ),
    (
        DocumentKind.QBR,
        DocumentSection(
            "risks",
            "Risks and open actions",
            60,
            "engagements/documents/_qbr_risks.html",
            _qbr_risks,
        ),
    ),
):
    document_section_register(_kind, _section)
