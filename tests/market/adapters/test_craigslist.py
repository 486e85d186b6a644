"""Craigslist: the real Boston search page, our static-results page, the sapi JSON, areas, and live searches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.market.adapters.base import AdapterError, GeoPoint, SearchQuery
from spyglass.market.adapters.craigslist import (
    CraigslistAdapter,
    nearest_area,
    parse_areas,
    parse_posting,
    parse_sapi,
    parse_search_page,
)
from tests.market.adapters.conftest import captured, page, serve
from tests.support.http_server import LocalHttpServer

BOSTON = "https://boston.craigslist.org/search/sss"


def test_real_boston_page_rows_completed_from_json_ld() -> None:
    listings = parse_search_page(captured("craigslist/search-boston-sss-2023.html"), BOSTON)
    assert len(listings) == 120
    assert len({listing.external_id for listing in listings}) == 120
    first = listings[0]
    assert first.external_id == "7692736931"
    assert first.url == "https://boston.craigslist.org/nos/for/d/peabody-solar-tea-light/7692736931.html"
    assert first.title == "Solar tea light"
    assert (first.price, first.currency) == (Decimal("5"), "USD")
    assert first.location == "Peabody"
    assert first.latitude == pytest.approx(42.5326, abs=1e-4)
    assert first.longitude == pytest.approx(-70.9612, abs=1e-4)
    assert len(first.images) == 4
    assert first.images[0] == "https://images.craigslist.org/00L0L_20Tz7LpfcXD_0dp0t2_600x450.jpg"
    second = listings[1]
    assert second.title == "WEN by Chaz Dean Bella Spirit & Classic Set"
    assert second.location == "south shore"
    last = listings[-1]
    assert last.external_id == "7686465065"
    assert last.title == 'Weber 18" Original Black Kettle Charcoal Grill'
    assert (last.price, last.location) == (Decimal("30"), "Waltham")
    # 26 rows show no price; 85 rows have a JSON-LD item of the same title (so coordinates)
    assert sum(listing.price is None for listing in listings) == 26
    assert sum(listing.latitude is not None for listing in listings) == 85
    assert all(listing.marketplace == "craigslist" for listing in listings)


def test_json_ld_only_page_gives_listings_with_hashed_ids() -> None:
    html = captured("craigslist/search-boston-sss-2023.html")
    start = html.index('<div class="results cl-results-page"')
    without_rows = html[:start] + html[html.index("</ol>", start) + 5 :]
    listings = parse_search_page(without_rows, BOSTON)
    # 270 items, two of which repeat another item exactly (name, price, place and photo): one listing each
    assert len(listings) == 268
    first = listings[0]
    assert first.title == "Kids Lange Ski Boots Size 20.5"
    assert (first.price, first.currency, first.location) == (Decimal("50.00"), "USD", "Boxford, MA")
    assert first.url == BOSTON
    assert first.external_id == parse_search_page(without_rows, BOSTON)[0].external_id


def test_static_results_are_joined_to_json_ld_by_title() -> None:
    listings = parse_search_page(page("craigslist-static.html"), "https://seattle.craigslist.org/search/sss")
    assert [(x.external_id, x.title, x.price, x.location) for x in listings] == [
        ("7801234567", "Necky Looksha sea kayak", Decimal("900"), "Ballard"),
        ("7801234555", "Kayak paddle, carbon", Decimal("120"), "Tacoma"),
        ("7801234501", "Kayak roof rack", Decimal("0"), "Everett"),
    ]
    assert listings[0].latitude == pytest.approx(47.6687)
    assert listings[0].images == ["https://images.craigslist.org/00a0a_kayak1_600x450.jpg"]


def test_a_page_without_results_or_data_is_an_adapter_error() -> None:
    with pytest.raises(AdapterError, match="layout may have changed"):
        parse_search_page("<html><body><div class='cl-app'></div></body></html>", BOSTON)
    assert parse_search_page("<html><body><div class='cl-no-results'>no results</div></body></html>", BOSTON) == []


def test_sapi_rows_are_delta_decoded() -> None:
    listings = parse_sapi(json.loads(page("craigslist-sapi.json")), "https://seattle.craigslist.org")
    assert [(x.external_id, x.title, x.price) for x in listings] == [
        ("7801234567", "Necky Looksha sea kayak", Decimal("900")),
        ("7801234555", "Kayak paddle, carbon", Decimal("120")),
        ("7801234501", "Kayak lessons", None),
    ]
    kayak = listings[0]
    assert kayak.posted_at == datetime.fromtimestamp(1764540000 + 3600, UTC)
    assert kayak.url == "https://seattle.craigslist.org/d/seattle-necky-looksha-sea-kayak/7801234567.html"
    assert (kayak.latitude, kayak.longitude, kayak.location) == (47.6687, -122.3847, "seattle")
    assert kayak.images == [
        "https://images.craigslist.org/00a0a_kayak1_600x450.jpg",
        "https://images.craigslist.org/00b0b_kayak2_600x450.jpg",
    ]
    assert listings[1].location == "tacoma"
    with pytest.raises(AdapterError, match="sapi"):
        parse_sapi({"data": {"items": []}}, "https://seattle.craigslist.org")


def test_real_area_list_and_nearest_site() -> None:
    areas = parse_areas(json.loads(captured("craigslist/areas.json")))
    assert len(areas) == len(json.loads(captured("craigslist/areas.json")))
    assert areas[0].hostname == "sfbay" and areas[0].area_id == 1
    assert nearest_area(areas, 42.3601, -71.0589).hostname == "boston"  # Boston city hall
    assert nearest_area(areas, 47.61, -122.33).hostname == "seattle"
    assert nearest_area(areas, 40.2338, -111.6585).hostname == "provo"
    with pytest.raises(AdapterError, match="area list"):
        parse_areas({"not": "a list"})


async def test_search_picks_the_nearest_site_from_the_cached_area_list(
    server: LocalHttpServer, fetcher: Fetcher
) -> None:
    serve(server, "/Areas", captured("craigslist/areas.json"), "application/json")
    serve(server, "/search/sss", page("craigslist-static.html"))
    adapter = CraigslistAdapter(areas_url="https://reference.craigslist.invalid/Areas")  # the endpoint's is used
    query = SearchQuery(
        keywords="kayak",
        terms="kayak",
        price_min=Decimal("50"),
        price_max=Decimal("1000"),
        condition="good",
        location=GeoPoint(47.61, -122.33, "Seattle", postal_code="98101"),
        radius_km=40,
        endpoint=server.origin,
    )
    base, area = await adapter.site(query, fetcher.fetch)
    assert area is not None and area.hostname == "seattle"
    assert base == server.origin
    listings = await adapter.search(query, fetcher.fetch)
    assert len(listings) == 3
    await adapter.search(query, fetcher.fetch)
    assert server.hits("/Areas") == 1  # cached
    sent = next(r for r in server.requests if r.path == "/search/sss")
    assert sent.query == {
        "query": "kayak",
        "min_price": "50",
        "max_price": "1000",
        "postal": "98101",
        "search_distance": "25",
        "condition": "40",
    }


def test_a_city_without_postal_code_is_sent_as_coordinates() -> None:
    query = SearchQuery(terms="kayak", location=GeoPoint(47.6101, -122.3344, "Seattle"), radius_km=16)
    assert CraigslistAdapter().filters(query) == {
        "query": "kayak", "min_price": None, "max_price": None,
        "lat": "47.6101", "lon": "-122.3344", "search_distance": 10,
    }  # fmt: skip


async def test_search_through_sapi(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/web/v8/postings/search/full", page("craigslist-sapi.json"), "application/json")
    query = SearchQuery(terms="kayak", options={"mode": "sapi", "area_id": 2}, endpoint=server.origin)
    listings = await CraigslistAdapter().search(query, fetcher.fetch)
    assert [x.external_id for x in listings] == ["7801234567", "7801234555", "7801234501"]
    sent = server.requests[-1]
    assert sent.query["batch"] == "2-0-360-0-0" and sent.query["query"] == "kayak"


async def test_search_needs_a_site_or_location(fetcher: Fetcher) -> None:
    with pytest.raises(AdapterError, match="needs a location"):
        await CraigslistAdapter().search(SearchQuery(terms="kayak"), fetcher.fetch)
    with pytest.raises(AdapterError, match="not a Craigslist site"):
        await CraigslistAdapter().search(SearchQuery(terms="x", options={"site": "../evil"}), fetcher.fetch)


def test_real_posting_pages() -> None:
    posting = parse_posting(captured("craigslist/listing-details.html"), "https://boston.craigslist.org/x")
    assert posting.external_id == "7692736931"
    assert posting.url == "https://boston.craigslist.org/nos/for/d/peabody-solar-tea-light/7692736931.html"
    assert (posting.title, posting.price, posting.currency) == ("Solar tea light", Decimal("5.00"), "USD")
    assert posting.description == "Small solar tea light new inbox"
    assert (posting.location, posting.latitude, posting.longitude) == ("Peabody, MA", 42.5326, -70.9612)
    assert posting.posted_at == datetime(2023, 11, 30, 1, 23, 46, tzinfo=UTC)  # 20:23:46 -05:00
    assert len(posting.images) == 4
    single = parse_posting(captured("craigslist/listing-details-single-image.html"), "https://boston.craigslist.org/x")
    assert (single.external_id, single.title, single.price) == ("7647759587", "1981 Kawasaki KZ75OH", Decimal("500.00"))
    assert single.description == "Kawasaki - partially rebuilt and I have all the parts."
    assert (single.location, single.condition) == ("Plymouth, MA", "fair")
    assert single.images == ["https://images.craigslist.org/00N0N_chjyoxN0KD1_0CI0mC_600x450.jpg"]
    assert CraigslistAdapter().parse(captured("craigslist/listing-details.html"), BOSTON)[0].external_id == "7692736931"
