"""Scorecard rollup benchmark, against the large demo organisation.

    DATABASE_URL=postgres://.../parity_bench \\
        .venv/bin/python -m tcp.devstack exec -- .venv/bin/python bench/scorecard.py

Measures in one run, on the same database:
- the baseline: one plain SQL GROUP BY over the engagement and revenue rows (the median
  of three runs);
- a full recompute of every KPI for every period from empty snapshots (inside a
  transaction that is rolled back, unless the database has no snapshots yet, in which
  case this run keeps them), and the nightly full recompute over stored snapshots;
- the recompute after one engagement changes (its completion moves into the next month),
  through the same change-driven refresh the workers run. The change is reverted and its
  periods recomputed afterwards, so only the snapshots' computed_at can differ.

Prints one `BENCH-ROW {json}` line per result (bench/run.py collects them) and a table.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcp.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from engagements.models import Engagement  # noqa: E402
from scorecard import services  # noqa: E402
from scorecard.models import KpiSnapshot  # noqa: E402
from scorecard.periods import add_months  # noqa: E402

FULL_GOAL = 5.0  # times the baseline
CHANGE_GOAL_S = 1.0
LARGE = 50_000  # engagements: fewer means this is not the large demo

BASELINE_SQL = """
    SELECT e.commercial_lead_id, r.month, count(*), sum(r.revenue), sum(r.cost), sum(e.value)
    FROM engagements_revenueentry r
    JOIN engagements_engagement e ON e.id = r.engagement_id
    GROUP BY e.commercial_lead_id, r.month"""


def timed[T](work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def baseline() -> float:
    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            return len(cursor.fetchall())

    return statistics.median(timed(run)[0] for _ in range(3))


def full_from_empty() -> tuple[float, int, bool]:
    """(seconds, rows written, kept): from empty snapshots, rolled back unless there were
    none to start with."""
    if not KpiSnapshot.objects.exists():
        seconds, written = timed(services.scorecard_recompute_all)
        return seconds, written, True
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM scorecard_kpisnapshot")
        seconds, written = timed(services.scorecard_recompute_all)
        transaction.set_rollback(True)
    return seconds, written, False


def one_engagement_change() -> tuple[float, int, int, str]:
    """(seconds, rows written, periods touched, which engagement): move one completed
    engagement's completion into the next month and run the refresh; then put everything
    back."""
    services.scorecard_refresh()  # catch up first, so only this change is new
    two_years_ago = timezone.localdate().year - 2
    engagement = (
        Engagement.objects.filter(completed_on__year=two_years_ago, completed_on__month__lt=12)
        .order_by("pk")
        .first()
    )
    if engagement is None:
        raise SystemExit("No engagement completed two years ago: is this the demo?")
    before = Engagement.objects.filter(pk=engagement.pk).values(
        "completed_on", "updated_at", "version"
    )[0]
    assert engagement.completed_on is not None
    # Into the next month: its month and quarter (perhaps) lose a completion, the next gain
    # one, and the backlog moves at the month end in between.
    moved = add_months(engagement.completed_on, 1)
    fields = Engagement.objects.filter(pk=engagement.pk).values_list(
        "opened_on",
        "proposal_on",
        "contract_signed_on",
        "completed_on",
        "lost_on",
        "cancelled_on",
        "poc_concluded_on",
    )[0]
    touched = services.periods_touching([d for d in (*fields, moved) if d is not None])

    def change() -> int:
        Engagement.objects.filter(pk=engagement.pk).update(
            completed_on=moved, updated_at=timezone.now()
        )
        return services.scorecard_refresh()

    try:
        seconds, written = timed(change)
    finally:
        Engagement.objects.filter(pk=engagement.pk).update(**before)
        services.snapshots_recompute_many(work=touched)
    return seconds, written, len(touched), f"{engagement.name} (id {engagement.pk})"


def row(label: str, value: float, base: float, goal: str, ok: bool, note: str) -> dict[str, object]:
    return {
        "label": label,
        "value_s": round(value, 4),
        "baseline_s": round(base, 4),
        "ratio": round(value / base, 2) if base else None,
        "goal": goal,
        "ok": ok,
        "note": note,
    }


def main() -> int:
    engagements = Engagement.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM engagements_revenueentry")
        (revenue,) = cursor.fetchone()
    size = f"{engagements:,} engagements, {revenue:,} revenue entries"
    if engagements < LARGE:
        print(f"warning: {size}; the goals are for the large demo (seed_demo --scale large)")
    periods = len(services.all_periods())

    base = baseline()
    fresh_s, fresh_rows, kept = full_from_empty()
    steady_s, steady_rows = timed(services.scorecard_recompute_all)
    change_s, change_rows, touched, which = one_engagement_change()
    base_after = baseline()  # the machine may have been busier or quieter meanwhile
    base = statistics.median([base, base_after])

    rows = [
        row(
            "scorecard: full recompute, stored snapshots (nightly)",
            steady_s,
            base,
            f"<= {FULL_GOAL:g}x",
            steady_s <= FULL_GOAL * base,
            f"{periods} periods, {steady_rows} rows changed; {size}",
        ),
        row(
            "scorecard: full recompute from empty snapshots",
            fresh_s,
            base,
            f"<= {FULL_GOAL:g}x",
            fresh_s <= FULL_GOAL * base,
            f"{fresh_rows} rows written" + ("" if kept else " (rolled back)"),
        ),
        row(
            "scorecard: recompute after one engagement changes",
            change_s,
            base,
            f"< {CHANGE_GOAL_S:g} s",
            change_s < CHANGE_GOAL_S,
            f"{touched} periods touched, {change_rows} rows changed; {which}, reverted",
        ),
    ]
    for data in rows:
        print("BENCH-ROW " + json.dumps(data))
    print()
    print(f"{'measure':56} {'seconds':>9} {'baseline':>9} {'ratio':>7}  goal      ok")
    for data in rows:
        print(
            f"{data['label']:56} {data['value_s']:9.3f} {data['baseline_s']:9.3f} "
            f"{data['ratio']:7.2f}  {data['goal']:9} {'yes' if data['ok'] else 'NO'}"
        )
    print(f"baseline: one GROUP BY of the revenue rows joined to their engagements ({size})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
