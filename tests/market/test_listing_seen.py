"""Opening a listing's page marks the reader's own matches of it seen, never another user's."""

from __future__ import annotations

from litestar import Litestar
from sqlalchemy import select

from spyglass.core.services import Services
from spyglass.market import service
from spyglass.market.models import ListingMatch
from tests.market.helpers import execute_search, listings_by_sku, search_body
from tests.market.shop import Product, Shop
from tests.support.client import app_client
from tests.support.factories import DEFAULT_PASSWORD, create_user
from tests.support.web import login


async def seen_by_user(services: Services, listing_id: int) -> dict[int, list[bool]]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(ListingMatch.user_id, ListingMatch.seen)
            .where(ListingMatch.listing_id == listing_id)
            .order_by(ListingMatch.user_id, ListingMatch.search_id)
        )
        found: dict[int, list[bool]] = {}
        for user_id, seen in rows.all():
            found.setdefault(user_id, []).append(seen)
        return found


async def test_opening_a_listing_marks_only_the_readers_matches_seen(
    app: Litestar, services: Services, shop: Shop
) -> None:
    url = shop.serve("/lenses", [Product("l1", "Canon 50mm lens", "120.00"), Product("l2", "Nikon 35mm lens", "90.00")])
    alice = await create_user(services, username="alice")
    bob = await create_user(services, username="bob")
    await create_user(services, username="carol")
    searches = []
    for user, name in ((alice, "Lenses"), (alice, "Canon"), (bob, "Bob's lenses")):
        spec = service.parse_search(search_body(url, name=name, keywords="lens"), settings=services.settings)
        async with services.db.session(write=True) as session:
            search = await service.create_search(session, user_id=user.id, spec=spec, settings=services.settings)
            searches.append((search.id, user.id))
    for search_id, user_id in searches:
        await execute_search(services, search_id, user_id)
    lens = (await listings_by_sku(services))["l1"]
    other = (await listings_by_sku(services))["l2"]
    assert await seen_by_user(services, lens.id) == {alice.id: [False, False], bob.id: [False]}

    async with app_client(app) as intruder, app_client(app) as reader:
        await login(intruder, "carol", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        assert (await intruder.get(f"/market/listings/{lens.id}")).status_code == 404
        assert await seen_by_user(services, lens.id) == {alice.id: [False, False], bob.id: [False]}

        await login(reader, "alice", DEFAULT_PASSWORD)  # type: ignore[arg-type]
        page = await reader.get(f"/market/listings/{lens.id}")
        assert page.status_code == 200 and "Canon 50mm lens" in page.text
        # Both of Alice's searches matched it: both seen. Bob's match and Alice's other listing are untouched.
        assert await seen_by_user(services, lens.id) == {alice.id: [True, True], bob.id: [False]}
        assert await seen_by_user(services, other.id) == {alice.id: [False, False], bob.id: [False]}
        assert (await reader.get(f"/market/listings/{lens.id}")).status_code == 200  # already seen: still fine
