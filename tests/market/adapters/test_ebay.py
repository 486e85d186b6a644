"""eBay: the Browse API with an OAuth application token, and the HTML results page without credentials."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from spyglass.core.fetch import Fetcher, PermanentFetchError
from spyglass.market.adapters.base import AdapterError, SearchQuery
from spyglass.market.adapters.ebay import EbayAdapter, EbayCredentials, parse_api_response, parse_results_page
from tests.market.adapters.conftest import page, serve
from tests.support.http_server import LocalHttpServer, Reply, ServerRequest

CREDENTIALS = EbayCredentials("SpyglassTest-PRD-1234", "PRD-secret-value", "EBAY_US")


def test_api_response() -> None:
    listings = parse_api_response(json.loads(page("ebay-browse.json")))
    assert [(x.external_id, x.title, x.price, x.currency, x.seller) for x in listings] == [
        ("226012345678", "Nikon Z6 II Mirrorless Camera Body", Decimal("1149.99"), "USD", "cameraworld_nw"),
        ("315098765432", "Nikon Z 6 body only - low shutter count", Decimal("689.00"), "USD", "pdx_photo"),
    ]
    first = listings[0]
    assert first.url == "https://www.ebay.com/itm/226012345678"  # hash/amdata tracking dropped
    assert first.images == [
        "https://i.ebayimg.com/images/g/abc/s-l225.jpg",
        "https://i.ebayimg.com/images/g/def/s-l225.jpg",
    ]
    assert first.posted_at == datetime(2026, 11, 30, 21, 14, 3, tzinfo=UTC)
    assert (first.condition, first.location) == ("used", "981**, US")
    assert listings[1].location == "Portland, 972**, US"
    with pytest.raises(AdapterError, match="itemSummaries"):
        parse_api_response({"errors": [{"errorId": 1001}]})


def test_results_page_skips_the_placeholder_card() -> None:
    listings = parse_results_page(page("ebay-results.html"), "https://www.ebay.com/sch/i.html?_nkw=nikon+z6")
    assert [(x.external_id, x.title, x.price, x.condition) for x in listings] == [
        ("226012345678", "Nikon Z6 II Mirrorless Camera Body", Decimal("1149.99"), "pre-owned"),
        ("315098765432", "Nikon Z 6 body only - low shutter count", Decimal("689.00"), "used"),
    ]
    assert listings[0].url == "https://www.ebay.com/itm/226012345678"
    assert listings[0].seller == "cameraworld_nw"
    assert listings[0].location == "United States"
    with pytest.raises(AdapterError, match="no s-item cards"):
        parse_results_page("<html><body><div id='mainContent'></div></body></html>", "https://www.ebay.com/")


async def test_api_search_gets_a_token_once_and_sends_filters(server: LocalHttpServer, fetcher: Fetcher) -> None:
    async def token(request: ServerRequest) -> Reply:
        body = json.dumps(
            {"access_token": "v^1.1#i^1#token", "expires_in": 7200, "token_type": "Application Access Token"}
        )
        return Reply(200, body.encode(), {"Content-Type": "application/json"})

    server.route("/identity/v1/oauth2/token", token)
    serve(server, "/buy/browse/v1/item_summary/search", page("ebay-browse.json"), "application/json")
    adapter = EbayAdapter(CREDENTIALS)
    query = SearchQuery(
        terms="nikon z6", price_min=Decimal("500"), price_max=Decimal("1200"), condition="used",
        endpoint=server.origin,
    )  # fmt: skip
    assert len(await adapter.search(query, fetcher.fetch)) == 2
    assert len(await adapter.search(query, fetcher.fetch)) == 2
    assert server.hits("/identity/v1/oauth2/token") == 1
    grant = next(r for r in server.requests if r.path == "/identity/v1/oauth2/token")
    assert grant.method == "POST"
    expected_basic = base64.b64encode(b"SpyglassTest-PRD-1234:PRD-secret-value").decode()
    assert grant.headers["authorization"] == f"Basic {expected_basic}"
    assert parse_qs(grant.body.decode()) == {
        "grant_type": ["client_credentials"], "scope": ["https://api.ebay.com/oauth/api_scope"],
    }  # fmt: skip
    call = server.requests[-1]
    assert call.headers["authorization"] == "Bearer v^1.1#i^1#token"
    assert call.headers["x-ebay-c-marketplace-id"] == "EBAY_US"
    assert call.query["q"] == "nikon z6"
    assert call.query["filter"] == "price:[500..1200],priceCurrency:USD,conditions:{USED}"
    assert "PRD-secret-value" not in repr(CREDENTIALS)


async def test_bad_keyset_is_a_clear_error(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/identity/v1/oauth2/token", '{"error": "invalid_client"}', "application/json")
    with pytest.raises(AdapterError, match="did not return an access token"):
        await EbayAdapter(CREDENTIALS).search(SearchQuery(terms="x", endpoint=server.origin), fetcher.fetch)


async def test_without_credentials_the_results_page_is_read(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/sch/i.html", page("ebay-results.html"))
    query = SearchQuery(terms="nikon z6", price_max=Decimal("1500"), condition="new", endpoint=server.origin)
    listings = await EbayAdapter().search(query, fetcher.fetch)
    assert len(listings) == 2
    assert server.requests[-1].query == {"_nkw": "nikon z6", "_sop": "10", "_udhi": "1500", "LH_ItemCondition": "1000"}


def test_configure_takes_the_keyset_and_area_list_from_the_settings() -> None:
    from spyglass.market.adapters import configure, craigslist, ebay
    from tests.market.adapters.conftest import fetch_settings

    before = (ebay.ADAPTER.credentials, craigslist.ADAPTER.areas_url, craigslist.ADAPTER.areas.ttl)
    try:
        configure(
            fetch_settings(
                market_ebay_client_id="Spy-PRD-1",
                market_ebay_client_secret="PRD-s3cret",
                market_ebay_marketplace_id="EBAY_GB",
                market_adapter_craigslist_areas_url="http://127.0.0.1:9/Areas",
                market_adapter_areas_cache_seconds=60,
            )
        )
        assert ebay.ADAPTER.credentials == EbayCredentials("Spy-PRD-1", "PRD-s3cret", "EBAY_GB")
        assert "PRD-s3cret" not in repr(ebay.ADAPTER.credentials)
        assert (craigslist.ADAPTER.areas_url, craigslist.ADAPTER.areas.ttl) == ("http://127.0.0.1:9/Areas", 60)
        configure(fetch_settings())
        assert ebay.ADAPTER.credentials is None  # no keyset: the HTML results page
    finally:
        ebay.ADAPTER.credentials, craigslist.ADAPTER.areas_url, craigslist.ADAPTER.areas.ttl = before


async def test_the_api_is_not_crawling_but_the_results_page_is(server: LocalHttpServer, fetcher: Fetcher) -> None:
    server.robots_txt = "User-agent: *\nDisallow: /\n"
    serve(server, "/identity/v1/oauth2/token", '{"access_token": "t", "expires_in": 7200}', "application/json")
    serve(server, "/buy/browse/v1/item_summary/search", page("ebay-browse.json"), "application/json")
    serve(server, "/sch/i.html", page("ebay-results.html"))
    polite = functools.partial(fetcher.fetch, respect_robots=True)  # how market runs call adapters
    query = SearchQuery(terms="nikon", endpoint=server.origin)
    assert len(await EbayAdapter(CREDENTIALS).search(query, polite)) == 2
    with pytest.raises(PermanentFetchError, match="robots"):
        await EbayAdapter().search(query, polite)
    assert server.hits("/sch/i.html") == 0


def test_configure_applies_the_settings_it_is_given_every_time() -> None:
    """A keyset left on the adapter behind configure's back (a test restoring it) is replaced on the next call:
    a search without a keyset must read the results page, not the API (an order-dependent failure before)."""
    from spyglass.market.adapters import configure, ebay
    from tests.market.adapters.conftest import fetch_settings

    before = ebay.ADAPTER.credentials
    try:
        configure(fetch_settings())
        ebay.ADAPTER.credentials = EbayCredentials("Spy-PRD-1", "PRD-s3cret", "EBAY_US")
        configure(fetch_settings())
        assert ebay.ADAPTER.credentials is None
    finally:
        ebay.ADAPTER.credentials = before
