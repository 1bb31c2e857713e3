from __future__ import annotations

from celery import shared_task

from engagements.models import AccountTeamMember, StageChange
from engagements.services import document_render, documents_sweep
from tcp.services import notification_send


@shared_task(acks_late=True, reject_on_worker_lost=True)
def engagement_stage_notify(stage_change_id: int) -> int:
    """Tell the account team and the commercial lead that an engagement changed stage.

    Safe to run twice: each person is notified once per stage change (dedupe key).
    Returns how many people it concerns.
    """
    change = (
        StageChange.objects.select_related(
            "engagement__account", "engagement__commercial_lead", "by"
        )
        .filter(pk=stage_change_id)
        .first()
    )
    if change is None:
        return 0
    engagement = change.engagement
    team = [
        m.user
        for m in AccountTeamMember.objects.filter(account=engagement.account).select_related("user")
    ]
    recipients = [u for u in [*team, engagement.commercial_lead] if u.is_active and u != change.by]
    who = str(change.by) if change.by else "The CRM"
    stage = change.get_to_stage_display().lower()
    notification_send(
        recipients=recipients,
        message=f"{who} moved “{engagement}” ({engagement.account}) to {stage}.",
        link=engagement.get_absolute_url(),
        dedupe_key=f"stage-change:{change.pk}",
    )
    return len({u.pk for u in recipients})


@shared_task(acks_late=True, reject_on_worker_lost=True)
def document_render_task(document_id: int) -> bool:
    """Render and store one requested document (safe to run twice: see document_render)."""
    return document_render(document_id=document_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def documents_sweep_task() -> int:
    """Queue again the renders that were lost or left half done (a beat job)."""
    return len(documents_sweep())
