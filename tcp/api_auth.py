"""Who is calling the API: a person's token (`Authorization: Bearer …`) or their browser
session, and how often they may call. Kept apart from tcp.api because DRF imports these
classes while it loads, before the views can be imported."""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tcp.models import ApiToken, User
from tcp.pagecache import remembered

# How often last_used_at is written: once a minute is enough to tell live tokens from dead
# ones, and it spares a write on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# The last use this process wrote for each token: writing it leaves the data generation
# where it was (migration tcp 0006), so the token kept by its lookup still holds the
# last use it was looked up with.
_written: dict[int, dt.datetime] = {}


def _usable_token(key_hash: str) -> ApiToken | None:
    return ApiToken.objects.usable().select_related("user").filter(key_hash=key_hash).first()


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; the token is looked up by its hash."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword.lower() not in self.keywords:
            return None
        raw = raw.strip()
        if not raw or " " in raw or len(raw) > 200:
            raise exceptions.AuthenticationFailed("The Authorization header is malformed.")
        key_hash = ApiToken.hash(raw)
        # Kept while the data stands still: revoking the token or deactivating its person
        # moves the generation, and its expiry is checked on every call.
        token = remembered(request, "api-token", key_hash, lambda: _usable_token(key_hash))
        if token is None or not token.is_usable:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        now = timezone.now()
        last = max((t for t in (token.last_used_at, _written.get(token.pk)) if t), default=None)
        if last is None or now - last > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            _written[token.pk] = now
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Answering 401 (not 403) with a challenge tells a client its credentials are wrong.
        return 'Bearer realm="api"'


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (or per signed-in person using the browsable docs), counted in
    fixed windows in Redis: one round trip per request, where DRF's default keeps a list of
    timestamps and reads and writes it (two)."""

    scope = "api"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.key_hash[:24]}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return f"parity:throttle:{self.scope}:{ident}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.retry_after = (window + 1) * self.duration - now
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(f"{key}:{window}")
        pipe.expire(f"{key}:{window}", self.duration + 1)
        count, _ = pipe.execute()
        return int(count) <= self.num_requests

    def wait(self) -> float | None:
        return max(self.retry_after, 1.0)
