"""Channel management and the actions pages and the API share. Never commits (the request does)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.accounts.schemas import has_control_chars
from spyglass.config import Settings
from spyglass.core.errors import Conflict, InvalidInput, NotFound
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.core.urlpolicy import UrlPolicy
from spyglass.notifications import outbox
from spyglass.notifications.channels import sender_for
from spyglass.notifications.models import Channel, ChannelKind, Delivery, DeliveryMode
from spyglass.notifications.quiet_hours import format_hhmm, parse_hhmm, valid_timezone
from spyglass.notifications.sealing import seal_target
from spyglass.notifications.unsubscribe import ALL_EVENTS, Unsubscribe

MAX_CHANNELS_PER_USER = 20
MAX_LABEL_LENGTH = 100
ADMIN_ONLY_EVENTS = frozenset({outbox.EVENT_ADMIN_ALERT})


@dataclass
class ChannelInput:
    """What a user submits for a channel; None leaves a field as it is (updates)."""

    kind: str | None = None
    label: str | None = None
    target: str | None = None
    subscriptions: dict[str, str] | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str | None = None
    enabled: bool | None = None


def channel_to_dict(channel: Channel) -> dict[str, Any]:
    """The public JSON shape of a channel (never the full target: it may hold secrets)."""
    return {
        "id": channel.id,
        "kind": channel.kind,
        "label": channel.label,
        "target": channel.target_hint,
        "verified": channel.verified,
        "enabled": channel.enabled,
        "subscriptions": dict(channel.subscriptions or {}),
        "quiet_hours": {
            "start": format_hhmm(channel.quiet_start_minute) or None,
            "end": format_hhmm(channel.quiet_end_minute) or None,
            "timezone": channel.timezone,
        },
        "created_at": channel.created_at.isoformat(),
    }


def _check_label(label: str) -> str:
    label = " ".join(label.split())
    if not label:
        raise InvalidInput("Give the channel a name.", detail={"label": "Give the channel a name, e.g. “My phone”."})
    if len(label) > MAX_LABEL_LENGTH or has_control_chars(label):
        raise InvalidInput(
            "The name is too long or holds control characters.",
            detail={"label": f"Use at most {MAX_LABEL_LENGTH} printable characters."},
        )
    return label


def check_subscriptions(raw: Any, *, is_admin: bool) -> dict[str, str]:
    """``{event: "instant" | "digest"}`` with known events only."""
    if not isinstance(raw, dict):
        raise InvalidInput("Subscriptions must be an object of event → mode.", detail={"subscriptions": "invalid"})
    result: dict[str, str] = {}
    for event, mode in raw.items():
        if event not in outbox.SUBSCRIBABLE_EVENTS or (event in ADMIN_ONLY_EVENTS and not is_admin):
            raise InvalidInput(
                f"Unknown event {str(event)[:64]!r}.", detail={"subscriptions": f"unknown event {event}"}
            )
        if mode not in (DeliveryMode.INSTANT.value, DeliveryMode.DIGEST.value):
            raise InvalidInput(
                f"The mode of {event} must be instant or digest.", detail={"subscriptions": f"bad mode for {event}"}
            )
        result[event] = mode
    return result


def _apply_quiet_hours(channel: Channel, data: ChannelInput) -> None:
    if data.timezone is not None:
        zone = data.timezone.strip() or "UTC"
        if not valid_timezone(zone):
            raise InvalidInput("Unknown time zone.", detail={"timezone": "Choose a time zone such as Europe/Paris."})
        channel.timezone = zone
    if data.quiet_start is None and data.quiet_end is None:
        return
    try:
        start = parse_hhmm(data.quiet_start or "")
    except ValueError as exc:
        raise InvalidInput(f"Quiet hours start: {exc}.", detail={"quiet_start": str(exc)}) from None
    try:
        end = parse_hhmm(data.quiet_end or "")
    except ValueError as exc:
        raise InvalidInput(f"Quiet hours end: {exc}.", detail={"quiet_end": str(exc)}) from None
    if (start is None) != (end is None):
        raise InvalidInput(
            "Give both the start and the end of the quiet hours, or neither.",
            detail={"quiet_end" if end is None else "quiet_start": "Fill in both times or neither."},
        )
    if start is not None and start == end:
        raise InvalidInput(
            "Quiet hours must not start and end at the same time.", detail={"quiet_end": "Same as start."}
        )
    channel.quiet_start_minute, channel.quiet_end_minute = start, end


async def add_channel(session: AsyncSession, *, settings: Settings, user: User, data: ChannelInput) -> Channel:
    """Validate and add a channel. An email channel is verified when it is the account's verified address;
    another address must be confirmed first (see :func:`request_verification`)."""
    count = await session.scalar(owned_by(select(func.count(Channel.id)), Channel, user.id)) or 0
    if count >= MAX_CHANNELS_PER_USER:
        raise Conflict(f"You can have at most {MAX_CHANNELS_PER_USER} channels; delete one first.")
    sender = sender_for(data.kind or "")
    label = _check_label(data.label or "")
    valid = await sender.validate(data.target or "", policy=UrlPolicy.from_settings(settings))
    default_events = {outbox.EVENT_SCAN_COMPLETED: "instant", outbox.EVENT_HIGH_RISK_FINDING: "instant",
                      outbox.EVENT_NEW_LISTINGS: "instant", outbox.EVENT_PRICE_DROP: "instant"}  # fmt: skip
    subscriptions = (
        check_subscriptions(data.subscriptions, is_admin=user.is_admin)
        if data.subscriptions is not None
        else default_events
    )
    channel = Channel(
        user_id=user.id,
        kind=sender.kind.value,
        label=label,
        target=_stored_target(settings.secret(), sender.kind.value, valid.target),
        target_hint=valid.hint,
        verified=sender.kind == ChannelKind.APPRISE or (valid.target == user.email and user.email_verified),
        enabled=True if data.enabled is None else data.enabled,
        subscriptions=subscriptions,
        timezone="UTC",
    )
    _apply_quiet_hours(channel, data)
    session.add(channel)
    await session.flush()
    return channel


async def request_verification(session: AsyncSession, *, settings: Settings, user: User, channel: Channel) -> str:
    """Queue the confirmation link for an email channel's address; returns the outbox key."""
    key = f"channel-verify:{channel.id}:{uuid.uuid4().hex}"
    await outbox.notify(
        session,
        user_id=user.id,
        event=outbox.EVENT_CHANNEL_VERIFY,
        payload={
            "to": channel.target,
            "username": user.username,
            "label": channel.label,
            "link": f"{settings.base_url}/notifications/channels/{channel.id}/verify/"
            f"{verification_token(settings.secret(), channel)}",
        },
        key=key,
    )
    return key


def _stored_target(secret: str, kind: str, target: str) -> str:
    """Apprise URLs are stored encrypted; email addresses stay readable (they are looked up and shown)."""
    return seal_target(secret, target) if kind == ChannelKind.APPRISE.value else target


async def update_channel(
    session: AsyncSession, *, settings: Settings, user: User, channel_id: int, data: ChannelInput
) -> Channel:
    """Change a channel's name, subscriptions, quiet hours or enabled flag (the target stays, but a target
    stored in clear before encryption existed is sealed now)."""
    channel = await get_owned(session, Channel, channel_id, user.id, what="channel")
    sealed = _stored_target(settings.secret(), channel.kind, channel.target)
    if sealed != channel.target:
        channel.target = sealed
    if data.label is not None:
        channel.label = _check_label(data.label)
    if data.subscriptions is not None:
        channel.subscriptions = check_subscriptions(data.subscriptions, is_admin=user.is_admin)
    if data.enabled is not None:
        channel.enabled = data.enabled
    _apply_quiet_hours(channel, data)
    return channel


async def delete_channel(session: AsyncSession, *, user_id: int, channel_id: int) -> Channel:
    """Delete one of the user's channels (its delivery log stays, without the link); returns it."""
    channel = await get_owned(session, Channel, channel_id, user_id, what="channel")
    await session.delete(channel)
    return channel


async def send_test(session: AsyncSession, *, user_id: int, channel_id: int) -> str:
    """Queue a test notification to one channel; returns its key (to deliver it right after commit)."""
    channel = await get_owned(session, Channel, channel_id, user_id, what="channel")
    if not channel.verified:
        raise Conflict("Confirm this email address first: open the link we sent to it.")
    key = f"channel-test:{channel.id}:{uuid.uuid4().hex}"
    await outbox.notify(
        session,
        user_id=user_id,
        event=outbox.EVENT_CHANNEL_TEST,
        payload={"channel_id": channel.id, "label": channel.label},
        key=key,
    )
    return key


def verification_token(secret: str, channel: Channel) -> str:
    """Proves the holder received mail at the channel's address (bound to the address, not only the id)."""
    message = f"verify:{channel.id}:{channel.target}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


async def verify_channel(session: AsyncSession, *, secret: str, channel_id: int, token: str) -> Channel:
    """Mark an email channel verified when ``token`` matches its address."""
    channel = await session.get(Channel, channel_id) if 0 < channel_id < 2**63 else None
    if channel is None or not hmac.compare_digest(verification_token(secret, channel), token[:64]):
        raise NotFound("This confirmation link is not valid (the channel may have been deleted or changed).")
    channel.verified = True
    return channel


async def unsubscribe(session: AsyncSession, what: Unsubscribe) -> str:
    """Apply a signed unsubscribe link; returns a sentence saying what stopped."""
    if what.channel_id == 0:
        channels = (
            await session.scalars(
                owned_by(select(Channel), Channel, what.user_id).where(Channel.kind == ChannelKind.EMAIL.value)
            )
        ).all()
        for each in channels:
            each.enabled = False
        return "Email notifications are off for your account. You can turn channels back on in your settings."
    channel = await session.get(Channel, what.channel_id) if 0 < what.channel_id < 2**63 else None
    if channel is None or channel.user_id != what.user_id:
        return "This channel no longer exists, so it sends nothing."
    if what.event == ALL_EVENTS:
        channel.enabled = False
        return f"The channel “{channel.label}” is turned off."
    subscriptions = dict(channel.subscriptions or {})
    subscriptions.pop(what.event, None)
    channel.subscriptions = subscriptions
    name = outbox.SUBSCRIBABLE_EVENTS.get(what.event, what.event)
    return f"“{channel.label}” no longer receives {name.lower()}."


def delivery_to_dict(delivery: Delivery) -> dict[str, Any]:
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
