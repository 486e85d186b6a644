"""The engine in embedded mode (in-process broker) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine import repository, service
from spyglass.engine.engine import Engine
from spyglass.engine.models import Run, RunStatus, Schedule
from spyglass.engine.probe import PROBE_KIND
from spyglass.engine.runner import Runner
from tests.engine.helpers import all_finished, enqueue_probes, executions, run_of, statuses, wait_until


async def test_queued_runs_all_complete_exactly_once(services: Services, engine: Engine, tmp_path: Path) -> None:
    ids = await enqueue_probes(services, 60, sleep=0.05, effects_dir=str(tmp_path))
    engine.wake()
    await wait_until(lambda: all_finished(services, 60))
    assert await statuses(services) == {"succeeded": 60}
    assert executions(tmp_path) == {run_id: 1 for run_id in ids}
    assert sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()) == sorted(ids)
    run = await run_of(services, ids[0])
    assert run.progress == 100 and run.attempt == 1 and run.finished_at is not None and run.lease_owner is None


async def test_transient_failure_is_retried_then_succeeds(services: Services, engine: Engine) -> None:
    [run_id] = await enqueue_probes(services, 1, fail="transient", fail_attempts=1)
    engine.wake()
    await wait_until(lambda: all_finished(services, 1))
    run = await run_of(services, run_id)
    assert run.status == RunStatus.SUCCEEDED.value
    assert run.attempt == 2


async def test_permanent_failure_fails_fast_with_message(services: Services, engine: Engine) -> None:
    [run_id] = await enqueue_probes(services, 1, fail="permanent")
    engine.wake()
    await wait_until(lambda: all_finished(services, 1))
    run = await run_of(services, run_id)
    assert run.status == RunStatus.FAILED.value
    assert run.attempt == 1
    assert run.error == "The probe was told to fail permanently."


async def test_transient_failures_stop_after_max_attempts(services: Services, engine: Engine) -> None:
    [run_id] = await enqueue_probes(services, 1, fail="transient", fail_attempts=99)
    engine.wake()
    await wait_until(lambda: all_finished(services, 1))
    run = await run_of(services, run_id)
    assert run.status == RunStatus.FAILED.value
    assert run.attempt == 3
    assert "after 3 attempts" in (run.error or "")


async def test_cancel_queued_run_is_immediate(services: Services) -> None:
    [run_id] = await enqueue_probes(services, 1)
    async with services.db.session(write=True) as session:
        status = await service.cancel_run(session, run_id=run_id, user_id=0, is_admin=True)
    assert status == RunStatus.CANCELLED
    assert (await run_of(services, run_id)).status == RunStatus.CANCELLED.value


async def test_cancel_running_run_stops_within_two_seconds(services: Services, engine: Engine) -> None:
    [run_id] = await enqueue_probes(services, 1, sleep=30)
    engine.wake()

    async def is_running() -> bool:
        return (await run_of(services, run_id)).status == RunStatus.RUNNING.value

    await wait_until(is_running, timeout=10)
    async with services.db.session(write=True) as session:
        await service.cancel_run(session, run_id=run_id, user_id=0, is_admin=True)
    requested = utcnow()
    await wait_until(lambda: all_finished(services, 1), timeout=5, interval=0.05)
    run = await run_of(services, run_id)
    assert run.status == RunStatus.CANCELLED.value
    assert run.finished_at is not None and (run.finished_at - requested) < timedelta(seconds=2)


async def test_duplicate_delivery_executes_once(services: Services, tmp_path: Path) -> None:
    [run_id] = await enqueue_probes(services, 1, sleep=0.2, effects_dir=str(tmp_path))
    runner = Runner(services, concurrency=5, mode="embedded")
    await asyncio.gather(*(runner.execute(run_id) for _ in range(4)))
    assert executions(tmp_path) == {run_id: 1}
    assert (await run_of(services, run_id)).status == RunStatus.SUCCEEDED.value


async def test_reaper_requeues_run_of_dead_worker_and_it_completes(
    services: Services, engine: Engine, tmp_path: Path
) -> None:
    async with services.db.session(write=True) as session:
        # In one transaction, so the running engine never sees it queued: as a worker that claimed
        # the run and was then SIGKILLed would leave it.
        run = await service.enqueue_run(session, kind=PROBE_KIND, user_id=None, payload={"effects_dir": str(tmp_path)})
        run_id = run.id
        await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status="running", attempt=1, lease_owner="dead-worker", lease_expires_at=utcnow() - timedelta(1))
        )
    engine.wake()
    await wait_until(lambda: all_finished(services, 1))
    run = await run_of(services, run_id)
    assert run.status == RunStatus.SUCCEEDED.value
    assert run.attempt == 2
    assert executions(tmp_path) == {run_id: 1}


async def test_reaper_fails_run_after_last_attempt(services: Services) -> None:
    [run_id] = await enqueue_probes(services, 1)
    async with services.db.session(write=True) as session:
        await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status="running", attempt=3, lease_owner="dead", lease_expires_at=utcnow() - timedelta(1))
        )
    async with services.db.session(write=True) as session:
        assert await repository.reap_expired_leases(session) == (0, 1)
    run = await run_of(services, run_id)
    assert run.status == RunStatus.FAILED.value
    assert "stopped responding" in (run.error or "")


async def test_due_schedule_creates_one_run_per_due_time(services: Services) -> None:
    async with services.db.session(write=True) as session:
        schedule = await service.save_schedule(
            session, kind=PROBE_KIND, user_id=None, subject_id=7, interval_seconds=60
        )
        schedule_id = schedule.id
    postgres = services.db.backend == "postgresql"
    async with services.db.session(write=True) as session:
        created = await repository.enqueue_due_schedules(session, limit=10, postgres=postgres)
    async with services.db.session(write=True) as session:
        again = await repository.enqueue_due_schedules(session, limit=10, postgres=postgres)
    assert len(created) == 1 and again == []
    async with services.db.session() as session:
        schedule = await session.get(Schedule, schedule_id)
        assert schedule is not None
        runs = (await session.scalars(select(Run).where(Run.schedule_id == schedule_id))).all()
    assert len(runs) == 1 and runs[0].subject_id == 7
    assert timedelta(seconds=59) < schedule.next_run_at - utcnow() <= timedelta(seconds=67)


async def test_schedule_with_active_run_is_not_piled_up(services: Services) -> None:
    postgres = services.db.backend == "postgresql"
    async with services.db.session(write=True) as session:
        await service.save_schedule(session, kind=PROBE_KIND, user_id=None, subject_id=8, interval_seconds=60)
    async with services.db.session(write=True) as session:
        [first] = await repository.enqueue_due_schedules(session, limit=10, postgres=postgres)
    async with services.db.session(write=True) as session:
        await session.execute(update(Schedule).values(next_run_at=utcnow() - timedelta(seconds=1)))
    async with services.db.session(write=True) as session:
        created = await repository.enqueue_due_schedules(session, limit=10, postgres=postgres)
    assert created == []  # the first run is still queued
    assert (await statuses(services)) == {"queued": 1}
    assert first.id is not None


async def test_interval_below_admin_minimum_is_refused(services: Services) -> None:
    import pytest

    from spyglass.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        service.validate_interval(settings=services.settings, seconds=5)
    assert refused.value.detail == {"interval": "must be at least 60 seconds"}
    assert service.validate_interval(settings=services.settings, seconds=None) == 600


async def test_probe_fetches_through_the_url_policy(tmp_path: Path, database_url: str) -> None:
    """Runs fetch through the shared fetcher: loopback only when the admin allow-list permits it."""
    from tests.conftest import make_settings
    from tests.support.http_server import LocalHttpServer

    with LocalHttpServer() as server:
        allowed = make_settings(tmp_path, database_url, allow_private_targets="127.0.0.1/32")
        refused = make_settings(tmp_path, database_url)
        finished: dict[str, Run] = {}
        for name, settings in (("allowed", allowed), ("refused", refused)):
            services = Services.build(settings)
            engine = Engine(services, mode="embedded", concurrency=2)
            await engine.start()
            try:
                [run_id] = await enqueue_probes(services, 1, fetch=server.url("/ok"))
                engine.wake()

                async def done(run_id: int = run_id, services: Services = services) -> bool:
                    return RunStatus((await run_of(services, run_id)).status).is_terminal

                await wait_until(done)
                finished[name] = await run_of(services, run_id)
            finally:
                await engine.stop(grace_seconds=1)
                await services.close()
    assert finished["allowed"].status == RunStatus.SUCCEEDED.value
    assert finished["allowed"].stats["status_code"] == 200
    assert finished["refused"].status == RunStatus.FAILED.value
    assert finished["refused"].attempt == 1 and "127.0.0.1" in (finished["refused"].error or "")
    assert server.hits("/ok") == 1


async def test_schedule_quota_per_user(services: Services) -> None:
    import pytest

    from spyglass.core.errors import Conflict
    from tests.support.factories import create_user

    alice = await create_user(services)
    async with services.db.session(write=True) as session:
        for subject in (1, 2):
            await service.save_schedule(
                session, kind=PROBE_KIND, user_id=alice.id, subject_id=subject, interval_seconds=60, quota=2
            )
    async with services.db.session(write=True) as session:
        # Updating an existing schedule is not a new one.
        await service.save_schedule(
            session, kind=PROBE_KIND, user_id=alice.id, subject_id=2, interval_seconds=120, quota=2
        )
        with pytest.raises(Conflict) as refused:
            await service.save_schedule(
                session, kind=PROBE_KIND, user_id=alice.id, subject_id=3, interval_seconds=60, quota=2
            )
    assert "most your account allows (2)" in refused.value.message


async def test_progress_reaches_the_run_row_within_about_a_heartbeat(services: Services, engine: Engine) -> None:
    # The probe sleeps 3 s in 15 steps, reporting progress after each; the heartbeat (1 s by default)
    # writes the latest value, so a reader sees the row move while the run is still going.
    [run_id] = await enqueue_probes(services, 1, sleep=3.0)
    engine.wake()

    async def persisted_mid_run() -> bool:
        run = await run_of(services, run_id)
        return run.status == RunStatus.RUNNING.value and 10 < run.progress < 90 and run.stage.startswith("sleeping")

    await wait_until(persisted_mid_run, timeout=10, interval=0.05)
    await wait_until(lambda: all_finished(services, 1))
    assert (await run_of(services, run_id)).progress == 100


@pytest.mark.backends("sqlite")
async def test_a_claim_refused_by_a_locked_database_is_retried_at_once(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process holds SQLite's write lock past the claim's busy timeout (shortened here from 10 s):
    # the claim is tried again at once instead of leaving the delivery to the redelivery sweep (minutes).
    [run_id] = await enqueue_probes(services, 1, effects_dir=str(tmp_path))
    monkeypatch.setattr("spyglass.core.db.SQLITE_BUSY_TIMEOUT_MS", 100)
    await services.db.engine.dispose()  # new connections take the short timeout
    path = services.settings.resolved_database_url.split("///", 1)[1]
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.6, other_process.rollback)
    try:
        await Runner(services, concurrency=1, mode="embedded").execute(run_id)
    finally:
        other_process.close()
    assert (await run_of(services, run_id)).status == RunStatus.SUCCEEDED.value
    assert executions(tmp_path) == {run_id: 1}
