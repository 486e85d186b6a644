"""A search with thousands of listings is scored and grouped without comparing every pair of titles.

Counted, not timed: every title comparison (rapidfuzz's token-set ratio, used by deal scores and by
cross-post grouping) goes through a counter that fails the test beyond the bound.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rapidfuzz import fuzz
from sqlalchemy import func, select

from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.market import service
from spyglass.market.adapters.base import ScrapedListing
from spyglass.market.models import ListingMatch
from spyglass.market.store import MarketplaceResult, store_run
from tests.support.factories import create_user

LISTINGS = 2000
#: Every pair is LISTINGS² / 2 = 2,000,000 comparisons (scoring each listing against all: 4,000,000); blocking on
#: rare words needs about 55 per listing here.
MAX_COMPARISONS = 100 * LISTINGS

BRANDS = ["Trek", "Giant", "Specialized", "Cannondale", "Bianchi", "Cervelo", "Scott", "Canyon", "Orbea", "Pinarello"]
KINDS = ["road bike", "gravel bike", "mountain bike", "hybrid bike", "city bike"]
EXTRAS = ["carbon", "aluminium", "steel", "disc brakes", "rim brakes", "shimano 105", "sram rival", "ultegra"]


def listing(number: int, marketplace: str) -> ScrapedListing:
    brand, kind = BRANDS[number % len(BRANDS)], KINDS[(number // len(BRANDS)) % len(KINDS)]
    extra = EXTRAS[(number // 50) % len(EXTRAS)]
    model = f"M{number // 7}"  # a few listings share each model name: comparable, some on both marketplaces
    size = 48 + number % 13
    price = Decimal(300 + (number * 37) % 1700)
    return ScrapedListing(
        marketplace=marketplace,
        external_id=f"{marketplace}-{number}",
        url=f"https://{marketplace}.example/item/{number}",
        title=f"{brand} {model} {kind} {size}cm {extra}",
        price=price,
    )


@pytest.fixture
def counted_comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = fuzz.token_set_ratio

    def counting(*args: object, **kwargs: object) -> float:
        calls[0] += 1
        if calls[0] > MAX_COMPARISONS:
            raise AssertionError(f"more than {MAX_COMPARISONS} title comparisons")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fuzz, "token_set_ratio", counting)
    return calls


@pytest.mark.slow
async def test_scoring_and_grouping_2000_listings_compare_few_pairs(
    services: Services, counted_comparisons: list[int]
) -> None:
    user = await create_user(services)
    raw = {"name": "Bikes", "marketplaces": ["ebay", "craigslist"], "keywords": "bike", "interval_seconds": 3600}
    spec = service.parse_search(raw, settings=services.settings)
    async with services.db.session(write=True) as session:
        search = await service.create_search(session, user_id=user.id, spec=spec, settings=services.settings)
    half = LISTINGS // 2
    ebay = [listing(n, "ebay") for n in range(half)]
    craigslist = [listing(n, "craigslist") for n in range(half - 100, LISTINGS - 100)]  # 100 items cross-posted
    results = [MarketplaceResult("ebay", ebay, ebay), MarketplaceResult("craigslist", craigslist, craigslist)]

    async with services.db.session(write=True) as session:
        now = utcnow()
        outcome = await store_run(
            session, search_id=search.id, run_id=1, results=results, failures={}, run_started=now, now=now,
            gone_after=2,
        )  # fmt: skip

    assert 0 < counted_comparisons[0] <= MAX_COMPARISONS
    assert outcome.grouped >= 100  # the same title and price on both marketplaces
    async with services.db.session() as session:
        scored = await session.scalar(
            select(func.count()).where(ListingMatch.search_id == search.id, ListingMatch.deal_percent.is_not(None))
        )
    assert scored == LISTINGS
