"""Mercari (US): the Next.js search page embeds the items; prices are in cents, ids look like ``m12345678901``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from spyglass.market.adapters.base import (
    FILTER_CONDITION,
    FILTER_KEYWORDS,
    FILTER_PRICE,
    Politeness,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.adapters.common import build_url, search_terms
from spyglass.market.adapters.embedded import EmbeddedJsonAdapter, first_image
from spyglass.market.adapters.parsing import canonical_url, parse_datetime, text_value
from spyglass.market.adapters.registry import register_adapter

#: Mercari's item condition ids.
CONDITIONS = {1: "new", 2: "like new", 3: "good", 4: "fair", 5: "poor"}
CONDITION_IDS = {"new": "1", "like new": "2", "good": "3", "fair": "4", "poor": "5", "used": "2-3-4-5"}
SOLD = frozenset({"sold_out", "trading", "sold"})


class MercariAdapter(EmbeddedJsonAdapter):
    name = "mercari"
    label = "Mercari"
    default_base = "https://www.mercari.com"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE, FILTER_CONDITION})
    politeness = Politeness(min_interval_seconds=900, delay_seconds=5.0)
    listing_keys = ("id", "name", "price", "status")

    def search_url(self, query: SearchQuery) -> str:
        params: dict[str, Any] = {"keyword": search_terms(query)}
        params["minPrice"] = int(query.price_min * 100) if query.price_min is not None else None
        params["maxPrice"] = int(query.price_max * 100) if query.price_max is not None else None
        params["itemConditions"] = CONDITION_IDS.get((query.condition or "").lower())
        return build_url(self.base_url(query), "/search/", params)

    def listing(self, item: dict[str, Any], page_url: str) -> ScrapedListing | None:
        item_id, title = text_value(item["id"]), text_value(item.get("name"))
        if not title or not item_id.startswith("m") or str(item.get("status")) in SOLD:
            return None
        try:
            price = Decimal(int(item["price"])) / 100
        except (TypeError, ValueError):
            price = None
        condition = item.get("itemCondition") or item.get("conditionId")
        if isinstance(condition, dict):
            condition = condition.get("name") or condition.get("id")
        if isinstance(condition, int) or (isinstance(condition, str) and condition.isdigit()):
            condition = CONDITIONS.get(int(condition))
        seller = item.get("seller")
        return ScrapedListing(
            marketplace=self.name,
            external_id=item_id,
            url=canonical_url(f"https://www.mercari.com/us/item/{item_id}/"),
            title=title,
            price=price,
            currency="USD" if price is not None else None,
            description=text_value(item.get("description")),
            images=first_image(item.get("photos") or item.get("thumbnails")),
            seller=(text_value(seller.get("name")) or None) if isinstance(seller, dict) else None,
            condition=text_value(condition).lower() or None,
            posted_at=parse_datetime(item.get("created") or item.get("updated")),
        )


ADAPTER = MercariAdapter()
register_adapter(ADAPTER)
