"""Feeds: RSS and Atom (feedparser) at ``query.options["url"]``; each entry is a listing."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

import feedparser

from spyglass.market.adapters.base import AdapterError, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import PageAdapter
from spyglass.market.adapters.parsing import (
    absolute_url,
    canonical_url,
    html_tree,
    parse_price,
    read_each,
    stable_id,
    text_of,
)
from spyglass.market.adapters.registry import register_adapter

FEED_HEADERS = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}


class RssAdapter(PageAdapter):
    """An RSS/Atom feed; the price comes from a price element of the entry or from its title ("Bike - $120")."""

    name = "rss"
    label = "RSS / Atom feed"
    default_base = ""
    politeness = Politeness(min_interval_seconds=300, delay_seconds=1.0)

    def search_url(self, query: SearchQuery) -> str:
        url = str(query.options.get("url") or query.endpoint or "").strip()
        if not url.startswith(("http://", "https://")):
            raise AdapterError("the feed adapter needs the feed's address (an http:// or https:// URL)")
        return url

    async def search(self, query: SearchQuery, fetch: Any) -> list[ScrapedListing]:
        url = self.search_url(query)
        result = await fetch(url, headers=FEED_HEADERS)
        listings = self.parse(result.text, result.url)
        await query.page_read(1)
        return listings

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        feed = feedparser.parse(text)
        if feed.bozo and not feed.entries:
            raise AdapterError(f"{url} is not an RSS or Atom feed ({feed.get('bozo_exception', 'unreadable')})")
        return read_each(feed.entries, lambda entry: self._entry(entry, url), site="feed")

    def _entry(self, entry: Any, feed_url: str) -> ScrapedListing | None:
        title = " ".join(str(entry.get("title", "")).split())
        price_in_title = _price_in(title)
        if price_in_title:  # "Road bike - $120": the price is not part of the name
            title = title.removesuffix(price_in_title).rstrip(" -–|(").strip() or title
        link = absolute_url(feed_url, entry.get("link"))
        if not title or not link:
            return None
        url = canonical_url(link)
        summary_html = entry.get("summary", "") or ""
        summary = text_of(html_tree(summary_html).body) if summary_html else ""
        raw_price = entry.get("price") or entry.get("g_price") or entry.get("enc_price") or price_in_title
        price, currency = parse_price(raw_price, entry.get("currency"))
        images = [e["href"] for e in entry.get("enclosures", []) if str(e.get("type", "")).startswith("image/")]
        images += [m["url"] for m in entry.get("media_content", []) if m.get("url") and m["url"] not in images]
        images += [m["url"] for m in entry.get("media_thumbnail", []) if m.get("url") and m["url"] not in images]
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        return ScrapedListing(
            marketplace=self.name,
            external_id=str(entry.get("id") or "") or stable_id(url),
            url=url,
            title=title,
            price=price,
            currency=currency,
            description=summary,
            posted_at=datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None,
            images=images,
            seller=entry.get("author") or None,
            location=entry.get("location") or None,
        )


def _price_in(title: str) -> str | None:
    """The price at the end of titles like "Road bike - $120" or "Desk (£40)"."""
    for token in reversed(title.replace("(", " ").replace(")", " ").split()):
        if any(ch.isdigit() for ch in token) and any(sym in token for sym in "$€£"):
            return token
    return None


ADAPTER = RssAdapter()
register_adapter(ADAPTER)
