"""Poshmark: the search page embeds its grid as ``window.__INITIAL_STATE__`` (or ``__NEXT_DATA__``) JSON."""

from __future__ import annotations

import re
from typing import Any

from spyglass.market.adapters.base import FILTER_KEYWORDS, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import build_url, search_terms
from spyglass.market.adapters.embedded import EmbeddedJsonAdapter, first_image
from spyglass.market.adapters.parsing import canonical_url, parse_datetime, parse_price, text_value
from spyglass.market.adapters.registry import register_adapter

CONDITIONS = {"nwt": "new", "nwot": "like new", "ret": "new", "not_nwt": "used"}
SOLD = frozenset({"sold_out", "not_for_sale", "sold"})


class PoshmarkAdapter(EmbeddedJsonAdapter):
    name = "poshmark"
    label = "Poshmark"
    default_base = "https://poshmark.com"
    remote_filters = frozenset({FILTER_KEYWORDS})
    politeness = Politeness(min_interval_seconds=900, delay_seconds=5.0)
    listing_keys = ("id", "title", "price_amount")

    def search_url(self, query: SearchQuery) -> str:
        return build_url(self.base_url(query), "/search", {"query": search_terms(query), "type": "listings"})

    def listing(self, item: dict[str, Any], page_url: str) -> ScrapedListing | None:
        item_id, title = text_value(item["id"]), text_value(item.get("title"))
        status = ((item.get("inventory") or {}).get("status") or "").lower()
        if not title or not item_id or status in SOLD:
            return None
        amount = item.get("price_amount") or {}
        price, currency = parse_price(amount.get("val"), amount.get("currency_code") or "USD")
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80] or "listing"
        cover = item.get("cover_shot") or {}
        condition = text_value(item.get("condition")).lower()
        return ScrapedListing(
            marketplace=self.name,
            external_id=item_id,
            url=canonical_url(f"https://poshmark.com/listing/{slug}-{item_id}"),
            title=title,
            price=price,
            currency=currency if price is not None else None,
            description=text_value(item.get("description")),
            images=first_image(cover.get("url_large") or cover.get("url") or item.get("pictures")),
            seller=text_value(item.get("creator_username")) or None,
            condition=CONDITIONS.get(condition, condition or None),
            posted_at=parse_datetime(item.get("created_at")),
        )


ADAPTER = PoshmarkAdapter()
register_adapter(ADAPTER)
