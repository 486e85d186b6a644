"""The market JSON API under ``/api/v1/market``: searches, listings, favorites, price alerts, alerts, export.

Every route answers only about the caller's own objects (404 for anyone else's).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from litestar import Response, delete, get, patch, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import InvalidInput
from spyglass.core.pagination import PageRequest
from spyglass.core.services import Services
from spyglass.core.view_cache import forget_views
from spyglass.market import listings, service
from spyglass.market.listing_params import (
    FORGETS_LISTINGS,
    FORGETS_NOTHING,
    FORGETS_SEARCHES,
    LISTING_FILTERS,
    LISTINGS_AREA,
    LISTINGS_VIEW,
    SEARCHES_VIEW,
    Text,
    export_response,
)
from spyglass.market.models import SavedSearch
from spyglass.market.schemas import (
    FavoriteIn,
    FavoritePatch,
    PriceAlertIn,
    SearchIn,
    alert_out,
    detail_out,
    favorite_out,
    preview_out,
    price_alert_out,
    row_out,
    search_out,
    stats_out,
)
from spyglass.market.searching import preview
from spyglass.web.api_docs import error_responses

TAGS = ["Market"]
ObjectId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="The object's id.")]
PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="Page number, from 1.")]
PageSize = Annotated[int | None, QueryParameter(ge=1, le=1000, description="Items per page (capped by the server).")]
#: Starting, stopping and running searches: rate-limited as bot controls; they change only the searches' pages.
BOT_CONTROLS = {"rate_limit": "bot_controls", **FORGETS_SEARCHES}


def page_request(services: Services, page: int, size: int | None = None) -> PageRequest:
    settings = services.settings
    return PageRequest.from_query(page, size, default_size=settings.default_page_size, max_size=settings.max_page_size)


def _raw(data: SearchIn) -> dict[str, Any]:
    return msgspec.structs.asdict(data)


@get("/api/v1/market/searches", opt=SEARCHES_VIEW, guards=[require_user], tags=TAGS, summary="List your saved searches",
     responses=error_responses(400, 401, 429))  # fmt: skip
async def list_searches_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    """Your saved searches, newest first, with their last and next run."""
    result, upcoming = await service.list_searches_with_next_runs(
        db, user_id=me.id, page=page_request(services, page, size)
    )
    return result.to_dict([search_out(search, next_run_at=upcoming.get(search.id)) for search in result.items])


@post("/api/v1/market/searches", guards=[require_user], tags=TAGS, summary="Create a saved search",
      status_code=HTTP_201_CREATED, responses=error_responses(400, 401, 409, 422, 429))  # fmt: skip
async def create_search_api(
    db: AsyncSession, services: Services, me: CurrentUser, data: JSONBody[SearchIn]
) -> dict[str, Any]:
    """Create a search; when enabled its first run starts at once, then every ``interval_seconds``."""
    spec = await service.validate_search(_raw(data), settings=services.settings)
    search = await service.create_search(db, user_id=me.id, spec=spec, settings=services.settings)
    return search_out(search)


async def _search_with_next(db: AsyncSession, search: SavedSearch) -> dict[str, Any]:
    upcoming = await service.next_runs(db, search_ids=[search.id])
    return search_out(search, next_run_at=upcoming.get(search.id))


@get("/api/v1/market/searches/{search_id:int}", opt=SEARCHES_VIEW, guards=[require_user], tags=TAGS,
     summary="A saved search", responses=error_responses(401, 404, 429))  # fmt: skip
async def get_search_api(db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> dict[str, Any]:
    search = await service.get_search(db, user_id=me.id, search_id=search_id)
    return await _search_with_next(db, search)


@put("/api/v1/market/searches/{search_id:int}", guards=[require_user], tags=TAGS, summary="Replace a saved search",
     opt=FORGETS_SEARCHES, responses=error_responses(400, 401, 404, 422, 429))  # fmt: skip
async def update_search_api(
    db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId, data: JSONBody[SearchIn]
) -> dict[str, Any]:
    spec = await service.validate_search(_raw(data), settings=services.settings)
    renamed = (await service.get_search(db, user_id=me.id, search_id=search_id)).name != spec.name
    search = await service.update_search(db, user_id=me.id, search_id=search_id, spec=spec, settings=services.settings)
    if renamed:
        await forget_views(services, LISTINGS_AREA, [me.id])  # the listing pages show the search's name
    return await _search_with_next(db, search)


@delete("/api/v1/market/searches/{search_id:int}", guards=[require_user], tags=TAGS, summary="Delete a saved search",
        status_code=HTTP_204_NO_CONTENT, responses=error_responses(401, 404, 429))  # fmt: skip
async def delete_search_api(db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> None:
    """Delete the search, its schedule and its matches (listings other searches matched stay)."""
    await service.delete_search(db, user_id=me.id, search_id=search_id)


@post("/api/v1/market/searches/{search_id:int}/start", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Start a search",
      opt=BOT_CONTROLS, responses=error_responses(401, 404, 409, 429))  # fmt: skip
async def start_search_api(
    db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId
) -> dict[str, Any]:
    search = await service.set_enabled(db, user_id=me.id, search_id=search_id, enabled=True, settings=services.settings)
    return await _search_with_next(db, search)


@post("/api/v1/market/searches/{search_id:int}/stop", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Stop a search",
      opt=BOT_CONTROLS, responses=error_responses(401, 404, 429))  # fmt: skip
async def stop_search_api(db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId) -> dict[str, Any]:
    search = await service.set_enabled(
        db, user_id=me.id, search_id=search_id, enabled=False, settings=services.settings
    )
    return await _search_with_next(db, search)


@post("/api/v1/market/searches/{search_id:int}/run", guards=[require_user], tags=TAGS, summary="Run a search now",
      opt=BOT_CONTROLS, status_code=HTTP_202_ACCEPTED, responses=error_responses(401, 404, 409, 429))  # fmt: skip
async def run_search_api(db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> dict[str, Any]:
    """Queue a run now; follow it at ``/api/v1/runs/{run_id}``."""
    run = await service.run_now(db, user_id=me.id, search_id=search_id)
    return {"run_id": run.id, "status": run.status}


@post("/api/v1/market/searches/start-all", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Start all your searches",
      opt=BOT_CONTROLS, responses=error_responses(401, 409, 429))  # fmt: skip
async def start_all_api(db: AsyncSession, services: Services, me: CurrentUser) -> dict[str, int]:
    return {"changed": await service.set_all_enabled(db, user_id=me.id, enabled=True, settings=services.settings)}


@post("/api/v1/market/searches/stop-all", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Stop all your searches",
      opt=BOT_CONTROLS, responses=error_responses(401, 429))  # fmt: skip
async def stop_all_api(db: AsyncSession, services: Services, me: CurrentUser) -> dict[str, int]:
    return {"changed": await service.set_all_enabled(db, user_id=me.id, enabled=False, settings=services.settings)}


@get("/api/v1/market/searches/{search_id:int}/stats", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS,
     summary="Market statistics of a search", responses=error_responses(401, 404, 429))  # fmt: skip
async def search_stats_api(db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> dict[str, Any]:
    """Median, quartiles and count of the search's active listings, and new listings per day (last 7 days)."""
    return stats_out(await listings.search_stats(db, user_id=me.id, search_id=search_id))


@post("/api/v1/market/preview", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Preview a search without saving it",
      opt={**BOT_CONTROLS, **FORGETS_NOTHING}, responses=error_responses(400, 401, 422, 429))  # fmt: skip
async def preview_api(services: Services, me: CurrentUser, data: JSONBody[SearchIn]) -> dict[str, Any]:
    """Run the search once against its marketplaces (short time limit) and return what it would keep."""
    spec = await service.validate_search(_raw(data), settings=services.settings)
    search = SavedSearch(user_id=me.id, **asdict(spec))
    return preview_out(await preview(search, settings=services.settings, fetcher=services.fetcher))


@get("/api/v1/market/listings", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS,
     summary="Listings your searches found", dependencies=LISTING_FILTERS,
     responses=error_responses(400, 401, 404, 422, 429))  # fmt: skip
async def list_listings_api(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    filter_values: dict[str, str],
    page: PageNumber = 1,
    size: PageSize = None,
) -> dict[str, Any]:
    """Filter by search id, marketplace, price range, matched in the last ``days``, status; sort by
    ``newest``, ``price_asc``, ``price_desc`` or ``deal``. A cross-posted item is listed once."""
    filters = listings.parse_filters(**filter_values)
    result = await listings.list_listings(db, user_id=me.id, filters=filters, page=page_request(services, page, size))
    return result.to_dict([row_out(row) for row in result.items])


@get("/api/v1/market/listings/export", guards=[require_user], tags=TAGS, summary="Export your listings",
     dependencies=LISTING_FILTERS, responses=error_responses(400, 401, 404, 422, 429))  # fmt: skip
async def export_listings_api(
    db: AsyncSession,
    me: CurrentUser,
    filter_values: dict[str, str],
    format: Text = "json",
) -> Response[Any]:
    """The filtered listings (up to 10,000) as ``csv`` or ``json``, as a download."""
    if format not in ("csv", "json"):
        raise InvalidInput(detail={"format": "Export as csv or json."})
    filters = listings.parse_filters(**filter_values)
    rows = await listings.export_listings(db, user_id=me.id, filters=filters)
    return export_response(rows, format)


@get("/api/v1/market/listings/{listing_id:int}", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS,
     summary="A listing", responses=error_responses(401, 404, 429))  # fmt: skip
async def get_listing_api(db: AsyncSession, me: CurrentUser, listing_id: ObjectId) -> dict[str, Any]:
    """The listing with its price history, deal score, your searches that matched it and its cross-posts."""
    return detail_out(await listings.listing_detail(db, user_id=me.id, listing_id=listing_id))


@post("/api/v1/market/listings/{listing_id:int}/seen", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Mark a listing seen", opt=FORGETS_LISTINGS,
      responses=error_responses(401, 404, 429))  # fmt: skip
async def mark_seen_api(db: AsyncSession, me: CurrentUser, listing_id: ObjectId) -> dict[str, Any]:
    """Mark the listing seen in every one of your searches that matched it (the "new" badge goes away)."""
    listing = await listings.get_listing(db, user_id=me.id, listing_id=listing_id)
    await listings.mark_seen(db, user_id=me.id, listing_id=listing.id)
    return {"id": listing.id, "seen": True}


@get("/api/v1/market/favorites", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS, summary="Your favorite listings",
     responses=error_responses(400, 401, 429))  # fmt: skip
async def list_favorites_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    result = await listings.list_favorites(db, user_id=me.id, page=page_request(services, page, size))
    return result.to_dict([favorite_out(favorite, listing) for favorite, listing in result.items])


@post("/api/v1/market/favorites", guards=[require_user], tags=TAGS, summary="Favorite a listing", opt=FORGETS_LISTINGS,
      status_code=HTTP_201_CREATED, responses=error_responses(400, 401, 404, 422, 429))  # fmt: skip
async def save_favorite_api(db: AsyncSession, me: CurrentUser, data: JSONBody[FavoriteIn]) -> dict[str, Any]:
    """Favorite a listing your searches found, with a note (favoriting it again replaces the note)."""
    favorite = await listings.save_favorite(db, user_id=me.id, listing_id=data.listing_id, note=data.note)
    return favorite_out(favorite)


@patch("/api/v1/market/favorites/{favorite_id:int}", guards=[require_user], tags=TAGS, opt=FORGETS_LISTINGS,
       summary="Change a favorite's note", responses=error_responses(400, 401, 404, 422, 429))  # fmt: skip
async def update_favorite_api(
    db: AsyncSession, me: CurrentUser, favorite_id: ObjectId, data: JSONBody[FavoritePatch]
) -> dict[str, Any]:
    favorite = await listings.get_favorite(db, user_id=me.id, favorite_id=favorite_id)
    favorite = await listings.save_favorite(db, user_id=me.id, listing_id=favorite.listing_id, note=data.note)
    return favorite_out(favorite)


@delete("/api/v1/market/favorites/{favorite_id:int}", guards=[require_user], tags=TAGS, summary="Remove a favorite",
        opt=FORGETS_LISTINGS,
        status_code=HTTP_204_NO_CONTENT, responses=error_responses(401, 404, 429))  # fmt: skip
async def delete_favorite_api(db: AsyncSession, me: CurrentUser, favorite_id: ObjectId) -> None:
    await listings.delete_favorite(db, user_id=me.id, favorite_id=favorite_id)


@get("/api/v1/market/price-alerts", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS, summary="Your price alerts",
     responses=error_responses(400, 401, 429))  # fmt: skip
async def list_price_alerts_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    result = await listings.list_price_alerts(db, user_id=me.id, page=page_request(services, page, size))
    return result.to_dict([price_alert_out(alert, listing) for alert, listing in result.items])


@post("/api/v1/market/price-alerts", guards=[require_user], tags=TAGS, summary="Watch a listing's price",
      opt=FORGETS_LISTINGS,
      status_code=HTTP_201_CREATED, responses=error_responses(400, 401, 404, 409, 422, 429))  # fmt: skip
async def save_price_alert_api(db: AsyncSession, me: CurrentUser, data: JSONBody[PriceAlertIn]) -> dict[str, Any]:
    """Alert when the listing's price falls to ``target_price`` or by ``drop_percent`` % (one alert per listing)."""
    alert = await listings.save_price_alert(
        db, user_id=me.id, listing_id=data.listing_id, target_price=data.target_price, drop_percent=data.drop_percent
    )
    return price_alert_out(alert)


@delete("/api/v1/market/price-alerts/{alert_id:int}", guards=[require_user], tags=TAGS, opt=FORGETS_LISTINGS,
        summary="Delete a price alert", status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(401, 404, 429))  # fmt: skip
async def delete_price_alert_api(db: AsyncSession, me: CurrentUser, alert_id: ObjectId) -> None:
    await listings.delete_price_alert(db, user_id=me.id, alert_id=alert_id)


@get("/api/v1/market/alerts", opt=LISTINGS_VIEW, guards=[require_user], tags=TAGS, summary="Your triggered alerts",
     responses=error_responses(400, 401, 429))  # fmt: skip
async def list_alerts_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1, size: PageSize = None
) -> dict[str, Any]:
    """New-listing and price-drop alerts, newest first."""
    result = await listings.list_alerts(db, user_id=me.id, page=page_request(services, page, size))
    return result.to_dict([alert_out(alert) for alert in result.items])


@post("/api/v1/market/alerts/read", guards=[require_user], tags=TAGS,
      status_code=HTTP_200_OK, summary="Mark your alerts read",
      responses=error_responses(401, 429))  # fmt: skip
async def read_alerts_api(db: AsyncSession, me: CurrentUser) -> dict[str, int]:
    return {"marked": await listings.mark_alerts_read(db, user_id=me.id)}


API_ROUTES = [
    list_searches_api,
    create_search_api,
    get_search_api,
    update_search_api,
    delete_search_api,
    start_search_api,
    stop_search_api,
    run_search_api,
    start_all_api,
    stop_all_api,
    search_stats_api,
    preview_api,
    list_listings_api,
    export_listings_api,
    get_listing_api,
    mark_seen_api,
    list_favorites_api,
    save_favorite_api,
    update_favorite_api,
    delete_favorite_api,
    list_price_alerts_api,
    save_price_alert_api,
    delete_price_alert_api,
    list_alerts_api,
    read_alerts_api,
]
