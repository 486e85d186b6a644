"""The session store on Redis keeps a process-local copy of each session read, and it is never stale: a write,
a delete (sign-out) or an expiry by any process is seen by the next read on every process, and a lost
invalidation listener sends every read back to Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from spyglass.core.session_store import ReplicatedRedisStore

StoreFactory = Callable[[], Awaitable[ReplicatedRedisStore]]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:sessions"


@pytest.fixture
async def make_store(redis_url: str, namespace: str) -> AsyncIterator[StoreFactory]:
    """Stores as separate web processes would have them: one Redis, one namespace, each with its own copies."""
    stores: list[ReplicatedRedisStore] = []

    async def make() -> ReplicatedRedisStore:
        store = ReplicatedRedisStore(redis_url, namespace=namespace)
        stores.append(store)
        await store.get("warm-up")  # starts the listener
        await wait_until(lambda: store.listening)
        return store

    try:
        yield make
    finally:
        for store in stores:
            await store.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def gets_sent(redis: Redis) -> int:
    """How many GET commands Redis has run (all clients)."""
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def test_a_session_read_again_is_answered_from_the_copy(make_store: StoreFactory, redis: Redis) -> None:
    store = await make_store()
    await store.set("abc", b"session data", expires_in=60)

    assert await store.get("abc") == b"session data"  # read from Redis, copied
    before = await gets_sent(redis)
    assert [await store.get("abc") for _ in range(20)] == [b"session data"] * 20
    assert await gets_sent(redis) == before, "repeated reads of an unchanged session went to Redis"


async def test_a_sign_out_on_another_process_is_seen_by_the_very_next_read(make_store: StoreFactory) -> None:
    first, second = await make_store(), await make_store()
    for attempt in range(30):
        key = f"session-{attempt}"
        await first.set(key, b"signed in", expires_in=60)
        assert await second.get(key) == b"signed in"  # second now holds a copy
        assert await second.get(key) == b"signed in"

        await first.delete(key)  # signing out on the first process
        assert await second.get(key) is None, f"attempt {attempt}: the second process still had the session"


async def test_a_change_on_another_process_is_seen_by_the_very_next_read(make_store: StoreFactory) -> None:
    first, second = await make_store(), await make_store()
    await first.set("abc", b"before", expires_in=60)
    assert await second.get("abc") == b"before"
    for attempt in range(30):
        value = f"after {attempt}".encode()
        await first.set("abc", value, expires_in=60)
        assert await second.get("abc") == value


async def test_a_write_by_the_plain_redis_store_is_seen_too(
    make_store: StoreFactory, redis_url: str, namespace: str
) -> None:
    """Same keys and values as Litestar's RedisStore: a process still running it shares sessions both ways."""
    store = await make_store()
    plain = RedisStore.with_client(url=redis_url, namespace=namespace)
    try:
        await plain.set("abc", b"from the plain store", expires_in=60)
        assert await store.get("abc") == b"from the plain store"
        await plain.delete("abc")
        assert await store.get("abc") is None
        await store.set("xyz", b"from the replicated store", expires_in=60)
        assert await plain.get("xyz") == b"from the replicated store"
    finally:
        await plain._shutdown()


async def test_a_copy_is_not_served_after_the_session_expires(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.set("short", b"idle session", expires_in=1)
    assert await store.get("short") == b"idle session"
    await asyncio.sleep(1.1)
    assert await store.get("short") is None


async def test_an_unknown_session_is_remembered_until_it_is_created(make_store: StoreFactory, redis: Redis) -> None:
    first, second = await make_store(), await make_store()
    assert await second.get("new") is None
    before = await gets_sent(redis)
    assert await second.get("new") is None
    assert await gets_sent(redis) == before, "the absence was not remembered"

    await first.set("new", b"created elsewhere", expires_in=60)
    assert await second.get("new") == b"created elsewhere"


async def test_without_its_listener_the_store_reads_redis_and_copies_again_once_it_is_back(
    make_store: StoreFactory, redis: Redis
) -> None:
    first, second = await make_store(), await make_store()
    await first.set("abc", b"before", expires_in=60)
    assert await second.get("abc") == b"before"

    await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # both listeners lose their connection
    await wait_until(lambda: not second.listening)
    await first.set("abc", b"changed while nobody listened", expires_in=60)
    before = await gets_sent(redis)
    assert await second.get("abc") == b"changed while nobody listened"
    assert await gets_sent(redis) > before, "a read without the listener must go to Redis"

    await wait_until(lambda: second.listening and first.listening)
    assert await second.get("abc") == b"changed while nobody listened"
    await first.delete("abc")
    assert await second.get("abc") is None


async def test_renewing_reads_and_the_other_store_operations_go_to_redis(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.set("abc", b"data", expires_in=60)
    assert await store.exists("abc")
    assert 58 <= (await store.expires_in("abc") or 0) <= 60
    assert await store.get("abc", renew_for=120) == b"data"
    assert 118 <= (await store.expires_in("abc") or 0) <= 120
    await store.delete_all()
    assert await store.get("abc") is None
