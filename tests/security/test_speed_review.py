"""Review of this session's request-path speed-ups (sessions' process-local copies, the CSRF fast path, the view
cache's areas and one-call hits, the market's rewritten reads): cheaper must not mean wrong.

Each test pins one guarantee against real parts: Redis from the harness (reached directly, or through
``LinkToRedis``, a TCP relay on loopback that plays a slow or dead network link), the app answering HTTP, the
database of the parametrized backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.middleware.csrf import generate_csrf_token
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from spyglass.accounts.models import Role
from spyglass.app import create_app
from spyglass.config import Settings
from spyglass.core.cache import Cache
from spyglass.core.csrf import CSRF_COOKIE, CSRF_HEADER
from spyglass.core.metrics import Metrics
from spyglass.core.services import Services
from spyglass.core.session_store import ReplicatedRedisStore
from spyglass.core.view_cache import VERSIONS, VIEWS
from spyglass.market import service
from spyglass.market.models import Favorite
from spyglass.web.templating import format_money, format_when
from tests.conftest import make_settings
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.http_server import LocalHttpServer
from tests.support.servers import free_port
from tests.support.web import csrf_token, login, post_form, signed_in_client

#: The suite's other tests flush Redis database 0 and use 7, 8, 9, 11.
REVIEW_REDIS_DB = 13


class LinkToRedis:
    """A TCP relay to Redis on 127.0.0.1: a network link whose replies can be held back.

    A connection becomes *marked* once its client sends a command containing one of ``marks`` (e.g. the script
    call of a view-cache read, or the ``CLIENT TRACKING`` of an invalidation listener). Redis's replies on marked
    connections arrive ``delay`` seconds late (in order), or never while ``dead`` (the connection stays open:
    a link that died silently, as behind a NAT that forgot it or a failover that isolated the old server).
    """

    def __init__(self, redis_url: str, *, marks: tuple[bytes, ...]) -> None:
        parts = urlsplit(redis_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._path = parts.path
        self.marks = tuple(mark.upper() for mark in marks)
        self.delay = 0.0
        self.dead = False
        self.refuse = False  # a request carrying a mark is not forwarded: its connection drops instead
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self._path}"

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        self._writers += [client_writer, server_writer]
        marked = asyncio.Event()
        replies: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def requests() -> None:
            while data := await client_reader.read(65536):
                if any(mark in data.upper() for mark in self.marks):
                    if self.refuse:
                        client_writer.close()
                        server_writer.close()
                        return
                    marked.set()
                server_writer.write(data)
                await server_writer.drain()

        async def receive_replies() -> None:
            while data := await server_reader.read(65536):
                late = self.delay if marked.is_set() else 0.0
                await replies.put((loop.time() + late, data))

        async def deliver_replies() -> None:
            while True:
                due, data = await replies.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                while marked.is_set() and self.dead:
                    await asyncio.sleep(0.05)
                client_writer.write(data)
                await client_writer.drain()

        for job in (requests(), receive_replies(), deliver_replies()):
            task = asyncio.ensure_future(job)
            self._tasks.add(task)


@pytest.fixture
def settings(tmp_path: Any, database_url: str) -> Settings:
    # The shop runs on 127.0.0.1, which the URL policy refuses unless allowed; no politeness delay in tests.
    return make_settings(
        tmp_path, database_url, allow_private_targets="127.0.0.1/32,localhost", http_per_host_delay_seconds=0
    )


@pytest.fixture
def shop() -> Any:
    with LocalHttpServer() as server:
        yield Shop(server)


def review_redis(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{REVIEW_REDIS_DB}"


async def eventually(check: Callable[[], Any], *, within: float, every: float = 0.05) -> bool:
    """Whether ``await check()`` turned true within ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return bool(await check())


# -- the view cache's one-call hit (Cache.get_versioned) ------------------------------------------------------------


@pytest.fixture
async def view_caches(redis_url: str) -> AsyncIterator[Callable[[str], Cache]]:
    """Caches that share a private prefix on the review database: each one is a web process of its own."""
    prefix = f"review-{uuid.uuid4().hex[:8]}"
    built: list[Cache] = []

    def build(url: str) -> Cache:
        built.append(Cache(redis_url=url, ttls={VIEWS: 30, VERSIONS: 3600}, metrics=Metrics(), prefix=prefix))
        return built[-1]

    yield build
    for cache in built:
        with contextlib.suppress(Exception):
            await cache.close()


async def test_a_view_read_racing_a_write_does_not_keep_the_forgotten_version(
    redis_url: str, view_caches: Callable[[str], Cache]
) -> None:
    """A read whose script ran before a write's forget but whose answer reached the process after the forget's
    invalidation message must not keep the old version as a client-side copy: the process would answer the old
    page from memory for the views' TTL (30 s), to every later read of the user, without asking Redis."""
    url = review_redis(redis_url)
    link = LinkToRedis(url, marks=(b"EVALSHA",))
    async with link as slow_url:
        writer, reader = view_caches(url), view_caches(slow_url)
        area = "market.listings:1"
        version, _ = await writer.get_versioned(VERSIONS, area, VIEWS, "1:", ":page")
        await writer.set(VIEWS, f"1:{version}:page", "the page before the write")
        await reader.get_versioned(VERSIONS, "market.listings:2", VIEWS, "2:", ":page")  # started, script loaded

        link.delay = 0.5  # the reader's script answers travel slowly; its invalidation messages do not
        racing = asyncio.ensure_future(reader.get_versioned(VERSIONS, area, VIEWS, "1:", ":page"))
        await asyncio.sleep(0.2)  # the script ran in Redis, its answer is on the way
        await writer.invalidate(VERSIONS, area)  # the user's write forgets the version
        assert await racing == (version, "the page before the write")  # a concurrent read may answer the old page
        link.delay = 0.0

        async def fresh() -> bool:
            return (await reader.get_versioned(VERSIONS, area, VIEWS, "1:", ":page"))[0] != version

        assert await eventually(fresh, within=2.0), "the reader kept answering the forgotten version"


async def active() -> str:
    """A loader: the user as cached before the change."""
    return "alice, active"


async def deactivated() -> str:
    """A loader: the user as the database has it after the change."""
    return "alice, deactivated"


async def test_a_cached_user_read_racing_a_forget_does_not_outlive_it(
    redis_url: str, view_caches: Callable[[str], Cache]
) -> None:
    """The same race on the users cache (``forget_user`` after a deactivation, a password reset, a role change):
    a read of the user whose answer reached the process after the forget's invalidation message kept the old
    user as a client-side copy without expiry, so that process went on accepting a deactivated user's session
    until something else happened to write the key again."""
    url = review_redis(redis_url)
    link = LinkToRedis(url, marks=(b"GET",))
    async with link as slow_url:
        writer, reader = view_caches(url), view_caches(slow_url)

        assert await writer.get_or_load("users", 1, active) == "alice, active"
        assert await reader.get_or_load("users", 2, active) == "alice, active"  # started

        link.delay = 0.5  # the reader's answers travel slowly; its invalidation messages do not
        racing = asyncio.ensure_future(reader.get_or_load("users", 1, deactivated))
        await asyncio.sleep(0.2)  # the GET ran in Redis, its answer is on the way
        await writer.invalidate("users", 1)  # the admin's request: committed, then forget_user
        assert await racing == "alice, active"  # a read concurrent with the change may answer the old user
        link.delay = 0.0

        async def fresh() -> bool:
            return await reader.get_or_load("users", 1, deactivated) == "alice, deactivated"

        assert await eventually(fresh, within=2.0), "the reader kept the user as it was before the forget"


async def test_a_forget_that_did_not_reach_redis_does_not_pass_for_done(
    redis_url: str, view_caches: Callable[[str], Cache]
) -> None:
    """cashews suppresses Redis errors: a DEL whose connection failed (Redis restarting, the pool exhausted under
    load) answers like one that deleted nothing. A forget must either happen or fail the request that made it;
    a lost ``forget_user`` keeps a deactivated user (a revoked token: ``forget_token``) for the cache's TTL, a
    lost ``forget_views`` the old pages."""
    url = review_redis(redis_url)
    link = LinkToRedis(url, marks=(b"UNLINK", b"DEL"))
    async with link as lossy_url:
        admins_process, users_process = view_caches(lossy_url), view_caches(url)

        assert await users_process.get_or_load("users", 1, active) == "alice, active"
        await admins_process.get_or_load("users", 2, active)  # started
        link.refuse = True  # the link drops the forget
        try:
            await admins_process.invalidate("users", 1)
        except Exception:  # the admin's request fails (503) and is tried again: acceptable
            return
        link.refuse = False

        async def forgotten() -> bool:
            return await users_process.get_or_load("users", 1, deactivated) == "alice, deactivated"

        assert await eventually(forgotten, within=2.0), "the forget was lost, and nobody was told"


# -- sessions' process-local copies ---------------------------------------------------------------------------------


@pytest.fixture
async def session_stores(redis_url: str) -> AsyncIterator[Callable[[str], Any]]:
    namespace = f"review-{uuid.uuid4().hex[:8]}:sessions"
    built: list[ReplicatedRedisStore] = []

    async def build(url: str) -> ReplicatedRedisStore:
        store = ReplicatedRedisStore(url, namespace=namespace)
        built.append(store)
        await store.get("warm-up")  # starts the listener

        async def listening() -> bool:
            return store.listening

        assert await eventually(listening, within=5.0)
        return store

    yield build
    for store in built:
        with contextlib.suppress(Exception):
            await store.close()


async def test_a_sign_out_is_seen_when_the_listener_link_died_silently(
    redis_url: str, session_stores: Callable[[str], Any]
) -> None:
    """The copies are exact only while invalidation messages arrive. A listener connection that stops
    delivering without closing (a NAT or firewall that forgot it, a failover that isolated the old server) gives
    no error: the process must notice within seconds and stop answering from copies, not keep a signed-out
    session alive for its whole idle lifetime."""
    url = review_redis(redis_url)
    link = LinkToRedis(url, marks=(b"TRACKING",))
    async with link as listener_url:
        signing_out = await session_stores(url)
        other = await session_stores(listener_url)
        await signing_out.set("alice", b"signed in", expires_in=3600)
        await asyncio.sleep(0.2)  # the write's own invalidation message has reached the other process
        assert await other.get("alice") == b"signed in"  # the other process keeps a copy
        assert await other.get("alice") == b"signed in"

        link.dead = True  # its listener's link dies without a word
        await asyncio.sleep(0.2)
        await signing_out.delete("alice")  # Alice signs out

        async def refused() -> bool:
            return await other.get("alice") is None

        assert await eventually(refused, within=5.0), "a signed-out session was still accepted"


async def test_a_session_copy_is_not_answered_after_redis_restarted_empty(
    tmp_path: Any, session_stores: Callable[[str], Any]
) -> None:
    """Redis restarted without its data (the cluster test's fault): every session is gone, and a process holding
    copies must say so on its next read, not answer from memory."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed"
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    async def start() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return process
            await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    server = await start()
    try:
        url = f"redis://127.0.0.1:{port}/0"
        writing, reading = await session_stores(url), await session_stores(url)
        await writing.set("alice", b"signed in", expires_in=3600)
        await asyncio.sleep(0.1)
        assert await reading.get("alice") == b"signed in"
        assert await reading.get("alice") == b"signed in"  # from its copy

        server.terminate()
        await server.wait()
        server = await start()
        # The first read may meet a pooled connection the restart closed (the app answers 503 then); no read
        # may answer the lost session from the process's copy.
        with contextlib.suppress(RedisConnectionError):
            assert await reading.get("alice") is None, "a session Redis lost was answered from a copy"
        assert await reading.get("alice") is None, "a session Redis lost was answered from a copy"

        async def copying_again() -> bool:
            return bool(reading.listening)

        assert await eventually(copying_again, within=5.0)
        with contextlib.suppress(RedisConnectionError):  # the writer's pooled connection was closed too
            await writing.exists("bob")
        await writing.set("bob", b"signed in", expires_in=3600)
        await asyncio.sleep(0.1)
        assert await reading.get("bob") == b"signed in"
        await writing.delete("bob")
        await asyncio.sleep(0.1)
        assert await reading.get("bob") is None
    finally:
        server.terminate()
        await server.wait()


# -- two web processes on one Redis, over HTTP ----------------------------------------------------------------------


@pytest.fixture
async def two_processes(tmp_path: Any, database_url: str, redis_url: str) -> AsyncIterator[tuple[Any, Any, Any]]:
    """Two apps with their own services (as two web processes) on one database and one Redis, rate limits on."""
    shared = review_redis(redis_url)
    flush = Redis.from_url(shared)
    await flush.flushdb()
    await flush.aclose()
    local = {"allow_private_targets": "127.0.0.1/32,localhost", "http_per_host_delay_seconds": 0}
    first = Services.build(make_settings(tmp_path / "a", database_url, redis_url=shared, **local))
    second = Services.build(make_settings(tmp_path / "b", database_url, redis_url=shared, **local))
    try:
        yield first, create_app(first.settings, services=first), create_app(second.settings, services=second)
    finally:
        await first.close()
        await second.close()


@pytest.mark.backends("postgresql")
async def test_a_sign_out_on_one_process_is_seen_by_the_next_request_on_another(
    two_processes: tuple[Any, Any, Any],
) -> None:
    services, one, two = two_processes
    alice = await create_user(services, username="alice")
    for attempt in range(5):
        async with app_client(one, lifespan=False, follow_redirects=False) as browser:
            await login(browser, alice.username, DEFAULT_PASSWORD)  # type: ignore[arg-type]
            cookies = dict(browser.cookies)
            async with app_client(two, lifespan=False, follow_redirects=False) as elsewhere:
                elsewhere.cookies.update(cookies)
                assert (await elsewhere.get("/market/searches")).status_code == 200
                assert (await elsewhere.get("/market/searches")).status_code == 200  # its copy of the session
                signed_out = await post_form(browser, "/logout")  # type: ignore[arg-type]
                assert signed_out.status_code == 303
                after = await elsewhere.get("/market/searches")
                assert after.status_code in (302, 303, 401), f"attempt {attempt}: still signed in elsewhere"


@pytest.mark.backends("postgresql")
async def test_a_write_on_one_process_shows_on_the_next_read_on_another(
    two_processes: tuple[Any, Any, Any], shop: Shop
) -> None:
    services, one, two = two_processes
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    spec = service.parse_search(search_body(url, name="Lenses", keywords="lens"), settings=services.settings)
    async with services.db.session(write=True) as session:
        search_id = (await service.create_search(session, user_id=alice.id, spec=spec, settings=services.settings)).id
    await execute_search(services, search_id, alice.id)
    lens = (await listings_by_sku(services))["l1"]
    headers = await bearer(services, alice)
    async with app_client(one, lifespan=False) as writer, app_client(two, lifespan=False) as reader:
        for note in ("first", "second", "third"):
            for _ in range(2):  # the second read is answered from the reader's copies
                await reader.get("/api/v1/market/favorites", headers=headers)
            saved = await writer.post(
                "/api/v1/market/favorites", json={"listing_id": lens.id, "note": note}, headers=headers
            )
            assert saved.status_code == 201, saved.text
            items = (await reader.get("/api/v1/market/favorites", headers=headers)).json()["items"]
            assert [item["note"] for item in items] == [note], "the other process answered its old copy"


# -- the CSRF guard's fast path for safe methods ---------------------------------------------------------------------


async def _alice_with_a_favorite(services: Services, shop: Shop) -> tuple[Any, int, int]:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    spec = service.parse_search(search_body(url, name="Lenses", keywords="lens"), settings=services.settings)
    async with services.db.session(write=True) as session:
        search_id = (await service.create_search(session, user_id=alice.id, spec=spec, settings=services.settings)).id
    await execute_search(services, search_id, alice.id)
    lens = (await listings_by_sku(services))["l1"]
    async with services.db.session(write=True) as session:
        favorite = Favorite(user_id=alice.id, listing_id=lens.id, note="original")
        session.add(favorite)
        await session.flush()
        favorite_id = favorite.id
    return alice, search_id, favorite_id


async def test_every_unsafe_method_and_body_needs_the_token_of_the_cookie(
    app: Any, services: Services, shop: Shop
) -> None:
    alice, search_id, favorite_id = await _alice_with_a_favorite(services, shop)
    async for browser in signed_in_client(app, alice):
        token = await csrf_token(browser)  # type: ignore[arg-type]
        other_token = generate_csrf_token(secret=services.settings.secret_key.get_secret_value())
        search = f"/api/v1/market/searches/{search_id}"
        favorite = f"/api/v1/market/favorites/{favorite_id}"
        body = search_body(shop.url("/lenses"), name="Renamed", keywords="lens")
        refused = [
            await browser.post("/market/searches/start-all"),  # no body, no token
            await browser.post("/market/searches/stop-all", data={"_csrf_token": other_token}),  # another cookie's
            await browser.post("/market/searches/stop-all", files={"_csrf_token": (None, "0" * 128)}),  # multipart
            await browser.post(
                "/market/searches/stop-all", content=f"_csrf_token={token}", headers={"content-type": "text/plain"}
            ),
            await browser.put(search, json={**body, "_csrf_token": token}),  # a JSON body is not where it goes
            await browser.put(search, json=body, headers={CSRF_HEADER: other_token}),
            await browser.patch(favorite, json={"note": "changed"}),
            await browser.delete(favorite),
            await browser.delete(favorite, headers={CSRF_HEADER: ""}),
            await browser.request("PROPFIND", "/market/searches"),
        ]
        assert [answer.status_code for answer in refused[:-1]] == [403] * 9
        assert refused[-1].status_code in (403, 405)
        # Nothing was changed by the refused requests; the same requests with the token are carried out.
        assert (await browser.get(search)).json()["name"] == "Lenses"
        assert (await browser.get(favorite.replace(f"/{favorite_id}", ""))).json()["items"][0]["note"] == "original"
        assert (await browser.put(search, json=body, headers={CSRF_HEADER: token})).status_code == 200
        assert (
            await browser.patch(favorite, json={"note": "changed"}, headers={CSRF_HEADER: token})
        ).status_code == 200
        assert (await browser.post("/market/searches/stop-all", data={"_csrf_token": token})).status_code == 303


async def test_safe_methods_give_the_token_the_page_embeds(app: Any, services: Services) -> None:
    alice = await create_user(services, username="alice")
    async for browser in signed_in_client(app, alice):
        token = await csrf_token(browser)  # type: ignore[arg-type]
        for method in ("GET", "HEAD", "OPTIONS"):
            answer = await browser.request(method, "/market/searches")
            assert answer.status_code != 403 and answer.status_code < 500, (method, answer.status_code)
            assert CSRF_COOKIE not in answer.headers.get("set-cookie", ""), method
        assert f'"x-csrf-token": "{token}"' in (await browser.get("/market/searches")).text
        # Without its cookie a page makes a new token, sets it as the cookie and embeds that one; it is not kept
        # in the view cache (its answer sets a cookie), so the next page embeds the new cookie's token.
        browser.cookies.delete(CSRF_COOKIE)
        fresh = await browser.get("/market/searches")
        new_token = browser.cookies.get(CSRF_COOKIE)
        assert new_token and new_token != token
        assert f'"x-csrf-token": "{new_token}"' in fresh.text
        assert f'"x-csrf-token": "{new_token}"' in (await browser.get("/market/searches")).text
        assert (await browser.post("/market/searches/stop-all", data={"_csrf_token": token})).status_code == 403
        assert (await browser.post("/market/searches/stop-all", data={"_csrf_token": new_token})).status_code == 303


# -- the market's rewritten reads: escaping and tenant isolation -----------------------------------------------------

HOSTILE_TITLE = '<script>alert("title") "Canon" lens'  # the shop page embeds it in JSON-LD: no "</script>"
HOSTILE_NAME = '<b onmouseover="alert(1)">Lenses</b> "quoted"'
HOSTILE_NOTE = '</textarea><img src=x onerror=alert("note")>'


async def test_user_and_marketplace_text_is_escaped_on_every_market_page(
    app: Any, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", HOSTILE_TITLE, "120.00", description="<i>mint</i>")])
    alice = await create_user(services, username="alice")
    spec = service.parse_search(search_body(url, name=HOSTILE_NAME, keywords="lens"), settings=services.settings)
    async with services.db.session(write=True) as session:
        search_id = (await service.create_search(session, user_id=alice.id, spec=spec, settings=services.settings)).id
    await execute_search(services, search_id, alice.id)
    lens = (await listings_by_sku(services))["l1"]
    async for browser in signed_in_client(app, alice):
        assert (
            await post_form(browser, f"/market/listings/{lens.id}/favorite", {"note": HOSTILE_NOTE})
        ).status_code == 303  # type: ignore[arg-type]
        answer = await post_form(browser, f"/market/listings/{lens.id}/price-alert", {"target_price": "99"})  # type: ignore[arg-type]
        assert answer.status_code == 303
        pages = [
            "/market/searches",
            "/market/listings",
            f"/market/listings?search={search_id}",
            f"/market/listings/{lens.id}",
            "/market/favorites",
            "/market/alerts",
        ]
        for path in pages:
            for _ in range(2):  # rendered, then answered from the view cache
                text = (await browser.get(path)).text
                assert "<script>alert" not in text and "<b onmouseover" not in text, path
                assert "<img src=x" not in text and "<i>mint</i>" not in text, path
        shown = {path: (await browser.get(path)).text for path in pages}
        assert "&lt;script&gt;alert(&#34;title&#34;) &#34;Canon&#34; lens" in shown["/market/listings"]
        assert "&lt;b onmouseover=&#34;alert(1)&#34;&gt;Lenses&lt;/b&gt;" in shown["/market/searches"]
        assert "&lt;/textarea&gt;&lt;img src=x" in shown["/market/favorites"]
        assert "$120.00" in shown[f"/market/listings/{lens.id}"] and "$99.00" in shown["/market/alerts"]


def test_money_and_dates_escape_what_can_hold_markup() -> None:
    assert str(format_money(Decimal("1234.5"), '<b>"EUR"</b>')) == "1,234.50 &lt;b&gt;&#34;EUR&#34;&lt;/b&gt;"
    assert str(format_money(Decimal("5"), None)) == "$5.00"
    assert str(format_money(None, "<b>")) == '<span class="muted">no price</span>'
    assert str(format_when(None, '<i>"never"</i>')) == '<span class="muted">&lt;i&gt;&#34;never&#34;&lt;/i&gt;</span>'
    moment = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    assert str(format_when(moment)) == '<time datetime="2026-12-02T14:05:00+00:00">2026-12-02 14:05 UTC</time>'


async def test_a_user_sees_only_their_own_searches_favorites_and_alerts_of_a_shared_listing(
    app: Any, services: Services, shop: Shop
) -> None:
    url = shop.serve(
        "/shop", [Product("l1", "Canon 50mm lens", "120.00"), Product("c1", "Canon camera body", "400.00")]
    )
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    searches: dict[str, int] = {}
    for owner, name, keywords in ((alice, "Alice lenses", "lens"), (bob, "Bob secret canon", "canon")):
        spec = service.parse_search(search_body(url, name=name, keywords=keywords), settings=services.settings)
        async with services.db.session(write=True) as session:
            searches[name] = (
                await service.create_search(session, user_id=owner.id, spec=spec, settings=services.settings)
            ).id
        await execute_search(services, searches[name], owner.id)
    found = await listings_by_sku(services)
    lens, body = found["l1"], found["c1"]  # the lens is shared; the body only Bob's search found
    as_bob = await bearer(services, bob)
    as_alice = await bearer(services, alice)
    async with app_client(app) as client:
        assert (
            await client.post(
                "/api/v1/market/favorites", json={"listing_id": lens.id, "note": "bob note"}, headers=as_bob
            )
        ).status_code == 201
        assert (
            await client.post(
                "/api/v1/market/price-alerts", json={"listing_id": lens.id, "target_price": "77.00"}, headers=as_bob
            )
        ).status_code == 201

        detail = (await client.get(f"/api/v1/market/listings/{lens.id}", headers=as_alice)).json()
        assert detail["searches"] == [{"id": searches["Alice lenses"], "name": "Alice lenses"}]
        assert "bob note" not in json.dumps(detail) and "77.00" not in json.dumps(detail)
        listed = (await client.get("/api/v1/market/listings", headers=as_alice)).json()
        assert [item["id"] for item in listed["items"]] == [lens.id] and listed["total"] == 1
        for path in (
            f"/api/v1/market/listings/{body.id}",
            f"/api/v1/market/listings?search={searches['Bob secret canon']}",
            f"/api/v1/market/searches/{searches['Bob secret canon']}",
            f"/api/v1/market/searches/{searches['Bob secret canon']}/stats",
        ):
            assert (await client.get(path, headers=as_alice)).status_code == 404, path
        for path, payload in (
            ("/api/v1/market/favorites", {"listing_id": body.id, "note": ""}),
            ("/api/v1/market/price-alerts", {"listing_id": body.id, "target_price": "1.00"}),
        ):
            assert (await client.post(path, json=payload, headers=as_alice)).status_code == 404, path
        for path in ("/api/v1/market/favorites", "/api/v1/market/price-alerts", "/api/v1/market/alerts"):
            assert "bob note" not in (await client.get(path, headers=as_alice)).text
            assert (await client.get(path, headers=as_alice)).json()["items"] == [] or path.endswith("alerts")

    async for browser in signed_in_client(app, alice):
        page = (await browser.get(f"/market/listings/{lens.id}")).text
        assert "Alice lenses" in page and "Bob secret canon" not in page and "bob note" not in page
        assert "77.00" not in page
        listings_page = (await browser.get("/market/listings")).text
        assert "Canon camera body" not in listings_page and "Bob secret canon" not in listings_page
        assert (await browser.get(f"/market/listings/{body.id}")).status_code == 404
        assert "Bob secret canon" not in (await browser.get("/market/searches")).text


@pytest.mark.backends("postgresql")
async def test_an_admin_deactivating_or_demoting_a_user_takes_effect_on_every_process(
    two_processes: tuple[Any, Any, Any],
) -> None:
    """Deactivation and role changes end what the user could do on the very next request, on another process
    than the admin's too (the user is cached on each process; the session itself is unchanged)."""
    services, one, two = two_processes
    root = await create_user(services, username="root", role=Role.ADMIN)
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob", role=Role.ADMIN)
    async for admin in signed_in_client(one, root):
        async for as_alice in signed_in_client(two, alice):
            async for as_bob in signed_in_client(two, bob):
                for _ in range(2):  # the second answers from the view cache and the process's copies
                    assert (await as_alice.get("/market/searches")).status_code == 200
                    assert (await as_bob.get("/admin")).status_code == 200
                demoted = await post_form(admin, f"/admin/users/{bob.id}/role", {"role": "user"})  # type: ignore[arg-type]
                assert demoted.status_code == 303
                assert (await as_bob.get("/admin")).status_code == 404, "a demoted admin still reached /admin"
                deactivated = await post_form(admin, f"/admin/users/{alice.id}/deactivate")  # type: ignore[arg-type]
                assert deactivated.status_code == 303
                after = await as_alice.get("/market/searches")
                assert after.status_code in (302, 303, 401), "a deactivated user was still signed in"


async def test_answers_from_the_view_cache_still_count_against_the_rate_limit(tmp_path: Any, database_url: str) -> None:
    services = Services.build(make_settings(tmp_path, database_url, rate_limit_api="4/minute"))
    try:
        alice = await create_user(services, username="alice")
        headers = await bearer(services, alice)
        async with app_client(create_app(services.settings, services=services)) as client:
            answers = [await client.get("/api/v1/market/searches", headers=headers) for _ in range(5)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 429]
        assert services.cache.stats[VIEWS].hits == 3  # the second to the fourth came from the cache
        assert [answer.headers.get("ratelimit-remaining") for answer in answers[:4]] == ["3", "2", "1", "0"]
        assert "retry-after" in answers[4].headers
    finally:
        await services.close()


async def test_the_session_copies_stay_within_their_bound_whatever_the_cookies(redis_url: str) -> None:
    """Random cookies (a scanner, an attacker) each leave a remembered absence: the copies never outgrow the bound,
    and the sessions read since are still answered right."""
    store = ReplicatedRedisStore(review_redis(redis_url), namespace=f"review-{uuid.uuid4().hex[:8]}", max_copies=100)
    try:
        await store.get("warm-up")

        async def listening() -> bool:
            return bool(store.listening)

        assert await eventually(listening, within=5.0)
        await store.set("alice", b"signed in", expires_in=60)
        for number in range(1000):
            assert await store.get(uuid.uuid4().hex) is None
            assert len(store._copies) <= 100  # the copies themselves: nothing public counts them
            if number % 100 == 0:
                assert await store.get("alice") == b"signed in"
    finally:
        await store.close()
