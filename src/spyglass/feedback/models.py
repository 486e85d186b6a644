"""Tables of the feedback feature: feedback from users (answered by admins) and the onboarding checklist's state."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spyglass.core.db import Base, BigIntPK, TimestampMixin


class FeedbackKind(enum.StrEnum):
    """What the feedback is about."""

    BUG = "bug"
    FEATURE = "feature"
    QUESTION = "question"
    OTHER = "other"


class FeedbackStatus(enum.StrEnum):
    """Where an admin stands with it: new → in progress → resolved or closed."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Feedback(TimestampMixin, Base):
    """One message a user sent (a bug, a wish, a question), and the admin's answer."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    page_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=FeedbackStatus.NEW.value, nullable=False)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_feedback_status_created", "status", "created_at"),
        Index("ix_feedback_user_created", "user_id", "created_at"),
        Index("ix_feedback_kind", "kind"),
    )


class UserOnboarding(Base):
    """A user's onboarding state; a row with ``dismissed_at`` set hides the first-run checklist."""

    __tablename__ = "user_onboarding"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    dismissed_at: Mapped[datetime | None] = mapped_column(nullable=True)
