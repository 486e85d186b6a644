"""Cross-posted items are grouped and shown once; deal scores rank listings against their search's market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market.adapters import options, registry
from spyglass.market.adapters.jsonld import JsonLdAdapter
from tests.market.helpers import bearer, execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.factories import create_user

Client = AsyncTestClient[Litestar]


class SecondShop(JsonLdAdapter):
    """Another marketplace that happens to publish JSON-LD too (registered for these tests only)."""

    name = "secondshop"
    label = "Second shop"


@pytest.fixture
def second_shop() -> Iterator[None]:
    registry.register_adapter(SecondShop())
    options.OPTIONS[SecondShop.name], options.REQUIRED[SecondShop.name] = options.OPTIONS["jsonld"], ("url",)
    try:
        yield
    finally:
        registry._ADAPTERS.pop(SecondShop.name, None)
        options.OPTIONS.pop(SecondShop.name, None)
        options.REQUIRED.pop(SecondShop.name, None)


async def test_a_cross_post_is_grouped_and_listed_once(
    client: Client, services: Services, shop: Shop, second_shop: None
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    first = shop.serve(
        "/one", [Product("x1", "Herman Miller Aeron chair size B", "450.00", latitude=40.0, longitude=-75.0)]
    )
    second = shop.serve(
        "/two",
        [
            Product("y1", "Herman Miller Aeron Chair - Size B", "455.00", latitude=40.01, longitude=-75.01),
            Product("y2", "IKEA Markus office chair", "90.00"),
        ],
    )
    body = search_body(first, keywords="chair", marketplaces=["jsonld", "secondshop"])
    body["options"] = {"jsonld": {"url": first}, "secondshop": {"url": second}}
    created = await client.post("/api/v1/market/searches", json=body)
    assert created.status_code == 201, created.text
    run = await execute_search(services, created.json()["id"], alice.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert run.stats["grouped"] == 1
    stored = await listings_by_sku(services)
    assert stored["y1"].group_id == stored["x1"].id and stored["y2"].group_id == stored["y2"].id

    table = (await client.get("/api/v1/market/listings")).json()
    shown = {item["external_id"]: item for item in table["items"]}
    assert set(shown) == {"x1", "y2"}  # the cross-post is shown once
    assert shown["x1"]["cross_posts"] == 1 and shown["y2"]["cross_posts"] == 0
    detail = (await client.get(f"/api/v1/market/listings/{stored['x1'].id}")).json()
    assert [(other["marketplace"], other["price"]) for other in detail["cross_posts"]] == [("secondshop", "455.00")]


async def test_deal_scores_rank_listings_against_the_search(client: Client, services: Services, shop: Shop) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    prices = ["200", "210", "190", "205", "195", "150", "260"]
    url = shop.serve(
        "/lenses", [Product(f"l{i}", f"Canon 50mm f/1.8 lens #{i}", price) for i, price in enumerate(prices)]
    )
    created = await client.post("/api/v1/market/searches", json=search_body(url, keywords="canon lens"))
    search_id = created.json()["id"]
    assert (await execute_search(services, search_id, alice.id)).status == RunStatus.SUCCEEDED.value

    best = (await client.get("/api/v1/market/listings", params={"sort": "deal"})).json()["items"]
    assert [item["external_id"] for item in best][:1] == ["l5"] and [item["external_id"] for item in best][-1] == "l6"
    cheapest = best[0]
    # 150 against the others' median of 202.5: 26 % below market.
    assert cheapest["deal"] == "26% below market" and round(cheapest["deal_percent"]) == 26
    assert best[-1]["deal"].endswith("above market")

    stats = (await client.get(f"/api/v1/market/searches/{search_id}/stats")).json()
    assert stats["count"] == 7 and stats["median"] == "200.00" and stats["new_per_day"] == 1.0
    assert stats["q1"] is not None and stats["q3"] is not None


def _png(seed: int) -> bytes:
    """A real PNG: a pattern of bands that differs between seeds."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 90), "white")
    draw = ImageDraw.Draw(image)
    for band in range(6):
        shade = (band * 40 + seed * 97) % 256
        draw.rectangle([band * 20, 0, band * 20 + 19, 89], fill=(shade, 255 - shade, (shade * 3) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_the_same_photo_groups_listings_whose_titles_differ_more(
    client: Client, services: Services, shop: Shop, second_shop: None
) -> None:
    from tests.support.http_server import Reply, ServerRequest

    photos = {"/img/desk.png": _png(1), "/img/other.png": _png(2)}

    async def photo(request: ServerRequest) -> Reply:
        return Reply(200, photos[request.path], {"Content-Type": "image/png"})

    for path in photos:
        shop.server.route(path, photo)
    desk, other = shop.url("/img/desk.png"), shop.url("/img/other.png")
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    first = shop.serve("/one", [Product("d1", "Vintage oak writing desk", "200.00", image=desk)])
    second = shop.serve(
        "/two",
        [
            Product("d2", "Oak desk, vintage, with drawers", "205.00", image=desk),
            Product("d3", "Oak desk, vintage, with a hutch", "210.00", image=other),
        ],
    )
    body = search_body(first, keywords="desk", marketplaces=["jsonld", "secondshop"])
    body["options"] = {"jsonld": {"url": first}, "secondshop": {"url": second}}
    search_id = (await client.post("/api/v1/market/searches", json=body)).json()["id"]
    run = await execute_search(services, search_id, alice.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    stored = await listings_by_sku(services)
    assert stored["d1"].image_hash and stored["d1"].image_hash == stored["d2"].image_hash
    assert stored["d3"].image_hash and stored["d3"].image_hash != stored["d1"].image_hash
    assert stored["d2"].group_id == stored["d1"].id  # same photo: one item
    assert stored["d3"].group_id == stored["d3"].id  # another photo: another item
    assert shop.server.hits("/img/desk.png") == 2 and shop.server.hits("/img/other.png") == 1

    # A re-run downloads no image again: only new listings are hashed.
    await execute_search(services, search_id, alice.id)
    assert shop.server.hits("/img/desk.png") == 2
