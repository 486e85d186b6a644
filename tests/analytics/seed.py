"""Seeded worlds for the analytics tests: every figure the tests expect follows from these rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spyglass.core.services import Services
from tests.analytics import factories as f

#: The moment the dashboard tests look from: 20 Nov 2026, 15:00 UTC (a 30-day window starts on 22 Oct).
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, *, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class UserWorld:
    """Ids of what the dashboard tests look at."""

    owner_id: int
    other_id: int
    listing_titles: dict[str, str]


async def seed_user_world(services: Services, owner_id: int, other_id: int) -> UserWorld:
    """Searches, listings and matches, targets, scans and findings of ``owner_id`` (and some of ``other_id``)."""
    async with services.db.session(write=True) as s:
        bikes = await f.search(s, owner_id, "Road bikes", marketplaces=["ebay", "craigslist"])
        cameras = await f.search(s, owner_id, "Cameras")
        await f.search(s, owner_id, "Paused", enabled=False)
        theirs = await f.search(s, other_id, "Their secret search")

        l1 = await f.listing(s, "ebay", "100.00", first_seen_at=at(18, 10), title="Bike one")
        l2 = await f.listing(s, "ebay", "200.01", first_seen_at=at(18, 11), title="Bike two")
        l3 = await f.listing(s, "craigslist", "300.00", first_seen_at=at(20, 9), title="Bike and camera")
        l4 = await f.listing(s, "craigslist", "50.00", first_seen_at=at(20, 10), title="Gone camera", status="gone")
        l5 = await f.listing(s, "ebay", None, first_seen_at=at(18, 12), title="Bike without price")
        l6 = await f.listing(s, "ebay", "1000.00", first_seen_at=at(11, 9, month=10), title="Old bike")
        secret = await f.listing(s, "ebay", "5000.00", first_seen_at=at(20, 8), title="Their secret listing")

        await f.match(s, bikes, l1, at=at(18, 10), deal=20.0)
        await f.match(s, bikes, l2, at=at(18, 11), deal=-5.0)
        await f.match(s, bikes, l3, at=at(20, 9), deal=35.0)
        await f.match(s, cameras, l3, at=at(20, 9, 30), deal=10.0)
        await f.match(s, cameras, l4, at=at(20, 10), deal=50.0)
        await f.match(s, bikes, l5, at=at(18, 12))
        await f.match(s, bikes, l6, at=at(11, 9, month=10), deal=5.0)
        await f.match(s, theirs, l1, at=at(20, 8), deal=90.0)
        await f.match(s, theirs, secret, at=at(20, 8), deal=60.0)

        shop = await f.target(s, owner_id, "Shop")
        blog = await f.target(s, owner_id, "Blog")
        await f.target(s, owner_id, "Never scanned")
        their_site = await f.target(s, other_id, "Their site")

        sc1 = await f.scan(s, shop, finished_at=at(10, 12), risk_score=70)
        sc2 = await f.scan(s, shop, finished_at=at(15, 12), risk_score=40)
        await f.scan(s, shop, status="failed", finished_at=at(19, 12), risk_score=None)
        sc4 = await f.scan(s, blog, finished_at=at(19, 8), risk_score=90)
        sc5 = await f.scan(s, their_site, finished_at=at(19, 9), risk_score=99)
        await f.scan(s, their_site, finished_at=at(20, 9), risk_score=0)

        await f.finding(s, sc1, "A", "high", first_seen_at=at(10, 12))
        fixed_by_sc2 = {"status": "fixed", "fixed_at": at(15, 12), "fixed_by_scan_id": sc2.id}
        await f.finding(s, sc1, "B", "medium", first_seen_at=at(10, 12), **fixed_by_sc2)
        await f.finding(s, sc1, "H", "medium", first_seen_at=at(9, 12), **fixed_by_sc2)
        await f.finding(s, sc1, "C", "low", first_seen_at=at(10, 12))
        await f.finding(s, sc1, "G", "low", first_seen_at=at(8, 0), **fixed_by_sc2)
        # fixed before the 30-day window, and a fixed_at left on a reopened finding: neither counts as a fix
        sc0 = await f.scan(s, shop, finished_at=at(1, 0, month=9))
        await f.finding(s, sc0, "J", "low", first_seen_at=at(1, 0, month=9), status="fixed", fixed_at=at(2, 0, month=9))
        await f.finding(s, sc0, "K", "low", first_seen_at=at(1, 0, month=9), status="open", fixed_at=at(15, 12))
        await f.finding(s, sc2, "A", "high", first_seen_at=at(10, 12))
        await f.finding(s, sc2, "C", "low", first_seen_at=at(10, 12), status="accepted_risk", accepted_until=at(18))
        await f.finding(s, sc2, "D", "medium", first_seen_at=at(15, 12), status="false_positive")
        await f.finding(s, sc4, "E", "critical", first_seen_at=at(19, 8))
        await f.finding(s, sc4, "F", "high", first_seen_at=at(19, 8), status="accepted_risk", accepted_until=at(30, 0))
        await f.finding(s, sc5, "Z", "critical", first_seen_at=at(1, 0))
    titles = {"secret_listing": secret.title, "secret_search": theirs.name, "secret_target": their_site.name}
    return UserWorld(owner_id=owner_id, other_id=other_id, listing_titles=titles)


async def seed_admin_world(services: Services) -> None:
    """Users, runs, schedules, deliveries, feedback, listings, scans and findings for the admin figures."""
    async with services.db.session(write=True) as s:
        u1 = await f.user(s, created_at=at(18, 10), last_login_at=at(20, 14))
        u2 = await f.user(s, created_at=at(18, 20), last_seen_at=at(16, 0))
        await f.user(s, created_at=at(20, 1), last_login_at=at(25, 0, month=10))
        await f.user(s, created_at=at(1, 0, month=9))

        bikes = await f.search(s, u1.id, "Bikes", marketplaces=["ebay", "craigslist"])
        plan = await f.schedule(s, "market.search", bikes.id, next_run_at=at(20, 9))
        second = timedelta(seconds=1)
        await f.run(
            s,
            "market.search",
            "succeeded",
            subject_id=bikes.id,
            schedule_id=plan.id,
            not_before=at(19, 9, 59) + 50 * second,
            started_at=at(19, 10),
            finished_at=at(19, 10) + 30 * second,
            stats={"errors": {"ebay": "timed out"}},
        )
        await f.run(
            s,
            "market.search",
            "failed",
            subject_id=bikes.id,
            schedule_id=plan.id,
            not_before=at(19, 10, 59) + 30 * second,
            started_at=at(19, 11),
            finished_at=at(19, 11, 1),
            error="No marketplace answered",
        )
        await f.run(
            s,
            "scanner.scan",
            "succeeded",
            subject_id=1,
            not_before=at(20, 7),
            started_at=at(20, 8),
            finished_at=at(20, 8, 10),
        )
        await f.run(
            s,
            "market.search",
            "succeeded",
            subject_id=bikes.id,
            schedule_id=plan.id,
            not_before=at(20, 9),
            started_at=at(20, 9),
            finished_at=at(20, 9) + 10 * second,
            stats={"fetched": 3},
        )
        await f.run(s, "market.search", "queued", subject_id=bikes.id, not_before=at(20, 14))
        await f.run(
            s,
            "scanner.scan",
            "failed",
            subject_id=1,
            not_before=at(1, 0, month=9),
            started_at=at(1, 0, month=9),
            finished_at=at(1, 1, month=9),
        )

        await f.delivery(s, u1.id, "delivered", created_at=at(19, 10))
        await f.delivery(s, u1.id, "failed", created_at=at(19, 11))
        await f.delivery(s, u1.id, "delivered", created_at=at(20, 10))
        await f.delivery(s, u1.id, "retrying", created_at=at(20, 11))
        await f.delivery(s, u1.id, "delivered", created_at=at(1, 0, month=9))

        await f.feedback(s, u1.id, "bug", "new", 4)
        await f.feedback(s, u1.id, "bug", "resolved", 2)
        await f.feedback(s, u2.id, "feature", "closed", None)
        await f.feedback(s, u2.id, "question", "in_progress", 5)

        await f.listing(s, "ebay", "10", first_seen_at=at(19, 1))
        await f.listing(s, "ebay", "20", first_seen_at=at(19, 2))
        await f.listing(s, "craigslist", "30", first_seen_at=at(20, 3))
        await f.listing(s, "craigslist", "40", first_seen_at=at(1, 3, month=9))

        site = await f.target(s, u1.id, "Site")
        ok = await f.scan(s, site, finished_at=at(19, 5), created_at=at(19, 4))
        await f.scan(s, site, status="failed", finished_at=at(19, 6), created_at=at(19, 5))
        await f.scan(s, site, status="queued", finished_at=None, created_at=at(20, 12))
        old = await f.scan(s, site, finished_at=at(1, 5, month=9))
        await f.finding(s, ok, "a", "high", first_seen_at=at(19, 5))
        await f.finding(s, ok, "b", "high", first_seen_at=at(19, 5))
        await f.finding(s, ok, "c", "low", first_seen_at=at(19, 5))
        await f.finding(s, old, "d", "critical", first_seen_at=at(1, 5, month=9))
