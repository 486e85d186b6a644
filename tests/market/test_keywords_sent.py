"""What each marketplace is asked for: sites that require every word get the query's required words (an OR
alternative would make them return nothing), eBay's results page and Craigslist get ``-word`` exclusions, and
whatever a site cannot express is filtered by Spyglass. Every adapter runs against the simulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict

import pytest

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher
from spyglass.core.retry import RetryPolicy
from spyglass.market.adapters.base import SearchQuery
from spyglass.market.adapters.common import search_terms
from spyglass.market.models import SavedSearch
from spyglass.market.searching import Collected, collect
from spyglass.market.service import parse_search
from spyglass.market.simulator import Simulator, SimulatorServer
from tests.market.adapters.conftest import fetch_settings

#: The simulator's sites that search by words (the shop pages, read by jsonld and rss, list everything).
SEARCHING = ["craigslist", "ebay", "facebook", "ksl", "mercari", "offerup", "poshmark"]
#: Sites whose search takes ``-word``.
EXCLUDING = {"craigslist", "ebay"}


@pytest.fixture(scope="module")
def running() -> Iterator[SimulatorServer]:
    simulator = Simulator(7, epoch=1_764_547_200)
    simulator.set_step(200)
    with SimulatorServer(simulator) as server:
        yield server


@pytest.fixture
def settings(running: SimulatorServer) -> Settings:
    return fetch_settings(market_endpoints=running.endpoints(), market_min_interval_seconds=1)


@pytest.fixture
async def fetcher(settings: Settings) -> AsyncIterator[Fetcher]:
    async with Fetcher(settings, retry=RetryPolicy(attempts=1)) as made:
        yield made


async def run(keywords: str, settings: Settings, fetcher: Fetcher) -> Collected:
    raw = {"name": "t", "marketplaces": SEARCHING, "keywords": keywords, "interval_seconds": 3600}
    search = SavedSearch(user_id=0, **asdict(parse_search(raw, settings=settings)))
    collected = await collect(search, settings=settings, fetcher=fetcher)
    assert not collected.failures, collected.failures
    assert [result.marketplace for result in collected.results] == SEARCHING
    return collected


def test_the_words_sent() -> None:
    query = SearchQuery(
        terms="red blue bike", required_terms=("bike",), excluded_terms=("kids", "training wheels"),
        excluded_words=("Broken", "kids"),
    )  # fmt: skip
    assert search_terms(query) == "bike"
    assert search_terms(query, exclusions=True) == "bike -kids -broken"  # a phrase stays a local filter
    assert search_terms(SearchQuery(terms="red blue")) == "red blue"  # only alternatives: nothing is required


async def test_an_or_query_sends_the_required_word_and_filters_the_alternatives_locally(
    settings: Settings, fetcher: Fetcher
) -> None:
    collected = await run("(trek OR giant) bike", settings, fetcher)
    for result in collected.results:
        titles = [item.title.lower() for item in result.scraped]
        # The site was asked for "bike" (not "trek giant bike", which no title contains): it lists other bikes too.
        assert any("trek" in t for t in titles) and any("giant" in t for t in titles), result.marketplace
        assert any("trek" not in t and "giant" not in t for t in titles), result.marketplace
        kept = [item.title.lower() for item in result.kept]
        assert kept and all(("trek" in t or "giant" in t) and "bike" in t for t in kept), result.marketplace


async def test_exclusions_go_to_the_sites_that_take_them_and_are_applied_locally_elsewhere(
    settings: Settings, fetcher: Fetcher
) -> None:
    collected = await run("bike NOT trek", settings, fetcher)
    for result in collected.results:
        scraped = [item.title.lower() for item in result.scraped]
        kept = [item.title.lower() for item in result.kept]
        assert kept and all("bike" in t and "trek" not in t for t in kept), result.marketplace
        if result.marketplace in EXCLUDING:  # the site itself left the excluded word out ("bike -trek")
            assert all("trek" not in t for t in scraped), result.marketplace
        else:
            assert any("trek" in t for t in scraped), result.marketplace
