"""The distributed mode for real: PostgreSQL, Redis Streams and two `spyglass worker` processes.

A worker is SIGKILLed in the middle of runs and the scheduler leader is killed; every run must still
complete exactly once (one final state, side effects not duplicated) and nothing is scheduled twice.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text

from spyglass.config import Settings
from spyglass.core.services import Services
from spyglass.engine import service
from spyglass.engine.leadership import SCHEDULER_LOCK_KEY
from spyglass.engine.models import Run, RunStatus
from spyglass.engine.probe import PROBE_KIND
from tests.conftest import TEST_SECRET, make_settings
from tests.engine.helpers import all_finished, enqueue_probes, executions, statuses, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.backends("postgresql")]


@pytest.fixture
async def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:  # type: ignore[override]
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    return make_settings(tmp_path, database_url, redis_url=redis_url, engine_lease_seconds=5)


class Workers:
    """`spyglass worker` processes started with the test's settings."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.env = {
            **os.environ,
            "SPYGLASS_DATABASE_URL": settings.resolved_database_url,
            "SPYGLASS_REDIS_URL": settings.redis_url or "",
            "SPYGLASS_DATA_DIR": str(settings.data_dir),
            "SPYGLASS_SECRET_KEY": TEST_SECRET,
            "SPYGLASS_ENGINE_LEASE_SECONDS": "5",
            "SPYGLASS_ENGINE_HEARTBEAT_SECONDS": "0.5",
            "SPYGLASS_ENGINE_TICK_SECONDS": "0.2",
            "SPYGLASS_ENGINE_REDELIVER_AFTER_SECONDS": "20",
            "SPYGLASS_LOG_LEVEL": "WARNING",
        }
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 50) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "spyglass", "worker", "--concurrency", str(concurrency)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(settings, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


async def runs_leased_by(services: Services, pid: int) -> list[int]:
    async with services.db.session() as session:
        owners = await session.execute(select(Run.id, Run.lease_owner).where(Run.status == RunStatus.RUNNING.value))
        return [run_id for run_id, owner in owners.all() if owner and f":{pid}:" in owner]


async def scheduler_leader_pid(services: Services) -> int | None:
    """The pid of the worker process whose connection holds the scheduler's advisory lock."""
    async with services.db.session() as session:
        name = await session.scalar(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key"
            ),
            {"key": SCHEDULER_LOCK_KEY},
        )
    return int(name.rsplit("-", 1)[1]) if name else None


async def test_sigkilled_worker_loses_no_run_and_duplicates_nothing(
    services: Services, workers: Workers, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    effects.mkdir()
    victim = workers.start()
    survivor = workers.start()
    ids = await enqueue_probes(services, 100, sleep=1.0, effects_dir=str(effects))

    async def victim_is_busy() -> bool:
        return len(await runs_leased_by(services, victim.pid)) >= 5

    await wait_until(victim_is_busy, timeout=60)
    interrupted = set(await runs_leased_by(services, victim.pid))
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    await wait_until(lambda: all_finished(services, len(ids)), timeout=120, interval=0.5)
    assert await statuses(services) == {"succeeded": len(ids)}
    # Each run's side effect exists once; only runs interrupted by the kill started twice.
    assert sorted(int(p.name) for p in effects.iterdir() if p.name.isdigit()) == sorted(ids)
    started = executions(effects)
    assert set(started) == set(ids)
    twice = {run_id for run_id, count in started.items() if count > 1}
    assert twice <= interrupted and max(started.values()) <= 2
    async with services.db.session() as session:
        attempts = dict((await session.execute(select(Run.id, Run.attempt).where(Run.id.in_(interrupted)))).all())
    assert all(attempt == 2 for attempt in attempts.values())
    assert survivor.poll() is None


async def test_scheduler_leader_killed_another_takes_over_nothing_scheduled_twice(
    services: Services, workers: Workers
) -> None:
    async with services.db.session(write=True) as session:
        for subject in range(1, 11):
            await service.save_schedule(session, kind=PROBE_KIND, user_id=None, subject_id=subject, interval_seconds=2)
    first = workers.start(concurrency=20)
    second = workers.start(concurrency=20)

    async def has_leader() -> bool:
        return await scheduler_leader_pid(services) in (first.pid, second.pid)

    await wait_until(has_leader, timeout=30)
    leader_pid = await scheduler_leader_pid(services)
    leader, follower = (first, second) if leader_pid == first.pid else (second, first)
    await asyncio.sleep(4)
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)

    async def follower_leads() -> bool:
        return await scheduler_leader_pid(services) == follower.pid

    await wait_until(follower_leads, timeout=30)
    async with services.db.session() as session:
        before = await session.scalar(select(text("count(*)")).select_from(Run))
    await asyncio.sleep(5)
    async with services.db.session() as session:
        runs = (await session.execute(select(Run.schedule_id, Run.not_before).order_by(Run.not_before))).all()
    assert len(runs) > (before or 0), "the new leader did not schedule anything"
    by_schedule: dict[int, list[float]] = {}
    for schedule_id, due in runs:
        by_schedule.setdefault(schedule_id, []).append(due.timestamp())
    assert set(by_schedule) == set(range(1, 11)) or len(by_schedule) == 10
    for dues in by_schedule.values():
        gaps = [later - earlier for earlier, later in itertools.pairwise(dues)]
        assert all(gap >= 1.9 for gap in gaps), f"a schedule fired twice within its interval: {gaps}"
