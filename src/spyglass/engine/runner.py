"""Executes runs inside a worker: claim, run the handler under its time limit, renew the lease,
stop on cancellation, then record success, a retry or a failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.engine import repository
from spyglass.engine.context import RunContext
from spyglass.engine.kinds import (
    JobKind,
    PermanentError,
    TransientError,
    UnknownKind,
    forget_run_views,
    get_kind,
)
from spyglass.engine.models import Run, RunStatus, WorkerHeartbeat

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.engine.runner")

#: How many times the runner's own writes (claim, retry, finish) are tried when the database refuses them
#: (locked, restarting): 0.5 + 1 + 1.5 + 2 s of waiting in all, about a PostgreSQL restart.
DB_ATTEMPTS = 5

T = TypeVar("T")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runner:
    """Runs up to ``concurrency`` runs at once in this event loop and keeps their leases alive."""

    def __init__(
        self,
        services: Services,
        *,
        concurrency: int,
        mode: str,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float = 1.0,
        worker_id: str | None = None,
        on_delivery_done: Callable[[], None] | None = None,
    ) -> None:
        self.services = services
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency
        self.mode = mode
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._active: dict[int, tuple[asyncio.Task[Any], RunContext]] = {}
        # Latest progress per run, written to the rows by the next heartbeat (one statement for all runs).
        self._progress_pending: dict[int, tuple[int, str]] = {}
        self._heartbeat_task: asyncio.Task[None] | None = None
        #: ``time.monotonic()`` of the last heartbeat written (None before the first), for the worker's metrics.
        self.last_heartbeat: float | None = None
        self.metrics = services.engine_metrics
        self._on_delivery_done = on_delivery_done

    @property
    def running(self) -> int:
        return len(self._active)

    async def start(self) -> None:
        await self._beat()
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(), name="spyglass-worker-heartbeat")

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Let running runs finish for ``grace_seconds``; the rest are left to the reaper."""
        if self._active:
            await asyncio.wait([task for task, _ in self._active.values()], timeout=grace_seconds)
        for task, _ in list(self._active.values()):
            task.cancel()
        if self._heartbeat_task:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        with contextlib.suppress(Exception):
            async with self.services.db.session(write=True) as session:
                await repository.remove_heartbeat(session, worker_id=self.worker_id)

    async def execute(self, run_id: int) -> None:
        """Execute one delivered run id; a duplicate delivery or a cancelled run is a no-op."""
        try:
            async with self._slots:
                run = await self._claim(run_id)
                if run is None:
                    return
                await forget_run_views(self.services, run.kind, run.user_id)  # now "running"
                await self._execute_claimed(run)
        finally:
            if self._on_delivery_done is not None:
                self._on_delivery_done()

    async def _claim(self, run_id: int) -> Run | None:
        """Claim a delivered run, or None (claimed elsewhere, finished, or the database stayed unavailable:
        the delivery is then left to the redelivery sweep)."""

        async def claim(session: AsyncSession) -> Run | None:
            return await repository.claim_run(
                session, run_id=run_id, worker_id=self.worker_id, lease_seconds=self.lease_seconds
            )

        try:
            return await self._write(claim)
        except DBAPIError as exc:
            logger.warning(
                "claiming a run failed; it will be delivered again",
                extra={"run_id": run_id, "error": str(exc.orig)[:200]},
            )
            return None

    async def _write(self, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``action`` in a write transaction, tried again a few times at once when the database refuses it
        (SQLite's write lock busy past its timeout, a PostgreSQL restart): a claim or a result dropped here would
        wait for the redelivery sweep or the lease reaper (minutes)."""
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                async with self.services.db.session(write=True) as session:
                    return await action(session)
            except DBAPIError:
                if attempt == DB_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    async def _execute_claimed(self, run: Run) -> None:
        self.metrics.observe_start(run)
        try:
            kind = get_kind(run.kind)
        except UnknownKind as exc:
            await self._finish(run, RunStatus.FAILED, error=str(exc))
            return
        ctx = RunContext(
            run_id=run.id,
            kind=run.kind,
            attempt=run.attempt,
            user_id=run.user_id,
            subject_id=run.subject_id,
            payload=dict(run.payload),
            services=self.services,
            runner=self,
        )
        task = asyncio.create_task(self._call(kind, ctx), name=f"spyglass-run-{run.id}")
        self._active[run.id] = (task, ctx)
        started = time.monotonic()
        try:
            stats = await task
        except asyncio.CancelledError:
            if ctx.cancelled.is_set():
                await self._finish(run, RunStatus.CANCELLED, stats=ctx.stats, error="Cancelled by request.")
            # otherwise the lease was lost or the worker is stopping: the reaper re-queues it
        except TransientError as exc:
            await self._retry_or_fail(run, kind, str(exc), exc.retry_after, ctx)
        except TimeoutError:
            message = f"Took longer than the {kind.timeout_seconds:g} s limit."
            await self._retry_or_fail(run, kind, message, None, ctx)
        except PermanentError as exc:
            await self._finish(run, RunStatus.FAILED, stats=ctx.stats, error=str(exc))
        except Exception as exc:
            logger.exception("run failed", extra={"run_id": run.id, "kind": run.kind})
            await self._retry_or_fail(run, kind, f"{type(exc).__name__}: {exc}", None, ctx)
        else:
            await self._finish(run, RunStatus.SUCCEEDED, stats={**ctx.stats, **(stats or {})})
        finally:
            self._active.pop(run.id, None)
            self._progress_pending.pop(run.id, None)
            self.metrics.observe_duration(run.kind, time.monotonic() - started)

    @staticmethod
    async def _call(kind: JobKind, ctx: RunContext) -> dict[str, Any] | None:
        async with asyncio.timeout(kind.timeout_seconds):
            return await kind.handler(ctx)

    async def _retry_or_fail(
        self, run: Run, kind: JobKind, error: str, retry_after: float | None, ctx: RunContext
    ) -> None:
        attempts = min(run.max_attempts, kind.retry.max_attempts)
        if run.attempt >= attempts:
            await self._finish(run, RunStatus.FAILED, stats=ctx.stats, error=f"{error} (after {run.attempt} attempts)")
            return
        delay = kind.retry.delay(run.attempt, retry_after)

        async def retry(session: AsyncSession) -> None:
            await repository.retry_run(
                session, run_id=run.id, worker_id=self.worker_id, delay_seconds=delay, error=error
            )

        await self._write(retry)
        await forget_run_views(self.services, run.kind, run.user_id)
        self.metrics.retried.labels(run.kind).inc()
        await self.services.run_events.publish(run.id, {"status": "queued", "stage": f"retrying in {round(delay)} s"})

    async def _finish(
        self, run: Run, status: RunStatus, *, stats: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        async def finish(session: AsyncSession) -> bool:
            return await repository.finish_run(
                session, run_id=run.id, worker_id=self.worker_id, status=status, stats=stats, error=error
            )

        done = await self._write(finish)
        if done:
            await forget_run_views(self.services, run.kind, run.user_id)
            self.metrics.observe_finish(run.kind, status)
            await self.services.run_events.publish(
                run.id, {"status": status.value, "progress": 100 if status == RunStatus.SUCCEEDED else None}
            )

    async def report_progress(self, ctx: RunContext, percent: int, stage: str) -> None:
        """Publish progress at once; the next heartbeat writes the latest value to the run row."""
        await self.services.run_events.publish(ctx.run_id, {"status": "running", "progress": percent, "stage": stage})
        if ctx.run_id in self._active:
            self._progress_pending[ctx.run_id] = (percent, stage)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self._beat()
            except Exception:
                logger.exception("worker heartbeat failed; retrying", extra={"worker_id": self.worker_id})

    async def _beat(self) -> None:
        """Write pending progress, renew leases, stop runs that were cancelled or lost, and refresh this
        worker's heartbeat row, in one transaction whatever the number of runs."""
        run_ids = list(self._active)
        progress, self._progress_pending = self._progress_pending, {}
        async with self.services.db.session(write=True) as session:
            await repository.write_progress(session, worker_id=self.worker_id, progress=progress)
            states = await repository.extend_leases(
                session, worker_id=self.worker_id, run_ids=run_ids, lease_seconds=self.lease_seconds
            )
            await repository.record_heartbeat(
                session,
                heartbeat=WorkerHeartbeat(
                    worker_id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    mode=self.mode,
                    concurrency=self.concurrency,
                    running=len(run_ids),
                ),
            )
        self.last_heartbeat = time.monotonic()
        for run_id, state in states.items():
            entry = self._active.get(run_id)
            if entry is None:
                continue
            task, ctx = entry
            if state.cancel_requested and state.owned:
                ctx.cancelled.set()
                task.cancel()
            elif not state.owned:
                logger.warning("lease lost; stopping run", extra={"run_id": run_id})
                task.cancel()
