"""Helpers shared by the account tests: reading rows and following emailed links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent
from spyglass.core.services import Services
from tests.conftest import BASE_URL
from tests.support.smtp import SmtpServer, first_link
from tests.support.web import post_form

Client = AsyncTestClient[Litestar]


async def get_user(services: Services, username: str) -> User:
    async with services.db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None, f"no user {username}"
    return user


async def audit_actions(services: Services, user_id: int | None = None) -> list[str]:
    async with services.db.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if user_id is not None:
            statement = statement.where(AuditEvent.user_id == user_id)
        return [event.action for event in await session.scalars(statement)]


def emailed_path(smtp: SmtpServer, to: str, *, count: int = 1) -> str:
    """The path and query of the link in the newest message to ``to`` (which must point at this site)."""
    link = first_link(smtp.wait_for_message(to=to, count=count))
    assert link.startswith(BASE_URL + "/"), link
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", path)
    assert match, path
    return match.group(1)


GOOD_PASSWORD = "violet tractor lantern"


async def register(client: Client, username: str, email: str, password: str = GOOD_PASSWORD) -> httpx.Response:
    return await post_form(
        client,
        "/register",
        {"username": username, "email": email, "password": password, "password_confirm": password},
    )


def second_browser(client: Client) -> httpx.AsyncClient:
    """Another browser (its own cookies) on the same running app (whose lifespan ``client`` runs)."""
    return httpx.AsyncClient(transport=client._transport, base_url=BASE_URL, follow_redirects=False)


def browser_at(app: Litestar, address: str) -> httpx.AsyncClient:
    """A browser calling the running ``app`` from another IP address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, follow_redirects=False)
