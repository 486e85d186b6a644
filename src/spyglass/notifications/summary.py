"""The weekly summary: once per ISO week, each user whose channel subscribes to it hears how many new
listings their searches matched, how many scans ran and how many findings were new last week.

The key names the user and the week summarised, so however often the job runs (hourly), each user
gets one summary per week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from spyglass.core.db import utcnow
from spyglass.market.models import ListingMatch
from spyglass.notifications import outbox
from spyglass.notifications.models import Channel
from spyglass.scanner.models import Finding, Scan

if TYPE_CHECKING:
    from spyglass.core.services import Services


def previous_week(now: datetime) -> tuple[str, datetime, datetime]:
    """The ISO week before ``now``: its name (``2026-W48``), start and end (Monday 00:00 UTC)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    this_monday = today - timedelta(days=today.weekday())
    start = this_monday - timedelta(days=7)
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}", start, this_monday


async def _count(
    session: AsyncSession,
    when: InstrumentedAttribute[datetime],
    owner: InstrumentedAttribute[int],
    user_id: int,
    start: datetime,
    end: datetime,
) -> int:
    statement = select(func.count()).where(owner == user_id, when >= start, when < end)
    return int(await session.scalar(statement) or 0)


async def send_weekly_summaries(services: Services, *, now: datetime | None = None) -> int:
    """Queue last week's summary for every subscribed user who has not had it; returns how many were queued."""
    name, start, end = previous_week(now or utcnow())
    async with services.db.session() as session:
        rows = await session.execute(select(Channel.user_id, Channel.subscriptions).where(Channel.enabled.is_(True)))
        users = sorted({user_id for user_id, subs in rows.all() if outbox.EVENT_WEEKLY_SUMMARY in (subs or {})})
    for user_id in users:
        async with services.db.session(write=True) as session:
            payload = {
                "period": name,
                "listings": await _count(
                    session, ListingMatch.first_matched_at, ListingMatch.user_id, user_id, start, end
                ),
                "scans": await _count(session, Scan.created_at, Scan.user_id, user_id, start, end),
                "findings": await _count(session, Finding.first_seen_at, Finding.user_id, user_id, start, end),
            }
            await outbox.notify(
                session,
                user_id=user_id,
                event=outbox.EVENT_WEEKLY_SUMMARY,
                payload=payload,
                key=f"weekly:{user_id}:{name}",
            )
    return len(users)
