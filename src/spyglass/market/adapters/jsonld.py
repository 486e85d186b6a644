"""Generic structured data: any page's JSON-LD (Product, Offer, ItemList), microdata and OpenGraph product tags.

A page that announces a next page (``rel="next"``, or a JSON-LD Hydra view's ``next``) on the same site
is followed, up to the search's page limit (``common.read_pages``).
"""

from __future__ import annotations

from spyglass.market.adapters.base import AdapterError, Fetch, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import PageAdapter, PageRead, get_page, next_link, read_pages
from spyglass.market.adapters.parsing import html_tree, products_from_structured_data
from spyglass.market.adapters.registry import register_adapter


class JsonLdAdapter(PageAdapter):
    """Reads the page at ``query.options["url"]``; the site applies no filter, Spyglass applies them all."""

    name = "jsonld"
    label = "Any page with structured data"
    default_base = ""
    politeness = Politeness(min_interval_seconds=300, delay_seconds=2.0, max_pages=10)

    def search_url(self, query: SearchQuery) -> str:
        url = str(query.options.get("url") or query.endpoint or "").strip()
        if not url.startswith(("http://", "https://")):
            raise AdapterError("the structured-data adapter needs the page's address (an http:// or https:// URL)")
        return url

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        return products_from_structured_data(html_tree(text), marketplace=self.name, page_url=url, text=text)

    def parse_page(self, text: str, url: str) -> PageRead:
        """The listings on a page and the next page it announces."""
        tree = html_tree(text)
        listings = products_from_structured_data(tree, marketplace=self.name, page_url=url, text=text)
        return listings, next_link(tree, url, text)

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        """The first page and, while each announces one, the next pages (up to the search's limit)."""

        async def read(url: str, _number: int) -> PageRead:
            page = await get_page(fetch, url, site=self.label)
            return self.parse_page(page.text, page.url)

        return await read_pages(query, self.politeness, self.search_url(query), read)


ADAPTER = JsonLdAdapter()
register_adapter(ADAPTER)
