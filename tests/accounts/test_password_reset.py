"""Password reset by email: same answer for unknown addresses, policy, single use, expiry, sessions end."""

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
from tests.accounts.helpers import audit_actions, emailed_path, get_user, second_browser, token_of
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.smtp import SmtpServer
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")
NEW_PASSWORD = "orange kettle meadow"


async def _request_reset(client: Client, smtp: SmtpServer, email: str) -> str:
    response = await post_form(client, "/password/forgot", {"email": email})
    assert response.status_code == 200
    return token_of(emailed_path(smtp, email))


async def test_reset_flow_ends_every_session(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    user = await create_user(services, username="rita", email="rita@example.com")
    async with second_browser(client) as other_device:
        await login(other_device, "rita", DEFAULT_PASSWORD)
        assert (await other_device.get("/api/v1/me")).status_code == 200
        page = await client.get("/password/forgot")
        assert '<label for="field-email">' in page.text
        token = await _request_reset(client, smtp_server, "RITA@example.com")
        form = await client.get(f"/password/reset?token={token}")
        assert form.status_code == 200 and "Set new password" in form.text
        response = await post_form(
            client, "/password/reset", {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        )
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert (await other_device.get("/api/v1/me")).status_code == 401  # signed out everywhere
    assert "Your password has been changed" in (await client.get("/login")).text
    failed = await post_form(client, "/login", {"login": "rita", "password": DEFAULT_PASSWORD})
    assert failed.status_code == 401
    await login(client, "rita", NEW_PASSWORD)
    stored = await get_user(services, "rita")
    assert stored.password_hash.startswith("$argon2id$")
    actions = await audit_actions(services, user.id)
    assert AuditAction.PASSWORD_RESET_REQUESTED in actions and AuditAction.PASSWORD_RESET in actions


async def test_unknown_address_gets_the_same_answer_and_no_mail(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    await create_user(services, username="sam", email="sam@example.com")
    known = await post_form(client, "/password/forgot", {"email": "sam@example.com"})
    unknown = await post_form(client, "/password/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("sam@example.com", "X") == unknown.text.replace("nobody@example.com", "X")
    smtp_server.wait_for_message(to="sam@example.com")
    assert smtp_server.messages_to("nobody@example.com") == []


@pytest.mark.parametrize(
    ("email", "message"), [("", "Enter your email address."), ("not an address", "not a valid email address")]
)
async def test_forgot_form_validates_the_address(client: Client, email: str, message: str) -> None:
    response = await post_form(client, "/password/forgot", {"email": email})
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text


@pytest.mark.parametrize(
    ("password", "confirm", "field", "message"),
    [
        ("", "", "password", "Enter a password."),
        ("short", "short", "password", "Use at least 8 characters."),
        ("iloveyou", "iloveyou", "password", "most common"),
        (NEW_PASSWORD, "different", "password_confirm", "The two passwords do not match."),
    ],
)
async def test_new_password_must_follow_the_policy(
    client: Client,
    services: Services,
    smtp_server: SmtpServer,
    password: str,
    confirm: str,
    field: str,
    message: str,
) -> None:
    await create_user(services, username="tina", email="tina@example.com")
    token = await _request_reset(client, smtp_server, "tina@example.com")
    response = await post_form(
        client, "/password/reset", {"token": token, "password": password, "password_confirm": confirm}
    )
    assert response.status_code == 422
    assert message in response.text
    assert f'id="field-{field}-error"' in response.text
    # The link still works after a rejected attempt.
    assert (await client.get(f"/password/reset?token={token}")).status_code == 200


async def test_reset_link_is_single_use(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await create_user(services, username="uma", email="uma@example.com")
    token = await _request_reset(client, smtp_server, "uma@example.com")
    form = {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert (await post_form(client, "/password/reset", form)).status_code == 303
    again = await post_form(client, "/password/reset", {**form, "password": "another one entirely"})
    assert again.status_code == 400 and "already been used" in again.text
    assert (await client.get(f"/password/reset?token={token}")).status_code == 400


async def test_a_newer_request_retires_older_links(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await create_user(services, username="vera", email="vera@example.com")
    first = await _request_reset(client, smtp_server, "vera@example.com")
    await post_form(client, "/password/forgot", {"email": "vera@example.com"})
    second = token_of(emailed_path(smtp_server, "vera@example.com", count=2))
    assert (await client.get(f"/password/reset?token={first}")).status_code == 400
    assert (await client.get(f"/password/reset?token={second}")).status_code == 200


async def test_an_expired_reset_link_is_refused(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await create_user(services, username="wes", email="wes@example.com")
    token = await _request_reset(client, smtp_server, "wes@example.com")
    async with services.db.session(write=True) as session:
        stored = await session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(token)))
        assert stored is not None
        lifetime = stored.expires_at - stored.created_at
        assert abs(lifetime - timedelta(minutes=services.settings.password_reset_ttl_minutes)) < timedelta(seconds=5)
        await session.execute(
            update(AccountToken).where(AccountToken.id == stored.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await post_form(
        client, "/password/reset", {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400 and "expired" in response.text
    await login(client, "wes", DEFAULT_PASSWORD)


async def test_deactivated_accounts_get_no_reset_mail(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    await create_user(services, username="xena", email="xena@example.com", active=False)
    response = await post_form(client, "/password/forgot", {"email": "xena@example.com"})
    assert response.status_code == 200
    assert smtp_server.messages == []
