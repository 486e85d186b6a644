"""Each marketplace's options (a recipe's CSS selectors, a Craigslist site, a feed address) are checked by the
adapters' own validators before a search is saved or previewed, by the API and by the editor alike."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from spyglass.core.services import Services
from spyglass.market.models import SavedSearch
from tests.market.helpers import bearer, search_body
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login, post_form

Client = AsyncTestClient[Litestar]
URL = "https://shop.example/bikes"
RECIPE = {"item": "div.ad", "title": "a.name", "url": "a.name@href", "price": ".cost"}

BAD_OPTIONS: list[tuple[list[str], dict[str, Any], str]] = [
    (["recipe"], {"recipe": {"url": URL, "recipe": {**RECIPE, "title": "a[["}}}, "not valid CSS"),
    (["recipe"], {"recipe": {"url": URL, "recipe": {**RECIPE, "colour": ".c"}}}, "unknown recipe field(s) colour"),
    (["recipe"], {"recipe": {"url": URL, "recipe": {"title": "a"}}}, "needs the item selector"),
    (["recipe"], {"recipe": {"url": URL}}, "recipe needs the option(s) recipe"),
    (["craigslist"], {"craigslist": {"site": "bos ton!"}}, "Craigslist site must be a name like"),
    (["craigslist"], {"craigslist": {"mode": "fast"}}, "Craigslist mode must be one of page, sapi"),
    (["craigslist"], {"craigslist": {"area_id": -4}}, "area id must be a positive whole number"),
    (["ebay"], {"ebay": {"colour": "red"}}, "unknown option(s) colour for ebay"),
    (["jsonld"], {}, "jsonld needs the option(s) url"),
    (["rss"], {"rss": {"url": "javascript:alert(1)"}}, "feed address must be an http"),
]


async def test_the_api_refuses_bad_options_and_recipes_with_the_adapters_message(
    client: Client, services: Services
) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    failures = []
    for marketplaces, options, words in BAD_OPTIONS:
        body = search_body(URL, marketplaces=marketplaces, options=options, interval_seconds=3600)
        for path in ("/api/v1/market/searches", "/api/v1/market/preview"):
            response = await client.post(path, json=body)
            message = (response.json().get("detail") or {}).get("options", "")
            if response.status_code != 422 or words.lower() not in message.lower():
                failures.append(f"{path} {options}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert (await client.get("/api/v1/market/searches")).json()["total"] == 0


async def test_good_options_are_stored_cleaned(client: Client, services: Services) -> None:
    alice = await create_user(services)
    client.headers.update(await bearer(services, alice))
    options = {"recipe": {"url": URL, "recipe": {**RECIPE, "image": " "}}, "craigslist": {"site": " Boston "}}
    body = search_body(URL, marketplaces=["recipe", "craigslist"], options=options, interval_seconds=3600)
    created = await client.post("/api/v1/market/searches", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["options"] == {"recipe": {"url": URL, "recipe": RECIPE}, "craigslist": {"site": "boston"}}


async def test_the_editor_shows_the_recipe_problem(client: Client, services: Services) -> None:
    await create_user(services, username="alice")
    await login(client, "alice", DEFAULT_PASSWORD)
    form = {
        "name": "Cameras",
        "marketplaces": ["recipe"],
        "keywords": "camera",
        "interval_minutes": "60",
        "alert_mode": "instant",
        "options": '{"recipe": {"url": "https://shop.example/", "recipe": {"item": "div.ad@href", "title": "a"}}}',
    }
    refused = await post_form(client, "/market/searches", form)
    assert refused.status_code == 422
    assert "The item selector picks elements, not an attribute (remove &#39;@href&#39;)." in refused.text
    preview = await post_form(client, "/market/searches/preview", form)
    assert "The item selector picks elements, not an attribute" in preview.text
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SavedSearch)) == 0
