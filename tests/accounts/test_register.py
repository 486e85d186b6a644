"""Registration through the real app, with the verification email received by a real SMTP server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.accounts import repository, service
from spyglass.app import create_app
from spyglass.audit.service import AuditAction
from spyglass.core.errors import InvalidInput
from spyglass.core.security import hash_password
from spyglass.core.services import Services
from tests.accounts.helpers import audit_actions, emailed_path, get_user, register
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer
from tests.support.web import post_form

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("no_redirects")
GOOD = "violet tractor lantern"


async def test_register_sends_verification_and_does_not_sign_in(
    client: Client, services: Services, smtp_server: SmtpServer
) -> None:
    page = await client.get("/register")
    assert page.status_code == 200
    assert '<label for="field-username">' in page.text
    response = await register(client, "  Ann.Smith ", "Ann.Smith@Example.COM")
    assert response.status_code == 201, response.text
    assert "Check your email" in response.text
    user = await get_user(services, "ann.smith")
    assert user.email == "ann.smith@example.com"
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    path = emailed_path(smtp_server, "ann.smith@example.com")
    assert path.startswith("/verify-email?token=")
    message = smtp_server.wait_for_message(to="ann.smith@example.com")
    assert message["Subject"] == "Confirm your email address for Spyglass"
    assert (await client.get("/api/v1/me")).status_code == 401  # not signed in automatically
    assert AuditAction.REGISTER in await audit_actions(services, user.id)
    async with services.db.session() as session:
        assert await repository.get_settings(session, user.id) is not None


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"username": ""}, "username", "Choose a username."),
        ({"username": "ab"}, "username", "Use between 3 and 32 characters."),
        ({"username": "a" * 33}, "username", "Use between 3 and 32 characters."),
        ({"username": "ann smith"}, "username", "Use only letters, digits, dots, dashes and underscores."),
        ({"username": "<script>"}, "username", "Use only letters, digits"),
        ({"username": "ann\x00"}, "username", "Use only letters, digits"),
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "ann\x00@example.com"}, "email", "This is not a valid email address"),
        ({"email": "not-an-email"}, "email", "This is not a valid email address"),
        ({"email": "ann@" + "x" * 260 + ".com"}, "email", "Use at most 254 characters."),
        ({"password": "", "password_confirm": ""}, "password", "Enter a password."),
        ({"password": "short", "password_confirm": "short"}, "password", "Use at least 8 characters."),
        ({"password": "x" * 129, "password_confirm": "x" * 129}, "password", "Use at most 128 characters."),
        ({"password": "password123", "password_confirm": "password123"}, "password", "most common"),
        ({"password": "xxbobbyxx-42", "password_confirm": "xxbobbyxx-42"}, "password", "username"),
        ({"password_confirm": "something else"}, "password_confirm", "The two passwords do not match."),
    ],
)
async def test_each_bad_field_gets_its_own_message(
    client: Client, services: Services, smtp_server: SmtpServer, form: dict[str, str], field: str, message: str
) -> None:
    values = {"username": "bobby", "email": "bobby@example.com", "password": GOOD, "password_confirm": GOOD, **form}
    response = await post_form(client, "/register", values)
    assert response.status_code == 422, response.text[:300]
    assert message in response.text
    assert f'id="field-{field}"' in response.text
    assert f'id="field-{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert smtp_server.messages == []


async def test_duplicates_are_form_errors(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    await create_user(services, username="taken", email="taken@example.com")
    response = await register(client, "TAKEN", "fresh@example.com")
    assert response.status_code == 422
    assert "This username is taken" in response.text
    response = await register(client, "fresh", "Taken@Example.com")
    assert response.status_code == 422
    assert "An account with this email address already exists" in response.text
    assert smtp_server.messages == []


async def test_post_without_csrf_token_is_refused(client: Client, services: Services) -> None:
    await client.get("/register")
    response = await client.post(
        "/register", data={"username": "mallory", "email": "m@example.com", "password": GOOD, "password_confirm": GOOD}
    )
    assert response.status_code == 403
    async with services.db.session() as session:
        assert not await repository.username_taken(session, "mallory")


async def test_registration_can_be_closed(
    tmp_path: Path, database_url: str, smtp_server: SmtpServer, services: Services
) -> None:
    settings = make_settings(tmp_path, database_url, allow_registration=False, **smtp_server.settings_overrides())
    closed = Services.build(settings)
    try:
        async with app_client(create_app(settings, services=closed), follow_redirects=False) as client:
            page = await client.get("/register")
            assert "Registration is closed" in page.text
            response = await register(client, "carol", "carol@example.com")
            assert response.status_code == 403
    finally:
        await closed.close()
    async with services.db.session() as session:
        assert not await repository.username_taken(session, "carol")


async def test_three_accounts_per_hour_per_ip(client: Client, services: Services, smtp_server: SmtpServer) -> None:
    bad = await register(client, "x", "bad")  # failed attempts do not use up the allowance
    assert bad.status_code == 422
    for number in range(3):
        assert (await register(client, f"member{number}", f"member{number}@example.com")).status_code == 201
    refused = await register(client, "member3", "member3@example.com")
    assert refused.status_code == 429
    assert "Too many accounts were created from your address" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    async with services.db.session() as session:
        assert not await repository.username_taken(session, "member3")


async def test_a_unique_race_becomes_a_form_error(services: Services) -> None:
    """Another transaction inserts the same username first: the loser gets InvalidInput, not a 500.

    On PostgreSQL the loser's pre-check cannot see the uncommitted row, so the unique index decides
    (IntegrityError); on SQLite the writers queue and the pre-check sees it. Both must end the same way.
    """
    async with services.db.session(write=True) as winner:
        await repository.add_user(
            winner, username="racer", email="racer1@example.com", password_hash=hash_password(GOOD)
        )

        async def loser() -> None:
            async with services.db.session(write=True) as session:
                await service.register_user(
                    db=session,
                    settings=services.settings,
                    username="racer",
                    email="racer2@example.com",
                    password=GOOD,
                    password_confirm=GOOD,
                )

        task = asyncio.create_task(loser())
        await asyncio.sleep(0.5)
    with pytest.raises(InvalidInput) as caught:
        await task
    assert "username" in caught.value.detail
