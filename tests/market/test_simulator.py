"""The marketplace simulator: deterministic, changing markets served to the real adapters over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from spyglass.core.fetch import Fetcher
from spyglass.market.adapters.base import GeoPoint, SearchQuery
from spyglass.market.adapters.craigslist import CraigslistAdapter
from spyglass.market.adapters.ebay import EbayAdapter, EbayCredentials
from spyglass.market.adapters.registry import get_adapter
from spyglass.market.simulator import Simulator, SimulatorServer
from spyglass.market.simulator.catalogue import INITIAL_ITEMS, NEW_PER_STEP, item, items_until
from tests.market.helpers import SEED
from tests.support.http_server import watch_network

# adapter name -> the simulator's site it reads
SITES = {
    "craigslist": "craigslist", "facebook": "facebook", "offerup": "offerup", "ebay": "ebay", "mercari": "mercari",
    "ksl": "ksl", "poshmark": "poshmark", "jsonld": "shop", "rss": "shop",
}  # fmt: skip


def test_the_market_is_the_same_for_the_same_seed() -> None:
    a, b, other = Simulator(SEED), Simulator(SEED), Simulator(SEED + 1)
    for sim in (a, b, other):
        sim.set_step(12)
    titles = [entry.title for entry in a.search("craigslist")]
    assert titles == [entry.title for entry in b.search("craigslist")]
    assert titles != [entry.title for entry in other.search("craigslist")]
    assert len(items_until(SEED, 12)) == INITIAL_ITEMS + 12 * NEW_PER_STEP


def test_listings_appear_get_cheaper_and_vanish_over_steps() -> None:
    everything = items_until(SEED, 30)
    appeared = [entry for entry in everything if entry.appears_at == 5]
    assert len(appeared) == NEW_PER_STEP
    assert all(not entry.active_at(4) and entry.active_at(5) for entry in appeared)
    vanished = [entry for entry in everything if entry.gone_at is not None and entry.gone_at <= 30]
    assert vanished and all(not entry.active_at(entry.gone_at) for entry in vanished)  # type: ignore[arg-type]
    dropped = next(entry for entry in everything if entry.drops)
    at, factor = dropped.drops[0]
    assert dropped.price_at(at - 1) == Decimal(dropped.base_price)
    assert dropped.price_at(at) < dropped.price_at(at - 1)
    assert dropped.price_at(at) == int(dropped.base_price * factor)


def test_search_filters_words_and_prices_and_lists_newest_first() -> None:
    sim = Simulator(SEED)
    sim.set_step(40)
    bikes = sim.search("craigslist", "bike", Decimal("200"), Decimal("2000"))
    assert bikes
    assert all("bike" in entry.title.lower() for entry in bikes)
    assert all(Decimal(200) <= entry.price_at(40) <= Decimal(2000) for entry in bikes)
    assert [entry.appears_at for entry in bikes] == sorted((entry.appears_at for entry in bikes), reverse=True)


def test_the_step_follows_the_clock_until_frozen() -> None:
    now = [1000.0]
    sim = Simulator(SEED, step_seconds=60, clock=lambda: now[0])
    assert sim.step == 0
    now[0] += 125
    assert sim.step == 2
    sim.set_step(9)
    now[0] += 600
    assert sim.step == 9
    assert sim.advance(2) == 11


@pytest.mark.parametrize("adapter_name", sorted(SITES))
async def test_each_adapter_reads_exactly_what_the_simulator_shows(
    adapter_name: str, simulator: Simulator, running: SimulatorServer, fetcher: Fetcher
) -> None:
    simulator.set_step(25)
    site = SITES[adapter_name]
    expected = simulator.search(site)
    assert expected, f"the simulator shows nothing on {site} at step 25"
    query = SearchQuery(endpoint=running.endpoints()[adapter_name], options={"site": "boston", "city": "boston"})
    with watch_network() as network:
        listings = await get_adapter(adapter_name).search(query, fetcher.fetch)
    assert network.blocked == [] and set(network.connects) == {"127.0.0.1"}
    assert [listing.title for listing in listings] == [entry.title for entry in expected]
    assert [listing.price for listing in listings] == [entry.price_at(25) for entry in expected]
    assert len({listing.external_id for listing in listings}) == len(listings)


async def test_a_search_sees_new_listings_price_drops_and_vanished_ones(
    simulator: Simulator, running: SimulatorServer, fetcher: Fetcher
) -> None:
    adapter = CraigslistAdapter()
    # with an endpoint, the area list comes from it too (the simulator's /craigslist/Areas), never the real site
    query = SearchQuery(location=GeoPoint(42.36, -71.06, "Boston"), endpoint=running.endpoints()["craigslist"])
    with watch_network() as network:  # the area list too comes from the simulator, nothing from the real site
        simulator.set_step(10)
        before = {x.external_id: x for x in await adapter.search(query, fetcher.fetch)}
        simulator.set_step(20)
        after = {x.external_id: x for x in await adapter.search(query, fetcher.fetch)}
    assert network.blocked == [] and set(network.connects) == {"127.0.0.1"}
    new, gone = set(after) - set(before), set(before) - set(after)
    cheaper = [key for key in set(before) & set(after) if after[key].price < before[key].price]  # type: ignore[operator]
    expected_new = {e.site_id("craigslist") for e in simulator.search("craigslist") if e.appears_at > 10}
    assert new == expected_new and new
    assert gone and all(not item(SEED, int(key) - 7_900_000_000).active_at(20) for key in gone)
    assert cheaper
    assert all(after[key].latitude is not None for key in after)


async def test_ebay_browse_api_and_sapi_through_the_simulator(
    simulator: Simulator, running: SimulatorServer, fetcher: Fetcher
) -> None:
    simulator.set_step(15)
    ebay = EbayAdapter(EbayCredentials("sim-id", "sim-secret"))
    endpoint = running.endpoints()["ebay"]
    listings = await ebay.search(SearchQuery(endpoint=endpoint, price_max=Decimal(800)), fetcher.fetch)
    expected = simulator.search("ebay", price_max=Decimal(800))
    assert [x.external_id for x in listings] == [e.site_id("ebay") for e in expected]
    assert all(x.price is not None and x.price <= 800 for x in listings)
    sapi = SearchQuery(endpoint=running.endpoints()["craigslist"], options={"mode": "sapi", "area_id": 4})
    rows = await CraigslistAdapter().search(sapi, fetcher.fetch)
    assert [x.external_id for x in rows] == [e.site_id("craigslist") for e in simulator.search("craigslist")]


def test_pages_items_robots_and_bad_input(simulator: Simulator, running: SimulatorServer) -> None:
    simulator.set_step(3)
    with httpx.Client(base_url=running.origin) as client:
        assert client.get("/robots.txt").text == "User-agent: *\nAllow: /\n"
        assert client.get("/_sim/state").json() == {"seed": SEED, "step": 3, "epoch": 1_764_547_200}
        shop_item = next(entry for entry in simulator.search("shop"))
        page = client.get(f"/shop/item/{shop_item.index}")
        assert page.status_code == 200 and shop_item.title in page.text
        gone = next(e for e in items_until(SEED, 60) if "shop" in e.sites and e.gone_at is not None)
        simulator.set_step(gone.gone_at)  # type: ignore[arg-type]
        assert client.get(f"/shop/item/{gone.index}").status_code == 404
        assert client.get("/craigslist/search/sss", params={"min_price": "cheap"}).status_code == 400
        assert client.get("/nowhere").status_code == 404
        assert client.get("/ebay/buy/browse/v1/item_summary/search").status_code == 401


async def test_listing_links_lead_to_pages_the_adapters_read(
    simulator: Simulator, running: SimulatorServer, fetcher: Fetcher
) -> None:
    simulator.set_step(8)
    query = SearchQuery(endpoint=running.endpoints()["craigslist"], options={"site": "boston"})
    first = (await CraigslistAdapter().search(query, fetcher.fetch))[0]
    page = await fetcher.fetch(first.url)
    [posting] = CraigslistAdapter().parse(page.text, page.url)
    entry = item(SEED, int(first.external_id) - 7_900_000_000)
    assert (posting.external_id, posting.url, posting.title) == (first.external_id, first.url, first.title)
    assert (posting.price, posting.condition, posting.description) == (first.price, entry.condition, entry.description)
    assert posting.posted_at is not None and int(posting.posted_at.timestamp()) == entry.posted_timestamp(
        simulator.epoch, simulator.step_seconds
    )
    ebay = (await EbayAdapter().search(SearchQuery(endpoint=running.endpoints()["ebay"]), fetcher.fetch))[0]
    assert (await fetcher.fetch(ebay.url)).status_code == 200
