"""Several results pages per search: Craigslist (``s=`` offsets, sapi batches), eBay (Browse API ``offset``, results
page ``_pgn``), jsonld and recipes (next links) read up to the search's page limit from the simulator and from
local pages, stop at the last page or a page with nothing new, wait between pages, stay on the site, and the
run counts its pages."""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher
from spyglass.core.services import Services
from spyglass.engine.models import RunStatus
from spyglass.market import service
from spyglass.market.adapters.base import AdapterError, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import read_pages
from spyglass.market.adapters.craigslist import CraigslistAdapter
from spyglass.market.adapters.ebay import EbayAdapter, EbayCredentials
from spyglass.market.adapters.jsonld import JsonLdAdapter
from spyglass.market.adapters.recipe import RecipeAdapter, validate_recipe
from spyglass.market.models import SavedSearch
from spyglass.market.searching import collect, preview
from spyglass.market.simulator import Simulator, SimulatorServer
from spyglass.market.simulator.catalogue import search as catalogue_search
from tests.market.adapters.conftest import fetch_settings
from tests.market.helpers import SEED, execute_search, market_settings, matched_skus, simulated_market
from tests.support.factories import create_user
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

PAGE = 10


@pytest.fixture
def simulator() -> Simulator:
    return simulated_market(page_size=PAGE)


def _site_ids(site: str, count: int | None = None) -> list[str]:
    found = catalogue_search(SEED, 0, site, limit=None)
    return [entry.site_id(site) for entry in found][:count]


def _query(endpoint: str, pages: int, **extra: Any) -> SearchQuery:
    return SearchQuery(endpoint=endpoint, max_pages=pages, page_delay_seconds=0, **extra)


async def test_craigslist_reads_offsets_up_to_the_page_limit(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = _site_ids("craigslist")
    assert len(everything) > 3 * PAGE  # the market is big enough for the limit to matter
    numbers: list[int] = []

    async def count(number: int) -> None:
        numbers.append(number)

    query = _query(running.endpoints()["craigslist"], 3, on_page=count)
    listings = await CraigslistAdapter().search(query, fetcher.fetch)
    assert [listing.external_id for listing in listings] == everything[: 3 * PAGE]
    assert simulator.requests["/craigslist/search/sss"] == 3 and numbers == [1, 2, 3]


async def test_craigslist_stops_at_the_last_page_its_paginator_announces(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = _site_ids("craigslist")
    listings = await CraigslistAdapter().search(_query(running.endpoints()["craigslist"], 20), fetcher.fetch)
    assert [listing.external_id for listing in listings] == everything
    # ceil(total / page) pages and not one more: the last page's paginator says so.
    assert simulator.requests["/craigslist/search/sss"] == -(-len(everything) // PAGE)


async def test_craigslist_sapi_pages_through_batches(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = _site_ids("craigslist")
    query = _query(running.endpoints()["craigslist"], 2, options={"mode": "sapi", "area_id": 4})
    listings = await CraigslistAdapter().search(query, fetcher.fetch)
    assert [listing.external_id for listing in listings] == everything[: 2 * PAGE]
    assert simulator.requests["/craigslist/web/v8/postings/search/full"] == 2
    everything_query = _query(running.endpoints()["craigslist"], 20, options={"mode": "sapi", "area_id": 4})
    assert len(await CraigslistAdapter().search(everything_query, fetcher.fetch)) == len(everything)
    assert simulator.requests["/craigslist/web/v8/postings/search/full"] == 2 + -(-len(everything) // PAGE)


async def test_ebay_browse_api_pages_with_offset(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = _site_ids("ebay")
    adapter = EbayAdapter(EbayCredentials("Spy-PRD-1", "PRD-s3cret"))
    listings = await adapter.search(_query(running.endpoints()["ebay"], 2), fetcher.fetch)
    assert [listing.external_id for listing in listings] == everything[: 2 * PAGE]
    assert simulator.requests["/ebay/buy/browse/v1/item_summary/search"] == 2
    assert simulator.requests["/ebay/identity/v1/oauth2/token"] == 1  # one token for every page
    all_pages = await adapter.search(_query(running.endpoints()["ebay"], 20), fetcher.fetch)
    assert [listing.external_id for listing in all_pages] == everything  # stopped when "next" was absent
    assert simulator.requests["/ebay/buy/browse/v1/item_summary/search"] == 2 + -(-len(everything) // PAGE)


async def test_ebay_results_page_follows_its_next_link(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = _site_ids("ebay")
    listings = await EbayAdapter().search(_query(running.endpoints()["ebay"], 20), fetcher.fetch)
    assert [listing.external_id for listing in listings] == everything
    assert simulator.requests["/ebay/sch/i.html"] == -(-len(everything) // PAGE)


async def test_jsonld_follows_rel_next_and_a_single_page_stays_one_request(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    everything = catalogue_search(SEED, 0, "shop", limit=None)
    url = running.endpoints()["jsonld"]
    listings = await JsonLdAdapter().search(_query(url, 3, options={"url": url}), fetcher.fetch)
    assert [listing.title for listing in listings] == [entry.title for entry in everything[: 3 * PAGE]]
    assert simulator.requests["/shop/search"] == 3
    # Paging off (the default of a SearchQuery): one page, one request.
    once = await JsonLdAdapter().search(SearchQuery(options={"url": url}), fetcher.fetch)
    assert len(once) == PAGE and simulator.requests["/shop/search"] == 4


# -- recipes and next links on local pages --------------------------------------------------------------------------


def _results_page(number: int, items: list[str], next_html: str = "") -> str:
    cards = "".join(f'<div class="ad"><a href="/item/{item}">{item}</a><b>$1{number}0</b></div>' for item in items)
    return f"<html><head><title>Results {number}</title></head><body>{cards}{next_html}</body></html>"


def _serve_pages(server: LocalHttpServer, pages: dict[str, str]) -> None:
    async def handler(request: ServerRequest) -> Reply:
        body = pages.get(request.query.get("p", "1"))
        if body is None:
            return Reply(404, b"no such page")
        return Reply(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})

    server.route("/results", handler)


RECIPE = {"item": "div.ad", "title": "a", "url": "a@href", "price": "b"}


async def test_recipe_follows_its_next_selector_with_the_delay_between_pages(fetcher: Fetcher) -> None:
    with LocalHttpServer() as server:
        _serve_pages(
            server,
            {
                "1": _results_page(1, ["a1", "a2"], '<a class="more" href="/results?p=2">more</a>'),
                "2": _results_page(2, ["b1", "b2"], '<a class="more" href="/results?p=3">more</a>'),
                "3": _results_page(3, ["c1"]),
            },
        )
        options = {"url": server.url("/results?p=1"), "recipe": {**RECIPE, "next": "a.more"}}
        query = SearchQuery(options=options, max_pages=5, page_delay_seconds=0.2)
        listings = await RecipeAdapter().search(query, fetcher.fetch)
        assert [listing.title for listing in listings] == ["a1", "a2", "b1", "b2", "c1"]
        pages = [request for request in server.requests if request.path == "/results"]
        assert [request.query["p"] for request in pages] == ["1", "2", "3"]
        gaps = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(pages)]
        assert all(gap >= 0.19 for gap in gaps), gaps


async def test_rel_next_is_followed_but_never_to_another_site_or_in_a_loop(fetcher: Fetcher) -> None:
    with LocalHttpServer() as server:
        _serve_pages(
            server,
            {
                "1": _results_page(1, ["a1"], '<link rel="next" href="/results?p=2">'),
                "2": _results_page(2, ["b1"], '<a rel="nofollow next" href="results?p=3">next</a>'),
                "3": _results_page(3, ["c1"], '<a rel="next" href="/results?p=1">back to the start</a>'),
            },
        )
        query = SearchQuery(options={"url": server.url("/results?p=1"), "recipe": RECIPE}, max_pages=10)
        listings = await RecipeAdapter().search(query, fetcher.fetch)
        assert [listing.title for listing in listings] == ["a1", "b1", "c1"]
        assert len([r for r in server.requests if r.path == "/results"]) == 3  # page 1 is not read twice

        elsewhere = "http://localhost:9/results?p=2"
        _serve_pages(server, {"1": _results_page(1, ["a1"], f'<link rel="next" href="{elsewhere}">')})
        before = len(server.requests)
        only = await RecipeAdapter().search(query, fetcher.fetch)
        assert [listing.title for listing in only] == ["a1"] and len(server.requests) == before + 1


async def test_a_page_that_repeats_the_last_one_ends_the_search(fetcher: Fetcher) -> None:
    with LocalHttpServer() as server:
        same = _results_page(1, ["a1", "a2"], '<a rel="next" href="/results?p=9">next</a>')
        _serve_pages(server, {"1": same.replace("p=9", "p=2"), "2": same})
        query = SearchQuery(options={"url": server.url("/results?p=1"), "recipe": RECIPE}, max_pages=10)
        listings = await RecipeAdapter().search(query, fetcher.fetch)
        assert [listing.title for listing in listings] == ["a1", "a2"]
        assert [r.query["p"] for r in server.requests if r.path == "/results"] == ["1", "2"]


async def test_an_empty_first_page_is_still_an_error_but_an_empty_later_page_ends_quietly(fetcher: Fetcher) -> None:
    with LocalHttpServer() as server:
        _serve_pages(
            server,
            {
                "1": _results_page(1, ["a1"], '<a rel="next" href="/results?p=2">next</a>'),
                "2": "<html><body><p>No more results</p></body></html>",
                "3": "<html><body><p>Nothing here</p></body></html>",
            },
        )
        query = SearchQuery(options={"url": server.url("/results?p=1"), "recipe": RECIPE}, max_pages=5)
        assert [listing.title for listing in await RecipeAdapter().search(query, fetcher.fetch)] == ["a1"]
        empty = SearchQuery(options={"url": server.url("/results?p=3"), "recipe": RECIPE}, max_pages=5)
        with pytest.raises(AdapterError, match="matched nothing"):
            await RecipeAdapter().search(empty, fetcher.fetch)


def test_recipe_next_selector_is_validated() -> None:
    assert validate_recipe({**RECIPE, "next": "a.more@data-href"}).next == "a.more@data-href"
    with pytest.raises(AdapterError, match="next selector"):
        validate_recipe({**RECIPE, "next": "a:nth-child("})


async def test_read_pages_takes_the_smaller_of_the_search_and_adapter_limits() -> None:
    reads: list[str] = []

    async def read(url: str, number: int) -> tuple[list[ScrapedListing], str | None]:
        reads.append(url)
        item = ScrapedListing(marketplace="x", external_id=str(number), url=url, title=f"item {number}")
        return [item], f"https://x.test/{number + 1}"

    politeness = Politeness(delay_seconds=0, max_pages=2)
    found = await read_pages(SearchQuery(max_pages=5), politeness, "https://x.test/1", read)
    assert [item.external_id for item in found] == ["1", "2"] and len(reads) == 2
    started = time.monotonic()
    await read_pages(SearchQuery(max_pages=1), Politeness(delay_seconds=5, max_pages=9), "https://x.test/1", read)
    assert time.monotonic() - started < 1  # one page: no delay


async def test_the_preview_reads_only_the_first_page(
    running: SimulatorServer, simulator: Simulator, fetcher: Fetcher
) -> None:
    settings = fetch_settings(market_endpoints=running.endpoints(), market_max_pages=5, market_page_delay_seconds=0)
    raw = {"name": "Preview", "keywords": "with", "marketplaces": ["craigslist"], "interval_seconds": 3600}
    search = SavedSearch(user_id=1, **asdict(service.parse_search(raw, settings=settings)))
    shown = await preview(search, settings=settings, fetcher=fetcher)
    assert shown.pages == {"craigslist": 1} and shown.fetched == PAGE
    assert simulator.requests["/craigslist/search/sss"] == 1
    everything = await collect(search, settings=settings, fetcher=fetcher)
    assert everything.pages == {"craigslist": 2} and everything.fetched > PAGE


# -- a whole run ------------------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str, running: SimulatorServer) -> Settings:
    return market_settings(
        tmp_path,
        database_url,
        market_endpoints=running.endpoints(),
        market_max_pages=2,
        market_page_delay_seconds=0,
        market_image_hashes_per_run=0,
    )


async def test_a_run_stores_every_page_and_counts_its_pages(services: Services, simulator: Simulator) -> None:
    user = await create_user(services)
    raw = {"name": "Anything with extras", "interval_seconds": 1800, "keywords": "with"}
    spec = service.parse_search({**raw, "marketplaces": ["craigslist", "ksl"]}, settings=services.settings)
    async with services.db.session(write=True) as session:
        search = await service.create_search(session, user_id=user.id, spec=spec, settings=services.settings)
        search_id = search.id
    run = await execute_search(services, search_id, user.id)
    assert run.status == RunStatus.SUCCEEDED.value, run.error
    assert run.stats["pages"] == 3  # two Craigslist pages, KSL's one page
    assert simulator.requests["/craigslist/search/sss"] == 2
    with_extras = catalogue_search(SEED, 0, "craigslist", "with", limit=None)
    on_craigslist = [entry.site_id("craigslist") for entry in with_extras]
    assert PAGE < len(on_craigslist) <= 2 * PAGE
    assert set(on_craigslist) <= await matched_skus(services, search_id)
