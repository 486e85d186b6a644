"""Clients for the analytics route tests: the owner, another user and an admin, each its own browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts.models import Role, User
from spyglass.core.services import Services
from tests.analytics.seed import UserWorld, seed_user_world
from tests.conftest import BASE_URL
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.live_server import (  # noqa: F401 - the browser test's fixtures
    browser,
    live_server,
    live_server_factory,
    page_context,
    playwright_session,
)
from tests.support.web import signed_in_client

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def owner(services: Services) -> User:
    return await create_user(services, username="owner")


@pytest.fixture
async def other(services: Services) -> User:
    return await create_user(services, username="other")


@pytest.fixture
async def admin(services: Services) -> User:
    return await create_user(services, username="root", role=Role.ADMIN)


@pytest.fixture
async def world(services: Services, owner: User, other: User) -> UserWorld:
    return await seed_user_world(services, owner.id, other.id)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    """A browser that does not follow redirects (tests assert the 303 and where it goes)."""
    async with app_client(app, base_url=BASE_URL, follow_redirects=False) as raw:
        yield cast(Client, raw)  # an httpx client; the shared web helpers are typed for Litestar's


@pytest.fixture
async def owner_client(app: Litestar, client: Client, owner: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, owner):
        yield signed_in


@pytest.fixture
async def other_client(app: Litestar, client: Client, other: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, other):
        yield signed_in


@pytest.fixture
async def admin_client(app: Litestar, client: Client, admin: User) -> AsyncIterator[Client]:
    async for signed_in in signed_in_client(app, admin):
        yield signed_in
