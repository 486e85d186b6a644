"""The contract between marketplace adapters and the rest of the market feature.

An adapter turns a :class:`SearchQuery` into :class:`ScrapedListing` objects. It fetches
only through the ``Fetch`` callable it is given (the platform fetcher: URL policy, per-host
politeness, size cap, retries), so it never opens a connection of its own. Parsing is a pure
function of the page (``parse``) so it can be tested against captured pages.

The market service stores what adapters return; it applies locally every filter that the
adapter does not list in ``remote_filters``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from spyglass.core.fetch import FetchResult

#: The platform fetcher's signature as adapters see it: ``await fetch(url, headers=..., method=..., content=...)``.
Fetch = Callable[..., Awaitable[FetchResult]]
#: Told the number of each results page an adapter has read.
PageHook = Callable[[int], Awaitable[None]]

#: Filter names an adapter may apply remotely (the site does it) - the rest are applied locally.
FILTER_KEYWORDS = "keywords"
FILTER_PRICE = "price"
FILTER_CONDITION = "condition"
FILTER_LOCATION = "location"


@dataclass(frozen=True)
class GeoPoint:
    """A place the user searches around: coordinates plus what the user typed (city or ZIP)."""

    latitude: float
    longitude: float
    label: str = ""
    postal_code: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    """What one saved search asks one marketplace for.

    ``keywords`` is the user's expression (AND / OR / NOT, quoted phrases); ``terms`` is every positive
    word and phrase (OR alternatives included), ``required_terms`` those every match contains (what to
    send to a site that requires every word), ``excluded_terms`` those no match contains (for sites
    that take ``-word``); see ``common.search_terms``. ``options`` are adapter-specific (a feed URL,
    a CSS recipe, an explicit Craigslist site); ``endpoint`` overrides the adapter's base URL (tests,
    the marketplace simulator, a self-hosted shop).
    """

    keywords: str = ""
    terms: str = ""
    required_terms: tuple[str, ...] = ()
    excluded_terms: tuple[str, ...] = ()
    excluded_words: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    condition: str | None = None
    location: GeoPoint | None = None
    radius_km: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    endpoint: str | None = None
    use_browser: bool = False
    #: Results pages an adapter may read for this search (sites that paginate; ``common.read_pages``).
    max_pages: int = 1
    #: Seconds between two pages of one search; None: the adapter's ``politeness.delay_seconds``.
    page_delay_seconds: float | None = None
    #: Called with the number of each results page read (the run's progress); not part of the query's identity.
    on_page: PageHook | None = field(default=None, compare=False, repr=False)

    async def page_read(self, number: int) -> None:
        """Tell ``on_page`` (when set) that results page ``number`` was read."""
        if self.on_page is not None:
            await self.on_page(number)


@dataclass
class ScrapedListing:
    """One listing as a marketplace shows it, before Spyglass stores it.

    ``external_id`` is the marketplace's own id (or a stable hash of the canonical URL when the site
    has none); ``url`` is already canonical (tracking parameters stripped).
    """

    marketplace: str
    external_id: str
    url: str
    title: str
    price: Decimal | None = None
    currency: str | None = None
    description: str = ""
    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    posted_at: datetime | None = None
    images: list[str] = field(default_factory=list)
    seller: str | None = None
    condition: str | None = None


@dataclass(frozen=True)
class Politeness:
    """How gently to treat a site: the shortest interval a search may use and the delay between pages.

    ``max_pages`` is how many results pages the adapter can read (1: the site does not paginate, or the
    adapter does not follow it); a search reads at most ``min(max_pages, SearchQuery.max_pages)``.
    """

    min_interval_seconds: int = 300
    delay_seconds: float = 2.0
    max_pages: int = 1


class AdapterError(Exception):
    """The site answered with something the adapter cannot read (layout changed, blocked, bad recipe).

    ``message`` is shown to the user; ``transient`` says whether trying later may help.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class Adapter(Protocol):
    """A marketplace. Implementations live one per module in this package and register in ``registry``."""

    #: Stable identifier stored with listings ("craigslist", "ebay", "jsonld", ...).
    name: str
    #: Human label for forms ("Craigslist").
    label: str
    #: Filters the site applies itself (subset of the FILTER_* names).
    remote_filters: frozenset[str]
    politeness: Politeness
    #: Whether pages need a browser to render (the search may still opt in per search).
    needs_browser: bool

    async def search(self, query: SearchQuery, fetch: Fetch) -> list[ScrapedListing]:
        """Fetch the site's results for ``query`` and parse them. Raises ``AdapterError`` or fetch errors."""
        ...
