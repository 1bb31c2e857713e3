"""Documents through the API: request a render, poll it, download the PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engagements import services
from engagements.models import Document, DocumentStatus, Engagement
from tcp.models import User
from tests.api.conftest import api_client_for
from tests.engagements.documents_helpers import QUARTER, pdf_text, quarter_account

URL = "/api/v1/documents/"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_crm_requests_a_proposal_polls_it_and_downloads_the_pdf(
    owner: User, discovered: Engagement, django_capture_on_commit_callbacks: Any
) -> None:
    api = api_client_for(owner)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        asked = api.post(
            URL,
            {"kind": "proposal", "engagement": str(discovered.uuid)},
            format="json",
            HTTP_IDEMPOTENCY_KEY="proposal-1",
        )
    assert asked.status_code == 202
    body = asked.json()
    assert (body["status"], body["version"], body["download_url"]) == ("queued", 1, None)
    assert len(queued) == 1
    # The same key again: the first answer, and no second request.
    replay = api.post(
        URL,
        {"kind": "proposal", "engagement": str(discovered.uuid)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="proposal-1",
    )
    assert replay.json()["id"] == body["id"]
    assert Document.objects.count() == 1

    services.document_render(document_id=Document.objects.get().pk)
    polled = api.get(f"{URL}{body['id']}/").json()
    assert polled["status"] == "ready"
    assert polled["pages"] >= 2

    download = api.get(polled["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    pages, text = pdf_text(download.getvalue())
    assert pages == polled["pages"]
    assert discovered.account.name in text


def test_a_proposal_before_discovery_is_complete_is_a_409_naming_what_is_missing(
    owner: User, engagement: Engagement
) -> None:
    response = api_client_for(owner).post(
        URL, {"kind": "proposal", "engagement": str(engagement.uuid)}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "conflict"
    assert any("Failure-Cost Analysis" in reason for reason in body["reasons"])
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        # Well formed, but a proposal or a QBR lacks what it is about: the API's 422.
        ({"kind": "proposal"}, "engagement", 422),
        ({"kind": "qbr", "quarter": "2025-04-01"}, "account", 422),
        ({"kind": "qbr", "account": "{account}"}, "quarter", 422),
        ({"kind": "qbr", "account": "{account}", "quarter": "April"}, "quarter", 400),
        ({"kind": "invoice"}, "kind", 400),
        ({"kind": "proposal", "engagement": "{account}", "colour": "red"}, "colour", 400),
    ],
)
def test_bad_requests_are_a_4xx_naming_the_field_and_make_nothing(
    owner: User, discovered: Engagement, payload: dict[str, str], field: str, code: int
) -> None:
    body = {k: v.format(account=discovered.account.uuid) for k, v in payload.items()}

    response = api_client_for(owner).post(URL, body, format="json")

    assert response.status_code == code, response.json()
    assert field in response.json()["fields"]
    assert not Document.objects.exists()


def test_an_outsider_sees_no_documents_and_cannot_request_or_download_them(
    owner: User, outsider: User, discovered: Engagement, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        document = services.document_request(kind="proposal", engagement=discovered, actor=owner)
    services.document_render(document_id=document.pk)
    api = api_client_for(outsider)

    assert api.get(URL).json()["results"] == []
    assert api.get(f"{URL}{document.uuid}/").status_code == 404
    assert api.get(f"{URL}{document.uuid}/download/").status_code == 404
    refused = api.post(URL, {"kind": "proposal", "engagement": str(discovered.uuid)}, format="json")
    assert refused.status_code == 422  # an engagement they may not see does not exist for them
    assert Document.objects.count() == 1


def test_leadership_lists_every_qbr_and_the_delivery_manager_may_not_request_one(
    owner: User,
    leadership: User,
    delivery_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    account = quarter_account(owner=owner)
    with django_capture_on_commit_callbacks(execute=False):
        asked = api_client_for(leadership).post(
            URL,
            {"kind": "qbr", "account": str(account.uuid), "quarter": "2025-05-20"},
            format="json",
        )
    assert asked.status_code == 202
    assert asked.json()["quarter"] == QUARTER.isoformat()
    listed = api_client_for(leadership).get(URL).json()["results"]
    assert [d["id"] for d in listed] == [asked.json()["id"]]

    engagement = account.engagements.first()
    assert engagement is not None
    Engagement.objects.filter(pk=engagement.pk).update(delivery_manager=delivery_manager)
    response = api_client_for(delivery_manager).post(
        URL, {"kind": "qbr", "account": str(account.uuid), "quarter": "2025-05-20"}, format="json"
    )
    assert response.status_code == 403
    assert Document.objects.filter(status=DocumentStatus.QUEUED).count() == 1
