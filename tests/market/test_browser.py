"""The market pages in chromium: create a search with the editor (a mistake first, then the live preview),
see its listings after a run, open a listing, favorite it with a note, set a price alert, read the alerts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from spyglass.engine.models import RunStatus
from tests.browser.helpers import sign_in, url_of
from tests.market.helpers import execute_search
from tests.market.shop import Product, Shop
from tests.support.factories import create_user
from tests.support.live_server import LiveServer, LiveServerFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def market_server(live_server_factory: LiveServerFactory) -> LiveServer:
    return live_server_factory(allow_private_targets="127.0.0.1/32,localhost", http_per_host_delay_seconds=0)


def test_market_journey(page: Page, market_server: LiveServer, shop: Shop) -> None:
    base = market_server.url
    user = market_server.call(lambda: create_user(market_server.services, username="ann"))
    url = shop.serve(
        "/synths",
        [
            Product("s1", "Korg Minilogue synthesizer", "420.00", "Polyphonic analogue"),
            Product("s2", "Roland Juno-106 synthesizer", "1400.00"),
            Product("s3", "Synthesizer stand", "35.00"),
        ],
    )
    sign_in(page, base, "ann")
    page.goto(base + "/market/searches")
    expect(page.get_by_role("heading", level=1)).to_have_text("Saved searches")
    page.get_by_role("link", name="New search").click()
    expect(page).to_have_url(url_of(base, "/market/searches/new"))

    page.get_by_label("Name").fill("Synths")
    page.get_by_label("Any page with structured data").check()
    page.get_by_label("Keywords").fill("synthesizer NOT stand")
    page.get_by_label("Minimum price").fill("2000")
    page.get_by_label("Maximum price").fill("1500")
    page.get_by_label("Marketplace options (JSON)").fill(f'{{"jsonld": {{"url": "{url}"}}}}')
    page.get_by_role("button", name="Save search").click()
    maximum = page.get_by_label("Maximum price")
    expect(maximum).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.locator("#field-price_max-error")).to_have_text("The maximum price is below the minimum price.")
    expect(page.get_by_label("Name")).to_have_value("Synths")

    page.get_by_label("Minimum price").fill("")
    page.get_by_role("button", name="Preview results").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("2 of 3 listings match. Nothing was saved.")
    expect(preview.get_by_role("link", name="Korg Minilogue synthesizer")).to_be_visible()

    page.get_by_role("button", name="Save search").click()
    expect(page).to_have_url(url_of(base, "/market/searches"))
    expect(page.locator(".flash-success")).to_contain_text("Search “Synths” saved.")
    row = page.locator("tr", has_text="Synths")
    expect(row.get_by_role("button", name="Stop Synths")).to_be_visible()

    search_id = int((row.get_attribute("id") or "").removeprefix("search-"))
    run = market_server.call(lambda: execute_search(market_server.services, search_id, user.id))
    assert run.status == RunStatus.SUCCEEDED.value, run.error

    page.get_by_role("navigation", name="Market").get_by_role("link", name="Listings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Listings")
    page.get_by_label("Sort by").select_option("price_desc")
    page.get_by_role("button", name="Apply").click()
    titles = page.locator("table.listings tbody tr td:first-child a")
    expect(titles).to_have_text(["Roland Juno-106 synthesizer", "Korg Minilogue synthesizer"])

    titles.nth(1).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Korg Minilogue synthesizer")
    expect(page.get_by_role("heading", name="Price history")).to_be_visible()
    page.get_by_label("Note").fill("Check the keybed")
    page.get_by_role("button", name="Add to favorites").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved to your favorites.")
    page.get_by_label("Alert at or below price").fill("380")
    page.get_by_role("button", name="Set alert").click()
    expect(page.locator(".flash-success")).to_contain_text("Price alert saved.")

    page.get_by_role("navigation", name="Market").get_by_role("link", name="Favorites").click()
    expect(page.get_by_label("Note")).to_have_value("Check the keybed")

    shop.pages["/synths"][0] = Product("s1", "Korg Minilogue synthesizer", "370.00", "Polyphonic analogue")
    market_server.call(lambda: execute_search(market_server.services, search_id, user.id))
    page.get_by_role("navigation", name="Market").get_by_role("link", name="Alerts").click()
    expect(
        page.get_by_role("link", name="“Korg Minilogue synthesizer” dropped from $420.00 to $370.00")
    ).to_be_visible()
    expect(page.get_by_role("link", name="2 new listings for “Synths”")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".flash-success")).to_contain_text("Marked 2 alerts read.")

    page.get_by_role("link", name="“Korg Minilogue synthesizer” dropped from $420.00 to $370.00").click()
    expect(page.locator("svg.price-chart")).to_be_visible()
    expect(page.locator("svg.price-chart title")).to_contain_text("$420.00 to $370.00")
