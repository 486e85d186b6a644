"""Read replica routing: which reads may go to a streaming replica, and read-your-writes.

A read that opts in (``Database.session(replica_ok=True)``) goes to the replica unless

- the user acting in this request wrote in the last ``window_seconds`` (their own writes may not have
  replayed on the replica yet, so they read the primary: read-your-writes), or
- the replica could not be reached in the last ``retry_seconds`` (reads fall back to the primary:
  a slower page beats an error page; see docs/decisions/read-replica-routing.md).

Who wrote recently is kept in Redis when ``SPYGLASS_REDIS_URL`` is set, so every web process agrees;
in memory otherwise (one process).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Protocol

from prometheus_client import Counter

logger = logging.getLogger("spyglass.replica")

#: The id of the signed-in user this request acts for (set by the auth middleware), None outside requests.
acting_user_id: ContextVar[int | None] = ContextVar("spyglass_acting_user_id", default=None)


class RecentWriters(Protocol):
    """Remembers which users wrote in the last few seconds."""

    async def mark(self, user_id: int) -> None:
        """Record that ``user_id`` is writing now."""

    async def wrote_recently(self, user_id: int) -> bool:
        """Whether ``user_id`` wrote within the window."""

    async def close(self) -> None:
        """Release connections."""


class MemoryRecentWriters:
    """Recent writers in this process's memory (the embedded mode, one process)."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] | None = None) -> None:
        self.window_seconds = window_seconds
        self._clock = clock or time.monotonic
        self._until: dict[int, float] = {}

    async def mark(self, user_id: int) -> None:
        now = self._clock()
        if len(self._until) > 10_000:  # forget expired entries now and then so the dict stays small
            self._until = {uid: until for uid, until in self._until.items() if until > now}
        self._until[user_id] = now + self.window_seconds

    async def wrote_recently(self, user_id: int) -> bool:
        return self._until.get(user_id, 0.0) > self._clock()

    async def close(self) -> None:
        self._until.clear()


class RedisRecentWriters:
    """Recent writers as expiring Redis keys, shared by every web process."""

    def __init__(self, redis_url: str, window_seconds: float, prefix: str = "spyglass:recent-writer") -> None:
        from redis.asyncio import Redis

        self.window_seconds = window_seconds
        self._redis = Redis.from_url(redis_url)
        self._prefix = prefix

    async def mark(self, user_id: int) -> None:
        await self._redis.set(f"{self._prefix}:{user_id}", b"1", px=max(1, int(self.window_seconds * 1000)))

    async def wrote_recently(self, user_id: int) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:{user_id}"))

    async def close(self) -> None:
        await self._redis.aclose()


def recent_writers(redis_url: str | None, window_seconds: float) -> RecentWriters:
    """Redis-backed when a Redis URL is configured, in memory otherwise."""
    if redis_url:
        return RedisRecentWriters(redis_url, window_seconds)
    return MemoryRecentWriters(window_seconds)


class ReplicaRouting:
    """Decides, per read, between the replica and the primary; counts the decisions for ``/metrics``."""

    def __init__(self, writers: RecentWriters, *, retry_seconds: float, reads: Counter | None = None) -> None:
        self.writers = writers
        self.retry_seconds = retry_seconds
        self._reads = reads
        self._down_until = 0.0

    async def note_write(self) -> None:
        """The acting user (if any) is writing: their reads stay on the primary for the window."""
        user_id = acting_user_id.get()
        if user_id is not None:
            await self.note_writer(user_id)

    async def note_writer(self, user_id: int) -> None:
        """Something changed ``user_id``'s data: their reads stay on the primary for the window."""
        try:
            await self.writers.mark(user_id)
        except Exception:  # Redis away: the write itself must not fail for it
            logger.warning("could not record a recent writer; their next reads may lag", exc_info=True)

    async def choose(self) -> str:
        """``"replica"`` or the reason the read goes to the primary (``"own-write"``, ``"replica-down"``)."""
        if time.monotonic() < self._down_until:
            return self.count("replica-down")
        user_id = acting_user_id.get()
        if user_id is not None:
            try:
                if await self.writers.wrote_recently(user_id):
                    return self.count("own-write")
            except Exception:  # unknown: the primary is always fresh
                logger.warning("could not check recent writers; reading the primary", exc_info=True)
                return self.count("own-write")
        return self.count("replica")

    def mark_down(self, error: BaseException) -> None:
        """The replica failed to connect: read the primary for ``retry_seconds``."""
        self._down_until = time.monotonic() + self.retry_seconds
        logger.warning("read replica unreachable, reading the primary for %.0f s: %s", self.retry_seconds, error)

    def count(self, target: str) -> str:
        if self._reads is not None:
            self._reads.labels(target=target).inc()
        return target
