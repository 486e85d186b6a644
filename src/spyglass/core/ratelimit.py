"""Per-user (or per-IP) rate limits: a moving window from the ``limits`` library, in memory or on Redis."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MovingWindowSupport, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

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

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """``headers()`` as ASGI header pairs (lower-case names)."""
        return [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % max(self.remaining, 0)),
            (b"ratelimit-reset", b"%d" % self.reset_in),
        ]


class InlineMemoryStorage(Storage, MovingWindowSupport):
    """Moving-window storage in this process's memory for ``limits``' strategy; used from the event loop only.

    ``limits``' own memory storages hand their expiry work to threads: the async one a ``to_thread`` on
    almost every request, the synchronous one a new timer thread every 10 ms holding a lock each request
    also needs. Either stalled a cached API read for longer than the rest of the request took. This one
    keeps a deque of hit times per key, prunes it on access and sweeps idle keys now and then.
    """

    STORAGE_SCHEME = None
    SWEEP_EVERY = 10_000

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, deque[float]] = {}
        self._expiry: dict[str, int] = {}
        self._hits = 0

    @staticmethod
    def _prune(events: deque[float], cutoff: float) -> None:
        while events and events[0] < cutoff:
            events.popleft()

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        events = self.events.setdefault(key, deque())
        self._expiry[key] = expiry
        self._prune(events, now - expiry)
        if len(events) + amount > limit:
            return False
        events.extend([now] * amount)
        self._hits += 1
        if self._hits % self.SWEEP_EVERY == 0:
            self._sweep(now)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        events = self.events.get(key)
        if events:
            self._prune(events, now - expiry)
        if not events:
            return now, 0
        return events[0], len(events)

    async def clear(self, key: str) -> None:
        self.events.pop(key, None)
        self._expiry.pop(key, None)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self.events)
        self.events.clear()
        self._expiry.clear()
        return count

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("only the moving window is kept in memory")

    async def get(self, key: str) -> int:
        raise NotImplementedError("only the moving window is kept in memory")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("only the moving window is kept in memory")

    def _sweep(self, now: float) -> None:
        for key in [k for k, events in self.events.items() if not events or events[-1] < now - self._expiry[k]]:
            self.events.pop(key, None)
            self._expiry.pop(key, None)


#: One round trip for a hit on Redis: ``limits``' moving-window acquire, then its window count, in one script
#: (the library runs them as two). Same list layout and key as ``limits``, so its ``clear`` and
#: ``get_window_stats`` keep working on the same windows. Returns {acquired, oldest entry in the window, count}.
HIT_AND_COUNT = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local acquired = 0
local entry = redis.call('lindex', KEYS[1], limit - 1)
if not (entry and tonumber(entry) >= now - expiry) then
    redis.call('lpush', KEYS[1], now)
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
    acquired = 1
end
local low, high, found = 0, redis.call('llen', KEYS[1]) - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local value = tonumber(redis.call('lindex', KEYS[1], mid))
    if value and value >= now - expiry then
        found = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if found then
    return {acquired, redis.call('lindex', KEYS[1], found), found + 1}
end
return {acquired, tostring(now), 0}
"""


class RateLimiter:
    """Moving-window limits by category (``api``, ``login``, ...) and key (``user:42`` or ``ip:1.2.3.4``)."""

    def __init__(self, *, limits: dict[str, str], redis_url: str | None, metrics: Metrics, enabled: bool = True):
        self.items: dict[str, RateLimitItem] = {name: parse(spec) for name, spec in limits.items()}
        self.storage: Storage = (
            RedisStorage(redis_url.replace("redis://", "async+redis://", 1), implementation="redispy")
            if redis_url
            else InlineMemoryStorage()
        )
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.enabled = enabled
        self._metrics = metrics
        self._hit_and_count: Any = None
        if isinstance(self.storage, RedisStorage):
            bridge: Any = self.storage.bridge  # the redis-py bridge (implementation="redispy" above)
            self._hit_and_count = bridge.get_connection().register_script(HIT_AND_COUNT)
            self._redis_key = bridge.prefixed_key

    async def hit(self, category: str, key: str) -> LimitStatus:
        """Count one request; raise RateLimited (429) when the window is full."""
        item = self.items[category]
        if not self.enabled:
            return LimitStatus(category, key, item.amount, item.amount, 0)
        if self._hit_and_count is not None:
            expiry = item.get_expiry()
            acquired, oldest, count = await self._hit_and_count(
                [self._redis_key(item.key_for(category, key))], [time.time(), item.amount, expiry]
            )
            allowed = bool(acquired)
            reset_in = max(0, math.ceil(float(oldest) + expiry - time.time()))
            status = LimitStatus(category, key, item.amount, item.amount - int(count), reset_in)
        else:
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
