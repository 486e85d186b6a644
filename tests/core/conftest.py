"""Fixtures for the platform-core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
from spyglass.accounts.models import ApiToken
from spyglass.core.security import new_token
from spyglass.core.services import Services


@pytest.fixture
async def clean_redis(redis_url: str) -> AsyncIterator[str]:
    """The test Redis, emptied first: user ids restart after each PostgreSQL test, cached users must not."""
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    yield redis_url


async def issue_token(services: Services, user_id: int) -> str:
    """A personal API token for ``user_id`` written straight to the database; returns the secret."""
    raw = new_token(TOKEN_PREFIX)
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user_id, name="test", token_hash=hash_token(raw), prefix=raw[:8]))
    return raw
