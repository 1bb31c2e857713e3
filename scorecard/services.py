"""Rolling KPIs up into snapshots, and reading them back for the pages."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min, Q
from django.db.models.functions import Least
from django.utils import timezone

from certification.models import Enrollment
from engagements.models import ClientRating, Engagement, Milestone, RevenueEntry, StageChange
from scorecard import rollup
from scorecard.kpis import KPIS, REGISTRY, TCP_KPIS, ZERO, Context, Dimension, Kpi
from scorecard.models import KpiSnapshot, KpiTarget, RollupState
from scorecard.periods import Period, PeriodType, periods_between
from tcp.models import User
from tcp.services import audit_record

# KPIs measured at the period's last day: a change on one day moves every later period.
STOCK_KPIS = rollup.STOCK


def _lock() -> None:
    """One writer of snapshots at a time; a second worker waits, then finds the rows it
    would write already there and writes nothing."""
    key = zlib.crc32(b"scorecard:snapshots")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def snapshots_recompute_many(
    *,
    work: dict[Period, set[str] | None],
    progress: Callable[[str], None] | None = None,
    changed: Iterable[dt.date | None] = (),
    rebuild: bool = False,
) -> int:
    """Recompute the snapshots of the KPIs `work` names for each period ({period: KPI keys,
    None for all}; months, quarters and years), replacing what was stored, in a few grouped
    queries (see rollup.py). Rows whose figures did not change are left as they were, so
    running it twice writes nothing the second time. Returns rows written or removed.

    `changed` are the input changes the caller took from the queue (InputChange) in this
    transaction; with `rebuild` the running totals are regrouped from all history.
    """
    for period, keys in work.items():
        if period.kind not in PeriodType.values:
            raise ValidationError({"period": "Snapshots are kept for months, quarters and years."})
        if keys is not None and not set(keys) <= REGISTRY.keys():
            raise ValidationError({"kpi": "There is no such KPI."})
    _lock()
    # Even with nothing to recompute: the changes taken leave the queue with this run.
    _settle_stock_months(changed=changed, rebuild=rebuild)
    if not work:
        return 0
    rollup.compute(work, Context.load(), progress=progress)
    return rollup.write(timezone.now())


def _settle_stock_months(*, changed: Iterable[dt.date | None], rebuild: bool) -> None:
    """Bring the monthly running totals (StockMonth) up to date with what is committed: the
    months of the changes taken and of those still queued are regrouped (a change not yet
    refreshed must not leave its months stale for a recompute that does not take the
    queue), or every month on a rebuild, a change to every period, or before the first
    build. Regrouping a month twice gives the same rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT day FROM scorecard_inputchange")
        days = {row[0] for row in cursor.fetchall()} | set(changed)
    built = RollupState.objects.filter(pk=1, stock_months_built=True).exists()
    if rebuild or not built or None in days:
        rollup.settle_stock_months(None)
        RollupState.objects.update_or_create(pk=1, defaults={"stock_months_built": True})
    else:
        rollup.settle_stock_months(d for d in days if d is not None)


def snapshots_recompute(*, period: Period, keys: Iterable[str] | None = None) -> int:
    """Recompute the snapshots of one period for the KPIs `keys` (all when None)."""
    return snapshots_recompute_many(work={period: None if keys is None else set(keys)})


def data_span() -> tuple[dt.date, dt.date] | None:
    """The first and last day any KPI input falls on (today at the latest). Ratings,
    milestones, stage changes and enrolments carry dates of their own, which nothing ties
    to their engagement's: one dated before every engagement still has its periods."""
    firsts = [
        Engagement.objects.aggregate(
            first=Min(
                Least(
                    "opened_on",
                    "contract_signed_on",
                    "completed_on",
                    "lost_on",
                    "cancelled_on",
                    "poc_concluded_on",
                )
            )
        )["first"],
        RevenueEntry.objects.aggregate(first=Min("month"))["first"],
        ClientRating.objects.aggregate(first=Min("rated_on"))["first"],
        Milestone.objects.aggregate(first=Min("held_on"))["first"],
        StageChange.objects.aggregate(first=Min("on"))["first"],
        Enrollment.objects.aggregate(first=Min("started_on"))["first"],
    ]
    dates = [d for d in firsts if d]
    if not dates:
        return None
    return min(min(dates), timezone.localdate()), timezone.localdate()


def all_periods(until: dt.date | None = None) -> list[Period]:
    span = data_span()
    if span is None:
        return []
    first, last = span
    last = until or last
    return [p for kind in PeriodType.values for p in periods_between(kind, first, last)]


PROGRESS_KEY = "scorecard:recompute-progress"


def recompute_progress() -> dict[str, Any] | None:
    """How far an administrator's "recompute now" has come: steps done and in total,
    running, the step under way (`step`) and, once finished, the periods recomputed."""
    return cache.get(PROGRESS_KEY)


def recompute_progress_start() -> None:
    cache.set(PROGRESS_KEY, {"done": 0, "total": 0, "running": True}, timeout=3600)


def scorecard_recompute_all(*, report_progress: bool = False) -> int:
    """Every KPI for every period from the first input to today (the nightly job)."""
    periods = all_periods()
    steps = rollup.STEPS + 1
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if report_progress:
            progress = {"done": done, "total": steps, "running": True, "step": name}
            cache.set(PROGRESS_KEY, progress, 3600)

    with transaction.atomic():
        # Every period is recomputed from what is committed now, which covers the queued
        # changes (taken first, so a change committed meanwhile stays queued); a queued day
        # outside today's span (its rows since removed) has its periods recomputed too.
        days = _take_changed_days()
        work: dict[Period, set[str] | None] = dict.fromkeys(periods)
        for period, keys in periods_touching(days or {}).items():
            work.setdefault(period, keys)
        written = snapshots_recompute_many(work=work, progress=step, rebuild=True)
    if report_progress:
        progress = {"done": steps, "total": steps, "running": False, "periods": len(periods)}
        cache.set(PROGRESS_KEY, progress, 3600)
    RollupState.objects.update_or_create(pk=1, defaults={"last_full_run": timezone.now()})
    return written


Changes = Mapping[dt.date, Collection[str] | None]


def periods_touching(days: Iterable[dt.date] | Changes) -> dict[Period, set[str] | None]:
    """The periods a change on `days` can move: those containing a day (every KPI, or the
    KPIs `days` names for it when a mapping), and the later ones up to today (the KPIs
    measured at a period's end). None means every KPI."""
    changes: dict[dt.date, Collection[str] | None] = (
        dict(days) if isinstance(days, Mapping) else dict.fromkeys(days)
    )
    if not changes:
        return {}
    today = timezone.localdate()
    touched: dict[Period, set[str] | None] = {}
    for kind in PeriodType.values:
        for period in periods_between(kind, min(changes), today):
            keys: set[str] | None = set(STOCK_KPIS)
            for day, moved in changes.items():
                if keys is not None and period.contains(day):
                    keys = None if moved is None else keys | set(moved)
            touched[period] = keys
    return touched


def _take_changed_days() -> dict[dt.date, set[str] | None] | None:
    """Take the queue of input changes the triggers filled (InputChange): {day: the KPIs it
    moves, None for all}, or None when a change moves every period. Rows committed after
    this reads stay for the next run; the caller's transaction removes these only if it
    commits. The snapshot writers' lock comes first, so two runs never contend for the same
    queued rows."""
    _lock()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM scorecard_inputchange RETURNING day, kpis")
        rows = cursor.fetchall()
    changes: dict[dt.date, set[str] | None] = {}
    for day, keys in rows:
        if day is None:
            return None
        if day in changes and changes[day] is None:
            continue
        changes[day] = None if keys is None else (changes.get(day) or set()) | set(keys)
    return changes


def _add_baseline_changes(
    touched: dict[Period, set[str] | None], changes: dict[dt.date, set[str] | None]
) -> None:
    """Revenue per account compares every period with the baseline window: a change inside
    the window moves that KPI in every period (a change naming its KPIs never names it)."""
    baseline = Context.load().baseline
    if not any(keys is None and baseline.contains(day) for day, keys in changes.items()):
        return
    for period in all_periods():
        if period in touched and touched[period] is None:
            continue
        touched[period] = (touched.get(period) or set()) | {"revenue_per_account"}


def scorecard_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute the periods moved by the inputs changed since the last run (debounced: a
    burst of changes between two runs costs one recompute of their periods).

    Only one worker claims a run at a time (the state row is locked, and a worker that
    finds it locked leaves the work to the one holding it). Returns rows written.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The snapshot writers' lock before the state row, in the order every writer takes
        # them: the nightly run holds the lock while it rebuilds, then writes the row.
        _lock()
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            return 0
        # Taken first: whatever the recompute's queries read was committed before this.
        days = _take_changed_days()
        if state.checked_until is None or days is None:
            touched: dict[Period, set[str] | None] = dict.fromkeys(all_periods())
        else:
            touched = periods_touching(days)
            _add_baseline_changes(touched, days)
        written = snapshots_recompute_many(work=touched, changed=days or (), rebuild=days is None)
        state.checked_until = now
        state.save(update_fields=["checked_until"])
    return written


# Targets ---------------------------------------------------------------------------------


@transaction.atomic
def target_set(
    *,
    kpi: str,
    period_type: str,
    target: Decimal,
    amber_margin: Decimal,
    actor: User,
) -> KpiTarget:
    """Set what leadership aims for. Precondition: the actor may edit targets."""
    if kpi not in REGISTRY:
        raise ValidationError({"kpi": "There is no such KPI."})
    if period_type not in PeriodType.values:
        raise ValidationError({"period_type": "Choose a month, quarter or year."})
    if amber_margin < 0:
        raise ValidationError({"amber_margin": "The margin cannot be negative."})
    obj, _created = KpiTarget.objects.update_or_create(
        kpi=kpi,
        period_type=period_type,
        defaults={"target": target, "amber_margin": amber_margin, "updated_by": actor},
    )
    audit_record(
        actor=actor,
        action="kpi_target.set",
        obj=obj,
        changes={"target": str(target), "amber_margin": str(amber_margin)},
    )
    return obj


def dimension_label_map(dimension: str, values: Iterable[str]) -> dict[str, str]:
    """Readable names for stored dimension values (ids for people and product lines)."""
    from engagements.models import Industry, ProductLine, Region, Segment

    values = list(values)
    if dimension == Dimension.INDUSTRY:
        return {v: Industry(v).label for v in values if v in Industry.values}
    if dimension == Dimension.REGION:
        return {v: Region(v).label for v in values if v in Region.values}
    if dimension == Dimension.SEGMENT:
        return {v: Segment(v).label for v in values if v in Segment.values}
    ids = [int(v) for v in values if v.isdigit()]
    if dimension == Dimension.PRODUCT_LINE:
        return {
            str(pk): name
            for pk, name in ProductLine.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    if dimension == Dimension.COMMERCIAL_LEAD:
        return {str(u.pk): str(u) for u in User.objects.filter(pk__in=ids)}
    return {}


# Reads for the pages: snapshots only, a fixed number of queries whatever the data size ---


def default_period(kind: str, today: dt.date | None = None) -> Period:
    """The last complete period of type `kind`: the latest one with settled figures."""
    today = today or timezone.localdate()
    return Period.of(kind, today).previous


def recent_periods(kind: str, until: Period, count: int = 12) -> list[Period]:
    """`count` periods of type `kind` ending with `until`, oldest first."""
    periods = [until]
    while len(periods) < count:
        periods.append(periods[-1].previous)
    return periods[::-1]


@dataclass(frozen=True)
class Figure:
    """A KPI's stored figure in one period (value None: no data)."""

    numerator: Decimal
    denominator: Decimal
    value: Decimal | None


def _figure(snapshot: KpiSnapshot | None) -> Figure | None:
    if snapshot is None:
        return None
    return Figure(snapshot.numerator, snapshot.denominator, snapshot.value)


def _change(now: Figure | None, then: Figure | None) -> Decimal | None:
    if now is None or then is None or now.value is None or then.value is None:
        return None
    return now.value - then.value


@dataclass
class ScorecardLine:
    kpi: Kpi
    figure: Figure | None
    target: KpiTarget | None
    status: str | None
    vs_previous: Decimal | None
    vs_year_ago: Decimal | None
    breakdown: list[tuple[str, str, Figure]]

    @property
    def better(self) -> bool | None:
        """Whether the change against the previous period is for the better."""
        if not self.vs_previous:
            return None
        return (self.vs_previous > 0) == self.kpi.higher_is_better


def scorecard_lines(
    *,
    period: Period,
    slice_dimension: str = "",
    slice_value: str = "",
    breakdown: str = "",
) -> list[ScorecardLine]:
    """Every KPI in `period` for the organisation (or one slice of it), with its target,
    status, changes against the previous period and a year earlier, and optionally its
    breakdown by a dimension. Three queries at most, whatever the size of the data."""
    starts = [period.start, period.previous.start, period.year_ago.start]
    wanted = Q(dimension=slice_dimension, dimension_value=slice_value)
    if breakdown and not slice_dimension:
        wanted |= Q(dimension=breakdown, period_start=period.start)
    snapshots = KpiSnapshot.objects.filter(
        wanted, period_type=period.kind, period_start__in=starts
    ).order_by("kpi", "dimension_value")
    by_key: dict[tuple[str, dt.date], KpiSnapshot] = {}
    parts: dict[str, list[KpiSnapshot]] = {}
    for snapshot in snapshots:
        if snapshot.dimension == slice_dimension:
            by_key[(snapshot.kpi, snapshot.period_start)] = snapshot
        else:
            parts.setdefault(snapshot.kpi, []).append(snapshot)
    targets = {t.kpi: t for t in KpiTarget.objects.filter(period_type=period.kind)}
    labels = (
        dimension_label_map(breakdown, {s.dimension_value for rows in parts.values() for s in rows})
        if breakdown and parts
        else {}
    )
    lines = []
    for kpi in KPIS:
        now = _figure(by_key.get((kpi.key, starts[0])))
        target = targets.get(kpi.key)
        value = now.value if now else None
        lines.append(
            ScorecardLine(
                kpi=kpi,
                figure=now,
                target=target,
                status=target.status(value, higher_is_better=kpi.higher_is_better)
                if target
                else None,
                vs_previous=_change(now, _figure(by_key.get((kpi.key, starts[1])))),
                vs_year_ago=_change(now, _figure(by_key.get((kpi.key, starts[2])))),
                breakdown=[
                    (
                        s.dimension_value,
                        labels.get(s.dimension_value, s.dimension_value),
                        Figure(s.numerator, s.denominator, s.value),
                    )
                    for s in parts.get(kpi.key, [])
                ],
            )
        )
    return lines


def kpi_trend(
    *, kpi: Kpi, periods: list[Period], slice_dimension: str = "", slice_value: str = ""
) -> list[tuple[Period, Figure | None]]:
    """The KPI's stored figure in each of `periods` (one query)."""
    stored = {
        s.period_start: s
        for s in KpiSnapshot.objects.filter(
            kpi=kpi.key,
            period_type=periods[0].kind,
            period_start__in=[p.start for p in periods],
            dimension=slice_dimension,
            dimension_value=slice_value,
        )
    }
    return [(p, _figure(stored.get(p.start))) for p in periods]


def kpi_breakdown(*, kpi: Kpi, period: Period, dimension: str) -> list[tuple[str, str, Figure]]:
    """The KPI in `period` per value of `dimension`, best first (two queries at most)."""
    rows = list(
        KpiSnapshot.objects.filter(
            kpi=kpi.key,
            period_type=period.kind,
            period_start=period.start,
            dimension=dimension,
        ).order_by("dimension_value")
    )
    labels = dimension_label_map(dimension, [s.dimension_value for s in rows]) if rows else {}
    figures = [
        (s.dimension_value, labels.get(s.dimension_value, s.dimension_value), _figure(s))
        for s in rows
    ]
    sign = -1 if kpi.higher_is_better else 1

    def order(row: tuple[str, str, Figure | None]) -> tuple[bool, Decimal, str]:
        value = row[2].value if row[2] else None
        return (value is None, sign * (value or ZERO), row[1])

    return sorted(figures, key=order)  # type: ignore[arg-type]


# The TCP impact view: computed live over two windows, as if each were one period ---------


@dataclass(frozen=True)
class ImpactLine:
    kpi: Kpi
    pre: Figure | None
    post: Figure | None

    @property
    def change(self) -> Decimal | None:
        return _change(self.post, self.pre)


def default_windows(today: dt.date | None = None) -> tuple[Period, Period]:
    """Pre: the last complete calendar year before adoption; post: the last complete
    calendar year."""
    from tcp.models import OrganisationSettings

    today = today or timezone.localdate()
    adoption = OrganisationSettings.load().tcp_adoption_date
    pre = Period.window(dt.date(adoption.year - 1, 1, 1), dt.date(adoption.year - 1, 12, 31))
    post = Period.window(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31))
    return pre, post


def tcp_impact(*, pre: Period, post: Period) -> list[ImpactLine]:
    """Each TCP KPI over the pre and post windows. Revenue per account is indexed to the pre
    window, so pre reads 1.0 (times)."""
    ctx = Context.load(baseline=pre)
    lines = []
    for kpi in TCP_KPIS:
        figures = []
        for window in (pre, post):
            found = kpi.figures(window, None, ctx).get("")
            figures.append(Figure(found[0], found[1], kpi.value(*found)) if found else None)
        lines.append(ImpactLine(kpi, figures[0], figures[1]))
    return lines
