"""The market's read routes are answered from a per-user view cache that every change the user should see
replaces at once: their own writes, a run of their searches, on this process or another one."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy import update

from spyglass.accounts.models import Role, User
from spyglass.app import create_app
from spyglass.core.services import Services
from spyglass.core.view_cache import VIEWS, forget_views
from spyglass.market import service
from spyglass.market.listing_params import MARKET_AREAS
from spyglass.market.models import Listing
from tests.conftest import make_settings
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import csrf_token, login, post_form

VIEW_CACHE_REDIS_DB = 11  # not the suite's database 0, which other tests flush


async def _search(services: Services, user_id: int, url: str, name: str = "Lenses") -> int:
    spec = service.parse_search(search_body(url, name=name, keywords="lens"), settings=services.settings)
    async with services.db.session(write=True) as session:
        search = await service.create_search(session, user_id=user_id, spec=spec, settings=services.settings)
        return search.id


def _views(services: Services) -> tuple[int, int]:
    stats = services.cache.stats[VIEWS]
    return stats.hits, stats.misses


async def _rename_behind_the_caches_back(services: Services, listing_id: int, title: str) -> None:
    async with services.db.session(write=True) as session:
        await session.execute(update(Listing).where(Listing.id == listing_id).values(title=title))


async def test_reads_are_cached_per_user_and_every_change_of_theirs_shows_at_once(
    app: Litestar, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00"), Product("l2", "Nikon 35mm lens", "90.00")])
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    search_id = await _search(services, alice.id, url)
    await execute_search(services, search_id, alice.id)
    lens = (await listings_by_sku(services))["l1"]

    async with app_client(app) as client:
        as_alice, as_bob = await bearer(services, alice), await bearer(services, bob)
        first = await client.get("/api/v1/market/listings", headers=as_alice)
        assert first.status_code == 200 and first.json()["total"] == 2
        assert _views(services) == (0, 1)
        again = await client.get("/api/v1/market/listings", headers=as_alice)
        assert again.content == first.content and _views(services) == (1, 1)

        # Another user asking the same URL gets their own answer, never Alice's.
        theirs = await client.get("/api/v1/market/listings", headers=as_bob)
        assert theirs.status_code == 200 and theirs.json()["total"] == 0
        assert (await client.get(f"/api/v1/market/listings/{lens.id}", headers=as_bob)).status_code == 404

        # A change nobody announces is served from the cache until the TTL (or a forget) ...
        await _rename_behind_the_caches_back(services, lens.id, "Canon 50mm f/1.4 lens")
        stale = await client.get("/api/v1/market/listings", headers=as_alice)
        assert "Canon 50mm lens" in stale.text and "f/1.4" not in stale.text
        await forget_views(services, MARKET_AREAS, [alice.id])
        assert "Canon 50mm f/1.4 lens" in (await client.get("/api/v1/market/listings", headers=as_alice)).text

        # ... her own writes show at once: a favorite, then a search edited and run again with a new listing.
        favorite = await client.post(
            "/api/v1/market/favorites", json={"listing_id": lens.id, "note": "mint"}, headers=as_alice
        )
        assert favorite.status_code == 201
        favorites = await client.get("/api/v1/market/favorites", headers=as_alice)
        assert [item["note"] for item in favorites.json()["items"]] == ["mint"]

        shop.serve("/lenses", [*shop.pages["/lenses"], Product("l3", "Sigma 24mm lens", "300.00")])
        assert (await client.get("/api/v1/market/listings", headers=as_alice)).json()["total"] == 2
        await execute_search(services, search_id, alice.id)  # the run forgets its owner's views
        fresh = await client.get("/api/v1/market/listings", headers=as_alice)
        assert fresh.json()["total"] == 3 and "Sigma 24mm lens" in fresh.text


async def test_pages_are_cached_per_session_and_never_swallow_a_flash(
    app: Litestar, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
    alice = await create_user(services, username="alice")
    await execute_search(services, await _search(services, alice.id, url), alice.id)

    async with app_client(app, follow_redirects=False) as laptop, app_client(app, follow_redirects=False) as phone:
        await login(laptop, "alice", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        await login(phone, "alice", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        on_laptop = await laptop.get("/market/listings")
        assert on_laptop.status_code == 200 and "Canon 50mm lens" in on_laptop.text
        hits, _ = _views(services)
        assert (await laptop.get("/market/listings")).text == on_laptop.text
        assert _views(services)[0] == hits + 1

        # Forms on a page carry its session's CSRF token: the phone never gets the laptop's page.
        on_phone = await phone.get("/market/listings")
        phone_token, laptop_token = await csrf_token(phone), await csrf_token(laptop)  # type: ignore[arg-type]
        assert phone_token != laptop_token
        assert phone_token in on_phone.text and laptop_token not in on_phone.text

        # A write through a form flashes a message: the next page shows it once, then the cache serves again.
        assert "Marked" not in (await laptop.get("/market/alerts")).text
        marked = await post_form(laptop, "/market/alerts/read")  # type: ignore[arg-type]
        assert marked.status_code == 303 and marked.headers["location"] == "/market/alerts"
        assert "Marked 1 alert read." in (await laptop.get("/market/alerts")).text  # the run's new-listing alert
        assert "Marked 1 alert read." not in (await laptop.get("/market/alerts")).text


@pytest.mark.backends("postgresql")
async def test_a_write_on_one_web_process_refreshes_the_view_cached_by_another(
    tmp_path: Path, database_url: str, redis_url: str, shop: Shop
) -> None:
    shared_redis = redis_url.rsplit("/", 1)[0] + f"/{VIEW_CACHE_REDIS_DB}"
    client = Redis.from_url(shared_redis)
    await client.flushdb()
    await client.aclose()
    settings = {"allow_private_targets": "127.0.0.1/32,localhost", "http_per_host_delay_seconds": 0}
    first = Services.build(make_settings(tmp_path / "a", database_url, redis_url=shared_redis, **settings))
    second = Services.build(make_settings(tmp_path / "b", database_url, redis_url=shared_redis, **settings))
    try:
        url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00")])
        alice = await create_user(first, username="alice")
        search_id = await _search(first, alice.id, url)
        await execute_search(first, search_id, alice.id)
        headers = await bearer(first, alice)
        async with (
            app_client(create_app(first.settings, services=first), lifespan=False) as one,
            app_client(create_app(second.settings, services=second), lifespan=False) as two,
        ):
            assert (await one.get("/api/v1/market/searches", headers=headers)).json()["items"][0]["name"] == "Lenses"
            assert (await one.get("/api/v1/market/searches", headers=headers)).status_code == 200
            assert _views(first) == (1, 1)
            edited = await two.put(
                f"/api/v1/market/searches/{search_id}",
                json=search_body(url, name="Fast primes", keywords="lens"),
                headers=headers,
            )
            assert edited.status_code == 200
            assert (await one.get("/api/v1/market/searches", headers=headers)).json()["items"][0]["name"] == (
                "Fast primes"
            )
    finally:
        await first.close()
        await second.close()


async def test_an_admin_changing_a_users_quota_shows_on_their_cached_dashboard(
    app: Litestar, services: Services
) -> None:
    admin = await create_user(services, username="root", role=Role.ADMIN)
    alice_id = (await create_user(services, username="alice")).id
    await _search(services, alice_id, "http://127.0.0.1:9/lenses")  # the quota shows under the searches
    async with app_client(app, follow_redirects=False) as alice:
        await login(alice, "alice", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        default = services.settings.market_max_searches_per_user
        assert f"up to {default} saved searches" in (await alice.get("/market/searches")).text
        assert f"up to {default} saved searches" in (await alice.get("/market/searches")).text  # cached
        assert await _put_quota(app, services, admin, f"/api/v1/admin/users/{alice_id}/market-quotas") == 200
        assert "up to 7 saved searches" in (await alice.get("/market/searches")).text


async def _put_quota(app: Litestar, services: Services, admin: User, url: str) -> int:
    async with app_client(app) as client:
        answer = await client.put(url, json={"max_searches": 7}, headers=await bearer(services, admin))
        return answer.status_code
