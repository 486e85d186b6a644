"""Shared parsing helpers: prices, dates, ids, embedded JSON, structured data on the real Craigslist page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spyglass.market.adapters.base import ScrapedListing
from spyglass.market.adapters.parsing import (
    absolute_url,
    embedded_state,
    find_dicts,
    html_tree,
    json_ld,
    parse_datetime,
    parse_price,
    stable_id,
    tidy,
)
from tests.market.adapters.conftest import captured


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("$1,250", None, (Decimal("1250"), "USD")),
        ("1.250,00 €", None, (Decimal("1250.00"), "EUR")),
        ("£40", None, (Decimal("40"), "GBP")),
        ("4500.00", "USD", (Decimal("4500.00"), "USD")),
        (4500, "usd", (Decimal("4500"), "USD")),
        ("Free", None, (Decimal("0"), "USD")),
        ("Contact seller", None, (None, None)),
        ("", "USD", (None, "USD")),
        (None, None, (None, None)),
        (float("nan"), "USD", (None, "USD")),
        (1e308, "USD", (None, "USD")),
        (-5, "USD", (None, "USD")),
        ({"amount": 5}, "USD", (None, "USD")),
    ],
)
def test_parse_price(text: object, hint: str | None, expected: tuple[Decimal | None, str | None]) -> None:
    assert parse_price(text, hint) == expected


def test_parse_datetime_reads_iso_rfc822_and_epochs_as_utc() -> None:
    expected = datetime(2026, 11, 30, 18, 15, tzinfo=UTC)
    assert parse_datetime("2026-11-30T18:15:00Z") == expected
    assert parse_datetime("2026-11-30T19:15:00+01:00") == expected
    assert parse_datetime("Mon, 30 Nov 2026 18:15:00 GMT") == expected
    assert parse_datetime(int(expected.timestamp())) == expected
    assert parse_datetime(int(expected.timestamp()) * 1000) == expected
    assert parse_datetime("2 days ago") is None
    assert parse_datetime("2026-11-30T18:15:00") == expected  # naive means UTC


def test_stable_id_depends_only_on_its_parts() -> None:
    assert stable_id("https://a.example/x") == stable_id("https://a.example/x")
    assert stable_id("https://a.example/x") != stable_id("https://a.example/y")
    assert len(stable_id("a", 1)) == 20


def test_absolute_url_refuses_non_web_links() -> None:
    assert absolute_url("https://a.example/list/", "../item/1") == "https://a.example/item/1"
    assert absolute_url("https://a.example/", "javascript:alert(1)") is None
    assert absolute_url("https://a.example/", "  ") is None


def test_find_dicts_finds_nested_objects_outermost_first() -> None:
    data = {"a": [{"id": 1, "title": "x", "inner": {"id": 2, "title": "y"}}, {"b": {"id": 3, "title": "z"}}]}
    assert [d["id"] for d in find_dicts(data, ("id", "title"))] == [1, 3]


def test_embedded_state_reads_next_data_and_initial_state_assignments() -> None:
    html = (
        '<script id="__NEXT_DATA__" type="application/json">{"props": {"a": 1}}</script>'
        '<script>var x = 1; window.__INITIAL_STATE__ = {"b": [2]}; window.y = {};</script>'
        '<script type="application/json">not json</script>'
    )
    assert embedded_state(html_tree(html)) == [{"props": {"a": 1}}, {"b": [2]}]


def test_json_ld_of_the_real_craigslist_page() -> None:
    objects = json_ld(html_tree(captured("craigslist/search-boston-sss-2023.html")))
    assert [obj["@type"] for obj in objects] == ["SearchResultsPage", "ItemList"]
    assert len(objects[1]["itemListElement"]) == 270


@pytest.mark.parametrize(
    ("latitude", "longitude", "kept"),
    [(42.36, -71.06, True), (float("nan"), 1.0, False), (91.0, 0.0, False), (0.0, 181.0, False), (1.0, None, False)],
)
def test_tidy_keeps_only_coordinates_on_the_globe(latitude: float, longitude: float | None, kept: bool) -> None:
    listing = tidy(ScrapedListing("x", "1", "https://x.example/1", "Lamp", latitude=latitude, longitude=longitude))
    assert (listing.latitude is not None and listing.longitude is not None) is kept
