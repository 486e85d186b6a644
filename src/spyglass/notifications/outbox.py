"""The outbox: a notification is a row written in the same transaction as the change that caused it.

Features call :func:`notify` inside their own unit of work (never after commit), so a
listing and the alert about it are saved together or not at all. The dispatcher (an
engine job) delivers rows to the user's channels later, exactly once per key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import utcnow
from spyglass.notifications.models import Notification, NotificationStatus
from spyglass.notifications.wake import CHANNEL

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
#: weekly summary: period, listings, scans, findings (counts), highlights [{title, url}]
EVENT_WEEKLY_SUMMARY = "summary.weekly"
#: admin alert (sent to admins): title, detail, severity, link
EVENT_ADMIN_ALERT = "admin.alert"

#: Account emails go to the account's address (payload ``to``), not to channels; the link they carry
#: is a secret and is scrubbed from the payload once the mail is sent.
EVENT_WELCOME = "account.welcome"
EVENT_VERIFY_EMAIL = "account.verify_email"
EVENT_RESET_PASSWORD = "account.reset_password"
EVENT_CHANGE_EMAIL = "account.change_email"
EVENT_CHANNEL_TEST = "channel.test"
EVENT_CHANNEL_VERIFY = "channel.verify"

#: Events a user can subscribe a channel to, with the label the pages show.
SUBSCRIBABLE_EVENTS: dict[str, str] = {
    EVENT_NEW_LISTINGS: "New listings",
    EVENT_PRICE_DROP: "Price drops",
    EVENT_SCAN_COMPLETED: "Scan completed",
    EVENT_HIGH_RISK_FINDING: "High-risk finding",
    EVENT_WEEKLY_SUMMARY: "Weekly summary",
    EVENT_FEEDBACK_ANSWERED: "Answers to my feedback",
    EVENT_ADMIN_ALERT: "Admin alerts (admins only)",
}
#: Events sent straight to the account's email address, whatever the channels say.
ACCOUNT_EVENTS = frozenset(
    {EVENT_WELCOME, EVENT_VERIFY_EMAIL, EVENT_RESET_PASSWORD, EVENT_CHANGE_EMAIL, EVENT_CHANNEL_VERIFY}
)
MAX_KEY_LENGTH = 200

# Dispatchers running in this process wait on these; a commit that wrote notifications wakes them.
_wakers: set[asyncio.Event] = set()
_WAKE_REGISTERED = "spyglass.notifications.wake_registered"
# Set once this transaction has queued its PostgreSQL NOTIFY (one per transaction is enough).
_ANNOUNCED = "spyglass.notifications.announced"
_NOTIFY = text(f"NOTIFY {CHANNEL}")


def add_waker(waker: asyncio.Event) -> None:
    """Have ``waker`` set whenever a transaction that called :func:`notify` commits in this process."""
    _wakers.add(waker)


def remove_waker(waker: asyncio.Event) -> None:
    _wakers.discard(waker)


def _wake_dispatchers(session: Any) -> None:
    session.info.pop(_ANNOUNCED, None)
    for waker in list(_wakers):
        waker.set()


def _forget_announcement(session: Any, *_args: Any) -> None:
    session.info.pop(_ANNOUNCED, None)


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
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"a notification key must be 1 to {MAX_KEY_LENGTH} characters")
    now = utcnow()
    values = {
        "user_id": user_id,
        "event": event,
        "payload": payload,
        "idempotency_key": key,
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgres_insert if postgres else sqlite_insert
    statement = insert(Notification).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    await session.execute(statement)
    if not session.info.get(_WAKE_REGISTERED):
        session.info[_WAKE_REGISTERED] = True
        sa_event.listen(session.sync_session, "after_commit", _wake_dispatchers)
        sa_event.listen(session.sync_session, "after_rollback", _forget_announcement)
    if postgres and not session.info.get(_ANNOUNCED):
        # Delivered at commit to the dispatchers of every process (spyglass.notifications.wake).
        await session.execute(_NOTIFY)
        session.info[_ANNOUNCED] = True
