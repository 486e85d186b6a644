"""Generic adapters: structured data (JSON-LD, microdata, OpenGraph), RSS/Atom feeds and CSS recipes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spyglass.core.fetch import Fetcher
from spyglass.market.adapters.base import AdapterError, SearchQuery
from spyglass.market.adapters.jsonld import ADAPTER as JSONLD
from spyglass.market.adapters.recipe import ADAPTER as RECIPE
from spyglass.market.adapters.recipe import Recipe, apply_recipe, validate_recipe
from spyglass.market.adapters.rss import ADAPTER as RSS
from tests.market.adapters.conftest import page, serve
from tests.support.http_server import LocalHttpServer

SHOP = "https://shop.example/bikes?page=1"


def test_json_ld_item_list() -> None:
    listings = JSONLD.parse(page("shop-itemlist.html"), SHOP)
    assert [(x.external_id, x.title, x.price, x.currency, x.condition) for x in listings] == [
        ("PX-1041", "Trek Domane AL 2 (56 cm)", Decimal("649.00"), "USD", "used"),
        ("PX-1042", "Specialized Allez Sport", Decimal("1150"), "USD", "refurbished"),
        ("PX-1043", "Cannondale CAAD Optimo 3", Decimal("980"), "EUR", None),
    ]
    trek = listings[0]
    assert trek.url == "https://shop.example/bikes/trek-domane-al-2"  # tracking parameters stripped
    assert trek.images == ["https://shop.example/img/px-1041-a.jpg", "https://cdn.shop.example/px-1041-b.jpg"]
    assert trek.seller == "Pedal Exchange"
    assert trek.description == "Shimano Claris, new tyres."
    assert listings[1].images == ["https://cdn.shop.example/px-1042.jpg"]


def test_microdata_products() -> None:
    listings = JSONLD.parse(page("shop-microdata.html"), "https://lensloft.example/cameras")
    assert [(x.external_id, x.title, x.price, x.currency, x.url) for x in listings] == [
        ("LL-88", "Fujifilm X-T3 body", Decimal("545.00"), "GBP", "https://lensloft.example/p/fuji-xt3-body"),
        ("LL-91", "Sony a6400 with kit lens", Decimal("699.99"), "GBP", "https://lensloft.example/p/sony-a6400"),
    ]
    assert listings[0].images == ["https://lensloft.example/img/xt3.jpg"]
    assert listings[0].condition == "used"


def test_opengraph_product_page() -> None:
    [listing] = JSONLD.parse(page("product-opengraph.html"), "https://finds.example/item/eames-lounge")
    assert listing.external_id == "F-5521"
    assert listing.title == "Vintage Eames lounge chair"
    assert listing.url == "https://finds.example/item/eames-lounge"
    assert (listing.price, listing.currency, listing.condition) == (Decimal("3200.00"), "USD", "used")
    assert listing.images == ["https://finds.example/media/eames.jpg"]


def test_page_without_structured_data_has_no_listings() -> None:
    assert JSONLD.parse("<html><head><title>x</title></head><body>hi</body></html>", SHOP) == []


def test_rss_feed() -> None:
    listings = RSS.parse(page("feed.rss"), "https://swap.example/guitars.rss")
    assert [(x.external_id, x.title, x.price, x.currency) for x in listings] == [
        ("swap-8812", "Fender Player Stratocaster", Decimal("650"), "USD"),
        ("swap-8815", "Yamaha FG800 acoustic", Decimal("180.00"), "USD"),
        ("swap-8820", "Free: broken amp for parts", None, None),
    ]
    strat = listings[0]
    assert strat.url == "https://swap.example/l/8812"
    assert strat.description == "Sunburst, gig bag included."
    assert strat.posted_at == datetime(2026, 11, 30, 18, 15, tzinfo=UTC)
    assert strat.images == ["https://swap.example/img/8812.jpg"]
    assert listings[1].images == ["https://swap.example/img/8815-t.jpg"]


def test_something_that_is_not_a_feed_is_refused() -> None:
    with pytest.raises(AdapterError, match="not an RSS or Atom feed"):
        RSS.parse("<html><body><p>Just a page <b>unclosed", "https://swap.example/")


RECIPE_SELECTORS = {
    "item": "div.ad",
    "title": ".ad-title a",
    "price": ".ad-price",
    "url": ".ad-title a@href",
    "image": "img.thumb@src",
    "location": ".where",
    "time": "time@datetime",
}


def test_recipe_extracts_each_item() -> None:
    recipe = validate_recipe(RECIPE_SELECTORS)
    listings = apply_recipe(recipe, page("classifieds-recipe.html"), "https://town.example/furniture")
    assert [(x.title, x.price, x.location, x.url) for x in listings] == [
        ("Oak dining table, 6 chairs", Decimal("420"), "Springfield", "https://town.example/ads/501-oak-dining-table"),
        ("IKEA Billy bookcase", Decimal("0"), "Shelbyville", "https://town.example/ads/502-ikea-billy"),
        ("Leather sofa", None, None, "https://other.example/ads/503"),
    ]
    assert listings[0].images == ["https://town.example/thumbs/501.jpg"]
    assert listings[0].posted_at == datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
    assert listings[1].posted_at == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert len({x.external_id for x in listings}) == 3


@pytest.mark.parametrize(
    ("selectors", "message"),
    [
        ({"item": "div[", "title": "a"}, "the item selector 'div[' is not valid CSS"),
        ({"item": "div", "title": "a:nth-child("}, "the title selector 'a:nth-child(' is not valid CSS"),
        ({"item": "div", "title": "a", "price": ">>"}, "the price selector '>>' is not valid CSS"),
        ({"item": "div", "title": "a", "url": "a@hr ef"}, "attribute name 'hr ef' is not valid"),
        ({"item": "div@class", "title": "a"}, "picks elements, not an attribute"),
        ({"item": "div"}, "needs the title selector"),
        ({"title": "a"}, "needs the item selector"),
        ({"item": "div", "title": "a", "colour": "b"}, "unknown recipe field(s) colour"),
        ({"item": "div", "title": 3}, "title selector must be text"),
        ({"item": "div", "title": "a" * 301}, "longer than 300 characters"),
        ("div", "a recipe is a set of CSS selectors"),
    ],
)
def test_bad_recipes_are_refused_with_a_clear_message(selectors: object, message: str) -> None:
    with pytest.raises(AdapterError) as error:
        validate_recipe(selectors)
    assert message in error.value.message


def test_attribute_selectors_keep_at_signs_inside_brackets() -> None:
    recipe = validate_recipe({"item": "div", "title": 'a[title="x@y"]', "url": 'a[href*="@"]@href'})
    assert recipe == Recipe(item="div", title='a[title="x@y"]', url='a[href*="@"]@href')


async def test_generic_adapters_search_their_page_url(server: LocalHttpServer, fetcher: Fetcher) -> None:
    serve(server, "/bikes", page("shop-itemlist.html"))
    serve(server, "/guitars.rss", page("feed.rss"), "application/rss+xml")
    serve(server, "/furniture", page("classifieds-recipe.html"))
    assert len(await JSONLD.search(SearchQuery(options={"url": server.url("/bikes")}), fetcher.fetch)) == 3
    assert len(await RSS.search(SearchQuery(options={"url": server.url("/guitars.rss")}), fetcher.fetch)) == 3
    query = SearchQuery(options={"url": server.url("/furniture"), "recipe": RECIPE_SELECTORS})
    found = await RECIPE.search(query, fetcher.fetch)
    assert found[0].url == server.url("/ads/501-oak-dining-table")
    broken = SearchQuery(options={"url": server.url("/furniture"), "recipe": {**RECIPE_SELECTORS, "item": ".gone"}})
    with pytest.raises(AdapterError, match="matched nothing"):
        await RECIPE.search(broken, fetcher.fetch)
    with pytest.raises(AdapterError, match="needs the page's address"):
        await JSONLD.search(SearchQuery(options={"url": "ftp://x"}), fetcher.fetch)
