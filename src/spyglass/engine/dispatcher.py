"""The scheduler: on the leader only, every tick it re-queues runs of dead workers, creates the runs
of due schedules, and hands queued runs to the broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from spyglass.engine import repository
from spyglass.engine.kinds import SYSTEM_SCHEDULES
from spyglass.engine.leadership import AdvisoryLockLeadership, Leadership, SoleLeadership

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.engine.dispatcher")
Kick = Callable[[int], Awaitable[None]]
KICK_CONCURRENCY = 50


def leadership_for(services: Services) -> Leadership:
    if services.db.backend == "postgresql":
        return AdvisoryLockLeadership(services.db.engine)
    return SoleLeadership()


class Dispatcher:
    """Runs the scheduling loop while this process holds the leadership."""

    def __init__(
        self,
        services: Services,
        kick: Kick,
        *,
        tick_seconds: float,
        batch_size: int,
        redeliver_after_seconds: float,
        leadership: Leadership | None = None,
        capacity: Callable[[], int] | None = None,
    ) -> None:
        self.services = services
        self.kick = kick
        self.tick_seconds = tick_seconds
        self.batch_size = batch_size
        self.redeliver_after_seconds = redeliver_after_seconds
        self.leadership = leadership or leadership_for(services)
        self.capacity = capacity
        self.is_leader = False
        self.behind = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._postgres = services.db.backend == "postgresql"

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="spyglass-dispatcher")

    def wake(self) -> None:
        """Tick now instead of waiting (after a run was enqueued in this process)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.leadership.release()
        self.is_leader = False

    async def _loop(self) -> None:
        system_schedules_saved = False
        while True:
            try:
                self.is_leader = await self.leadership.is_leader()
                if self.is_leader:
                    if not system_schedules_saved:
                        await self.save_system_schedules()
                        system_schedules_saved = True
                    await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduler tick failed; trying again")
            self._wake.clear()
            if self.is_leader and self.behind:
                continue  # due work is left over: next pass at once, not a tick later
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_seconds):
                    await self._wake.wait()

    async def save_system_schedules(self) -> None:
        """Make sure every registered platform job has its schedule (first run one interval from now)."""
        async with self.services.db.session(write=True) as session:
            for kind, interval in SYSTEM_SCHEDULES.items():
                await repository.ensure_system_schedule(session, kind=kind, interval_seconds=interval)

    async def tick(self) -> int:
        """One scheduling pass; returns how many runs were handed to the broker."""
        db = self.services.db
        async with db.session(write=True) as session:
            requeued, failed = await repository.reap_expired_leases(session)
        if requeued or failed:
            logger.warning("re-queued runs of stopped workers", extra={"requeued": requeued, "failed": failed})
        deadline = time.monotonic() + max(self.tick_seconds, 0.5)
        self.behind = False
        while time.monotonic() < deadline:
            async with db.session(write=True) as session:
                created = await repository.enqueue_due_schedules(
                    session, limit=self.batch_size, postgres=self._postgres
                )
            if len(created) < self.batch_size:
                break
            self.behind = time.monotonic() >= deadline
        kicked = 0
        while True:
            # In-process workers take only what they can start soon; a broker queue holds the rest.
            limit = min(self.batch_size, self.capacity()) if self.capacity else self.batch_size
            if limit <= 0:
                break
            async with db.session(write=True) as session:
                ids = await repository.runs_to_kick(
                    session,
                    redeliver_after_seconds=self.redeliver_after_seconds,
                    limit=limit,
                    postgres=self._postgres,
                )
            await self.kick_all(ids)
            kicked += len(ids)
            if len(ids) < limit:
                break
            if time.monotonic() > deadline:
                self.behind = True
                break
        async with db.session() as session:
            self.services.engine_metrics.queue_depth.set(await repository.queue_depth(session))
        return kicked

    async def kick_all(self, run_ids: list[int]) -> None:
        """Hand runs to the broker, ``KICK_CONCURRENCY`` at a time: one by one, every round trip to
        Redis would wait for its turn in an event loop that also executes up to N runs."""
        for start in range(0, len(run_ids), KICK_CONCURRENCY):
            await asyncio.gather(*(self.kick(run_id) for run_id in run_ids[start : start + KICK_CONCURRENCY]))
