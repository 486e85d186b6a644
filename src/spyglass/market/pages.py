"""The market pages: searches dashboard, search editor with live preview, listings, a listing, favorites, alerts.

Forms post with the CSRF field and answer with a redirect (or the form again, with what to fix).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Response, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_user
from spyglass.core.errors import Conflict, InvalidInput
from spyglass.core.services import Services
from spyglass.core.view_cache import forget_views
from spyglass.market import listings, quotas, service
from spyglass.market.adapters.registry import all_adapters
from spyglass.market.api import page_request
from spyglass.market.listing_params import (
    FORGETS_LISTINGS,
    FORGETS_NOTHING,
    FORGETS_SEARCHES,
    LISTING_FILTERS,
    LISTINGS_AREA,
    LISTINGS_VIEW,
    SEARCHES_VIEW,
    export_response,
)
from spyglass.market.matching import CONDITION_LABELS
from spyglass.market.models import AlertMode, SavedSearch
from spyglass.market.schemas import deal_label
from spyglass.market.searching import preview
from spyglass.web.templating import flash

ObjectId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000)]
Req = Request[Any, Any, Any]
GUARDS = [require_user]
#: Starting, stopping and running searches: rate-limited as bot controls; they change only the searches' pages.
BOT_CONTROLS = {"rate_limit": "bot_controls", **FORGETS_SEARCHES}
SEARCH_FIELDS = (
    "name", "keywords", "excluded_words", "price_min", "price_max", "condition", "location", "radius_km",
    "options", "use_browser", "interval_seconds", "enabled", "alert_mode",
)  # fmt: skip


def _see_other(url: str) -> Redirect:
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


async def _form(request: Req) -> dict[str, Any]:
    submitted = await request.form()
    raw: dict[str, Any] = {key: str(submitted.get(key, "")) for key in SEARCH_FIELDS}
    raw["marketplaces"] = [str(value) for value in submitted.getall("marketplaces", [])]
    raw["use_browser"] = "use_browser" in submitted
    raw["enabled"] = "enabled" in submitted
    minutes = str(submitted.get("interval_minutes", "")).strip()
    if minutes:
        raw["interval_seconds"] = str(int(minutes) * 60) if minutes.isdecimal() and len(minutes) < 10 else minutes
    raw["interval_minutes"] = minutes
    return raw


def _editor(
    *,
    search: SavedSearch | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    stats: listings.SearchStats | None = None,
    status_code: int = 200,
) -> Template:
    if "interval_minutes" not in values and str(values.get("interval_seconds") or "").isdecimal():
        values = {**values, "interval_minutes": int(values["interval_seconds"]) // 60}
    return Template(
        "market/search_form.html",
        context={
            "search": search,
            "form": values,
            "errors": errors or {},
            "stats": stats,
            "adapters": all_adapters(),
            "conditions": [("", "Any condition"), *CONDITION_LABELS.items()],
            "alert_modes": [
                (AlertMode.INSTANT.value, "Instant"),
                (AlertMode.DIGEST.value, "Daily digest"),
                (AlertMode.OFF.value, "Off"),
            ],
        },
        status_code=status_code,
    )


# -- searches --------------------------------------------------------------------------------------


@get("/market", guards=GUARDS, include_in_schema=False)
async def market_home() -> Redirect:
    return _see_other("/market/searches")


@get("/market/searches", opt=SEARCHES_VIEW, guards=GUARDS, include_in_schema=False)
async def searches_page(db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1) -> Template:
    """The dashboard: every search with its status, last and next run, listings found and errors."""
    found, next_runs = await service.list_searches_with_next_runs(db, user_id=me.id, page=page_request(services, page))
    ids = [search.id for search in found.items]
    return Template(
        "market/searches.html",
        context={
            "found": found,
            "next_runs": next_runs,
            "active_runs": await service.active_runs(db, search_ids=ids),
            "unread": await listings.unread_alerts(db, user_id=me.id),
            "quota": (await quotas.quotas_for(db, user_id=me.id, settings=services.settings)).max_searches,
        },
    )


@get("/market/searches/new", guards=GUARDS, include_in_schema=False)
async def new_search_page() -> Template:
    return _editor(search=None, values=service.search_form_values(None))


@post("/market/searches", guards=GUARDS, include_in_schema=False)
async def create_search_page(request: Req, db: AsyncSession, services: Services, me: CurrentUser) -> Response[Any]:
    raw = await _form(request)
    try:
        spec = await service.validate_search(raw, settings=services.settings)
        search = await service.create_search(db, user_id=me.id, spec=spec, settings=services.settings)
    except InvalidInput as exc:
        return _editor(search=None, values=raw, errors=exc.detail, status_code=422)
    except Conflict as exc:
        return _editor(search=None, values=raw, errors={"form": exc.message}, status_code=409)
    flash(
        request, f"Search “{search.name}” saved." + (" Its first run starts now." if search.enabled else ""), "success"
    )
    return _see_other("/market/searches")


@get("/market/searches/{search_id:int}", guards=GUARDS, include_in_schema=False)
async def edit_search_page(db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> Template:
    search = await service.get_search(db, user_id=me.id, search_id=search_id)
    stats = await listings.search_stats(db, user_id=me.id, search_id=search.id)
    return _editor(search=search, values=service.search_form_values(search), stats=stats)


@post("/market/searches/{search_id:int}", guards=GUARDS, include_in_schema=False, opt=FORGETS_SEARCHES)
async def update_search_page(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId
) -> Response[Any]:
    search = await service.get_search(db, user_id=me.id, search_id=search_id)
    raw = await _form(request)
    try:
        spec = await service.validate_search(raw, settings=services.settings)
        renamed = search.name != spec.name
        await service.update_search(db, user_id=me.id, search_id=search.id, spec=spec, settings=services.settings)
    except InvalidInput as exc:
        return _editor(search=search, values=raw, errors=exc.detail, status_code=422)
    except Conflict as exc:
        return _editor(search=search, values=raw, errors={"form": exc.message}, status_code=409)
    if renamed:
        await forget_views(services, LISTINGS_AREA, [me.id])  # the listing pages show the search's name
    flash(request, f"Search “{spec.name}” updated.", "success")
    return _see_other("/market/searches")


@post("/market/searches/preview", guards=GUARDS, include_in_schema=False, opt={**BOT_CONTROLS, **FORGETS_NOTHING})
async def preview_page(request: Req, services: Services, me: CurrentUser) -> Template:
    """The editor's live preview (an htmx fragment): what the search would find now, nothing stored."""
    raw = await _form(request)
    raw["name"] = raw.get("name") or "Preview"
    try:
        spec = await service.validate_search(raw, settings=services.settings)
    except InvalidInput as exc:
        return Template("market/_preview.html", context={"errors": exc.detail, "collected": None})
    search = SavedSearch(user_id=me.id, **asdict(spec))
    collected = await preview(search, settings=services.settings, fetcher=services.fetcher)
    return Template("market/_preview.html", context={"errors": {}, "collected": collected})


@post("/market/searches/{search_id:int}/delete", guards=GUARDS, include_in_schema=False)
async def delete_search_page(request: Req, db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> Redirect:
    search = await service.delete_search(db, user_id=me.id, search_id=search_id)
    flash(request, f"Search “{search.name}” deleted.", "success")
    return _see_other("/market/searches")


@post("/market/searches/{search_id:int}/start", guards=GUARDS, include_in_schema=False, opt=BOT_CONTROLS)
async def start_search_page(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId
) -> Redirect:
    search = await service.set_enabled(db, user_id=me.id, search_id=search_id, enabled=True, settings=services.settings)
    flash(request, f"Search “{search.name}” started.", "success")
    return _see_other("/market/searches")


@post("/market/searches/{search_id:int}/stop", guards=GUARDS, include_in_schema=False, opt=BOT_CONTROLS)
async def stop_search_page(
    request: Req, db: AsyncSession, services: Services, me: CurrentUser, search_id: ObjectId
) -> Redirect:
    search = await service.set_enabled(
        db, user_id=me.id, search_id=search_id, enabled=False, settings=services.settings
    )
    flash(request, f"Search “{search.name}” stopped.", "success")
    return _see_other("/market/searches")


@post("/market/searches/{search_id:int}/run", guards=GUARDS, include_in_schema=False, opt=BOT_CONTROLS)
async def run_search_page(request: Req, db: AsyncSession, me: CurrentUser, search_id: ObjectId) -> Redirect:
    try:
        run = await service.run_now(db, user_id=me.id, search_id=search_id)
    except Conflict as exc:
        flash(request, exc.message, "warning")
        return _see_other("/market/searches")
    flash(request, "Run queued; it starts within a second or two.", "success")
    return _see_other(f"/runs/{run.id}")


@post("/market/searches/start-all", guards=GUARDS, include_in_schema=False, opt=BOT_CONTROLS)
async def start_all_page(request: Req, db: AsyncSession, services: Services, me: CurrentUser) -> Redirect:
    changed = await service.set_all_enabled(db, user_id=me.id, enabled=True, settings=services.settings)
    flash(request, f"Started {changed} {'search' if changed == 1 else 'searches'}.", "success")
    return _see_other("/market/searches")


@post("/market/searches/stop-all", guards=GUARDS, include_in_schema=False, opt=BOT_CONTROLS)
async def stop_all_page(request: Req, db: AsyncSession, services: Services, me: CurrentUser) -> Redirect:
    changed = await service.set_all_enabled(db, user_id=me.id, enabled=False, settings=services.settings)
    flash(request, f"Stopped {changed} {'search' if changed == 1 else 'searches'}.", "success")
    return _see_other("/market/searches")


# -- listings ------------------------------------------------------------------------------------


@get("/market/listings", opt=LISTINGS_VIEW, guards=GUARDS, include_in_schema=False, dependencies=LISTING_FILTERS)
async def listings_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    filter_values: dict[str, str],
    page: PageNumber = 1,
) -> Template:
    """The listings the user's searches found, filtered, sorted and paginated."""
    errors: dict[str, str] = {}
    try:
        filters = listings.parse_filters(**filter_values)
        found = await listings.list_listings(db, user_id=me.id, filters=filters, page=page_request(services, page))
    except InvalidInput as exc:
        errors = exc.detail
        found = None
    return Template(
        "market/listings.html",
        context={
            "found": found,
            "filters": filter_values,
            "errors": errors,
            "searches": await listings.search_names(db, user_id=me.id),
            "adapters": all_adapters(),
            "sorts": listings.SORTS,
            "deal_label": deal_label,
        },
        status_code=422 if errors else 200,
    )


@get("/market/listings/export.csv", guards=GUARDS, include_in_schema=False, dependencies=LISTING_FILTERS)
async def export_csv_page(
    db: AsyncSession,
    me: CurrentUser,
    filter_values: dict[str, str],
) -> Response[str]:
    """The filtered listings as a CSV download."""
    rows = await listings.export_listings(db, user_id=me.id, filters=listings.parse_filters(**filter_values))
    return export_response(rows, "csv")


@get("/market/listings/export.json", guards=GUARDS, include_in_schema=False, dependencies=LISTING_FILTERS)
async def export_json_page(
    db: AsyncSession,
    me: CurrentUser,
    filter_values: dict[str, str],
) -> Response[Any]:
    """The filtered listings as a JSON download."""
    rows = await listings.export_listings(db, user_id=me.id, filters=listings.parse_filters(**filter_values))
    return export_response(rows, "json")


def price_chart(history: list[Any], width: int = 560, height: int = 160) -> dict[str, Any] | None:
    """Points of a small SVG step chart of the price history (None with fewer than two prices)."""
    points = [(entry.observed_at, float(entry.price)) for entry in history if entry.price is not None]
    if len(points) < 2:
        return None
    pad = 24
    times = [moment.timestamp() for moment, _ in points]
    prices = [price for _, price in points]
    t0, t1 = min(times), max(times)
    p0, p1 = min(prices), max(prices)
    span_t = (t1 - t0) or 1.0
    span_p = (p1 - p0) or 1.0

    def x(t: float) -> float:
        return round(pad + (t - t0) / span_t * (width - 2 * pad), 1)

    def y(p: float) -> float:
        return round(height - pad - (p - p0) / span_p * (height - 2 * pad), 1)

    path: list[str] = []
    for index, (t, p) in enumerate(zip(times, prices, strict=True)):
        if index == 0:
            path.append(f"M{x(t)},{y(p)}")
        else:
            path.append(f"H{x(t)} V{y(p)}")
    path.append(f"H{width - pad}")
    return {
        "width": width,
        "height": height,
        "path": " ".join(path),
        "dots": [{"x": x(t), "y": y(p), "price": p} for t, p in zip(times, prices, strict=True)],
        "high": p1,
        "low": p0,
    }


@get("/market/listings/{listing_id:int}", opt=LISTINGS_VIEW, guards=GUARDS, include_in_schema=False)
async def listing_page(db: AsyncSession, services: Services, me: CurrentUser, listing_id: ObjectId) -> Template:
    """One listing: details, price history chart, deal score, cross-posts, favorite and price alert forms.

    Opening it marks the user's matches of it seen (the "new" badge goes away), in its own short write
    transaction since a GET's session only reads; nothing is written when they already are.
    """
    detail = await listings.listing_detail(db, user_id=me.id, listing_id=listing_id)
    if any(not match.seen for match in detail.matches):
        async with services.db.session(write=True) as session:
            await listings.mark_seen(session, user_id=me.id, listing_id=detail.listing.id)
        await forget_views(services, LISTINGS_AREA, [me.id])  # the "new" badges are gone from every page
    deals = [match.deal_percent for match in detail.matches if match.deal_percent is not None]
    return Template(
        "market/listing.html",
        context={
            "detail": detail,
            "listing": detail.listing,
            "deal": deal_label(max(deals)) if deals else None,
            "chart": price_chart(detail.history),
            "errors": {},
        },
    )


@post("/market/listings/{listing_id:int}/seen", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def mark_seen_page(db: AsyncSession, me: CurrentUser, listing_id: ObjectId) -> Redirect:
    listing = await listings.get_listing(db, user_id=me.id, listing_id=listing_id)
    await listings.mark_seen(db, user_id=me.id, listing_id=listing.id)
    return _see_other(f"/market/listings/{listing.id}")


@post("/market/listings/{listing_id:int}/favorite", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def favorite_page(request: Req, db: AsyncSession, me: CurrentUser, listing_id: ObjectId) -> Response[Any]:
    submitted = await request.form()
    try:
        await listings.save_favorite(db, user_id=me.id, listing_id=listing_id, note=submitted.get("note", ""))
    except InvalidInput as exc:
        flash(request, "; ".join(exc.detail.values()), "error")
        return _see_other(f"/market/listings/{listing_id}")
    flash(request, "Saved to your favorites.", "success")
    return _see_other(f"/market/listings/{listing_id}")


@post("/market/listings/{listing_id:int}/price-alert", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def price_alert_page(request: Req, db: AsyncSession, me: CurrentUser, listing_id: ObjectId) -> Response[Any]:
    submitted = await request.form()
    try:
        await listings.save_price_alert(
            db,
            user_id=me.id,
            listing_id=listing_id,
            target_price=submitted.get("target_price") or None,
            drop_percent=submitted.get("drop_percent") or None,
        )
    except InvalidInput as exc:
        flash(request, "Price alert not saved: " + "; ".join(exc.detail.values()), "error")
        return _see_other(f"/market/listings/{listing_id}")
    except Conflict as exc:
        flash(request, exc.message, "error")
        return _see_other(f"/market/listings/{listing_id}")
    flash(request, "Price alert saved.", "success")
    return _see_other(f"/market/listings/{listing_id}")


# -- favorites and alerts -------------------------------------------------------------------------


@get("/market/favorites", opt=LISTINGS_VIEW, guards=GUARDS, include_in_schema=False)
async def favorites_page(db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1) -> Template:
    found = await listings.list_favorites(db, user_id=me.id, page=page_request(services, page))
    return Template("market/favorites.html", context={"found": found})


@post("/market/favorites/{favorite_id:int}", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def update_favorite_page(request: Req, db: AsyncSession, me: CurrentUser, favorite_id: ObjectId) -> Redirect:
    favorite = await listings.get_favorite(db, user_id=me.id, favorite_id=favorite_id)
    submitted = await request.form()
    try:
        await listings.save_favorite(db, user_id=me.id, listing_id=favorite.listing_id, note=submitted.get("note", ""))
    except InvalidInput as exc:
        flash(request, "; ".join(exc.detail.values()), "error")
        return _see_other("/market/favorites")
    flash(request, "Note saved.", "success")
    return _see_other("/market/favorites")


@post("/market/favorites/{favorite_id:int}/delete", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def delete_favorite_page(request: Req, db: AsyncSession, me: CurrentUser, favorite_id: ObjectId) -> Redirect:
    await listings.delete_favorite(db, user_id=me.id, favorite_id=favorite_id)
    flash(request, "Removed from your favorites.", "success")
    return _see_other("/market/favorites")


@get("/market/alerts", opt=LISTINGS_VIEW, guards=GUARDS, include_in_schema=False)
async def alerts_page(db: AsyncSession, services: Services, me: CurrentUser, page: PageNumber = 1) -> Template:
    """Triggered alerts (new listings, price drops) and the price alerts the user set."""
    found = await listings.list_alerts(db, user_id=me.id, page=page_request(services, page))
    watching = await listings.list_price_alerts(db, user_id=me.id, page=page_request(services, 1, 100))
    return Template("market/alerts.html", context={"found": found, "watching": watching})


@post("/market/alerts/read", guards=GUARDS, include_in_schema=False)
async def read_alerts_page(request: Req, db: AsyncSession, me: CurrentUser) -> Redirect:
    marked = await listings.mark_alerts_read(db, user_id=me.id)
    flash(request, f"Marked {marked} {'alert' if marked == 1 else 'alerts'} read.", "success")
    return _see_other("/market/alerts")


@post("/market/price-alerts/{alert_id:int}/delete", guards=GUARDS, include_in_schema=False, opt=FORGETS_LISTINGS)
async def delete_price_alert_page(request: Req, db: AsyncSession, me: CurrentUser, alert_id: ObjectId) -> Redirect:
    await listings.delete_price_alert(db, user_id=me.id, alert_id=alert_id)
    flash(request, "Price alert deleted.", "success")
    return _see_other("/market/alerts")


PAGE_ROUTES = [
    market_home,
    searches_page,
    new_search_page,
    create_search_page,
    preview_page,
    start_all_page,
    stop_all_page,
    edit_search_page,
    update_search_page,
    delete_search_page,
    start_search_page,
    stop_search_page,
    run_search_page,
    listings_page,
    export_csv_page,
    export_json_page,
    listing_page,
    mark_seen_page,
    favorite_page,
    price_alert_page,
    favorites_page,
    update_favorite_page,
    delete_favorite_page,
    alerts_page,
    read_alerts_page,
    delete_price_alert_page,
]
