"""Craigslist: the search page (static results and its JSON-LD ItemList), or the ``sapi`` JSON endpoint.

The site is chosen from ``options["site"]`` ("boston"), else the Craigslist area nearest to the
search's location, from Craigslist's published area list (fetched once and cached; with
``query.endpoint`` set, the endpoint's ``/Areas``), else ``query.endpoint``.
``options["mode"] = "sapi"`` uses the JSON endpoint the search page itself calls.
"""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborNode

from spyglass.market.adapters.base import (
    FILTER_CONDITION,
    FILTER_KEYWORDS,
    FILTER_LOCATION,
    FILTER_PRICE,
    AdapterError,
    Fetch,
    Politeness,
    ScrapedListing,
    SearchQuery,
)
from spyglass.market.adapters.common import PageRead, build_url, get_page, read_pages, search_terms
from spyglass.market.adapters.parsing import (
    UNREADABLE,
    absolute_url,
    canonical_url,
    html_tree,
    json_ld,
    json_ld_scripts,
    listing_from_product,
    parse_datetime,
    parse_price,
    read_each,
    saved_json,
    stable_id,
    text_of,
    tidy,
)
from spyglass.market.adapters.registry import register_adapter

AREAS_URL = "https://reference.craigslist.org/Areas"
SAPI_BASE = "https://sapi.craigslist.org"
#: Postings per sapi request (the count in ``batch=<area>-<offset>-<count>-0-0``, as the search page asks).
SAPI_BATCH = 360
KM_PER_MILE = 1.609344
#: Craigslist's condition codes (``condition=`` in search URLs).
CONDITION_CODES = {"new": (10,), "like new": (20,), "excellent": (30,), "good": (40,), "fair": (50,),
                   "salvage": (60,), "used": (20, 30, 40, 50)}  # fmt: skip
_POSTING_ID = re.compile(r"/(\d{6,})\.html")


@dataclass(frozen=True)
class Area:
    """One Craigslist site from the area list."""

    area_id: int
    hostname: str
    name: str
    latitude: float
    longitude: float
    country: str = ""


def parse_areas(data: Any) -> list[Area]:
    """Areas from Craigslist's area list (a JSON array of objects with AreaID, Hostname, Latitude, Longitude)."""
    if not isinstance(data, list):
        raise AdapterError("the Craigslist area list is not a JSON array; its format may have changed")
    areas = []
    for row in data:
        try:
            areas.append(
                Area(
                    area_id=int(row["AreaID"]),
                    hostname=str(row["Hostname"]),
                    name=str(row.get("ShortDescription") or row.get("Description") or row["Hostname"]),
                    latitude=float(row["Latitude"]),
                    longitude=float(row["Longitude"]),
                    country=str(row.get("Country") or ""),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    if not areas:
        raise AdapterError("the Craigslist area list has no readable area; its format may have changed")
    return areas


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def nearest_area(areas: list[Area], latitude: float, longitude: float) -> Area:
    """The area whose centre is closest to the point."""
    return min(areas, key=lambda area: distance_km(latitude, longitude, area.latitude, area.longitude))


class AreaCache:
    """The area list per URL, kept ``ttl`` seconds (it changes a few times a year)."""

    def __init__(self, ttl: float = 86_400.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, list[Area]]] = {}

    async def get(self, fetch: Fetch, url: str) -> list[Area]:
        cached = self._entries.get(url)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        result = await fetch(url, headers={"Accept": "application/json"})
        try:
            data = result.json()
        except ValueError:
            raise AdapterError("the Craigslist area list is not JSON; its format may have changed") from None
        areas = parse_areas(data)
        self._entries[url] = (time.monotonic(), areas)
        return areas

    def clear(self) -> None:
        self._entries.clear()


# -- search page -----------------------------------------------------------------------------------------------


def parse_search_page(text: str, page_url: str) -> list[ScrapedListing]:
    """Listings on a Craigslist search page.

    Rows come from the static results (``li.cl-static-search-result``) or, on a page saved from a
    browser, the rendered results (``li.cl-search-result[data-pid]``); each is completed from the
    JSON-LD item of the same title (coordinates, images, locality). A page with only the JSON-LD
    gives listings without their own URL, identified by a hash of their fields.
    """
    tree = html_tree(text)
    products = _ld_products(text)
    rows = [_static_row(node, page_url) for node in tree.css("li.cl-static-search-result")]
    rows += [_rendered_row(node, page_url) for node in tree.css("li.cl-search-result[data-pid]")]
    listings = [row for row in rows if row is not None]
    if listings:
        by_title: dict[str, list[dict[str, Any]]] = {}
        for product in products:
            by_title.setdefault(_key(product.get("name")), []).append(product)
        for listing in listings:
            matches = by_title.get(_key(listing.title))
            if matches:
                try:
                    _complete(listing, matches.pop(0), page_url)
                except UNREADABLE:  # an odd JSON-LD item: the row is still good without its extras
                    continue
        return _unique(listings)
    if products:
        convert = functools.partial(listing_from_product, marketplace="craigslist", page_url=page_url)
        return read_each(products, convert, site="Craigslist")
    if tree.css_first(".cl-no-results, .noresults, .cl-search-no-results") is not None or "no results" in text.lower():
        return []
    raise AdapterError("the Craigslist page has neither search results nor JSON-LD; the layout may have changed")


def _ld_products(text: str) -> list[dict[str, Any]]:
    for script_id, block in json_ld_scripts(text):
        if script_id != "ld_searchpage_results":
            continue
        elements = block.get("itemListElement") if isinstance(block, dict) else None
        if isinstance(elements, list):
            return [e["item"] for e in elements if isinstance(e, dict) and isinstance(e.get("item"), dict)]
    return []


def _key(title: Any) -> str:
    return " ".join(str(title or "").lower().split())


def _static_row(node: LexborNode, page_url: str) -> ScrapedListing | None:
    link = node.css_first("a")
    href = absolute_url(page_url, link.attributes.get("href") if link else None)
    title = text_of(node.css_first(".title")) or (node.attributes.get("title") or "").strip()
    if not href or not title:
        return None
    price, currency = parse_price(text_of(node.css_first(".price")) or None, "USD")
    return _listing(href, title, price, currency, text_of(node.css_first(".location")) or None)


def _rendered_row(node: LexborNode, page_url: str) -> ScrapedListing | None:
    link = node.css_first("a.posting-title") or node.css_first("a.main") or node.css_first("a")
    href = absolute_url(page_url, link.attributes.get("href") if link else None)
    title = text_of(node.css_first("a.posting-title .label")) or (node.attributes.get("title") or "").strip()
    if not href or not title:
        return None
    price, currency = parse_price(text_of(node.css_first(".priceinfo")) or None, "USD")
    meta = node.css_first(".meta")
    location = None
    if meta is not None and meta.css_first(".separator") is not None:
        location = (meta.text(deep=True) or "").split("·")[-1].strip() or None
    listing = _listing(href, title, price, currency, location, posting_id=node.attributes.get("data-pid"))
    image = node.css_first("img")
    if image is not None and (src := absolute_url(page_url, image.attributes.get("src"))):
        listing.images.append(src)
    return listing


def _listing(
    href: str, title: str, price: Any, currency: str | None, location: str | None, posting_id: str | None = None
) -> ScrapedListing:
    url = canonical_url(href)
    match = _POSTING_ID.search(url)
    external = posting_id or (match.group(1) if match else stable_id(url))
    return ScrapedListing(
        marketplace="craigslist",
        external_id=external,
        url=url,
        title=title,
        price=price,
        currency=currency if price is not None else None,
        location=location,
    )


def _complete(listing: ScrapedListing, product: dict[str, Any], page_url: str) -> None:
    extra = listing_from_product(product, marketplace="craigslist", page_url=page_url)
    if extra is None:
        return
    listing.latitude, listing.longitude = extra.latitude, extra.longitude
    listing.location = listing.location or extra.location
    listing.images = extra.images or listing.images
    listing.description = listing.description or extra.description
    if listing.price is None and extra.price is not None:
        listing.price, listing.currency = extra.price, extra.currency


def _unique(listings: list[ScrapedListing]) -> list[ScrapedListing]:
    seen: set[str] = set()
    unique = []
    for listing in listings:
        if listing.external_id not in seen:
            seen.add(listing.external_id)
            unique.append(listing)
    return unique


# -- one posting ------------------------------------------------------------------------------------------------


def parse_posting(text: str, page_url: str) -> ScrapedListing:
    """One Craigslist posting page: its JSON-LD Product, completed from the page (id, body, time, condition)."""
    tree = html_tree(text)
    canonical = tree.css_first('link[rel="canonical"]')
    url = canonical_url(absolute_url(page_url, canonical.attributes.get("href") if canonical else None) or page_url)
    product = next((obj for obj in json_ld(text) if obj.get("@type") == "Product"), None)
    listing = listing_from_product(product, marketplace="craigslist", page_url=url) if product else None
    title = text_of(tree.css_first("#titletextonly"))
    if listing is None:
        if not title:
            raise AdapterError("the Craigslist posting has no title or JSON-LD; the layout may have changed")
        price, currency = parse_price(text_of(tree.css_first(".postingtitletext .price")) or None, "USD")
        listing = ScrapedListing(marketplace="craigslist", external_id="", url=url, title=title, price=price,
                                 currency=currency if price is not None else None)  # fmt: skip
    listing.url = url
    match = _POSTING_ID.search(url)
    listing.external_id = match.group(1) if match else listing.external_id or stable_id(url)
    listing.title = title or listing.title
    body = tree.css_first("#postingbody")
    if body is not None:
        for noise in body.css(".print-information, .print-qrcode-container"):
            noise.decompose()
        listing.description = text_of(body) or listing.description
    posted = tree.css_first(".postinginfos time[datetime], time.date.timeago[datetime]")
    if posted is not None:
        listing.posted_at = parse_datetime(posted.attributes.get("datetime")) or listing.posted_at
    for attribute in tree.css(".attrgroup span"):
        label, _, value = text_of(attribute).partition(":")
        if label.strip().lower() == "condition" and value.strip():
            listing.condition = value.strip().lower()
    return tidy(listing)


# -- sapi JSON ------------------------------------------------------------------------------------------------


def parse_sapi(data: Any, site_url: str) -> list[ScrapedListing]:
    """Listings from the ``sapi`` search response.

    Rows are delta-encoded against ``data.decode``: ``row[0] + minPostingId`` is the posting id,
    ``row[1] + minPostedDate`` its Unix time, ``row[3]`` the price, ``row[4]`` "area:subarea~lat~lon";
    later elements are tagged arrays (``[6, slug]``, ``[10, "$price"]``, ``[4, image ids...]``) and
    the last string is the title.
    """
    try:
        body = data["data"]
        decode, items = body["decode"], body["items"]
        min_id, min_date = int(decode["minPostingId"]), int(decode["minPostedDate"])
    except (KeyError, TypeError, ValueError):
        raise AdapterError("the Craigslist sapi response lacks data.decode/data.items; its format changed") from None
    descriptions = decode.get("locationDescriptions") or []
    if not isinstance(items, list) or not isinstance(descriptions, list):
        raise AdapterError("the Craigslist sapi response's items are not a list; its format changed")
    return read_each(
        items, lambda row: _sapi_row(row, min_id, min_date, descriptions, site_url), site="Craigslist sapi"
    )


def _sapi_row(row: Any, min_id: int, min_date: int, descriptions: list[Any], site_url: str) -> ScrapedListing | None:
    if not isinstance(row, list) or len(row) < 5:
        return None
    posting_id = str(min_id + int(row[0]))
    posted = parse_datetime(min_date + int(row[1]))
    title = next((x for x in reversed(row) if isinstance(x, str) and not _is_location(x)), "")
    if not title:
        return None
    tags = {x[0]: x[1:] for x in row[5:] if isinstance(x, list) and x and isinstance(x[0], int)}
    price_text = (tags.get(10) or [None])[0]
    price, currency = parse_price(price_text if price_text is not None else row[3], "USD")
    if price is not None and price < 0:
        price = None
    latitude, longitude, location = _sapi_location(row[4], descriptions)
    slug = (tags.get(6) or [None])[0] or "item"
    images = [f"https://images.craigslist.org/{str(image).split(':', 1)[-1]}_600x450.jpg" for image in tags.get(4, [])]
    return ScrapedListing(
        marketplace="craigslist",
        external_id=posting_id,
        url=canonical_url(f"{site_url.rstrip('/')}/d/{slug}/{posting_id}.html"),
        title=" ".join(title.split()),
        price=price,
        currency=currency if price is not None else None,
        location=location,
        latitude=latitude,
        longitude=longitude,
        posted_at=posted,
        images=images,
    )


def _is_location(value: str) -> bool:
    return "~" in value and value.split("~", 1)[0].replace(":", "").isdigit()


def _sapi_location(value: Any, descriptions: list[Any]) -> tuple[float | None, float | None, str | None]:
    if not isinstance(value, str) or "~" not in value:
        return None, None, None
    parts = value.split("~")
    area_part = parts[0].split(":")
    location = None
    try:
        index = int(area_part[1]) if len(area_part) > 1 else -1
        if 0 <= index < len(descriptions):
            location = str(descriptions[index])
        return float(parts[1]), float(parts[2]), location
    except (IndexError, ValueError):
        return None, None, location


# -- the adapter ------------------------------------------------------------------------------------------------


class CraigslistAdapter:
    """Craigslist search by site; the site applies keywords, price, condition and distance from a ZIP."""

    name = "craigslist"
    label = "Craigslist"
    remote_filters = frozenset({FILTER_KEYWORDS, FILTER_PRICE, FILTER_CONDITION, FILTER_LOCATION})
    politeness = Politeness(min_interval_seconds=600, delay_seconds=3.0, max_pages=10)
    needs_browser = False

    def __init__(self, areas_url: str = AREAS_URL, areas_ttl: float = 86_400.0) -> None:
        self.areas_url = areas_url
        self.areas = AreaCache(areas_ttl)

    async def site(self, query: SearchQuery, fetch: Fetch) -> tuple[str, Area | None]:
        """The site's base URL for ``query`` and its area (when chosen from the area list)."""
        site = str(query.options.get("site") or "").strip().lower()
        if site:
            if not re.fullmatch(r"[a-z0-9-]{2,40}", site):
                raise AdapterError(f"{site!r} is not a Craigslist site name (like 'boston' or 'sfbay')")
            return (query.endpoint or f"https://{site}.craigslist.org").rstrip("/"), None
        if query.location is not None:
            # An endpoint stands in for all of Craigslist (simulator, tests): its area list too.
            default = f"{query.endpoint.rstrip('/')}/Areas" if query.endpoint else self.areas_url
            areas_url = str(query.options.get("areas_url") or default)
            areas = await self.areas.get(fetch, areas_url)
            area = nearest_area(areas, query.location.latitude, query.location.longitude)
            return (query.endpoint or f"https://{area.hostname}.craigslist.org").rstrip("/"), area
        if query.endpoint:
            return query.endpoint.rstrip("/"), None
        raise AdapterError("a Craigslist search needs a location or a Craigslist site")

    def filters(self, query: SearchQuery) -> dict[str, Any]:
        params: dict[str, Any] = {"query": search_terms(query, exclusions=True), "min_price": query.price_min}
        params["max_price"] = query.price_max
        if query.location is not None and query.radius_km:
            if query.location.postal_code:
                params["postal"] = query.location.postal_code
            else:  # a city: Craigslist takes the point itself
                params["lat"] = f"{query.location.latitude:.4f}"
                params["lon"] = f"{query.location.longitude:.4f}"
            params["search_distance"] = max(1, round(query.radius_km / KM_PER_MILE))
        return params

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        """A saved search page, a saved posting, or a saved ``sapi`` response (JSON)."""
        data = saved_json(text, "the Craigslist sapi response")
        if data is not None:
            return parse_sapi(data, url)
        if 'id="postingbody"' in text:  # one posting, not a search (spyglass market extract on a saved posting)
            return [parse_posting(text, url)]
        return parse_search_page(text, url)

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        base, area = await self.site(query, fetch)
        params = self.filters(query)
        conditions = CONDITION_CODES.get((query.condition or "").lower(), ())
        if query.options.get("mode") == "sapi":
            return await self._sapi(query, fetch, base, area, params, conditions)
        first = build_url(base, "/search/sss", params)
        first += "".join(f"&condition={code}" for code in conditions)
        shown = 0

        async def read(url: str, _number: int) -> PageRead:
            nonlocal shown
            page = await get_page(fetch, url, site="Craigslist")
            listings = parse_search_page(page.text, page.url)
            shown += len(listings)
            if not listings or search_page_has_more(page.text) is False:
                return listings, None
            return listings, _with_param(first, "s", shown)

        return await read_pages(query, self.politeness, first, read)

    async def _sapi(
        self,
        query: SearchQuery,
        fetch: Fetch,
        base: str,
        area: Area | None,
        params: dict[str, Any],
        conditions: tuple[int, ...],
    ) -> list[ScrapedListing]:
        raw_area = query.options.get("area_id") or 0
        area_id = area.area_id if area else int(raw_area) if str(raw_area).isdigit() else 0
        if not area_id:
            raise AdapterError("the Craigslist sapi mode needs a location (to find the area) or options.area_id")
        sapi = str(query.options.get("sapi_url") or query.endpoint or SAPI_BASE)

        def batch_url(offset: int) -> str:
            batch = {"batch": f"{area_id}-{offset}-{SAPI_BATCH}-0-0", "cc": "US", "lang": "en", "searchPath": "sss"}
            url = build_url(sapi, "/web/v8/postings/search/full", {**batch, **params})
            return url + "".join(f"&condition={code}" for code in conditions)

        shown = 0

        async def read(url: str, _number: int) -> PageRead:
            nonlocal shown
            result = await fetch(url, headers={"Accept": "application/json"})
            try:
                data = result.json()
            except ValueError:
                raise AdapterError("the Craigslist sapi endpoint did not answer JSON; it may have changed") from None
            listings = parse_sapi(data, base)
            shown += len(listings)
            total = sapi_total(data)
            more = bool(listings) and (total is None or shown < total)
            return listings, batch_url(shown) if more else None

        return await read_pages(query, self.politeness, batch_url(0), read)


def _with_param(url: str, name: str, value: object) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


_PAGE_NUMBER = re.compile(r'class="cl-page-number"[^>]*>\s*([\d,]+)\s*-\s*([\d,]+)\s+of\s+(&gt;|>)?\s*([\d,]+)')


def search_page_has_more(text: str) -> bool | None:
    """Whether a search page's paginator ("1 - 120 of 431", "of >10,000") says more results follow;
    None when the page has no paginator (then the next offset is tried until a page brings nothing new)."""
    match = _PAGE_NUMBER.search(text)
    if match is None:
        return None
    last, more_than, total = int(match.group(2).replace(",", "")), match.group(3), int(match.group(4).replace(",", ""))
    return bool(more_than) or last < total


def sapi_total(data: Any) -> int | None:
    """``data.totalResultCount`` of a sapi response, when it is a number."""
    try:
        total = data["data"]["totalResultCount"]
    except (KeyError, TypeError):
        return None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


ADAPTER = CraigslistAdapter()
register_adapter(ADAPTER)
