"""Django's Redis cache, with one redis-py client per connection pool.

Django's client builds a new redis.Redis for every cache call, and each one fills its table
of reply handlers (some 170 entries) first: about 0.1 ms a call, and a page makes two or
three (the session, the scorecard's board). A redis.Redis is meant to be shared: it holds
no connection of its own, only the pool, which hands out connections per call and starts
afresh in a forked worker."""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # Django's own helpers, which its stubs leave out.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            self._clients[id(pool)] = client
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
