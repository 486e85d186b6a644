"""The market.search job end to end: a real shop page on 127.0.0.1 read by the jsonld adapter through the
platform fetcher, results that change between runs, stored on both backends by the engine's runner."""

from __future__ import annotations

from decimal import Decimal

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market.models import ListingMatch, ListingStatus, MarketAlert, PriceHistory
from tests.market.helpers import bearer, execute_search, get_search, listings_by_sku, matched_skus, search_body
from tests.market.shop import Product, Shop
from tests.support.factories import create_user

Client = AsyncTestClient[Litestar]


def bikes() -> list[Product]:
    return [
        Product("b1", "Trek road bike 56cm", "450.00", "Carbon fork, good tyres"),
        Product("b2", "Giant road bike", "300.00", "Aluminium frame"),
        Product("b3", "Kids bike with stabilisers", "40.00"),
        Product("b4", "Road bike for parts", "25.00", "broken frame"),
        Product("h1", "Bike helmet", "20.00", "Never used"),
    ]


async def create_search(client: Client, url: str, **overrides: object) -> int:
    response = await client.post("/api/v1/market/searches", json=search_body(url, **overrides))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_runs_store_new_updated_and_gone_listings(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    url = shop.serve("/shop", bikes())
    search_id = await create_search(
        client, url, keywords='"road bike" NOT kids', excluded_words=["broken"], price_max="1000", alert_mode="instant"
    )

    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert run.stats["fetched"] == 5 and run.stats["kept"] == 2 and run.stats["new_listings"] == 5
    assert await matched_skus(services, search_id) == {"b1", "b2"}
    stored = await listings_by_sku(services)
    assert set(stored) == {"b1", "b2", "b3", "b4", "h1"}  # every listing seen is stored once, only matches are shown
    assert stored["b1"].price == Decimal("450.00") and stored["b1"].currency == "USD"
    assert stored["b1"].url == f"{shop.server.origin}/item/b1"  # tracking parameter stripped
    search = await get_search(services, search_id)
    assert search.listings_found == 2 and search.last_error is None and search.last_run_id == run.id

    # Second run: b1 drops in price, b5 appears, b2 vanishes.
    shop.pages["/shop"] = [
        Product("b1", "Trek road bike 56cm", "399.00", "Carbon fork, good tyres"),
        Product("b5", "Specialized road bike", "650.00"),
        Product("h1", "Bike helmet", "20.00"),
    ]
    second = await execute_search(services, search_id, alice.id)
    assert second.status == RunStatus.SUCCEEDED.value, second.error
    assert second.stats["new_matches"] == 1 and second.stats["price_changes"] == 1
    assert await matched_skus(services, search_id) == {"b1", "b2", "b5"}
    async with services.db.session() as session:
        history = (
            await session.scalars(
                select(PriceHistory.price)
                .where(PriceHistory.listing_id == stored["b1"].id)
                .order_by(PriceHistory.observed_at, PriceHistory.id)
            )
        ).all()
    assert history == [Decimal("450.00"), Decimal("399.00")]
    after = await listings_by_sku(services)
    assert after["b2"].status == ListingStatus.ACTIVE.value  # one miss is not enough (market_gone_after_runs=2)

    third = await execute_search(services, search_id, alice.id)
    assert third.status == RunStatus.SUCCEEDED.value
    after = await listings_by_sku(services)
    assert after["b2"].status == ListingStatus.GONE.value
    assert after["b1"].status == ListingStatus.ACTIVE.value
    assert (await get_search(services, search_id)).listings_found == 2

    # An empty page proves nothing: nothing is marked gone.
    shop.pages["/shop"] = []
    await execute_search(services, search_id, alice.id)
    await execute_search(services, search_id, alice.id)
    after = await listings_by_sku(services)
    assert after["b1"].status == ListingStatus.ACTIVE.value and after["b5"].status == ListingStatus.ACTIVE.value

    async with services.db.session() as session:
        alerts = (await session.scalars(select(MarketAlert).order_by(MarketAlert.id))).all()
    assert [alert.message for alert in alerts] == [
        "2 new listings for “Road bikes”",
        "1 new listing for “Road bikes”",
    ]
    assert [item["title"] for item in alerts[1].payload["listings"]] == ["Specialized road bike"]


async def test_re_running_the_same_run_changes_nothing(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, shop.serve("/shop", bikes()))
    first = await execute_search(services, search_id, alice.id)
    assert first.status == RunStatus.SUCCEEDED.value
    # The engine re-executes a run whose worker died after the commit: simulate by storing the same run again.
    from spyglass.core.db import utcnow
    from spyglass.market.searching import collect
    from spyglass.market.store import store_run

    search = await get_search(services, search_id)
    collected = await collect(search, settings=services.settings, fetcher=services.fetcher)
    for _ in range(2):
        async with services.db.session(write=True) as session:
            outcome = await store_run(
                session,
                search_id=search_id,
                run_id=first.id,
                results=collected.results,
                failures={},
                run_started=utcnow(),
                now=utcnow(),
                gone_after=1,
            )
        assert outcome.repeat and outcome.new_listings == 0 and outcome.new_matches == [] and outcome.gone == 0
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ListingMatch)) == 5
        assert await session.scalar(select(func.count()).select_from(PriceHistory)) == 5
        assert await session.scalar(select(func.count()).select_from(MarketAlert)) == 1
    assert (await get_search(services, search_id)).runs_completed == 1


async def test_a_listing_found_by_two_users_is_stored_once_and_matched_to_both(
    client: Client, services: Services, shop: Shop
) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    url = shop.serve("/shop", bikes())
    client.headers.update(await bearer(services, alice))
    alice_search = await create_search(client, url, keywords="road bike")
    client.headers.update(await bearer(services, bob))
    bob_search = await create_search(client, url, keywords="trek OR helmet", name="Bob's")
    assert (await execute_search(services, alice_search, alice.id)).status == RunStatus.SUCCEEDED.value
    assert (await execute_search(services, bob_search, bob.id)).status == RunStatus.SUCCEEDED.value
    assert await matched_skus(services, alice_search) == {"b1", "b2", "b4"}
    assert await matched_skus(services, bob_search) == {"b1", "h1"}
    stored = await listings_by_sku(services)
    assert len(stored) == 5
    async with services.db.session() as session:
        owners = (
            await session.scalars(select(ListingMatch.user_id).where(ListingMatch.listing_id == stored["b1"].id))
        ).all()
    assert sorted(owners) == sorted([alice.id, bob.id])

    bob_listings = (await client.get("/api/v1/market/listings")).json()
    assert {item["external_id"] for item in bob_listings["items"]} == {"b1", "h1"}
    # Bob cannot open a listing only Alice's search matched.
    assert (await client.get(f"/api/v1/market/listings/{stored['b2'].id}")).status_code == 404


async def test_price_distance_and_condition_apply_locally(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    url = shop.serve(
        "/shop",
        [
            Product("near", "Road bike near", "300", latitude=42.36, longitude=-71.06),
            Product("far", "Road bike far", "300", latitude=34.05, longitude=-118.24),
            Product("nowhere", "Road bike unknown place", "300"),
            Product("new", "Road bike brand new", "300", condition="NewCondition", latitude=42.36, longitude=-71.06),
            Product("dear", "Road bike expensive", "3000", latitude=42.36, longitude=-71.06),
        ],
    )
    search_id = await create_search(
        client, url, keywords="road bike", location="Boston", radius_km=50, condition="used", price_max="1000"
    )
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.SUCCEEDED.value
    assert await matched_skus(services, search_id) == {"near", "nowhere"}


async def test_site_errors_fail_the_run_with_the_site_named(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, shop.serve("/shop", bikes()))
    shop.status = 404
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.FAILED.value
    assert run.error and "No marketplace answered" in run.error and "structured data" in run.error
    search = await get_search(services, search_id)
    assert search.last_error and "404" in search.last_error


async def test_robots_txt_is_honoured(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, shop.serve("/shop", bikes()))
    shop.server.robots_txt = "User-agent: *\nDisallow: /shop\n"
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.FAILED.value and "robots.txt" in (run.error or "")
    assert shop.server.hits("/shop") == 0


async def test_endpoint_override_from_the_settings(client: Client, services: Services, shop: Shop) -> None:
    services.settings.market_endpoints = {"jsonld": shop.serve("/elsewhere", bikes())}
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, "https://unused.example/", keywords="helmet", options={})
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert await matched_skus(services, search_id) == {"h1"}


async def test_the_schedule_runs_a_new_search_in_the_embedded_engine(
    client: Client, services: Services, shop: Shop
) -> None:
    from spyglass.engine.engine import Engine
    from tests.engine.helpers import wait_until

    services.settings.engine_tick_seconds = 0.05
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, shop.serve("/shop", bikes()), keywords="road bike NOT kids")
    engine = Engine(services, mode="embedded", concurrency=4)
    await engine.start()
    try:

        async def found() -> bool:
            return (await get_search(services, search_id)).listings_found == 3

        await wait_until(found, timeout=20)
    finally:
        await engine.stop(grace_seconds=1)
    assert await matched_skus(services, search_id) == {"b1", "b2", "b4"}


async def test_concurrent_runs_over_the_same_listings_store_each_once(
    client: Client, services: Services, shop: Shop
) -> None:
    import asyncio

    users = [await create_user(services) for _ in range(4)]
    url = shop.serve("/shop", [Product(f"c{i}", f"Road bike number {i}", f"{100 + i}.00") for i in range(40)])
    searches = []
    for user in users:
        client.headers.update(await bearer(services, user))
        searches.append((await create_search(client, url, keywords="road bike"), user.id))
    runs = await asyncio.gather(*(execute_search(services, search_id, user_id) for search_id, user_id in searches))
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED.value] * 4, [run.error for run in runs]
    assert len(await listings_by_sku(services)) == 40
    for search_id, _ in searches:
        assert len(await matched_skus(services, search_id)) == 40
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(PriceHistory)) == 40


async def test_keywords_that_no_longer_parse_fail_at_once(client: Client, services: Services, shop: Shop) -> None:
    from spyglass.market.models import SavedSearch

    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    search_id = await create_search(client, shop.serve("/shop", bikes()))
    async with services.db.session(write=True) as session:
        search = await session.get(SavedSearch, search_id)
        assert search is not None
        search.keywords = "bike AND"  # as if saved under older, looser rules
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.FAILED.value and run.attempt == 1
    assert run.error and "keywords are not valid any more" in run.error
    assert "edit the search" in ((await get_search(services, search_id)).last_error or "")
