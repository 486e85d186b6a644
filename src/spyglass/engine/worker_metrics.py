"""Prometheus metrics of a ``spyglass worker`` process.

A worker has no web server, so when ``SPYGLASS_WORKER_METRICS_PORT`` is set (or ``spyglass worker
--metrics-port``) it serves its own registry on ``http://SPYGLASS_WORKER_METRICS_HOST:PORT/metrics`` with
prometheus_client's small threaded HTTP server: the engine's ``spyglass_runs_*`` counters and histograms
(runs claimed, finished by status, retried, durations), ``spyglass_queue_depth``, whatever else the
worker's jobs count (``spyglass_notifications_*``), and the gauges of :class:`WorkerCollector` (leader or
not, heartbeat age, runs running here, slots). A scrape reads memory only: it answers while the database
or Redis is down, which is when it matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from spyglass.config import ConfigurationError
from spyglass.engine import repository

if TYPE_CHECKING:
    from spyglass.core.services import Services
    from spyglass.engine.engine import Engine

logger = logging.getLogger("spyglass.engine.worker_metrics")

#: How often a worker that does not lead reads the queue depth (the leader's scheduler sets it every tick).
QUEUE_DEPTH_REFRESH_SECONDS = 5.0
QUEUE_DEPTH_TIMEOUT_SECONDS = 3.0


class WorkerCollector(Collector):
    """Gauges read from the engine at scrape time."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        runner = self.engine.runner
        yield GaugeMetricFamily(
            "spyglass_worker_leader",
            "1 while this worker holds the scheduler lock (exactly one worker should).",
            value=1 if self.engine.dispatcher.is_leader else 0,
        )
        last = runner.last_heartbeat if runner is not None else None
        yield GaugeMetricFamily(
            "spyglass_worker_heartbeat_age_seconds",
            "Seconds since this worker last wrote its heartbeat and renewed its leases (NaN before the first).",
            value=float("nan") if last is None else max(0.0, self.clock() - last),
        )
        yield GaugeMetricFamily(
            "spyglass_worker_runs_running", "Runs this worker is executing now.", value=runner.running if runner else 0
        )
        yield GaugeMetricFamily(
            "spyglass_worker_concurrency", "Runs this worker may execute at once.", value=self.engine.concurrency
        )
        info = InfoMetricFamily("spyglass_worker", "This worker's id (as in the worker heartbeats and run leases).")
        info.add_metric([], {"worker_id": runner.worker_id if runner else "", "mode": self.engine.mode})
        yield info


class WorkerMetricsServer:
    """The metrics listener of one worker, and the queue-depth refresher for a worker that does not lead.

    ``await start()`` binds (``ConfigurationError`` when the address cannot be used), ``await stop()`` closes it.
    """

    def __init__(self, services: Services, engine: Engine, *, host: str, port: int) -> None:
        self.services = services
        self.engine = engine
        self.host = host
        self.requested_port = port
        self._collector = WorkerCollector(engine)
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._refresher: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        assert self._httpd is not None, "not started"
        return int(self._httpd.server_address[1])

    async def start(self) -> None:
        registry = self.services.metrics.registry
        registry.register(self._collector)
        try:
            self._httpd, self._thread = start_http_server(self.requested_port, addr=self.host, registry=registry)
        except OSError as exc:
            registry.unregister(self._collector)
            raise ConfigurationError(
                f"cannot serve the worker metrics on {self.host}:{self.requested_port}: {exc.strerror or exc} "
                "(SPYGLASS_WORKER_METRICS_HOST / SPYGLASS_WORKER_METRICS_PORT or --metrics-port)"
            ) from exc
        await self.refresh_queue_depth()  # right from the first scrape
        self._refresher = asyncio.create_task(self._refresh_queue_depth(), name="spyglass-worker-queue-depth")
        logger.info("worker metrics listening", extra={"address": f"http://{self.host}:{self.port}/metrics"})

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._httpd is not None:
            httpd, self._httpd = self._httpd, None
            await asyncio.to_thread(httpd.shutdown)  # waits for serve_forever's loop (polls every 0.5 s)
            httpd.server_close()
            self.services.metrics.registry.unregister(self._collector)

    async def refresh_queue_depth(self) -> None:
        """Read the queue depth into ``spyglass_queue_depth`` unless this worker leads (its scheduler does)."""
        if self.engine.dispatcher.is_leader:
            return
        try:
            async with asyncio.timeout(QUEUE_DEPTH_TIMEOUT_SECONDS):
                async with self.services.db.session() as session:
                    depth = await repository.queue_depth(session)
            self.services.engine_metrics.queue_depth.set(depth)
        except Exception as exc:  # the database is away: keep the last value, try again later
            logger.debug("queue depth not refreshed", extra={"error": type(exc).__name__})

    async def _refresh_queue_depth(self) -> None:
        while True:
            await asyncio.sleep(QUEUE_DEPTH_REFRESH_SECONDS)
            await self.refresh_queue_depth()


__all__ = ["WorkerCollector", "WorkerMetricsServer"]
