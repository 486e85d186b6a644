"""How a saved search's run fetches: the eBay keyset from the settings reaches the adapter (Browse API, not the
results page), and a search with "render in a browser" goes through chromium, whose requests use the fetcher."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market import service
from spyglass.market.adapters.browser import CHROMIUM
from spyglass.market.searching import collect
from spyglass.market.simulator import Simulator, SimulatorServer
from tests.market.helpers import execute_search, get_search, market_settings, matched_skus, simulated_market
from tests.support.factories import create_user
from tests.support.http_server import Handler, LocalHttpServer, Reply, ServerRequest

API_PATH = "/ebay/buy/browse/v1/item_summary/search"
TOKEN_PATH = "/ebay/identity/v1/oauth2/token"
RESULTS_PAGE_PATH = "/ebay/sch/i.html"


@pytest.fixture
def simulator() -> Simulator:
    return simulated_market(step=12)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, running: SimulatorServer) -> Settings:
    return market_settings(
        tmp_path,
        database_url,
        market_endpoints=running.endpoints(),
        market_ebay_client_id="Spy-PRD-1",
        market_ebay_client_secret=SecretStr("PRD-s3cret"),
    )


async def _saved_search(services: Services, user_id: int, raw: dict[str, object]) -> int:
    spec = service.parse_search({"name": "Test", "interval_seconds": 600, **raw}, settings=services.settings)
    async with services.db.session(write=True) as session:
        search = await service.create_search(session, user_id=user_id, spec=spec, settings=services.settings)
        return search.id


async def test_an_ebay_search_with_a_keyset_uses_the_browse_api(
    services: Services, simulator: Simulator, running: SimulatorServer
) -> None:
    user = await create_user(services)
    search_id = await _saved_search(services, user.id, {"marketplaces": ["ebay"], "keywords": "bike"})

    run = await execute_search(services, search_id, user.id)

    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert simulator.requests[TOKEN_PATH] == 1 and simulator.requests[API_PATH] == 1
    assert simulator.requests[RESULTS_PAGE_PATH] == 0
    expected = {entry.site_id("ebay") for entry in simulator.search("ebay", "bike")}
    assert expected and await matched_skus(services, search_id) == expected

    # The same search without a keyset reads the results page (settings are applied on every search).
    no_keyset = services.settings.model_copy(update={"market_ebay_client_id": None})
    collected = await collect(await get_search(services, search_id), settings=no_keyset, fetcher=services.fetcher)
    assert not collected.failures and simulator.requests[RESULTS_PAGE_PATH] == 1
    assert simulator.requests[API_PATH] == 1
    assert {item.external_id for result in collected.results for item in result.kept} == expected


SCRIPT_SHOP = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Script-built shop</title></head>
<body><div id="root">Loading...</div><script src="/app.js"></script></body></html>
"""
SCRIPT = """
(async () => {
  const items = await (await fetch("/api/items")).json();
  const ld = document.createElement("script");
  ld.type = "application/ld+json";
  ld.textContent = JSON.stringify({"@type": "ItemList", "itemListElement": items.map((item, i) => ({
    "@type": "ListItem", "position": i + 1, "item": {"@type": "Product", "sku": item.id, "name": item.name,
    "url": "/item/" + item.id, "offers": {"@type": "Offer", "price": item.price, "priceCurrency": "USD"}}}))});
  document.head.appendChild(ld);
  document.getElementById("root").textContent = items.length + " items";
})();
"""
ITEMS = json.dumps(
    [{"id": "C1", "name": "Canon AE-1 film camera", "price": "180"}, {"id": "C2", "name": "Tripod", "price": "30"}]
).encode()


@pytest.fixture
def script_shop() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        for path, body, kind in (
            ("/shop", SCRIPT_SHOP.encode(), "text/html; charset=utf-8"),
            ("/app.js", SCRIPT.encode(), "text/javascript"),
            ("/api/items", ITEMS, "application/json"),
        ):
            server.route(path, _answer(body, kind))
        yield server


def _answer(body: bytes, content_type: str) -> Handler:
    async def handler(_request: ServerRequest) -> Reply:
        return Reply(200, body, {"Content-Type": content_type})

    return handler


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no chromium")
async def test_a_browser_search_renders_the_page_and_fetches_its_scripts_through_the_fetcher(
    services: Services, script_shop: LocalHttpServer
) -> None:
    user = await create_user(services)
    raw = {"marketplaces": ["jsonld"], "keywords": "camera", "options": {"jsonld": {"url": script_shop.url("/shop")}}}
    plain_id = await _saved_search(services, user.id, raw)
    browser_id = await _saved_search(services, user.id, {**raw, "use_browser": True})

    plain = await execute_search(services, plain_id, user.id)
    assert plain.status == RunStatus.SUCCEEDED.value, plain.error
    assert plain.stats["fetched"] == 0  # without running its scripts the page has no listing data
    assert script_shop.hits("/app.js") == 0

    run = await execute_search(services, browser_id, user.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert run.stats["fetched"] == 2 and run.stats["kept"] == 1
    assert await matched_skus(services, browser_id) == {"C1"}
    # The script and its data request reached the shop through the platform fetcher (robots.txt checked first).
    assert script_shop.hits("/app.js") == 1 and script_shop.hits("/api/items") == 1
    assert script_shop.hits("/robots.txt") >= 1
