"""Facebook Marketplace: the real logged-out Boston search page and a search against a local server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.market.adapters.base import AdapterError, SearchQuery
from spyglass.market.adapters.facebook import ADAPTER, parse_item
from tests.market.adapters.conftest import captured, serve
from tests.support.http_server import LocalHttpServer

SEARCH = "https://www.facebook.com/marketplace/boston/search?query=harley"


def test_real_search_page() -> None:
    listings = ADAPTER.parse(captured("facebook/search-boston-2023.html"), SEARCH)
    assert len(listings) == 24
    assert len({x.external_id for x in listings}) == 24
    first = listings[0]
    assert first.external_id == "1677104469719388"
    assert first.url == "https://www.facebook.com/marketplace/item/1677104469719388/"
    assert first.title == "2003 Harley-Davidson sportster 1200 100th anniversary"
    assert (first.price, first.currency) == (Decimal("4500.00"), "USD")
    assert first.location == "Epping, NH"
    assert first.seller == "Devan Bartlett"
    assert first.description == "16K miles"
    assert first.images[0].startswith("https://scontent-bos5-1.xx.fbcdn.net/")
    assert [(x.title, x.price, x.location) for x in listings[1:3]] == [
        ("2017 Harley-Davidson FLRT - Freewheeler®", Decimal("20900.00"), "Bellingham, MA"),
        ("2020 Harley-Davidson FXST - Softail® Standard", Decimal("9900.00"), listings[2].location),
    ]


def test_login_wall_and_changed_format_are_adapter_errors() -> None:
    with pytest.raises(AdapterError, match="log in"):
        ADAPTER.parse('<html><body><form action="/login/device-based/regular/login/"></form></body></html>', SEARCH)
    with pytest.raises(AdapterError, match="format may have changed"):
        ADAPTER.parse('<script type="application/json">{"require": []}</script>', SEARCH)
    empty = '<script type="application/json">{"marketplace_search": {"feed_units": {"edges": []}}}</script>'
    assert ADAPTER.parse(empty, SEARCH) == []


async def test_search_sends_the_city_and_price_filters(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/marketplace/boston/search", captured("facebook/search-boston-2023.html"))
    query = SearchQuery(
        terms="harley", price_min=Decimal("1000"), price_max=Decimal("20000.50"),
        options={"city": "boston"}, endpoint=server.origin,
    )  # fmt: skip
    listings = await ADAPTER.search(query, fetcher.fetch)
    assert len(listings) == 24
    assert server.requests[-1].query == {"query": "harley", "minPrice": "1000", "maxPrice": "20000"}


def test_real_item_page() -> None:
    html = captured("facebook/listing-details.html")
    item = parse_item(html, "https://www.facebook.com/marketplace/item/1677104469719388/?ref=search")
    assert item.external_id == "1677104469719388"
    assert item.url == "https://www.facebook.com/marketplace/item/1677104469719388/"
    assert item.title == "2003 Harley-Davidson sportster 1200 100th anniversary"
    assert (item.price, item.currency, item.condition) == (Decimal("4500.00"), "USD", "used")
    assert item.description.startswith("2003 Harley Davidson Sportster 1200 100th Anniversary very clean bike")
    assert item.description.endswith("bike also has screaming eagle pipes on it")
    assert (item.location, item.latitude, item.longitude) == ("Epping, NH", 43.04019, -71.07286)
    assert item.posted_at == datetime.fromtimestamp(1718233474, UTC)
    assert item.seller == "Devan Bartlett"
    assert len(item.images) == 6
    assert ADAPTER.parse(html, SEARCH) == [item]
    with pytest.raises(AdapterError, match="item page holds no listing data"):
        parse_item('<script type="application/json">{"require": []}</script>', SEARCH)
