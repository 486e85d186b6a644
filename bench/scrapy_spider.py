"""The Scrapy side of ``bench/market.py``: the same results pages, the same fields, items to a JSON lines file.

Runs only inside the benchmark's own virtual environment (``bench/.venv-scrapy``, made by bench/market.py):

    bench/.venv-scrapy/bin/python bench/scrapy_spider.py --urls urls.json --items items.jsonl --stats stats.json

``urls.json`` is a list of ``{"marketplace": ..., "url": ...}``; every entry is fetched (``dont_filter``:
searches that share a page each fetch it, as Spyglass's runs do). Per page type the spider extracts what
the Spyglass adapter extracts: id, title, price, currency, URL, location, first image. ``stats.json``
gets the pages fetched, failures, the crawl's wall time (spider opened to closed) and the process's CPU time.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess

_POSTING_ID = re.compile(r"/(\d{6,})\.html")
_TITLE_PRICE = re.compile(r"^(.*?)\s+-\s+\$([\d,]+(?:\.\d+)?)$")


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _money(text: str | None) -> str | None:
    if not text:
        return None
    digits = re.sub(r"[^\d.]", "", text)
    return digits or None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


class MarketSpider(scrapy.Spider):
    """Fetches each search's results page and yields one item per listing."""

    name = "market"

    def __init__(self, entries: list[dict[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries
        self.failures = 0
        self.opened_at = self.closed_at = 0.0
        self.cpu_opened = self.cpu_closed = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MarketSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    def on_opened(self, spider: scrapy.Spider) -> None:
        self.opened_at, self.cpu_opened = time.perf_counter(), time.process_time()

    def on_closed(self, spider: scrapy.Spider) -> None:
        self.closed_at, self.cpu_closed = time.perf_counter(), time.process_time()

    async def start(self) -> Any:
        for entry in self.entries:
            yield scrapy.Request(
                entry["url"], callback=self.parse_page, errback=self.failed, dont_filter=True,
                cb_kwargs={"marketplace": entry["marketplace"]},
            )  # fmt: skip

    def failed(self, failure: Any) -> None:
        self.failures += 1

    def parse_page(self, response: Any, marketplace: str) -> Any:
        parse = {"jsonld": self.jsonld, "rss": self.rss, "craigslist": self.craigslist, "offerup": self.offerup}
        for item in parse[marketplace](response):
            yield {"marketplace": marketplace, **item}

    def jsonld(self, response: Any) -> Any:
        """A shop page: the JSON-LD ItemList of Products."""
        for script in response.css('script[type="application/ld+json"]::text').getall():
            data = json.loads(script)
            for element in data.get("itemListElement", []):
                product = element.get("item", {})
                offer = _first(product.get("offers")) or {}
                address = (offer.get("availableAtOrFrom") or {}).get("address") or {}
                yield {
                    "external_id": str(product.get("sku")),
                    "title": product.get("name"),
                    "price": offer.get("price"),
                    "currency": offer.get("priceCurrency"),
                    "url": _without_query(response.urljoin(product.get("url", ""))),
                    "location": address.get("addressLocality"),
                    "image": _first(product.get("image")),
                }

    def rss(self, response: Any) -> Any:
        """An RSS feed: price in the title ("Title - $450")."""
        for entry in response.xpath("//item"):
            title = entry.xpath("title/text()").get("")
            match = _TITLE_PRICE.match(title)
            yield {
                "external_id": entry.xpath("guid/text()").get(),
                "title": match.group(1) if match else title,
                "price": _money(match.group(2)) if match else None,
                "currency": "USD" if match else None,
                "url": entry.xpath("link/text()").get(),
                "location": None,
                "image": entry.xpath("enclosure/@url").get(),
            }

    def craigslist(self, response: Any) -> Any:
        """A Craigslist search page: static result rows (id, URL) completed by the JSON-LD ItemList."""
        script = response.css("script#ld_searchpage_results::text").get()
        elements = json.loads(script).get("itemListElement", []) if script else []
        for row, element in zip(response.css("li.cl-static-search-result"), elements, strict=False):
            url = row.css("a::attr(href)").get("")
            posting = _POSTING_ID.search(url)
            product = element.get("item", {})
            offer = product.get("offers") or {}
            yield {
                "external_id": posting.group(1) if posting else url,
                "title": row.css(".title::text").get() or product.get("name"),
                "price": offer.get("price") or _money(row.css(".price::text").get()),
                "currency": offer.get("priceCurrency", "USD"),
                "url": url,
                "location": row.css(".location::text").get(),
                "image": _first(product.get("image")),
            }

    def offerup(self, response: Any) -> Any:
        """An OfferUp search page: the listing tiles in ``__NEXT_DATA__``."""
        data = json.loads(response.css("script#__NEXT_DATA__::text").get("{}"))
        tiles = data.get("props", {}).get("pageProps", {}).get("searchFeedResponse", {}).get("looseTiles", [])
        for tile in tiles:
            listing = tile.get("listing") or {}
            if tile.get("tileType") != "LISTING" or not listing.get("listingId"):
                continue
            yield {
                "external_id": listing["listingId"],
                "title": listing.get("title"),
                "price": listing.get("price"),
                "currency": "USD",
                "url": f"https://offerup.com/item/detail/{listing['listingId']}",
                "location": listing.get("locationName"),
                "image": (listing.get("image") or {}).get("url"),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=Path, required=True)
    parser.add_argument("--items", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    entries = json.loads(args.urls.read_text())
    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "HTTPCACHE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "COOKIES_ENABLED": False,
            "RETRY_TIMES": 2,
            "FEEDS": {str(args.items): {"format": "jsonlines", "encoding": "utf-8", "overwrite": True}},
        }
    )
    crawler = process.create_crawler(MarketSpider)
    process.crawl(crawler, entries=entries)
    process.start()
    spider = crawler.spider
    stats = crawler.stats.get_stats()
    pages = sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/200"))
    robots = stats.get("robotstxt/response_count", 0)
    args.stats.write_text(
        json.dumps(
            {
                "scrapy_version": scrapy.__version__,
                "pages": pages - robots,
                "failed": spider.failures + stats.get("spider_exceptions/count", 0),
                "items": stats.get("item_scraped_count", 0),
                "elapsed_s": spider.closed_at - spider.opened_at,
                "cpu_s": spider.cpu_closed - spider.cpu_opened,
            }
        )
    )


if __name__ == "__main__":
    main()
