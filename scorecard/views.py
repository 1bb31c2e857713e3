"""The balanced scorecard, one KPI's page, the TCP impact view and targets.

The scorecard and KPI pages read stored snapshots only, so they cost the same number of
queries however large the organisation is. Leadership and administrators see the whole
organisation; an account manager sees the same pages sliced to the engagements they lead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, QuerySet, When
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.styles import Font

from engagements.models import Engagement
from scorecard import charts, services
from scorecard.forms import PeriodForm, TargetForm, WindowsForm, requested_period
from scorecard.kpis import KPIS, REGISTRY, Context, Dimension, Kpi, Perspective
from scorecard.models import KpiTarget
from scorecard.periods import Period, PeriodType
from tcp.http import AuthedRequest
from tcp.models import Role, User
from tcp.pagecache import remembered, reusable

PAGE_SIZE = 25
PANEL = "scorecard/kpi_detail.html#panel"
TREND_LENGTH = 12


@dataclass(frozen=True)
class Slice:
    """The part of the organisation a person's scorecard covers."""

    dimension: str
    value: str
    label: str

    @property
    def everything(self) -> bool:
        return not self.dimension


def scorecard_slice(user: User) -> Slice:
    """Leadership and administrators: everything. An account manager: the engagements they
    lead (the commercial-lead breakdown of every KPI). Anyone else: not found."""
    if user.sees_everything:
        return Slice("", "", "Whole organisation")
    if user.has_role(Role.ACCOUNT_MANAGER):
        return Slice(Dimension.COMMERCIAL_LEAD, str(user.pk), f"Engagements led by {user}")
    raise Http404


def _kpi(key: str) -> Kpi:
    kpi = REGISTRY.get(key)
    if kpi is None:
        raise Http404
    return kpi


Cell = str | Decimal | None
EXPORTS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _export(fmt: str, name: str, header: list[str], rows: list[list[Cell]]) -> HttpResponse:
    """A table as a download: CSV, or an XLSX workbook whose figures are numbers (so a
    spreadsheet can sum and chart them), not text."""
    if fmt == "xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = name[:31]  # the longest sheet name Excel accepts
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for column, title in zip(sheet.columns, header, strict=False):
            width = max([len(title), *(len(_plain_cell(c.value)) for c in column)])
            sheet.column_dimensions[column[0].column_letter].width = min(60, width + 2)
        sheet.freeze_panes = "A2"
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.writer(response)
        writer.writerow(header)
        writer.writerows([[_plain_cell(cell) for cell in row] for row in rows])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _plain_cell(value: object) -> str:
    if isinstance(value, Decimal):
        return _plain(value)
    return "" if value is None else str(value)


def _wanted_export(request: AuthedRequest) -> str:
    fmt = request.GET.get("format", "")
    return fmt if fmt in EXPORTS else ""


def _svg(svg: str) -> HttpResponse:
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response


def _plain(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


# The scorecard --------------------------------------------------------------------------


def _from_snapshots(
    request: AuthedRequest, part: Slice, render: Callable[[], SafeString]
) -> SafeString:
    """A part of a page drawn from snapshots and targets alone (the board, a KPI's panel),
    rendered by `render`, or from the cache while the data stands still (tcp.pagecache).

    It holds nothing of the person beyond their slice (no form token, no nonce), so one
    rendering serves everyone with that slice, page and query: a second person of
    leadership opens the board from the first one's rendering."""
    part_key = (
        f"{timezone.localdate()}|{part.dimension}|{part.value}|"
        f"{request.path}|{request.GET.urlencode()}"
    )
    html = remembered(request, "scorecard-part", part_key, render)
    # What render_to_string gave (a SafeString pickles as itself); anything else is not
    # ours to show unescaped, and is rendered afresh.
    return html if isinstance(html, SafeString) else render()


def _board(request: AuthedRequest, part: Slice) -> SafeString:
    """The board (period switcher, perspectives, KPI lines)."""

    def draw() -> SafeString:
        today = timezone.localdate()
        form = PeriodForm(request.GET or None, today=today)
        return render_to_string(
            "scorecard/scorecard.html#board", _board_context(part, form, today), request
        )

    return _from_snapshots(request, part, draw)


def _board_context(part: Slice, form: PeriodForm, today: dt.date) -> dict[str, object]:
    period = form.period
    breakdown = form.dimension if part.everything else ""
    lines = services.scorecard_lines(
        period=period,
        slice_dimension=part.dimension,
        slice_value=part.value,
        breakdown=breakdown,
    )
    perspectives = [
        (label, [line for line in lines if line.kpi.perspective == value])
        for value, label in Perspective.choices
    ]
    query = {"period_type": period.kind, "breakdown": breakdown}
    return {
        "form": form,
        "period": period,
        "previous": {**query, "start": period.previous.start.isoformat()},
        "next": {**query, "start": (period.end + dt.timedelta(days=1)).isoformat()},
        "has_next": period.end < today,
        "perspectives": perspectives,
        # The organisation's own figures exist for every computed period; a slice (one
        # person's accounts) may have none simply because nothing happened in it.
        "computed": not part.everything or any(line.figure for line in lines),
        "breakdown": breakdown,
        "breakdown_label": Dimension(breakdown).label if breakdown else "",
        "slice": part,
    }


@require_GET
@reusable
def scorecard(request: AuthedRequest) -> HttpResponse:
    part = scorecard_slice(request.user)
    fmt = _wanted_export(request)
    if fmt:
        form = PeriodForm(request.GET or None, today=timezone.localdate())
        return _scorecard_export(part, form, fmt)
    board = _board(request, part)
    if request.htmx:
        return HttpResponse(board)
    context = {
        "board": board,
        "period": requested_period(request.GET, timezone.localdate()),
        "slice": part,
        "may_edit_targets": request.user.sees_everything,
        "may_recompute": request.user.is_administrator,
    }
    return render(request, "scorecard/scorecard.html", context)


def _scorecard_export(part: Slice, form: PeriodForm, fmt: str) -> HttpResponse:
    period = form.period
    lines = services.scorecard_lines(
        period=period,
        slice_dimension=part.dimension,
        slice_value=part.value,
        breakdown=form.dimension if part.everything else "",
    )
    return _export(
        fmt,
        f"scorecard-{period.kind}-{period.start}",
        ["perspective", "kpi", "value", "numerator", "denominator", "target", "status"],
        [
            [
                Perspective(line.kpi.perspective).label,
                line.kpi.name,
                line.figure.value if line.figure else None,
                line.figure.numerator if line.figure else None,
                line.figure.denominator if line.figure else None,
                line.target.target if line.target else None,
                line.status or "",
            ]
            for line in lines
        ],
    )


@require_GET
@reusable
def sparkline(request: AuthedRequest, key: str) -> HttpResponse:
    part = scorecard_slice(request.user)
    kpi = _kpi(key)
    form = PeriodForm(request.GET or None, today=timezone.localdate())
    periods = services.recent_periods(form.period.kind, form.period, count=8)
    trend = services.kpi_trend(
        kpi=kpi, periods=periods, slice_dimension=part.dimension, slice_value=part.value
    )
    return _svg(charts.sparkline(kpi, [f.value if f else None for _, f in trend]))


# One KPI --------------------------------------------------------------------------------


def _kpi_context(request: AuthedRequest, kpi: Kpi) -> dict[str, object]:
    part = scorecard_slice(request.user)
    form = PeriodForm(request.GET or None, today=timezone.localdate())
    period = form.period
    dimension = form.dimension or (kpi.dimensions[0] if kpi.dimensions else "")
    if not part.everything:
        dimension = ""  # one person's slice is itself a breakdown; it has no finer one
    periods = services.recent_periods(period.kind, period, count=TREND_LENGTH)
    trend = services.kpi_trend(
        kpi=kpi, periods=periods, slice_dimension=part.dimension, slice_value=part.value
    )
    breakdown = (
        services.kpi_breakdown(kpi=kpi, period=period, dimension=dimension)
        if (dimension in kpi.dimensions)
        else []
    )
    return {
        "kpi": kpi,
        "form": form,
        "period": period,
        "slice": part,
        "trend": trend,
        "dimension": dimension,
        "dimension_label": Dimension(dimension).label if dimension else "",
        "breakdown": breakdown,
        "dimensions": [(d, Dimension(d).label) for d in kpi.dimensions],
        # Not kpi.records in the template: a template calls what it is given.
        "has_records": kpi.records is not None,
    }


def _rows_behind(request: AuthedRequest, kpi: Kpi, period: Period) -> QuerySet[Engagement]:
    """The engagements a KPI counts in `period` that the person may see, those in its
    numerator first. The numerator's condition is asked of the KPI's own rows, since it may
    name what they are annotated with (a scope KPI's missed days, say)."""
    assert kpi.records is not None
    qs, numerator = kpi.records(period, Context.load())
    return (
        qs.annotate(in_numerator=Case(When(numerator, then=True), default=False))
        .filter(pk__in=Engagement.objects.visible_to(request.user).values("pk"))
        .select_related("account", "commercial_lead")
        .order_by("-in_numerator", "account__name", "name", "pk")
    )


def _engagements_behind(
    request: AuthedRequest, kpi: Kpi, context: dict[str, object]
) -> tuple[list[Engagement] | None, object]:
    if kpi.records is None:
        return None, None
    qs = _rows_behind(request, kpi, context["period"])  # type: ignore[arg-type]
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return page.object_list, page  # type: ignore[return-value]


def _kpi_page(request: AuthedRequest, kpi: Kpi, part: Slice, panel: SafeString) -> HttpResponse:
    period = requested_period(request.GET, timezone.localdate())
    context = {"kpi": kpi, "period": period, "slice": part, "panel": panel}
    return render(request, "scorecard/kpi_detail.html", context)


@require_GET
@reusable
def kpi_detail(request: AuthedRequest, key: str) -> HttpResponse:
    kpi = _kpi(key)
    part = scorecard_slice(request.user)
    fmt = _wanted_export(request)
    if fmt:
        context = _kpi_context(request, kpi)
        return _kpi_export(request, kpi, context, fmt, request.GET.get("table", "trend"))
    panel = _from_snapshots(
        request,
        part,
        lambda: render_to_string(PANEL, _kpi_context(request, kpi), request),
    )
    if request.htmx:
        return HttpResponse(panel)
    return _kpi_page(request, kpi, part, panel)


@require_GET
def kpi_engagements(request: AuthedRequest, key: str) -> HttpResponse:
    """The engagements behind a KPI's figures, worked out from today's data.

    The KPI page reads only snapshots and fetches this list after it has shown; without
    htmx (or when someone follows the link) this is the whole KPI page with the list in it.
    """
    kpi = _kpi(key)
    if kpi.records is None:
        raise Http404
    context = _kpi_context(request, kpi)
    _, context["page"] = _engagements_behind(request, kpi, context)
    if request.htmx:
        return render(request, "scorecard/kpi_detail.html#engagements", context)
    panel = render_to_string(PANEL, context, request)
    return _kpi_page(request, kpi, scorecard_slice(request.user), panel)


def _kpi_export(
    request: AuthedRequest, kpi: Kpi, context: dict[str, object], fmt: str, table: str
) -> HttpResponse:
    period = context["period"]
    name = f"{kpi.key}-{period.kind}-{period.start}"  # type: ignore[attr-defined]
    header = ["value", "numerator", "denominator"]
    rows: list[list[Cell]]
    if table == "breakdown":
        rows = [
            [label, f.value, f.numerator, f.denominator]
            for _, label, f in context["breakdown"]  # type: ignore[attr-defined]
        ]
        dimension = str(context["dimension"])
        return _export(fmt, f"{name}-{dimension}", [dimension, *header], rows)
    if table == "engagements":
        if kpi.records is None:
            raise Http404
        rows = [
            [e.name, e.account.name, str(e.commercial_lead), "yes" if e.in_numerator else "no"]  # type: ignore[attr-defined]
            for e in _rows_behind(request, kpi, period)  # type: ignore[arg-type]
        ]
        return _export(
            fmt,
            f"{name}-engagements",
            ["engagement", "account", "commercial lead", "in numerator"],
            rows,
        )
    rows = [
        [p.label, f.value, f.numerator, f.denominator] if f else [p.label, None, None, None]
        for p, f in context["trend"]  # type: ignore[attr-defined]
    ]
    return _export(fmt, f"{name}-trend", ["period", *header], rows)


@require_GET
@reusable
def kpi_trend_chart(request: AuthedRequest, key: str) -> HttpResponse:
    kpi = _kpi(key)
    context = _kpi_context(request, kpi)
    points = [(p.label, f.value if f else None) for p, f in context["trend"]]  # type: ignore[attr-defined]
    return _svg(charts.trend_chart(kpi, points))


@require_GET
@reusable
def kpi_breakdown_chart(request: AuthedRequest, key: str) -> HttpResponse:
    kpi = _kpi(key)
    context = _kpi_context(request, kpi)
    rows = [(label, f.value) for _, label, f in context["breakdown"]]  # type: ignore[attr-defined]
    return _svg(charts.breakdown_chart(kpi, rows))


# TCP impact -------------------------------------------------------------------------------


def _impact(request: AuthedRequest) -> tuple[WindowsForm, list[services.ImpactLine]]:
    if not request.user.sees_everything:
        raise Http404
    pre, post = services.default_windows()
    defaults = {
        "pre_start": pre.start,
        "pre_end": pre.end,
        "post_start": post.start,
        "post_end": post.end,
    }
    # Empty fields show the defaults they stand for.
    data = {k: v.isoformat() for k, v in defaults.items()} | {
        k: v for k, v in request.GET.items() if v
    }
    form = WindowsForm(data)
    pre, post = form.windows()
    return form, services.tcp_impact(pre=pre, post=post)


@require_GET
@reusable
def impact(request: AuthedRequest) -> HttpResponse:
    form, lines = _impact(request)
    pre, post = form.windows()
    rows = [
        {
            "key": line.kpi.key,
            "name": line.kpi.name,
            "kpi": line.kpi,
            "pre": charts.format_value(line.kpi, line.pre.value if line.pre else None),
            "post": charts.format_value(line.kpi, line.post.value if line.post else None),
            "change": charts.format_change(line.kpi, line.change),
            "pre_figure": line.pre,
            "post_figure": line.post,
        }
        for line in lines
    ]
    fmt = _wanted_export(request)
    if fmt:
        return _export(
            fmt,
            f"tcp-impact-{pre.start}-{post.start}",
            ["kpi", "before", "after", "change", "before (value)", "after (value)"],
            [
                [
                    line.kpi.name,
                    charts.format_value(line.kpi, line.pre.value if line.pre else None),
                    charts.format_value(line.kpi, line.post.value if line.post else None),
                    charts.format_change(line.kpi, line.change),
                    line.pre.value if line.pre else None,
                    line.post.value if line.post else None,
                ]
                for line in lines
            ],
        )
    return render(
        request,
        "scorecard/impact.html",
        {"form": form, "rows": rows, "pre": pre, "post": post},
    )


@require_GET
@reusable
def impact_chart(request: AuthedRequest) -> HttpResponse:
    _, lines = _impact(request)
    rows = [
        (
            line.kpi.name,
            line.pre.value if line.pre else None,
            line.post.value if line.post else None,
        )
        for line in lines
        if line.kpi.unit == "percent"
    ]
    return _svg(charts.impact_chart(rows))


# Targets --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def targets(request: AuthedRequest) -> HttpResponse:
    """Leadership sets what each KPI should reach, per type of period."""
    if not request.user.sees_everything:
        raise Http404
    kind = request.POST.get("period_type") or request.GET.get("period_type") or "quarter"
    if kind not in PeriodType.values:
        kind = PeriodType.QUARTER
    failed: TargetForm | None = None
    if request.method == "POST":
        form = TargetForm(request.POST, auto_id=f"id_{request.POST.get('kpi', '')}_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.target_set(
                    kpi=data["kpi"],
                    period_type=data["period_type"],
                    target=data["target"],
                    amber_margin=data["amber_margin"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Target saved for {REGISTRY[data['kpi']].name}.")
                return redirect(f"{reverse('scorecard:targets')}?period_type={kind}")
        failed = form
    stored = {t.kpi: t for t in KpiTarget.objects.filter(period_type=kind)}
    rows = []
    for kpi in KPIS:
        if failed is not None and failed.data.get("kpi") == kpi.key:
            form = failed
        else:
            target = stored.get(kpi.key)
            form = TargetForm(
                initial={
                    "kpi": kpi.key,
                    "period_type": kind,
                    "target": target.target if target else None,
                    "amber_margin": target.amber_margin if target else Decimal(5),
                },
                auto_id=f"id_{kpi.key}_%s",
            )
        rows.append((kpi, form))
    status = 400 if failed is not None else 200
    return render(
        request,
        "scorecard/targets.html",
        {"rows": rows, "period_type": kind, "period_types": PeriodType.choices},
        status=status,
    )


# Recompute now ----------------------------------------------------------------------------


@require_POST
def recompute(request: AuthedRequest) -> HttpResponse:
    """Administrators: recompute every period now, in a worker."""
    if not request.user.is_administrator:
        raise Http404
    from scorecard.tasks import scorecard_recompute_now

    services.recompute_progress_start()
    transaction.on_commit(scorecard_recompute_now.delay)
    messages.info(request, "Recomputing the scorecard; the figures update when it finishes.")
    if request.htmx:
        return render(request, "scorecard/scorecard.html#progress", _progress_context())
    return redirect("scorecard:scorecard")


def _progress_context() -> dict[str, object]:
    return {"progress": services.recompute_progress()}


@require_GET
def recompute_status(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_administrator:
        raise Http404
    return render(request, "scorecard/scorecard.html#progress", _progress_context())
