"""The distributed worker process (``spyglass worker``): consumes run ids from Redis Streams, runs up
to N of them at once, stands as a scheduler candidate and, when a metrics port is set, serves its
Prometheus metrics (``engine/worker_metrics.py``). SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

import spyglass.jobs  # noqa: F401 - registers every feature's job kinds
from spyglass.config import ConfigurationError, Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.worker_metrics import WorkerMetricsServer

logger = logging.getLogger("spyglass.engine.worker")


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    grace_seconds: float = 20.0,
    metrics_port: int | None = None,
) -> None:
    """Run a worker until SIGTERM or SIGINT; running runs get ``grace_seconds`` to finish.

    ``metrics_port`` (default ``SPYGLASS_WORKER_METRICS_PORT``; unset: no listener) serves ``/metrics`` on
    ``SPYGLASS_WORKER_METRICS_HOST``."""
    if not settings.redis_url:
        raise ConfigurationError(
            "spyglass worker needs SPYGLASS_REDIS_URL (the broker of the distributed mode); "
            "in the embedded mode `spyglass serve` runs the worker inside the web process."
        )
    services = Services.build(settings)
    engine = Engine(services, mode="worker", concurrency=concurrency)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    port = metrics_port if metrics_port is not None else settings.worker_metrics_port
    exporter = WorkerMetricsServer(services, engine, host=settings.worker_metrics_host, port=port) if port else None
    try:
        if exporter is not None:
            await exporter.start()  # before the engine: a port already taken stops the worker before it takes work
        await engine.start()
        logger.info("worker ready", extra={"worker_id": engine.runner.worker_id if engine.runner else None})
        try:
            await stop.wait()
        finally:
            logger.info("worker stopping")
            await engine.stop(grace_seconds=grace_seconds)
    finally:
        if exporter is not None:
            await exporter.stop()
        await services.close()
