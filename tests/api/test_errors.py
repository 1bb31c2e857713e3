"""What an integrator meets when a request goes wrong: one JSON shape, 400 for what the schema
refuses, 422 for what the data refuses, and the docs served without any CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from engagements.api import AccountViewSet
from engagements.models import Account, Engagement
from tcp.models import User
from tests.api.conftest import api_client_for

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"type", "message"}


def test_an_unknown_path_or_a_malformed_id_is_the_apis_json_404(leadership: User) -> None:
    api = api_client_for(leadership)
    for path in ("/api/v1/no-such-thing/", "/api/v1/accounts/not-a-uuid/", "/api/v1/accounts/x/y/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == ERROR_KEYS
        assert response.json()["type"] == "not_found"


def test_a_wrong_type_is_a_400_and_a_missing_record_a_422_both_naming_the_field(
    leadership: User, account: Account, owner: User
) -> None:
    api = api_client_for(leadership)
    body = {"account": str(account.uuid), "name": "Archive", "commercial_lead": owner.username}
    wrong_type = api.post("/api/v1/engagements/", {**body, "value": 1000}, format="json")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["fields"] == {
        "value": ['Give the number as a string, e.g. "1000.00".']
    }
    missing = api.post(
        "/api/v1/engagements/", {**body, "value": "1000.00", "account": "nope"}, format="json"
    )
    assert missing.status_code == 422
    assert missing.json()["type"] == "unprocessable"
    assert list(missing.json()["fields"]) == ["account"]
    below = api.post("/api/v1/engagements/", {**body, "value": "-1.00"}, format="json")
    assert below.status_code == 422
    assert "value" in below.json()["fields"]
    assert not Engagement.objects.exists()


@pytest.mark.parametrize(
    "value",
    ["2026-01-01", "2026-01-01T00:00", "2026-01-01 00:00:00Z", "2026-13-01T00:00:00Z", ""],
)
def test_updated_since_takes_rfc_3339_only(leadership: User, value: str) -> None:
    response = api_client_for(leadership).get("/api/v1/accounts/", {"updated_since": value})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["updated_since"]


def test_updated_since_at_the_ends_of_the_calendar_is_read_not_refused(
    leadership: User, account: Account
) -> None:
    api = api_client_for(leadership)
    earliest = api.get("/api/v1/accounts/", {"updated_since": "0001-01-01T00:00:00+23:59"})
    assert earliest.status_code == 200
    assert [row["id"] for row in earliest.json()["results"]] == [str(account.uuid)]
    latest = api.get("/api/v1/accounts/", {"updated_since": "9999-12-31T23:59:60-23:59"})
    assert latest.status_code == 200
    assert latest.json()["results"] == []


def test_a_fault_of_ours_is_a_json_500(leadership: User, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(AccountViewSet, "list", broken)
    response = api_client_for(leadership).get("/api/v1/accounts/")
    assert response.status_code == 500
    assert response.json()["type"] == "server_error"
    assert "boom" not in response.json()["message"]


def test_the_docs_are_served_with_their_scripts_from_our_own_static_files(db: None) -> None:
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        # Our own origin only: a static file we ship, or the page's own init script.
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset
        else:
            assert Client().get(asset).status_code == 200, asset
    assert any(a.startswith("/static/") and a.endswith(".js") for a in assets)
    assert "https://" not in html
    assert "http://" not in html
