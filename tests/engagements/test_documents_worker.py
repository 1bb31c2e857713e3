"""Documents through real Celery worker processes: rendered, killed mid-render, lost by the
broker, and asked for twice at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from discovery.services import fca_reopen
from engagements import services
from engagements.models import (
    Document,
    DocumentKind,
    DocumentStatus,
    Engagement,
    Milestone,
    ScopeItem,
)
from tcp.models import User
from tests.conftest import client_for
from tests.engagements.documents_helpers import QUARTER, pdf_text, quarter_account

pytestmark = [pytest.mark.worker]


def _wait_for(predicate: Callable[[], bool], timeout: float = 60, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _status(document: Document) -> str:
    return Document.objects.values_list("status", flat=True).get(pk=document.pk)


def _is_ready(document: Document) -> bool:
    return _status(document) == DocumentStatus.READY


def _pdfs(media: Path) -> list[Path]:
    return sorted(media.rglob("*.pdf"))


def test_a_proposal_and_a_qbr_render_in_a_worker_into_readable_pdfs(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    owner: User,
    discovered: Engagement,
    media: Path,
) -> None:
    start_worker("documents")
    account = quarter_account(owner=owner)

    proposal = services.document_request(
        kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
    )
    qbr = services.document_request(
        kind=DocumentKind.QBR, account=account, quarter=QUARTER, actor=owner
    )

    for document in (proposal, qbr):
        assert _wait_for(partial(_is_ready, document)), _status(document)
        document.refresh_from_db()
        pages, text = pdf_text(document.file.read())
        assert pages == document.pages
        assert document.account.name in text
    _, qbr_text = pdf_text(Path(qbr.file.path).read_bytes())
    assert "Timeline adherence" in qbr_text
    assert "67%" in qbr_text
    assert len(_pdfs(media)) == 2


def _heavy_proposal(engagement: Engagement) -> None:
    """Enough scope and milestones for a render that lasts a few seconds."""
    ScopeItem.objects.bulk_create(
        ScopeItem(
            engagement=engagement,
            title=f"Work package {n}: interfaces, data migration and testing",
            estimated_days=Decimal(5),
            note="Estimated with the client's architects during discovery. " * 3,
        )
        for n in range(250)
    )
    Milestone.objects.bulk_create(
        Milestone(
            engagement=engagement,
            kind="implementation",
            title=f"Release {n}",
            planned_on=dt.date(2027, 1, 1) + dt.timedelta(days=n),
        )
        for n in range(120)
    )


def test_a_worker_killed_mid_render_leaves_the_document_to_run_again_and_one_file(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    owner: User,
    discovered: Engagement,
    media: Path,
    settings: Any,
) -> None:
    _heavy_proposal(discovered)
    doomed = start_worker("doomed", DOCUMENT_LEASE_SECONDS="2")
    document = services.document_request(
        kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
    )
    assert _wait_for(lambda: _status(document) == DocumentStatus.RENDERING, every=0.02)

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)

    document.refresh_from_db()
    assert document.status == DocumentStatus.RENDERING, "the render ended before the kill"
    assert _pdfs(media) == []
    # A worker comes back; the periodic sweep finds the render whose lease ran out.
    start_worker("survivor")
    assert _wait_for(
        lambda: document.lease_until is not None and timezone.now() > document.lease_until
    )
    settings.DOCUMENT_SWEEP_AFTER_SECONDS = 0
    assert services.documents_sweep() == [document.pk]

    assert _wait_for(lambda: _status(document) == DocumentStatus.READY, timeout=120)
    document.refresh_from_db()
    assert document.attempts == 2
    assert _pdfs(media) == [media / document.storage_name()]
    pages, text = pdf_text(document.file.read())
    assert pages == document.pages
    assert "Work package 249" in text


def test_a_render_the_broker_lost_is_queued_again_by_the_sweep(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    owner: User,
    discovered: Engagement,
    media: Path,
    settings: Any,
) -> None:
    document = services.document_request(
        kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
    )
    # The broker restarts empty before any worker took the job.
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()
    start_worker("documents")
    time.sleep(2)
    assert _status(document) == DocumentStatus.QUEUED  # nothing knows of it but the database

    settings.DOCUMENT_SWEEP_AFTER_SECONDS = 0
    assert services.documents_sweep() == [document.pk]

    assert _wait_for(lambda: _status(document) == DocumentStatus.READY)
    assert len(_pdfs(media)) == 1


def test_two_clicks_at_once_make_one_request_and_one_file(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    owner: User,
    discovered: Engagement,
    media: Path,
) -> None:
    start_worker("documents")
    url = reverse("engagements:engagement_documents", args=[discovered.uuid])
    clients = [client_for(owner), client_for(owner)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def click(client: Any) -> None:
        try:
            barrier.wait()
            statuses.append(client.post(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302, 302]
    document = Document.objects.get()
    assert _wait_for(lambda: _status(document) == DocumentStatus.READY)
    time.sleep(1)  # anything queued twice would have run by now
    assert len(_pdfs(media)) == 1
    document.refresh_from_db()
    assert document.attempts == 1


def test_a_proposal_whose_discovery_was_reopened_is_refused_by_the_worker(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    owner: User,
    discovered: Engagement,
    media: Path,
) -> None:
    document = services.document_request(
        kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
    )
    # Before any worker takes it, the interview goes back to draft.
    fca_reopen(analysis=discovered.failure_cost_analyses.get(), actor=owner)
    start_worker("documents")

    assert _wait_for(lambda: _status(document) == DocumentStatus.FAILED)
    document.refresh_from_db()
    assert "Complete a Failure-Cost Analysis" in document.error
    assert _pdfs(media) == []
