"""Rate limits: exactly N requests pass, the next gets 429 with Retry-After and RateLimit-* headers;
on Redis the window is shared by every web instance; an admin reset empties it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
from spyglass.accounts.models import ApiToken
from spyglass.app import create_app
from spyglass.core.errors import RateLimited
from spyglass.core.metrics import Metrics
from spyglass.core.ratelimit import InlineMemoryStorage, RateLimiter
from spyglass.core.security import new_token
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import create_user

LimiterFactory = Callable[..., RateLimiter]


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> LimiterFactory:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None

    def build(limit: str = "3/minute", metrics: Metrics | None = None, enabled: bool = True) -> RateLimiter:
        return RateLimiter(limits={"api": limit}, redis_url=redis_url, metrics=metrics or Metrics(), enabled=enabled)

    return build


@pytest.fixture
def key() -> str:
    """A key no other test uses (Redis outlives a single test)."""
    return f"user:{uuid.uuid4().hex}"


async def test_exactly_n_requests_pass_then_429(make_limiter: LimiterFactory, key: str) -> None:
    metrics = Metrics()
    limiter = make_limiter("3/minute", metrics)

    remaining = [(await limiter.hit("api", key)).remaining for _ in range(3)]
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("api", key)

    assert remaining == [2, 1, 0]
    error = refused.value
    assert error.status_code == 429
    assert error.headers["RateLimit-Limit"] == "3"
    assert error.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(error.headers["Retry-After"]) <= 60
    assert int(error.headers["RateLimit-Reset"]) <= 60
    assert "limit: 3 per minute" in error.message
    assert error.detail == {"category": "api", "limit": 3, "retry_after": int(error.headers["Retry-After"])}
    assert 'spyglass_rate_limit_rejections_total{category="api"} 1.0' in metrics.render().decode()


async def test_keys_are_counted_apart(make_limiter: LimiterFactory, key: str) -> None:
    limiter = make_limiter("1/minute")
    await limiter.hit("api", key)

    other = await limiter.hit("api", key + "-other")

    assert other.remaining == 0
    with pytest.raises(RateLimited):
        await limiter.hit("api", key)


async def test_reset_empties_the_window(make_limiter: LimiterFactory, key: str) -> None:
    limiter = make_limiter("2/minute")
    await limiter.hit("api", key)
    await limiter.hit("api", key)

    await limiter.reset_all(key)

    assert (await limiter.status("api", key)).remaining == 2
    assert (await limiter.hit("api", key)).remaining == 1


async def test_disabled_limits_never_refuse(make_limiter: LimiterFactory, key: str) -> None:
    limiter = make_limiter("1/minute", enabled=False)
    for _ in range(5):
        await limiter.hit("api", key)


async def test_two_instances_on_one_redis_share_the_window(redis_url: str, key: str) -> None:
    """What "exact limits across web instances" means: the window lives in Redis, not in a process."""
    first = RateLimiter(limits={"api": "3/minute"}, redis_url=redis_url, metrics=Metrics())
    second = RateLimiter(limits={"api": "3/minute"}, redis_url=redis_url, metrics=Metrics())

    await first.hit("api", key)
    await second.hit("api", key)
    await first.hit("api", key)
    with pytest.raises(RateLimited):
        await second.hit("api", key)
    with pytest.raises(RateLimited):
        await first.hit("api", key)

    await second.reset("api", key)
    assert (await first.hit("api", key)).remaining == 2


@pytest.fixture
async def limited_services(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    services = Services.build(make_settings(tmp_path, database_url, rate_limit_api="3/minute"))
    try:
        yield services
    finally:
        await services.close()


async def test_api_answers_429_past_the_limit_with_headers(limited_services: Services) -> None:
    user = await create_user(limited_services)
    raw = new_token(TOKEN_PREFIX)
    async with limited_services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name="bench", token_hash=hash_token(raw), prefix=raw[:8]))
    headers = {"Authorization": f"Bearer {raw}"}
    app = create_app(limited_services.settings, services=limited_services)

    async with app_client(app, lifespan=False) as client:
        answers = [await client.get("/api/v1/me", headers=headers) for _ in range(4)]
        health = [await client.get("/health") for _ in range(5)]
        anonymous = [await client.get("/api/v1/me") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.headers["RateLimit-Limit"] == "3"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"].startswith("Too many requests")
    assert refused.json()["detail"]["category"] == "api"
    assert all(r.status_code == 200 for r in health), "/health has no rate limit"
    assert [r.status_code for r in anonymous] == [401, 401, 401, 429], "anonymous callers are limited per IP"


async def test_the_window_moves_on(make_limiter: LimiterFactory, key: str) -> None:
    limiter = make_limiter("2/second")
    await limiter.hit("api", key)
    await limiter.hit("api", key)
    with pytest.raises(RateLimited):
        await limiter.hit("api", key)

    await asyncio.sleep(1.1)

    assert (await limiter.hit("api", key)).remaining == 1


async def test_idle_keys_are_swept_from_memory(key: str) -> None:
    storage = InlineMemoryStorage()
    storage.SWEEP_EVERY = 3
    await storage.acquire_entry(key, 5, 1)
    await asyncio.sleep(1.1)
    for number in range(3):
        await storage.acquire_entry(f"{key}-{number}", 5, 1)

    assert key not in storage.events
    assert len(storage.events) == 3


async def test_a_hit_on_redis_is_one_script_call_that_agrees_with_the_librarys_window(redis_url: str, key: str) -> None:
    from redis.asyncio import Redis

    limiter = RateLimiter(limits={"api": "5/minute"}, redis_url=redis_url, metrics=Metrics())
    client = Redis.from_url(redis_url)
    try:
        await limiter.hit("api", key)  # loads the script
        calls = {name: int(stats["calls"]) for name, stats in (await client.info("commandstats")).items()}
        hit = await limiter.hit("api", key)
        after = {name: int(stats["calls"]) for name, stats in (await client.info("commandstats")).items()}
        changed = {name: after[name] - calls.get(name, 0) for name in after if after[name] != calls.get(name, 0)}
        # One EVALSHA from the client for the hit (INFO itself is counted once between the two readings); the
        # list commands are the script's own, run inside Redis.
        inside_the_script = {"cmdstat_lindex", "cmdstat_lpush", "cmdstat_ltrim", "cmdstat_expire", "cmdstat_llen"}
        assert changed.pop("cmdstat_evalsha") == 1 and changed.pop("cmdstat_info") == 1
        assert set(changed) <= inside_the_script
        window = await limiter.status("api", key)  # the limits library's own window script
        assert (hit.remaining, hit.limit) == (window.remaining, window.limit) == (3, 5)
        assert abs(hit.reset_in - window.reset_in) <= 1 and 58 <= hit.reset_in <= 60
    finally:
        await client.aclose()


def test_the_raw_headers_are_the_headers() -> None:
    from spyglass.core.ratelimit import LimitStatus

    for status in (LimitStatus("api", "user:1", 60, 59, 12), LimitStatus("api", "user:1", 60, -3, 0)):
        assert status.raw_headers() == [
            (name.lower().encode(), value.encode()) for name, value in status.headers().items()
        ]
