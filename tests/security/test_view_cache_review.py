"""Review of the per-user view cache (core/view_cache.py): changes a user makes or is told about must show on
their next read, including a read that races the write.

Each test reproduces one finding of the review; see the module docstring of core/view_cache.py for what is a
documented trade-off (a shared listing updated by another user's search shows after the views' TTL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.types import Message, Receive, Scope, Send

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.core.view_cache import VERSIONS
from spyglass.market import service
from spyglass.market.models import SavedSearch
from tests.conftest import make_settings
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import BASE_URL, app_client
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer
from tests.support.web import post_form, signed_in_client


@pytest.fixture
def settings(tmp_path: Any, database_url: str) -> Settings:
    # The shop runs on 127.0.0.1, which the URL policy refuses unless allowed; no politeness delay in tests.
    return make_settings(
        tmp_path,
        database_url,
        allow_private_targets="127.0.0.1/32,localhost",
        http_per_host_delay_seconds=0,
        rate_limit_enabled=False,
    )


@pytest.fixture
def shop() -> Any:
    with LocalHttpServer() as server:
        yield Shop(server)


@asynccontextmanager
async def _signed_in(app: Litestar, user: Any) -> AsyncIterator[Any]:
    async for client in signed_in_client(app, user):
        yield client


async def _search(services: Services, user_id: int, url: str, *, enabled: bool = True) -> SavedSearch:
    spec = service.parse_search(
        search_body(url, name="Lenses", keywords="lens", enabled=enabled), settings=services.settings
    )
    async with services.db.session(write=True) as session:
        return await service.create_search(session, user_id=user_id, spec=spec, settings=services.settings)


async def test_cancelling_a_queued_run_shows_on_the_cached_searches_page(app: Litestar, services: Services) -> None:
    """The searches page shows a search's queued run; cancelling it (under /runs/, not /market/) must show."""
    alice = await create_user(services, username="alice")
    search = await _search(services, alice.id, "http://127.0.0.1:9/lenses", enabled=False)
    async with _signed_in(app, alice) as client:
        queued = await post_form(client, f"/market/searches/{search.id}/run")
        assert queued.status_code == 303
        run_link = queued.headers["location"]  # /runs/{id}
        await client.get(run_link)  # the run page shows (and consumes) the flash
        assert f'href="{run_link}"' in (await client.get("/market/searches")).text
        assert f'href="{run_link}"' in (await client.get("/market/searches")).text  # answered from the cache

        cancelled = await post_form(client, f"{run_link}/cancel")
        assert cancelled.status_code in (302, 303)
        await client.get(run_link)  # "Run cancelled." is shown there
        page = await client.get("/market/searches")
        assert page.status_code == 200
        assert f'href="{run_link}"' not in page.text, "the cancelled run still shows as queued"


class _ReadAsSoonAsAnswered:
    """An ASGI wrapper that, the moment the answer to ``method path`` has been sent, has the client's next
    request (``follow``) answered - what a client on a keep-alive connection, or on another worker, does while
    the server's task for the first request is still finishing."""

    def __init__(self, app: Litestar, method: str, path: str) -> None:
        self.app = app
        self.method, self.path = method, path
        self.follow: Callable[[], Awaitable[httpx.Response]] | None = None
        self.followed: list[httpx.Response] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) != (self.method, self.path):  # type: ignore[typeddict-item]
            await self.app(scope, receive, send)
            return

        async def send_then_follow(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and self.follow:
                self.followed.append(await self.follow())

        await self.app(scope, receive, send_then_follow)


async def test_a_read_sent_as_soon_as_a_write_is_answered_sees_the_write(
    app: Litestar, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    search = await _search(services, alice.id, url)
    await execute_search(services, search.id, alice.id)
    lens = (await listings_by_sku(services))["l1"]
    headers = await bearer(services, alice)
    racing = _ReadAsSoonAsAnswered(app, "POST", "/api/v1/market/favorites")
    async with app_client(app) as reader:
        assert (await reader.get("/api/v1/market/favorites", headers=headers)).json()["total"] == 0
        assert (await reader.get("/api/v1/market/favorites", headers=headers)).json()["total"] == 0  # cached

        async def read_favorites() -> httpx.Response:
            return await reader.get("/api/v1/market/favorites", headers=headers)

        racing.follow = read_favorites
        transport = httpx.ASGITransport(app=racing)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as writer:
            saved = await writer.post(
                "/api/v1/market/favorites", json={"listing_id": lens.id, "note": "mint"}, headers=headers
            )
        assert saved.status_code == 201
        assert [answer.json()["total"] for answer in racing.followed] == [1], "the favorite was answered stale"
        assert (await read_favorites()).json()["total"] == 1


async def test_an_admin_quota_change_is_not_hidden_by_a_read_before_it_commits(
    app: Litestar, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """admin.service.set_market_quotas forgets the user's views inside the admin's transaction: a read of the
    user's in between renders the old quota and keeps it under the new version, after the commit too."""
    from spyglass.accounts.models import Role

    admin = await create_user(services, username="root", role=Role.ADMIN)
    alice = await create_user(services, username="alice")
    await _search(services, alice.id, "http://127.0.0.1:9/lenses", enabled=False)
    default = services.settings.market_max_searches_per_user
    async with _signed_in(app, alice) as client:
        assert f"up to {default} saved searches" in (await client.get("/market/searches")).text
        # Alice's read arrives right after the forget, while the admin's transaction is still open.
        real_invalidate = services.cache.invalidate
        reads: list[str] = []

        async def invalidate_then_read(namespace: str, key: object) -> None:
            await real_invalidate(namespace, key)
            if namespace == VERSIONS and key == f"market.searches:{alice.id}" and not reads:
                reads.append((await client.get("/market/searches")).text)

        monkeypatch.setattr(services.cache, "invalidate", invalidate_then_read)
        async with app_client(app, lifespan=False) as admin_client:
            answer = await admin_client.put(
                f"/api/v1/admin/users/{alice.id}/market-quotas",
                json={"max_searches": 7},
                headers=await bearer(services, admin),
            )
        assert answer.status_code == 200
        assert reads and f"up to {default} saved searches" in reads[0]  # the race happened
        monkeypatch.undo()
        assert "up to 7 saved searches" in (await client.get("/market/searches")).text


async def test_a_price_drop_alert_for_a_watcher_shows_on_their_cached_alerts(
    app: Litestar, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    alices = await _search(services, alice.id, url)
    bobs = await _search(services, bob.id, url)
    await execute_search(services, alices.id, alice.id)
    await execute_search(services, bobs.id, bob.id)
    lens = (await listings_by_sku(services))["l1"]
    as_bob = await bearer(services, bob)
    async with app_client(app) as client:
        watch = await client.post(
            "/api/v1/market/price-alerts", json={"listing_id": lens.id, "target_price": "100.00"}, headers=as_bob
        )
        assert watch.status_code == 201, watch.text
        before = (await client.get("/api/v1/market/alerts", headers=as_bob)).json()["total"]
        assert (await client.get("/api/v1/market/alerts", headers=as_bob)).json()["total"] == before  # cached

        shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "90.00")])
        await execute_search(services, alices.id, alice.id)  # Alice's run notices the drop Bob watches
        async with services.db.session() as session:
            from sqlalchemy import func, select

            from spyglass.market.models import MarketAlert

            stored = await session.scalar(
                select(func.count()).select_from(MarketAlert).where(MarketAlert.user_id == bob.id)
            )
        assert stored == before + 1  # Bob has the alert (and is notified of it) ...
        assert (await client.get("/api/v1/market/alerts", headers=as_bob)).json()["total"] == before + 1


async def test_an_admin_cancelling_a_users_queued_run_shows_on_their_cached_searches_page(
    app: Litestar, services: Services
) -> None:
    from spyglass.accounts.models import Role

    admin = await create_user(services, username="root", role=Role.ADMIN)
    alice = await create_user(services, username="alice")
    search = await _search(services, alice.id, "http://127.0.0.1:9/lenses", enabled=False)
    async with _signed_in(app, alice) as client:
        queued = await post_form(client, f"/market/searches/{search.id}/run")
        run_link = queued.headers["location"]
        await client.get(run_link)
        assert f'href="{run_link}"' in (await client.get("/market/searches")).text
        async with _signed_in(app, admin) as root:
            cancelled = await post_form(root, f"/admin/engine{run_link}/cancel")
            assert cancelled.status_code in (302, 303)
        assert f'href="{run_link}"' not in (await client.get("/market/searches")).text


@pytest.fixture(scope="module")
def replica(postgres_admin_url: str, postgres_url: str) -> Any:
    """A hot standby of the test server (as in tests/ops), for this module's replica test only."""
    from tests.support.databases import streaming_replica

    del postgres_url  # requested so the migrated test database is part of the base backup
    with streaming_replica(postgres_admin_url) as standby:
        yield standby


@pytest.mark.slow
@pytest.mark.backends("postgresql")
async def test_a_runs_results_are_not_hidden_for_the_ttl_by_a_lagging_replica(
    tmp_path: Any, database_url: str, replica: Any, shop: Shop
) -> None:
    import asyncio

    from sqlalchemy import text

    from spyglass.app import create_app
    from tests.support.databases import wait_for_replay

    replica_url = replica.url_for(database_url)
    settings = make_settings(
        tmp_path,
        database_url,
        database_replica_url=replica_url,
        database_replica_read_your_writes_seconds=0.5,
        allow_private_targets="127.0.0.1/32,localhost",
        http_per_host_delay_seconds=0,
        rate_limit_enabled=False,
    )
    services = Services.build(settings)
    app = create_app(settings, services=services)
    standby = services.db.replica_engine
    assert standby is not None
    try:
        url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
        alice = await create_user(services, username="alice")
        search = await _search(services, alice.id, url)
        headers = await bearer(services, alice)
        async with app_client(app, lifespan=False) as client:
            assert (await client.get("/api/v1/market/listings", headers=headers)).json()["total"] == 0
            await asyncio.sleep(0.6)  # her token's last-use write is out of the read-your-writes window
            await wait_for_replay(database_url, replica_url)
            async with standby.connect() as connection:
                await connection.execute(text("SELECT pg_wal_replay_pause()"))
            try:
                await execute_search(services, search.id, alice.id)  # the run forgets her views
                # ... and sends her next reads to the primary for the window: the lagging replica is not used.
                assert (await client.get("/api/v1/market/listings", headers=headers)).json()["total"] == 1
            finally:
                async with standby.connect() as connection:
                    await connection.execute(text("SELECT pg_wal_replay_resume()"))
            await wait_for_replay(database_url, replica_url)
            await asyncio.sleep(0.6)
            async with services.db.session(replica_ok=True) as session:  # the replica has the run's listing now
                assert await session.scalar(text("SELECT count(*) FROM market_listing_matches")) == 1
            assert (await client.get("/api/v1/market/listings", headers=headers)).json()["total"] == 1
    finally:
        await services.close()


async def test_a_page_is_keyed_by_the_csrf_cookie_the_page_embeds(app: Litestar, services: Services) -> None:
    """Two browsers of one user that both carry an extra ``spyglass_csrf`` cookie (a parent-domain or old-path
    cookie of the same name, sent first) each get a page with their own CSRF token: the token embedded is the
    one Litestar reads (the last of the name), so the key must use that one too, not the first in the header."""
    from spyglass.core.csrf import CSRF_COOKIE
    from spyglass.core.sessions import SESSION_COOKIE
    from tests.support.web import csrf_token

    alice = await create_user(services, username="alice")
    pages: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for device in ("laptop", "phone"):
        async with _signed_in(app, alice) as client:
            tokens[device] = await csrf_token(client)
            session = client.cookies.get(SESSION_COOKIE)
            cookie = f"{CSRF_COOKIE}=tossed; {SESSION_COOKIE}={session}; {CSRF_COOKIE}={tokens[device]}"
            page = await client.get("/market/favorites", headers={"cookie": cookie})
            assert page.status_code == 200
            pages[device] = page.text
    assert tokens["laptop"] != tokens["phone"]
    assert tokens["phone"] in pages["phone"] and tokens["laptop"] not in pages["phone"]


async def test_a_finished_run_does_not_stay_running_on_the_cached_searches_page(
    app: Litestar, services: Services, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    search = await _search(services, alice.id, url, enabled=False)
    async with _signed_in(app, alice) as client:
        assert 'href="/runs/' not in (await client.get("/market/searches")).text
        real_invalidate = services.cache.invalidate
        forgets: list[str] = []
        reads: list[str] = []

        async def invalidate_then_read(namespace: str, key: object) -> None:
            await real_invalidate(namespace, key)
            if namespace == VERSIONS and key == f"market.searches:{alice.id}":
                forgets.append(str(key))
                # After every forget during the run Alice reloads her dashboard, caching what it shows then.
                reads.append((await client.get("/market/searches")).text)

        monkeypatch.setattr(services.cache, "invalidate", invalidate_then_read)
        run = await execute_search(services, search.id, alice.id)
        monkeypatch.undo()
        assert run.status == "succeeded"
        assert any(f'href="/runs/{run.id}">running' in text for text in reads)  # a page was cached mid-run
        assert f'href="/runs/{run.id}"' not in (await client.get("/market/searches")).text


async def test_a_cached_answer_carries_no_per_request_header(app: Litestar, services: Services) -> None:
    """Checked, not a finding: the request id, rate-limit headers and session cookie come from middleware
    outside the view cache, so a hit gets its own; the kept answer has none of them."""
    alice = await create_user(services, username="alice")
    async with _signed_in(app, alice) as client:
        answers = [await client.get("/api/v1/market/favorites") for _ in range(3)]
    assert services.cache.stats["views"].hits >= 2
    assert len({answer.headers["x-request-id"] for answer in answers}) == 3
    assert all("set-cookie" not in answer.headers for answer in answers[1:])
