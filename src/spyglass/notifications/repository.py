"""All SQL of the notifications feature (channels, outbox rows, deliveries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.core.db import utcnow
from spyglass.core.tenancy import owned_by
from spyglass.notifications.models import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
)

#: Delivery states after which a destination is done with a notification.
FINAL_DELIVERY_STATES = frozenset(
    {
        DeliveryStatus.DELIVERED.value,
        DeliveryStatus.FAILED.value,
        DeliveryStatus.DIGEST.value,
        DeliveryStatus.SKIPPED.value,
        DeliveryStatus.DIGESTED.value,
    }
)


async def claim_due(
    session: AsyncSession,
    *,
    owner: str,
    lease_seconds: float,
    limit: int,
    postgres: bool,
    keys: list[str] | None = None,
) -> list[int]:
    """Take up to ``limit`` due, unclaimed (or abandoned) pending notifications for ``owner``; returns their ids.
    One statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING``): on PostgreSQL
    other dispatchers skip the locked rows; on SQLite the write transaction is exclusive."""
    now = utcnow()
    due = select(Notification.id).where(
        Notification.status == NotificationStatus.PENDING.value,
        Notification.next_attempt_at <= now,
        or_(Notification.lease_expires_at.is_(None), Notification.lease_expires_at < now),
    )
    if keys is not None:
        due = due.where(Notification.idempotency_key.in_(keys))
    due = due.order_by(Notification.next_attempt_at, Notification.id).limit(limit)
    if postgres:
        due = due.with_for_update(skip_locked=True)
    claimed = await session.scalars(
        update(Notification)
        .where(
            Notification.id.in_(due.scalar_subquery()),
            Notification.status == NotificationStatus.PENDING.value,
            or_(Notification.lease_expires_at.is_(None), Notification.lease_expires_at < now),
        )
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed.all())


#: A claimed notification with its user, the user's channels and its deliveries so far (by destination).
LoadedNotification = tuple[Notification, User, list[Channel], dict[str, Delivery]]


async def load_batch(session: AsyncSession, ids: list[int]) -> list[LoadedNotification]:
    """For each notification: it, its user, the user's channels and the deliveries made so far (4 queries)."""
    found = list((await session.scalars(select(Notification).where(Notification.id.in_(ids)))).all())
    user_ids = {n.user_id for n in found}
    users = {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(user_ids)))).all()}
    channels: dict[int, list[Channel]] = {}
    for channel in (
        await session.scalars(select(Channel).where(Channel.user_id.in_(user_ids)).order_by(Channel.id))
    ).all():
        channels.setdefault(channel.user_id, []).append(channel)
    done: dict[int, dict[str, Delivery]] = {}
    for delivery in (await session.scalars(select(Delivery).where(Delivery.notification_id.in_(ids)))).all():
        done.setdefault(delivery.notification_id, {})[delivery.destination] = delivery
    return [(n, users[n.user_id], channels.get(n.user_id, []), done.get(n.id, {})) for n in found if n.user_id in users]


async def record_skip_or_digest(
    session: AsyncSession, *, notification: Notification, destination: str, channel_id: int | None, label: str,
    status: DeliveryStatus, error: str | None,
) -> None:  # fmt: skip
    """A final delivery row that involves no send (skipped, or gathered for a digest)."""
    session.add(
        Delivery(
            notification_id=notification.id,
            destination=destination,
            channel_id=channel_id,
            channel_label=label[:100],
            user_id=notification.user_id,
            status=status.value,
            attempt=0,
            error=error,
        )
    )


_DELIVERIES = cast(Table, Delivery.__table__)
_INSERT_DELIVERIES = insert(_DELIVERIES).returning(_DELIVERIES.c.id, sort_by_parameter_order=True)
_FINISH_DELIVERIES = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        updated_at=bindparam("b_now"),
        delivered_at=bindparam("b_delivered_at"),
    )
)


@dataclass
class PlannedSend:
    """A destination about to be sent: ``known`` is its delivery row from an earlier attempt, if any."""

    notification: Notification
    destination: str
    channel_id: int | None
    label: str
    known: Delivery | None
    delivery_id: int | None = None


async def begin_sends(session: AsyncSession, sends: list[PlannedSend]) -> None:
    """Mark destinations ``sending`` before they are sent (committed by the caller); sets ``delivery_id``.
    A first attempt inserts the row (unique per destination, so a second dispatcher could not add another);
    a retry moves the existing row back to ``sending`` with the next attempt number."""
    now = utcnow()
    fresh = [send for send in sends if send.known is None]
    if fresh:
        rows = [
            {
                "notification_id": send.notification.id,
                "destination": send.destination,
                "channel_id": send.channel_id,
                "channel_label": send.label[:100],
                "user_id": send.notification.user_id,
                "status": DeliveryStatus.SENDING.value,
                "attempt": 1,
                "created_at": now,
                "updated_at": now,
            }
            for send in fresh
        ]
        # One multi-row INSERT ... RETURNING; rows come back in the order given. A Core statement on the
        # table: the ORM's bulk path cost more CPU than the rest of the batch's SQL.
        inserted = await session.execute(_INSERT_DELIVERIES, rows)
        for send, delivery_id in zip(fresh, inserted.scalars().all(), strict=True):
            send.delivery_id = delivery_id
    for send in sends:
        if send.known is not None:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == send.known.id)
                .values(status=DeliveryStatus.SENDING.value, attempt=Delivery.attempt + 1, updated_at=now)
            )
            send.delivery_id = send.known.id


async def finish_sends(session: AsyncSession, outcomes: list[tuple[int, DeliveryStatus, str | None]]) -> None:
    """Record how sends ended: (delivery id, status, error), in one statement (executemany)."""
    now = utcnow()
    rows = [
        {
            "b_id": delivery_id,
            "b_status": status.value,
            "b_error": error,
            "b_now": now,
            "b_delivered_at": now if status == DeliveryStatus.DELIVERED else None,
        }
        for delivery_id, status, error in outcomes
    ]
    if rows:
        await session.execute(_FINISH_DELIVERIES, rows)


async def give_up_retrying(session: AsyncSession, *, notification_id: int, reason: str) -> None:
    """Destinations still waiting for a retry fail for good."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.notification_id == notification_id,
            Delivery.status.in_([DeliveryStatus.RETRYING.value, DeliveryStatus.SENDING.value]),
        )
        .values(status=DeliveryStatus.FAILED.value, error=func.coalesce(Delivery.error, "") + reason)
    )


@dataclass(frozen=True)
class Outcome:
    """A claimed notification's result: its new status, and when to try again if still pending."""

    notification_id: int
    status: NotificationStatus
    next_attempt_at: datetime | None
    attempts_delta: int
    last_error: str | None
    payload: dict[str, Any] | None


async def release_many(session: AsyncSession, *, owner: str, outcomes: list[Outcome]) -> None:
    """Store outcomes and drop the claims, only where ``owner`` still holds them. The common case
    (done, nothing else to change) is one UPDATE for the whole batch."""
    now = utcnow()
    simple: dict[tuple[str, str | None], list[int]] = {}
    for outcome in outcomes:
        if outcome.status != NotificationStatus.PENDING and outcome.payload is None and outcome.attempts_delta == 0:
            simple.setdefault((outcome.status.value, outcome.last_error), []).append(outcome.notification_id)
            continue
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": outcome.last_error,
            "attempts": Notification.attempts + outcome.attempts_delta,
        }
        if outcome.next_attempt_at is not None:
            values["next_attempt_at"] = outcome.next_attempt_at
        if outcome.status != NotificationStatus.PENDING:
            values["delivered_at"] = now
        if outcome.payload is not None:
            values["payload"] = outcome.payload
        await session.execute(
            update(Notification)
            .where(Notification.id == outcome.notification_id, Notification.lease_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    for (status, last_error), ids in simple.items():
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.lease_owner == owner)
            .values(status=status, lease_owner=None, lease_expires_at=None, last_error=last_error, delivered_at=now)
            .execution_options(synchronize_session=False)
        )


def deliveries_of(user_id: int | None, *, status: str | None = None) -> Select[Any]:
    """The delivery log, newest first: one user's, or everybody's (admins) when ``user_id`` is None."""
    statement = select(Delivery)
    if user_id is not None:
        statement = owned_by(statement, Delivery, user_id)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    return statement.order_by(Delivery.created_at.desc(), Delivery.id.desc())


async def events_of(session: AsyncSession, notification_ids: list[int]) -> dict[int, str]:
    """The event of each notification (for a page of the delivery log)."""
    if not notification_ids:
        return {}
    rows = await session.execute(
        select(Notification.id, Notification.event).where(Notification.id.in_(notification_ids))
    )
    return {notification_id: event for notification_id, event in rows.all()}


async def pending_digests(session: AsyncSession, *, older_than: datetime, limit: int) -> list[int]:
    """Channels whose oldest delivery gathered for a digest is older than ``older_than``."""
    rows = await session.execute(
        select(Delivery.channel_id)
        .where(Delivery.status == DeliveryStatus.DIGEST.value, Delivery.channel_id.is_not(None))
        .group_by(Delivery.channel_id)
        .having(func.min(Delivery.created_at) <= older_than)
        .limit(limit)
    )
    return [channel_id for (channel_id,) in rows.all() if channel_id is not None]


async def digest_entries(session: AsyncSession, *, channel_id: int, limit: int) -> list[tuple[Delivery, Notification]]:
    """The deliveries waiting in a channel's digest, oldest first, with their notifications."""
    rows = await session.execute(
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.channel_id == channel_id, Delivery.status == DeliveryStatus.DIGEST.value)
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [(delivery, notification) for delivery, notification in rows.all()]


async def apprise_channels_after(session: AsyncSession, *, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, stored target) of the next ``limit`` Apprise channels with an id above ``after_id``, by id
    (every user's: key rotation is an operator's task over the whole table)."""
    rows = await session.execute(
        select(Channel.id, Channel.target)
        .where(Channel.kind == ChannelKind.APPRISE.value, Channel.id > after_id)
        .order_by(Channel.id)
        .limit(limit)
    )
    return [(channel_id, target) for channel_id, target in rows.all()]


async def replace_target(session: AsyncSession, *, channel_id: int, old: str, new: str) -> bool:
    """Store ``new`` as the channel's target only if it still holds ``old`` (a user who saved the channel
    meanwhile wrote a target sealed with the current key: theirs wins); returns whether it was replaced."""
    result = await session.execute(
        update(Channel)
        .where(Channel.id == channel_id, Channel.target == old)
        .values(target=new)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
