"""``market_listings.group_id`` is a foreign key (ON DELETE SET NULL): migration 0007 nulls orphans and keeps
every row on both backends, deleting a group's first listing never leaves a dangling id, and listing retention
hands a group to its oldest remaining member."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from spyglass.core.db import create_engine, utcnow
from spyglass.core.migrations import downgrade, upgrade
from spyglass.core.retention import purge_gone_listings
from spyglass.core.services import Services
from spyglass.market.models import Favorite, Listing, ListingStatus
from tests.conftest import make_settings
from tests.core.test_migrations import empty_url  # noqa: F401 - the fixture
from tests.support.factories import create_user

LISTING_COLUMNS = (
    "id, marketplace, external_id, url, title, description, images, first_seen_at, last_seen_at, status, group_id"
)


async def _execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_engine(url)
    results: list[list[tuple[object, ...]]] = []
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append([tuple(row) for row in result.all()] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return results


def _listing_row(listing_id: int, group_id: int | None) -> str:
    group = "NULL" if group_id is None else str(group_id)
    values = (
        f"{listing_id}, 'jsonld', 'x{listing_id}', 'https://shop.example.test/{listing_id}', 'Bike {listing_id}', "
        f"'', '[]', '2026-11-01 10:00:00', '2026-11-01 10:00:00', 'active', {group}"
    )
    return "INSERT INTO market_listings (" + LISTING_COLUMNS + ") VALUES (" + values + ")"  # noqa: S608


async def test_migration_0007_nulls_orphans_keeps_rows_and_adds_the_key(empty_url: str) -> None:  # noqa: F811
    await asyncio.to_thread(upgrade, empty_url, "0006")
    await _execute(
        empty_url,
        "INSERT INTO users (id, username, email, password_hash, role, is_active, session_epoch, "
        "created_at, updated_at) VALUES (1, 'ann', 'ann@example.test', 'x', 'user', true, 0, "
        "'2026-11-01 10:00:00', '2026-11-01 10:00:00')",
        _listing_row(1, 1),
        _listing_row(2, 1),
        _listing_row(3, 99),  # its group's first listing was deleted before the key existed
        _listing_row(4, None),
        "INSERT INTO market_favorites (user_id, listing_id, note, created_at) VALUES (1, 2, 'mine', "
        "'2026-11-01 10:00:00')",
    )

    await asyncio.to_thread(upgrade, empty_url)
    rows, favorites = await _execute(
        empty_url,
        "SELECT id, group_id FROM market_listings ORDER BY id",
        "SELECT listing_id, note FROM market_favorites",
    )
    assert rows == [(1, 1), (2, 1), (3, None), (4, None)]
    assert favorites == [(2, "mine")]  # the table kept its rows and what hangs off them

    # The key acts: deleting the group's first listing empties the others' group id.
    (_, after) = await _execute(
        empty_url, "DELETE FROM market_listings WHERE id = 1", "SELECT id, group_id FROM market_listings ORDER BY id"
    )
    assert after == [(2, None), (3, None), (4, None)]

    await asyncio.to_thread(downgrade, empty_url, "0006")
    (kept,) = await _execute(empty_url, "SELECT id, group_id FROM market_listings ORDER BY id")
    assert kept == [(2, None), (3, None), (4, None)]
    await asyncio.to_thread(upgrade, empty_url)


async def _add_listing(services: Services, external_id: str, *, gone_days: int | None) -> Listing:
    seen = utcnow() - timedelta(days=gone_days or 0)
    async with services.db.session(write=True) as session:
        listing = Listing(
            marketplace="jsonld" if external_id.startswith("j") else "ebay",
            external_id=external_id,
            url=f"https://shop.example.test/{external_id}",
            title="Trek road bike",
            status=ListingStatus.GONE.value if gone_days is not None else ListingStatus.ACTIVE.value,
            first_seen_at=seen,
            last_seen_at=seen,
        )
        session.add(listing)
        await session.flush()
        return listing


async def _set_group(services: Services, members: list[Listing], anchor: Listing) -> None:
    async with services.db.session(write=True) as session:
        for member in members:
            row = await session.get(Listing, member.id)
            assert row is not None
            row.group_id = anchor.id


async def _groups(services: Services) -> dict[str, int | None]:
    async with services.db.session() as session:
        rows = (await session.execute(text("SELECT external_id, group_id FROM market_listings"))).all()
    return {external_id: group_id for external_id, group_id in rows}


async def test_retention_hands_a_group_to_its_oldest_remaining_member(tmp_path: Path, database_url: str) -> None:
    services = Services.build(
        make_settings(tmp_path, database_url, retention_gone_listings_days=30, retention_batch_size=2)
    )
    try:
        user = await create_user(services)
        anchor = await _add_listing(services, "j-anchor", gone_days=90)  # gone long ago: deleted
        second = await _add_listing(services, "e-second", gone_days=None)
        third = await _add_listing(services, "j-third", gone_days=None)
        also_gone = await _add_listing(services, "e-gone", gone_days=60)  # deleted in the same sweep
        alone_anchor = await _add_listing(services, "j-alone", gone_days=45)
        alone_member = await _add_listing(services, "e-alone", gone_days=45)  # its whole group goes
        await _set_group(services, [anchor, second, third, also_gone], anchor)
        await _set_group(services, [alone_anchor, alone_member], alone_anchor)
        async with services.db.session(write=True) as session:
            session.add(Favorite(user_id=user.id, listing_id=third.id, note="watch"))

        assert await purge_gone_listings(services) == 4

        groups = await _groups(services)
        assert groups == {"e-second": second.id, "j-third": second.id}
        async with services.db.session() as session:
            orphans = (
                await session.execute(
                    text(
                        "SELECT COUNT(*) FROM market_listings AS l WHERE l.group_id IS NOT NULL AND NOT EXISTS "
                        "(SELECT 1 FROM market_listings AS a WHERE a.id = l.group_id)"
                    )
                )
            ).scalar()
        assert orphans == 0
    finally:
        await services.close()
