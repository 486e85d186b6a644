"""All SQL of the job engine. Every state change is a conditional update, so two processes
racing on the same run cannot both win."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.core.db import utcnow
from spyglass.engine.kinds import SYSTEM_SUBJECT_ID
from spyglass.engine.models import Run, RunStatus, Schedule, WorkerHeartbeat

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


def new_run(
    *,
    kind: str,
    user_id: int | None,
    subject_id: int | None,
    payload: dict[str, Any] | None = None,
    max_attempts: int = 3,
    schedule_id: int | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> Run:
    """A queued Run object (not yet added to a session)."""
    now = utcnow()
    return Run(
        kind=kind,
        user_id=user_id,
        subject_id=subject_id,
        payload=payload or {},
        max_attempts=max_attempts,
        schedule_id=schedule_id,
        dedupe_key=dedupe_key,
        status=RunStatus.QUEUED.value,
        attempt=0,
        progress=0,
        stage="queued",
        stats={},
        cancel_requested=False,
        created_at=now,
        not_before=not_before or now,
    )


async def claim_run(session: AsyncSession, *, run_id: int, worker_id: str, lease_seconds: float) -> Run | None:
    """Move a queued run to running under this worker's lease; None when someone else has it."""
    now = utcnow()
    # One statement: the claimed row comes back through RETURNING (no second SELECT per run).
    return await session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.QUEUED.value, Run.cancel_requested.is_(False))
        .values(
            status=RunStatus.RUNNING.value,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempt=Run.attempt + 1,
            started_at=func.coalesce(Run.started_at, now),
            stage="starting",
        )
        .returning(Run)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


@dataclass(frozen=True)
class LeaseState:
    """What the heartbeat learns about one of its runs."""

    owned: bool
    cancel_requested: bool


async def extend_leases(
    session: AsyncSession, *, worker_id: str, run_ids: Sequence[int], lease_seconds: float
) -> dict[int, LeaseState]:
    """Extend this worker's leases; report which runs it still owns and which were asked to stop."""
    if not run_ids:
        return {}
    await session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.lease_owner == worker_id, Run.status == RunStatus.RUNNING.value)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        select(Run.id, Run.lease_owner, Run.status, Run.cancel_requested).where(Run.id.in_(run_ids))
    )
    states = {
        row.id: LeaseState(
            owned=row.lease_owner == worker_id and row.status == RunStatus.RUNNING.value,
            cancel_requested=bool(row.cancel_requested),
        )
        for row in rows
    }
    return {run_id: states.get(run_id, LeaseState(owned=False, cancel_requested=True)) for run_id in run_ids}


async def finish_run(
    session: AsyncSession,
    *,
    run_id: int,
    worker_id: str,
    status: RunStatus,
    stats: dict[str, Any] | None = None,
    error: str | None = None,
    stage: str | None = None,
) -> bool:
    """Record the end of a run this worker still holds; False when the lease was lost meanwhile."""
    values: dict[str, Any] = {
        "status": status.value,
        "finished_at": utcnow(),
        "lease_owner": None,
        "lease_expires_at": None,
        "error": error,
        "stage": stage or status.value,
    }
    if status == RunStatus.SUCCEEDED:
        values["progress"] = 100
    if stats is not None:
        values["stats"] = stats
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.lease_owner == worker_id, Run.status == RunStatus.RUNNING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retry_run(session: AsyncSession, *, run_id: int, worker_id: str, delay_seconds: float, error: str) -> bool:
    """Put a run this worker holds back in the queue to try again after ``delay_seconds``."""
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.lease_owner == worker_id, Run.status == RunStatus.RUNNING.value)
        .values(
            status=RunStatus.QUEUED.value,
            lease_owner=None,
            lease_expires_at=None,
            kicked_at=None,
            not_before=utcnow() + timedelta(seconds=delay_seconds),
            error=error,
            stage=f"waiting to retry in {round(delay_seconds)} s",
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def write_progress(session: AsyncSession, *, worker_id: str, progress: Mapping[int, tuple[int, str]]) -> None:
    """Write the latest (percent, stage) of several runs this worker holds, in one executemany UPDATE."""
    if not progress:
        return
    statement = (
        update(Run)
        .where(Run.id == bindparam("run_id"), Run.lease_owner == worker_id, Run.status == RunStatus.RUNNING.value)
        .values(progress=bindparam("new_progress"), stage=bindparam("new_stage"))
    )
    rows = [{"run_id": run_id, "new_progress": pct, "new_stage": stage} for run_id, (pct, stage) in progress.items()]
    # On the connection: a plain executemany, not the ORM's bulk-update-by-primary-key path.
    await (await session.connection()).execute(statement, rows)


async def reap_expired_leases(session: AsyncSession, *, now: datetime | None = None) -> tuple[int, int]:
    """Runs whose worker stopped renewing: re-queue them, or fail them after their last attempt.
    Returns (requeued, failed)."""
    now = now or utcnow()
    expired = and_(Run.status == RunStatus.RUNNING.value, Run.lease_expires_at < now)
    failed = await session.execute(
        update(Run)
        .where(expired, Run.attempt >= Run.max_attempts)
        .values(
            status=RunStatus.FAILED.value,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            error="The worker running this stopped responding, and no attempts are left.",
            stage="failed",
        )
        .execution_options(synchronize_session=False)
    )
    requeued = await session.execute(
        update(Run)
        .where(expired)
        .values(
            status=RunStatus.QUEUED.value,
            lease_owner=None,
            lease_expires_at=None,
            kicked_at=None,
            not_before=now,
            error="The worker running this stopped responding; it will be retried.",
            stage="re-queued after a worker stopped",
        )
        .execution_options(synchronize_session=False)
    )
    return int(requeued.rowcount), int(failed.rowcount)  # type: ignore[attr-defined]


async def runs_to_kick(
    session: AsyncSession, *, redeliver_after_seconds: float, limit: int, postgres: bool
) -> list[int]:
    """Queued runs that are due and were never handed to the broker, or handed over so long ago
    that the message must have been lost. Marks them as kicked now."""
    now = utcnow()
    stale = now - timedelta(seconds=redeliver_after_seconds)
    query = (
        select(Run.id)
        .where(
            Run.status == RunStatus.QUEUED.value,
            Run.not_before <= now,
            Run.cancel_requested.is_(False),
            or_(Run.kicked_at.is_(None), Run.kicked_at < stale),
        )
        .order_by(Run.not_before)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    ids = list((await session.scalars(query)).all())
    if ids:
        await session.execute(
            update(Run).where(Run.id.in_(ids)).values(kicked_at=now).execution_options(synchronize_session=False)
        )
    return ids


async def enqueue_due_schedules(
    session: AsyncSession, *, limit: int, postgres: bool, jitter_fraction: float = 0.1
) -> list[Run]:
    """Create the runs of schedules that are due (one per schedule and due time, never two) and move
    each schedule's next time forward by its interval with a little jitter, so subjects spread out
    instead of firing together after a restart. A schedule whose previous run is still active is
    only moved forward."""
    now = utcnow()
    query = (
        select(Schedule)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    schedules = list((await session.scalars(query)).all())
    if not schedules:
        return []
    previous = [s.last_run_id for s in schedules if s.last_run_id is not None]
    busy: set[int] = set()
    if previous:
        busy = set((await session.scalars(select(Run.id).where(Run.id.in_(previous), Run.status.in_(ACTIVE)))).all())
    created: list[Run] = []
    for schedule in schedules:
        due = schedule.next_run_at
        jitter = random.uniform(0, schedule.interval_seconds * jitter_fraction)
        schedule.next_run_at = max(due + timedelta(seconds=schedule.interval_seconds), now) + timedelta(seconds=jitter)
        if schedule.last_run_id in busy:
            continue
        run = new_run(
            kind=schedule.kind,
            user_id=schedule.user_id,
            subject_id=schedule.subject_id,
            payload=dict(schedule.payload),
            schedule_id=schedule.id,
            dedupe_key=f"schedule:{schedule.id}:{int(due.timestamp())}",
            not_before=due,
        )
        session.add(run)
        created.append(run)
    await session.flush()
    for schedule, run in zip((s for s in schedules if s.last_run_id not in busy), created, strict=True):
        schedule.last_run_id = run.id
    return created


async def ensure_system_schedule(session: AsyncSession, *, kind: str, interval_seconds: int) -> None:
    """Create the owner-less schedule of a platform job if missing; keep its interval up to date."""
    schedule = await session.scalar(
        select(Schedule).where(Schedule.kind == kind, Schedule.subject_id == SYSTEM_SUBJECT_ID)
    )
    if schedule is None:
        session.add(
            Schedule(
                kind=kind,
                user_id=None,
                subject_id=SYSTEM_SUBJECT_ID,
                interval_seconds=interval_seconds,
                next_run_at=utcnow() + timedelta(seconds=interval_seconds),
                enabled=True,
                payload={},
            )
        )
    elif schedule.interval_seconds != interval_seconds:
        schedule.interval_seconds = interval_seconds


async def request_cancel(session: AsyncSession, *, run: Run) -> RunStatus:
    """Cancel a queued run at once; ask a running one to stop. Returns the status it now has."""
    if run.status == RunStatus.QUEUED.value:
        await session.execute(
            update(Run)
            .where(Run.id == run.id, Run.status == RunStatus.QUEUED.value)
            .values(
                status=RunStatus.CANCELLED.value,
                cancel_requested=True,
                finished_at=utcnow(),
                stage="cancelled",
            )
            .execution_options(synchronize_session=False)
        )
        return RunStatus.CANCELLED
    if run.status == RunStatus.RUNNING.value:
        await session.execute(
            update(Run)
            .where(Run.id == run.id)
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        return RunStatus.RUNNING
    return RunStatus(run.status)


async def record_heartbeat(session: AsyncSession, *, heartbeat: WorkerHeartbeat) -> None:
    """Insert or refresh a worker's heartbeat row."""
    existing = await session.get(WorkerHeartbeat, heartbeat.worker_id)
    if existing is None:
        session.add(heartbeat)
        return
    existing.last_seen_at = utcnow()
    existing.running = heartbeat.running


async def remove_heartbeat(session: AsyncSession, *, worker_id: str) -> None:
    await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


async def queue_depth(session: AsyncSession) -> int:
    """Runs waiting to start now."""
    count = await session.scalar(
        select(func.count()).select_from(Run).where(Run.status == RunStatus.QUEUED.value, Run.not_before <= utcnow())
    )
    return int(count or 0)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Run.status, func.count()).group_by(Run.status))
    return {status: int(count) for status, count in rows.all()}
