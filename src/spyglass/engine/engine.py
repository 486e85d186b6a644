"""The engine of one process: a Taskiq broker that delivers run ids, the runner that executes them,
and the dispatcher (scheduler) that hands queued runs to the broker while this process leads.

- embedded (``spyglass serve``): Taskiq's in-process broker; runner and dispatcher in the web process.
- worker (``spyglass worker``): Taskiq's Redis Streams broker, acknowledged after execution; every
  worker is also a scheduler candidate, and the one holding the advisory lock dispatches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from spyglass.engine.dispatcher import Dispatcher
from spyglass.engine.runner import Runner

if TYPE_CHECKING:
    from spyglass.core.services import Services

logger = logging.getLogger("spyglass.engine")
TASK_NAME = "spyglass.execute_run"
STREAM_NAME = "spyglass:runs"
CONSUMER_GROUP = "spyglass-workers"
XREAD_COUNT = 10

#: Loops a feature keeps alive for as long as an engine that executes runs (embedded or worker) is up
#: (``name → loop(services)``), for work that must react at once rather than at the next scheduled run (e.g.
#: the notification outbox). With several workers every one runs them: the loop must share its work safely.
_RESIDENT_LOOPS: dict[str, Callable[[Services], Awaitable[None]]] = {}


def register_resident_loop(name: str, loop: Callable[[Services], Awaitable[None]]) -> None:
    """Run ``loop(services)`` in every embedded and worker engine from start to stop (it is cancelled at
    stop; if it returns or raises it is started again after a short pause)."""
    _RESIDENT_LOOPS[name] = loop


Mode = Literal["embedded", "worker", "scheduler"]


async def execute_run(run_id: int, context: Context = TaskiqDepends()) -> None:
    """The only Taskiq task: execute the run with this id (the database row says what to do)."""
    runner: Runner = context.state.runner
    await runner.execute(run_id)


def build_broker(services: Services, *, mode: Mode, concurrency: int) -> AsyncBroker:
    """In-process broker for the embedded mode, Redis Streams when Redis is configured."""
    settings = services.settings
    broker: AsyncBroker
    if mode == "embedded" or not settings.redis_url:
        broker = InMemoryBroker(max_async_tasks=concurrency)
    else:
        from taskiq_redis import RedisStreamBroker

        broker = RedisStreamBroker(
            settings.redis_url,
            queue_name=STREAM_NAME,
            consumer_group_name=CONSUMER_GROUP,
            consumer_id="0",
            idle_timeout=int(settings.engine_lease_seconds * 4 * 1000),
            unacknowledged_lock_timeout=settings.engine_lease_seconds,
            xread_block=1000,
            # Messages a read takes are this consumer's until acknowledged (or auto-claimed much later):
            # take a few at a time so an idle worker is not left waiting behind a busy one.
            xread_count=XREAD_COUNT,
        )
    broker.register_task(execute_run, task_name=TASK_NAME)
    return broker


class Engine:
    """Starts and stops the engine parts this process runs."""

    def __init__(self, services: Services, *, mode: Mode, concurrency: int | None = None) -> None:
        settings = services.settings
        self.services = services
        self.mode = mode
        self.concurrency = concurrency or settings.worker_concurrency
        self.broker = build_broker(services, mode=mode, concurrency=self.concurrency)
        self.runner: Runner | None = None
        if mode in ("embedded", "worker"):
            self.runner = Runner(
                services,
                concurrency=self.concurrency,
                mode=mode,
                lease_seconds=settings.engine_lease_seconds,
                heartbeat_seconds=settings.engine_heartbeat_seconds,
                on_delivery_done=self._delivery_done,
            )
            self.broker.state.runner = self.runner
        self.dispatcher = Dispatcher(
            services,
            self.kick,
            tick_seconds=settings.engine_tick_seconds,
            batch_size=settings.engine_batch_size,
            redeliver_after_seconds=settings.engine_redeliver_after_seconds,
            capacity=self._free_capacity if mode == "embedded" else None,
        )
        self._receiver_task: asyncio.Task[None] | None = None
        self._resident_tasks: list[asyncio.Task[None]] = []
        self._executing: set[asyncio.Task[None]] = set()
        self._in_flight = 0

    def _delivery_done(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)

    def _free_capacity(self) -> int:
        return max(0, self.concurrency * 2 - self._in_flight)

    async def kick(self, run_id: int) -> None:
        """Hand a run id to the broker."""
        if self.mode == "embedded":
            self._in_flight += 1
        task = self.broker.find_task(TASK_NAME)
        assert task is not None
        await task.kiq(run_id)

    async def start(self) -> None:
        await self.broker.startup()
        if self.runner is not None:
            await self.runner.start()
            if self.mode != "embedded":
                self._receiver_task = asyncio.create_task(self._receive(), name="spyglass-receiver")
        self.dispatcher.start()
        if self.runner is not None:
            self._resident_tasks = [
                asyncio.create_task(self._keep_alive(name, loop), name=f"spyglass-resident-{name}")
                for name, loop in _RESIDENT_LOOPS.items()
            ]
        logger.info("engine started", extra={"mode": self.mode, "concurrency": self.concurrency})

    async def _receive(self) -> None:
        """Take messages off the stream and execute each in its own task (acknowledged after execution),
        at most ``concurrency`` at once. Taskiq's ``Receiver.listen`` hands over one message per few
        event-loop turns: with runs busy in the same loop it delivered ~80 messages/s (this loop ~850/s),
        and workers sat at 7-10 running runs out of 100. It takes a whole XREADGROUP batch in one turn
        and uses the receiver only to execute a message (parsing, dependencies, ack after execution)."""
        receiver = Receiver(
            self.broker,
            max_async_tasks=self.concurrency,
            ack_type=AcknowledgeType.WHEN_EXECUTED,
            run_startup=False,
            propagate_exceptions=False,
        )
        slots = asyncio.Semaphore(self.concurrency)

        def done(task: asyncio.Task[None]) -> None:
            self._executing.discard(task)
            slots.release()

        async for message in self.broker.listen():
            await slots.acquire()
            task = asyncio.create_task(receiver.callback(message))
            self._executing.add(task)
            task.add_done_callback(done)

    async def _keep_alive(self, name: str, loop: Callable[[Services], Awaitable[None]]) -> None:
        while True:
            try:
                await loop(self.services)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("resident loop failed; restarting", extra={"loop": name})
            await asyncio.sleep(1.0)

    def wake(self) -> None:
        self.dispatcher.wake()

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        for task in self._resident_tasks:
            task.cancel()
        for task in self._resident_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._resident_tasks = []
        await self.dispatcher.stop()
        if self._receiver_task is not None:
            self._receiver_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._receiver_task
        if self.runner is not None:
            await self.runner.stop(grace_seconds=grace_seconds)
        if self._executing:  # let stopped runs' messages settle (acknowledged or left pending) before closing
            await asyncio.wait(self._executing, timeout=5)
        with contextlib.suppress(Exception):
            await self.broker.shutdown()
        logger.info("engine stopped", extra={"mode": self.mode})


__all__ = ["Engine", "build_broker", "execute_run", "register_resident_loop"]
