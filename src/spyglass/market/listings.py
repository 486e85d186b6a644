"""Reading listings as one user sees them, favorites, price alerts and triggered alerts. Never commits.

A user reaches a listing only through one of their own matches (or a favorite they made while
they could see it): every lookup here starts from ``user_id``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Integer, Row, Select, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import UTCDateTime, is_valid_id, utcnow
from spyglass.core.errors import Conflict, InvalidInput, NotFound
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.market.models import (
    Favorite,
    Listing,
    ListingMatch,
    ListingStatus,
    MarketAlert,
    PriceAlert,
    PriceHistory,
    SavedSearch,
)
from spyglass.market.pricing import market_stats

#: What a marketplace filter may look like (adapter names); anything else is refused, not sent to the database.
MARKETPLACE_FILTER = re.compile(r"[a-z0-9_.-]{1,32}")
SORTS = {
    "newest": "Newest first",
    "price_asc": "Price, low to high",
    "price_desc": "Price, high to low",
    "deal": "Best deal",
}
NOTE_MAX = 2000
EXPORT_MAX_ROWS = 10_000


@dataclass(frozen=True)
class ListingFilters:
    """What the listings table shows (every field optional)."""

    search_id: int | None = None
    marketplace: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    since: datetime | None = None
    status: str | None = None
    sort: str = "newest"


class ListingSummary(msgspec.Struct, frozen=True):
    """A listing's columns as the table and the API's listing answers show them (all but the image hash),
    read with SQLAlchemy Core: building ORM objects, or reading SQLAlchemy rows by attribute name, cost
    more than the rest of a page of the API."""

    id: int
    marketplace: str
    external_id: str
    url: str
    title: str
    description: str
    price: Decimal | None
    currency: str | None
    location: str | None
    latitude: float | None
    longitude: float | None
    posted_at: datetime | None
    images: list[str]
    seller: str | None
    condition: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    status: str
    group_id: int | None


@dataclass(frozen=True, slots=True)
class ListingRow:
    """A listing in the user's table: when the user's searches first matched it, its best deal score,
    and how many other marketplaces carry the same item."""

    listing: ListingSummary
    matched_at: datetime
    deal_percent: float | None
    seen: bool
    cross_posts: int = 0


def _number(value: str | None, name: str, errors: dict[str, str]) -> Decimal | None:
    if value is None or not str(value).strip():
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors[name] = "Enter a number."
        return None
    if not number.is_finite() or number < 0 or number > Decimal("9999999999"):
        errors[name] = "Enter a price of 0 or more."
        return None
    return number


def parse_filters(
    *,
    search: str | None = None,
    marketplace: str | None = None,
    price_min: str | None = None,
    price_max: str | None = None,
    days: str | None = None,
    status: str | None = None,
    sort: str | None = None,
) -> ListingFilters:
    """Filters from query parameters; ``InvalidInput`` names each one that makes no sense."""
    errors: dict[str, str] = {}
    search_id = None
    if search and search.strip():
        if not search.strip().isdecimal() or len(search.strip()) > 19 or not is_valid_id(int(search.strip())):
            errors["search"] = "Choose one of your searches."
        else:
            search_id = int(search.strip())
    low = _number(price_min, "price_min", errors)
    high = _number(price_max, "price_max", errors)
    if low is not None and high is not None and low > high:
        errors["price_max"] = "The maximum price is below the minimum price."
    since = None
    if days and days.strip():
        if not days.strip().isdecimal() or len(days.strip()) > 4 or not 1 <= int(days.strip()) <= 3650:
            errors["days"] = "Enter a number of days between 1 and 3650."
        else:
            since = utcnow() - timedelta(days=int(days.strip()))
    if status and status not in {s.value for s in ListingStatus}:
        errors["status"] = "Status is active or gone."
    if sort and sort not in SORTS:
        errors["sort"] = f"Sort by one of: {', '.join(SORTS)}."
    marketplace = (marketplace or "").strip().lower()
    if marketplace and not MARKETPLACE_FILTER.fullmatch(marketplace):
        errors["marketplace"] = "A marketplace name is made of letters, digits, dots, dashes and underscores."
    if errors:
        raise InvalidInput(detail=errors)
    return ListingFilters(
        search_id=search_id,
        marketplace=marketplace or None,
        price_min=low,
        price_max=high,
        since=since,
        status=status or None,
        sort=sort or "newest",
    )


_listings = Listing.__table__
_matches = ListingMatch.__table__
#: The columns of a ``ListingSummary``, in its order: a row's first values build one.
LISTING_COLUMNS = tuple(_listings.c[name] for name in ListingSummary.__struct_fields__)


@dataclass(frozen=True)
class _ListingQueries:
    """The page statement of one filter shape (its rows also carry the total), and the count statement for a
    page past the end, with bound parameters for every value."""

    page: Select[Any]
    count: Select[Any]


@functools.lru_cache(maxsize=128)
def _listing_queries(
    *,
    by_search: bool,
    marketplace: bool,
    price_min: bool,
    price_max: bool,
    since: bool,
    status: bool,
    sort: str,
) -> _ListingQueries:
    """Built once per shape (which filters are set, the sort), not per request: building and keying the
    statement cost a fifth of a listing page's CPU. Values go in as parameters (see ``_listing_queries_for``).
    Core columns, not ORM entities: the rows are read as they are."""
    user_id: Any = bindparam("user_id")
    search_id: Any = bindparam("search_id")
    listings, matches = _listings, _matches
    mine_select = select(
        matches.c.listing_id.label("listing_id"),
        func.min(matches.c.first_matched_at).label("matched_at"),
        func.max(matches.c.deal_percent).label("deal_percent"),
        func.min(case((matches.c.seen.is_(True), 1), else_=0)).label("seen"),
    ).where(matches.c.user_id == user_id)
    if by_search:
        mine_select = mine_select.where(matches.c.search_id == search_id)
    mine = mine_select.group_by(matches.c.listing_id).subquery()
    statement = select(*LISTING_COLUMNS, mine.c.matched_at, mine.c.deal_percent, mine.c.seen).join_from(
        listings, mine, mine.c.listing_id == listings.c.id
    )
    # A cross-post is shown once: under the first listing of its group, when the user has that one too.
    leader = matches.alias("leader")
    leader_shown = and_(
        listings.c.group_id.is_not(None),
        listings.c.group_id != listings.c.id,
        leader.c.listing_id == listings.c.group_id,
        leader.c.user_id == user_id,
    )
    if by_search:
        leader_shown = and_(leader_shown, leader.c.search_id == search_id)
    statement = statement.where(~exists().where(leader_shown))
    if marketplace:
        statement = statement.where(listings.c.marketplace == bindparam("marketplace"))
    if price_min:
        statement = statement.where(listings.c.price >= bindparam("price_min"))
    if price_max:
        statement = statement.where(listings.c.price <= bindparam("price_max"))
    if since:
        statement = statement.where(mine.c.matched_at >= bindparam("since", type_=UTCDateTime()))
    if status:
        statement = statement.where(listings.c.status == bindparam("status"))
    count = select(func.count()).select_from(statement.subquery())
    # The total comes with the page's rows (a window over every matching row, before LIMIT): one statement
    # where a count and a page were two, each running the same joins.
    statement = statement.add_columns(func.count().over().label("total"))
    if sort == "price_asc":
        statement = statement.order_by(listings.c.price.is_(None), listings.c.price.asc(), listings.c.id.desc())
    elif sort == "price_desc":
        statement = statement.order_by(listings.c.price.is_(None), listings.c.price.desc(), listings.c.id.desc())
    elif sort == "deal":
        statement = statement.order_by(mine.c.deal_percent.is_(None), mine.c.deal_percent.desc(), listings.c.id.desc())
    else:
        statement = statement.order_by(mine.c.matched_at.desc(), listings.c.id.desc())
    page = statement.limit(bindparam("limit", type_=Integer())).offset(bindparam("offset", type_=Integer()))
    return _ListingQueries(page=page, count=count)


def _listing_queries_for(filters: ListingFilters) -> tuple[_ListingQueries, dict[str, Any]]:
    """The statements for these filters and the parameters to run them with (limit and offset aside)."""
    queries = _listing_queries(
        by_search=filters.search_id is not None,
        marketplace=bool(filters.marketplace),
        price_min=filters.price_min is not None,
        price_max=filters.price_max is not None,
        since=filters.since is not None,
        status=bool(filters.status),
        sort=filters.sort if filters.sort in SORTS else "newest",
    )
    params = {
        "search_id": filters.search_id,
        "marketplace": filters.marketplace,
        "price_min": filters.price_min,
        "price_max": filters.price_max,
        "since": filters.since,
        "status": filters.status,
    }
    return queries, {name: value for name, value in params.items() if value is not None}


_GROUP_SIZES = (
    select(_listings.c.group_id, func.count())
    .where(_listings.c.group_id.in_(bindparam("groups", expanding=True)))
    .group_by(_listings.c.group_id)
)


async def _cross_post_counts(db: AsyncSession, listings: list[ListingSummary]) -> dict[int, int]:
    """How many other listings share each grouped listing's group, by listing id."""
    groups = {listing.group_id for listing in listings if listing.group_id is not None}
    if not groups:
        return {}
    sizes = {group: count for group, count in (await db.execute(_GROUP_SIZES, {"groups": sorted(groups)})).all()}
    return {item.id: sizes.get(item.group_id, 1) - 1 for item in listings if item.group_id is not None}


async def list_listings(
    db: AsyncSession, *, user_id: int, filters: ListingFilters, page: PageRequest
) -> Page[ListingRow]:
    """One page of the listings the user's searches matched."""
    if filters.search_id is not None:
        await get_owned(db, SavedSearch, filters.search_id, user_id, what="search")
    queries, params = _listing_queries_for(filters)
    params["user_id"] = user_id
    rows = (await db.execute(queries.page, {**params, "limit": page.size, "offset": page.offset})).all()
    total = rows[0].total if rows else 0
    if not rows and page.offset:  # past the last page: no row carries the total
        total = await db.scalar(queries.count, params) or 0
    width = len(LISTING_COLUMNS)  # then matched_at, deal_percent, seen, total (by position: see ListingSummary)
    summaries = [ListingSummary(*row[:width]) for row in rows]
    counts = await _cross_post_counts(db, summaries)
    items = [
        ListingRow(summary, row[width], row[width + 1], bool(row[width + 2]), counts.get(summary.id, 0))
        for summary, row in zip(summaries, rows, strict=True)
    ]
    return Page(items=items, page=page.page, size=page.size, total=int(total))


async def export_listings(db: AsyncSession, *, user_id: int, filters: ListingFilters) -> list[ListingRow]:
    """Every listing of the table (up to EXPORT_MAX_ROWS) for a CSV or JSON export."""
    page = await list_listings(db, user_id=user_id, filters=filters, page=PageRequest(page=1, size=EXPORT_MAX_ROWS))
    return page.items


def _visible_to(user_id: int) -> ColumnElement[bool]:
    """The condition that the listing in the statement is one of the user's: matched by one of their searches,
    or favorited while they could see it."""
    matched = exists().where(ListingMatch.listing_id == Listing.id, ListingMatch.user_id == user_id)
    favorite = exists().where(Favorite.listing_id == Listing.id, Favorite.user_id == user_id)
    # Only the listing is the outer row: a statement that also joins the user's favorite must not correlate it.
    return matched.correlate(Listing) | favorite.correlate(Listing)


async def get_listing(db: AsyncSession, *, user_id: int, listing_id: int) -> Listing:
    """A listing one of the user's searches matched (or the user favorited), or NotFound."""
    listing = (
        await db.scalar(select(Listing).where(Listing.id == listing_id, _visible_to(user_id)))
        if is_valid_id(listing_id)
        else None
    )
    if listing is None:
        raise NotFound("No such listing.")
    return listing


async def mark_seen(db: AsyncSession, *, user_id: int, listing_id: int) -> None:
    await db.execute(
        update(ListingMatch)
        .where(ListingMatch.user_id == user_id, ListingMatch.listing_id == listing_id, ListingMatch.seen.is_(False))
        .values(seen=True)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class SearchMatch:
    """One of the user's searches that matched a listing: its id and name, the deal score it gave, whether the
    user has seen the listing there."""

    search_id: int
    name: str
    deal_percent: float | None
    seen: bool


@dataclass(frozen=True)
class ListingDetail:
    """Everything the listing page shows to one user. ``history`` rows carry ``price``, ``currency`` and
    ``observed_at``; ``cross_posts`` rows ``id``, ``marketplace``, ``url``, ``price`` and ``currency``."""

    listing: Listing
    history: list[Row[Any]]
    matches: list[SearchMatch]
    cross_posts: list[Row[Any]]
    favorite: Favorite | None
    price_alert: PriceAlert | None


@dataclass(frozen=True)
class _DetailQueries:
    found: Select[Any]
    history: Select[Any]
    cross_posts: Select[Any]


@functools.cache
def _detail_queries() -> _DetailQueries:
    """The listing page's statements, built once (with bound parameters) instead of on every request."""
    user_id: Any = bindparam("user_id")
    listing_id: Any = bindparam("listing_id")
    # The listing with the user's favorite and price alert of it (one at most of each) and one row per search
    # of theirs that matched it. The rows are the visibility check too: a listing neither matched by the
    # user's searches nor favorited by them gives no row (the same rule as ``_visible_to``).
    found = (
        select(Listing, Favorite, PriceAlert, ListingMatch.search_id, SavedSearch.name)
        .add_columns(ListingMatch.deal_percent, ListingMatch.seen)
        .outerjoin(Favorite, and_(Favorite.listing_id == Listing.id, Favorite.user_id == user_id))
        .outerjoin(PriceAlert, and_(PriceAlert.listing_id == Listing.id, PriceAlert.user_id == user_id))
        .outerjoin(ListingMatch, and_(ListingMatch.listing_id == Listing.id, ListingMatch.user_id == user_id))
        .outerjoin(SavedSearch, SavedSearch.id == ListingMatch.search_id)
        .where(Listing.id == listing_id, or_(ListingMatch.id.is_not(None), Favorite.id.is_not(None)))
        .order_by(ListingMatch.first_matched_at, ListingMatch.id)
    )
    history = PriceHistory.__table__
    history_rows = (
        select(history.c.price, history.c.currency, history.c.observed_at)
        .where(history.c.listing_id == listing_id)
        .order_by(history.c.observed_at, history.c.id)
        .limit(500)
    )
    # Only the group members this user's own searches matched.
    listings = _listings
    cross_posts = (
        select(listings.c.id, listings.c.marketplace, listings.c.url, listings.c.price, listings.c.currency)
        .where(
            listings.c.group_id == bindparam("group_id"),
            listings.c.id != listing_id,
            listings.c.id.in_(select(_matches.c.listing_id).where(_matches.c.user_id == user_id)),
        )
        .order_by(listings.c.id)
    )
    return _DetailQueries(found=found, history=history_rows, cross_posts=cross_posts)


async def listing_detail(db: AsyncSession, *, user_id: int, listing_id: int) -> ListingDetail:
    """The listing, its price history, the user's searches that matched it and its other marketplaces."""
    if not is_valid_id(listing_id):
        raise NotFound("No such listing.")
    queries = _detail_queries()
    params = {"user_id": user_id, "listing_id": listing_id}
    found = (await db.execute(queries.found, params)).all()
    if not found:
        raise NotFound("No such listing.")
    listing, favorite, alert = found[0][0], found[0][1], found[0][2]
    matches = [
        SearchMatch(search_id, name, deal_percent, seen)
        for _, _, _, search_id, name, deal_percent, seen in found
        if search_id is not None
    ]
    history = (await db.execute(queries.history, params)).all()
    cross_posts: Sequence[Row[Any]] = []
    if listing.group_id is not None:
        cross_posts = (await db.execute(queries.cross_posts, {**params, "group_id": listing.group_id})).all()
    return ListingDetail(
        listing=listing,
        history=list(history),
        matches=matches,
        cross_posts=list(cross_posts),
        favorite=favorite,
        price_alert=alert,
    )


# -- favorites ---------------------------------------------------------------------------------


def _note(value: Any) -> str:
    note = "" if value is None else str(value).strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(detail={"note": f"A note is at most {NOTE_MAX} characters."})
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in note):
        raise InvalidInput(detail={"note": "The note contains control characters."})
    return note


async def save_favorite(db: AsyncSession, *, user_id: int, listing_id: int, note: Any = "") -> Favorite:
    """Favorite a listing the user can see, or change the note of an existing favorite."""
    clean = _note(note)
    listing = await get_listing(db, user_id=user_id, listing_id=listing_id)
    favorite = await db.scalar(select(Favorite).where(Favorite.user_id == user_id, Favorite.listing_id == listing.id))
    if favorite is None:
        favorite = Favorite(user_id=user_id, listing_id=listing.id, note=clean)
        db.add(favorite)
    else:
        favorite.note = clean
    await db.flush()
    return favorite


async def get_favorite(db: AsyncSession, *, user_id: int, favorite_id: int) -> Favorite:
    return await get_owned(db, Favorite, favorite_id, user_id, what="favorite")


async def delete_favorite(db: AsyncSession, *, user_id: int, favorite_id: int) -> None:
    favorite = await get_favorite(db, user_id=user_id, favorite_id=favorite_id)
    await db.delete(favorite)


async def list_favorites(db: AsyncSession, *, user_id: int, page: PageRequest) -> Page[Any]:
    """The user's favorites with their listings, newest first."""
    statement = (
        select(Favorite, Listing)
        .where(Favorite.user_id == user_id)
        .join(Listing, Listing.id == Favorite.listing_id)
        .order_by(Favorite.created_at.desc(), Favorite.id.desc())
    )
    total = await db.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = (await db.execute(statement.limit(page.size).offset(page.offset))).all()
    return Page(items=[(row[0], row[1]) for row in rows], page=page.page, size=page.size, total=int(total))


# -- price alerts -----------------------------------------------------------------------------


async def save_price_alert(
    db: AsyncSession, *, user_id: int, listing_id: int, target_price: Any = None, drop_percent: Any = None
) -> PriceAlert:
    """Watch a listing's price: below ``target_price``, or down by at least ``drop_percent`` from today's price."""
    errors: dict[str, str] = {}
    target = _number(None if target_price is None else str(target_price), "target_price", errors)
    drop: float | None = None
    if drop_percent is not None and str(drop_percent).strip():
        try:
            drop = float(str(drop_percent).strip())
        except ValueError:
            errors["drop_percent"] = "Enter a percentage, e.g. 15."
        else:
            if not math.isfinite(drop) or not 0 < drop < 100:
                errors["drop_percent"] = "The drop is a percentage between 1 and 99."
    if not errors and target is None and drop is None:
        errors["target_price"] = "Give a target price or a percentage drop."
    if errors:
        raise InvalidInput(detail=errors)
    listing = await get_listing(db, user_id=user_id, listing_id=listing_id)
    if drop is not None and listing.price is None:
        raise Conflict("This listing has no price yet, so a percentage drop cannot be measured; set a target price.")
    alert = await db.scalar(
        select(PriceAlert).where(PriceAlert.user_id == user_id, PriceAlert.listing_id == listing.id)
    )
    if alert is None:
        alert = PriceAlert(user_id=user_id, listing_id=listing.id)
        db.add(alert)
    alert.target_price = target.quantize(Decimal("0.01")) if target is not None else None
    alert.drop_percent = drop
    alert.baseline_price = listing.price
    alert.triggered_at = None
    await db.flush()
    return alert


async def delete_price_alert(db: AsyncSession, *, user_id: int, alert_id: int) -> None:
    alert = await get_owned(db, PriceAlert, alert_id, user_id, what="price alert")
    await db.delete(alert)


async def list_price_alerts(db: AsyncSession, *, user_id: int, page: PageRequest) -> Page[Any]:
    statement = (
        select(PriceAlert, Listing)
        .where(PriceAlert.user_id == user_id)
        .join(Listing, Listing.id == PriceAlert.listing_id)
        .order_by(PriceAlert.created_at.desc(), PriceAlert.id.desc())
    )
    total = await db.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = (await db.execute(statement.limit(page.size).offset(page.offset))).all()
    return Page(items=[(row[0], row[1]) for row in rows], page=page.page, size=page.size, total=int(total))


# -- triggered alerts ---------------------------------------------------------------------------


async def list_alerts(db: AsyncSession, *, user_id: int, page: PageRequest) -> Page[MarketAlert]:
    """The user's triggered alerts, newest first."""
    statement = owned_by(select(MarketAlert), MarketAlert, user_id).order_by(
        MarketAlert.created_at.desc(), MarketAlert.id.desc()
    )
    return await paginate(db, statement, page)


_UNREAD_ALERTS = (
    select(func.count())
    .select_from(MarketAlert)
    .where(MarketAlert.user_id == bindparam("user_id"), MarketAlert.read_at.is_(None))
)


async def unread_alerts(db: AsyncSession, *, user_id: int) -> int:
    """How many of the user's triggered alerts they have not read."""
    return int(await db.scalar(_UNREAD_ALERTS, {"user_id": user_id}) or 0)


async def mark_alerts_read(db: AsyncSession, *, user_id: int) -> int:
    result = await db.execute(
        update(MarketAlert)
        .where(MarketAlert.user_id == user_id, MarketAlert.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- statistics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchStats:
    """A search's market: price quartiles of its active listings and how many new ones a day."""

    count: int
    median: Decimal | None
    q1: Decimal | None
    q3: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None
    new_per_day: float


async def search_stats(db: AsyncSession, *, user_id: int, search_id: int, days: int = 7) -> SearchStats:
    """Market statistics of one of the user's searches (new per day over the last ``days``)."""
    search = await get_owned(db, SavedSearch, search_id, user_id, what="search")
    prices = (
        await db.scalars(
            select(Listing.price)
            .join(ListingMatch, ListingMatch.listing_id == Listing.id)
            .where(
                ListingMatch.search_id == search.id,
                Listing.status == ListingStatus.ACTIVE.value,
                Listing.price.is_not(None),
            )
        )
    ).all()
    recent = await db.scalar(
        select(func.count())
        .select_from(ListingMatch)
        .where(ListingMatch.search_id == search.id, ListingMatch.first_matched_at >= utcnow() - timedelta(days=days))
    )
    stats = market_stats([price for price in prices if price is not None]) if prices else None
    return SearchStats(
        count=len(prices),
        median=stats.median if stats else None,
        q1=stats.q1 if stats else None,
        q3=stats.q3 if stats else None,
        minimum=stats.minimum if stats else None,
        maximum=stats.maximum if stats else None,
        new_per_day=round((recent or 0) / days, 2),
    )


_SEARCH_NAMES = (
    select(SavedSearch.id, SavedSearch.name)
    .where(SavedSearch.user_id == bindparam("user_id"))
    .order_by(SavedSearch.name)
)


async def search_names(db: AsyncSession, *, user_id: int) -> list[tuple[int, str]]:
    """(id, name) of the user's searches, for filter menus."""
    rows = await db.execute(_SEARCH_NAMES, {"user_id": user_id})
    return [(search_id, name) for search_id, name in rows.all()]
