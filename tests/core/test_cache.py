"""The cache, in memory and on Redis: writes are visible on the next read once invalidated, a TTL of 0
turns caching off, hits and misses are counted, a cold key is loaded once however many ask at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from spyglass.accounts.models import UserSettings
from spyglass.core.cache import Cache
from spyglass.core.metrics import Metrics
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.factories import create_user

CacheFactory = Callable[..., Cache]


@pytest.fixture(params=["memory", "redis"])
async def make_cache(request: pytest.FixtureRequest) -> AsyncIterator[CacheFactory]:
    """Build caches on the parametrized backend; caches built in one test share a private key prefix."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    built: list[Cache] = []

    def build(ttls: dict[str, int] | None = None, metrics: Metrics | None = None) -> Cache:
        cache = Cache(redis_url=redis_url, ttls=ttls or {"settings": 300}, metrics=metrics or Metrics(), prefix=prefix)
        built.append(cache)
        return cache

    yield build
    for cache in built:
        await cache.close()


def counting_loader(value: object = "loaded", delay: float = 0.0) -> tuple[list[int], Callable[[], Awaitable[object]]]:
    calls: list[int] = []

    async def load() -> object:
        calls.append(1)
        if delay:
            await asyncio.sleep(delay)
        return value

    return calls, load


@pytest.mark.parametrize("cache_backend", ["memory", "redis"])
async def test_a_write_is_visible_on_the_next_read(
    tmp_path: Path, database_url: str, cache_backend: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if cache_backend == "redis" else None
    services = Services.build(make_settings(tmp_path, database_url, redis_url=redis_url))
    try:
        await services.cache.clear_all()
        user = await create_user(services)

        async def display_name() -> str:
            async def load() -> str:
                async with services.db.session() as session:
                    row = await session.get(UserSettings, user.id)
                    assert row is not None
                    return row.display_name

            return await services.cache.get_or_load("settings", user.id, load)

        assert await display_name() == ""
        async with services.db.session(write=True) as session:
            await session.execute(
                update(UserSettings).where(UserSettings.user_id == user.id).values(display_name="Ann")
            )
        assert await display_name() == "", "the cached value is served until the write invalidates it"

        await services.cache.invalidate("settings", user.id)

        assert await display_name() == "Ann"
        assert services.cache.stats["settings"].misses == 2
        assert services.cache.stats["settings"].hits == 1
    finally:
        await services.close()


async def test_ttl_zero_disables_caching(make_cache: CacheFactory) -> None:
    cache = make_cache({"analytics": 0})
    calls, load = counting_loader()

    for _ in range(3):
        assert await cache.get_or_load("analytics", "k", load) == "loaded"

    assert len(calls) == 3
    assert cache.stats["analytics"].hits == cache.stats["analytics"].misses == 0


async def test_entries_expire_after_their_ttl(make_cache: CacheFactory) -> None:
    cache = make_cache({"listings": 1})
    calls, load = counting_loader()

    await cache.get_or_load("listings", "page-1", load)
    await cache.get_or_load("listings", "page-1", load)
    assert len(calls) == 1
    await asyncio.sleep(1.3)
    await cache.get_or_load("listings", "page-1", load)

    assert len(calls) == 2


async def test_hits_and_misses_are_counted_in_stats_and_metrics(make_cache: CacheFactory) -> None:
    metrics = Metrics()
    cache = make_cache({"settings": 300, "users": 300}, metrics)
    _, load = counting_loader({"page_size": 25})

    await cache.get_or_load("settings", 1, load)
    await cache.get_or_load("settings", 1, load)
    await cache.get_or_load("settings", 1, load)
    await cache.get_or_load("users", 1, load)

    assert (cache.stats["settings"].hits, cache.stats["settings"].misses) == (2, 1)
    assert cache.stats["settings"].hit_ratio == pytest.approx(2 / 3)
    text = metrics.render().decode()
    assert 'spyglass_cache_hits_total{namespace="settings"} 2.0' in text
    assert 'spyglass_cache_misses_total{namespace="settings"} 1.0' in text
    assert 'spyglass_cache_misses_total{namespace="users"} 1.0' in text


async def test_twenty_concurrent_cold_reads_load_once(make_cache: CacheFactory) -> None:
    cache = make_cache()
    calls, load = counting_loader({"display_name": "Ann"}, delay=0.05)

    values = await asyncio.gather(*(cache.get_or_load("settings", 7, load) for _ in range(20)))

    assert len(calls) == 1
    assert all(value == {"display_name": "Ann"} for value in values)
    assert cache.stats["settings"].misses == 1
    assert cache.stats["settings"].hits == 19


async def test_clear_namespace_leaves_other_namespaces(make_cache: CacheFactory) -> None:
    cache = make_cache({"settings": 300, "users": 300})
    settings_calls, settings_load = counting_loader()
    users_calls, users_load = counting_loader()
    await cache.get_or_load("settings", 1, settings_load)
    await cache.get_or_load("users", 1, users_load)

    await cache.clear_namespace("settings")
    await cache.get_or_load("settings", 1, settings_load)
    await cache.get_or_load("users", 1, users_load)

    assert (len(settings_calls), len(users_calls)) == (2, 1)


async def test_a_missing_object_is_cached_too(make_cache: CacheFactory) -> None:
    cache = make_cache({"users": 300})
    calls, load = counting_loader(None)

    assert await cache.get_or_load("users", 404, load) is None
    assert await cache.get_or_load("users", 404, load) is None

    assert len(calls) == 1


async def test_two_instances_on_one_redis_share_values_and_invalidations(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = Cache(redis_url=redis_url, ttls={"settings": 300}, metrics=Metrics(), prefix=prefix)
    second = Cache(redis_url=redis_url, ttls={"settings": 300}, metrics=Metrics(), prefix=prefix)
    try:
        _, load_old = counting_loader("old")
        new_calls, load_new = counting_loader("new")
        assert await first.get_or_load("settings", 1, load_old) == "old"
        assert await second.get_or_load("settings", 1, load_new) == "old", "the second process reads the shared value"
        assert second.stats["settings"].hits == 1

        await first.invalidate("settings", 1)  # a write handled by the first web process

        # Client-side copies are dropped by Redis's invalidation message; allow it a moment to arrive.
        for _ in range(50):
            if await second.get_or_load("settings", 1, load_new) == "new":
                break
            await asyncio.sleep(0.02)
        assert await second.get_or_load("settings", 1, load_new) == "new"
        assert len(new_calls) == 1
    finally:
        await first.close()
        await second.close()
