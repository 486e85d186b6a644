"""Storing what one run of a saved search found, in one write transaction (all SQL of the job).

A listing is stored once per ``(marketplace, external_id)`` whoever finds it (``INSERT ... ON
CONFLICT DO NOTHING`` on both backends, then an update of the row), and matched to every search
that found it. Price changes go to the price history; a price that falls triggers the price alerts
and tells the users who favorited the listing. Everything is keyed so that re-executing a run
(after a crash) changes nothing it already changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.market import alerts
from spyglass.market.adapters.base import ScrapedListing
from spyglass.market.dialect import dialect_insert
from spyglass.market.grouping import ItemSignature, group_items
from spyglass.market.models import Listing, ListingMatch, ListingStatus, PriceHistory, SavedSearch
from spyglass.market.pricing import MIN_COMPARABLES, AgainstAll, comparable_sets, deal_score

#: Rows per IN (...) list, well under SQLite's and asyncpg's parameter limits.
CHUNK = 200


@dataclass
class MarketplaceResult:
    """What one marketplace returned for a run: everything it listed, and what passed the search's filters."""

    marketplace: str
    scraped: list[ScrapedListing]
    kept: list[ScrapedListing]


@dataclass
class StoreOutcome:
    """The numbers of one stored run."""

    new_listings: int = 0
    new_matches: list[int] = field(default_factory=list)
    updated: int = 0
    price_changes: int = 0
    gone: int = 0
    grouped: int = 0
    repeat: bool = False
    #: Users (besides the search's owner) who got a price-drop alert: their market pages changed too.
    alerted_users: set[int] = field(default_factory=set)

    def stats(self) -> dict[str, Any]:
        return {
            "new_listings": self.new_listings,
            "new_matches": len(self.new_matches),
            "updated": self.updated,
            "price_changes": self.price_changes,
            "gone": self.gone,
            "grouped": self.grouped,
        }


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _row(item: ScrapedListing, now: datetime, image_hash: str | None) -> dict[str, Any]:
    return {
        "image_hash": image_hash,
        "marketplace": item.marketplace[:32],
        "external_id": item.external_id[:255],
        "url": item.url[:2048],
        "title": (item.title or "(untitled)")[:500],
        "description": item.description or "",
        "price": item.price,
        "currency": item.currency[:8] if item.currency else None,
        "location": item.location[:255] if item.location else None,
        "latitude": item.latitude,
        "longitude": item.longitude,
        "posted_at": item.posted_at if item.posted_at and item.posted_at.tzinfo else None,
        "images": list(item.images)[:20],
        "seller": item.seller[:255] if item.seller else None,
        "condition": item.condition[:32] if item.condition else None,
        "first_seen_at": now,
        "last_seen_at": now,
        "status": ListingStatus.ACTIVE.value,
    }


async def _load_listings(session: AsyncSession, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Listing]:
    found: dict[tuple[str, str], Listing] = {}
    for chunk in _chunks(keys):
        rows = await session.scalars(
            select(Listing)
            .where(tuple_(Listing.marketplace, Listing.external_id).in_(list(chunk)))
            .order_by(Listing.id)
            .with_for_update()  # PostgreSQL: concurrent runs change a shared listing one after the other
        )
        found.update({(row.marketplace, row.external_id): row for row in rows})
    return found


async def upsert_listings(
    session: AsyncSession,
    scraped: Sequence[ScrapedListing],
    *,
    now: datetime,
    image_hashes: dict[tuple[str, str], str] | None = None,
) -> tuple[dict[tuple[str, str], Listing], set[int], list[tuple[Listing, Decimal | None]]]:
    """Insert the listings not stored yet and refresh the others.

    Answers the rows by key, the ids that were new, and (listing, old price) of each price change.
    """
    unique = {(item.marketplace[:32], item.external_id[:255]): item for item in scraped}
    hashes = image_hashes or {}
    keys = list(unique)
    existing = await _load_listings(session, keys)
    # Sorted: concurrent runs insert shared keys in the same order, so they queue instead of deadlocking.
    missing = sorted(key for key in keys if key not in existing)
    new_ids: set[int] = set()
    for chunk in _chunks(missing):
        statement = (
            dialect_insert(session)(Listing)
            .values([_row(unique[key], now, hashes.get(key)) for key in chunk])
            .on_conflict_do_nothing(index_elements=["marketplace", "external_id"])
            .returning(Listing.id)
        )
        new_ids.update((await session.scalars(statement)).all())
    if missing:
        existing.update(await _load_listings(session, missing))
        session.add_all(
            PriceHistory(
                listing_id=existing[key].id, price=unique[key].price, currency=unique[key].currency, observed_at=now
            )
            for key in missing
            if key in existing and existing[key].id in new_ids and unique[key].price is not None
        )
    changes: list[tuple[Listing, Decimal | None]] = []
    for key, listing in existing.items():
        if listing.group_id is None:  # new, or its group's first listing was deleted (the key set it NULL)
            listing.group_id = listing.id
        if listing.id in new_ids:
            continue
        item = unique[key]
        old_price = listing.price
        _refresh(listing, item, now)
        if key in hashes:
            listing.image_hash = hashes[key]
        if item.price is not None and item.price != old_price:
            listing.price = item.price
            listing.currency = item.currency or listing.currency
            session.add(
                PriceHistory(listing_id=listing.id, price=item.price, currency=listing.currency, observed_at=now)
            )
            changes.append((listing, old_price))
    await session.flush()
    return existing, new_ids, changes


def _refresh(listing: Listing, item: ScrapedListing, now: datetime) -> None:
    """Take the marketplace's latest text for a stored listing (keeping what it stopped showing)."""
    listing.last_seen_at = now
    listing.status = ListingStatus.ACTIVE.value
    listing.url = item.url[:2048] or listing.url
    listing.title = item.title[:500] or listing.title
    listing.description = item.description or listing.description
    if item.location:
        listing.location = item.location[:255]
    if item.latitude is not None and item.longitude is not None:
        listing.latitude, listing.longitude = item.latitude, item.longitude
    if item.images:
        listing.images = list(item.images)[:20]
    if item.seller:
        listing.seller = item.seller[:255]
    if item.condition:
        listing.condition = item.condition[:32]
    if item.posted_at and item.posted_at.tzinfo:
        listing.posted_at = item.posted_at


async def match_listings(
    session: AsyncSession, *, search: SavedSearch, listing_ids: Sequence[int], now: datetime
) -> list[int]:
    """Tie the listings to the search; answers the listing ids matched for the first time."""
    new: list[int] = []
    ids = sorted(set(listing_ids))
    for chunk in _chunks(ids):
        rows = [
            {
                "search_id": search.id,
                "listing_id": listing_id,
                "user_id": search.user_id,
                "first_matched_at": now,
                "last_matched_at": now,
                "seen": False,
                "missed_runs": 0,
            }
            for listing_id in chunk
        ]
        statement = (
            dialect_insert(session)(ListingMatch)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["search_id", "listing_id"])
            .returning(ListingMatch.listing_id)
        )
        new.extend((await session.scalars(statement)).all())
        await session.execute(
            update(ListingMatch)
            .where(ListingMatch.search_id == search.id, ListingMatch.listing_id.in_(list(chunk)))
            .values(last_matched_at=now, missed_runs=0)
            .execution_options(synchronize_session=False)
        )
    return sorted(new)


async def mark_missed(
    session: AsyncSession,
    *,
    search: SavedSearch,
    marketplace: str,
    returned_ids: set[int],
    gone_after: int,
    run_started: datetime,
) -> int:
    """Count a miss for the search's listings on ``marketplace`` that this run did not return, and mark
    gone those missed ``gone_after`` runs in a row that no other search saw since this run started.
    Only call it when the marketplace answered with results (an empty page proves nothing)."""
    missed_ids = (
        await session.scalars(
            select(ListingMatch.id)
            .join(Listing, Listing.id == ListingMatch.listing_id)
            .where(ListingMatch.search_id == search.id, Listing.marketplace == marketplace)
            .where(Listing.id.not_in(returned_ids) if returned_ids else Listing.id.is_not(None))
        )
    ).all()
    for chunk in _chunks(list(missed_ids)):
        await session.execute(
            update(ListingMatch)
            .where(ListingMatch.id.in_(list(chunk)))
            .values(missed_runs=ListingMatch.missed_runs + 1)
            .execution_options(synchronize_session=False)
        )
    stale = select(ListingMatch.listing_id).where(
        ListingMatch.search_id == search.id, ListingMatch.missed_runs >= gone_after
    )
    result = await session.execute(
        update(Listing)
        .where(
            Listing.id.in_(stale),
            Listing.marketplace == marketplace,
            Listing.status == ListingStatus.ACTIVE.value,
            Listing.last_seen_at < run_started,
        )
        .values(status=ListingStatus.GONE.value)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _signature(listing: Listing) -> ItemSignature:
    return ItemSignature(
        title=listing.title,
        price=listing.price,
        latitude=listing.latitude,
        longitude=listing.longitude,
        image_hash=listing.image_hash,
        marketplace=listing.marketplace,
    )


async def group_cross_posts(session: AsyncSession, *, search: SavedSearch, new_ids: set[int]) -> int:
    """Put each new listing in the group of the same item on another marketplace, if this search has one.

    ``grouping.group_items`` compares only the pairs that can be the same item (shared rare title word or
    photo band, close prices), so a search with thousands of listings does not compare every pair. A new
    listing joins the group of the oldest listing of its cluster that was already there (else the oldest).
    """
    if not new_ids:
        return 0
    candidates = (
        await session.scalars(
            select(Listing)
            .join(ListingMatch, ListingMatch.listing_id == Listing.id)
            .where(ListingMatch.search_id == search.id, Listing.status == ListingStatus.ACTIVE.value)
            .order_by(Listing.id)
        )
    ).all()
    grouped = 0
    for cluster in group_items([(listing, _signature(listing)) for listing in candidates]):
        if len(cluster) < 2 or not any(listing.id in new_ids for listing in cluster):
            continue
        anchor = next((listing for listing in cluster if listing.id not in new_ids), cluster[0])
        for listing in cluster:
            if listing is not anchor and listing.id in new_ids:
                listing.group_id = anchor.group_id or anchor.id
                grouped += 1
    await session.flush()
    return grouped


async def refresh_deal_scores(session: AsyncSession, *, search: SavedSearch) -> None:
    """Score every active listing of the search against the search's other active listings with similar
    titles (all of them when too few titles are similar)."""
    rows = (
        await session.execute(
            select(ListingMatch, Listing.price, Listing.title)
            .join(Listing, Listing.id == ListingMatch.listing_id)
            .where(ListingMatch.search_id == search.id, Listing.status == ListingStatus.ACTIVE.value)
        )
    ).all()
    priced = [(match, price, title) for match, price, title in rows if price is not None]
    similar_to = comparable_sets([(index, title) for index, (_, _, title) in enumerate(priced)])
    everyone = AgainstAll([price for _, price, _ in priced])
    for index, (match, price, _) in enumerate(priced):
        similar = similar_to[index]
        score = deal_score(price, [priced[other][1] for other in similar])
        if score is None and len(similar) < MIN_COMPARABLES:
            score = everyone.score(price)
        match.deal_percent = round(score.percent_below_market, 2) if score else None
        match.deal_percentile = round(score.percentile, 2) if score else None
    for match, maybe_price, _ in rows:
        if maybe_price is None:
            match.deal_percent = match.deal_percentile = None
    await session.flush()


async def store_run(
    session: AsyncSession,
    *,
    search_id: int,
    run_id: int,
    results: Sequence[MarketplaceResult],
    failures: dict[str, str],
    run_started: datetime,
    now: datetime,
    gone_after: int,
    image_hashes: dict[tuple[str, str], str] | None = None,
) -> StoreOutcome:
    """Store everything one run found and update the search's status. Safe to call twice for one run."""
    outcome = StoreOutcome()
    search = await session.get(SavedSearch, search_id, with_for_update=True)
    if search is None:
        return outcome
    # A run re-executed after its results were committed must not count its misses twice.
    outcome.repeat = search.last_run_id == run_id
    scraped = [item for result in results for item in result.scraped]
    listings, new_ids, changes = await upsert_listings(session, scraped, now=now, image_hashes=image_hashes)
    outcome.new_listings = len(new_ids)
    outcome.updated = len(listings) - len(new_ids)
    outcome.price_changes = len(changes)

    kept_ids = [listings[(i.marketplace[:32], i.external_id[:255])].id for r in results for i in r.kept]
    outcome.new_matches = await match_listings(session, search=search, listing_ids=kept_ids, now=now)
    if not outcome.repeat:
        for result in results:
            if result.scraped:
                returned = {listings[(i.marketplace[:32], i.external_id[:255])].id for i in result.scraped}
                outcome.gone += await mark_missed(
                    session,
                    search=search,
                    marketplace=result.marketplace,
                    returned_ids=returned,
                    gone_after=gone_after,
                    run_started=run_started,
                )
    outcome.grouped = await group_cross_posts(session, search=search, new_ids=set(outcome.new_matches))
    await refresh_deal_scores(session, search=search)

    by_id = {listing.id: listing for listing in listings.values()}
    await alerts.new_listings(session, search=search, listings=[by_id[i] for i in outcome.new_matches if i in by_id])
    for listing, old_price in changes:
        if old_price is not None and listing.price is not None and listing.price < old_price:
            outcome.alerted_users |= await alerts.price_dropped(session, listing=listing, old_price=old_price, now=now)

    search.last_run_at = now
    search.last_run_id = run_id
    search.last_error = "; ".join(f"{site}: {message}" for site, message in failures.items()) or None
    if not outcome.repeat:
        search.runs_completed += 1
    search.listings_found = await _active_count(session, search.id)
    await session.flush()
    return outcome


async def unknown_keys(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` (marketplace, external id) are not stored yet."""
    known: set[tuple[str, str]] = set()
    for chunk in _chunks(list(keys)):
        rows = await session.execute(
            select(Listing.marketplace, Listing.external_id).where(
                tuple_(Listing.marketplace, Listing.external_id).in_(list(chunk))
            )
        )
        known.update((marketplace, external_id) for marketplace, external_id in rows.all())
    return set(keys) - known


async def _active_count(session: AsyncSession, search_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ListingMatch)
        .join(Listing, Listing.id == ListingMatch.listing_id)
        .where(ListingMatch.search_id == search_id, Listing.status == ListingStatus.ACTIVE.value)
    )
    return int(count or 0)
