"""What most adapters share: building the search URL, fetching a page, spotting block pages, and reading
several results pages of one search (``read_pages``, ``next_link``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from selectolax.lexbor import LexborHTMLParser

from spyglass.core.fetch import FetchResult
from spyglass.market.adapters.base import AdapterError, Fetch, Politeness, ScrapedListing, SearchQuery
from spyglass.market.adapters.parsing import absolute_url, json_ld

#: Phrases only bot checks use; looked for anywhere in a small page.
_BLOCK_PHRASES = ("are you a robot", "verify you are human", "unusual traffic", "pardon our interruption")
#: Words a results page may contain (a reCAPTCHA in a form, an album called "Access Denied"): only in the title.
_BLOCK_TITLE_WORDS = ("captcha", "access denied", "attention required", "just a moment", "security check")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)

BROWSER_HEADERS = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "Accept-Language": "en-US,en;q=0.8"}


def build_url(base: str, path: str, params: dict[str, Any]) -> str:
    """``base`` + ``path`` with the non-empty ``params`` as the query string."""
    query = urlencode([(k, _param(v)) for k, v in params.items() if v not in (None, "")])
    return f"{base.rstrip('/')}{path}" + (f"?{query}" if query else "")


def _param(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def search_terms(query: SearchQuery, *, exclusions: bool = False) -> str:
    """The words to send to a site whose search requires every word.

    That is the query's required words (``(red OR blue) bike`` sends ``bike``: the site returns every
    bike and Spyglass keeps the red and blue ones); a query made only of alternatives (``red OR blue``)
    sends them all, as there is no single search for it. With ``exclusions`` (eBay's and Craigslist's
    search take ``-word``) the excluded single words follow as ``-word``; phrases stay local filters.
    """
    words = " ".join(query.required_terms) or query.terms or query.keywords
    if exclusions:
        excluded: list[str] = []
        for term in (*query.excluded_terms, *query.excluded_words):
            word = term.strip().lower()
            if _PLAIN_WORD.fullmatch(word) and word not in excluded:
                excluded.append(word)
        words = " ".join([words.strip(), *(f"-{word}" for word in excluded)])
    return words.strip()


_PLAIN_WORD = re.compile(r"\w[\w'.]*")


def looks_blocked(result: FetchResult) -> bool:
    """Whether a 200 page is really a bot check (a small page talking about captchas or robots)."""
    if len(result.content) > 60_000:
        return False
    lowered = result.text.lower()
    if any(phrase in lowered for phrase in _BLOCK_PHRASES):
        return True
    title = _TITLE.search(lowered)
    return title is not None and any(word in title.group(1) for word in _BLOCK_TITLE_WORDS)


async def get_page(fetch: Fetch, url: str, *, site: str, headers: dict[str, str] | None = None) -> FetchResult:
    """Fetch ``url`` through the platform fetcher; AdapterError when the site answers with a bot check."""
    result = await fetch(url, headers=headers or BROWSER_HEADERS)
    if looks_blocked(result):
        raise AdapterError(f"{site} answered with a bot check instead of results; try later", transient=True)
    return result


#: One results page read: its listings and the address of the next page (None: the last one).
PageRead = tuple[list[ScrapedListing], str | None]


async def read_pages(
    query: SearchQuery, politeness: Politeness, first: str, read: Callable[[str, int], Awaitable[PageRead]]
) -> list[ScrapedListing]:
    """Read results pages from ``first`` on, each with ``read(url, number)``, and merge their listings.

    Stops after ``min(query.max_pages, politeness.max_pages)`` pages, at a page without a next address,
    at a page that brings no listing not seen on an earlier one (sites repeat their last page, or ignore
    an offset past the end), or at a next address already read. Waits the search's page delay (default:
    ``politeness.delay_seconds``) between pages; each fetch goes through the platform fetcher, so the
    URL policy, robots.txt and per-host politeness apply to every page. Tells ``query.page_read``.
    """
    limit = max(1, min(query.max_pages, politeness.max_pages))
    delay = politeness.delay_seconds if query.page_delay_seconds is None else query.page_delay_seconds
    found: dict[str, ScrapedListing] = {}
    visited: set[str] = set()
    url: str | None = first
    number = 0
    while url is not None and number < limit and url not in visited:
        if number:
            await asyncio.sleep(delay)
        number += 1
        visited.add(url)
        listings, url = await read(url, number)
        await query.page_read(number)
        new = [listing for listing in listings if listing.external_id not in found]
        found.update((listing.external_id, listing) for listing in new)
        if not new:
            break
    return list(found.values())


def same_site(url: str | None, page_url: str) -> str | None:
    """``url`` when it is http(s) on the host of ``page_url`` (a results page never sends us elsewhere)."""
    if not url:
        return None
    target, page = urlsplit(url), urlsplit(page_url)
    if target.scheme not in ("http", "https") or target.netloc.lower() != page.netloc.lower():
        return None
    return url


def next_link(tree: LexborHTMLParser, page_url: str, text: str | None = None) -> str | None:
    """The next results page a page announces, on the same site: ``<link rel="next">``, ``<a rel="next">``,
    or in JSON-LD a Hydra view's ``next`` (``"view": {"next": ...}``; schema.org itself has no next page)."""
    for node in tree.css("link[rel], a[rel]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        if "next" in rel and (found := same_site(absolute_url(page_url, node.attributes.get("href")), page_url)):
            return found
    for obj in json_ld(text if text is not None else tree):
        view = obj.get("view") or obj.get("hydra:view")
        target = view.get("next") or view.get("hydra:next") if isinstance(view, dict) else None
        if isinstance(target, dict):
            target = target.get("@id")
        if isinstance(target, str) and (found := same_site(absolute_url(page_url, target), page_url)):
            return found
    return None


class PageAdapter:
    """An adapter that fetches one results page and parses it with ``parse(text, url)``.

    Subclasses set the class attributes and implement ``search_url`` and ``parse``.
    """

    name: str
    label: str
    default_base: str
    remote_filters: frozenset[str] = frozenset()
    politeness: Politeness = Politeness()
    needs_browser: bool = False

    def base_url(self, query: SearchQuery) -> str:
        """The site to query: ``query.endpoint`` when set (simulator, tests), else the real site."""
        return (query.endpoint or self.default_base).rstrip("/")

    def search_url(self, query: SearchQuery) -> str:
        raise NotImplementedError

    def parse(self, text: str, url: str) -> list[ScrapedListing]:
        """The listings on a results page (pure: no fetching)."""
        raise NotImplementedError

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        """Fetch the results page for ``query`` and parse it (these sites send one page)."""
        url = self.search_url(query)
        page = await get_page(fetch, url, site=self.label)
        listings = self.parse(page.text, page.url)
        await query.page_read(1)
        return listings

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
