"""Per-user (or per-IP) rate limits: a moving window from the ``limits`` library, in memory or on Redis."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import MemoryStorage as SyncMemoryStorage
from limits.strategies import MovingWindowRateLimiter as SyncMovingWindowRateLimiter

from spyglass.core.errors import RateLimited
from spyglass.core.metrics import Metrics

CATEGORY_MESSAGES = {
    "login": "Too many sign-in attempts. Wait a few minutes before trying again.",
    "register": "Too many accounts were created from your address. Try again later.",
}


@dataclass(frozen=True)
class LimitStatus:
    """Where one key stands in one category's window."""

    category: str
    key: str
    limit: int
    remaining: int
    reset_in: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_in),
        }


class InlineMovingWindow:
    """The moving window in process memory, called inline with the async interface of the Redis strategy.

    ``limits``' async MemoryStorage hands an expiry pass to a worker thread on almost every request;
    that thread hop cost more than the rest of a request's rate-limit check. The synchronous storage
    does the same bookkeeping under a lock in microseconds (and expires old entries on a timer).
    """

    def __init__(self, storage: SyncMemoryStorage) -> None:
        self._strategy = SyncMovingWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self._strategy.hit(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._strategy.get_window_stats(item, *identifiers)

    async def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self._strategy.clear(item, *identifiers)


class RateLimiter:
    """Moving-window limits by category (``api``, ``login``, ...) and key (``user:42`` or ``ip:1.2.3.4``)."""

    def __init__(self, *, limits: dict[str, str], redis_url: str | None, metrics: Metrics, enabled: bool = True):
        self.items: dict[str, RateLimitItem] = {name: parse(spec) for name, spec in limits.items()}
        self.storage: Storage | SyncMemoryStorage
        self.strategy: MovingWindowRateLimiter | InlineMovingWindow
        if redis_url:
            self.storage = RedisStorage(redis_url.replace("redis://", "async+redis://", 1), implementation="redispy")
            self.strategy = MovingWindowRateLimiter(self.storage)
        else:
            self.storage = SyncMemoryStorage()
            self.strategy = InlineMovingWindow(self.storage)
        self.enabled = enabled
        self._metrics = metrics

    async def hit(self, category: str, key: str) -> LimitStatus:
        """Count one request; raise RateLimited (429) when the window is full."""
        item = self.items[category]
        if not self.enabled:
            return LimitStatus(category, key, item.amount, item.amount, 0)
        allowed = await self.strategy.hit(item, category, key)
        status = await self.status(category, key)
        if not allowed:
            self._metrics.rate_limited.labels(category).inc()
            headers = status.headers() | {"Retry-After": str(max(status.reset_in, 1))}
            message = CATEGORY_MESSAGES.get(category, "Too many requests. Please slow down and try again shortly.")
            raise RateLimited(
                f"{message} (limit: {item.amount} per {_window_text(item)}; retry in {max(status.reset_in, 1)} s)",
                detail={"category": category, "limit": item.amount, "retry_after": max(status.reset_in, 1)},
                headers=headers,
            )
        return status

    async def status(self, category: str, key: str) -> LimitStatus:
        """The current window of one key, without counting a request."""
        item = self.items[category]
        stats = await self.strategy.get_window_stats(item, category, key)
        reset_in = max(0, math.ceil(stats.reset_time - time.time()))
        return LimitStatus(category, key, item.amount, stats.remaining, reset_in)

    async def reset(self, category: str, key: str) -> None:
        """Empty one key's window (an admin action)."""
        await self.strategy.clear(self.items[category], category, key)

    async def reset_all(self, key: str) -> None:
        for category in self.items:
            await self.reset(category, key)

    async def statuses(self, key: str) -> list[LimitStatus]:
        return [await self.status(category, key) for category in self.items]


def _window_text(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
