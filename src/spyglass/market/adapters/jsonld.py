"""Generic structured data: any page's JSON-LD (Product, Offer, ItemList), microdata and OpenGraph product tags."""

from __future__ import annotations

from spyglass.market.adapters.base import AdapterError, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.common import PageAdapter
from spyglass.market.adapters.parsing import html_tree, products_from_structured_data
from spyglass.market.adapters.registry import register_adapter


class JsonLdAdapter(PageAdapter):
    """Reads the page at ``query.options["url"]``; the site applies no filter, Spyglass applies them all."""

    name = "jsonld"
    label = "Any page with structured data"
    default_base = ""
    politeness = Politeness(min_interval_seconds=300, delay_seconds=2.0)

    def search_url(self, query: SearchQuery) -> str:
        url = str(query.options.get("url") or query.endpoint or "").strip()
        if not url.startswith(("http://", "https://")):
            raise AdapterError("the structured-data adapter needs the page's address (an http:// or https:// URL)")
        return url

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        return products_from_structured_data(html_tree(text), marketplace=self.name, page_url=url, text=text)


ADAPTER = JsonLdAdapter()
register_adapter(ADAPTER)
