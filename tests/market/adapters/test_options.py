"""Adapter options of a saved search: checked before saving, with messages naming the option."""

from __future__ import annotations

import pytest

from spyglass.market.adapters.base import AdapterError
from spyglass.market.adapters.options import OPTIONS, validate_options
from spyglass.market.adapters.registry import all_adapters

RECIPE = {"item": "div.ad", "title": "h3 a", "url": "h3 a@href"}


def test_every_adapter_has_an_options_entry() -> None:
    assert sorted(OPTIONS) == sorted(adapter.name for adapter in all_adapters())


def test_good_options_are_cleaned() -> None:
    assert validate_options("craigslist", {"site": " Boston ", "mode": "sapi", "area_id": "4"}) == {
        "site": "boston", "mode": "sapi", "area_id": 4,
    }  # fmt: skip
    assert validate_options("recipe", {"url": "https://town.example/ads", "recipe": RECIPE}) == {
        "url": "https://town.example/ads", "recipe": RECIPE,
    }  # fmt: skip
    assert validate_options("ksl", None) == {}
    assert validate_options("facebook", {"city": "NYC"}) == {"city": "nyc"}


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("craigslist", {"site": "../etc"}, "the Craigslist site must be a name like 'boston'"),
        ("craigslist", {"area_id": "four"}, "the Craigslist area id must be a positive whole number"),
        ("craigslist", {"area_id": 0}, "the Craigslist area id must be a positive whole number"),
        ("craigslist", {"mode": "json"}, "the Craigslist mode must be one of page, sapi"),
        ("craigslist", {"colour": "red"}, "unknown option(s) colour for craigslist; its options: area_id, areas_url"),
        ("jsonld", {}, "jsonld needs the option(s) url"),
        ("jsonld", {"url": "file:///etc/passwd"}, "the page address must be an http:// or https:// address"),
        ("rss", {"url": "https://a.example/feed rss"}, "the feed address is not a valid address"),
        ("recipe", {"url": "https://a.example/"}, "recipe needs the option(s) recipe"),
        ("recipe", {"url": "https://a.example/", "recipe": {"item": "div[", "title": "a"}}, "is not valid CSS"),
        ("ebay", {"mode": "scrape"}, "the eBay mode must be one of api, html"),
        ("ksl", {"url": "https://a.example/"}, "unknown option(s) url for ksl; its options: none"),
        ("ksl", ["url"], "marketplace options must be a set of names and values"),
        ("amazon", {}, "unknown marketplace 'amazon'"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(name: str, options: object, message: str) -> None:
    with pytest.raises(AdapterError) as error:
        validate_options(name, options)
    assert message in error.value.message
