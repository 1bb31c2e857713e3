"""The cache is Redis itself, reached through one shared client per connection pool."""

from __future__ import annotations

from django.core.cache import cache


def test_values_round_trip_through_redis_and_every_call_shares_one_client() -> None:
    cache.set("cache-test:key", {"figure": 42}, 30)
    assert cache.get("cache-test:key") == {"figure": 42}
    client = cache._cache.get_client("cache-test:key")  # type: ignore[attr-defined]
    # Really in Redis, under Django's key, not in this process.
    assert client.exists(cache.make_key("cache-test:key")) == 1
    assert cache._cache.get_client(write=True) is client  # type: ignore[attr-defined]
    cache.delete("cache-test:key")
    assert cache.get("cache-test:key") is None
