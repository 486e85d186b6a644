"""A worker's Prometheus endpoint (engine/worker_metrics.py), scraped over real HTTP on loopback: in process on
both backends, and from real `spyglass worker` processes on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import select

from spyglass.config import ConfigurationError, Settings
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.models import WorkerHeartbeat
from spyglass.engine.worker_metrics import WorkerMetricsServer
from tests.conftest import TEST_SECRET, make_settings
from tests.engine.helpers import all_finished, enqueue_probes, statuses, wait_until
from tests.support.servers import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> Samples:
    """Every sample of ``/metrics`` on 127.0.0.1:``port``, keyed by (name, sorted labels)."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name`` over every label set that includes ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= set(found))


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_a_worker_serves_its_gauges_and_the_queue_depth(services: Services) -> None:
    engine = Engine(services, mode="worker", concurrency=7)
    await enqueue_probes(services, 3)  # nobody runs them: this engine is not started
    server = WorkerMetricsServer(services, engine, host="127.0.0.1", port=0)
    await server.start()
    port = server.port
    try:
        before = await scrape(server.port)
        assert value(before, "spyglass_worker_leader") == 0
        assert value(before, "spyglass_worker_concurrency") == 7
        assert value(before, "spyglass_worker_runs_running") == 0
        assert math.isnan(value(before, "spyglass_worker_heartbeat_age_seconds")), "no heartbeat written yet"
        assert engine.runner is not None
        assert value(before, "spyglass_worker_info", worker_id=engine.runner.worker_id, mode="worker") == 1
        # A worker that does not lead reads the queue depth itself (the leader's scheduler sets it every tick).
        assert value(before, "spyglass_queue_depth") == 3

        await engine.runner.start()  # writes the first heartbeat
        try:
            await asyncio.sleep(0.3)
            age = value(await scrape(server.port), "spyglass_worker_heartbeat_age_seconds")
            assert 0.0 <= age < 1.5  # the heartbeat loop beats every 0.2 s in these tests
        finally:
            await engine.runner.stop(grace_seconds=0)
        await asyncio.sleep(0.5)
        stale = value(await scrape(server.port), "spyglass_worker_heartbeat_age_seconds")
        assert stale >= 0.5, "a stopped heartbeat shows as a growing age"
    finally:
        await server.stop()
    assert refused(port)


async def test_a_taken_address_is_a_clear_error_and_leaves_the_registry_clean(services: Services) -> None:
    engine = Engine(services, mode="worker", concurrency=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"cannot serve the worker metrics on 127.0.0.1:{port}"):
            await WorkerMetricsServer(services, engine, host="127.0.0.1", port=port).start()
    # The failed start unregistered its collector: another server on the same registry starts and serves.
    again = WorkerMetricsServer(services, engine, host="127.0.0.1", port=0)
    await again.start()
    try:
        assert value(await scrape(again.port), "spyglass_worker_concurrency") == 2
    finally:
        await again.stop()


# --- real `spyglass worker` processes (PostgreSQL + Redis) ---------------------------------------------------


@pytest.fixture
async def worker_settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    return make_settings(tmp_path, database_url, redis_url=redis_url)


@pytest.fixture
def worker_env(worker_settings: Settings) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SPYGLASS_")}
    env.update(
        {
            "SPYGLASS_DATABASE_URL": worker_settings.resolved_database_url,
            "SPYGLASS_REDIS_URL": worker_settings.redis_url or "",
            "SPYGLASS_DATA_DIR": str(worker_settings.data_dir),
            "SPYGLASS_SECRET_KEY": TEST_SECRET,
            "SPYGLASS_ENGINE_HEARTBEAT_SECONDS": "0.5",
            "SPYGLASS_ENGINE_TICK_SECONDS": "0.2",
            "SPYGLASS_LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test started; stopped (SIGTERM, then SIGKILL) afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`spyglass worker --concurrency 5 ARGS`, its output in ``log``."""
    command = [sys.executable, "-m", "spyglass", "worker", "--concurrency", "5", *args]
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


async def wait_for_metrics(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> Samples:
    """The first scrape that answers, while ``process`` lives."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        assert process.poll() is None, f"the worker exited with code {process.returncode}"
        try:
            return await scrape(port)
        except httpx.HTTPError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.slow
@pytest.mark.backends("postgresql")
async def test_worker_processes_report_runs_leadership_and_heartbeats(
    services: Services, worker_env: dict[str, str], processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port = free_port()
    leader = start_worker({**worker_env, "SPYGLASS_WORKER_METRICS_PORT": str(port)}, tmp_path / "leader.log")
    processes.append(leader)

    async def leads() -> bool:
        return value(await wait_for_metrics(port, leader), "spyglass_worker_leader") == 1

    await wait_until(leads, timeout=60, interval=0.2)
    ids = await enqueue_probes(services, 6, sleep=0.2)
    await wait_until(lambda: all_finished(services, len(ids)), timeout=60, interval=0.2)
    assert await statuses(services) == {"succeeded": 6}

    async def settled() -> bool:
        samples = await scrape(port)
        return value(samples, "spyglass_queue_depth") == 0 and value(samples, "spyglass_worker_runs_running") == 0

    await wait_until(settled, timeout=10, interval=0.2)
    samples = await scrape(port)
    assert total(samples, "spyglass_runs_started_total", kind="engine.probe") == 6
    assert value(samples, "spyglass_runs_finished_total", kind="engine.probe", status="succeeded") == 6
    assert total(samples, "spyglass_runs_finished_total", status="failed") == 0
    assert value(samples, "spyglass_worker_concurrency") == 5
    assert 0 <= value(samples, "spyglass_worker_heartbeat_age_seconds") < 2.0
    async with services.db.session() as session:
        heartbeat = (await session.execute(select(WorkerHeartbeat))).scalar_one()
    assert heartbeat.pid == leader.pid
    assert value(samples, "spyglass_worker_info", worker_id=heartbeat.worker_id, mode="worker") == 1

    # A second worker on the same port stops at once with one clear line; with its own port it follows.
    clash = start_worker(worker_env, tmp_path / "clash.log", "--metrics-port", str(port))
    processes.append(clash)
    assert clash.wait(timeout=60) == 1
    output = (tmp_path / "clash.log").read_text()
    assert f"cannot serve the worker metrics on 127.0.0.1:{port}" in output
    assert "Traceback" not in output
    other_port = free_port()
    follower = start_worker(worker_env, tmp_path / "follower.log", "--metrics-port", str(other_port))
    processes.append(follower)
    follows = await wait_for_metrics(other_port, follower)
    assert value(follows, "spyglass_worker_leader") == 0
    assert value(await scrape(port), "spyglass_worker_leader") == 1

    leader.send_signal(signal.SIGTERM)
    assert leader.wait(timeout=30) == 0
    assert refused(port)
