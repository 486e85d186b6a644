"""Listings, favorites, price alerts, triggered alerts and exports over the API; tenant isolation."""

from __future__ import annotations

import csv
import io

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market.models import PriceAlert, SavedSearch
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import create_user
from tests.support.tenancy import assert_isolated, assert_not_listed

Client = AsyncTestClient[Litestar]


def products(prices: dict[str, str]) -> list[Product]:
    names = {
        "a": "Canon AE-1 camera",
        "b": "Nikon FM2 camera body",
        "c": "Canon 50mm lens",
        "d": "=cmd|' /C calc'!A0 camera",
    }
    return [Product(sku, names[sku], price) for sku, price in prices.items()]


async def searched(client: Client, services: Services, shop: Shop, user_id: int, **overrides: object) -> int:
    body = search_body(shop.url("/cameras"), name="Film cameras", keywords="camera", **overrides)
    response = await client.post("/api/v1/market/searches", json=body)
    assert response.status_code == 201, response.text
    search_id = int(response.json()["id"])
    run = await execute_search(services, search_id, user_id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    return search_id


async def test_listings_table_filters_sorts_and_paginates(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    shop.serve("/cameras", products({"a": "120.00", "b": "260.00", "d": "80.00"}))
    search_id = await searched(client, services, shop, alice.id)

    everything = (await client.get("/api/v1/market/listings", params={"sort": "price_asc"})).json()
    assert [item["external_id"] for item in everything["items"]] == ["d", "a", "b"]
    assert everything["total"] == 3 and everything["items"][0]["seen"] is False
    dearest = (await client.get("/api/v1/market/listings", params={"sort": "price_desc", "size": 1})).json()
    assert [item["external_id"] for item in dearest["items"]] == ["b"] and dearest["pages"] == 3
    second = (await client.get("/api/v1/market/listings", params={"sort": "price_desc", "size": 1, "page": 2})).json()
    assert [item["external_id"] for item in second["items"]] == ["a"]
    ranged = (await client.get("/api/v1/market/listings", params={"price_min": "100", "price_max": "200"})).json()
    assert [item["external_id"] for item in ranged["items"]] == ["a"]
    by_search = (await client.get("/api/v1/market/listings", params={"search": str(search_id), "days": "1"})).json()
    assert by_search["total"] == 3
    first = everything["items"][0]["id"]
    assert (await client.post(f"/api/v1/market/listings/{first}/seen")).json() == {"id": first, "seen": True}
    seen = (await client.get("/api/v1/market/listings", params={"sort": "price_asc"})).json()["items"]
    assert [item["seen"] for item in seen] == [True, False, False]
    other_market = (await client.get("/api/v1/market/listings", params={"marketplace": "ebay"})).json()
    assert other_market["total"] == 0

    bad = await client.get("/api/v1/market/listings", params={"price_min": "9", "price_max": "1", "sort": "random"})
    assert bad.status_code == 422
    assert set(bad.json()["detail"]) == {"price_max", "sort"}


async def test_favorites_price_alerts_and_price_drop_alerts(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    shop.serve("/cameras", products({"a": "200.00", "b": "300.00"}))
    await searched(client, services, shop, alice.id, alert_mode="off")
    stored = await listings_by_sku(services)

    favorite = await client.post("/api/v1/market/favorites", json={"listing_id": stored["a"].id, "note": "check lens"})
    assert favorite.status_code == 201
    again = await client.post("/api/v1/market/favorites", json={"listing_id": stored["a"].id, "note": "mint?"})
    assert again.json()["id"] == favorite.json()["id"] and again.json()["note"] == "mint?"
    patched = await client.patch(f"/api/v1/market/favorites/{favorite.json()['id']}", json={"note": "ask seller"})
    assert patched.status_code == 200 and patched.json()["note"] == "ask seller"
    assert (await client.post("/api/v1/market/favorites", json={"listing_id": 99999})).status_code == 404
    too_long = await client.post("/api/v1/market/favorites", json={"listing_id": stored["a"].id, "note": "x" * 3000})
    assert too_long.status_code == 422 and "2000" in too_long.json()["detail"]["note"]

    target = await client.post("/api/v1/market/price-alerts", json={"listing_id": stored["b"].id, "target_price": 250})
    assert target.status_code == 201 and target.json()["baseline_price"] == "300.00"
    empty = await client.post("/api/v1/market/price-alerts", json={"listing_id": stored["b"].id})
    assert empty.status_code == 422 and "target price or a percentage" in empty.json()["detail"]["target_price"]
    silly = await client.post("/api/v1/market/price-alerts", json={"listing_id": stored["b"].id, "drop_percent": 150})
    assert silly.status_code == 422

    # Prices fall: "a" by 10 % (a favorite: told), "b" to 240 (below its 250 target: told once).
    shop.pages["/cameras"] = products({"a": "180.00", "b": "240.00"})
    assert (
        await execute_search(services, (await _only_search(services)), alice.id)
    ).status == RunStatus.SUCCEEDED.value
    alerts = (await client.get("/api/v1/market/alerts")).json()
    messages = sorted(item["message"] for item in alerts["items"])
    assert messages == [
        "“Canon AE-1 camera” dropped from $200.00 to $180.00",
        "“Nikon FM2 camera body” dropped from $300.00 to $240.00",
    ]
    assert all(item["kind"] == "price_drop" and item["read_at"] is None for item in alerts["items"])
    async with services.db.session() as session:
        alert = await session.scalar(select(PriceAlert))
        assert alert is not None and alert.triggered_at is not None
    history = (await client.get(f"/api/v1/market/listings/{stored['b'].id}")).json()["price_history"]
    assert [entry["price"] for entry in history] == ["300.00", "240.00"]

    # A further drop tells the favorite's owner again, but a triggered price alert stays quiet.
    shop.pages["/cameras"] = products({"a": "170.00", "b": "230.00"})
    await execute_search(services, await _only_search(services), alice.id)
    alerts = (await client.get("/api/v1/market/alerts")).json()
    assert alerts["total"] == 3
    assert (await client.post("/api/v1/market/alerts/read")).json() == {"marked": 3}

    assert (await client.delete(f"/api/v1/market/favorites/{favorite.json()['id']}")).status_code == 204
    assert (await client.get("/api/v1/market/favorites")).json()["total"] == 0
    assert (await client.delete(f"/api/v1/market/price-alerts/{target.json()['id']}")).status_code == 204


async def _only_search(services: Services) -> int:
    async with services.db.session() as session:
        search_id = await session.scalar(select(SavedSearch.id))
        assert search_id is not None
        return search_id


async def test_exports_csv_and_json(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    shop.serve("/cameras", products({"a": "120.00", "d": "80.00"}))
    await searched(client, services, shop, alice.id)
    exported = await client.get("/api/v1/market/listings/export", params={"format": "csv", "sort": "price_asc"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["external_id"] for row in rows] == ["d", "a"]
    assert rows[1]["price"] == "120.00" and rows[1]["currency"] == "USD"
    assert rows[0]["title"].startswith("'=")  # a formula-looking title is neutralised for spreadsheets
    as_json = await client.get("/api/v1/market/listings/export", params={"format": "json"})
    assert {item["external_id"] for item in as_json.json()} == {"a", "d"}
    assert (await client.get("/api/v1/market/listings/export", params={"format": "xml"})).status_code == 422


async def test_another_user_sees_and_changes_nothing(app: Litestar, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    shop.serve("/cameras", products({"a": "200.00", "b": "300.00"}))
    async with app_client(app) as owner, app_client(app) as intruder:
        owner.headers.update(await bearer(services, alice))
        intruder.headers.update(await bearer(services, bob))
        search_id = await searched(owner, services, shop, alice.id)  # type: ignore[arg-type]
        stored = await listings_by_sku(services)
        favorite = (
            await owner.post(
                "/api/v1/market/favorites", json={"listing_id": stored["a"].id, "note": "alice's secret note"}
            )
        ).json()
        alert = (
            await owner.post("/api/v1/market/price-alerts", json={"listing_id": stored["b"].id, "target_price": 1})
        ).json()
        await assert_isolated(
            intruder,  # type: ignore[arg-type]
            [
                ("GET", f"/api/v1/market/searches/{search_id}", None),
                ("PUT", f"/api/v1/market/searches/{search_id}", search_body(shop.url("/cameras"), name="mine")),
                ("DELETE", f"/api/v1/market/searches/{search_id}", None),
                ("POST", f"/api/v1/market/searches/{search_id}/run", {}),
                ("POST", f"/api/v1/market/searches/{search_id}/stop", {}),
                ("GET", f"/api/v1/market/searches/{search_id}/stats", None),
                ("GET", "/api/v1/market/listings", {"search": str(search_id)}),
                ("GET", f"/api/v1/market/listings/{stored['a'].id}", None),
                ("POST", f"/api/v1/market/listings/{stored['a'].id}/seen", {}),
                ("POST", "/api/v1/market/favorites", {"listing_id": stored["a"].id}),
                ("PATCH", f"/api/v1/market/favorites/{favorite['id']}", {"note": "bob was here"}),
                ("DELETE", f"/api/v1/market/favorites/{favorite['id']}", None),
                ("POST", "/api/v1/market/price-alerts", {"listing_id": stored["b"].id, "target_price": 5}),
                ("DELETE", f"/api/v1/market/price-alerts/{alert['id']}", None),
            ],
            owner=owner,  # type: ignore[arg-type]
            secrets=["Film cameras", "alice's secret note", "Canon AE-1"],
        )
        lists = ["searches", "listings", "favorites", "price-alerts", "alerts", "listings/export"]
        for url in lists:
            secrets = ["Film cameras", "Canon AE-1", "alice's secret note"]
            await assert_not_listed(intruder, f"/api/v1/market/{url}", secrets)  # type: ignore[arg-type]
        assert (await intruder.post("/api/v1/market/alerts/read")).json() == {"marked": 0}
        assert (await owner.get(f"/api/v1/market/favorites/{favorite['id']}")).status_code in (404, 405)
        mine = (await owner.get("/api/v1/market/favorites")).json()["items"]
        assert [item["note"] for item in mine] == ["alice's secret note"]
        assert (await owner.get(f"/api/v1/market/searches/{search_id}")).json()["enabled"] is True
