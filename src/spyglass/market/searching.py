"""Asking each marketplace of a saved search for its listings and keeping those the search wants.

Used by the ``market.search`` job (which then stores the results) and by the editor's live preview
(which only shows them). One marketplace failing does not lose the others' results: each failure
is reported by site name.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from spyglass.config import Settings
from spyglass.core.fetch import Fetcher, FetchError, PermanentFetchError, TransientFetchError
from spyglass.market.adapters import configure
from spyglass.market.adapters.base import AdapterError, Fetch, PageHook, ScrapedListing
from spyglass.market.adapters.browser import BrowserFetch
from spyglass.market.adapters.registry import UnknownAdapter, get_adapter
from spyglass.market.grouping import image_hash
from spyglass.market.matching import SearchCriteria, search_query
from spyglass.market.models import SavedSearch
from spyglass.market.store import MarketplaceResult

logger = logging.getLogger("spyglass.market")

Progress = Callable[[int, str], Awaitable[None]]


@dataclass
class Failure:
    """Why one marketplace gave nothing: the message names the site; ``transient`` if trying later may help."""

    message: str
    transient: bool


@dataclass
class Collected:
    """The results of every marketplace that answered, and the failures of the others."""

    results: list[MarketplaceResult] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    #: Results pages read, per marketplace (failed ones included, up to where they failed).
    pages: dict[str, int] = field(default_factory=dict)

    @property
    def fetched(self) -> int:
        return sum(len(result.scraped) for result in self.results)

    @property
    def kept(self) -> int:
        return sum(len(result.kept) for result in self.results)


async def collect(
    search: SavedSearch,
    *,
    settings: Settings,
    fetcher: Fetcher,
    progress: Progress | None = None,
    max_pages: int | None = None,
) -> Collected:
    """Run ``search`` against each of its marketplaces through the platform fetcher (robots.txt honoured).

    Each marketplace that paginates is read up to ``max_pages`` results pages (default
    ``SPYGLASS_MARKET_MAX_PAGES``). A search with ``use_browser`` renders pages in chromium
    (``BrowserFetch``), whose every request still goes through ``fetcher``.
    """
    pages = max_pages if max_pages is not None else settings.market_max_pages
    configure(settings)
    if not search.use_browser:
        return await _collect(search, functools.partial(fetcher.fetch, respect_robots=True), settings, progress, pages)
    try:
        browser = BrowserFetch(fetcher)
    except FileNotFoundError as exc:  # chromium missing on this host: say so for every marketplace
        collected = Collected()
        for name in search.marketplaces:
            collected.failures[name] = Failure(f"{name}: cannot render pages in a browser: {exc}", transient=False)
        return collected
    async with browser:
        return await _collect(search, functools.partial(browser, respect_robots=True), settings, progress, pages)


async def _collect(
    search: SavedSearch, fetch: Fetch, settings: Settings, progress: Progress | None, max_pages: int
) -> Collected:
    criteria = SearchCriteria.of(search)
    collected = Collected()
    total = max(1, len(search.marketplaces))
    for index, name in enumerate(search.marketplaces):
        if progress is not None:
            await progress(5 + int(80 * index / total), f"searching {name}")
        try:
            adapter = get_adapter(name)
            label = adapter.label
            query = replace(
                search_query(search, name, endpoint=settings.market_endpoints.get(name)),
                max_pages=max_pages,
                page_delay_seconds=settings.market_page_delay_seconds,
                on_page=_page_counter(collected, name, progress, 5 + int(80 * index / total)),
            )
            scraped = (await adapter.search(query, fetch))[: settings.market_max_listings_per_run]
        except UnknownAdapter as exc:
            collected.failures[name] = Failure(str(exc), transient=False)
            continue
        except AdapterError as exc:
            collected.failures[name] = Failure(f"{label}: {exc.message}", transient=exc.transient)
            continue
        except TransientFetchError as exc:
            collected.failures[name] = Failure(f"{label}: {exc.message}", transient=True)
            continue
        except PermanentFetchError as exc:
            collected.failures[name] = Failure(f"{label}: {exc.message}", transient=False)
            continue
        except Exception:  # an adapter bug must not lose the other marketplaces' results
            logger.exception("market adapter failed", extra={"adapter": name})
            collected.failures[name] = Failure(f"{label}: the adapter failed unexpectedly (logged)", transient=True)
            continue
        kept = [item for item in scraped if criteria.accepts(item, adapter.remote_filters)]
        collected.results.append(MarketplaceResult(marketplace=name, scraped=scraped, kept=kept))
    return collected


def _page_counter(collected: Collected, name: str, progress: Progress | None, percent: int) -> PageHook:
    """Counts the pages a marketplace's adapter reads, in ``collected.pages`` and in the run's progress."""

    async def page_read(number: int) -> None:
        collected.pages[name] = number
        if progress is not None and number > 1:
            await progress(percent, f"searching {name}: page {number}")

    return page_read


async def preview(search: SavedSearch, *, settings: Settings, fetcher: Fetcher) -> Collected:
    """Run an unsaved search once, within the preview time limit, storing nothing (first results page only:
    it shows what the search finds, and further pages would wait out the sites' delays)."""
    try:
        async with asyncio.timeout(settings.market_preview_timeout_seconds):
            return await collect(search, settings=settings, fetcher=fetcher, max_pages=1)
    except TimeoutError:
        collected = Collected()
        seconds = settings.market_preview_timeout_seconds
        collected.failures["preview"] = Failure(f"the marketplaces did not answer within {seconds:g} s", True)
        return collected


ListingKey = tuple[str, str]


def listing_key(item: ScrapedListing) -> ListingKey:
    """How a listing is identified in storage: marketplace and the marketplace's own id."""
    return item.marketplace[:32], item.external_id[:255]


async def hash_images(
    items: list[ScrapedListing], *, settings: Settings, fetcher: Fetcher, limit: int
) -> dict[ListingKey, str]:
    """Difference hashes of the first image of up to ``limit`` listings (for grouping cross-posts).

    Images pass the same fetcher rules as pages (URL policy, robots.txt, politeness); one that cannot
    be fetched or read is skipped.
    """
    hashes: dict[ListingKey, str] = {}
    for item in items:
        if len(hashes) >= limit:
            break
        if not item.images or not item.images[0].startswith(("http://", "https://")):
            continue
        try:
            result = await fetcher.fetch(item.images[0], respect_robots=True, max_bytes=settings.market_image_max_bytes)
        except FetchError:
            continue
        if digest := image_hash(result.content):
            hashes[listing_key(item)] = digest
    return hashes
