"""The cache: cashews in memory, or on Redis when ``SPYGLASS_REDIS_URL`` is set.

Keys live in namespaces (``users``, ``settings``, ``listings``, ``analytics`` ...)
with a TTL per namespace from the settings. Loads are single-flight per key in a
process, so a cold key under load is computed once (stampede protection). Hits
and misses are counted per namespace for ``/metrics`` and the admin cache page.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from cashews import Cache as CashewsCache
from cashews.backends.interface import Backend
from cashews.backends.redis import Redis as RedisBackend
from cashews.backends.redis import client_side
from redis.asyncio import Redis
from redis.exceptions import RedisError

from spyglass.core.metrics import Metrics

T = TypeVar("T")
_MISSING = object()
#: cashews' client-side copy of a key known to be missing in Redis.
_EMPTY_IN_REDIS = client_side._empty_in_redis
#: ``get_versioned`` on Redis: the version (kept, raw, when missing: nothing can be stored under a version just
#: made) and the value stored under it, in one round trip. The value's key is built here from the version. A
#: version that is not a hex token (one cashews pickled, written by an older release) is replaced.
_GET_VERSIONED = """
local version = redis.call("GET", KEYS[1])
if not version or not string.match(version, "^%x+$") then
    redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
    return {ARGV[1], false}
end
return {version, redis.call("GET", ARGV[3] .. version .. ARGV[4])}
"""


@dataclass
class NamespaceStats:
    """Hit and miss counts of one namespace since the process started."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


#: Connections to Redis one process's cache may hold at once (Redis itself serves thousands).
REDIS_MAX_CONNECTIONS = 128
#: How long a cache command waits for Redis's reply before it counts as failed (a miss).
REDIS_REPLY_TIMEOUT_SECONDS = 5.0
#: Tries of a forget (``Cache.invalidate``) on Redis before it fails, and the pause before the second one.
FORGET_TRIES = 3
FORGET_RETRY_SECONDS = 0.2


class Cache:
    """Namespaced get-or-load cache with invalidation and statistics."""

    def __init__(
        self, *, redis_url: str | None, ttls: dict[str, int], metrics: Metrics, prefix: str = "spyglass"
    ) -> None:
        self._backend = CashewsCache()
        self.prefix = prefix
        if redis_url:
            # Client-side caching keeps hot keys in process memory, invalidated by Redis's tracking messages.
            # protocol=2: cashews listens on the __redis__:invalidate channel, which Redis only uses for RESP2
            # connections; under redis-py 8's default RESP3 the messages never arrive and other processes
            # kept serving deleted keys until their TTL ran out.
            backend = self._backend.setup(
                redis_url,
                client_side=True,
                client_side_prefix=f"{prefix}:cs:",
                protocol=2,
                # cashews' defaults (10 connections, a 1 s reply timeout) fail requests under load: a busy event
                # loop holds each connection until it gets round to reading the reply, so ten are soon all
                # taken, and a reply read late counts as a timeout (each failure logged with its traceback).
                max_connections=REDIS_MAX_CONNECTIONS,
                socket_timeout=REDIS_REPLY_TIMEOUT_SECONDS,
            )
            self.backend_name = "redis"
        else:
            backend = self._backend.setup("mem://?size=100000")
            self.backend_name = "memory"
        # Reads and writes on the hot path call the backend itself: the wrapper's chain of middlewares (auto
        # init, "invalidate further", disable control, callbacks: none of which Spyglass uses) cost a twentieth
        # of a cached page. It is initialised once through the wrapper first (``_ready``).
        self._direct: Backend = backend
        #: Forgets go to Redis on a client that raises its errors (see ``invalidate``).
        self._forgetter: Redis | None = (
            Redis.from_url(redis_url, socket_timeout=REDIS_REPLY_TIMEOUT_SECONDS) if redis_url else None
        )
        self._ttls = ttls
        self._metrics = metrics
        self._locks: dict[str, asyncio.Lock] = {}
        self._versioned_script: Any = None
        self.stats: dict[str, NamespaceStats] = defaultdict(NamespaceStats)

    def ttl(self, namespace: str) -> int:
        return self._ttls.get(namespace, 60)

    def key(self, namespace: str, key: object) -> str:
        return f"{self.prefix}:{namespace}:{key}"

    async def _ready(self) -> Backend:
        if not self._direct.is_init:
            await self._backend.init()
        return self._direct

    async def get_or_load(self, namespace: str, key: object, loader: Callable[[], Awaitable[T]]) -> T:
        """The cached value, or ``loader()`` stored for the namespace's TTL. A TTL of 0 disables caching."""
        ttl = self.ttl(namespace)
        if ttl <= 0:
            return await loader()
        full_key = self.key(namespace, key)
        backend = await self._ready()
        value = await _read(backend, full_key)
        if value is not _MISSING:
            self._count(namespace, hit=True)
            return cast(T, value)
        lock = self._locks.setdefault(full_key, asyncio.Lock())
        async with lock:
            value = await _read(backend, full_key)
            if value is not _MISSING:
                self._count(namespace, hit=True)
                return cast(T, value)
            self._count(namespace, hit=False)
            loaded = await loader()
            await backend.set(full_key, loaded, expire=ttl)
        self._locks.pop(full_key, None)
        return loaded

    async def get(self, namespace: str, key: object, *, count: bool = True) -> Any | None:
        """The cached value, or None when there is none (counted as a hit or a miss unless ``count=False``)."""
        if self.ttl(namespace) <= 0:
            return None
        value = await _read(await self._ready(), self.key(namespace, key))
        value = None if value is _MISSING else value
        if count:
            self._count(namespace, hit=value is not None)
        return value

    async def set(self, namespace: str, key: object, value: Any) -> None:
        """Keep ``value`` (not None) for the namespace's TTL; nothing is kept when the TTL is 0."""
        ttl = self.ttl(namespace)
        if ttl > 0:
            await (await self._ready()).set(self.key(namespace, key), value, expire=ttl)

    async def get_versioned(
        self, versions: str, version_key: object, namespace: str, prefix: str, suffix: str
    ) -> tuple[str, Any | None]:
        """The version kept under ``version_key`` in ``versions`` (a new random one, kept, when there is none; forget
        it with ``invalidate``) and the value of ``namespace`` kept under ``f"{prefix}{version}{suffix}"`` (None when
        there is none, always so under a new version; nothing when the namespace's TTL is 0), counted as a hit or a
        miss of ``namespace``.

        One round trip at most: none when this process holds both keys (on Redis, cashews' client-side copies),
        else one script on Redis. Versions are stored raw, not as cashews values: read them only through here.
        When Redis cannot answer, the version is ``""`` (unknown: keep nothing under it) and the value None.
        """
        if self.ttl(namespace) <= 0:
            return "", None
        backend = await self._ready()
        full_version_key = self.key(versions, version_key)
        local = _client_side_copies(backend)
        if local is not None:
            version = await local.get(full_version_key, default=None)
            if isinstance(version, str):
                value = await local.get(self.key(namespace, f"{prefix}{version}{suffix}"), default=None)
                if _is_value(value):
                    self._count(namespace, hit=True)
                    return version, value
        if isinstance(backend, RedisBackend):
            version, value = await self._get_versioned_on_redis(
                backend, full_version_key, versions, namespace, prefix, suffix
            )
        else:
            version = await backend.get(full_version_key, default=None)
            if version is None:
                version, value = secrets.token_hex(6), None
                await backend.set(full_version_key, version, expire=self.ttl(versions))
            else:
                value = await backend.get(self.key(namespace, f"{prefix}{version}{suffix}"), default=None)
        self._count(namespace, hit=value is not None)
        return str(version), value

    async def _get_versioned_on_redis(
        self, backend: Any, version_key: str, versions: str, namespace: str, prefix: str, suffix: str
    ) -> tuple[str, Any | None]:
        # cashews has no public way to run a script or to reach its client-side copies: its backend's own
        # client, key prefix and value decoding are used (cashews is pinned below 8; tests/core cover this).
        if self._versioned_script is None:
            self._versioned_script = backend._client.register_script(_GET_VERSIONED)
        local = _client_side_copies(backend)
        keys = [_in_redis(backend, local, version_key)]
        args = [secrets.token_hex(6), self.ttl(versions) * 1000, _in_redis(backend, local, self.key(namespace, prefix))]
        answer, unchanged = await _read_marked(
            local, version_key, lambda: self._versioned_script(keys=keys, args=[*args, suffix])
        )
        if answer is None:  # cashews' client answers a failed command (Redis down, pool exhausted) with None
            return "", None
        raw_version, raw_value = answer
        version = raw_version.decode()
        value_key = self.key(namespace, f"{prefix}{version}{suffix}")
        value = None if raw_value is None else await backend._transform_value(value_key, raw_value, None)
        # Kept until Redis says the key changed, never longer than the namespace's TTL, and not at all when it said
        # so during the read: the version read may be the one a write forgot meanwhile.
        if local is not None and unchanged:
            await local.set(version_key, version, expire=self.ttl(namespace))
            if value is not None:
                await local.set(value_key, value, expire=self.ttl(namespace))
        return version, value

    async def invalidate(self, namespace: str, key: object) -> None:
        """Forget one key; the next read loads it again.

        On Redis the forget is sent on a connection of its own that does not hide errors (cashews' does: a
        delete that never reached Redis looks like one that found nothing), tried ``FORGET_TRIES`` times; when
        Redis still cannot be told, ``redis.exceptions.RedisError`` is raised (the request answers 503) rather
        than let another process go on answering what was forgotten, such as a deactivated user.
        """
        full_key = self.key(namespace, key)
        backend = await self._ready()
        local = _client_side_copies(backend)
        if self._forgetter is None or not isinstance(backend, RedisBackend):
            await self._backend.delete(full_key)
            return
        if local is not None:
            await local.delete(full_key)
        in_redis = _in_redis(backend, local, full_key)
        for attempt in range(1, FORGET_TRIES + 1):
            try:
                await self._forgetter.unlink(in_redis)
                return
            except RedisError:
                if attempt == FORGET_TRIES:
                    raise
                await asyncio.sleep(FORGET_RETRY_SECONDS * attempt)

    async def clear_namespace(self, namespace: str) -> None:
        """Forget every key of a namespace."""
        await self._backend.delete_match(f"{self.prefix}:{namespace}:*")

    async def clear_all(self) -> None:
        """Forget every Spyglass key (other data in the same Redis database is left alone)."""
        await self._backend.delete_match(f"{self.prefix}:*")

    def _count(self, namespace: str, *, hit: bool) -> None:
        stats = self.stats[namespace]
        if hit:
            stats.hits += 1
            self._metrics.child(self._metrics.cache_hits, namespace).inc()
        else:
            stats.misses += 1
            self._metrics.child(self._metrics.cache_misses, namespace).inc()

    async def ping(self) -> bool:
        try:
            await self._backend.ping()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._forgetter is not None:
            await self._forgetter.aclose()
        try:
            await self._backend.close()
        except asyncio.CancelledError:
            # When Redis was unreachable at start, cashews cancels its invalidation listener and later
            # awaits it in close(); that CancelledError is not ours to propagate unless we are cancelled.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend_name, "ttls": dict(self._ttls)}


class _Reading:
    """What stands in cashews' client-side copies while a key is read from Redis: an invalidation message of the
    key that reaches the process meanwhile (the key changed after the read) drops it, and the value read is then
    not kept. (cashews copies the values it keeps; this one is kept as itself.)"""

    def __copy__(self) -> _Reading:
        return self


async def _read_marked(local: Backend | None, key: str, read: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
    """``read()`` (a read of ``key`` from Redis) with ``key`` marked as being read in the process's copies (see
    ``_Reading``): its answer, and whether no invalidation of ``key`` reached the process meanwhile. The mark is
    removed however the read ends."""
    reading = _Reading()
    if local is not None:
        await local.set(key, reading)
    try:
        answer = await read()
    finally:
        unchanged = False
        if local is not None and await local.get(key, default=None) is reading:
            await local.delete(key)
            unchanged = True
    return answer, unchanged


def _in_redis(backend: Any, local: Backend | None, key: str) -> str:
    """The name of ``key`` in Redis: with client-side copies, cashews stores it under its own prefix."""
    return str(backend._add_prefix(key)) if local is not None else key


async def _read(backend: Backend, key: str) -> Any:
    """The value of ``key``, or ``_MISSING``. With cashews' client-side copies: the process's copy, else Redis's
    value, kept as the copy only when no invalidation of the key arrived during the read. cashews' own ``get``
    keeps it regardless: a value read just before another process changed or deleted the key (a user before
    ``forget_user``) was answered from memory, without expiry, until the key happened to change again."""
    local = _client_side_copies(backend)
    if local is None:
        return await backend.get(key, default=_MISSING)
    copy = await local.get(key, default=_MISSING)
    if copy is _EMPTY_IN_REDIS:
        return _MISSING
    if copy is not _MISSING and not isinstance(copy, _Reading):
        return copy
    in_redis = _in_redis(backend, local, key)
    raw, unchanged = await _read_marked(local, key, lambda: backend._client.get(in_redis))  # type: ignore[attr-defined]
    value = await backend._transform_value(in_redis, raw, _MISSING)  # type: ignore[attr-defined]  # as cashews
    if unchanged:
        await local.set(key, _EMPTY_IN_REDIS if value is _MISSING else value)
    return value


def _client_side_copies(backend: Backend) -> Backend | None:
    """cashews' in-process copies of Redis keys, when they are in use (its invalidation listener runs)."""
    local = getattr(backend, "_local_cache", None)
    started = getattr(backend, "_listen_started", None)
    return local if local is not None and started is not None and started.is_set() else None


def _is_value(value: Any) -> bool:
    """Whether a client-side copy is a value (not None, nor cashews' marker of a key known to be missing)."""
    return value is not None and value is not _EMPTY_IN_REDIS and not isinstance(value, _Reading)
