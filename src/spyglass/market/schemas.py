"""JSON shapes of the market API: request bodies (documented in the OpenAPI schema) and answers."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from spyglass.market.listings import ListingDetail, ListingRow, ListingSummary, SearchStats
from spyglass.market.models import Favorite, Listing, MarketAlert, PriceAlert, SavedSearch
from spyglass.market.searching import Collected

Price = str | float | int | None


class SearchIn(msgspec.Struct, forbid_unknown_fields=True):
    """A saved search. Keywords take AND / OR / NOT, parentheses and "quoted phrases"."""

    name: str
    marketplaces: list[str]
    keywords: str
    excluded_words: list[str] = []
    price_min: Price = None
    price_max: Price = None
    condition: str | None = None
    location: str | None = None
    radius_km: float | None = None
    options: dict[str, dict[str, Any]] = {}
    use_browser: bool = False
    interval_seconds: int | None = None
    enabled: bool = True
    alert_mode: str = "instant"


class FavoriteIn(msgspec.Struct, forbid_unknown_fields=True):
    """Favorite a listing (or change the note of a favorite)."""

    listing_id: int
    note: str = ""


class FavoritePatch(msgspec.Struct, forbid_unknown_fields=True):
    note: str


class PriceAlertIn(msgspec.Struct, forbid_unknown_fields=True):
    """Watch a listing: below ``target_price``, or down by ``drop_percent`` % from its current price."""

    listing_id: int
    target_price: Price = None
    drop_percent: float | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _money(amount: Decimal | None) -> str | None:
    return str(amount) if amount is not None else None


def search_out(search: SavedSearch, *, next_run_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": search.id,
        "name": search.name,
        "marketplaces": list(search.marketplaces),
        "keywords": search.keywords,
        "excluded_words": list(search.excluded_words),
        "price_min": _money(search.price_min),
        "price_max": _money(search.price_max),
        "condition": search.condition,
        "location": search.location_label,
        "latitude": search.latitude,
        "longitude": search.longitude,
        "radius_km": search.radius_km,
        "options": search.options,
        "use_browser": search.use_browser,
        "interval_seconds": search.interval_seconds,
        "enabled": search.enabled,
        "alert_mode": search.alert_mode,
        "last_run_at": _iso(search.last_run_at),
        "last_run_id": search.last_run_id,
        "last_error": search.last_error,
        "listings_found": search.listings_found,
        "next_run_at": _iso(next_run_at),
        "created_at": _iso(search.created_at),
        "updated_at": _iso(search.updated_at),
    }


def listing_out(listing: Listing | ListingSummary) -> dict[str, Any]:
    """A listing's JSON, from the entity or from the table's summary of it."""
    return {
        "id": listing.id,
        "marketplace": listing.marketplace,
        "external_id": listing.external_id,
        "url": listing.url,
        "title": listing.title,
        "description": listing.description,
        "price": _money(listing.price),
        "currency": listing.currency,
        "location": listing.location,
        "latitude": listing.latitude,
        "longitude": listing.longitude,
        "posted_at": _iso(listing.posted_at),
        "images": list(listing.images),
        "seller": listing.seller,
        "condition": listing.condition,
        "first_seen_at": _iso(listing.first_seen_at),
        "last_seen_at": _iso(listing.last_seen_at),
        "status": listing.status,
        "group_id": listing.group_id,
    }


def deal_label(percent: float | None) -> str | None:
    """ "23% below market", "5% above market", "at market"."""
    if percent is None:
        return None
    rounded = round(percent)
    if rounded == 0:
        return "at market"
    return f"{abs(rounded)}% {'below' if rounded > 0 else 'above'} market"


def row_out(row: ListingRow) -> dict[str, Any]:
    return {
        **listing_out(row.listing),
        "matched_at": _iso(row.matched_at),
        "deal_percent": row.deal_percent,
        "deal": deal_label(row.deal_percent),
        "seen": row.seen,
        "cross_posts": row.cross_posts,
    }


def detail_out(detail: ListingDetail) -> dict[str, Any]:
    deals = [match.deal_percent for match in detail.matches if match.deal_percent is not None]
    best = max(deals) if deals else None
    return {
        **listing_out(detail.listing),
        "deal_percent": best,
        "deal": deal_label(best),
        "price_history": [
            {"price": _money(entry.price), "currency": entry.currency, "observed_at": _iso(entry.observed_at)}
            for entry in detail.history
        ],
        "searches": [{"id": match.search_id, "name": match.name} for match in detail.matches],
        "cross_posts": [
            {"id": other.id, "marketplace": other.marketplace, "url": other.url, "price": _money(other.price)}
            for other in detail.cross_posts
        ],
        "favorite": favorite_out(detail.favorite) if detail.favorite else None,
        "price_alert": price_alert_out(detail.price_alert) if detail.price_alert else None,
    }


def favorite_out(favorite: Favorite, listing: Listing | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": favorite.id,
        "listing_id": favorite.listing_id,
        "note": favorite.note,
        "created_at": _iso(favorite.created_at),
    }
    if listing is not None:
        out["listing"] = listing_out(listing)
    return out


def price_alert_out(alert: PriceAlert, listing: Listing | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": alert.id,
        "listing_id": alert.listing_id,
        "target_price": _money(alert.target_price),
        "drop_percent": alert.drop_percent,
        "baseline_price": _money(alert.baseline_price),
        "created_at": _iso(alert.created_at),
        "triggered_at": _iso(alert.triggered_at),
    }
    if listing is not None:
        out["listing"] = listing_out(listing)
    return out


def alert_out(alert: MarketAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "message": alert.message,
        "search_id": alert.search_id,
        "listing_id": alert.listing_id,
        "payload": alert.payload,
        "created_at": _iso(alert.created_at),
        "read_at": _iso(alert.read_at),
    }


def stats_out(stats: SearchStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        "median": _money(stats.median),
        "q1": _money(stats.q1),
        "q3": _money(stats.q3),
        "minimum": _money(stats.minimum),
        "maximum": _money(stats.maximum),
        "new_per_day": stats.new_per_day,
    }


def preview_out(collected: Collected) -> dict[str, Any]:
    return {
        "fetched": collected.fetched,
        "kept": collected.kept,
        "errors": {name: failure.message for name, failure in collected.failures.items()},
        "listings": [
            {
                "marketplace": item.marketplace,
                "title": item.title,
                "price": _money(item.price),
                "currency": item.currency,
                "url": item.url,
                "location": item.location,
            }
            for result in collected.results
            for item in result.kept
        ],
    }


CSV_COLUMNS = [
    "id", "marketplace", "external_id", "title", "price", "currency", "deal", "status", "location",
    "condition", "seller", "posted_at", "matched_at", "first_seen_at", "last_seen_at", "url",
]  # fmt: skip


def _csv_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start like a formula; a leading quote keeps them plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def listings_csv(rows: list[ListingRow]) -> str:
    """The listings as CSV (formula-looking cells neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = row_out(row)
        writer.writerow([_csv_safe(data.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()
