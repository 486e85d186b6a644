"""Live run events (progress, stage, status) for run pages: in process, or over Redis pub/sub so a
browser connected to any web instance sees events published by any worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

logger = logging.getLogger("spyglass.engine.events")
CHANNEL_PREFIX = "spyglass:run-events:"


class RunEvents:
    """Publish and subscribe to the events of one run."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._redis: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url)

    async def publish(self, run_id: int, event: dict[str, Any]) -> None:
        """Send an event to everyone watching ``run_id``; never raises (live events are best effort)."""
        payload = {"run_id": run_id, **event}
        if self._redis is not None:
            try:
                await self._redis.publish(f"{CHANNEL_PREFIX}{run_id}", json.dumps(payload))
            except Exception as exc:
                logger.warning("could not publish run event", extra={"run_id": run_id, "error": str(exc)})
            return
        for queue in list(self._subscribers.get(run_id, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    async def subscribe(self, run_id: int) -> AsyncIterator[dict[str, Any]]:
        """Yield the events of ``run_id`` as they are published, until the caller stops iterating."""
        if self._redis is not None:
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(f"{CHANNEL_PREFIX}{run_id}")
            try:
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        yield json.loads(message["data"])
            finally:
                await pubsub.unsubscribe()
                await pubsub.aclose()
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers[run_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers[run_id].discard(queue)
            if not self._subscribers[run_id]:
                self._subscribers.pop(run_id, None)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
