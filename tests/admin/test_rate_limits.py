"""Admins see a user's current rate limits and can reset them: a rate-limited user gets through again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from spyglass.accounts.models import Role, User
from spyglass.app import create_app
from spyglass.audit.service import AuditAction
from spyglass.core.services import Services
from tests.admin.conftest import Client, audit_rows, bearer, issue_token, sign_in
from tests.conftest import BASE_URL, make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import post_form


@pytest.fixture
async def tight(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Services, Client, Client]]:
    """An app whose API allows 3 requests a minute; (services, admin's browser, user's client)."""
    settings = make_settings(tmp_path, database_url, rate_limit_api="3/minute")
    services = Services.build(settings)
    app = create_app(settings, services=services)
    try:
        async with (
            app_client(app, base_url=BASE_URL, follow_redirects=False) as admin_browser,
            app_client(app, base_url=BASE_URL, lifespan=False, follow_redirects=False) as user_client,
        ):
            yield services, admin_browser, user_client
    finally:
        await services.close()


async def exhaust(client: Client, token: str) -> None:
    for _ in range(3):
        assert (await client.get("/api/v1/tokens", headers=bearer(token))).status_code == 200
    limited = await client.get("/api/v1/tokens", headers=bearer(token))
    assert limited.status_code == 429


async def test_reset_from_the_user_page_lets_the_user_through(tight: tuple[Services, Client, Client]) -> None:
    services, browser, user_client = tight
    admin = await create_user(services, username="root", role=Role.ADMIN)
    member = await create_user(services, username="alice")
    token = await issue_token(services, member)
    await exhaust(user_client, token)

    await sign_in(browser, admin)
    page = await browser.get(f"/admin/users/{member.id}")
    assert page.status_code == 200
    api_row = page.text.split(">api</th>", 1)[1].split("</tr>", 1)[0]
    cells = [cell.split(">", 1)[1].split("<", 1)[0] for cell in api_row.split("<td")[1:]]
    assert cells[0] == "3" and cells[1] == "0" and cells[2].endswith(" s")  # limit, remaining, resets in

    response = await post_form(browser, f"/admin/users/{member.id}/rate-limits/reset")
    assert response.status_code == 303
    assert "The rate limits of alice are reset." in (await browser.get(response.headers["location"])).text
    assert (await user_client.get("/api/v1/tokens", headers=bearer(token))).status_code == 200
    [event] = await audit_rows(services, AuditAction.ADMIN_RATE_LIMITS_RESET)
    assert (event.actor_id, event.user_id) == (admin.id, member.id)


async def test_api_shows_and_resets_rate_limits(tight: tuple[Services, Client, Client]) -> None:
    services, admin_client, user_client = tight
    admin = await create_user(services, username="root", role=Role.ADMIN)
    member: User = await create_user(services, username="alice")
    admin_token, token = await issue_token(services, admin), await issue_token(services, member)
    await exhaust(user_client, token)

    response = await admin_client.get(f"/api/v1/admin/users/{member.id}/rate-limits", headers=bearer(admin_token))
    assert response.status_code == 200
    limits = {item["category"]: item for item in response.json()}
    assert set(limits) >= {"api", "login", "settings", "bot_controls", "register"}
    assert limits["api"]["limit"] == 3 and limits["api"]["remaining"] == 0 and limits["api"]["reset_in_seconds"] > 0
    assert limits["login"]["remaining"] == limits["login"]["limit"]

    reset = await admin_client.delete(f"/api/v1/admin/users/{member.id}/rate-limits", headers=bearer(admin_token))
    assert reset.status_code == 200
    assert {item["category"]: item["remaining"] for item in reset.json()}["api"] == 3
    assert (await user_client.get("/api/v1/tokens", headers=bearer(token))).status_code == 200
    assert len(await audit_rows(services, AuditAction.ADMIN_RATE_LIMITS_RESET)) == 1


def browser_from(app: Litestar, ip: str) -> Client:
    """A browser calling the app from ``ip`` (the app is already started by another client)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url=BASE_URL, follow_redirects=False
    )


async def test_reset_unlocks_an_account_locked_by_failed_sign_ins(
    app: Litestar, admin_client: Client, services: Services, member: User
) -> None:
    async with browser_from(app, "10.0.0.1") as attacker, browser_from(app, "10.0.0.2") as owner:
        for _ in range(5):
            failed = await post_form(attacker, "/login", {"login": "alice", "password": "wrong password"})
            assert failed.status_code == 401
        right = {"login": "alice", "password": DEFAULT_PASSWORD}
        assert (await post_form(owner, "/login", right)).status_code == 429  # the account's window is full

        page = await admin_client.get(f"/admin/users/{member.id}")
        login_row = page.text.split(">login</th>", 1)[1].split("</tr>", 1)[0]
        assert '<td class="num">0</td>' in login_row  # nothing remaining

        assert (await post_form(admin_client, f"/admin/users/{member.id}/rate-limits/reset")).status_code == 303
        assert (await post_form(owner, "/login", right)).status_code == 303
