"""The outbox dispatcher: claims pending notifications and delivers them to each destination once.

Per notification and destination (a channel, or the account's own address) there is one delivery
row, unique on (notification, destination). The order of writes is what makes a crash safe:

1. claim a batch of notifications (conditional UPDATE; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) with a lease;
2. for a chunk of destinations (at most the send concurrency), commit their delivery rows as ``sending``
   *before* sending;
3. send the chunk; 4. commit ``delivered`` (or ``retrying``/``failed`` with the reason);
5. release the notifications (delivered, failed, or pending again with their next attempt time).

A dispatcher that dies anywhere loses its lease; the next one re-claims the notification and skips
every destination already ``delivered``. Only a death between 2 and 4 (a send may have gone out, its
record did not) makes a destination be sent again: at-least-once in that window, which holds at most
one chunk, and the redelivery carries the same Message-ID / ``X-Spyglass-Notification`` key so
receivers can drop it. Everywhere else a destination receives a notification exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.notifications import outbox, repository
from spyglass.notifications.channels import DeliveryError, Envelope, sender_for
from spyglass.notifications.metrics import notification_metrics
from spyglass.notifications.models import (
    Channel,
    ChannelKind,
    DeliveryMode,
    DeliveryStatus,
    Notification,
    NotificationStatus,
)
from spyglass.notifications.quiet_hours import quiet_until
from spyglass.notifications.rendering import EVENT_DIGEST, Message, known_events, render
from spyglass.notifications.sealing import UnreadableTarget, open_target, previous_secrets
from spyglass.notifications.unsubscribe import ALL_EVENTS, Unsubscribe, unsubscribe_url
from spyglass.notifications.wake import OutboxListener

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

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


@dataclass
class _State:
    """What one claimed notification's destinations have come to in this pass."""

    notification: Notification
    outcomes: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    wait_until: list[datetime] = field(default_factory=list)
    give_up: bool = False


@dataclass
class _Send:
    state: _State
    destination: Destination
    message: Message | None
    envelope: Envelope
    planned: repository.PlannedSend


@dataclass
class _BatchCache:
    """What one batch works out once and reuses: a message per (notification, channel kind, unsubscribe
    link), and each stored target opened once however many of the batch's notifications it receives."""

    messages: dict[tuple[int, str, str | None], Message | None] = field(default_factory=dict)
    targets: dict[str, str | UnreadableTarget] = field(default_factory=dict)


def new_owner() -> str:
    """A name for this dispatcher, unique across processes (it holds claims)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxDispatcher:
    """Delivers the outbox. Several can run at once, in one or many processes: a notification is only
    ever worked on by the dispatcher holding its claim."""

    def __init__(self, services: Services, *, owner: str | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.owner = owner or new_owner()
        self.metrics = notification_metrics(services.metrics)
        self._postgres = services.db.backend == "postgresql"
        self._secret = self.settings.secret()
        self._previous = previous_secrets(self.settings)
        self._unsubscribe_links: dict[Unsubscribe, str] = {}

    async def run(self, *, linger_seconds: float) -> int:
        """Deliver what is due, then keep watching the outbox for ``linger_seconds``; returns how many
        notifications were processed. Woken at once by commits in this process and, on PostgreSQL, by
        those of every other process (``wake.OutboxListener``); rows due later are found by polling."""
        waker = asyncio.Event()
        outbox.add_waker(waker)
        listener = OutboxListener(self.services.db, waker)
        deadline = time.monotonic() + linger_seconds
        processed = 0
        try:
            while True:
                # SMTP connections are reused for as long as work keeps coming and closed after one idle
                # poll interval: opening one per batch cost more CPU than the messages when every commit
                # wakes the dispatcher for a batch of one or two.
                async with self.services.mailer.batch():
                    processed += await self._busy_period(waker, listener, deadline)
                if time.monotonic() >= deadline:
                    return processed
        finally:
            outbox.remove_waker(waker)
            await listener.close()

    async def _busy_period(self, waker: asyncio.Event, listener: OutboxListener, deadline: float) -> int:
        """Dispatch batch after batch, waiting for wake-ups in between; returns after a poll interval
        with nothing to do (or at ``deadline``)."""
        processed = 0
        while True:
            await listener.ensure()
            waker.clear()
            count = await self.dispatch_batch()
            processed += count
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return processed
            if count >= self.settings.notifications_batch_size:
                continue  # more may be due: no pause
            try:
                async with asyncio.timeout(min(self.settings.notifications_poll_seconds, remaining)):
                    await waker.wait()
            except TimeoutError:
                if count == 0:
                    return processed  # idle: let the caller close the connections
                continue
            # Woken by a commit: give the next few a moment to land so they share one batch. A batch costs
            # ~8 ms of CPU whatever its size (its transactions), a message ~2 ms: at 100 events/s a batch
            # per event would spend most of the time on the batches.
            gather = min(self.settings.notifications_wake_gather_seconds, deadline - time.monotonic())
            if gather > 0:
                await asyncio.sleep(gather)

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
            # Read what the batch needs in the claim's transaction: one round trip of BEGIN/COMMIT fewer.
            loaded = await repository.load_batch(session, ids) if ids else []
        if ids:
            try:
                await self._deliver_batch(loaded)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The claims run out and another pass retries; the error goes to the log, never the payload.
                logger.exception("could not process a batch of notifications", extra={"count": len(ids)})
        return len(ids)

    async def _deliver_batch(self, loaded: list[repository.LoadedNotification]) -> None:
        """Plan every claimed notification, send in chunks, then release them all.

        Writes are grouped (one transaction per chunk of sends, not per send, and the last chunk's outcomes
        share the release's): on SQLite every write transaction takes the database lock, and many small ones
        queue behind each other's busy waits; on PostgreSQL each costs round trips."""
        now = utcnow()
        cache = _BatchCache()
        states: list[_State] = []
        records: list[tuple[_State, Destination, DeliveryStatus]] = []
        sends: list[_Send] = []
        for notification, user, channels, deliveries in loaded:
            state = _State(notification, {k: d.status for k, d in deliveries.items()})
            state.errors.update({key: d.error for key, d in deliveries.items() if d.error})
            states.append(state)
            for destination in plan(notification, user, channels, now):
                if state.outcomes.get(destination.key) in repository.FINAL_DELIVERY_STATES:
                    continue
                if destination.skip_reason or destination.mode == DeliveryMode.DIGEST:
                    status = DeliveryStatus.SKIPPED if destination.skip_reason else DeliveryStatus.DIGEST
                    records.append((state, destination, status))
                elif destination.quiet_until is not None:
                    state.wait_until.append(destination.quiet_until)
                else:
                    planned = repository.PlannedSend(
                        notification=notification,
                        destination=destination.key,
                        channel_id=destination.channel.id if destination.channel else None,
                        label=destination.label,
                        known=deliveries.get(destination.key),
                    )
                    envelope = self._envelope(notification, destination)
                    message = self._render_safely(notification, user, destination, envelope, cache)
                    sends.append(_Send(state, destination, message, envelope, planned))
        if records:
            async with self.services.db.session(write=True) as session:
                for state, destination, status in records:
                    await repository.record_skip_or_digest(
                        session,
                        notification=state.notification,
                        destination=destination.key,
                        channel_id=destination.channel.id if destination.channel else None,
                        label=destination.label,
                        status=status,
                        error=destination.skip_reason,
                    )
                    state.outcomes[destination.key] = status.value
        size = self.settings.notifications_send_concurrency
        chunks = [sends[start : start + size] for start in range(0, len(sends), size)]
        async with self.services.mailer.batch():  # SMTP connections are reused across the batch
            for number, chunk in enumerate(chunks, start=1):
                await self._send_chunk(chunk, cache, release=states if number == len(chunks) else None)
        if not chunks:
            async with self.services.db.session(write=True) as session:
                await self._release(session, states)

    async def _send_chunk(self, chunk: list[_Send], cache: _BatchCache, *, release: list[_State] | None) -> None:
        """Mark the chunk ``sending`` (one commit), send it concurrently, record the outcomes (one commit,
        which also releases the batch's notifications when ``release`` is given: the last chunk).
        A crash between the two commits re-sends at most this chunk: the send concurrency bounds it."""
        async with self.services.db.session(write=True) as session:
            await repository.begin_sends(session, [send.planned for send in chunk])
        results = await asyncio.gather(
            *(self._deliver(send, self._open(send.destination.target, cache)) for send in chunk)
        )
        outcomes = []
        for send, (status, error) in zip(chunk, results, strict=True):
            assert send.planned.delivery_id is not None
            outcomes.append((send.planned.delivery_id, status, error))
            send.state.outcomes[send.destination.key] = status.value
            if error:
                send.state.errors[send.destination.key] = error
        async with self.services.db.session(write=True) as session:
            await repository.finish_sends(session, outcomes)
            if release is not None:
                await self._release(session, release)

    def _render_safely(
        self, notification: Notification, user: User, destination: Destination, envelope: Envelope, cache: _BatchCache
    ) -> Message | None:
        key = (notification.id, destination.kind.value, envelope.unsubscribe_url)
        if key in cache.messages:
            return cache.messages[key]
        message: Message | None = None
        try:
            message = render(
                notification.event,
                notification.payload,
                base_url=self.settings.base_url,
                username=user.username,
                unsubscribe_url=envelope.unsubscribe_url,
                email=destination.kind == ChannelKind.EMAIL,
                chat=destination.kind != ChannelKind.EMAIL,
            )
        except Exception:
            logger.exception("could not render notification", extra={"event": notification.event})
        cache.messages[key] = message
        return message

    def _open(self, stored: str, cache: _BatchCache) -> str | UnreadableTarget:
        """The target as the user wrote it (decrypted once per batch), or why it cannot be read."""
        if stored not in cache.targets:
            try:
                cache.targets[stored] = open_target(self._secret, stored, previous=self._previous)
            except UnreadableTarget as exc:
                cache.targets[stored] = exc
        return cache.targets[stored]

    async def _deliver(self, send: _Send, target: str | UnreadableTarget) -> tuple[DeliveryStatus, str | None]:
        notification, destination, message = send.state.notification, send.destination, send.message
        kind = destination.kind.value
        try:
            if message is None:
                raise DeliveryError("The message could not be rendered.", permanent=True)
            if isinstance(target, UnreadableTarget):
                raise DeliveryError(str(target), permanent=True)
            async with asyncio.timeout(self.settings.notifications_send_timeout_seconds):
                await sender_for(kind).send(self.services, target, message, send.envelope)
        except (DeliveryError, TimeoutError) as exc:
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            self.metrics.failed.labels(kind, "yes" if permanent else "no").inc()
            error = str(exc) or "The delivery timed out."
            return (DeliveryStatus.FAILED if permanent else DeliveryStatus.RETRYING), error
        except Exception as exc:  # a bug or an unexpected library error: retried, reason kept short
            logger.exception("unexpected error while sending a notification", extra={"channel": kind})
            self.metrics.failed.labels(kind, "no").inc()
            return DeliveryStatus.RETRYING, f"Unexpected error ({type(exc).__name__})."
        self.metrics.sent.labels(kind).inc()
        self.metrics.latency.labels(kind).observe(max(0.0, (utcnow() - notification.created_at).total_seconds()))
        return DeliveryStatus.DELIVERED, None

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
        link = self._unsubscribe_links.get(what)
        if link is None:  # an HMAC per message adds up at 100 messages/s; the link never changes
            if len(self._unsubscribe_links) >= 10_000:
                self._unsubscribe_links.clear()
            link = self._unsubscribe_links[what] = unsubscribe_url(self.settings.base_url, self._secret, what)
        return link

    async def _release(self, session: AsyncSession, states: list[_State]) -> None:
        """Store every notification's outcome and drop the claims (in the caller's transaction)."""
        outcomes = [self._outcome(state) for state in states]
        for state in states:
            if state.give_up:
                await repository.give_up_retrying(
                    session,
                    notification_id=state.notification.id,
                    reason=f" (gave up after {state.notification.attempts} attempts)",
                )
        await repository.release_many(session, owner=self.owner, outcomes=outcomes)

    def _outcome(self, state: _State) -> repository.Outcome:
        """What becomes of a notification after this pass: done, or pending until its next attempt."""
        notification, outcomes = state.notification, state.outcomes
        retrying = [key for key, status in outcomes.items() if status in ("retrying", "sending")]
        last_error = "; ".join(f"{key}: {error}" for key, error in sorted(state.errors.items()))[:2000] or None
        if retrying and notification.attempts >= self.settings.notifications_max_attempts:
            state.give_up = True
            for key in retrying:
                outcomes[key] = DeliveryStatus.FAILED.value
            retrying = []
        attempts_delta = 0
        next_attempt_at: datetime | None = None
        if retrying or state.wait_until:
            status = NotificationStatus.PENDING
            candidates = list(state.wait_until)
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
        return repository.Outcome(
            notification_id=notification.id,
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
    # A market search in digest mode flags its alerts: they wait for the digest even on instant channels
    # (a digest channel never becomes instant because of the flag).
    digest_flagged = event == outbox.EVENT_NEW_LISTINGS and payload.get("digest") is True
    destinations = []
    for channel in channels:
        mode = (channel.subscriptions or {}).get(event)
        if channel.enabled and mode in (DeliveryMode.INSTANT.value, DeliveryMode.DIGEST.value):
            chosen = DeliveryMode.DIGEST if digest_flagged else DeliveryMode(mode)
            destinations.append(_channel_destination(channel, chosen, now))
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
