"""The outbox: a notification is a row written in the same transaction as the change that caused it.

Features call :func:`notify` inside their own unit of work (never after commit), so a
listing and the alert about it are saved together or not at all. The dispatcher (an
engine job) delivers rows to the user's channels later, exactly once per key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

#: Events features emit. ``payload`` carries what templates need (plain data, unescaped).
#: new listings: search_id, search_name, listings: [{id, title, price, currency, url, marketplace, image}]
EVENT_NEW_LISTINGS = "market.new_listings"
#: price drop: listing_id, title, url, old_price, new_price, currency, search_name
EVENT_PRICE_DROP = "market.price_drop"
#: scan completed: scan_id, target_id, target_url, risk_score, counts {severity: n}, top_findings [{title, priority}]
EVENT_SCAN_COMPLETED = "scanner.scan_completed"
#: high-risk finding: scan_id, finding_id, title, priority, url, target_url
EVENT_HIGH_RISK_FINDING = "scanner.high_risk_finding"
#: feedback answered: feedback_id, subject, answer
EVENT_FEEDBACK_ANSWERED = "feedback.answered"


async def notify(
    session: AsyncSession,
    *,
    user_id: int,
    event: str,
    payload: dict[str, Any],
    key: str,
) -> None:
    """Record that ``user_id`` should hear about ``event``; ``key`` makes it idempotent (the same key twice
    is one notification). Must be called inside the caller's write transaction."""
    # Filled in by the notifications feature (outbox table + dispatcher); until then nothing is recorded.
    return None
