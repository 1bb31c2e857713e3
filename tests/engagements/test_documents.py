"""Proposals and QBRs: what they show, the discovery rule, one render per version, and who
may see, request and download them."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from discovery.models import NeverEvent, TcoAlternative, TcoComparison, TcoCostLine
from engagements import services
from engagements.documents import DOCUMENT_SECTIONS, DocumentSection, snapshot_build
from engagements.models import (
    Account,
    Document,
    DocumentKind,
    DocumentStatus,
    Engagement,
    ScopeItem,
)
from engagements.pdf import html_to_pdf
from tcp.models import AuditLogEntry, User
from tests.conftest import client_for
from tests.engagements.documents_helpers import QUARTER, pdf_text, quarter_account
from tests.factories import ScenarioFactory


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run the work queued after commit now, in this process (no worker): the render."""
    return django_capture_on_commit_callbacks


def _stored_pdfs(media: Path) -> list[Path]:
    return sorted(media.rglob("*.pdf"))


def _request_proposal(engagement: Engagement, actor: User, run_on_commit: Any) -> Document:
    with run_on_commit(execute=False) as callbacks:
        document = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=engagement, actor=actor
        )
    assert len(callbacks) == 1  # the render is queued once, after commit
    services.document_render(document_id=document.pk)
    document.refresh_from_db()
    return document


def _queued_qbr(account: Account, actor: User, run_on_commit: Any) -> Document:
    """A QBR of Q2 2025 requested, its render not run."""
    with run_on_commit(execute=False):
        return services.document_request(
            kind=DocumentKind.QBR, account=account, quarter=QUARTER, actor=actor
        )


# What the documents show --------------------------------------------------------------------


def test_a_qbr_shows_the_quarter_by_the_scorecard_definitions(
    owner: User, run_on_commit: Any
) -> None:
    account = quarter_account(owner=owner)
    with run_on_commit(execute=False):
        document = services.document_request(
            kind=DocumentKind.QBR, account=account, quarter=dt.date(2025, 5, 17), actor=owner
        )
    assert document.period_start == QUARTER  # any day names its quarter

    assert services.document_render(document_id=document.pk) is True

    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.snapshot is not None
    scorecard = next(s for s in document.snapshot["sections"] if s["key"] == "scorecard")
    quarter = scorecard["data"]["quarter"]
    assert quarter["quarter"] == "Q2 2025"
    assert quarter["scope_accuracy"] == "33%"
    assert quarter["timeline_adherence"] == "67%"
    assert quarter["participation"] == "75%"
    assert quarter["revenue"] == "GBP 150,000"
    assert quarter["profit"] == "GBP 60,000"
    # Quarters before, with nothing completed, read "no data" rather than 0%.
    assert scorecard["data"]["rows"][0]["scope_accuracy"] == "no data"

    pages, text = pdf_text(document.file.read())
    assert pages == document.pages
    assert pages >= 2
    assert "Calderbrook Community Hospitals" in text
    assert "Quarterly business review, Q2 2025" in text
    assert "67%" in text
    assert "75%" in text
    assert "Page 2 of" in text  # the running footer
    assert "Architecture review 4" in text  # a milestone held in the quarter
    assert "Bed management pilot" in text


def test_the_qbr_lists_risks_and_the_milestones_held_without_the_lead(
    owner: User, run_on_commit: Any
) -> None:
    account = quarter_account(owner=owner)
    document = _queued_qbr(account, owner, run_on_commit)
    snapshot = snapshot_build(document)
    sections = {s["key"]: s["data"] for s in snapshot["sections"]}

    flagged = [m["name"] for m in sections["milestones-held"]["milestones"] if m["flag"]]
    assert flagged == ["Architecture review 4"]
    assert any("held without" in risk for risk in sections["risks"]["risks"])
    assert [c["days"] for c in sections["scope-changes"]["changes"]] == ["+25", "+30"]


def test_a_proposal_traces_each_constraint_to_the_scenarios_and_figures_behind_it(
    owner: User, discovered: Engagement, run_on_commit: Any
) -> None:
    analysis = discovered.failure_cost_analyses.get()
    archive = ScenarioFactory.create(
        analysis=analysis,
        what_fails="The image archive is unreachable",
        disruption_hours=Decimal(6),
        cost_per_hour=Decimal(20_000),
        cost_per_incident=Decimal(10_000),
        likelihood_per_year=Decimal("0.5"),
        tolerable_downtime_hours=Decimal(0),
    )
    constraint = NeverEvent.objects.create(
        engagement=discovered, statement="No planned downtime window during the migration"
    )
    constraint.scenarios.add(archive)
    ScopeItem.objects.create(engagement=discovered, title="Archive migration", estimated_days=80)
    comparison = TcoComparison.objects.create(engagement=discovered, lifespan_years=5)
    ours = TcoAlternative.objects.create(comparison=comparison, kind="ours", name="Our proposal")
    TcoCostLine.objects.create(alternative=ours, category="purchase", amount=Decimal(40_000))

    document = _request_proposal(discovered, owner, run_on_commit)

    assert document.status == DocumentStatus.READY, document.error
    assert document.snapshot is not None
    sections = {s["key"]: s for s in document.snapshot["sections"]}
    assert list(sections) == [
        "client-context",
        "regulatory",
        "failure-costs",
        "scope",
        "tco",
        "golden-thread",
        "team",
        "milestones",
    ]
    (traced,) = sections["failure-costs"]["data"]["constraints"]
    assert traced["statement"] == "No planned downtime window during the migration"
    # 6 h x 20,000 + 10,000 = 130,000 an incident; half an incident a year = 65,000.
    (because,) = traced["because"]
    assert because["what"] == "The image archive is unreachable"
    assert because["incident_cost"] == "GBP 130,000"
    assert because["expected_loss"] == "GBP 65,000"
    team = sections["team"]["data"]["people"]
    assert team[0]["name"] == str(owner)
    assert team[0]["role"] == "Commercial lead"

    pages, text = pdf_text(document.file.read())
    assert pages >= 3
    assert "Contents" in text
    assert "No planned downtime window during the migration" in text
    assert "because the image archive is unreachable would cost GBP 130,000" in text
    assert "Archive migration" in text
    assert "Total cost of ownership" in text


def test_rendering_the_same_snapshot_twice_gives_the_same_html(
    owner: User, run_on_commit: Any
) -> None:
    from engagements.documents import document_html

    account = quarter_account(owner=owner)
    document = _queued_qbr(account, owner, run_on_commit)
    snapshot = snapshot_build(document, today=dt.date(2026, 1, 5))
    again = snapshot_build(document, today=dt.date(2026, 1, 5))

    assert snapshot == again
    assert document_html(snapshot) == document_html(again)


# The discovery rule -------------------------------------------------------------------------


def test_a_proposal_is_refused_until_discovery_is_complete_and_nothing_is_made(
    owner: User, engagement: Engagement
) -> None:
    with pytest.raises(services.DocumentRefused) as refused:
        services.document_request(kind=DocumentKind.PROPOSAL, engagement=engagement, actor=owner)

    messages = " ".join(b.message for b in refused.value.blockers)
    assert "growth target" in messages
    assert "Failure-Cost Analysis" in messages
    assert not Document.objects.exists()


def test_the_page_names_what_discovery_lacks_and_makes_nothing(
    owner: User, engagement: Engagement
) -> None:
    url = reverse("engagements:engagement_documents", args=[engagement.uuid])
    response = client_for(owner).post(url, headers={"HX-Request": "true"})

    assert response.status_code == 422
    page = response.content.decode()
    assert "A proposal needs complete discovery first" in page
    assert "Complete a Failure-Cost Analysis" in page
    assert not Document.objects.exists()


def test_a_quarter_still_to_come_is_refused_beside_the_field(owner: User, account: Account) -> None:
    url = reverse("engagements:account_documents", args=[account.uuid])
    next_year = dt.date(timezone.localdate().year + 1, 1, 1)

    response = client_for(owner).post(url, {"quarter": next_year.isoformat()})

    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Document.objects.exists()


# One render per version ---------------------------------------------------------------------


def test_a_second_click_while_a_version_is_on_its_way_returns_it(
    owner: User, discovered: Engagement, run_on_commit: Any
) -> None:
    with run_on_commit(execute=False) as callbacks:
        first = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )
        second = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )

    assert first == second
    assert len(callbacks) == 1
    assert Document.objects.count() == 1


def test_a_new_request_after_a_ready_one_is_the_next_version_and_keeps_the_first(
    owner: User, discovered: Engagement, run_on_commit: Any, media: Path
) -> None:
    first = _request_proposal(discovered, owner, run_on_commit)
    second = _request_proposal(discovered, owner, run_on_commit)

    assert (first.version, second.version) == (1, 2)
    assert first.status == second.status == DocumentStatus.READY
    assert len(_stored_pdfs(media)) == 2
    assert AuditLogEntry.objects.filter(action="document.request").count() == 2


def test_running_a_render_again_stores_nothing_more(
    owner: User, discovered: Engagement, run_on_commit: Any, media: Path
) -> None:
    document = _request_proposal(discovered, owner, run_on_commit)

    assert services.document_render(document_id=document.pk) is False
    assert len(_stored_pdfs(media)) == 1
    document.refresh_from_db()
    assert document.attempts == 1


def test_a_render_past_its_lease_is_taken_over_and_the_old_holder_cannot_finish(
    owner: User, discovered: Engagement, run_on_commit: Any, media: Path
) -> None:
    with run_on_commit(execute=False):
        document = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )
    # A worker took it and died: the row says rendering, its lease has run out.
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.RENDERING,
        claim="00000000-0000-0000-0000-000000000001",
        lease_until=timezone.now() - dt.timedelta(seconds=1),
        attempts=1,
    )

    assert services.document_render(document_id=document.pk) is True

    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.attempts == 2
    assert len(_stored_pdfs(media)) == 1
    # The dead worker's claim no longer matches: were it to wake, it could not store.
    stale = Document.objects.filter(pk=document.pk, claim="00000000-0000-0000-0000-000000000001")
    assert not stale.exists()


def test_a_render_still_within_its_lease_is_left_alone(
    owner: User, discovered: Engagement, run_on_commit: Any, media: Path
) -> None:
    with run_on_commit(execute=False):
        document = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.RENDERING, lease_until=timezone.now() + dt.timedelta(minutes=5)
    )

    assert services.document_render(document_id=document.pk) is False
    assert _stored_pdfs(media) == []


def test_the_sweep_queues_lost_and_abandoned_renders_and_leaves_fresh_ones(
    owner: User, discovered: Engagement, run_on_commit: Any, settings: Any
) -> None:
    settings.DOCUMENT_SWEEP_AFTER_SECONDS = 120
    account = quarter_account(owner=owner)
    now = timezone.now()
    long_ago = now - dt.timedelta(minutes=10)
    with run_on_commit(execute=False):
        lost = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )
        abandoned = services.document_request(
            kind=DocumentKind.QBR, account=account, quarter=QUARTER, actor=owner
        )
        fresh = services.document_request(
            kind=DocumentKind.QBR, account=account, quarter=dt.date(2025, 1, 1), actor=owner
        )
    Document.objects.filter(pk=lost.pk).update(enqueued_at=long_ago)
    Document.objects.filter(pk=abandoned.pk).update(
        status=DocumentStatus.RENDERING, enqueued_at=long_ago, lease_until=now
    )
    Document.objects.filter(pk=fresh.pk).update(enqueued_at=now)

    with run_on_commit(execute=False):
        swept = services.documents_sweep(now=now + dt.timedelta(seconds=1))

    assert sorted(swept) == sorted([lost.pk, abandoned.pk])
    # Queued again just now: the next sweep leaves them to the worker.
    assert services.documents_sweep(now=now + dt.timedelta(seconds=2)) == []


# Hostile content ------------------------------------------------------------------------------


@pytest.fixture
def remote_server() -> Iterator[dict[str, Any]]:
    """A web server on 127.0.0.1 that counts every request made to it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "hits": hits}
    finally:
        server.shutdown()


def test_html_and_remote_images_in_fields_are_printed_as_text_and_never_fetched(
    owner: User, discovered: Engagement, run_on_commit: Any, remote_server: dict[str, Any]
) -> None:
    image = f'<img src="{remote_server["url"]}/tracker.png">'
    Engagement.objects.filter(pk=discovered.pk).update(name=f"Rollout {image}")
    discovered.refresh_from_db()
    ScopeItem.objects.create(
        engagement=discovered,
        title=f"<b>Migration</b> <link rel=stylesheet href={remote_server['url']}/x.css>",
        estimated_days=10,
    )

    document = _request_proposal(discovered, owner, run_on_commit)

    assert document.status == DocumentStatus.READY, document.error
    _, text = pdf_text(document.file.read())
    assert "tracker.png" in text  # shown to the reader as the text that was typed
    assert "<b>Migration</b>" in text
    assert remote_server["hits"] == []


def test_the_pdf_renderer_loads_nothing_from_the_network(remote_server: dict[str, Any]) -> None:
    url = remote_server["url"]
    html = (
        f'<link rel="stylesheet" href="{url}/style.css"><p>Figures</p>'
        f'<img src="{url}/chart.png"><div style="background: url({url}/bg.png)">x</div>'
    )

    pdf, pages = html_to_pdf(html)

    assert pdf.startswith(b"%PDF")
    assert pages == 1
    assert remote_server["hits"] == []


# Failure and retry ----------------------------------------------------------------------------


@pytest.fixture
def broken_section() -> Iterator[None]:
    """A proposal section whose data cannot be read (a fault inside the render)."""

    def explode(context: Any) -> dict[str, Any]:
        raise ValueError("the cost figures could not be read")

    section = DocumentSection("broken", "Broken", 99, "unused.html", explode)
    DOCUMENT_SECTIONS[DocumentKind.PROPOSAL].append(section)
    try:
        yield
    finally:
        DOCUMENT_SECTIONS[DocumentKind.PROPOSAL].remove(section)


def test_a_failed_render_says_why_and_retry_queues_the_same_version(
    owner: User, discovered: Engagement, run_on_commit: Any, broken_section: None
) -> None:
    document = _request_proposal(discovered, owner, run_on_commit)

    assert document.status == DocumentStatus.FAILED
    assert "the cost figures could not be read" in document.error
    url = reverse("engagements:engagement_documents", args=[discovered.uuid])
    page = client_for(owner).get(url).content.decode()
    assert "the cost figures could not be read" in page
    assert reverse("engagements:document_retry", args=[document.uuid]) in page

    with run_on_commit(execute=False) as callbacks:
        response = client_for(owner).post(
            reverse("engagements:document_retry", args=[document.uuid])
        )
    assert response.status_code == 302
    assert len(callbacks) == 1
    document.refresh_from_db()
    assert (document.status, document.version, document.error) == ("queued", 1, "")


# Pages and who may use them -------------------------------------------------------------------


def test_the_owner_generates_a_proposal_from_the_page_and_sees_its_progress(
    owner: User, discovered: Engagement, run_on_commit: Any
) -> None:
    client = client_for(owner)
    url = reverse("engagements:engagement_documents", args=[discovered.uuid])

    with run_on_commit(execute=False):
        response = client.post(url, headers={"HX-Request": "true"})

    assert response.status_code == 200
    document = Document.objects.get()
    row = reverse("engagements:document_status", args=[document.uuid])
    assert f'hx-get="{row}"' in response.content.decode()  # the row polls while queued

    services.document_render(document_id=document.pk)
    finished = client.get(row, headers={"HX-Request": "true"}).content.decode()
    assert "Ready" in finished
    assert "hx-trigger" not in finished
    download = client.get(reverse("engagements:document_download", args=[document.uuid]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert "attachment" in download["Content-Disposition"]
    assert download.getvalue().startswith(b"%PDF")


def test_a_document_not_ready_yet_cannot_be_downloaded(
    owner: User, discovered: Engagement, run_on_commit: Any
) -> None:
    with run_on_commit(execute=False):
        document = services.document_request(
            kind=DocumentKind.PROPOSAL, engagement=discovered, actor=owner
        )
    url = reverse("engagements:document_download", args=[document.uuid])

    assert client_for(owner).get(url).status_code == 404


def test_an_outsider_gets_404_on_every_document_url(
    owner: User, outsider: User, discovered: Engagement, run_on_commit: Any
) -> None:
    document = _request_proposal(discovered, owner, run_on_commit)
    client = client_for(outsider)
    urls = [
        ("get", reverse("engagements:engagement_documents", args=[discovered.uuid])),
        ("post", reverse("engagements:engagement_documents", args=[discovered.uuid])),
        ("get", reverse("engagements:account_documents", args=[discovered.account.uuid])),
        ("post", reverse("engagements:account_documents", args=[discovered.account.uuid])),
        ("get", reverse("engagements:document_status", args=[document.uuid])),
        ("get", reverse("engagements:document_download", args=[document.uuid])),
        ("post", reverse("engagements:document_retry", args=[document.uuid])),
    ]

    for method, url in urls:
        assert getattr(client, method)(url).status_code == 404, url
    assert Document.objects.count() == 1


def test_the_delivery_manager_reads_the_proposals_but_does_not_produce_them(
    owner: User, delivery_manager: User, discovered: Engagement, run_on_commit: Any
) -> None:
    document = _request_proposal(discovered, owner, run_on_commit)
    client = client_for(delivery_manager)
    page = reverse("engagements:engagement_documents", args=[discovered.uuid])

    listing = client.get(page)
    assert listing.status_code == 200
    assert "Generate proposal" not in listing.content.decode()
    download = reverse("engagements:document_download", args=[document.uuid])
    assert client.get(download).status_code == 200
    assert client.post(page).status_code == 404
    assert Document.objects.count() == 1


def test_leadership_generates_a_qbr_for_any_account(
    leadership: User, owner: User, run_on_commit: Any
) -> None:
    account = quarter_account(owner=owner)
    url = reverse("engagements:account_documents", args=[account.uuid])

    with run_on_commit(execute=False):
        response = client_for(leadership).post(url, {"quarter": "2025-04-01"})

    assert response.status_code == 302
    document = Document.objects.get()
    assert (document.kind, document.period_start) == ("qbr", QUARTER)
    assert document.requested_by == leadership


def test_the_documents_page_makes_the_same_queries_for_one_version_and_twenty(
    owner: User, discovered: Engagement, run_on_commit: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(owner)
    url = reverse("engagements:account_documents", args=[discovered.account.uuid])
    _request_proposal(discovered, owner, run_on_commit)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(19):
        _request_proposal(discovered, owner, run_on_commit)

    with django_assert_max_num_queries(len(one)):
        assert "Proposal" in client.get(url).content.decode()


def test_a_qbr_reads_the_same_number_of_queries_however_long_the_history(
    owner: User, run_on_commit: Any
) -> None:
    counts = []
    # The first render also loads the organisation's settings for good: not counted.
    for history in (0, 0, 30):
        Document.objects.all().delete()
        account = quarter_account(owner=owner, extra_history=history)
        document = _queued_qbr(account, owner, run_on_commit)
        with CaptureQueriesContext(connection) as queries:
            services.document_render(document_id=document.pk)
        counts.append(len(queries))
        Account.objects.filter(pk=account.pk).update(name=f"Done {len(counts)}")

    assert counts[1] == counts[2] <= 30
