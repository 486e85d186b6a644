"""The outbox dispatcher: claims pending notifications and delivers them to each destination once.

Per notification and destination (a channel, or the account's own address) there is one delivery
row, unique on (notification, destination). The order of writes is what makes a crash safe:

1. claim the notification (conditional UPDATE; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) with a lease;
2. per destination, commit the delivery row as ``sending`` *before* sending;
3. send; 4. commit ``delivered`` (or ``retrying``/``failed`` with the reason);
5. release the notification (delivered, failed, or pending again with its next attempt time).

A dispatcher that dies anywhere loses its lease; the next one re-claims the notification and skips
every destination already ``delivered``. Only a death between 3 and 4 (the send went out, its record
did not) makes a destination be sent again: at-least-once in that window, narrowed to one round trip
to the database, and the redelivery carries the same Message-ID / ``X-Spyglass-Notification`` key
so receivers can drop it. Everywhere else a destination receives a notification exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.notifications import outbox, repository
from spyglass.notifications.channels import DeliveryError, Envelope, sender_for
from spyglass.notifications.metrics import notification_metrics
from spyglass.notifications.models import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    Notification,
    NotificationStatus,
)
from spyglass.notifications.quiet_hours import quiet_until
from spyglass.notifications.rendering import EVENT_DIGEST, Message, known_events, render
from spyglass.notifications.unsubscribe import ALL_EVENTS, Unsubscribe, unsubscribe_url

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.notifications")

ACCOUNT_DESTINATION = "account"
#: Events that reach the account's address when no channel subscribes to them.
ACCOUNT_FALLBACK_EVENTS = frozenset({outbox.EVENT_FEEDBACK_ANSWERED, outbox.EVENT_ADMIN_ALERT})
#: Payload fields that are secrets (single-use links): removed once the notification is done.
SECRET_FIELDS = ("link",)


@dataclass(frozen=True)
class Destination:
    """Where one notification goes: a channel, or the account's own email address."""

    key: str
    kind: ChannelKind
    target: str
    label: str
    channel: Channel | None
    mode: DeliveryMode = DeliveryMode.INSTANT
    skip_reason: str | None = None
    quiet_until: datetime | None = None


def new_owner() -> str:
    """A name for this dispatcher, unique across processes (it holds claims)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxDispatcher:
    """Delivers the outbox. Several can run at once (threads of work never overlap on a notification)."""

    def __init__(self, services: Services, *, owner: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.owner = owner or new_owner()
        self.metrics = notification_metrics(services.metrics)
        self._postgres = services.db.backend == "postgresql"
        self._secret = self.settings.secret()
        self._sends = asyncio.Semaphore(self.settings.notifications_send_concurrency)

    async def run(self, *, linger_seconds: float) -> int:
        """Deliver what is due, then keep watching the outbox for ``linger_seconds``; returns how many
        notifications were processed. Commits in this process wake it at once; others are polled."""
        waker = asyncio.Event()
        outbox.add_waker(waker)
        deadline = time.monotonic() + linger_seconds
        processed = 0
        try:
            while True:
                waker.clear()
                count = await self.dispatch_batch()
                processed += count
                if count >= self.settings.notifications_batch_size:
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return processed
                try:
                    async with asyncio.timeout(min(self.settings.notifications_poll_seconds, remaining)):
                        await waker.wait()
                except TimeoutError:
                    pass
        finally:
            outbox.remove_waker(waker)

    async def dispatch_batch(self, *, keys: list[str] | None = None) -> int:
        """Claim one batch of due notifications (only those with ``keys``, if given) and deliver them."""
        async with self.services.db.session(write=True) as session:
            ids = await repository.claim_due(
                session,
                owner=self.owner,
                lease_seconds=self.settings.notifications_lease_seconds,
                limit=self.settings.notifications_batch_size,
                postgres=self._postgres,
                keys=keys,
            )
        if ids:
            await asyncio.gather(*(self.process(notification_id) for notification_id in ids))
        return len(ids)

    async def process(self, notification_id: int) -> None:
        """Deliver one claimed notification to every destination that still needs it, then release it."""
        try:
            await self._process(notification_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The claim runs out and another pass retries; the error goes to the log, never the payload.
            logger.exception("could not process notification", extra={"notification_id": notification_id})

    async def _process(self, notification_id: int) -> None:
        async with self.services.db.session() as session:
            loaded = await repository.load_for_delivery(session, notification_id)
        if loaded is None:
            return
        notification, user, channels, deliveries = loaded
        now = utcnow()
        outcomes: dict[str, str] = {key: d.status for key, d in deliveries.items()}
        errors: dict[str, str] = {key: d.error for key, d in deliveries.items() if d.error}
        wait_until: list[datetime] = []
        for destination in plan(notification, user, channels, now):
            if outcomes.get(destination.key) in repository.FINAL_DELIVERY_STATES:
                continue
            if destination.skip_reason or destination.mode == DeliveryMode.DIGEST:
                status = DeliveryStatus.SKIPPED if destination.skip_reason else DeliveryStatus.DIGEST
                async with self.services.db.session(write=True) as session:
                    await repository.record_skip_or_digest(
                        session,
                        notification=notification,
                        destination=destination.key,
                        channel_id=destination.channel.id if destination.channel else None,
                        label=destination.label,
                        status=status,
                        error=destination.skip_reason,
                    )
                outcomes[destination.key] = status.value
                continue
            if destination.quiet_until is not None:
                wait_until.append(destination.quiet_until)
                continue
            status, error = await self._send(notification, user, destination)
            outcomes[destination.key] = status.value
            if error:
                errors[destination.key] = error
        await self._release(notification, outcomes, errors, wait_until)

    async def _send(
        self, notification: Notification, user: User, destination: Destination
    ) -> tuple[DeliveryStatus, str | None]:
        try:
            message = self._render(notification, user, destination)
        except Exception:
            logger.exception("could not render notification", extra={"event": notification.event})
            message = None
        # Mark "sending" only once a send slot is ours: the window in which a crash leaves the outcome
        # unknown (and the destination is sent again) is then at most one send per slot.
        async with self._sends:
            async with self.services.db.session(write=True) as session:
                delivery_id, current = await repository.begin_send(
                    session,
                    notification=notification,
                    destination=destination.key,
                    channel_id=destination.channel.id if destination.channel else None,
                    label=destination.label,
                )
            if delivery_id is None:
                return DeliveryStatus(current), None  # another dispatcher finished it meanwhile
            status, error = await self._deliver(notification, destination, message)
            async with self.services.db.session(write=True) as session:
                await repository.finish_send(session, delivery_id=delivery_id, status=status, error=error)
        return status, error

    async def _deliver(
        self, notification: Notification, destination: Destination, message: Message | None
    ) -> tuple[DeliveryStatus, str | None]:
        kind = destination.kind.value
        try:
            if message is None:
                raise DeliveryError("The message could not be rendered.", permanent=True)
            async with asyncio.timeout(self.settings.notifications_send_timeout_seconds):
                await sender_for(kind).send(
                    self.services, destination.target, message, self._envelope(notification, destination)
                )
        except (DeliveryError, TimeoutError) as exc:
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            self.metrics.failed.labels(kind, "yes" if permanent else "no").inc()
            error = str(exc) or "The delivery timed out."
            return (DeliveryStatus.FAILED if permanent else DeliveryStatus.RETRYING), error
        self.metrics.sent.labels(kind).inc()
        self.metrics.latency.labels(kind).observe(max(0.0, (utcnow() - notification.created_at).total_seconds()))
        return DeliveryStatus.DELIVERED, None

    def _render(self, notification: Notification, user: User, destination: Destination) -> Message:
        return render(
            notification.event,
            notification.payload,
            base_url=self.settings.base_url,
            username=user.username,
            unsubscribe_url=self._unsubscribe_link(notification, destination),
        )

    def _envelope(self, notification: Notification, destination: Destination) -> Envelope:
        return Envelope(
            key=f"{notification.idempotency_key}/{destination.key}",
            unsubscribe_url=self._unsubscribe_link(notification, destination),
        )

    def _unsubscribe_link(self, notification: Notification, destination: Destination) -> str | None:
        """Emails only: this event on this channel, or every email channel for mail sent to the account."""
        if destination.kind != ChannelKind.EMAIL:
            return None
        if destination.channel is None:
            what = Unsubscribe(notification.user_id, 0, ALL_EVENTS)
        else:
            event = notification.event if notification.event in outbox.SUBSCRIBABLE_EVENTS else ALL_EVENTS
            what = Unsubscribe(notification.user_id, destination.channel.id, event)
        return unsubscribe_url(self.settings.base_url, self._secret, what)

    async def _release(
        self, notification: Notification, outcomes: dict[str, str], errors: dict[str, str], wait_until: list[datetime]
    ) -> None:
        settings = self.settings
        retrying = [key for key, status in outcomes.items() if status in ("retrying", "sending")]
        last_error = "; ".join(f"{key}: {error}" for key, error in sorted(errors.items()))[:2000] or None
        attempts_delta = 0
        next_attempt_at: datetime | None = None
        async with self.services.db.session(write=True) as session:
            if retrying and notification.attempts >= settings.notifications_max_attempts:
                await repository.give_up_retrying(
                    session,
                    notification_id=notification.id,
                    reason=f" (gave up after {notification.attempts} attempts)",
                )
                for key in retrying:
                    outcomes[key] = DeliveryStatus.FAILED.value
                retrying = []
            if retrying or wait_until:
                status = NotificationStatus.PENDING
                candidates = list(wait_until)
                if retrying:
                    candidates.append(utcnow() + timedelta(seconds=self.backoff(notification.attempts)))
                else:
                    attempts_delta = -1  # waiting out quiet hours is not a failed attempt
                next_attempt_at = min(candidates)
            else:
                status = final_status(outcomes)
            payload = None
            if status != NotificationStatus.PENDING and any(field in notification.payload for field in SECRET_FIELDS):
                payload = {k: (None if k in SECRET_FIELDS else v) for k, v in notification.payload.items()}
            await repository.release(
                session,
                notification_id=notification.id,
                owner=self.owner,
                status=status,
                next_attempt_at=next_attempt_at,
                attempts_delta=attempts_delta,
                last_error=last_error,
                payload=payload,
            )

    def backoff(self, attempt: int) -> float:
        """Seconds before the next attempt: exponential with full jitter, capped."""
        settings = self.settings
        ceiling = min(
            settings.notifications_retry_cap_seconds,
            settings.notifications_retry_base_seconds * 2 ** max(attempt - 1, 0),
        )
        return random.uniform(ceiling / 2, ceiling)


def final_status(outcomes: dict[str, str]) -> NotificationStatus:
    """A finished notification: delivered when some destination got it (or will, in a digest)."""
    values = set(outcomes.values())
    if values & {DeliveryStatus.DELIVERED.value, DeliveryStatus.DIGEST.value, DeliveryStatus.DIGESTED.value}:
        return NotificationStatus.DELIVERED
    if DeliveryStatus.FAILED.value in values:
        return NotificationStatus.FAILED
    return NotificationStatus.SKIPPED


def plan(notification: Notification, user: User, channels: list[Channel], now: datetime) -> list[Destination]:
    """Every destination of a notification, with why it is skipped or must wait, if so."""
    event, payload = notification.event, notification.payload
    if event not in known_events():
        return [_account(user, f"unknown event {event}")]
    if event in outbox.ACCOUNT_EVENTS:
        to = str(payload.get("to") or user.email)
        return [Destination(ACCOUNT_DESTINATION, ChannelKind.EMAIL, to, "Email (account)", None)]
    if not user.is_active:
        return [_account(user, "the account is deactivated")]
    by_id = {channel.id: channel for channel in channels}
    if event in (outbox.EVENT_CHANNEL_TEST, EVENT_DIGEST):
        channel = by_id.get(int(payload.get("channel_id") or 0))
        if channel is None:
            return [_account(user, "the channel was deleted")]
        respect_quiet = event == EVENT_DIGEST
        return [_channel_destination(channel, DeliveryMode.INSTANT, now if respect_quiet else None)]
    destinations = []
    for channel in channels:
        mode = (channel.subscriptions or {}).get(event)
        if channel.enabled and mode in (DeliveryMode.INSTANT.value, DeliveryMode.DIGEST.value):
            destinations.append(_channel_destination(channel, DeliveryMode(mode), now))
    if not destinations and event in ACCOUNT_FALLBACK_EVENTS:
        destinations.append(Destination(ACCOUNT_DESTINATION, ChannelKind.EMAIL, user.email, "Email (account)", None))
    return destinations


def _account(user: User, reason: str) -> Destination:
    return Destination(ACCOUNT_DESTINATION, ChannelKind.EMAIL, user.email, "Email (account)", None, skip_reason=reason)


def _channel_destination(channel: Channel, mode: DeliveryMode, now: datetime | None) -> Destination:
    skip = None
    if channel.kind == ChannelKind.EMAIL.value and not channel.verified:
        skip = "the email address is not verified"
    quiet = None
    if now is not None and mode == DeliveryMode.INSTANT:
        quiet = quiet_until(now, channel.quiet_start_minute, channel.quiet_end_minute, channel.timezone)
    return Destination(
        key=f"channel:{channel.id}",
        kind=ChannelKind(channel.kind),
        target=channel.target,
        label=channel.label,
        channel=channel,
        mode=mode,
        skip_reason=skip,
        quiet_until=quiet,
    )


def payload_summary(delivery: Delivery) -> dict[str, Any]:
    """The public JSON shape of a delivery-log row."""
    return {
        "id": delivery.id,
        "notification_id": delivery.notification_id,
        "channel_id": delivery.channel_id,
        "channel": delivery.channel_label,
        "status": delivery.status,
        "attempt": delivery.attempt,
        "error": delivery.error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }
