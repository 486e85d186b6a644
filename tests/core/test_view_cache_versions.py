"""``Cache.get_versioned``, the view cache's read: a user's version of an area and the answer kept under it in
one round trip to Redis at most (none when the process holds both), the same in memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from spyglass.core.cache import Cache
from spyglass.core.metrics import Metrics
from spyglass.core.view_cache import VERSIONS, VIEWS

TTLS = {VIEWS: 30, VERSIONS: 3600}


@pytest.fixture
async def caches(redis_url: str) -> AsyncIterator[Callable[[], Cache]]:
    """Caches on the test Redis that share a private prefix: each one is a web process of its own."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    built: list[Cache] = []

    def build() -> Cache:
        built.append(Cache(redis_url=redis_url, ttls=TTLS, metrics=Metrics(), prefix=prefix))
        return built[-1]

    yield build
    for cache in built:
        await cache.close()


async def _commands(redis_url: str) -> dict[str, int]:
    client = Redis.from_url(redis_url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()}


async def _sent(redis_url: str, before: dict[str, int]) -> dict[str, int]:
    after = await _commands(redis_url)
    wanted = ("get", "set", "mget", "evalsha", "eval", "script|load")
    return {
        name: after.get(name, 0) - before.get(name, 0) for name in wanted if after.get(name, 0) != before.get(name, 0)
    }


async def test_a_hit_is_one_script_call_and_none_once_the_process_holds_the_keys(
    caches: Callable[[], Cache], redis_url: str
) -> None:
    one, two = caches(), caches()
    version, answer = await one.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page")
    assert answer is None  # a new version: nothing can be kept under it yet
    await one.set(VIEWS, f"1:{version}:page", (200, (), b"<html>"))
    await two.get_versioned(VERSIONS, "market.listings:9", VIEWS, "9:", ":page")  # loads the script once

    before = await _commands(redis_url)
    assert await two.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page") == (
        version,
        (200, (), b"<html>"),
    )
    # Another process: one round trip, not two or three (Redis counts the script's own two GETs too).
    assert await _sent(redis_url, before) == {"evalsha": 1, "get": 2}

    before = await _commands(redis_url)
    for _ in range(3):
        assert await two.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page") == (
            version,
            (200, (), b"<html>"),
        )
    assert await _sent(redis_url, before) == {}  # its own copies now, until Redis says a key changed
    assert (two.stats[VIEWS].hits, two.stats[VIEWS].misses) == (4, 1)

    # Another answer of the same version (another page) is one round trip again, a miss when not kept.
    before = await _commands(redis_url)
    assert await two.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":other") == (version, None)
    assert await _sent(redis_url, before) == {"evalsha": 1, "get": 2}


async def test_a_forgotten_version_is_replaced_on_every_process(caches: Callable[[], Cache], redis_url: str) -> None:
    one, two = caches(), caches()
    version, _ = await one.get_versioned(VERSIONS, "market.searches:1", VIEWS, "1:", ":page")
    await one.set(VIEWS, f"1:{version}:page", "old answer")
    assert await two.get_versioned(VERSIONS, "market.searches:1", VIEWS, "1:", ":page") == (version, "old answer")

    await one.invalidate(VERSIONS, "market.searches:1")  # a write on the first process
    renewed, answer = await one.get_versioned(VERSIONS, "market.searches:1", VIEWS, "1:", ":page")
    assert renewed != version and answer is None
    for _ in range(100):  # the second process drops its copy when Redis's invalidation message arrives
        seen, answer = await two.get_versioned(VERSIONS, "market.searches:1", VIEWS, "1:", ":page")
        if seen != version:
            break
        await asyncio.sleep(0.02)
    assert (seen, answer) == (renewed, None)
    # Versions are per area and per user: the others are untouched.
    other, _ = await two.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page")
    assert other not in (version, renewed)


async def test_a_version_an_older_release_stored_is_replaced(caches: Callable[[], Cache]) -> None:
    """Before get_versioned, versions were cashews values (pickled); a rolling upgrade meets them in Redis."""
    cache = caches()
    await cache.set(VERSIONS, "market.listings:1", "0a1b2c3d4e5f")
    version, answer = await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page")
    assert answer is None and version != "0a1b2c3d4e5f" and int(version, 16) >= 0
    assert (await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page"))[0] == version


async def test_in_memory_the_same_in_one_call() -> None:
    cache = Cache(redis_url=None, ttls=TTLS, metrics=Metrics())
    try:
        version, answer = await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page")
        assert answer is None
        await cache.set(VIEWS, f"1:{version}:page", "answer")
        assert await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page") == (version, "answer")
        await cache.invalidate(VERSIONS, "market.listings:1")
        renewed, answer = await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page")
        assert renewed != version and answer is None
        assert (cache.stats[VIEWS].hits, cache.stats[VIEWS].misses) == (1, 2)
    finally:
        await cache.close()


async def test_an_unanswered_script_gives_an_unknown_version_not_an_error(unused_tcp_port: int) -> None:
    """cashews answers a failed command with None (Redis gone, its connection pool exhausted under overload);
    the view cache then computes the page and keeps nothing, instead of failing the request with a 500."""
    cache = Cache(redis_url=f"redis://127.0.0.1:{unused_tcp_port}/0", ttls=TTLS, metrics=Metrics())
    try:
        assert await cache.get_versioned(VERSIONS, "market.listings:1", VIEWS, "1:", ":page") == ("", None)
    finally:
        await cache.close()


async def test_a_forget_redis_never_heard_raises_for_users_and_is_logged_for_views(
    unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A forget that cannot reach Redis must not pass for done: ``invalidate`` raises (a deactivated user's
    forget fails the admin's request, 503, instead of being lost). A view forget is logged instead: its change
    has committed, and the views it leaves stale are bounded by their TTL."""
    from redis.exceptions import RedisError

    from spyglass.core.view_cache import _forget_version

    cache = Cache(redis_url=f"redis://127.0.0.1:{unused_tcp_port}/0", ttls=TTLS, metrics=Metrics())
    try:
        with pytest.raises(RedisError):
            await cache.invalidate("users", 1)
        await _forget_version(cache, "market.listings", 1)
        assert "views not forgotten" in caplog.text
    finally:
        await cache.close()
