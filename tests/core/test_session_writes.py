"""A session is written back to its store only when its data changed or its idle expiry is due for renewal."""

from __future__ import annotations

import asyncio
from pathlib import Path

from spyglass.app import create_app
from spyglass.core.services import Services
from spyglass.core.sessions import SESSION_COOKIE
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form


async def test_reads_leave_the_session_alone_until_its_expiry_needs_renewing(tmp_path: Path, database_url: str) -> None:
    # The shortest idle expiry, 60 s: renewed at most every 6 s.
    settings = make_settings(tmp_path, database_url, session_idle_seconds=60)
    services = Services.build(settings)
    try:
        user = await create_user(services)
        app = create_app(settings, services=services)
        async with app_client(app, lifespan=False, follow_redirects=False) as client:
            await login(client, user.username, DEFAULT_PASSWORD)
            session_id = client.cookies[SESSION_COOKIE]
            stored = await services.session_store.get(session_id)
            await asyncio.sleep(0.1)

            first, second = await client.get("/api/v1/me"), await client.get("/api/v1/me")
            assert first.status_code == second.status_code == 200
            assert SESSION_COOKIE not in first.headers.get("set-cookie", "")
            assert SESSION_COOKIE not in second.headers.get("set-cookie", "")
            assert await services.session_store.get(session_id) == stored, "an unchanged session is not rewritten"

            await asyncio.sleep(6.2)  # past the renewal interval: the next request renews the expiry
            renewed = await client.get("/api/v1/me")
            assert renewed.status_code == 200
            assert f"{SESSION_COOKIE}={session_id}" in renewed.headers.get("set-cookie", "")
            assert await services.session_store.get(session_id) != stored
            assert 58 <= (await services.session_store.expires_in(session_id) or 0) <= 60

            # A change is written at once: signing out ends the session everywhere.
            assert (await post_form(client, "/logout")).status_code == 303
            assert await services.session_store.get(session_id) is None
            client.cookies.set(SESSION_COOKIE, session_id)
            assert (await client.get("/api/v1/me")).status_code == 401
    finally:
        await services.close()
