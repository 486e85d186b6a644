"""The optional browser fetch: a page built by scripts, rendered in chromium, with every request through the fetcher."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.market.adapters.base import SearchQuery
from spyglass.market.adapters.browser import CHROMIUM, BrowserFetch
from spyglass.market.adapters.jsonld import ADAPTER as JSONLD
from spyglass.market.adapters.recipe import ADAPTER as RECIPE
from tests.market.adapters.conftest import fetch_settings, serve
from tests.support.http_server import LocalHttpServer

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no chromium")]

APP_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Script-built shop</title></head>
<body><div id="root">Loading...</div><script src="/static/app.js"></script></body></html>
"""
APP_JS = """
(async () => {
  try { await fetch("http://127.0.0.2:%(other_port)s/secret"); } catch (e) {}
  const items = await (await fetch("/api/items")).json();
  const root = document.getElementById("root");
  root.textContent = "";
  for (const item of items) {
    const card = document.createElement("div");
    card.className = "ad";
    card.innerHTML = `<a class="name" href="/item/${item.id}">${item.name}</a><span class="cost">$${item.price}</span>`;
    root.appendChild(card);
  }
  const ld = document.createElement("script");
  ld.type = "application/ld+json";
  ld.textContent = JSON.stringify({"@type": "ItemList", "itemListElement": items.map((item, i) => ({
    "@type": "ListItem", "position": i + 1, "item": {"@type": "Product", "sku": item.id, "name": item.name,
    "url": "/item/" + item.id, "offers": {"@type": "Offer", "price": item.price, "priceCurrency": "USD"}}}))});
  document.head.appendChild(ld);
})();
"""
ITEMS = json.dumps(
    [
        {"id": "A1", "name": "Canon AE-1 film camera", "price": "180"},
        {"id": "A2", "name": "Pentax K1000", "price": "150"},
    ]
)


@pytest.fixture
def other_host() -> Iterator[LocalHttpServer]:
    with LocalHttpServer("127.0.0.2") as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    # only 127.0.0.1 is allowed: 127.0.0.2 stands for an internal address the page must not reach
    async with Fetcher(fetch_settings(allow_private_targets="127.0.0.1/32"), retry=RetryPolicy(attempts=1)) as made:
        yield made


@pytest.mark.slow
async def test_script_built_page_is_read_through_the_browser_and_the_fetcher(
    server: LocalHttpServer, other_host: LocalHttpServer, fetcher: Fetcher
) -> None:
    serve(server, "/shop", APP_PAGE)
    serve(server, "/static/app.js", APP_JS % {"other_port": other_host.port}, "text/javascript")
    serve(server, "/api/items", ITEMS, "application/json")
    serve(other_host, "/secret", "internal")
    query = SearchQuery(options={"url": server.url("/shop")})
    assert await JSONLD.search(query, fetcher.fetch) == []  # without a browser the page has nothing yet
    async with BrowserFetch(fetcher) as browser:
        listings = await JSONLD.search(query, browser)
        recipe = {"item": "div.ad", "title": "a.name", "price": ".cost", "url": "a.name@href"}
        by_recipe = await RECIPE.search(SearchQuery(options={"url": server.url("/shop"), "recipe": recipe}), browser)
    assert [(x.external_id, x.title, str(x.price), x.url) for x in listings] == [
        ("A1", "Canon AE-1 film camera", "180", server.url("/item/A1")),
        ("A2", "Pentax K1000", "150", server.url("/item/A2")),
    ]
    assert [x.title for x in by_recipe] == ["Canon AE-1 film camera", "Pentax K1000"]
    api_calls = [r for r in server.requests if r.path == "/api/items"]
    assert len(api_calls) == 2  # one per rendering, each sent by the platform fetcher (its User-Agent)
    assert all(r.headers["user-agent"] == fetcher.settings.user_agent for r in api_calls)
    assert other_host.hits("/secret") == 0  # the URL policy refused the internal address
