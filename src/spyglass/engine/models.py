"""Job engine tables: runs (the source of truth), recurring schedules and worker heartbeats."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spyglass.core.db import Base, BigIntPK, TimestampMixin, utcnow


class RunStatus(enum.StrEnum):
    """Where a run is in its life. Terminal: succeeded, failed, cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(Base):
    """One execution of a job kind for a subject. The broker only carries its id.

    ``kicked_at`` marks when the run was last handed to the broker; the dispatcher
    hands over queued runs that were never kicked, or kicked long ago without being
    claimed (a lost message), so no run waits forever. A claim is a conditional
    update (queued → running with a lease), so a duplicate delivery does nothing.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    subject_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    stage: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    stats: Mapped[dict[str, object]] = mapped_column(JSON, default=dict, nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    not_before: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    kicked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_runs_status_not_before", "status", "not_before"),
        Index("ix_runs_status_lease", "status", "lease_expires_at"),
        Index("ix_runs_user_created", "user_id", "created_at"),
        Index("ix_runs_kind_status", "kind", "status"),
        Index("ix_runs_subject", "kind", "subject_id", "created_at"),
        Index("ix_runs_finished_at", "finished_at"),
    )


class Schedule(TimestampMixin, Base):
    """A recurring subject: run ``kind`` for ``subject_id`` every ``interval_seconds``."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    subject_id: Mapped[int] = mapped_column(BigIntPK, nullable=False)
    interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    next_run_at: Mapped[datetime] = mapped_column(nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict, nullable=False)
    last_run_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)

    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_schedules_kind_subject"),
        Index("ix_schedules_due", "enabled", "next_run_at"),
        Index("ix_schedules_user", "user_id"),
    )


class WorkerHeartbeat(Base):
    """A live worker process; ``last_seen_at`` older than a few heartbeats means it stopped."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    concurrency: Mapped[int] = mapped_column(Integer, nullable=False)
    running: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False, index=True)
