"""Sessions on Redis: two web instances built from the same settings share sign-ins and sign-outs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from spyglass.app import create_app
from spyglass.core.services import Services
from spyglass.core.sessions import SESSION_COOKIE
from tests.conftest import make_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form


@pytest.fixture
async def two_instances(
    tmp_path: Path, database_url: str, clean_redis: str
) -> AsyncIterator[tuple[Services, Services]]:
    first = Services.build(make_settings(tmp_path / "a", database_url, redis_url=clean_redis))
    second = Services.build(make_settings(tmp_path / "b", database_url, redis_url=clean_redis))
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_session_started_on_one_instance_works_on_the_other(two_instances: tuple[Services, Services]) -> None:
    first, second = two_instances
    assert first.session_store is not second.session_store
    await create_user(first, username="ann")
    app_a = create_app(first.settings, services=first)
    app_b = create_app(second.settings, services=second)

    async with (
        app_client(app_a, lifespan=False, follow_redirects=False) as browser_a,
        app_client(app_b, lifespan=False, follow_redirects=False) as browser_b,
    ):
        assert (await browser_b.get("/api/v1/me")).status_code == 401
        await login(browser_a, "ann", DEFAULT_PASSWORD)
        session_id = browser_a.cookies[SESSION_COOKIE]
        browser_b.cookies.update(browser_a.cookies)  # the load balancer sends the next request elsewhere

        on_b = await browser_b.get("/api/v1/me")
        assert on_b.status_code == 200
        assert on_b.json()["username"] == "ann"

        signed_out = await post_form(browser_b, "/logout")
        assert signed_out.status_code == 303
        browser_a.cookies.set(SESSION_COOKIE, session_id)  # the old id, as a stolen cookie would be
        assert (await browser_a.get("/api/v1/me")).status_code == 401, "signing out on B ends the session on A"


async def test_sessions_are_not_shared_without_redis(tmp_path: Path, database_url: str) -> None:
    """The control: with the memory store each process knows only its own sessions."""
    first = Services.build(make_settings(tmp_path / "a", database_url))
    second = Services.build(make_settings(tmp_path / "b", database_url))
    try:
        await create_user(first, username="bob")
        async with (
            app_client(create_app(first.settings, services=first), lifespan=False, follow_redirects=False) as a,
            app_client(create_app(second.settings, services=second), lifespan=False, follow_redirects=False) as b,
        ):
            await login(a, "bob", DEFAULT_PASSWORD)
            b.cookies.update(a.cookies)
            assert (await a.get("/api/v1/me")).status_code == 200
            assert (await b.get("/api/v1/me")).status_code == 401
    finally:
        await first.close()
        await second.close()
