"""eBay: the official Browse API (``item_summary/search``) with an application token, or the HTML results page.

With ``market_ebay_client_id`` / ``market_ebay_client_secret`` set (``configure``), the adapter gets an
OAuth client-credentials token (cached until shortly before it expires) and calls the API; without
them it reads ``/sch/i.html`` results (``li.s-item``), which is the fragile path.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from selectolax.lexbor import LexborHTMLParser

from spyglass.market.adapters.base import (
    FILTER_CONDITION,
    FILTER_KEYWORDS,
    FILTER_PRICE,
    AdapterError,
    Fetch,
    Politeness,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.adapters.common import PageRead, build_url, get_page, read_pages, same_site, search_terms
from spyglass.market.adapters.parsing import (
    absolute_url,
    canonical_url,
    html_tree,
    parse_datetime,
    parse_price,
    read_each,
    saved_json,
    stable_id,
    text_of,
    text_value,
)
from spyglass.market.adapters.registry import register_adapter

API_BASE = "https://api.ebay.com"
WEB_BASE = "https://www.ebay.com"
SCOPE = "https://api.ebay.com/oauth/api_scope"
#: Browse API condition filter values.
API_CONDITIONS = {"new": "NEW", "used": "USED", "refurbished": "CERTIFIED_REFURBISHED|SELLER_REFURBISHED"}
#: ``LH_ItemCondition`` codes of the results page.
WEB_CONDITIONS = {"new": "1000", "used": "3000", "refurbished": "2500"}
#: Results per Browse API request (``limit``; the API allows up to 200).
API_PAGE_SIZE = 50
_ITEM_ID = re.compile(r"/itm/(?:[^/?]+/)?(\d{9,})")


@dataclass(frozen=True)
class EbayCredentials:
    """An eBay application's keyset (from the developer portal)."""

    client_id: str
    client_secret: str
    marketplace_id: str = "EBAY_US"

    def __repr__(self) -> str:  # never show the secret
        return f"EbayCredentials(client_id={self.client_id!r}, marketplace_id={self.marketplace_id!r})"


class EbayAdapter:
    """Keywords, price and condition are applied by eBay on both paths."""

    name = "ebay"
    label = "eBay"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE, FILTER_CONDITION})
    politeness = Politeness(min_interval_seconds=300, delay_seconds=1.0, max_pages=10)
    needs_browser = False

    def __init__(self, credentials: EbayCredentials | None = None) -> None:
        self.credentials = credentials
        self._token: tuple[str, float, str, str] | None = None  # (token, expires at, client id, token endpoint)

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        """A saved results page, or a saved Browse API response (JSON)."""
        data = saved_json(text, "the eBay Browse API response")
        if data is not None:
            return parse_api_response(data)
        return parse_results_page(text, url)

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        if self.credentials is not None and query.options.get("mode") != "html":
            return await self._api_search(query, fetch, self.credentials)

        async def read(url: str, _number: int) -> PageRead:
            page = await get_page(fetch, url, site="eBay")
            tree = html_tree(page.text)
            return read_results_page(tree, page.url), results_next_page(tree, page.url)

        return await read_pages(query, self.politeness, self.web_url(query), read)

    # -- Browse API ------------------------------------------------------------------------------------------

    def api_url(self, query: SearchQuery, offset: int = 0) -> str:
        filters = []
        if query.price_min is not None or query.price_max is not None:
            low = _plain(query.price_min) if query.price_min is not None else ""
            high = _plain(query.price_max) if query.price_max is not None else ""
            filters += [f"price:[{low}..{high}]", "priceCurrency:USD"]
        if condition := API_CONDITIONS.get((query.condition or "").lower()):
            filters.append(f"conditions:{{{condition}}}")
        params = {"q": search_terms(query), "limit": str(API_PAGE_SIZE), "sort": "newlyListed"}
        params |= {"filter": ",".join(filters), "offset": str(offset) if offset else ""}
        return build_url(query.endpoint or API_BASE, "/buy/browse/v1/item_summary/search", params)

    async def token(self, fetch: Fetch, credentials: EbayCredentials, base: str) -> str:
        """An application access token (client credentials grant), reused until a minute before it expires."""
        cached = self._token
        if cached is not None and cached[2:] == (credentials.client_id, base) and time.monotonic() < cached[1]:
            return cached[0]
        basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
        result = await fetch(
            f"{base.rstrip('/')}/identity/v1/oauth2/token",
            respect_robots=False,  # an official API called with our keyset, not crawling
            method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            content=urlencode({"grant_type": "client_credentials", "scope": SCOPE}).encode(),
        )
        try:
            body = result.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 7200))
        except (ValueError, KeyError, TypeError):
            raise AdapterError("eBay's token endpoint did not return an access token; check the keyset") from None
        self._token = (token, time.monotonic() + max(0.0, lifetime - 60), credentials.client_id, base)
        return token

    async def _api_search(self, query: SearchQuery, fetch: Fetch, credentials: EbayCredentials) -> list[ScrapedListing]:
        token = await self.token(fetch, credentials, query.endpoint or API_BASE)
        headers = {
            "Authorization": f"Bearer {token}",
            "X-EBAY-C-MARKETPLACE-ID": credentials.marketplace_id,
            "Accept": "application/json",
        }
        shown = 0

        async def read(url: str, _number: int) -> PageRead:
            nonlocal shown
            # The Browse API is the sanctioned way in (api.ebay.com's robots.txt is about crawlers, not API clients).
            result = await fetch(url, headers=headers, respect_robots=False)
            try:
                data = result.json()
            except ValueError:
                raise AdapterError("eBay's Browse API did not answer JSON") from None
            listings = parse_api_response(data)
            shown += len(data.get("itemSummaries") or [])
            return listings, self.api_url(query, shown) if api_has_more(data, shown) else None

        return await read_pages(query, self.politeness, self.api_url(query), read)

    # -- results page ----------------------------------------------------------------------------------------

    def web_url(self, query: SearchQuery) -> str:
        params: dict[str, Any] = {"_nkw": search_terms(query, exclusions=True), "_sop": "10", "_udlo": query.price_min}
        params["_udhi"] = query.price_max
        params["LH_ItemCondition"] = WEB_CONDITIONS.get((query.condition or "").lower())
        return build_url(query.endpoint or WEB_BASE, "/sch/i.html", params)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def api_has_more(data: dict[str, Any], shown: int) -> bool:
    """Whether a Browse API answer says more results follow: its ``next`` link, else ``total`` beyond those shown."""
    if "next" in data:
        return bool(data["next"])
    total = data.get("total")
    return isinstance(total, int) and shown < total and bool(data.get("itemSummaries"))


def parse_api_response(data: Any) -> list[ScrapedListing]:
    """Listings from a Browse API ``item_summary/search`` response."""
    if not isinstance(data, dict) or ("itemSummaries" not in data and "total" not in data):
        raise AdapterError("eBay's Browse API answered without itemSummaries; its format may have changed")
    items = data.get("itemSummaries") or []
    if not isinstance(items, list):
        raise AdapterError("eBay's Browse API answered with itemSummaries that are not a list; its format changed")
    return read_each(items, _api_item, site="eBay")


def _api_item(item: dict[str, Any]) -> ScrapedListing | None:
    title = text_value(item.get("title"))
    link = item.get("itemWebUrl")
    if not title or not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return None
    price_info = item.get("price") or {}
    price, currency = parse_price(price_info.get("value"), price_info.get("currency"))
    place = item.get("itemLocation") or {}
    location = ", ".join(
        text_value(p) for p in (place.get("city"), place.get("postalCode"), place.get("country")) if text_value(p)
    )
    pictures = [item.get("image") or {}, *(item.get("additionalImages") or [])]
    images = [str(picture["imageUrl"]) for picture in pictures if picture and picture.get("imageUrl")]
    seller = item.get("seller") or {}
    return ScrapedListing(
        marketplace="ebay",
        external_id=str(item.get("legacyItemId") or item.get("itemId") or stable_id(link)),
        url=canonical_url(link),
        title=title,
        price=price,
        currency=currency,
        description=text_value(item.get("shortDescription")),
        location=location or None,
        posted_at=parse_datetime(item.get("itemCreationDate")),
        images=images,
        seller=str(seller["username"]) if seller.get("username") else None,
        condition=text_value(item.get("condition")).lower() or None,
    )


def _item_url(href: str, item_id: str) -> str:
    """eBay's short item URL (the long ones carry a slug and tracking); other hosts (simulator) keep their link."""
    host = urlsplit(href).hostname or ""
    if host == "ebay.com" or host.endswith(".ebay.com"):
        return f"https://www.ebay.com/itm/{item_id}"
    return canonical_url(href)


def parse_results_page(text: str, page_url: str) -> list[ScrapedListing]:
    """Listings from eBay's HTML results page (``li.s-item`` cards; the "Shop on eBay" placeholder skipped)."""
    return read_results_page(html_tree(text), page_url)


def results_next_page(tree: LexborHTMLParser, page_url: str) -> str | None:
    """The next results page (``a.pagination__next``, ``_pgn=N``) unless it is disabled; only on the same site."""
    link = tree.css_first("a.pagination__next[href]")
    if link is None or link.attributes.get("aria-disabled") == "true":
        return None
    return same_site(absolute_url(page_url, link.attributes.get("href")), page_url)


def read_results_page(tree: LexborHTMLParser, page_url: str) -> list[ScrapedListing]:
    """``parse_results_page`` on an already built tree."""
    cards = tree.css("li.s-item")
    if not cards:
        if tree.css_first(".srp-save-null-search, .srp-controls__count") is not None:
            return []
        raise AdapterError("the eBay results page has no s-item cards; the layout may have changed")
    listings = []
    for card in cards:
        link = card.css_first("a.s-item__link")
        href = absolute_url(page_url, link.attributes.get("href") if link else None)
        title_node = card.css_first(".s-item__title")
        if title_node is not None:
            for badge in title_node.css(".LIGHT_HIGHLIGHT, .clipped"):
                badge.decompose()
        title = text_of(title_node)
        match = _ITEM_ID.search(href or "")
        if not href or not title or match is None or title.lower() == "shop on ebay":
            continue
        price, currency = parse_price(text_of(card.css_first(".s-item__price")).split(" to ")[0] or None)
        image = card.css_first(".s-item__image img, img")
        src = image.attributes.get("src") or image.attributes.get("data-src") if image is not None else None
        location = text_of(card.css_first(".s-item__location")).removeprefix("from ").strip()
        listings.append(
            ScrapedListing(
                marketplace="ebay",
                external_id=match.group(1),
                url=_item_url(href, match.group(1)),
                title=title,
                price=price,
                currency=currency,
                location=location or None,
                images=[src] if src and src.startswith("http") else [],
                seller=text_of(card.css_first(".s-item__seller-info-text")).split(" (")[0] or None,
                condition=text_of(card.css_first(".SECONDARY_INFO")).lower() or None,
            )
        )
    return listings


ADAPTER = EbayAdapter()
register_adapter(ADAPTER)
