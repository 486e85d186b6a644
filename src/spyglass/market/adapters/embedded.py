"""Adapters for sites that build their pages with scripts and embed the results as JSON (Next.js and similar).

Each site says which keys make a dict "a listing" and how to turn one into a ``ScrapedListing``;
the dicts are found wherever they are nested, so a moved ``props.pageProps...`` path does not break us.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from spyglass.market.adapters.base import AdapterError, ScrapedListing
from spyglass.market.adapters.common import PageAdapter
from spyglass.market.adapters.parsing import embedded_state, find_dicts, html_tree, read_each


class EmbeddedJsonAdapter(PageAdapter):
    """Parse = find the listing dicts in the page's embedded JSON and convert each with ``listing``."""

    listing_keys: ClassVar[tuple[str, ...]]

    def listing(self, item: dict[str, Any], page_url: str) -> ScrapedListing | None:
        raise NotImplementedError

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        roots = embedded_state(html_tree(text))
        if not roots:
            raise AdapterError(f"the {self.label} page has no embedded data; the site's layout may have changed")
        return read_each(_all(roots, self.listing_keys), lambda item: self.listing(item, url), site=self.label)


def _all(roots: Iterable[Any], keys: tuple[str, ...]) -> Iterable[dict[str, Any]]:
    for root in roots:
        yield from find_dicts(root, keys)


def first_image(value: Any) -> list[str]:
    """The image URL(s) in the shapes sites use: a string, ``{"url": ...}``, or a list of either."""
    items = value if isinstance(value, list) else [value]
    urls = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("url") or item.get("imageUrl") or item.get("uri") or item.get("src")
        if isinstance(item, str) and item.startswith(("http://", "https://")) and item not in urls:
            urls.append(item)
    return urls
