"""What a cached user dashboard is keyed on: a stamp that changes when the user's data changes.

The stamp is read with one cheap statement before every dashboard read. A market run updates its search
(``updated_at``) and adds matches (``first_matched_at``), a finished scan sets ``finished_at``, marking
findings fixed or changing their status updates them: each moves the stamp, so the dashboard is computed
again at once, in every process, without any write point having to know about the cache.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.market.models import ListingMatch, SavedSearch
from spyglass.scanner.models import Finding, Scan


async def dashboard_stamp(session: AsyncSession, user_id: int) -> str:
    """A text that differs whenever the user's searches, matches, scans or findings changed (one statement,
    each part an indexed read of the user's rows)."""
    parts = [
        select(func.count()).select_from(SavedSearch).where(SavedSearch.user_id == user_id),
        select(func.max(SavedSearch.updated_at)).where(SavedSearch.user_id == user_id),
        select(func.max(ListingMatch.first_matched_at)).where(ListingMatch.user_id == user_id),
        select(func.count()).select_from(Scan).where(Scan.user_id == user_id),
        select(func.max(Scan.finished_at)).where(Scan.user_id == user_id),
        select(func.max(Finding.updated_at)).where(Finding.user_id == user_id),
    ]
    row = (await session.execute(select(*(part.scalar_subquery() for part in parts)))).one()
    return "|".join("" if value is None else str(value) for value in row)
