"""KSL Classifieds (Utah): the search page is Next.js; listings sit in ``__NEXT_DATA__``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from spyglass.market.adapters.base import (
    FILTER_KEYWORDS,
    FILTER_LOCATION,
    FILTER_PRICE,
    Politeness,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.adapters.common import search_terms
from spyglass.market.adapters.embedded import EmbeddedJsonAdapter, first_image
from spyglass.market.adapters.parsing import canonical_url, parse_datetime, parse_price, text_value
from spyglass.market.adapters.registry import register_adapter

KM_PER_MILE = 1.609344


class KslAdapter(EmbeddedJsonAdapter):
    """``/search/keyword/<words>/priceFrom/<n>/priceTo/<n>/zip/<zip>/miles/<n>`` (path segments, not a query)."""

    name = "ksl"
    label = "KSL Classifieds"
    default_base = "https://classifieds.ksl.com"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE, FILTER_LOCATION})
    politeness = Politeness(min_interval_seconds=900, delay_seconds=5.0)
    listing_keys = ("id", "title", "price", "city")

    def search_url(self, query: SearchQuery) -> str:
        segments = ["search"]
        if terms := search_terms(query):
            segments += ["keyword", quote(terms, safe="")]
        if query.price_min is not None:
            segments += ["priceFrom", str(int(query.price_min))]
        if query.price_max is not None:
            segments += ["priceTo", str(int(query.price_max))]
        if query.location is not None and query.location.postal_code and query.radius_km:
            segments += ["zip", query.location.postal_code, "miles", str(max(1, round(query.radius_km / KM_PER_MILE)))]
        return f"{self.base_url(query)}/" + "/".join(segments)

    def listing(self, item: dict[str, Any], page_url: str) -> ScrapedListing | None:
        title = text_value(item.get("title"))
        if not title or str(item.get("status") or "active").lower() not in ("active", ""):
            return None
        price, currency = parse_price(item.get("price"), "USD")
        item_id = text_value(item["id"])
        if not item_id:
            return None
        place = ", ".join(text_value(p) for p in (item.get("city"), item.get("state")) if text_value(p)) or None
        return ScrapedListing(
            marketplace=self.name,
            external_id=item_id,
            url=canonical_url(f"https://classifieds.ksl.com/listing/{item_id}"),
            title=title,
            price=price,
            currency=currency if price is not None else None,
            description=text_value(item.get("description")),
            location=place,
            latitude=_float(item.get("lat")),
            longitude=_float(item.get("lon")),
            images=first_image(item.get("photo") or item.get("photos")),
            seller=text_value(item.get("sellerName")) or None,
            condition=text_value(item.get("newUsed")).lower() or None,
            posted_at=parse_datetime(item.get("createTime") or item.get("displayTime")),
        )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTER = KslAdapter()
register_adapter(ADAPTER)
