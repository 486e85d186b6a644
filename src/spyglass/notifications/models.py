"""Tables of the notifications feature: channels, the outbox (notifications) and deliveries.

A notification is written once per idempotency key; a delivery row exists at most once per
(notification, destination), so a channel never receives the same notification twice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spyglass.core.db import Base, BigIntPK, TimestampMixin, utcnow


class ChannelKind(enum.StrEnum):
    """How a channel delivers: the platform mailer, or any Apprise URL."""

    EMAIL = "email"
    APPRISE = "apprise"


class DeliveryMode(enum.StrEnum):
    """Each subscribed event arrives at once or gathered in a digest."""

    INSTANT = "instant"
    DIGEST = "digest"


class NotificationStatus(enum.StrEnum):
    """The outbox row's state: ``pending`` until every channel is done with it."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class DeliveryStatus(enum.StrEnum):
    """One channel's share of a notification. ``sending`` is written before the send is attempted."""

    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    #: Waiting to be gathered into the channel's next digest; ``digested`` once it was.
    DIGEST = "digest"
    DIGESTED = "digested"
    SKIPPED = "skipped"


class Channel(TimestampMixin, Base):
    """Where a user's notifications go. ``target`` is an email address or an Apprise URL, which may hold
    secrets (tokens, passwords): it is never logged and pages show only ``target_hint``."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False)
    target_hint: Mapped[str] = mapped_column(String(200), nullable=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    #: event name → "instant" | "digest"; events missing here are not delivered to this channel.
    subscriptions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    #: Quiet hours as minutes after local midnight (start inclusive, end exclusive; may wrap midnight).
    quiet_start_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_end_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", nullable=False)

    __table_args__ = (Index("ix_notification_channels_user", "user_id", "created_at"),)


class Notification(Base):
    """An outbox row: ``user_id`` should hear about ``event``. ``idempotency_key`` is unique."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_created", "created_at"),
    )


class Delivery(TimestampMixin, Base):
    """One channel's delivery of one notification (the delivery log)."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False)
    #: ``channel:<id>`` or ``account`` (the account's own address); unique per notification.
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    #: Kept after the channel is deleted (set null) so the log still reads.
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="SET NULL"), nullable=True
    )
    channel_label: Mapped[str] = mapped_column(String(100), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("notification_id", "destination", name="uq_notification_deliveries_destination"),
        Index("ix_notification_deliveries_user_created", "user_id", "created_at"),
        Index("ix_notification_deliveries_status_created", "status", "created_at"),
        Index("ix_notification_deliveries_channel_status", "channel_id", "status"),
        Index("ix_notification_deliveries_created", "created_at"),
    )
