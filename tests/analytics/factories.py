"""Rows for the analytics tests, written straight into the tables with the timestamps a test needs."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.engine.models import Run, Schedule
from spyglass.feedback.models import Feedback
from spyglass.market.models import Listing, ListingMatch, SavedSearch
from spyglass.notifications.models import Delivery, Notification
from spyglass.scanner.models import Finding, Scan, ScanTarget

_numbers = itertools.count(1)


async def _add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


async def user(session: AsyncSession, *, created_at: datetime, **values: Any) -> User:
    number = next(_numbers)
    return await _add(
        session,
        User(
            username=f"an{number}", email=f"an{number}@example.test", password_hash="x", created_at=created_at, **values
        ),
    )


async def search(session: AsyncSession, user_id: int, name: str, **values: Any) -> SavedSearch:
    values.setdefault("marketplaces", ["ebay"])
    return await _add(
        session, SavedSearch(user_id=user_id, name=name, keywords=name.lower(), interval_seconds=1800, **values)
    )


async def listing(
    session: AsyncSession, marketplace: str, price: str | None, *, first_seen_at: datetime, **values: Any
) -> Listing:
    number = next(_numbers)
    return await _add(
        session,
        Listing(
            marketplace=marketplace,
            external_id=f"item-{number}",
            url=f"https://{marketplace}.example.test/item/{number}",
            title=values.pop("title", f"Listing {number}"),
            price=None if price is None else Decimal(price),
            currency="USD",
            first_seen_at=first_seen_at,
            last_seen_at=first_seen_at,
            **values,
        ),
    )


async def match(
    session: AsyncSession, found_by: SavedSearch, item: Listing, *, at: datetime, deal: float | None = None
) -> ListingMatch:
    return await _add(
        session,
        ListingMatch(
            search_id=found_by.id,
            listing_id=item.id,
            user_id=found_by.user_id,
            first_matched_at=at,
            last_matched_at=at,
            deal_percent=deal,
        ),
    )


async def target(session: AsyncSession, user_id: int, name: str) -> ScanTarget:
    number = next(_numbers)
    return await _add(
        session,
        ScanTarget(
            user_id=user_id,
            name=name,
            base_url=f"https://site{number}.example.test/",
            host=f"site{number}.example.test",
            verification_token=f"token-{number}",
        ),
    )


async def scan(
    session: AsyncSession, on: ScanTarget, *, status: str = "succeeded", finished_at: datetime | None, **values: Any
) -> Scan:
    values.setdefault("created_at", finished_at)
    return await _add(
        session,
        Scan(user_id=on.user_id, target_id=on.id, profile="passive", status=status, finished_at=finished_at, **values),
    )


async def finding(
    session: AsyncSession, in_scan: Scan, fingerprint: str, severity: str, *, first_seen_at: datetime, **values: Any
) -> Finding:
    values.setdefault("created_at", in_scan.finished_at or first_seen_at)
    return await _add(
        session,
        Finding(
            scan_id=in_scan.id,
            target_id=in_scan.target_id,
            user_id=in_scan.user_id,
            type_id="test-type",
            title=f"Finding {fingerprint}",
            family="headers",
            fingerprint=fingerprint,
            url="https://example.test/",
            method="GET",
            confidence="firm",
            severity=severity,
            first_seen_at=first_seen_at,
            **values,
        ),
    )


async def schedule(session: AsyncSession, kind: str, subject_id: int, *, next_run_at: datetime) -> Schedule:
    return await _add(
        session, Schedule(kind=kind, subject_id=subject_id, interval_seconds=600, next_run_at=next_run_at)
    )


async def run(
    session: AsyncSession,
    kind: str,
    status: str,
    *,
    not_before: datetime,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    **values: Any,
) -> Run:
    return await _add(
        session,
        Run(
            kind=kind,
            status=status,
            not_before=not_before,
            created_at=not_before,
            started_at=started_at,
            finished_at=finished_at,
            **values,
        ),
    )


async def delivery(session: AsyncSession, user_id: int, status: str, *, created_at: datetime) -> Delivery:
    number = next(_numbers)
    notification = await _add(
        session,
        Notification(user_id=user_id, event="test.event", idempotency_key=f"analytics-{number}", created_at=created_at),
    )
    return await _add(
        session,
        Delivery(
            notification_id=notification.id,
            destination="account",
            channel_label="Email",
            user_id=user_id,
            status=status,
            created_at=created_at,
        ),
    )


async def feedback(session: AsyncSession, user_id: int, kind: str, status: str, rating: int | None) -> Feedback:
    return await _add(session, Feedback(user_id=user_id, kind=kind, message="words", status=status, rating=rating))
