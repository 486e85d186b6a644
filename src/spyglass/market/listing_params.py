"""The listing filters, exports and route options shared by the JSON API and the pages.

Both take the same seven query parameters; :data:`LISTING_FILTERS` injects them as ``filter_values`` (the
given, non-blank ones by name, which ``listings.parse_filters`` validates), so a new filter is added once.

The market's cached views (core/view_cache.py) come in two areas, so that a write forgets only the pages
that show what it changed: :data:`SEARCHES_AREA` (the searches dashboard and API: a search's settings, its
runs, the quota, the unread-alert count) and :data:`LISTINGS_AREA` (listings, a listing, favorites, price
alerts, triggered alerts, a search's statistics; of a search they show only its name, in the filter menu and
as "found by"). An unsafe request under the market's paths forgets both unless its route declares less
(:data:`FORGETS_SEARCHES`, :data:`FORGETS_LISTINGS`, :data:`FORGETS_NOTHING`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Response
from litestar.di import Provide
from litestar.params import QueryParameter

from spyglass.market.listings import ListingRow
from spyglass.market.schemas import listings_csv, row_out

Text = Annotated[str | None, QueryParameter(max_length=64)]


def listing_filter_values(
    search: Text = None,
    marketplace: Text = None,
    price_min: Text = None,
    price_max: Text = None,
    days: Text = None,
    status: Text = None,
    sort: Text = None,
) -> dict[str, str]:
    """The listing filter query parameters that were given, blank ones left out."""
    given = {
        "search": search, "marketplace": marketplace, "price_min": price_min, "price_max": price_max,
        "days": days, "status": status, "sort": sort,
    }  # fmt: skip
    return {key: value for key, value in given.items() if value}


LISTING_FILTERS = {"filter_values": Provide(listing_filter_values, sync_to_thread=False)}

SEARCHES_AREA = "market.searches"
LISTINGS_AREA = "market.listings"
#: Both areas: what a change to the listings and the searches together (a run, a deleted search) forgets.
MARKET_AREAS = (SEARCHES_AREA, LISTINGS_AREA)

#: Route options of the market's read routes (pages and API): answered from the user's view cache of the area
#: and read from the read replica when one is configured.
SEARCHES_VIEW = {"view_cache": SEARCHES_AREA, "replica_ok": True}
LISTINGS_VIEW = {"view_cache": LISTINGS_AREA, "replica_ok": True}

#: Route options of market writes that change only one area's pages (or none: a preview stores nothing).
FORGETS_SEARCHES = {"view_forgets": (SEARCHES_AREA,)}
FORGETS_LISTINGS = {"view_forgets": (LISTINGS_AREA,)}
FORGETS_NOTHING: dict[str, tuple[str, ...]] = {"view_forgets": ()}


def export_response(rows: list[ListingRow], export_format: str) -> Response[Any]:
    """The exported listing rows as a ``csv`` or ``json`` download."""
    if export_format == "csv":
        return Response(
            content=listings_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="spyglass-listings.csv"'},
        )
    return Response(
        content=json.dumps([row_out(row) for row in rows], ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="spyglass-listings.json"'},
    )
