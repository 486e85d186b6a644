"""The user dashboard's cache: served from the cache until the user's own rows change, then computed again."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spyglass.analytics.service import CACHE_NAMESPACE, dashboard_for
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.market.adapters.base import ScrapedListing
from spyglass.market.store import MarketplaceResult, store_run
from spyglass.scanner.models import Finding
from tests.analytics import factories as f
from tests.conftest import make_settings
from tests.support.factories import create_user


def rows(overview: dict[str, Any], name: str) -> list[list[Any]]:
    (series,) = [s for s in overview["series"] if s["name"] == name]
    return series["rows"]


def scraped(number: int, price: str) -> ScrapedListing:
    return ScrapedListing(
        marketplace="ebay",
        external_id=f"cached-{number}",
        url=f"https://ebay.example.test/item/cached-{number}",
        title=f"Road bike {number}",
        price=Decimal(price),
        currency="USD",
    )


async def run_search(services: Services, search_id: int, run_id: int, items: list[ScrapedListing]) -> None:
    """What a market run stores, through the market's own write function, committed."""
    async with services.db.session(write=True) as session:
        now = utcnow()
        await store_run(
            session, search_id=search_id, run_id=run_id, results=[MarketplaceResult("ebay", items, items)],
            failures={}, run_started=now, now=now, gone_after=3,
        )  # fmt: skip


class Counts:
    """Cache hits and misses of the analytics namespace since this object was made."""

    def __init__(self, services: Services) -> None:
        self.stats = services.cache.stats[CACHE_NAMESPACE]
        self.start = (self.stats.hits, self.stats.misses)

    def __call__(self) -> tuple[int, int]:
        return self.stats.hits - self.start[0], self.stats.misses - self.start[1]


async def test_new_listings_of_a_run_show_at_once_and_reads_in_between_are_cached(services: Services) -> None:
    owner = await create_user(services, username="owner")
    other = await create_user(services, username="other")
    async with services.db.session(write=True) as session:
        bikes = await f.search(session, owner.id, "Road bikes")
        theirs = await f.search(session, other.id, "Their bikes")
    counts = Counts(services)

    before = await dashboard_for(services, user_id=owner.id, days=7)
    assert before["cards"]["new_listings_today"] == 0
    assert rows(before, "listings_per_day") == []
    assert await dashboard_for(services, user_id=owner.id, days=7) == before
    assert counts() == (1, 1)  # the second read was a cache hit

    await run_search(services, bikes.id, 1, [scraped(1, "100.00"), scraped(2, "300.00")])
    after = await dashboard_for(services, user_id=owner.id, days=7)
    today = utcnow().date().isoformat()
    assert after["cards"]["new_listings_today"] == 2
    assert rows(after, "listings_per_day") == [[today, "ebay", 2]]
    assert sum(row[3] for row in rows(after, "price_distribution")) == 2
    assert counts() == (1, 2)  # computed again

    # another user's run leaves the owner's cached dashboard alone (and never shows in it)
    await run_search(services, theirs.id, 2, [scraped(3, "50.00")])
    assert await dashboard_for(services, user_id=owner.id, days=7) == after
    assert counts() == (2, 2)

    await run_search(services, bikes.id, 3, [scraped(1, "100.00"), scraped(2, "300.00"), scraped(4, "200.00")])
    again = await dashboard_for(services, user_id=owner.id, days=7)
    assert again["cards"]["new_listings_today"] == 3
    assert rows(again, "listings_per_day") == [[today, "ebay", 3]]
    assert counts() == (2, 3)


async def test_a_finished_scan_and_a_status_change_show_at_once(services: Services) -> None:
    owner = await create_user(services, username="owner")
    async with services.db.session(write=True) as session:
        shop = await f.target(session, owner.id, "Shop")
    assert (await dashboard_for(services, user_id=owner.id, days=7))["cards"]["open_findings"] == []

    async with services.db.session(write=True) as session:
        now = utcnow()
        scan = await f.scan(session, shop, finished_at=now, risk_score=60)
        await f.finding(session, scan, "A", "high", first_seen_at=now)
        await f.finding(session, scan, "B", "low", first_seen_at=now)
    cards = (await dashboard_for(services, user_id=owner.id, days=7))["cards"]
    assert cards["open_findings"] == [{"severity": "high", "findings": 1}, {"severity": "low", "findings": 1}]
    assert [entry["risk_score"] for entry in cards["latest_risk"]] == [60]

    async with services.db.session(write=True) as session:
        finding = await session.scalar(select(Finding).where(Finding.fingerprint == "A"))
        assert finding is not None
        finding.status = "false_positive"
    cards = (await dashboard_for(services, user_id=owner.id, days=7))["cards"]
    assert cards["open_findings"] == [{"severity": "low", "findings": 1}]


async def test_a_cache_time_of_zero_computes_every_read(services: Services, tmp_path: Path, database_url: str) -> None:
    uncached = Services.build(make_settings(tmp_path, database_url, analytics_dashboard_cache_seconds=0))
    try:
        owner = await create_user(uncached, username="owner")
        counts = Counts(uncached)
        first = await dashboard_for(uncached, user_id=owner.id, days=7)
        assert await dashboard_for(uncached, user_id=owner.id, days=7) == first
        assert counts() == (0, 0)  # the cache was never asked
    finally:
        await uncached.close()
