"""Account emails (verification, password reset, email change, welcome) leave through the notifications outbox.

The request writes the outbox row in its own transaction (so a rolled-back request sends nothing)
and returns a background task that delivers it right after the commit; if that attempt fails the
outbox dispatcher retries it. The texts are the ``email/verify_email``, ``email/reset_password`` and
``email/change_email`` templates. The link is a secret: it is removed from the stored payload once
the mail is sent, and never logged.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar.background_tasks import BackgroundTask
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.services import Services
from spyglass.feedback.onboarding import send_welcome, welcome_key
from spyglass.notifications import outbox

logger = logging.getLogger("spyglass.accounts.mail")


async def _queue(
    db: AsyncSession, services: Services, *, user_id: int, event: str, payload: dict[str, Any]
) -> BackgroundTask:
    key = f"{event}:{user_id}:{uuid.uuid4().hex}"
    await outbox.notify(db, user_id=user_id, event=event, payload=payload, key=key)
    return BackgroundTask(deliver_now, services, [key])


async def queue_verification(
    db: AsyncSession, services: Services, *, user_id: int, to: str, username: str, link: str, ttl_hours: int
) -> BackgroundTask:
    """Asks a new user to confirm their email address."""
    payload = {"to": to, "username": username, "link": link, "ttl_hours": ttl_hours}
    return await _queue(db, services, user_id=user_id, event=outbox.EVENT_VERIFY_EMAIL, payload=payload)


async def queue_password_reset(
    db: AsyncSession, services: Services, *, user_id: int, to: str, username: str, link: str, ttl_minutes: int
) -> BackgroundTask:
    """Carries a password reset link."""
    payload = {"to": to, "username": username, "link": link, "ttl_minutes": ttl_minutes}
    return await _queue(db, services, user_id=user_id, event=outbox.EVENT_RESET_PASSWORD, payload=payload)


async def queue_email_change(
    db: AsyncSession, services: Services, *, user_id: int, to: str, username: str, link: str, ttl_hours: int
) -> BackgroundTask:
    """Asks the owner of a new address to confirm it before the account switches to it."""
    payload = {"to": to, "username": username, "link": link, "ttl_hours": ttl_hours}
    return await _queue(db, services, user_id=user_id, event=outbox.EVENT_CHANGE_EMAIL, payload=payload)


async def queue_welcome(
    db: AsyncSession, services: Services, *, user_id: int, to: str, username: str
) -> BackgroundTask:
    """The welcome email, once per account (its outbox key is per user), sent when the address is verified."""
    await send_welcome(db, user_id=user_id, username=username, email=to, base_url=services.settings.base_url)
    return BackgroundTask(deliver_now, services, [welcome_key(user_id)])


async def deliver_now(services: Services, keys: list[str]) -> None:
    """Deliver these outbox rows at once (after the commit); the dispatcher retries any that fail."""
    from spyglass.notifications.dispatcher import OutboxDispatcher

    try:
        await OutboxDispatcher(services).dispatch_batch(keys=keys)
    except Exception as exc:
        logger.warning(
            "could not deliver account email now; the outbox will retry", extra={"error": type(exc).__name__}
        )
