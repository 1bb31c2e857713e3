from __future__ import annotations

import datetime as dt
import smtplib

from celery import shared_task

from certification import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def certification_daily(on: str | None = None) -> dict[str, int]:
    """Celery beat's daily run (services.certification_daily); `on` is an ISO date, today
    by default. Safe to run twice: a second run the same day does nothing more."""
    return services.certification_daily(on=dt.date.fromisoformat(on) if on else None)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
)
def reminder_send(reminder_id: int) -> bool:
    """Send one queued reminder e-mail. Safe to run twice: a reminder goes out once."""
    return services.reminder_send(reminder_id=reminder_id)
