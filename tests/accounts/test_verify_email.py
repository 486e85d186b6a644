"""Email verification: the emailed link, a button (not the GET) confirms, single use, expiry, resend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from spyglass.accounts.auth import hash_token
from spyglass.accounts.models import AccountToken
from spyglass.audit.service import AuditAction
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from tests.accounts.helpers import GOOD_PASSWORD, audit_actions, emailed_path, get_user, register, token_of
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.smtp import SmtpServer
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")


async def test_register_then_verify_through_the_emailed_link(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    assert (await register(client, "lena", "lena@example.com")).status_code == 201
    path = emailed_path(smtp_server, "lena@example.com")
    page = await client.get(path)
    assert page.status_code == 200
    assert "Verify my email" in page.text
    assert (await get_user(services, "lena")).email_verified_at is None  # a GET (mail scanner) changes nothing
    response = await post_form(client, "/verify-email", {"token": token_of(path)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    user = await get_user(services, "lena")
    assert user.email_verified_at is not None
    assert AuditAction.EMAIL_VERIFIED in await audit_actions(services, user.id)
    await login(client, "lena", GOOD_PASSWORD)
    assert (await client.get("/api/v1/me")).json()["email_verified"] is True
    assert "Not verified" not in (await client.get("/account")).text


async def test_the_link_works_once(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await register(client, "mona", "mona@example.com")
    token = token_of(emailed_path(smtp_server, "mona@example.com"))
    assert (await post_form(client, "/verify-email", {"token": token})).status_code == 303
    again = await post_form(client, "/verify-email", {"token": token})
    assert again.status_code == 400
    assert "already been used" in again.text
    assert (await client.get(f"/verify-email?token={token}")).status_code == 400


async def test_an_expired_link_is_refused(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await register(client, "nina", "nina@example.com")
    token = token_of(emailed_path(smtp_server, "nina@example.com"))
    async with services.db.session(write=True) as session:
        await session.execute(
            update(AccountToken)
            .where(AccountToken.token_hash == hash_token(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    page = await client.get(f"/verify-email?token={token}")
    assert page.status_code == 400 and "expired" in page.text
    response = await post_form(client, "/verify-email", {"token": token})
    assert response.status_code == 400
    assert (await get_user(services, "nina")).email_verified_at is None


async def test_token_expiry_follows_the_setting(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await register(client, "olga", "olga@example.com")
    token = token_of(emailed_path(smtp_server, "olga@example.com"))
    async with services.db.session() as session:
        stored = await session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(token)))
    assert stored is not None and stored.token_hash != token  # only the hash is stored
    lifetime = stored.expires_at - stored.created_at
    assert abs(lifetime - timedelta(hours=services.settings.email_verification_ttl_hours)) < timedelta(seconds=5)


@pytest.mark.parametrize("token", ["", "nonsense", "x" * 500])
async def test_unknown_links_get_a_clear_400(client: Client, token: str) -> None:
    page = await client.get(f"/verify-email?token={token}")
    assert page.status_code == 400
    assert "This link is not valid" in page.text
    assert (await post_form(client, "/verify-email", {"token": token})).status_code == 400


async def test_resend_replaces_the_old_link(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await register(client, "paula", "paula@example.com")
    first = token_of(emailed_path(smtp_server, "paula@example.com"))
    await login(client, "paula", GOOD_PASSWORD)
    account = await client.get("/account")
    assert "Not verified" in account.text and "Resend verification email" in account.text
    response = await post_form(client, "/account/verify/resend")
    assert response.status_code == 303
    second = token_of(emailed_path(smtp_server, "paula@example.com", count=2))
    assert second != first
    assert (await post_form(client, "/verify-email", {"token": first})).status_code == 400
    confirmed = await post_form(client, "/verify-email", {"token": second})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/account"
    assert (await get_user(services, "paula")).email_verified_at is not None


async def test_resend_for_a_verified_user_sends_nothing(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    await create_user(services, username="quinn", verified=True)
    await login(client, "quinn", DEFAULT_PASSWORD)
    assert (await post_form(client, "/account/verify/resend")).status_code == 303
    assert "already verified" in (await client.get("/account")).text
    assert smtp_server.messages == []
