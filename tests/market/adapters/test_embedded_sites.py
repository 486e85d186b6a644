"""Script-built sites: OfferUp, Mercari and KSL (``__NEXT_DATA__``), Poshmark (``__INITIAL_STATE__``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.market.adapters.base import AdapterError, GeoPoint, SearchQuery
from spyglass.market.adapters.ksl import ADAPTER as KSL
from spyglass.market.adapters.mercari import ADAPTER as MERCARI
from spyglass.market.adapters.offerup import ADAPTER as OFFERUP
from spyglass.market.adapters.poshmark import ADAPTER as POSHMARK
from tests.market.adapters.conftest import page, serve
from tests.support.http_server import LocalHttpServer


def test_offerup() -> None:
    listings = OFFERUP.parse(page("offerup-search.html"), "https://offerup.com/search?q=console")
    assert [(x.external_id, x.title, x.price, x.location, x.condition) for x in listings] == [
        ("4d1f0a8e-5c3b-3c7e-9d5a-1f2e3d4c5b6a", "PS5 Disc Edition + 2 controllers", Decimal("380"), "Phoenix, AZ",
         "Used - Good"),
        ("9a8b7c6d-0000-4000-8000-123456789abc", "Nintendo Switch OLED", Decimal("240.50"), "Mesa, AZ", "Like new"),
    ]  # fmt: skip
    assert listings[0].url == "https://offerup.com/item/detail/4d1f0a8e-5c3b-3c7e-9d5a-1f2e3d4c5b6a"
    assert listings[0].images == ["https://images.offerup.com/abc=/250x333/1a2b.jpg"]


def test_mercari_prices_are_cents_and_sold_items_skipped() -> None:
    listings = MERCARI.parse(page("mercari-search.html"), "https://www.mercari.com/search/?keyword=patagonia")
    assert [(x.external_id, x.title, x.price, x.condition, x.seller) for x in listings] == [
        ("m83920571634", "Patagonia Better Sweater fleece M", Decimal("45"), "like new", "closetcleanout"),
        ("m99887766554", "Patagonia baggies shorts 5in", Decimal("22"), "good", "surfshack"),
    ]
    assert listings[0].url == "https://www.mercari.com/us/item/m83920571634/"
    assert listings[0].posted_at == datetime.fromtimestamp(1764500000, UTC)
    assert listings[1].images == ["https://u-mercari-images.mercdn.net/photos/m99887766554_t.jpg"]


def test_ksl() -> None:
    listings = KSL.parse(page("ksl-search.html"), "https://classifieds.ksl.com/search/keyword/grill")
    assert [(x.external_id, x.title, x.price, x.location) for x in listings] == [
        ("77123451", "Traeger Pro 575 pellet grill", Decimal("450"), "Provo, UT"),
        ("77123460", "Weber Genesis II grill", Decimal("300"), "Orem, UT"),
    ]
    traeger = listings[0]
    assert traeger.url == "https://classifieds.ksl.com/listing/77123451"
    assert (traeger.latitude, traeger.longitude) == (40.2338, -111.6585)
    assert traeger.posted_at == datetime(2026, 11, 29, 20, 11, 5, tzinfo=UTC)
    assert (traeger.condition, traeger.seller) == ("used", "Jared")
    assert listings[1].images == ["https://img.ksl.com/slc/2845/284599.jpg"]


def test_poshmark_initial_state() -> None:
    listings = POSHMARK.parse(page("poshmark-search.html"), "https://poshmark.com/search?query=lululemon")
    assert [(x.external_id, x.title, x.price, x.condition, x.seller) for x in listings] == [
        ("6734a1b2c3d4e5f601234567", 'Lululemon Align Leggings 25"', Decimal("58.00"), "new", "yogacloset"),
        ("6734a1b2c3d4e5f60123aaaa", "Lululemon Everywhere Belt Bag", Decimal("32.00"), "like new", "beltbags4u"),
    ]
    assert listings[0].url == "https://poshmark.com/listing/lululemon-align-leggings-25-6734a1b2c3d4e5f601234567"
    assert listings[0].posted_at == datetime(2026, 11, 11, 2, 22, tzinfo=UTC)


@pytest.mark.parametrize("adapter", [OFFERUP, MERCARI, KSL, POSHMARK], ids=lambda a: a.name)
def test_a_page_without_embedded_data_is_an_adapter_error(adapter: object) -> None:
    with pytest.raises(AdapterError, match="layout may have changed"):
        adapter.parse("<html><body><div id='root'></div></body></html>", "https://x.example/")  # type: ignore[attr-defined]


async def test_searches_send_the_filters_each_site_understands(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/search", page("offerup-search.html"))
    serve(server, "/search/", page("mercari-search.html"))
    base = {"terms": "console", "price_min": Decimal("100"), "price_max": Decimal("400"), "endpoint": server.origin}
    assert len(await OFFERUP.search(SearchQuery(**base), fetcher.fetch)) == 2  # type: ignore[arg-type]
    assert server.requests[-1].query == {"q": "console", "price_min": "100", "price_max": "400"}
    assert len(await MERCARI.search(SearchQuery(**base, condition="used"), fetcher.fetch)) == 2  # type: ignore[arg-type]
    assert server.requests[-1].query == {
        "keyword": "console", "minPrice": "10000", "maxPrice": "40000", "itemConditions": "2-3-4-5",
    }  # fmt: skip
    path = "/search/keyword/pellet%20grill/priceFrom/100/priceTo/400/zip/84604/miles/10"
    serve(server, path, page("ksl-search.html"))
    where = GeoPoint(40.23, -111.66, "Provo", postal_code="84604")
    ksl_query = SearchQuery(**{**base, "terms": "pellet grill"}, location=where, radius_km=16)  # type: ignore[arg-type]
    assert len(await KSL.search(ksl_query, fetcher.fetch)) == 2
    assert server.requests[-1].path == path
