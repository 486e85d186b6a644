"""Runs over HTTP: status and cancel in the JSON API, a live run page with progress streamed over
server-sent events, and the admin's engine page (queue, workers, failed runs, re-queue, cancel)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_admin, require_user
from spyglass.audit.service import record
from spyglass.core.db import utcnow
from spyglass.core.errors import Conflict
from spyglass.core.pagination import PageRequest, paginate
from spyglass.core.services import Services
from spyglass.engine import repository, service
from spyglass.engine.kinds import forget_run_views
from spyglass.engine.models import Run, RunStatus, WorkerHeartbeat
from spyglass.web.templating import flash

SSE_POLL_SECONDS = 2.0
WORKER_STALE_SECONDS = 15


def run_to_dict(run: Run) -> dict[str, Any]:
    """The public JSON shape of a run."""
    return {
        "id": run.id,
        "kind": run.kind,
        "subject_id": run.subject_id,
        "status": run.status,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "progress": run.progress,
        "stage": run.stage,
        "stats": run.stats,
        "error": run.error,
        "cancel_requested": run.cancel_requested,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@get("/api/v1/runs", guards=[require_user], summary="List your runs")
async def list_runs(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    page: int | None = None,
    size: int | None = None,
    status: RunStatus | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Your runs, newest first, optionally filtered by status and kind."""
    statement = select(Run).where(Run.user_id == me.id).order_by(Run.created_at.desc(), Run.id.desc())
    if status is not None:
        statement = statement.where(Run.status == status.value)
    if kind:
        statement = statement.where(Run.kind == kind[:64])
    settings = services.settings
    request = PageRequest.from_query(
        page, size, default_size=settings.default_page_size, max_size=settings.max_page_size
    )
    result = await paginate(db, statement, request)
    return result.to_dict([run_to_dict(run) for run in result.items])


@get("/api/v1/runs/{run_id:int}", guards=[require_user], summary="A run's status")
async def get_run(db: AsyncSession, me: CurrentUser, run_id: int) -> dict[str, Any]:
    """Status, progress, stage and statistics of one of your runs."""
    run = await service.get_run_for_user(db, run_id=run_id, user_id=me.id, is_admin=me.is_admin)
    return run_to_dict(run)


@post("/api/v1/runs/{run_id:int}/cancel", guards=[require_user], opt={"rate_limit": "bot_controls"}, status_code=202)
async def cancel_run_api(db: AsyncSession, me: CurrentUser, run_id: int) -> dict[str, Any]:
    """Cancel a queued run, or ask a running one to stop (within about 2 s)."""
    status = await service.cancel_run(db, run_id=run_id, user_id=me.id, is_admin=me.is_admin)
    return {"id": run_id, "status": status.value}


@get("/runs/{run_id:int}", guards=[require_user], include_in_schema=False)
async def run_page(db: AsyncSession, me: CurrentUser, run_id: int) -> Template:
    """The live page of a run: progress and stage update as they happen."""
    run = await service.get_run_for_user(db, run_id=run_id, user_id=me.id, is_admin=me.is_admin)
    return Template("engine/run.html", context={"run": run})


@post("/runs/{run_id:int}/cancel", guards=[require_user], opt={"rate_limit": "bot_controls"}, include_in_schema=False)
async def cancel_run_page(request: Request[Any, Any, Any], db: AsyncSession, me: CurrentUser, run_id: int) -> Redirect:
    status = await service.cancel_run(db, run_id=run_id, user_id=me.id, is_admin=me.is_admin)
    flash(request, "Run cancelled." if status == RunStatus.CANCELLED else "Stopping the run…", "success")
    return Redirect(f"/runs/{run_id}")


@get("/runs/{run_id:int}/events", guards=[require_user], include_in_schema=False)
async def run_events(services: Services, me: CurrentUser, run_id: int) -> ServerSentEvent:
    """Server-sent events: the run's current state, then every change until it finishes."""
    async with services.db.session() as session:
        run = await service.get_run_for_user(session, run_id=run_id, user_id=me.id, is_admin=me.is_admin)
        snapshot = run_to_dict(run)
    return ServerSentEvent(_event_stream(services, run_id, snapshot))


async def _event_stream(services: Services, run_id: int, snapshot: dict[str, Any]) -> AsyncIterator[Any]:
    yield ServerSentEventMessage(data=json.dumps(snapshot), event="run")
    if RunStatus(snapshot["status"]).is_terminal:
        return
    events = services.run_events.subscribe(run_id).__aiter__()
    # The next event is awaited in a task that outlives each poll: cancelling the subscription's own __anext__ on a
    # timeout would close it, and the next call would end the stream with StopAsyncIteration.
    next_event: asyncio.Future[Any] | None = None
    try:
        while True:
            if next_event is None:
                next_event = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({next_event}, timeout=SSE_POLL_SECONDS)
            if done:
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    break
                next_event = None
                yield ServerSentEventMessage(data=json.dumps(event), event="progress")
                if event.get("status") in {s.value for s in RunStatus if s.is_terminal}:
                    break
            else:
                # Events are best effort; the row is the truth, so re-read it every few seconds.
                async with services.db.session() as session:
                    run = await session.get(Run, run_id)
                if run is None:
                    break
                yield ServerSentEventMessage(data=json.dumps(run_to_dict(run)), event="run")
                if RunStatus(run.status).is_terminal:
                    break
    finally:
        if next_event is not None and not next_event.done():
            next_event.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_event
        await events.aclose()  # type: ignore[attr-defined]


@get("/admin/engine", guards=[require_admin], include_in_schema=False)
async def engine_admin(db: AsyncSession) -> Template:
    """Queue depth, runs by status, live workers, running and failed runs."""
    return Template("engine/admin.html", context={"section": "engine", **await _engine_overview(db)})


@get("/api/v1/admin/engine", guards=[require_admin], summary="Job engine overview (admins)")
async def engine_admin_api(db: AsyncSession) -> dict[str, Any]:
    overview = await _engine_overview(db)
    return {
        "queue_depth": overview["queue_depth"],
        "by_status": overview["by_status"],
        "workers": [
            {
                "worker_id": w.worker_id,
                "hostname": w.hostname,
                "pid": w.pid,
                "mode": w.mode,
                "concurrency": w.concurrency,
                "running": w.running,
                "last_seen_at": w.last_seen_at.isoformat(),
                "alive": w.alive,
            }
            for w in overview["workers"]
        ],
        "failed": [run_to_dict(run) for run in overview["failed"]],
    }


async def _engine_overview(db: AsyncSession) -> dict[str, Any]:
    stale_before = utcnow() - timedelta(seconds=WORKER_STALE_SECONDS)
    workers = list((await db.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.started_at))).all())
    for worker in workers:
        worker.alive = worker.last_seen_at >= stale_before  # type: ignore[attr-defined]
    running = (
        await db.scalars(select(Run).where(Run.status == RunStatus.RUNNING.value).order_by(Run.started_at).limit(50))
    ).all()
    failed = (
        await db.scalars(
            select(Run).where(Run.status == RunStatus.FAILED.value).order_by(Run.finished_at.desc()).limit(50)
        )
    ).all()
    return {
        "queue_depth": await repository.queue_depth(db),
        "by_status": await repository.count_by_status(db),
        "workers": workers,
        "running": list(running),
        "failed": list(failed),
    }


async def _forget_owner_views(db: AsyncSession, services: Services, run_id: int) -> None:
    """An admin changed a user's run: that user's cached pages showing it are stale (core/view_cache.py)."""
    row = (await db.execute(select(Run.kind, Run.user_id).where(Run.id == run_id))).first()
    if row is not None:
        await forget_run_views(services, row.kind, row.user_id)


@post("/admin/engine/runs/{run_id:int}/requeue", guards=[require_admin], include_in_schema=False)
async def requeue_run(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, run_id: int
) -> Redirect:
    """Give a failed or cancelled run a fresh set of attempts."""
    result = await db.execute(
        update(Run)
        .where(Run.id == run_id, Run.status.in_([RunStatus.FAILED.value, RunStatus.CANCELLED.value]))
        .values(
            status=RunStatus.QUEUED.value,
            attempt=0,
            cancel_requested=False,
            kicked_at=None,
            not_before=utcnow(),
            finished_at=None,
            stage="re-queued by an admin",
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict("Only failed or cancelled runs can be re-queued.")
    record(db, "admin.run_requeued", actor_id=me.id, connection=request, details={"run_id": run_id})
    await _forget_owner_views(db, services, run_id)
    flash(request, f"Run {run_id} re-queued.", "success")
    return Redirect("/admin/engine")


@post("/admin/engine/runs/{run_id:int}/cancel", guards=[require_admin], include_in_schema=False)
async def admin_cancel_run(
    request: Request[Any, Any, Any], db: AsyncSession, services: Services, me: CurrentUser, run_id: int
) -> Redirect:
    status = await service.cancel_run(db, run_id=run_id, user_id=me.id, is_admin=True)
    record(db, "admin.run_cancelled", actor_id=me.id, connection=request, details={"run_id": run_id})
    await _forget_owner_views(db, services, run_id)
    flash(request, f"Run {run_id}: {'cancelled' if status == RunStatus.CANCELLED else 'stopping'}.", "success")
    return Redirect("/admin/engine")


ROUTES = [
    list_runs,
    get_run,
    cancel_run_api,
    run_page,
    cancel_run_page,
    run_events,
    engine_admin,
    engine_admin_api,
    requeue_run,
    admin_cancel_run,
]
