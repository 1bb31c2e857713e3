from __future__ import annotations

from celery import shared_task

from scorecard import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def scorecard_nightly() -> int:
    """Every KPI for every period. Safe to run twice: unchanged rows are not rewritten."""
    return services.scorecard_recompute_all()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def scorecard_refresh() -> int:
    """The periods moved by inputs changed since the last check. Runs every minute, which
    is the debounce: a burst of changes in between costs one recompute of their periods."""
    return services.scorecard_refresh()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def scorecard_recompute_now() -> int:
    """An administrator's "recompute now": the nightly job, reporting its progress."""
    return services.scorecard_recompute_all(report_progress=True)
