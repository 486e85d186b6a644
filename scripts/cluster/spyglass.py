"""Start ``spyglass web`` and ``spyglass worker`` processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from scripts.cluster.processes import Child, Supervisor, wait_for_http

#: A fixed secret shared by every process of the cluster (sessions and CSRF tokens must verify anywhere).
CLUSTER_SECRET = "cluster-test-secret-0123456789-abcdefghijklmnop"


def spyglass_env(database_url: str, redis_url: str, data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a cluster process: the shared services, quick engine timings, and ``settings``
    as ``SPYGLASS_<NAME>`` variables (``rate_limit_api="20/minute"`` → ``SPYGLASS_RATE_LIMIT_API``)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SPYGLASS_")}
    env.update(
        {
            "SPYGLASS_ENVIRONMENT": "development",
            "SPYGLASS_DATABASE_URL": database_url,
            "SPYGLASS_REDIS_URL": redis_url,
            "SPYGLASS_DATA_DIR": str(data_dir),
            "SPYGLASS_SECRET_KEY": CLUSTER_SECRET,
            "SPYGLASS_LOG_LEVEL": "WARNING",
            "SPYGLASS_ENGINE_LEASE_SECONDS": "5",
            "SPYGLASS_ENGINE_HEARTBEAT_SECONDS": "0.5",
            "SPYGLASS_ENGINE_TICK_SECONDS": "0.2",
            "SPYGLASS_ENGINE_REDELIVER_AFTER_SECONDS": "20",
        }
    )
    for name, value in settings.items():
        env[f"SPYGLASS_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def launch_web(supervisor: Supervisor, name: str, port: int, env: dict[str, str], processes: int = 1) -> Child:
    """Start ``spyglass web`` on 127.0.0.1:``port`` without waiting for it (see ``wait_for_web``)."""
    command = [sys.executable, "-m", "spyglass", "web", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(processes)]
    return supervisor.start(name, command, env)


def wait_for_web(child: Child, port: int, timeout: float = 120.0) -> None:
    """Wait until the web process answers ``/health``; the error carries the end of its log."""
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=timeout, process=child.process)
    except RuntimeError as exc:
        raise RuntimeError(f"{child.name} did not start: {exc}\n{child.tail()}") from exc


def start_web(supervisor: Supervisor, name: str, port: int, env: dict[str, str], processes: int = 1) -> Child:
    """``spyglass web`` on 127.0.0.1:``port``; returns once ``/health`` answers."""
    child = launch_web(supervisor, name, port, env, processes)
    wait_for_web(child, port)
    return child


def start_worker(
    supervisor: Supervisor, name: str, env: dict[str, str], concurrency: int = 20, metrics_port: int | None = None
) -> Child:
    """``spyglass worker`` (runs jobs; the one holding the scheduler lock also schedules), serving its Prometheus
    metrics on 127.0.0.1:``metrics_port`` when given."""
    command = [sys.executable, "-m", "spyglass", "worker", "--concurrency", str(concurrency)]
    if metrics_port is not None:
        command += ["--metrics-port", str(metrics_port)]
    return supervisor.start(name, command, env)
