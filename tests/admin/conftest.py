"""Helpers for the admin tests: admins and users, personal API tokens written straight to the
database, and browser-like sign-in through the real login form."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
from spyglass.accounts.models import ApiToken, User
from spyglass.audit.models import AuditEvent
from spyglass.core.services import Services
from tests.conftest import BASE_URL
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.web import login

Client = httpx.AsyncClient


async def issue_token(services: Services, user: User, name: str = "test") -> str:
    """A personal API token of ``user`` (only its hash is stored, as the app does)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(raw), prefix=raw[:10]))
    return raw


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: Client, user: User, password: str = DEFAULT_PASSWORD) -> None:
    """Sign ``client`` in through the login form."""
    await login(client, user.username, password)


@pytest.fixture
def member(alice: User) -> User:
    """The member the admin acts on: alice."""
    return alice


@pytest.fixture
async def admin_token(services: Services, admin: User) -> str:
    return await issue_token(services, admin, "admin")


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    """Like the suite's client, but redirects are not followed: tests assert the 303 and its target."""
    async with app_client(app, base_url=BASE_URL, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
async def admin_client(app: Litestar, client: Client, admin: User) -> Client:
    """The default client, signed in as the admin through the login form."""
    await sign_in(client, admin)
    return client


@pytest.fixture
async def other_client(app: Litestar, client: Client) -> AsyncIterator[Client]:
    """A second browser (its own cookies) on the same running app (started by ``client``)."""
    async with app_client(app, base_url=BASE_URL, lifespan=False, follow_redirects=False) as browser:
        yield browser


async def audit_rows(services: Services, action: str) -> list[AuditEvent]:
    """Every audit event of ``action``, oldest first."""
    async with services.db.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return list(rows.all())


async def reload_user(services: Services, user_id: int) -> User:
    async with services.db.session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user
