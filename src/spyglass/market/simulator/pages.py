"""Pages of the simulated marketplaces, shaped like the real sites' pages so the real adapters read them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from typing import Any

from spyglass.market.simulator.catalogue import SimItem

HTML = "text/html; charset=utf-8"
JSON = "application/json"


def _slug(title: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def _image(origin: str, entry: SimItem, number: int = 0) -> str:
    return f"{origin}/img/{entry.index}-{number}.jpg"


def _money(value: Any) -> str:
    return f"${int(value):,}"


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _document(title: str, head: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{head}</head>'
        f"<body>{body}</body></html>\n"
    )


def _script_safe(data: Any) -> str:
    """JSON that cannot end the ``<script>`` it sits in."""
    return json.dumps(data).replace("</", "<\\/")


def _next_data(title: str, page_props: dict[str, Any]) -> str:
    data = _script_safe({"props": {"pageProps": page_props}, "page": "/search", "buildId": "simulator"})
    script = f'<script id="__NEXT_DATA__" type="application/json">{data}</script>'
    return _document(
        title, '<script src="/_next/static/chunks/main.js" defer></script>', f'<div id="__next"></div>{script}'
    )


# -- generic shop: JSON-LD and RSS -------------------------------------------------------------------------------


def shop_search(entries: Sequence[SimItem], step: int, origin: str, next_url: str | None = None) -> str:
    """A shop's category page: a JSON-LD ItemList of Products with offers (``<link rel="next">`` when more)."""
    elements = []
    for position, entry in enumerate(entries, 1):
        city, region, postal, lat, lon = entry.place
        product = {
            "@type": "Product",
            "sku": entry.site_id("shop"),
            "name": entry.title,
            "url": f"{origin}/shop/item/{entry.index}?utm_source=simulator",
            "image": [_image(origin, entry)],
            "description": entry.description,
            "offers": {
                "@type": "Offer",
                "price": f"{entry.price_at(step)}.00",
                "priceCurrency": "USD",
                "itemCondition": "https://schema.org/NewCondition"
                if entry.condition == "new"
                else "https://schema.org/UsedCondition",
                "availableAtOrFrom": {
                    "@type": "Place",
                    "address": {"@type": "PostalAddress", "addressLocality": city, "addressRegion": region,
                                "postalCode": postal},
                    "geo": {"@type": "GeoCoordinates", "latitude": lat, "longitude": lon},
                },
            },
        }  # fmt: skip
        elements.append({"@type": "ListItem", "position": position, "item": product})
    data = _script_safe({"@context": "https://schema.org", "@type": "ItemList", "itemListElement": elements})
    cards = "".join(
        f'<li><a href="/shop/item/{e.index}">{escape(e.title)}</a> {_money(e.price_at(step))}</li>' for e in entries
    )
    head = f'<script type="application/ld+json">{data}</script>'
    if next_url:
        head += f'<link rel="next" href="{escape(next_url)}">'
    return _document("Simulated shop", head, f"<h1>Results</h1><ul class='grid'>{cards}</ul>")


def shop_item(entry: SimItem, step: int, origin: str) -> str:
    """One product page (JSON-LD Product and OpenGraph tags)."""
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "sku": entry.site_id("shop"),
        "name": entry.title,
        "url": f"{origin}/shop/item/{entry.index}",
        "image": _image(origin, entry),
        "offers": {"@type": "Offer", "price": str(entry.price_at(step)), "priceCurrency": "USD"},
    }
    head = (
        f'<meta property="og:type" content="product"><meta property="og:title" content="{escape(entry.title)}">'
        f'<script type="application/ld+json">{_script_safe(product)}</script>'
    )
    return _document(entry.title, head, f"<h1>{escape(entry.title)}</h1><p>{escape(entry.description)}</p>")


def rss_feed(entries: Sequence[SimItem], step: int, origin: str, epoch: int, step_seconds: float) -> str:
    """An RSS 2.0 feed of the shop's newest listings (price in the title, like classifieds feeds)."""
    items = []
    for entry in entries:
        when = datetime.fromtimestamp(entry.posted_timestamp(epoch, step_seconds), UTC)
        items.append(
            "<item>"
            f"<title>{escape(entry.title)} - {_money(entry.price_at(step))}</title>"
            f"<link>{origin}/shop/item/{entry.index}</link>"
            f'<guid isPermaLink="false">{entry.site_id("shop")}</guid>'
            f"<description>{escape(entry.description)}</description>"
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f'<enclosure url="{_image(origin, entry)}" type="image/jpeg" length="1000"/>'
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Simulated shop</title>'
        f"<link>{origin}/shop/search</link><description>New listings</description>{''.join(items)}</channel></rss>\n"
    )


# -- Craigslist --------------------------------------------------------------------------------------------------


def craigslist_search(
    entries: Sequence[SimItem], step: int, origin: str, *, first: int = 0, total: int | None = None
) -> str:
    """A Craigslist search page as the server sends it: static results plus the JSON-LD ItemList, and the
    paginator ("1 - 120 of 431", the next-page button disabled on the last page; pages are ``s=`` offsets)."""
    elements, rows = [], []
    for position, entry in enumerate(entries):
        city, region, _postal, lat, lon = entry.place
        price = entry.price_at(step)
        elements.append({
            "position": str(position), "@type": "ListItem",
            "item": {"@context": "http://schema.org", "@type": "Product", "name": entry.title, "description": "",
                     "image": [_image(origin, entry)],
                     "offers": {"@type": "Offer", "price": f"{price}.00", "priceCurrency": "USD",
                                "availableAtOrFrom": {"@type": "Place",
                                                      "address": {"@type": "PostalAddress", "addressLocality": city,
                                                                  "addressRegion": region},
                                                      "geo": {"@type": "GeoCoordinates", "latitude": lat,
                                                              "longitude": lon}}}},
        })  # fmt: skip
        url = f"{origin}/craigslist/{entry.category[:3]}/d/{_slug(entry.title)}/{entry.site_id('craigslist')}.html"
        rows.append(
            f'<li class="cl-static-search-result" title="{escape(entry.title)}"><a href="{url}">'
            f'<div class="title">{escape(entry.title)}</div><div class="details">'
            f'<div class="price">{_money(price)}</div><div class="location">{escape(city)}</div></div></a></li>'
        )
    data = _script_safe({"itemListElement": elements, "@context": "https://schema.org", "@type": "ItemList"})
    head = f'<script type="application/ld+json" id="ld_searchpage_results">{data}</script>'
    if not rows:
        body = '<div class="cl-no-results">no results</div>'
    else:
        total = len(entries) + first if total is None else total
        last = first + len(entries)
        disabled = " bd-disabled" if last >= total else ""
        paginator = (
            f'<div class="cl-search-paginator"><span class="cl-page-number">{first + 1} - {last} of {total:,}</span>'
            f'<button type="button" class="bd-button cl-next-page icon-only{disabled}">'
            '<span class="label">next page</span></button></div>'
        )
        body = f'{paginator}<ol class="cl-static-search-results">{"".join(rows)}</ol>'
    return _document("simulated craigslist", head, body)


def craigslist_posting(entry: SimItem, step: int, origin: str, epoch: int, step_seconds: float) -> str:
    """One posting page, shaped like Craigslist's (JSON-LD Product, title, price, body, time, attributes)."""
    city, region, postal, lat, lon = entry.place
    url = f"{origin}/craigslist/{entry.category[:3]}/d/{_slug(entry.title)}/{entry.site_id('craigslist')}.html"
    price = entry.price_at(step)
    product = {
        "@context": "http://schema.org", "@type": "Product", "name": entry.title, "description": entry.description,
        "image": [_image(origin, entry, n) for n in range(2)],
        "offers": {"@type": "Offer", "price": f"{price}.00", "priceCurrency": "USD",
                   "availableAtOrFrom": {"@type": "Place",
                                         "address": {"@type": "PostalAddress", "addressLocality": city,
                                                     "addressRegion": region, "postalCode": postal},
                                         "geo": {"@type": "GeoCoordinates", "latitude": lat, "longitude": lon}}},
    }  # fmt: skip
    posted = datetime.fromtimestamp(entry.posted_timestamp(epoch, step_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S%z")
    head = (
        f'<link rel="canonical" href="{url}">'
        f'<script type="application/ld+json" id="ld_posting_data">{_script_safe(product)}</script>'
    )
    body = (
        f'<h1 class="postingtitle"><span class="postingtitletext"><span id="titletextonly">{escape(entry.title)}'
        f'</span> <span class="price">{_money(price)}</span></span></h1>'
        f'<div class="mapAndAttrs"><div id="map" data-latitude="{lat}" data-longitude="{lon}"></div>'
        f'<p class="attrgroup"><span>condition: <b>{escape(entry.condition)}</b></span></p></div>'
        f'<section id="postingbody"><div class="print-information print-qrcode-container">QR Code Link to This Post'
        f"</div>{escape(entry.description)}</section>"
        f'<div class="postinginfos"><p class="postinginfo">post id: {entry.site_id("craigslist")}</p>'
        '<p class="postinginfo reveal">posted: '
        f'<time class="date timeago" datetime="{posted}">recently</time></p></div>'
    )
    return _document(f"{entry.title} - craigslist", head, body)


def craigslist_sapi(
    entries: Sequence[SimItem], step: int, origin: str, epoch: int, step_seconds: float, total: int | None = None
) -> str:
    """The ``sapi`` JSON: rows delta-encoded against the smallest posting id and date; ``totalResultCount``
    counts every match (the ``batch`` parameter's offset pages through them)."""
    ids = [int(entry.site_id("craigslist")) for entry in entries]
    dates = [entry.posted_timestamp(epoch, step_seconds) for entry in entries]
    min_id, min_date = (min(ids), min(dates)) if entries else (0, epoch)
    places = sorted({entry.place[0] for entry in entries})
    rows = []
    for entry, posting_id, posted in zip(entries, ids, dates, strict=True):
        _city, _region, _postal, lat, lon = entry.place
        price = int(entry.price_at(step))
        rows.append([
            posting_id - min_id, posted - min_date, 1, price, f"1:{places.index(entry.place[0])}~{lat}~{lon}",
            [10, _money(price)], [4, f"3:{entry.index}-0"], [6, _slug(entry.title)], entry.title,
        ])  # fmt: skip
    decode = {"minPostingId": min_id, "minPostedDate": min_date, "locationDescriptions": places}
    count = len(rows) if total is None else total
    return json.dumps({"data": {"decode": decode, "items": rows, "totalResultCount": count}, "errors": []})


def craigslist_areas(origin: str) -> str:
    """A small area list in Craigslist's published format."""
    areas = [
        {"AreaID": 4, "Hostname": "boston", "Abbreviation": "bos", "Country": "US", "Description": "boston",
         "ShortDescription": "boston", "Region": "MA", "Latitude": 42.357799, "Longitude": -71.059196},
        {"AreaID": 2, "Hostname": "seattle", "Abbreviation": "sea", "Country": "US", "Description": "seattle-tacoma",
         "ShortDescription": "seattle", "Region": "WA", "Latitude": 47.6064, "Longitude": -122.331001},
        {"AreaID": 38, "Hostname": "providence", "Abbreviation": "prv", "Country": "US", "Description": "rhode island",
         "ShortDescription": "rhode island", "Region": "RI", "Latitude": 41.823101, "Longitude": -71.411903},
    ]  # fmt: skip
    return json.dumps(areas)


# -- script-built sites ----------------------------------------------------------------------------------------


def facebook_search(entries: Sequence[SimItem], step: int, origin: str) -> str:
    """Facebook's logged-out search page: Relay data in a ``<script type="application/json">``."""
    edges = []
    for entry in entries:
        city, region, *_ = entry.place
        price = entry.price_at(step)
        listing = {
            "__typename": "GroupCommerceProductItem", "id": entry.site_id("facebook"),
            "primary_listing_photo": {"image": {"uri": _image(origin, entry)}},
            "listing_price": {"formatted_amount": _money(price), "amount": f"{price}.00"},
            "location": {"reverse_geocode": {"city": city, "state": region}},
            "is_sold": False, "marketplace_listing_title": entry.title,
            "marketplace_listing_seller": {"__typename": "User", "name": entry.seller},
        }  # fmt: skip
        edges.append({"node": {"__typename": "MarketplaceFeedListingStoryObject", "listing": listing}})
    relay = {"require": [["ScheduledServerJS", "handle", None, [{"__bbox": {"result": {"data": {
        "marketplace_search": {"feed_units": {"edges": edges}}}}}}]]]}  # fmt: skip
    body = f'<div id="mount_0_0"></div><script type="application/json" data-sjs="">{_script_safe(relay)}</script>'
    return _document("Marketplace", "", body)


def offerup_search(entries: Sequence[SimItem], step: int, origin: str) -> str:
    tiles = [
        {"tileType": "LISTING", "listing": {
            "listingId": entry.site_id("offerup"), "title": entry.title, "price": str(entry.price_at(step)),
            "locationName": f"{entry.place[0]}, {entry.place[1]}", "image": {"url": _image(origin, entry)},
            "conditionText": entry.condition.capitalize()}}
        for entry in entries
    ]  # fmt: skip
    return _next_data("OfferUp", {"searchFeedResponse": {"looseTiles": tiles}})


def mercari_search(entries: Sequence[SimItem], step: int, origin: str, epoch: int, step_seconds: float) -> str:
    items = [
        {"id": entry.site_id("mercari"), "name": entry.title, "price": int(entry.price_at(step)) * 100,
         "status": "on_sale", "itemCondition": {"name": entry.condition},
         "photos": [{"imageUrl": _image(origin, entry)}],
         "seller": {"name": entry.seller}, "created": entry.posted_timestamp(epoch, step_seconds)}
        for entry in entries
    ]  # fmt: skip
    return _next_data("Mercari", {"searchResults": {"items": items}})


def ksl_search(entries: Sequence[SimItem], step: int, origin: str, epoch: int, step_seconds: float) -> str:
    items = [
        {"id": 77_000_000 + entry.index, "title": entry.title, "price": int(entry.price_at(step)),
         "city": entry.place[0], "state": entry.place[1], "lat": entry.place[3], "lon": entry.place[4],
         "photo": _image(origin, entry), "status": "Active", "sellerName": entry.seller,
         "createTime": _iso(entry.posted_timestamp(epoch, step_seconds))}
        for entry in entries
    ]  # fmt: skip
    return _next_data("KSL Classifieds", {"listingData": {"items": items}})


def poshmark_search(entries: Sequence[SimItem], step: int, origin: str) -> str:
    items = [
        {"id": entry.site_id("poshmark"), "title": entry.title,
         "price_amount": {"val": f"{entry.price_at(step)}.00", "currency_code": "USD"},
         "creator_username": entry.seller, "cover_shot": {"url": _image(origin, entry)},
         "inventory": {"status": "available"}, "condition": "nwt" if entry.condition == "new" else "not_nwt"}
        for entry in entries
    ]  # fmt: skip
    state = _script_safe({"$_search": {"gridData": {"data": items}}})
    return _document("Poshmark", "", f"<div id='app'></div><script>window.__INITIAL_STATE__ = {state};</script>")


def ebay_results(entries: Sequence[SimItem], step: int, origin: str, next_url: str | None = None) -> str:
    """eBay's results page (``li.s-item`` cards) and its pagination (``a.pagination__next`` when more, ``_pgn``)."""
    cards = []
    for entry in entries:
        item_id = entry.site_id("ebay")
        cards.append(
            f'<li class="s-item"><div class="s-item__image"><img src="{_image(origin, entry)}"></div>'
            f'<a class="s-item__link" href="{origin}/ebay/itm/{item_id}?hash=item{item_id[-4:]}">'
            f'<div class="s-item__title"><span role="heading">{escape(entry.title)}</span></div></a>'
            f'<span class="SECONDARY_INFO">{escape(entry.condition.capitalize())}</span>'
            f'<span class="s-item__price">{_money(entry.price_at(step))}.00</span>'
            f'<span class="s-item__location">from {escape(entry.place[0])}</span></li>'
        )
    head = '<div class="srp-controls__count"><h1>results</h1></div>'
    pagination = '<nav class="pagination" role="navigation">'
    if next_url:
        pagination += (
            f'<a class="pagination__next icon-link" href="{escape(next_url)}" aria-label="Go to next search page">'
        )
        pagination += "</a>"
    else:
        pagination += (
            '<button class="pagination__next icon-btn" aria-disabled="true" aria-label="Go to next search page">'
        )
        pagination += "</button>"
    pagination += "</nav>"
    return _document("eBay", "", f'{head}<ul class="srp-results">{"".join(cards)}</ul>{pagination}')


def ebay_api(
    entries: Sequence[SimItem],
    step: int,
    origin: str,
    epoch: int,
    step_seconds: float,
    *,
    offset: int = 0,
    limit: int = 50,
    total: int | None = None,
    next_url: str | None = None,
) -> str:
    """A Browse API ``item_summary/search`` answer; ``next`` is there only when more results follow."""
    summaries = [
        {"itemId": f"v1|{entry.site_id('ebay')}|0", "legacyItemId": entry.site_id("ebay"), "title": entry.title,
         "price": {"value": f"{entry.price_at(step)}.00", "currency": "USD"}, "condition": entry.condition,
         "image": {"imageUrl": _image(origin, entry)}, "itemWebUrl": f"{origin}/ebay/itm/{entry.site_id('ebay')}",
         "itemLocation": {"city": entry.place[0], "postalCode": entry.place[2], "country": "US"},
         "seller": {"username": entry.seller},
         "itemCreationDate": _iso(entry.posted_timestamp(epoch, step_seconds))}
        for entry in entries
    ]  # fmt: skip
    body: dict[str, Any] = {
        "total": len(summaries) if total is None else total,
        "offset": offset,
        "limit": limit,
        "itemSummaries": summaries,
    }
    if next_url:
        body["next"] = next_url
    return json.dumps(body)
