from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from tcp.models import Notification


@shared_task(acks_late=True, reject_on_worker_lost=True)
def notifications_prune(days: int = 90) -> int:
    """Delete read notifications older than `days`. Running it twice deletes nothing more."""
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted, _ = Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff).delete()
    return deleted
