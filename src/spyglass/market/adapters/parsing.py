"""Parsing helpers shared by the adapters: HTML trees, embedded JSON, structured data, prices, ids.

Everything here is a pure function of a page's text so adapters can be tested on captured pages.
HTML is parsed with selectolax's lexbor backend (a 425 KB search page parses in a few milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

import msgspec
from price_parser import Price
from selectolax.lexbor import LexborHTMLParser, LexborNode

from spyglass.market.adapters.base import AdapterError, ScrapedListing
from spyglass.market.urls import canonical_url

__all__ = [
    "absolute_url",
    "canonical_url",
    "find_dicts",
    "html_tree",
    "json_ld",
    "microdata_items",
    "next_data",
    "opengraph",
    "parse_datetime",
    "parse_price",
    "products_from_structured_data",
    "script_json",
    "stable_id",
    "text_of",
]

_CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "C$": "CAD", "CA$": "CAD", "A$": "AUD"}
_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")


def decode_json(text: str | bytes) -> Any:
    """Parsed JSON (msgspec: about half the time of the standard library on large embedded blobs).

    Raises ValueError for text that is not JSON.
    """
    try:
        return _JSON_DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


_JSON_DECODER = msgspec.json.Decoder()


T = TypeVar("T")
#: What a result of an unexpected shape raises while being converted (a number where text was, a list for a dict).
UNREADABLE = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, ArithmeticError)


def read_each(items: Iterable[T], convert: Callable[[T], ScrapedListing | None], *, site: str) -> list[ScrapedListing]:
    """``convert`` each result, skipping those of an unexpected shape, keeping the first of each external id.

    One odd result must not cost the others; AdapterError when results were there but none could be read.
    """
    listings: list[ScrapedListing] = []
    seen: set[str] = set()
    failed = total = 0
    for item in items:
        total += 1
        try:
            listing = convert(item)
        except UNREADABLE:
            failed += 1
            continue
        if listing is not None and listing.external_id not in seen:
            seen.add(listing.external_id)
            listings.append(tidy(listing))
    if failed and not listings:
        raise AdapterError(f"none of the {total} {site} results could be read; the data format may have changed")
    return listings


def tidy(listing: ScrapedListing) -> ScrapedListing:
    """``listing`` with coordinates dropped unless both are real numbers on the globe."""
    lat, lon = listing.latitude, listing.longitude
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        listing.latitude = listing.longitude = None
    return listing


def html_tree(text: str) -> LexborHTMLParser:
    """Parse ``text`` as HTML."""
    return LexborHTMLParser(text)


def text_value(value: Any) -> str:
    """Text from a JSON value with whitespace collapsed; "" for anything that is not text or a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return ""
    return " ".join(str(value).split())


def text_of(node: LexborNode | None) -> str:
    """The node's visible text with whitespace collapsed ("" for no node)."""
    if node is None:
        return ""
    return " ".join((node.text(deep=True) or "").split())


def absolute_url(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``; None for an empty or non-web link."""
    if not isinstance(href, str) or not href.strip():
        return None
    href = href.strip()
    if href.startswith(("https://", "http://")) and " " not in href:
        return href  # already absolute: urljoin would only cost time (pages list hundreds of images)
    joined = urljoin(base, href)
    return joined if joined.startswith(("http://", "https://")) else None


def stable_id(*parts: object) -> str:
    """A short id derived from ``parts`` (for sites that show no id of their own): same parts, same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:20]


def parse_price(value: object, currency_hint: str | None = None) -> tuple[Decimal | None, str | None]:
    """A price and its ISO currency from text like "$1,250", "1.250,00 €", 4500 or "Free".

    Returns ``(None, None)`` when there is no amount ("Contact seller"); "free" is 0.
    """
    if not isinstance(currency_hint, str):
        currency_hint = None
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None, _currency(currency_hint)
    if isinstance(value, int | float | Decimal):
        try:
            return _plausible(Decimal(str(value))), _currency(currency_hint)
        except InvalidOperation:
            return None, _currency(currency_hint)
    text = str(value).strip()
    if not text:
        return None, _currency(currency_hint)
    if text.lower() in ("free", "gratis", "$0"):
        return Decimal(0), _currency(currency_hint) or "USD"
    parsed = Price.fromstring(text[:200], currency_hint=currency_hint)
    return _plausible(parsed.amount), _currency(parsed.currency) or _currency(currency_hint)


#: Prices at or above this are not prices (a phone number, an id, an overflow); stored columns stay safe.
MAX_PRICE = Decimal(1_000_000_000)


def _plausible(amount: Decimal | None) -> Decimal | None:
    if amount is None or not amount.is_finite() or amount < 0 or amount >= MAX_PRICE:
        return None
    return amount


def _currency(symbol: str | None) -> str | None:
    if not symbol:
        return None
    symbol = symbol.strip()
    if _ISO_CURRENCY.match(symbol.upper()):
        return symbol.upper()
    return _CURRENCY_SYMBOLS.get(symbol)


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text, RFC 822 text or a Unix timestamp; None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds since the epoch
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.isdigit():
        return parse_datetime(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def script_json(tree: LexborHTMLParser, selector: str) -> list[Any]:
    """The parsed JSON of every ``<script>`` matching ``selector`` (scripts that are not valid JSON are skipped)."""
    found = []
    for node in tree.css(selector):
        body = node.text(deep=True) or ""
        if not body.strip():
            continue
        try:
            found.append(decode_json(body))
        except ValueError:
            continue
    return found


def next_data(tree: LexborHTMLParser) -> Any:
    """The JSON a Next.js page embeds in ``<script id="__NEXT_DATA__">``; AdapterError when there is none."""
    blocks = script_json(tree, "script#__NEXT_DATA__")
    if not blocks:
        raise AdapterError("the page has no __NEXT_DATA__ script; the site's layout may have changed")
    return blocks[0]


def find_dicts(data: Any, has_keys: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Every dict nested anywhere in ``data`` that has all of ``has_keys`` (outermost first, depth first)."""
    wanted = tuple(has_keys)
    stack = [data]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if all(key in current for key in wanted):
                yield current
                continue
            stack.extend(reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend(reversed(current))


# -- structured data (JSON-LD, microdata, OpenGraph) -------------------------------------------------------------


def json_ld_scripts(text: str) -> list[tuple[str, Any]]:
    """``(id attribute, parsed JSON)`` of every ``<script type="application/ld+json">`` in the page's source.

    A script's content is raw text in HTML (no entities, it ends at the first ``</script``), so the
    blocks can be cut out of the source without building the whole tree: a few milliseconds for a
    425 KB page instead of the tree's ten or more.
    """
    found: list[tuple[str, Any]] = []
    lowered = text.lower() if "LD+JSON" in text or "Ld+Json" in text else text
    position = 0
    while (marker := lowered.find("application/ld+json", position)) != -1:
        tag_start = lowered.rfind("<script", 0, marker)
        tag_end = lowered.find(">", marker)
        close = lowered.find("</script", tag_end)
        position = marker + 19
        if tag_start == -1 or tag_end == -1 or close == -1 or lowered.find(">", tag_start, marker) != -1:
            continue  # the words are not inside a <script ...> tag
        id_match = _ID_ATTRIBUTE.search(text, tag_start, tag_end)
        try:
            found.append((id_match.group(1) if id_match else "", decode_json(text[tag_end + 1 : close])))
        except ValueError:
            continue
        position = close
    return found


_ID_ATTRIBUTE = re.compile(r"""\sid\s*=\s*["']?([^"'\s>]+)""", re.I)


def json_ld(source: LexborHTMLParser | str) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page (its source text or its tree), flattened out of ``@graph`` and lists."""
    objects: list[dict[str, Any]] = []
    if isinstance(source, str):
        blocks = [block for _id, block in json_ld_scripts(source)]
    else:
        blocks = script_json(source, 'script[type="application/ld+json"]')
    for block in blocks:
        for item in block if isinstance(block, list) else [block]:
            if isinstance(item, dict) and isinstance(item.get("@graph"), list):
                objects.extend(x for x in item["@graph"] if isinstance(x, dict))
            elif isinstance(item, dict):
                objects.append(item)
    return objects


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type") or obj.get("type") or ()
    names = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return {str(name).rsplit("/", 1)[-1] for name in names}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _text(value: Any) -> str:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or ""
    return " ".join(str(value or "").split())


def _images(value: Any, base: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    urls = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("url") or item.get("contentUrl")
        resolved = absolute_url(base, item) if isinstance(item, str) else None
        if resolved and resolved not in urls:
            urls.append(resolved)
    return urls


def _products(objects: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Product-like objects, including those inside ItemList elements and offers' ``itemOffered``."""
    for obj in objects:
        kinds = _types(obj)
        if "ItemList" in kinds or "OfferCatalog" in kinds:
            elements = obj.get("itemListElement") or []
            for element in elements if isinstance(elements, list) else [elements]:
                if isinstance(element, dict):
                    inner = element.get("item")
                    yield from _products([inner if isinstance(inner, dict) else element])
        elif kinds & {"Product", "Vehicle", "Car", "IndividualProduct", "ProductModel"}:
            yield obj
        elif "Offer" in kinds and isinstance(obj.get("itemOffered"), dict):
            product = dict(obj["itemOffered"])
            product.setdefault("offers", {k: v for k, v in obj.items() if k != "itemOffered"})
            yield product


def _place(offer: dict[str, Any]) -> tuple[str | None, float | None, float | None]:
    place = offer.get("availableAtOrFrom") or offer.get("areaServed")
    place = _first(place)
    if not isinstance(place, dict):
        return None, None, None
    address: dict[str, Any] = place["address"] if isinstance(place.get("address"), dict) else {}
    parts = [address.get("addressLocality"), address.get("addressRegion")]
    label = ", ".join(str(p) for p in parts if p) or _text(place.get("name")) or None
    geo: dict[str, Any] = place["geo"] if isinstance(place.get("geo"), dict) else {}
    return label, _float(geo.get("latitude")), _float(geo.get("longitude"))


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


_CONDITIONS = {
    "NewCondition": "new",
    "UsedCondition": "used",
    "RefurbishedCondition": "refurbished",
    "DamagedCondition": "damaged",
}


def listing_from_product(product: dict[str, Any], *, marketplace: str, page_url: str) -> ScrapedListing | None:
    """A listing from one schema.org Product (None when it has no name)."""
    title = _text(product.get("name"))
    if not title:
        return None
    first_offer = _first(product.get("offers"))
    offer: dict[str, Any] = first_offer if isinstance(first_offer, dict) else {}
    price_value = offer.get("price", offer.get("lowPrice"))
    if price_value is None and isinstance(offer.get("priceSpecification"), dict):
        price_value = offer["priceSpecification"].get("price")
    price, currency = parse_price(price_value, offer.get("priceCurrency"))
    link = absolute_url(page_url, _text(product.get("url")) or _text(offer.get("url")) or None)
    url = canonical_url(link or page_url)
    location, latitude, longitude = _place(offer)
    images = _images(product.get("image"), page_url)
    external = _text(product.get("sku") or product.get("productID") or product.get("@id") or "")
    if not external:
        # Without a link of its own, an item is what it shows: the same name, price, place and photo.
        external = stable_id(url) if link else stable_id(page_url, title, price, location, latitude, images[:1])
    condition = _text(offer.get("itemCondition") or product.get("itemCondition")).rsplit("/", 1)[-1]
    seller = offer.get("seller")
    return ScrapedListing(
        marketplace=marketplace,
        external_id=external,
        url=url,
        title=title,
        price=price,
        currency=currency,
        description=_text(product.get("description")),
        location=location,
        latitude=latitude,
        longitude=longitude,
        posted_at=parse_datetime(offer.get("validFrom") or product.get("datePosted") or product.get("releaseDate")),
        images=images,
        seller=_text(seller) or None,
        condition=_CONDITIONS.get(condition, condition.lower() or None),
    )


def microdata_items(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """schema.org microdata Products as JSON-LD-shaped dicts (``itemprop`` values, nested ``offers``)."""
    products = []
    for scope in tree.css("[itemscope][itemtype]"):
        if "Product" not in (scope.attributes.get("itemtype") or ""):
            continue
        products.append(_microdata_scope(scope))
    return products


def _microdata_scope(scope: LexborNode) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": (scope.attributes.get("itemtype") or "").rsplit("/", 1)[-1]}
    for prop in scope.css("[itemprop]"):
        if _owner_scope(prop) != scope.mem_id:
            continue
        name = prop.attributes.get("itemprop") or ""
        value: Any
        if "itemscope" in prop.attributes:
            value = _microdata_scope(prop)
        else:
            attrs = prop.attributes
            value = attrs.get("content") or attrs.get("href") or attrs.get("src") or attrs.get("datetime")
            value = value if value is not None else text_of(prop)
        if name == "image":
            item.setdefault("image", []).append(value)
        else:
            item.setdefault(name, value)
    return item


def _owner_scope(node: LexborNode) -> int | None:
    parent = node.parent
    while parent is not None:
        if "itemscope" in parent.attributes:
            return parent.mem_id
        parent = parent.parent
    return None


def opengraph(tree: LexborHTMLParser) -> dict[str, str]:
    """OpenGraph and product meta tags (``og:title``, ``product:price:amount``, ...): first value of each."""
    tags: dict[str, str] = {}
    for meta in tree.css("meta[property], meta[name]"):
        key = (meta.attributes.get("property") or meta.attributes.get("name") or "").strip()
        content = meta.attributes.get("content")
        if key.startswith(("og:", "product:")) and content is not None:
            tags.setdefault(key, content.strip())
    return tags


def products_from_structured_data(
    tree: LexborHTMLParser, *, marketplace: str, page_url: str, text: str | None = None
) -> list[ScrapedListing]:
    """Listings from the page's JSON-LD, then microdata, then (for a single product page) OpenGraph tags.

    ``text`` (the page source, when the caller has it) lets JSON-LD be read without walking the tree.
    """
    products = [*_products(json_ld(text if text is not None else tree)), *_products(microdata_items(tree))]
    listings = read_each(
        products, lambda product: listing_from_product(product, marketplace=marketplace, page_url=page_url), site="page"
    )
    if listings:
        return listings
    tags = opengraph(tree)
    if tags.get("og:type", "").lower() in ("product", "og:product", "product.item") and tags.get("og:title"):
        amount = tags.get("product:price:amount") or tags.get("og:price:amount")
        currency = tags.get("product:price:currency") or tags.get("og:price:currency")
        price, currency = parse_price(amount, currency)
        url = canonical_url(absolute_url(page_url, tags.get("og:url")) or page_url)
        listings.append(
            ScrapedListing(
                marketplace=marketplace,
                external_id=tags.get("product:retailer_item_id") or stable_id(url),
                url=url,
                title=" ".join(tags["og:title"].split()),
                price=price,
                currency=currency,
                description=tags.get("og:description", ""),
                images=_images(tags.get("og:image"), page_url),
                condition=(tags.get("product:condition") or None),
            )
        )
    return listings


_STATE_ASSIGNMENT = re.compile(r"window\.__(?:INITIAL_STATE|PRELOADED_STATE|APOLLO_STATE)__\s*=\s*")


def embedded_state(tree: LexborHTMLParser) -> list[Any]:
    """The JSON a script-built page embeds: ``__NEXT_DATA__``, JSON scripts and ``window.__INITIAL_STATE__ = {...}``."""
    roots: list[Any] = script_json(tree, "script#__NEXT_DATA__")
    roots += script_json(tree, 'script[type="application/json"]:not(#__NEXT_DATA__)')
    decoder = json.JSONDecoder()
    for node in tree.css("script:not([src]):not([type])"):
        body = node.text(deep=True) or ""
        match = _STATE_ASSIGNMENT.search(body)
        if match is None:
            continue
        try:
            roots.append(decoder.raw_decode(body, match.end())[0])
        except ValueError:
            continue
    return roots


def saved_json(text: str, what: str) -> Any | None:
    """The decoded object when ``text`` is JSON (a saved API response), None when it is a page.

    ``AdapterError`` names ``what`` when it starts like JSON but does not decode."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise AdapterError(f"{what} is not valid JSON") from None
