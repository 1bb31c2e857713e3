from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tcp.models import ApiToken, User
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _call(raw: str, path: str = "/api/v1/accounts/") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client.get(path).status_code


def test_the_command_prints_a_token_once_and_stores_only_its_hash(owner: User) -> None:
    out = StringIO()
    call_command("create_api_token", "owner", "--name", "Salesforce sync", stdout=out)
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=owner)
    assert token.name == "Salesforce sync"
    assert raw not in (token.key_hash, token.hint)
    assert token.key_hash == ApiToken.hash(raw)
    assert _call(raw) == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_command_refuses_an_unknown_username(db: None) -> None:
    with pytest.raises(CommandError, match="No active person"):
        call_command("create_api_token", "nobody")


def test_a_revoked_or_expired_token_is_refused_with_401(owner: User) -> None:
    out = StringIO()
    call_command("create_api_token", "owner", stdout=out)
    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    token.expires_at = timezone.now() - dt.timedelta(seconds=1)
    token.save()
    assert _call(raw) == 401
    token.expires_at = None
    token.revoked_at = timezone.now()
    token.save()
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json()["type"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_is_a_401_not_a_login_redirect(db: None) -> None:
    response = APIClient().get("/api/v1/engagements/")
    assert response.status_code == 401
    assert response.json()["message"]


def test_a_person_makes_a_token_on_the_page_sees_it_once_and_revokes_it(owner: User) -> None:
    client = client_for(owner)
    response = client.post("/api-tokens/", {"name": "HubSpot"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw.startswith(ApiToken.PREFIX)
    assert _call(raw) == 200
    page = client.get("/api-tokens/").content.decode()
    assert "HubSpot" in page
    assert raw not in page
    token = ApiToken.objects.get(user=owner)
    assert client.post(f"/api-tokens/{token.pk}/revoke/").status_code == 302
    assert _call(raw) == 401


def test_the_token_form_refuses_a_blank_name_or_a_past_expiry_beside_the_field(
    owner: User,
) -> None:
    client = client_for(owner)
    response = client.post("/api-tokens/", {"name": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    past = (timezone.localtime() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/api-tokens/", {"name": "Old", "expires_at": past})
    assert response.status_code == 400
    assert "future" in str(response.context["form"].errors)
    assert not ApiToken.objects.exists()


def test_nobody_revokes_someone_elses_token(owner: User, outsider: User) -> None:
    call_command("create_api_token", "owner", stdout=StringIO())
    token = ApiToken.objects.get()
    assert client_for(outsider).post(f"/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_calls_beyond_the_rate_get_429_with_retry_after(
    owner: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tcp.api_auth import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/minute"})
    out = StringIO()
    call_command("create_api_token", "owner", stdout=out)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    codes = [client.get("/api/v1/accounts/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/v1/accounts/")
    assert refused.json()["type"] == "throttled"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
