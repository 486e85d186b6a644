"""Results of an unexpected shape (a number where text was, a list for an object) never crash a parser.

An odd result is skipped and the others kept; when there were results but none could be read, the
adapter says the format may have changed (an AdapterError the user sees), never a TypeError.
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from typing import Any

import pytest

from spyglass.market.adapters.base import AdapterError, ScrapedListing
from spyglass.market.adapters.extract import parse_page
from spyglass.market.adapters.offerup import ADAPTER as OFFERUP
from spyglass.market.adapters.parsing import read_each
from spyglass.market.adapters.registry import get_adapter
from tests.market.adapters.conftest import captured, page

ODD_VALUES: list[Any] = [None, 0, -1, 1e308, 10**30, "", "x", "$", [], {}, [1, 2], {"a": 1}, True]
PAGES = {
    "offerup": "offerup-search.html", "mercari": "mercari-search.html", "ksl": "ksl-search.html",
    "poshmark": "poshmark-search.html", "jsonld": "shop-itemlist.html", "craigslist": "craigslist-static.html",
    "ebay": "ebay-browse.json",
}  # fmt: skip
_SCRIPT_JSON = re.compile(r"(<script[^>]*>\s*(?:window\.__INITIAL_STATE__ = )?)(\{.*?\})(;?\s*</script>)", re.S)


def mutate(value: Any, rng: random.Random) -> Any:
    """``value`` with some nested values replaced by odd ones."""
    if isinstance(value, dict):
        return {k: rng.choice(ODD_VALUES) if rng.random() < 0.3 else mutate(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [rng.choice(ODD_VALUES) if rng.random() < 0.1 else mutate(v, rng) for v in value]
    return value


def mutated_page(text: str, seed: int, *, is_json: bool) -> str:
    rng = random.Random(seed)
    if is_json:
        return json.dumps(mutate(json.loads(text), rng))

    def replace(match: re.Match[str]) -> str:
        try:
            data = json.loads(match.group(2))
        except ValueError:
            return match.group(0)
        return match.group(1) + json.dumps(mutate(data, rng)) + match.group(3)

    return _SCRIPT_JSON.sub(replace, text)


@pytest.mark.parametrize("adapter_name", [*sorted(PAGES), "craigslist sapi", "facebook"])
def test_odd_values_give_listings_or_an_adapter_error(adapter_name: str) -> None:
    if adapter_name == "facebook":
        text, is_json = captured("facebook/search-boston-2023.html"), False
    elif adapter_name == "craigslist sapi":
        text, is_json = page("craigslist-sapi.json"), True
    else:
        name = PAGES[adapter_name]
        text, is_json = page(name), name.endswith(".json")
    adapter = get_adapter(adapter_name.split()[0])
    read = refused = 0
    for seed in range(40):
        try:
            listings = parse_page(adapter, mutated_page(text, seed, is_json=is_json), "https://x.example/search")
        except AdapterError as error:
            assert error.message
            refused += 1
            continue
        read += 1
        assert all(listing.title and listing.external_id and listing.url for listing in listings)
        assert all(listing.price is None or isinstance(listing.price, Decimal) for listing in listings)
    assert read > 0  # most pages still give listings


def test_results_without_text_where_text_belongs_are_skipped() -> None:
    good = {"listingId": "good-1", "title": "Desk lamp", "price": "15", "locationName": "Mesa, AZ"}
    odd = {"listingId": "odd-1", "title": ["Chair"], "price": "20"}  # a list where the title belongs
    odd_place = {"listingId": "odd-2", "title": "Sofa", "price": {"amount": 5}, "locationName": {"city": "Mesa"}}
    data = {"props": {"pageProps": {"looseTiles": [{"listing": tile} for tile in (good, odd, odd_place)]}}}
    html = f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>'
    listings = OFFERUP.parse(html, "https://offerup.com/search")
    assert [(x.external_id, x.title, x.price, x.location) for x in listings] == [
        ("good-1", "Desk lamp", Decimal("15"), "Mesa, AZ"),
        ("odd-2", "Sofa", None, None),
    ]


def test_read_each_skips_what_cannot_be_read_and_says_when_nothing_could() -> None:
    def convert(value: object) -> ScrapedListing:
        return ScrapedListing("x", str(int(value)), f"https://x.example/{value}", f"item {value}")  # type: ignore[call-overload]

    assert [x.external_id for x in read_each(["1", "two", "3", "1"], convert, site="Test")] == ["1", "3"]
    assert read_each([], convert, site="Test") == []
    with pytest.raises(
        AdapterError, match="none of the 2 Test results could be read; the data format may have changed"
    ):
        read_each(["one", None], convert, site="Test")
