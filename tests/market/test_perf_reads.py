"""The market's computed read answers stay cheap (a fixed, small number of statements each, whatever the page
size) and answer exactly as before: totals past the last page, the listing's visibility, searches and deal
score, the pages' money and dates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import event

from spyglass.accounts.models import User
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.market.models import Favorite, Listing, ListingMatch, SavedSearch
from spyglass.web.templating import format_money, format_when
from tests.market.helpers import bearer, market_settings
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # No view cache: every request below is computed, which is what these tests count.
    return market_settings(tmp_path, database_url, cache_ttl_views=0)


@contextmanager
def market_selects(services: Services) -> Iterator[list[str]]:
    """The SELECT statements on market tables sent while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "market_" in statement:
            sent.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _search(services: Services, user: User, name: str) -> int:
    async with services.db.session(write=True) as session:
        search = SavedSearch(user_id=user.id, name=name, marketplaces=["ebay"], keywords="bike", interval_seconds=600)
        session.add(search)
        await session.flush()
        return search.id


async def _listings(services: Services, count: int, **values: Any) -> list[int]:
    async with services.db.session(write=True) as session:
        listings = [
            Listing(
                marketplace="ebay",
                external_id=f"{values.get('prefix', 'x')}-{n}",
                url=f"https://www.ebay.com/itm/{n}",
                title=f"Road bike {n}",
                price=Decimal(100 + n),
                currency="USD",
            )
            for n in range(count)
        ]
        session.add_all(listings)
        await session.flush()
        return [listing.id for listing in listings]


async def _match(services: Services, user: User, search_id: int, listing_ids: list[int], **values: Any) -> None:
    start = utcnow() - timedelta(hours=len(listing_ids))
    async with services.db.session(write=True) as session:
        session.add_all(
            ListingMatch(
                user_id=user.id,
                search_id=search_id,
                listing_id=listing_id,
                first_matched_at=start + timedelta(minutes=n),
                **values,
            )
            for n, listing_id in enumerate(listing_ids)
        )


async def test_a_listings_page_is_one_statement_and_its_total_survives_the_last_page(
    app: Litestar, services: Services
) -> None:
    alice = await create_user(services)
    search_id = await _search(services, alice, "Road bikes")
    await _match(services, alice, search_id, await _listings(services, 45))
    async with app_client(app) as client:
        client.headers.update(await bearer(services, alice))
        await client.get("/api/v1/me")  # the user's first read loads them into the cache
        for size in (5, 40):
            with market_selects(services) as sent:
                answer = await client.get("/api/v1/market/listings", params={"size": size, "page": 2})
            assert answer.status_code == 200
            assert (len(answer.json()["items"]), answer.json()["total"]) == (min(size, 45 - size), 45)
            assert len(sent) == 1, sent  # the rows carry the total: no count of its own
        with market_selects(services) as sent:
            past = (await client.get("/api/v1/market/listings", params={"size": 20, "page": 9})).json()
        assert past == {"items": [], "page": 9, "size": 20, "total": 45, "pages": 3}
        assert len(sent) == 2  # an empty page past the end counts separately
        nothing = (await client.get("/api/v1/market/listings", params={"marketplace": "kijiji", "size": 20})).json()
        assert nothing == {"items": [], "page": 1, "size": 20, "total": 0, "pages": 1}


async def test_a_listing_is_two_statements_and_shows_only_what_is_the_users(app: Litestar, services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    bikes = await _search(services, alice, "Bikes")
    cheap = await _search(services, alice, "Cheap bikes")
    listing_id, favorite_id, other_id = await _listings(services, 3)
    await _match(services, alice, bikes, [listing_id], deal_percent=4.0)
    await _match(services, alice, cheap, [listing_id], deal_percent=21.6, seen=True)
    async with services.db.session(write=True) as session:
        session.add(Favorite(user_id=alice.id, listing_id=favorite_id, note="kept"))
    async with app_client(app) as client:
        client.headers.update(await bearer(services, alice))
        await client.get("/api/v1/me")
        with market_selects(services) as sent:
            answer = (await client.get(f"/api/v1/market/listings/{listing_id}")).json()
        assert len(sent) == 2  # the listing with the user's matches, favorite and alert; its price history
        # Both searches, in the order they matched; the best deal of the two.
        assert answer["searches"] == [{"id": bikes, "name": "Bikes"}, {"id": cheap, "name": "Cheap bikes"}]
        assert (answer["deal_percent"], answer["deal"]) == (21.6, "22% below market")
        assert answer["favorite"] is None and answer["price_alert"] is None
        # A favorite with no match (its search was deleted) is still the user's.
        kept = (await client.get(f"/api/v1/market/listings/{favorite_id}")).json()
        assert kept["searches"] == [] and kept["favorite"]["note"] == "kept" and kept["deal"] is None
        # Neither matched nor favorited: not theirs.
        assert (await client.get(f"/api/v1/market/listings/{other_id}")).status_code == 404
        client.headers.update(await bearer(services, bob))
        for someone_elses in (listing_id, favorite_id):
            assert (await client.get(f"/api/v1/market/listings/{someone_elses}")).status_code == 404


async def test_the_listing_page_shows_the_searches_and_marks_the_listing_seen(
    app: Litestar, services: Services
) -> None:
    alice = await create_user(services)
    bikes = await _search(services, alice, "Bikes <& more>")
    (listing_id,) = await _listings(services, 1)
    await _match(services, alice, bikes, [listing_id], deal_percent=-7.2)
    async with app_client(app, follow_redirects=False) as client:
        await login(client, alice.username, DEFAULT_PASSWORD)
        page = await client.get(f"/market/listings/{listing_id}")
        assert page.status_code == 200
        assert f'<a href="/market/listings?search={bikes}">Bikes &lt;&amp; more&gt;</a>' in page.text
        assert "7% above market" in page.text and "Mark as seen" in page.text
        again = await client.get(f"/market/listings/{listing_id}")  # the first visit marked it seen
        assert "Mark as seen" not in again.text


async def test_searches_are_one_statement_with_their_next_runs(app: Litestar, services: Services) -> None:
    alice = await create_user(services)
    async with app_client(app) as client:
        client.headers.update(await bearer(services, alice))
        body = {"name": "Bikes", "marketplaces": ["ebay"], "keywords": "bike", "interval_seconds": 3600}
        running = (await client.post("/api/v1/market/searches", json=body)).json()
        stopped = (await client.post("/api/v1/market/searches", json={**body, "enabled": False})).json()
        with market_selects(services) as sent:
            listed = (await client.get("/api/v1/market/searches", params={"size": 1})).json()
        assert len(sent) == 1
        assert [item["id"] for item in listed["items"]] == [stopped["id"]] and listed["total"] == 2
        assert listed["items"][0]["next_run_at"] is None
        second = (await client.get("/api/v1/market/searches", params={"size": 1, "page": 2})).json()
        assert [item["id"] for item in second["items"]] == [running["id"]]
        alone = (await client.get(f"/api/v1/market/searches/{running['id']}")).json()
        assert second["items"][0]["next_run_at"] == alone["next_run_at"] is not None
        past = (await client.get("/api/v1/market/searches", params={"size": 1, "page": 3})).json()
        assert (past["items"], past["total"]) == ([], 2)


def test_money_and_dates_are_formatted_and_escaped() -> None:
    assert format_money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_money(Decimal("80"), None) == "$80.00"
    assert format_money(Decimal("99.999"), "EUR") == "100.00 EUR"
    assert format_money(Decimal("5"), "<b>") == "5.00 &lt;b&gt;"
    assert format_money(None, "USD") == '<span class="muted">no price</span>'
    moment = datetime(2026, 12, 2, 14, 5, 9, tzinfo=UTC)
    assert format_when(moment) == '<time datetime="2026-12-02T14:05:09+00:00">2026-12-02 14:05 UTC</time>'
    assert format_when(None) == '<span class="muted">never</span>'
    assert format_when(None, "<soon>") == '<span class="muted">&lt;soon&gt;</span>'
