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
