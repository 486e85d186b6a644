"""The market's cached views are split in two areas (market.listing_params): a write forgets only the pages
that show what it changed, and every page that shows it answers afresh on the user's very next read.

Each test warms every cached market read of the user (pages and JSON API), makes one kind of write, then reads
everything again: what shows the change is fresh and shows it; what does not is still answered from the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar

from spyglass.core.services import Services
from spyglass.core.view_cache import VIEWS
from spyglass.market import service
from spyglass.market.models import Listing
from tests.market.helpers import execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.factories import create_user
from tests.support.web import post_form, send_json, signed_in_client


@dataclass
class Alice:
    """A signed-in user with one search ("Lenses") that has run once and found two listings."""

    client: httpx.AsyncClient
    services: Services
    shop: Shop
    url: str
    user_id: int
    search_id: int
    lens: Listing
    other: Listing

    def searches_reads(self) -> list[str]:
        return ["/api/v1/market/searches", f"/api/v1/market/searches/{self.search_id}", "/market/searches"]

    def listings_reads(self) -> list[str]:
        return [
            "/api/v1/market/listings",
            "/market/listings",
            f"/api/v1/market/listings/{self.lens.id}",
            f"/market/listings/{self.lens.id}",
            "/api/v1/market/favorites",
            "/market/favorites",
            "/api/v1/market/price-alerts",
            "/api/v1/market/alerts",
            "/market/alerts",
            f"/api/v1/market/searches/{self.search_id}/stats",
        ]

    def hits(self) -> int:
        return self.services.cache.stats[VIEWS].hits

    async def read(self, path: str) -> tuple[httpx.Response, bool]:
        """The answer to ``path`` and whether the view cache gave it."""
        before = self.hits()
        answer = await self.client.get(path)
        return answer, self.hits() == before + 1

    async def json(self, path: str) -> Any:
        answer, _ = await self.read(path)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def page(self, path: str) -> str:
        answer, _ = await self.read(path)
        assert answer.status_code == 200, answer.text
        return answer.text

    async def warm(self, paths: list[str]) -> None:
        """Read ``paths`` until the cache answers them all (the first read of a listing page marks the listing
        seen, which forgets the listing views read before it)."""
        for _ in range(3):
            if await self.cached(paths) == paths:
                return
        raise AssertionError("the view cache does not answer these reads")

    async def cached(self, paths: list[str]) -> list[str]:
        """Which of ``paths`` the cache answers now."""
        return [path for path in paths if (await self.read(path))[1]]

    async def write(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await send_json(self.client, method, path, body)

    async def form(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        answer = await post_form(self.client, path, data)
        assert answer.status_code == 303, answer.text
        await self.client.get(answer.headers["location"])  # shows (and consumes) the flash, as a browser does
        return answer


@pytest.fixture
async def alice(app: Litestar, services: Services, shop: Shop) -> AsyncIterator[Alice]:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00"), Product("l2", "Nikon 35mm lens", "90.00")])
    user = await create_user(services, username="alice")
    spec = service.parse_search(search_body(url, name="Lenses", keywords="lens"), settings=services.settings)
    async with services.db.session(write=True) as session:
        search = await service.create_search(session, user_id=user.id, spec=spec, settings=services.settings)
        search_id = search.id
    await execute_search(services, search_id, user.id)
    found = await listings_by_sku(services)
    async for client in signed_in_client(app, user):
        yield Alice(client, services, shop, url, user.id, search_id, found["l1"], found["l2"])


def _search_form(alice: Alice, **fields: str) -> dict[str, Any]:
    values = {
        "name": "Lenses",
        "keywords": "lens",
        "marketplaces": "jsonld",
        "options": json.dumps({"jsonld": {"url": alice.url}}),
        "interval_minutes": "10",
        "alert_mode": "instant",
        "enabled": "on",
    }
    return {**values, **fields}


async def test_editing_a_searchs_keywords_and_price_keeps_the_listing_views(alice: Alice) -> None:
    """The load test's write: the same name, new keywords and price. Only the searches' views are forgotten."""
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    body = search_body(alice.url, name="Lenses", keywords="lens NOT broken", price_max="500", interval_seconds=3600)
    assert (await alice.write("PUT", f"/api/v1/market/searches/{alice.search_id}", body)).status_code == 200

    assert await alice.cached(alice.searches_reads()) == []
    assert await alice.cached(alice.listings_reads()) == alice.listings_reads()
    edited = await alice.json(f"/api/v1/market/searches/{alice.search_id}")
    assert (edited["keywords"], edited["price_max"], edited["interval_seconds"]) == ("lens NOT broken", "500.00", 3600)
    assert (await alice.json("/api/v1/market/searches"))["items"][0]["keywords"] == "lens NOT broken"
    assert "lens NOT broken" in await alice.page("/market/searches")

    # The editor form does the same.
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    await alice.form(f"/market/searches/{alice.search_id}", _search_form(alice, keywords="lens NOT cracked"))
    assert await alice.cached(alice.listings_reads()) == alice.listings_reads()
    assert "lens NOT cracked" in await alice.page("/market/searches")


@pytest.mark.parametrize("via", ["api", "form"])
async def test_renaming_a_search_shows_on_every_page_that_names_it(alice: Alice, via: str) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    assert "Lenses" in await alice.page("/market/listings")  # the filter menu
    if via == "api":
        body = search_body(alice.url, name="Fast primes", keywords="lens")
        assert (await alice.write("PUT", f"/api/v1/market/searches/{alice.search_id}", body)).status_code == 200
    else:
        await alice.form(f"/market/searches/{alice.search_id}", _search_form(alice, name="Fast primes"))

    listings_page = await alice.page("/market/listings")
    assert "Fast primes" in listings_page and ">Lenses<" not in listings_page
    detail = await alice.json(f"/api/v1/market/listings/{alice.lens.id}")
    assert detail["searches"] == [{"id": alice.search_id, "name": "Fast primes"}]
    listing_page = await alice.page(f"/market/listings/{alice.lens.id}")
    assert f'search={alice.search_id}">Fast primes</a>' in listing_page
    assert (await alice.json("/api/v1/market/searches"))["items"][0]["name"] == "Fast primes"
    assert "Fast primes" in await alice.page("/market/searches")


@pytest.mark.parametrize("via", ["api", "form"])
async def test_deleting_a_search_removes_its_listings_from_every_page(alice: Alice, via: str) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    if via == "api":
        assert (await alice.write("DELETE", f"/api/v1/market/searches/{alice.search_id}")).status_code == 204
    else:
        await alice.form(f"/market/searches/{alice.search_id}/delete")

    assert (await alice.json("/api/v1/market/listings"))["total"] == 0
    assert "Canon 50mm lens" not in (listings_page := await alice.page("/market/listings"))
    assert "Lenses" not in listings_page
    lens, search = alice.lens.id, alice.search_id
    for gone in (f"/api/v1/market/listings/{lens}", f"/market/listings/{lens}",
                 f"/api/v1/market/searches/{search}", f"/api/v1/market/searches/{search}/stats"):  # fmt: skip
        assert (await alice.read(gone))[0].status_code == 404, gone
    assert (await alice.json("/api/v1/market/searches"))["total"] == 0
    assert [alert["search_id"] for alert in (await alice.json("/api/v1/market/alerts"))["items"]] == [None]


@pytest.mark.parametrize("via", ["api", "form"])
async def test_a_favorite_and_its_note_show_at_once_and_keep_the_searches_views(alice: Alice, via: str) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    lens = alice.lens.id
    if via == "api":
        saved = await alice.write("POST", "/api/v1/market/favorites", {"listing_id": lens, "note": "mint"})
        assert saved.status_code == 201
        favorite_id = saved.json()["id"]
    else:
        await alice.form(f"/market/listings/{lens}/favorite", {"note": "mint"})
        favorite_id = (await alice.json("/api/v1/market/favorites"))["items"][0]["id"]
    assert await alice.cached(alice.searches_reads()) == alice.searches_reads()
    assert [item["note"] for item in (await alice.json("/api/v1/market/favorites"))["items"]] == ["mint"]
    assert (await alice.json(f"/api/v1/market/listings/{lens}"))["favorite"]["note"] == "mint"
    assert "In your favorites" in await alice.page(f"/market/listings/{lens}")
    assert "Canon 50mm lens" in await alice.page("/market/favorites")

    await alice.warm(alice.listings_reads())
    if via == "api":
        patched = await alice.write("PATCH", f"/api/v1/market/favorites/{favorite_id}", {"note": "boxed"})
        assert patched.status_code == 200
    else:
        await alice.form(f"/market/favorites/{favorite_id}", {"note": "boxed"})
    assert (await alice.json(f"/api/v1/market/listings/{lens}"))["favorite"]["note"] == "boxed"
    assert ">boxed</textarea>" in await alice.page("/market/favorites")
    assert ">boxed</textarea>" in await alice.page(f"/market/listings/{lens}")

    await alice.warm(alice.listings_reads())
    if via == "api":
        assert (await alice.write("DELETE", f"/api/v1/market/favorites/{favorite_id}")).status_code == 204
    else:
        await alice.form(f"/market/favorites/{favorite_id}/delete")
    assert (await alice.json("/api/v1/market/favorites"))["total"] == 0
    assert (await alice.json(f"/api/v1/market/listings/{lens}"))["favorite"] is None
    assert "Add to favorites" in await alice.page(f"/market/listings/{lens}")
    assert "Canon 50mm lens" not in await alice.page("/market/favorites")


@pytest.mark.parametrize("via", ["api", "form"])
async def test_a_price_alert_shows_at_once_where_it_is_listed(alice: Alice, via: str) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    lens = alice.lens.id
    if via == "api":
        saved = await alice.write("POST", "/api/v1/market/price-alerts", {"listing_id": lens, "target_price": "99"})
        assert saved.status_code == 201
    else:
        await alice.form(f"/market/listings/{lens}/price-alert", {"target_price": "99"})
    watching = (await alice.json("/api/v1/market/price-alerts"))["items"]
    assert [(item["listing_id"], item["target_price"]) for item in watching] == [(lens, "99.00")]
    alert_id = watching[0]["id"]
    assert (await alice.json(f"/api/v1/market/listings/{lens}"))["price_alert"]["target_price"] == "99.00"
    assert "Update alert" in await alice.page(f"/market/listings/{lens}")
    assert f'id="price-alert-{alert_id}"' in await alice.page("/market/alerts")
    assert await alice.cached(alice.searches_reads()) == alice.searches_reads()

    await alice.warm(alice.listings_reads())
    if via == "api":
        assert (await alice.write("DELETE", f"/api/v1/market/price-alerts/{alert_id}")).status_code == 204
    else:
        await alice.form(f"/market/price-alerts/{alert_id}/delete")
    assert (await alice.json("/api/v1/market/price-alerts"))["total"] == 0
    assert (await alice.json(f"/api/v1/market/listings/{lens}"))["price_alert"] is None
    assert "Set alert" in await alice.page(f"/market/listings/{lens}")
    assert f'id="price-alert-{alert_id}"' not in await alice.page("/market/alerts")


def _new_badges(page: str) -> int:
    return len(re.findall(r'<span class="badge badge-info">new</span>', page))


@pytest.mark.parametrize("via", ["api", "form", "opening the page"])
async def test_marking_a_listing_seen_removes_its_new_badge_everywhere(alice: Alice, via: str) -> None:
    listings = "/api/v1/market/listings"
    await alice.warm(
        [*alice.searches_reads(), listings, "/market/listings", f"/api/v1/market/listings/{alice.other.id}"]
    )
    assert {item["id"]: item["seen"] for item in (await alice.json(listings))["items"]} == {
        alice.lens.id: False,
        alice.other.id: False,
    }
    assert _new_badges(await alice.page("/market/listings")) == 2
    if via == "api":
        marked = await alice.write("POST", f"/api/v1/market/listings/{alice.lens.id}/seen")
        assert marked.status_code == 200
    elif via == "form":
        await alice.form(f"/market/listings/{alice.lens.id}/seen")
    else:
        assert "Mark as seen" in (await alice.client.get(f"/market/listings/{alice.lens.id}")).text
    assert {item["id"]: item["seen"] for item in (await alice.json(listings))["items"]} == {
        alice.lens.id: True,
        alice.other.id: False,
    }
    assert _new_badges(await alice.page("/market/listings")) == 1
    assert "Mark as seen" not in await alice.page(f"/market/listings/{alice.lens.id}")
    assert await alice.cached(alice.searches_reads()) == alice.searches_reads()


@pytest.mark.parametrize("via", ["api", "form"])
async def test_reading_the_alerts_shows_on_the_alerts_and_the_unread_count(alice: Alice, via: str) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    assert "1 unread alert" in await alice.page("/market/searches")  # the run's new-listing alert
    assert [item["read_at"] for item in (await alice.json("/api/v1/market/alerts"))["items"]] == [None]
    if via == "api":
        assert (await alice.write("POST", "/api/v1/market/alerts/read")).json() == {"marked": 1}
    else:
        await alice.form("/market/alerts/read")
    assert (await alice.json("/api/v1/market/alerts"))["items"][0]["read_at"] is not None
    assert 'class="unread"' not in await alice.page("/market/alerts")
    assert "unread alert" not in await alice.page("/market/searches")


async def test_a_finished_run_shows_its_listings_prices_and_status_on_every_page(alice: Alice) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    before = await alice.json(f"/api/v1/market/searches/{alice.search_id}")
    alice.shop.serve(
        "/lenses",
        [
            Product("l1", "Canon 50mm lens", "99.00"),
            Product("l2", "Nikon 35mm lens", "90.00"),
            Product("l3", "Sigma 24mm lens", "300.00"),
        ],
    )
    run = await execute_search(alice.services, alice.search_id, alice.user_id)
    assert run.status == "succeeded"

    assert (await alice.json("/api/v1/market/listings"))["total"] == 3
    assert "Sigma 24mm lens" in await alice.page("/market/listings")
    assert (await alice.json(f"/api/v1/market/listings/{alice.lens.id}"))["price"] == "99.00"
    assert "$99.00" in await alice.page(f"/market/listings/{alice.lens.id}")
    assert (await alice.json(f"/api/v1/market/searches/{alice.search_id}/stats"))["count"] == 3
    after = await alice.json(f"/api/v1/market/searches/{alice.search_id}")
    assert after["last_run_id"] == run.id != before["last_run_id"]
    assert (await alice.json("/api/v1/market/searches"))["items"][0]["last_run_id"] == run.id
    assert "2 unread alerts" in await alice.page("/market/searches")


async def test_starting_and_stopping_a_search_keep_the_listing_views(alice: Alice) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    stopped = await alice.write("POST", f"/api/v1/market/searches/{alice.search_id}/stop")
    assert stopped.status_code == 200
    assert (await alice.json(f"/api/v1/market/searches/{alice.search_id}"))["enabled"] is False
    assert (await alice.json("/api/v1/market/searches"))["items"][0]["next_run_at"] is None
    assert ">stopped</span>" in await alice.page("/market/searches")
    assert await alice.cached(alice.listings_reads()) == alice.listings_reads()

    await alice.form("/market/searches/start-all")
    assert (await alice.json(f"/api/v1/market/searches/{alice.search_id}"))["enabled"] is True
    assert ">active</span>" in await alice.page("/market/searches")
    assert await alice.cached(alice.listings_reads()) == alice.listings_reads()


async def test_a_new_search_shows_in_the_listing_filter_menu(alice: Alice) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    body = search_body(alice.url, name="Telephotos", keywords="lens", enabled=False)
    created = await alice.write("POST", "/api/v1/market/searches", body)
    assert created.status_code == 201
    assert f'<option value="{created.json()["id"]}">Telephotos</option>' in await alice.page("/market/listings")
    assert (await alice.json("/api/v1/market/searches"))["total"] == 2


async def test_a_preview_forgets_nothing(alice: Alice) -> None:
    await alice.warm(alice.searches_reads() + alice.listings_reads())
    previewed = await alice.write("POST", "/api/v1/market/preview", search_body(alice.url, keywords="lens"))
    assert previewed.status_code == 200 and previewed.json()["kept"] == 2
    everything = alice.searches_reads() + alice.listings_reads()
    assert await alice.cached(everything) == everything
