"""Triggered alerts: new listings for a search, price drops on listings users watch.

Each alert is stored in ``market_alerts`` (the alerts page shows it) and handed to the notification
outbox in the same transaction, with the same idempotency key, so a re-executed run neither shows
nor sends it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.market.dialect import dialect_insert
from spyglass.market.models import (
    AlertKind,
    AlertMode,
    Favorite,
    Listing,
    ListingMatch,
    MarketAlert,
    PriceAlert,
    PriceHistory,
    SavedSearch,
)
from spyglass.notifications.outbox import EVENT_NEW_LISTINGS, EVENT_PRICE_DROP, notify

#: Listings described in one new-listings alert (the alert page links to the rest).
MAX_LISTED = 50


def money(amount: Decimal | None, currency: str | None) -> str:
    """A price as people read it: "$1,250.00", "1,250.00 EUR", "no price"."""
    if amount is None:
        return "no price"
    if currency in (None, "", "USD"):
        return f"${amount:,.2f}"
    return f"{amount:,.2f} {currency}"


async def _record(
    session: AsyncSession,
    *,
    user_id: int,
    kind: AlertKind,
    key: str,
    message: str,
    payload: dict[str, Any],
    search_id: int | None = None,
    listing_id: int | None = None,
    event: str,
) -> None:
    await session.execute(
        dialect_insert(session)(MarketAlert)
        .values(
            user_id=user_id,
            kind=kind.value,
            search_id=search_id,
            listing_id=listing_id,
            key=key,
            message=message[:500],
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
    )
    await notify(session, user_id=user_id, event=event, payload=payload, key=key)


def _listing_payload(listing: Listing) -> dict[str, Any]:
    return {
        "id": listing.id,
        "title": listing.title,
        "price": str(listing.price) if listing.price is not None else None,
        "currency": listing.currency,
        "url": listing.url,
        "marketplace": listing.marketplace,
        "image": listing.images[0] if listing.images else None,
    }


async def new_listings(session: AsyncSession, *, search: SavedSearch, listings: Sequence[Listing]) -> None:
    """Announce the listings a search matched for the first time (one alert per run), unless its alerts are off."""
    if not listings or search.alert_mode == AlertMode.OFF.value:
        return
    ordered = sorted(listings, key=lambda listing: listing.id)
    # The lowest new listing id is unique to this batch: a listing is new to a search only once.
    key = f"new:{search.id}:{ordered[0].id}"
    count = len(ordered)
    payload = {
        "search_id": search.id,
        "search_name": search.name,
        "count": count,
        "digest": search.alert_mode == AlertMode.DIGEST.value,
        "listings": [_listing_payload(listing) for listing in ordered[:MAX_LISTED]],
    }
    noun = "listing" if count == 1 else "listings"
    await _record(
        session,
        user_id=search.user_id,
        kind=AlertKind.NEW_LISTINGS,
        key=key,
        message=f"{count} new {noun} for “{search.name}”",
        payload=payload,
        search_id=search.id,
        event=EVENT_NEW_LISTINGS,
    )


def alert_is_met(alert: PriceAlert, price: Decimal) -> bool:
    """Whether ``price`` satisfies a price alert (below its target, or down by its percentage)."""
    if alert.target_price is not None and price <= alert.target_price:
        return True
    if alert.drop_percent is not None and alert.baseline_price is not None and alert.baseline_price > 0:
        drop = (alert.baseline_price - price) / alert.baseline_price * 100
        return drop >= Decimal(str(alert.drop_percent))
    return False


async def _own_search_name(session: AsyncSession, *, user_id: int, listing_id: int) -> str:
    # Only ever the watcher's own search: another user's search name must not reach them.
    name = await session.scalar(
        select(SavedSearch.name)
        .join(ListingMatch, ListingMatch.search_id == SavedSearch.id)
        .where(ListingMatch.listing_id == listing_id, ListingMatch.user_id == user_id)
        .order_by(SavedSearch.id)
        .limit(1)
    )
    return name or ""


async def price_dropped(session: AsyncSession, *, listing: Listing, old_price: Decimal, now: datetime) -> set[int]:
    """Tell the users watching ``listing`` (a met price alert, or a favorite) that its price fell; answers who."""
    assert listing.price is not None
    change_id = await session.scalar(select(func.max(PriceHistory.id)).where(PriceHistory.listing_id == listing.id))
    watchers: set[int] = set()
    alerts = (
        await session.scalars(
            select(PriceAlert).where(PriceAlert.listing_id == listing.id, PriceAlert.triggered_at.is_(None))
        )
    ).all()
    for alert in alerts:
        if alert_is_met(alert, listing.price):
            alert.triggered_at = now
            watchers.add(alert.user_id)
    favorites = await session.scalars(select(Favorite.user_id).where(Favorite.listing_id == listing.id))
    watchers.update(favorites.all())
    if not watchers:
        return watchers
    payload = {
        "listing_id": listing.id,
        "title": listing.title,
        "url": listing.url,
        "old_price": str(old_price),
        "new_price": str(listing.price),
        "currency": listing.currency,
    }
    message = (
        f"“{listing.title[:200]}” dropped from {money(old_price, listing.currency)} "
        f"to {money(listing.price, listing.currency)}"
    )
    for user_id in sorted(watchers):
        await _record(
            session,
            user_id=user_id,
            kind=AlertKind.PRICE_DROP,
            key=f"drop:{listing.id}:{change_id}:{user_id}",
            message=message,
            payload={**payload, "search_name": await _own_search_name(session, user_id=user_id, listing_id=listing.id)},
            listing_id=listing.id,
            event=EVENT_PRICE_DROP,
        )
    return watchers
