"""The user dashboard: cards and series over the user's own searches, listings, scans and findings.

Every query is scoped by the ``user_id`` column of the table it reads (matches, searches, scans,
findings), so one user's dashboard never counts another user's rows.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import Float, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.analytics.series import Series, make_series
from spyglass.analytics.sql import (
    day_of,
    dialect_of,
    medians_in_python,
    seconds_between,
    start_of,
    window_start,
)
from spyglass.core.tenancy import owned_by
from spyglass.market.models import Listing, ListingMatch, ListingStatus, SavedSearch
from spyglass.scanner.contract import SEVERITIES
from spyglass.scanner.models import Finding, FindingStatus, Scan, ScanStatus, ScanTarget


def severity_rank(severity: str) -> int:
    """Critical first, unknown severities last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


SessionOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def user_dashboard(
    open_session: SessionOpener,
    *,
    user_id: int,
    days: int,
    now: datetime,
    best_deals: int = 5,
    buckets: int = 10,
    parallel: bool = False,
) -> dict[str, Any]:
    """Cards and series of one user's dashboard over the last ``days`` days (UTC).

    Each figure is read in a session from ``open_session``; with ``parallel`` (PostgreSQL) up to
    ``PARALLEL_READS`` of them run at once on their own connections.
    """
    since = window_start(days, now)
    today = start_of(now.date())

    async def scans_and_open_findings(session: AsyncSession, dialect: str) -> Any:
        latest = await _latest_scans(session, user_id)
        return latest, await _open_findings(session, user_id, [scan["scan_id"] for scan in latest], now)

    parts: list[Callable[[AsyncSession, str], Awaitable[Any]]] = [
        lambda s, d: _active_searches(s, user_id),
        lambda s, d: _new_listings_since(s, user_id, today),
        lambda s, d: _best_deals(s, user_id, best_deals),
        scans_and_open_findings,
        lambda s, d: window_matches(s, user_id, since, d),
        lambda s, d: findings_over_time(s, user_id, since, d),
        lambda s, d: time_to_fix(s, user_id, since, d),
    ]
    values = await read_all(open_session, parts, parallel=parallel)
    latest, open_findings = values[3]
    cards = {
        "active_searches": values[0],
        "new_listings_today": values[1],
        "best_deals": values[2],
        "open_findings": open_findings,
        "latest_risk": latest,
    }
    matches = values[4]
    series = [listings_per_day(matches), median_price(matches), price_distribution(matches, buckets), *values[5:]]
    return {"days": days, "since": since.date().isoformat(), "cards": cards, "series": series}


#: Queries one dashboard may run at once on PostgreSQL (each holds a connection while it runs).
PARALLEL_READS = 4


async def read_all(
    open_session: SessionOpener, parts: list[Callable[[AsyncSession, str], Awaitable[Any]]], *, parallel: bool
) -> list[Any]:
    """The value of each part (a function of a session and its dialect), in order: one session for all
    of them, or with ``parallel`` a session each, ``PARALLEL_READS`` at a time."""
    if not parallel:
        async with open_session() as session:
            return [await part(session, dialect_of(session)) for part in parts]
    slots = asyncio.Semaphore(PARALLEL_READS)

    async def read(part: Callable[[AsyncSession, str], Awaitable[Any]]) -> Any:
        async with slots, open_session() as session:
            return await part(session, dialect_of(session))

    return list(await asyncio.gather(*(read(part) for part in parts)))


async def _active_searches(session: AsyncSession, user_id: int) -> int:
    statement = owned_by(select(func.count()).select_from(SavedSearch), SavedSearch, user_id)
    return int(await session.scalar(statement.where(SavedSearch.enabled.is_(True))) or 0)


async def _new_listings_since(session: AsyncSession, user_id: int, since: datetime) -> int:
    statement = select(func.count(func.distinct(ListingMatch.listing_id))).where(
        ListingMatch.user_id == user_id, ListingMatch.first_matched_at >= since
    )
    return int(await session.scalar(statement) or 0)


async def _best_deals(session: AsyncSession, user_id: int, limit: int) -> list[dict[str, Any]]:
    """The active listings furthest below their search's market (positive deal percent), best first."""
    statement = (
        select(ListingMatch.deal_percent, Listing.id, Listing.title, Listing.url, Listing.price, Listing.currency)
        .join(Listing, Listing.id == ListingMatch.listing_id)
        .where(
            ListingMatch.user_id == user_id,
            ListingMatch.deal_percent > 0,
            Listing.status == ListingStatus.ACTIVE.value,
        )
        .order_by(ListingMatch.deal_percent.desc(), Listing.id)
        .limit(limit * 4)
    )
    deals: dict[int, dict[str, Any]] = {}
    for row in (await session.execute(statement)).all():
        if row.id not in deals and len(deals) < limit:  # a listing several searches matched counts once
            deals[row.id] = {
                "listing_id": row.id,
                "title": row.title,
                "url": row.url,
                "price": None if row.price is None else float(row.price),
                "currency": row.currency,
                "deal_percent": round(row.deal_percent, 1),
            }
    return list(deals.values())


async def _latest_scans(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """Each of the user's targets with its latest succeeded scan (risk score, when), if any."""
    latest_id = (
        select(Scan.id)
        .where(Scan.target_id == ScanTarget.id, Scan.status == ScanStatus.SUCCEEDED.value)
        .order_by(Scan.finished_at.desc(), Scan.id.desc())
        .limit(1)
        .correlate(ScanTarget)
        .scalar_subquery()
    )
    targets = owned_by(select(ScanTarget.id, ScanTarget.name, latest_id.label("scan_id")), ScanTarget, user_id)
    rows = (await session.execute(targets.order_by(ScanTarget.name, ScanTarget.id))).all()
    scan_ids = [row.scan_id for row in rows if row.scan_id is not None]
    scans = {}
    if scan_ids:
        found = await session.execute(
            select(Scan.id, Scan.risk_score, Scan.finished_at).where(Scan.id.in_(scan_ids), Scan.user_id == user_id)
        )
        scans = {row.id: row for row in found.all()}
    result = []
    for row in rows:
        scan = scans.get(row.scan_id)
        result.append(
            {
                "target_id": row.id,
                "target": row.name,
                "scan_id": row.scan_id,
                "risk_score": scan.risk_score if scan else None,
                "finished_at": scan.finished_at.isoformat() if scan and scan.finished_at else None,
            }
        )
    return result


async def _open_findings(
    session: AsyncSession, user_id: int, scan_ids: list[int | None], now: datetime
) -> list[dict[str, Any]]:
    """Open findings of each target's latest scan by severity (an expired accepted risk is open again)."""
    ids = [scan_id for scan_id in scan_ids if scan_id is not None]
    if not ids:
        return []
    still_open = or_(
        Finding.status == FindingStatus.OPEN.value,
        and_(Finding.status == FindingStatus.ACCEPTED_RISK.value, Finding.accepted_until <= now),
    )
    statement = (
        select(Finding.severity, func.count())
        .where(Finding.user_id == user_id, Finding.scan_id.in_(ids), still_open)
        .group_by(Finding.severity)
    )
    counts = {row[0]: row[1] for row in await session.execute(statement)}
    return [{"severity": s, "findings": counts[s]} for s in sorted(counts, key=severity_rank)]


@dataclass(frozen=True)
class WindowMatch:
    """One match of the user's in the window, with what the listing figures need of its listing."""

    day: str
    search_id: int
    search: str
    listing_id: int
    marketplace: str
    price: Decimal | None
    active: bool


async def window_matches(session: AsyncSession, user_id: int, since: datetime, dialect: str) -> list[WindowMatch]:
    """The user's matches first made in the window, joined once to their listings and searches.

    The three listing figures are computed from these rows in Python: one indexed range read of the
    window's matches (about 1,600 for a user with 20,000) instead of three joins of the same rows.
    """
    day = day_of(ListingMatch.first_matched_at, dialect).label("day")
    statement = (
        select(day, SavedSearch.id, SavedSearch.name, Listing.id, Listing.marketplace, Listing.price, Listing.status)
        .select_from(ListingMatch)
        .join(Listing, Listing.id == ListingMatch.listing_id)
        .join(SavedSearch, SavedSearch.id == ListingMatch.search_id)
        .where(
            ListingMatch.user_id == user_id,
            SavedSearch.user_id == user_id,
            ListingMatch.first_matched_at >= since,
        )
    )
    return [
        WindowMatch(row[0], row[1], row[2], row[3], row[4], row[5], row[6] == ListingStatus.ACTIVE.value)
        for row in (await session.execute(statement)).all()
    ]


def listings_per_day(matches: list[WindowMatch]) -> Series:
    """Listings first matched by any of the user's searches, per day and marketplace (each listing once)."""
    listings: dict[tuple[str, str], set[int]] = defaultdict(set)
    for match in matches:
        listings[(match.day, match.marketplace)].add(match.listing_id)
    rows = [(day, marketplace, len(ids)) for (day, marketplace), ids in sorted(listings.items())]
    return make_series(
        "listings_per_day",
        "New listings per day and marketplace",
        ["day", "marketplace", "listings"],
        rows,
        group="marketplace",
        chart="bar",
        stacked=True,
    )


def median_price(matches: list[WindowMatch]) -> Series:
    """The median asking price of the listings each search found each day (exact: ``statistics.median``)."""
    priced = [match for match in matches if match.price is not None]
    names = {(match.day, match.search_id): match.search for match in priced}
    medians = medians_in_python(((match.day, match.search_id), cast_decimal(match.price)) for match in priced)
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for match in priced:
        counts[(match.day, match.search_id)] += 1
    rows = sorted(((key[0], names[key], medians[key], counts[key]) for key in medians), key=lambda r: (r[0], r[1]))
    return make_series(
        "median_price",
        "Median asking price of new listings per search",
        ["day", "search", "median_price", "listings"],
        rows,
        y=["median_price"],
        group="search",
    )


def cast_decimal(value: Decimal | None) -> Decimal:
    """``value`` as a Decimal (callers have filtered out None)."""
    return Decimal(0) if value is None else Decimal(value)


def _bucket_edges(low: Decimal, high: Decimal, buckets: int) -> list[Decimal]:
    """``buckets + 1`` edges from ``low`` covering ``high``, with a whole-number width."""
    width = max(Decimal(1), ((high - low) / buckets).to_integral_value(rounding=ROUND_CEILING))
    if low + width * buckets <= high:
        width += 1
    return [low + width * i for i in range(buckets + 1)]


def price_distribution(matches: list[WindowMatch], buckets: int) -> Series:
    """How many of the active listings the user's searches found in the window fall in each price range
    (a listing several searches found counts once)."""
    prices = {m.listing_id: cast_decimal(m.price) for m in matches if m.active and m.price is not None}
    rows: list[list[Any]] = []
    if prices:
        low = min(prices.values()).to_integral_value(rounding=ROUND_FLOOR)
        edges = _bucket_edges(low, max(prices.values()), buckets)
        totals = [0] * buckets
        for price in prices.values():
            totals[bisect_right(edges, price) - 1] += 1
        rows = [[f"{edges[i]}–{edges[i + 1]}", float(edges[i]), float(edges[i + 1]), totals[i]] for i in range(buckets)]
    return make_series(
        "price_distribution",
        "Price distribution of new active listings",
        ["range", "from", "to", "listings"],
        rows,
        chart="bar",
    )


async def findings_over_time(session: AsyncSession, user_id: int, since: datetime, dialect: str) -> Series:
    """Distinct findings per target, day (of the scan's end) and severity, from succeeded scans."""
    day = day_of(Scan.finished_at, dialect).label("day")
    statement = (
        select(day, ScanTarget.name, Finding.severity, func.count(func.distinct(Finding.fingerprint)))
        .select_from(Finding)
        .join(Scan, Scan.id == Finding.scan_id)
        .join(ScanTarget, ScanTarget.id == Finding.target_id)
        .where(
            Finding.user_id == user_id,
            Scan.user_id == user_id,
            Scan.status == ScanStatus.SUCCEEDED.value,
            Scan.finished_at >= since,
        )
        .group_by(day, ScanTarget.id, ScanTarget.name, Finding.severity)
    )
    rows = sorted((await session.execute(statement)).all(), key=lambda r: (r[0], r[1], severity_rank(r[2])))
    return make_series(
        "findings_over_time",
        "Findings per target and severity over time",
        ["day", "target", "severity", "findings"],
        rows,
        group="target,severity",
    )


async def time_to_fix(session: AsyncSession, user_id: int, since: datetime, dialect: str) -> Series:
    """Hours from a finding's first sighting to its fix (``fixed_at - first_seen_at``), per target and severity.

    Counts the findings with status fixed whose ``fixed_at`` falls in the window, whether a scan fixed
    them or the owner marked them fixed by hand (index ``(user_id, fixed_at)``).
    """
    hours = cast(seconds_between(Finding.first_seen_at, Finding.fixed_at, dialect), Float) / 3600.0
    statement = (
        select(ScanTarget.name, Finding.severity, func.count(), func.avg(hours), func.max(hours))
        .join(ScanTarget, ScanTarget.id == Finding.target_id)
        .where(
            Finding.user_id == user_id,
            Finding.fixed_at >= since,
            Finding.status == FindingStatus.FIXED.value,
            ScanTarget.user_id == user_id,
        )
        .group_by(ScanTarget.id, ScanTarget.name, Finding.severity)
    )
    rows = sorted(
        ((r[0], r[1], r[2], round(float(r[3]), 2), round(float(r[4]), 2)) for r in await session.execute(statement)),
        key=lambda r: (r[0], severity_rank(r[1])),
    )
    return make_series(
        "time_to_fix",
        "Time to fix (hours from first seen to fixed)",
        ["target", "severity", "fixed", "average_hours", "longest_hours"],
        rows,
        chart="bar",
        y=["average_hours"],
        group="severity",
    )
