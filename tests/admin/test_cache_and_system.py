"""The cache page (statistics, clearing one namespace or all) and the system page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from spyglass import __version__
from spyglass.accounts.models import Role, User
from spyglass.app import create_app
from spyglass.audit.service import AuditAction
from spyglass.core.migrations import head_revision
from spyglass.core.services import Services
from tests.admin.conftest import Client, audit_rows, sign_in
from tests.conftest import BASE_URL, make_settings
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.web import post_form

ADMIN_TESTS_REDIS_DB = 9  # not the suite's database 0, which other tests flush


def stats_row(html: str, namespace: str) -> list[str]:
    row = html.split(f'<th scope="row">{namespace}</th>', 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell.split(">", 1)[1]).strip() for cell in row.split("<td")[1:4]]


async def test_cache_page_shows_ttls_and_counts(admin_client: Client, services: Services) -> None:
    loads: list[int] = []

    async def loader() -> str:
        loads.append(1)
        return "value"

    for _ in range(3):
        await services.cache.get_or_load("views", "page-1", loader)
    page = await admin_client.get("/admin/cache")
    assert page.status_code == 200
    assert "<dd>memory</dd>" in page.text
    ttl, hits, misses = stats_row(page.text, "views")
    assert ttl == f"{services.settings.cache_ttl_views} s" and (hits, misses) == ("2", "1")
    assert "66.7 %" in page.text
    for namespace in ("users", "tokens", "settings", "analytics"):
        assert f'<th scope="row">{namespace}</th>' in page.text


async def test_clearing_a_namespace_reloads_its_values(admin_client: Client, services: Services, admin: User) -> None:
    values = iter(["first", "second", "third"])

    async def loader() -> str:
        return next(values)

    async def settings_loader() -> str:
        return "kept"

    assert await services.cache.get_or_load("views", "page-1", loader) == "first"
    assert await services.cache.get_or_load("settings", "42", settings_loader) == "kept"
    response = await post_form(admin_client, "/admin/cache/clear", {"namespace": "views"})
    assert response.status_code == 303
    assert "The views cache was cleared." in (await admin_client.get("/admin/cache")).text
    assert await services.cache.get_or_load("views", "page-1", loader) == "second"  # reloaded

    async def must_not_load() -> str:
        raise AssertionError("settings were not cleared, the value must come from the cache")

    assert await services.cache.get_or_load("settings", "42", must_not_load) == "kept"
    [event] = await audit_rows(services, AuditAction.ADMIN_CACHE_CLEARED)
    assert event.actor_id == admin.id and event.details["namespaces"] == ["views"]


async def test_clear_all_keeps_sessions(admin_client: Client, services: Services) -> None:
    values = iter(["first", "second"])

    async def loader() -> str:
        return next(values)

    await services.cache.get_or_load("analytics", "k", loader)
    response = await post_form(admin_client, "/admin/cache/clear", {"all": "1"})
    assert response.status_code == 303
    assert await services.cache.get_or_load("analytics", "k", loader) == "second"
    assert (await admin_client.get("/admin/cache")).status_code == 200  # still signed in
    [event] = await audit_rows(services, AuditAction.ADMIN_CACHE_CLEARED)
    assert set(event.details["namespaces"]) >= {"users", "tokens", "settings", "views", "analytics"}


async def test_unknown_namespace_is_refused(admin_client: Client, services: Services) -> None:
    response = await post_form(admin_client, "/admin/cache/clear", {"namespace": "sessions; FLUSHALL"})
    assert response.status_code == 303
    assert "Choose a cache namespace from the list." in (await admin_client.get("/admin/cache")).text
    assert await audit_rows(services, AuditAction.ADMIN_CACHE_CLEARED) == []


async def test_system_page(admin_client: Client, services: Services) -> None:
    page = await admin_client.get("/admin/system")
    assert page.status_code == 200
    text = page.text
    backend = services.db.backend
    assert f"<dd>{backend}</dd>" in text
    assert ("SQLite 3." in text) if backend == "sqlite" else ("PostgreSQL 1" in text)
    assert f"<dd>{__version__}</dd>" in text
    assert f"<code>{head_revision()}</code>" in text and "up to date" in text
    assert "not configured" in text
    assert 'href="/admin/engine"' in text


@pytest.fixture
async def redis_app(tmp_path: Path, database_url: str, redis_url: str) -> AsyncIterator[tuple[Services, Client]]:
    """An app on Redis (its own, emptied Redis database: user ids repeat between tests) and an admin's browser."""
    url = redis_url.rsplit("/", 1)[0] + f"/{ADMIN_TESTS_REDIS_DB}"
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    services = Services.build(make_settings(tmp_path, database_url, redis_url=url))
    app = create_app(services.settings, services=services)
    admin = await create_user(services, username="root", role=Role.ADMIN)
    async with app_client(app, base_url=BASE_URL, follow_redirects=False) as browser:
        await sign_in(browser, admin)
        yield services, browser


async def test_system_page_on_redis(redis_app: tuple[Services, Client]) -> None:
    _, browser = redis_app
    text = (await browser.get("/admin/system")).text
    assert "reachable" in text and "unreachable" not in text
    for backend in ("Sessions", "Cache", "Rate limits"):
        assert f"<dt>{backend}</dt><dd>redis</dd>" in text


async def test_clear_all_on_redis_keeps_sessions_and_rate_limits(redis_app: tuple[Services, Client]) -> None:
    services, browser = redis_app
    values = iter(["first", "second"])

    async def loader() -> str:
        return next(values)

    assert await services.cache.get_or_load("views", "page-1", loader) == "first"
    await services.limiter.hit("api", "user:4242")
    response = await post_form(browser, "/admin/cache/clear", {"all": "1"})
    assert response.status_code == 303
    assert await services.cache.get_or_load("views", "page-1", loader) == "second"
    assert (await browser.get("/admin/cache")).status_code == 200  # the session (in Redis) survived
    assert (await services.limiter.status("api", "user:4242")).remaining == services.limiter.items["api"].amount - 1
