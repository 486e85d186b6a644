"""Helpers for notification tests: channels, notifications and reading the outbox back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from spyglass.accounts.models import User
from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.dispatcher import OutboxDispatcher
from spyglass.notifications.models import Channel, Delivery, Notification
from spyglass.notifications.service import ChannelInput, add_channel


async def make_channel(
    services: Services, user: User, kind: str, target: str, *, events: dict[str, str] | None = None, **extra: Any
) -> Channel:
    """A channel added through the service (validation included), committed."""
    async with services.db.session(write=True) as session:
        account = await session.get(User, user.id)
        assert account is not None
        return await add_channel(
            session,
            settings=services.settings,
            user=account,
            data=ChannelInput(kind=kind, label=f"{kind} channel", target=target, subscriptions=events, **extra),
        )


async def emit(services: Services, user_id: int, event: str, payload: dict[str, Any], key: str) -> None:
    """One event written to the outbox in its own transaction, the way features do."""
    async with services.db.session(write=True) as session:
        await outbox.notify(session, user_id=user_id, event=event, payload=payload, key=key)


async def drain(services: Services, *, rounds: int = 1) -> int:
    """Run a dispatcher until nothing is due (``rounds`` passes at least)."""
    dispatcher = OutboxDispatcher(services)
    total = 0
    for _ in range(rounds):
        total += await dispatcher.dispatch_batch()
    while (count := await dispatcher.dispatch_batch()) > 0:
        total += count
    return total


async def notifications(services: Services) -> list[Notification]:
    async with services.db.session() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


async def deliveries(services: Services) -> list[Delivery]:
    async with services.db.session() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())
