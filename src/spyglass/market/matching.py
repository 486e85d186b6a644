"""Which scraped listings a saved search keeps: every filter the marketplace did not apply itself.

Sites differ in what they filter (see ``Adapter.remote_filters``); Spyglass applies the rest here,
so a search means the same thing on every marketplace. Excluded words are always applied locally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from spyglass.market.adapters.base import (
    FILTER_CONDITION,
    FILTER_KEYWORDS,
    FILTER_LOCATION,
    FILTER_PRICE,
    GeoPoint,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.geo import distance_km
from spyglass.market.models import SavedSearch
from spyglass.market.query import Query, parse_query

#: Conditions a search can ask for, and the words marketplaces use for them.
CONDITIONS: dict[str, tuple[str, ...]] = {
    "new": ("new", "brand new", "new with tags", "nwt", "new in box", "newcondition", "sealed"),
    "like_new": ("like new", "like_new", "open box", "mint", "excellent", "new without tags", "nwot"),
    "used": ("used", "usedcondition", "good", "fair", "very good", "pre-owned", "preowned", "acceptable"),
    "refurbished": ("refurbished", "refurbishedcondition", "renewed", "reconditioned"),
    "for_parts": ("for parts", "for_parts", "damaged", "damagedcondition", "not working", "salvage"),
}
CONDITION_LABELS = {
    "new": "New",
    "like_new": "Like new",
    "used": "Used",
    "refurbished": "Refurbished",
    "for_parts": "For parts",
}


def normalize_condition(text: str | None) -> str | None:
    """One of the CONDITIONS keys for what a site wrote ("Brand New", "https://schema.org/UsedCondition"), or None."""
    if not text:
        return None
    lowered = text.strip().lower().rsplit("/", 1)[-1].replace("-", " ")
    for key, words in CONDITIONS.items():
        if lowered == key or lowered in words:
            return key
    for key, words in CONDITIONS.items():
        if any(word in lowered for word in words if " " in word):
            return key
    return None


def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word.lower()) + r"(?!\w)")


@dataclass(frozen=True)
class SearchCriteria:
    """A saved search's filters, ready to test listings against."""

    query: Query
    excluded: tuple[re.Pattern[str], ...]
    price_min: Decimal | None
    price_max: Decimal | None
    condition: str | None
    center: GeoPoint | None
    radius_km: float | None

    @classmethod
    def of(cls, search: SavedSearch) -> SearchCriteria:
        """The criteria of a stored search (its keywords were validated when it was saved)."""
        center = None
        if search.latitude is not None and search.longitude is not None:
            center = GeoPoint(search.latitude, search.longitude, search.location_label or "")
        return cls(
            query=parse_query(search.keywords),
            excluded=tuple(_word_pattern(word) for word in search.excluded_words if word.strip()),
            price_min=search.price_min,
            price_max=search.price_max,
            condition=search.condition,
            center=center,
            radius_km=search.radius_km,
        )

    @cached_property
    def site_can_express(self) -> bool:
        """Whether a site that requires every word it is sent searches exactly the keywords.

        True for plain words (``road bike``); an OR or a NOT is sent as its required words only (see
        ``common.search_terms``), so the expression is then applied here as well.
        """
        return self.query.terms() == self.query.required_terms() and not self.query.excluded_terms()

    def accepts(self, listing: ScrapedListing, remote_filters: frozenset[str] = frozenset()) -> bool:
        """Whether ``listing`` passes every filter not in ``remote_filters`` (and the excluded words)."""
        text = f"{listing.title}\n{listing.description}"
        lowered = text.lower()
        if any(pattern.search(lowered) for pattern in self.excluded):
            return False
        if (FILTER_KEYWORDS not in remote_filters or not self.site_can_express) and not self.query.matches(text):
            return False
        if FILTER_PRICE not in remote_filters and not self._price_ok(listing.price):
            return False
        if FILTER_CONDITION not in remote_filters and not self._condition_ok(listing.condition):
            return False
        return FILTER_LOCATION in remote_filters or self._distance_ok(listing)

    def _price_ok(self, price: Decimal | None) -> bool:
        if self.price_min is None and self.price_max is None:
            return True
        if price is None:  # a price filter cannot be confirmed without a price
            return False
        if self.price_min is not None and price < self.price_min:
            return False
        return self.price_max is None or price <= self.price_max

    def _condition_ok(self, condition: str | None) -> bool:
        if self.condition is None:
            return True
        found = normalize_condition(condition)
        # Many sites do not state the condition; an unknown condition is kept rather than lost.
        return found is None or found == self.condition

    def _distance_ok(self, listing: ScrapedListing) -> bool:
        if self.center is None or self.radius_km is None:
            return True
        if listing.latitude is None or listing.longitude is None:
            return True  # no coordinates: the site's own location filter is all we have
        distance = distance_km(self.center.latitude, self.center.longitude, listing.latitude, listing.longitude)
        return distance <= self.radius_km


def search_query(search: SavedSearch, marketplace: str, *, endpoint: str | None) -> SearchQuery:
    """What ``search`` asks ``marketplace`` for (its options, the endpoint override from the settings)."""
    parsed = parse_query(search.keywords)
    center = None
    if search.latitude is not None and search.longitude is not None:
        center = GeoPoint(search.latitude, search.longitude, search.location_label or "")
    options = search.options.get(marketplace) if isinstance(search.options, dict) else None
    return SearchQuery(
        keywords=search.keywords,
        terms=" ".join(parsed.terms()),
        required_terms=tuple(parsed.required_terms()),
        excluded_terms=tuple(parsed.excluded_terms()),
        excluded_words=tuple(search.excluded_words),
        price_min=search.price_min,
        price_max=search.price_max,
        condition=search.condition,
        location=center,
        radius_km=search.radius_km,
        options=dict(options) if isinstance(options, dict) else {},
        endpoint=endpoint,
        use_browser=search.use_browser,
    )
