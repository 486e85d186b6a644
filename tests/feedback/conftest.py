"""Fixtures of the feedback tests: an admin and two members, each with their own signed-in browser
on one running app (redirects are not followed, so tests see the 303 and its target)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent
from spyglass.core.services import Services
from spyglass.feedback.models import Feedback
from spyglass.notifications.models import Notification
from tests.conftest import BASE_URL
from tests.support.client import app_client
from tests.support.live_server import (  # noqa: F401 - fixtures of the chromium test
    browser,
    live_server,
    live_server_factory,
    page_context,
    playwright_session,
)
from tests.support.web import signed_in_client

Client = httpx.AsyncClient


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    """An anonymous browser; it also runs the app's start-up and shutdown."""
    async with app_client(app, base_url=BASE_URL, follow_redirects=False) as http_client:
        yield http_client


@pytest.fixture
async def alice_client(app: Litestar, client: Client, alice: User) -> AsyncIterator[Client]:
    async for http_client in signed_in_client(app, alice):
        yield http_client


@pytest.fixture
async def bob_client(app: Litestar, client: Client, bob: User) -> AsyncIterator[Client]:
    async for http_client in signed_in_client(app, bob):
        yield http_client


@pytest.fixture
async def admin_client(app: Litestar, client: Client, admin: User) -> AsyncIterator[Client]:
    async for http_client in signed_in_client(app, admin):
        yield http_client


async def all_feedback(services: Services) -> list[Feedback]:
    async with services.db.session() as session:
        return list((await session.scalars(select(Feedback).order_by(Feedback.id))).all())


async def audit_rows(services: Services, action: str) -> list[AuditEvent]:
    async with services.db.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return list(rows.all())


async def notifications(services: Services, **where: Any) -> list[Notification]:
    """Outbox rows, oldest first, filtered by column values."""
    async with services.db.session() as session:
        statement = select(Notification).order_by(Notification.id)
        for name, value in where.items():
            statement = statement.where(getattr(Notification, name) == value)
        return list((await session.scalars(statement)).all())
