"""The listing filters and exports shared by the JSON API and the pages.

Both take the same seven query parameters; :data:`LISTING_FILTERS` injects them as ``filter_values`` (the
given, non-blank ones by name, which ``listings.parse_filters`` validates), so a new filter is added once.
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

#: Route options of the market's read routes (pages and API): answered from the user's view cache
#: (core/view_cache.py) and read from the read replica when one is configured.
MARKET_VIEW = {"view_cache": "market", "replica_ok": True}


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
