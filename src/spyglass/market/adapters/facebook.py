"""Facebook Marketplace, logged out: the search page embeds its results as Relay JSON in ``<script>`` tags."""

from __future__ import annotations

from typing import Any

from spyglass.market.adapters.base import (
    FILTER_KEYWORDS,
    FILTER_PRICE,
    AdapterError,
    Politeness,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.adapters.common import PageAdapter, build_url, search_terms
from spyglass.market.adapters.parsing import (
    canonical_url,
    find_dicts,
    html_tree,
    parse_datetime,
    parse_price,
    read_each,
    script_json,
    text_value,
    tidy,
)
from spyglass.market.adapters.registry import register_adapter

LISTING_KEYS = ("marketplace_listing_title", "listing_price", "id")


class FacebookAdapter(PageAdapter):
    """``/marketplace/<city>/search?query=&minPrice=&maxPrice=``; the city comes from ``options["city"]``."""

    name = "facebook"
    label = "Facebook Marketplace"
    default_base = "https://www.facebook.com"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE})
    politeness = Politeness(min_interval_seconds=1800, delay_seconds=10.0)

    def search_url(self, query: SearchQuery) -> str:
        city = str(query.options.get("city") or "").strip().lower()
        if city and not city.replace("-", "").isalnum():
            raise AdapterError(f"{city!r} is not a Facebook Marketplace city name (like 'boston' or 'nyc')")
        path = f"/marketplace/{city}/search" if city else "/marketplace/search"
        params = {"query": search_terms(query), "minPrice": _whole(query.price_min)}
        params["maxPrice"] = _whole(query.price_max)
        return build_url(self.base_url(query), path, params)

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        """A search page's listings (or, for a saved item page, that one item)."""
        if '"redacted_description"' in text:
            return [parse_item(text, url)]
        tree = html_tree(text)
        blocks = script_json(tree, 'script[type="application/json"]')
        found = [item for block in blocks for item in find_dicts(block, LISTING_KEYS)]
        if not found:
            if any(next(find_dicts(block, ("marketplace_search",)), None) is not None for block in blocks):
                return []
            if tree.css_first('form[action*="login"]') is not None:
                raise AdapterError("Facebook asked to log in instead of showing results; try later", transient=True)
            raise AdapterError("the Facebook page holds no marketplace results; its data format may have changed")
        return read_each(found, self._listing, site=self.label)

    def _listing(self, item: dict[str, Any]) -> ScrapedListing | None:
        price_info = item.get("listing_price") or {}
        formatted = price_info.get("formatted_amount") or ""
        price, currency = parse_price(price_info.get("amount") or formatted)
        if currency is None and price is not None:
            currency = parse_price(formatted)[1] or "USD"
        geocode = (item.get("location") or {}).get("reverse_geocode") or {}
        parts = (text_value(geocode.get("city")), text_value(geocode.get("state")))
        location = ", ".join(part for part in parts if part) or None
        photo = text_value(((item.get("primary_listing_photo") or {}).get("image") or {}).get("uri"))
        seller = text_value((item.get("marketplace_listing_seller") or {}).get("name")) or None
        subtitles = [text_value(s.get("subtitle")) for s in item.get("custom_sub_titles_with_rendering_flags") or []]
        item_id, title = text_value(item["id"]), text_value(item["marketplace_listing_title"])
        if not item_id or not title:
            return None
        return ScrapedListing(
            marketplace=self.name,
            external_id=item_id,
            url=canonical_url(f"https://www.facebook.com/marketplace/item/{item_id}/"),
            title=title,
            price=price,
            currency=currency,
            description=" · ".join(s for s in subtitles if s),
            location=location,
            images=[photo] if photo else [],
            seller=seller,
        )


def parse_item(text: str, page_url: str) -> ScrapedListing:
    """One Facebook Marketplace item page (logged out): title, price, description, time, place, photos, seller."""
    blocks = script_json(html_tree(text), 'script[type="application/json"]')
    item = next((d for b in blocks for d in find_dicts(b, ("marketplace_listing_title", "redacted_description"))), None)
    if item is None:
        raise AdapterError("the Facebook item page holds no listing data; its format may have changed")
    listing = ADAPTER._listing(item)
    if listing is None:
        raise AdapterError("the Facebook item page's listing has no id or title; its format may have changed")
    price_info = item.get("listing_price") or {}
    listing.price, listing.currency = parse_price(price_info.get("amount"), price_info.get("currency") or "USD")
    listing.description = " ".join(str((item.get("redacted_description") or {}).get("text") or "").split())
    listing.location = (item.get("location_text") or {}).get("text") or listing.location
    listing.posted_at = parse_datetime(item.get("creation_time"))
    listing.condition = str(item["condition"]).replace("_", " ").lower() if item.get("condition") else None
    photos: list[Any] = next((d["listing_photos"] for b in blocks for d in find_dicts(b, ("listing_photos",))), [])
    listing.images = [p["image"]["uri"] for p in photos if isinstance(p, dict) and (p.get("image") or {}).get("uri")]
    place = next(
        (d["location"] for b in blocks for d in find_dicts(b, ("location",))
         if isinstance(d.get("location"), dict) and "latitude" in d["location"]),
        None,
    )  # fmt: skip
    if place is not None:
        listing.latitude, listing.longitude = float(place["latitude"]), float(place["longitude"])
    return tidy(listing)


def _whole(value: Any) -> int | None:
    return int(value) if value is not None else None


ADAPTER = FacebookAdapter()
register_adapter(ADAPTER)
