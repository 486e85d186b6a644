"""What features call: enqueue runs, cancel them, keep schedules. Never commits (the caller's unit
of work does), and every user-facing lookup is scoped to the owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.config import Settings
from spyglass.core.db import is_valid_id, utcnow
from spyglass.core.errors import Conflict, InvalidInput, NotFound
from spyglass.engine import repository
from spyglass.engine.kinds import get_kind
from spyglass.engine.models import Run, RunStatus, Schedule


def validate_interval(*, settings: Settings, seconds: int | None) -> int:
    """The interval to use: the default when None; refused below the admin-set minimum."""
    value = settings.engine_default_interval_seconds if seconds is None else seconds
    if value < settings.engine_min_interval_seconds:
        raise InvalidInput(
            detail={"interval": f"must be at least {settings.engine_min_interval_seconds} seconds"},
        )
    return value


async def enqueue_run(
    session: AsyncSession,
    *,
    kind: str,
    user_id: int | None,
    subject_id: int | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Run:
    """Queue a run now (the dispatcher hands it to a worker within a tick of the commit)."""
    job_kind = get_kind(kind)
    run = repository.new_run(
        kind=kind,
        user_id=user_id,
        subject_id=subject_id,
        payload=payload,
        max_attempts=job_kind.retry.max_attempts,
        dedupe_key=dedupe_key,
    )
    session.add(run)
    await session.flush()
    return run


async def get_run_for_user(session: AsyncSession, *, run_id: int, user_id: int, is_admin: bool = False) -> Run:
    """A run the user owns (admins see all), or NotFound."""
    run = await session.get(Run, run_id) if is_valid_id(run_id) else None
    if run is None or (run.user_id != user_id and not is_admin):
        raise NotFound("No such run.")
    return run


async def cancel_run(session: AsyncSession, *, run_id: int, user_id: int, is_admin: bool = False) -> RunStatus:
    """Cancel a queued run at once or ask a running one to stop (it stops within about 2 s)."""
    run = await get_run_for_user(session, run_id=run_id, user_id=user_id, is_admin=is_admin)
    return await repository.request_cancel(session, run=run)


async def save_schedule(
    session: AsyncSession,
    *,
    kind: str,
    user_id: int | None,
    subject_id: int,
    interval_seconds: int,
    enabled: bool = True,
    payload: dict[str, Any] | None = None,
    first_run_in_seconds: float = 0.0,
    quota: int | None = None,
) -> Schedule:
    """Create or update the schedule of a subject (one per kind and subject); a new one is refused
    when the user already has ``quota`` schedules (pass ``settings.engine_max_schedules_per_user``)."""
    get_kind(kind)
    schedule = await session.scalar(select(Schedule).where(Schedule.kind == kind, Schedule.subject_id == subject_id))
    if schedule is None:
        if user_id is not None and quota is not None:
            owned = await session.scalar(select(func.count()).select_from(Schedule).where(Schedule.user_id == user_id))
            if (owned or 0) >= quota:
                raise Conflict(
                    f"You already have {owned} scheduled bots, the most your account allows ({quota}). "
                    "Stop or delete one first, or ask an admin for a higher quota."
                )
        schedule = Schedule(
            kind=kind,
            user_id=user_id,
            subject_id=subject_id,
            next_run_at=utcnow() + timedelta(seconds=first_run_in_seconds),
            payload=payload or {},
            interval_seconds=interval_seconds,
            enabled=enabled,
        )
        session.add(schedule)
    else:
        if schedule.interval_seconds != interval_seconds:
            schedule.next_run_at = min(schedule.next_run_at, utcnow() + timedelta(seconds=interval_seconds))
        schedule.interval_seconds = interval_seconds
        schedule.enabled = enabled
        if payload is not None:
            schedule.payload = payload
    await session.flush()
    return schedule


async def delete_schedule(session: AsyncSession, *, kind: str, subject_id: int) -> None:
    schedule = await session.scalar(select(Schedule).where(Schedule.kind == kind, Schedule.subject_id == subject_id))
    if schedule is not None:
        await session.delete(schedule)
