"""Alerts reach the notification outbox once per key, and only ever with the recipient's own data."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market.models import MarketAlert
from spyglass.notifications.models import Notification
from spyglass.notifications.outbox import EVENT_NEW_LISTINGS, EVENT_PRICE_DROP
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import create_user

Client = AsyncTestClient[Litestar]


async def test_a_price_drop_tells_each_watcher_once_with_their_own_search_name(
    app: Litestar, services: Services, shop: Shop
) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    url = shop.serve("/tents", [Product("t1", "Hilleberg tent", "600.00"), Product("t2", "Cheap tent", "50.00")])
    async with app_client(app) as as_alice, app_client(app) as as_bob:
        as_alice.headers.update(await bearer(services, alice))
        as_bob.headers.update(await bearer(services, bob))
        alice_search = (
            await as_alice.post("/api/v1/market/searches", json=search_body(url, name="Alice tents", keywords="tent"))
        ).json()
        bob_search = (
            await as_bob.post(
                "/api/v1/market/searches",
                json=search_body(url, name="Bob hiking", keywords="hilleberg", alert_mode="off"),
            )
        ).json()
        for search, user in ((alice_search, alice), (bob_search, bob)):
            assert (await execute_search(services, search["id"], user.id)).status == RunStatus.SUCCEEDED.value
        tent = (await listings_by_sku(services))["t1"]
        for client in (as_alice, as_bob):
            assert (await client.post("/api/v1/market/favorites", json={"listing_id": tent.id})).status_code == 201

        shop.pages["/tents"][0] = Product("t1", "Hilleberg tent", "480.00")
        await execute_search(services, alice_search["id"], alice.id)
        await execute_search(services, bob_search["id"], bob.id)  # sees the same price: nothing new

    async with services.db.session() as session:
        notes = (await session.scalars(select(Notification).order_by(Notification.id))).all()
        alerts = (await session.scalars(select(MarketAlert).order_by(MarketAlert.id))).all()
    by_user = {(note.user_id, note.event): note for note in notes}
    assert sorted((note.user_id, note.event) for note in notes) == sorted(
        [(alice.id, EVENT_NEW_LISTINGS), (alice.id, EVENT_PRICE_DROP), (bob.id, EVENT_PRICE_DROP)]
    )  # Bob's search has new-listing alerts off
    assert by_user[(alice.id, EVENT_PRICE_DROP)].payload["search_name"] == "Alice tents"
    assert by_user[(bob.id, EVENT_PRICE_DROP)].payload["search_name"] == "Bob hiking"
    assert by_user[(bob.id, EVENT_PRICE_DROP)].payload["new_price"] == "480.00"
    assert {alert.key for alert in alerts} == {note.idempotency_key for note in notes}
    assert len({note.idempotency_key for note in notes}) == 3
