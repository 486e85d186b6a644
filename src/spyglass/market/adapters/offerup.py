"""OfferUp: the search page is Next.js; results are ``listing`` objects inside ``__NEXT_DATA__``'s feed tiles."""

from __future__ import annotations

from typing import Any

from spyglass.market.adapters.base import FILTER_KEYWORDS, FILTER_PRICE, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import build_url, search_terms
from spyglass.market.adapters.embedded import EmbeddedJsonAdapter, first_image
from spyglass.market.adapters.parsing import canonical_url, parse_datetime, parse_price, text_value
from spyglass.market.adapters.registry import register_adapter


class OfferUpAdapter(EmbeddedJsonAdapter):
    name = "offerup"
    label = "OfferUp"
    default_base = "https://offerup.com"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE})
    politeness = Politeness(min_interval_seconds=900, delay_seconds=5.0)
    listing_keys = ("listingId", "title", "price")

    def search_url(self, query: SearchQuery) -> str:
        params = {"q": search_terms(query), "price_min": query.price_min, "price_max": query.price_max}
        if query.location is not None and query.location.postal_code:
            params["zipcode"] = query.location.postal_code
        return build_url(self.base_url(query), "/search", params)

    def listing(self, item: dict[str, Any], page_url: str) -> ScrapedListing | None:
        title = text_value(item.get("title"))
        if not title:
            return None
        price, currency = parse_price(item.get("price"), "USD")
        listing_id = text_value(item["listingId"])
        if not listing_id:
            return None
        return ScrapedListing(
            marketplace=self.name,
            external_id=listing_id,
            url=canonical_url(f"https://offerup.com/item/detail/{listing_id}"),
            title=title,
            price=price,
            currency=currency if price is not None else None,
            location=text_value(item.get("locationName")) or None,
            images=first_image(item.get("image")),
            condition=text_value(item.get("conditionText")) or None,
            posted_at=parse_datetime(item.get("postDate")),
        )


ADAPTER = OfferUpAdapter()
register_adapter(ADAPTER)
