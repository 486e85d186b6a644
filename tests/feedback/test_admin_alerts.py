"""Admin alerts on seeded engine data: a stopped worker, a failure spike and a queue backlog each give
every active admin exactly one outbox notification per window, however often the check runs; healthy
data gives none; the ``admin.alerts`` kind runs every minute through the real engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from spyglass.accounts.models import Role, User
from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.services import Services
from spyglass.engine.engine import Engine
from spyglass.engine.kinds import SYSTEM_SCHEDULES, get_kind
from spyglass.engine.models import Run, RunStatus, Schedule, WorkerHeartbeat
from spyglass.feedback.admin_alerts import (
    EVENT_ADMIN_ALERT,
    FAILURE_SPIKE,
    QUEUE_BACKLOG,
    WORKER_STOPPED,
    check_and_alert,
    window_of,
)
from spyglass.feedback.tasks import ADMIN_ALERTS_KIND
from tests.conftest import make_settings
from tests.engine.helpers import wait_until
from tests.feedback.conftest import notifications
from tests.support.factories import create_user

REPEAT = 3600


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        admin_alert_worker_stale_seconds=60,
        admin_alert_failure_window_seconds=600,
        admin_alert_failure_rate=0.5,
        admin_alert_failure_min_runs=4,
        admin_alert_queue_wait_seconds=120,
        admin_alert_queue_count=3,
        admin_alert_repeat_seconds=REPEAT,
    )


@pytest.fixture
async def admins(services: Services) -> list[User]:
    """Two active admins; an inactive admin and a member who must hear nothing."""
    first = await create_user(services, username="ada", role=Role.ADMIN)
    second = await create_user(services, username="grace", role=Role.ADMIN)
    await create_user(services, username="retired", role=Role.ADMIN, active=False)
    await create_user(services, username="member")
    return [first, second]


def start_of_window(offset_seconds: int = 0) -> datetime:
    """A moment well inside one alert window, so the test never straddles two."""
    now = utcnow()
    return now - timedelta(seconds=int(now.timestamp()) % REPEAT) + timedelta(seconds=600 + offset_seconds)


async def add_worker(services: Services, worker_id: str, last_seen_at: datetime) -> None:
    async with services.db.session(write=True) as session:
        session.add(
            WorkerHeartbeat(
                worker_id=worker_id,
                hostname="node-1",
                pid=4242,
                mode="distributed",
                concurrency=10,
                running=3,
                started_at=last_seen_at - timedelta(hours=1),
                last_seen_at=last_seen_at,
            )
        )


async def add_finished_runs(services: Services, *, failed: int, succeeded: int, finished_at: datetime) -> None:
    async with services.db.session(write=True) as session:
        for status, count in ((RunStatus.FAILED, failed), (RunStatus.SUCCEEDED, succeeded)):
            session.add_all(
                Run(kind="engine.probe", status=status.value, finished_at=finished_at, error="boom")
                for _ in range(count)
            )


async def add_queued_runs(services: Services, count: int, due_at: datetime) -> None:
    async with services.db.session(write=True) as session:
        session.add_all(
            Run(kind="engine.probe", status=RunStatus.QUEUED.value, not_before=due_at) for _ in range(count)
        )


async def alerts_by_admin(services: Services, condition: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in await notifications(services, event=EVENT_ADMIN_ALERT):
        if row.payload["condition"] == condition:
            counts[row.user_id] = counts.get(row.user_id, 0) + 1
    return counts


async def test_healthy_engine_data_alerts_nobody(services: Services, admins: list[User]) -> None:
    now = start_of_window()
    await add_worker(services, "alive", now - timedelta(seconds=5))
    await add_finished_runs(services, failed=1, succeeded=9, finished_at=now - timedelta(minutes=1))
    await add_queued_runs(services, 10, now - timedelta(seconds=30))  # due, but not waiting long yet
    await add_queued_runs(services, 2, now - timedelta(hours=1))  # waiting long, but too few to be a backlog
    assert await check_and_alert(services, now=now) == {"alerts": [], "notifications": 0}
    assert await notifications(services) == []


async def test_a_stopped_worker_is_reported_once_per_stop(services: Services, admins: list[User]) -> None:
    now = start_of_window()
    stopped_at = now - timedelta(seconds=90)
    await add_worker(services, "worker-a", stopped_at)
    for minute in range(3):  # the job runs every minute; the worker stays silent
        await check_and_alert(services, now=now + timedelta(minutes=minute))
    expected = {admin.id: 1 for admin in admins}
    assert await alerts_by_admin(services, WORKER_STOPPED) == expected
    [first, _] = await notifications(services, event=EVENT_ADMIN_ALERT)
    assert first.payload["title"] == "Worker worker-a stopped heartbeating"
    assert "host node-1, pid 4242" in first.payload["detail"] and first.payload["severity"] == "critical"
    assert first.payload["link"].endswith("/admin/engine")
    # Much later, in another window, the same silence is the same stop: no new alert.
    await check_and_alert(services, now=now + timedelta(hours=5))
    assert await alerts_by_admin(services, WORKER_STOPPED) == expected

    # The worker comes back, then stops again: that is news.
    async with services.db.session(write=True) as session:
        worker = await session.get(WorkerHeartbeat, "worker-a")
        assert worker is not None
        worker.last_seen_at = now + timedelta(hours=5, minutes=30)
    await check_and_alert(services, now=now + timedelta(hours=5, minutes=31))
    assert await alerts_by_admin(services, WORKER_STOPPED) == {admin.id: 1 for admin in admins}  # alive again
    await check_and_alert(services, now=now + timedelta(hours=5, minutes=40))
    assert await alerts_by_admin(services, WORKER_STOPPED) == {admin.id: 2 for admin in admins}


async def test_a_failure_spike_is_reported_once_per_window(services: Services, admins: list[User]) -> None:
    now = start_of_window()
    await add_finished_runs(services, failed=3, succeeded=2, finished_at=now - timedelta(minutes=2))
    await add_finished_runs(services, failed=20, succeeded=0, finished_at=now - timedelta(hours=2))  # too old
    first = await check_and_alert(services, now=now)
    assert first == {"alerts": [f"{FAILURE_SPIKE}:{window_of(now, REPEAT)}"], "notifications": 2}
    for minute in range(1, 4):
        await check_and_alert(services, now=now + timedelta(minutes=minute))
    assert await alerts_by_admin(services, FAILURE_SPIKE) == {admin.id: 1 for admin in admins}
    [alert, _] = await notifications(services, event=EVENT_ADMIN_ALERT)
    assert alert.payload["title"] == "60% of runs failed in the last 10 minutes"
    assert alert.payload["detail"].startswith("3 of the 5 runs that finished in the last 10 minutes failed")

    # Still failing in the next window: reported again, once.
    later = now + timedelta(seconds=REPEAT)
    await add_finished_runs(services, failed=4, succeeded=0, finished_at=later - timedelta(minutes=1))
    await check_and_alert(services, now=later)
    await check_and_alert(services, now=later + timedelta(minutes=1))
    assert await alerts_by_admin(services, FAILURE_SPIKE) == {admin.id: 2 for admin in admins}


async def test_too_few_runs_or_a_low_rate_is_no_spike(services: Services, admins: list[User]) -> None:
    now = start_of_window()
    await add_finished_runs(services, failed=3, succeeded=0, finished_at=now - timedelta(minutes=1))  # 3 < 4 runs
    assert (await check_and_alert(services, now=now))["alerts"] == []
    await add_finished_runs(services, failed=0, succeeded=4, finished_at=now - timedelta(minutes=1))  # 3 of 7
    assert (await check_and_alert(services, now=now))["alerts"] == []


async def test_a_queue_backlog_is_reported_once_per_window(services: Services, admins: list[User]) -> None:
    now = start_of_window()
    await add_queued_runs(services, 3, now - timedelta(minutes=10))
    await add_queued_runs(services, 5, now - timedelta(seconds=10))  # not waiting long: not counted
    await check_and_alert(services, now=now)
    await check_and_alert(services, now=now + timedelta(minutes=1))
    assert await alerts_by_admin(services, QUEUE_BACKLOG) == {admin.id: 1 for admin in admins}
    [alert, _] = await notifications(services, event=EVENT_ADMIN_ALERT)
    assert alert.payload["title"] == "3 runs are waiting in the queue"
    assert "the oldest for 600 s" in alert.payload["detail"]
    await check_and_alert(services, now=now + timedelta(seconds=REPEAT))
    assert await alerts_by_admin(services, QUEUE_BACKLOG) == {admin.id: 2 for admin in admins}


def test_the_kind_is_registered_to_run_every_minute() -> None:
    kind = get_kind(ADMIN_ALERTS_KIND)
    assert kind.timeout_seconds < 60
    assert SYSTEM_SCHEDULES[ADMIN_ALERTS_KIND] == 60


async def test_the_engine_runs_the_check_on_its_own(services: Services, admins: list[User]) -> None:
    await add_worker(services, "gone", utcnow() - timedelta(minutes=10))
    engine = Engine(services, mode="embedded", concurrency=2)
    await engine.start()
    try:

        async def schedule_exists() -> bool:
            async with services.db.session() as session:
                return await session.scalar(select(Schedule.id).where(Schedule.kind == ADMIN_ALERTS_KIND)) is not None

        await wait_until(schedule_exists)
        # The scheduler runs system jobs one interval after creating their schedule; make it due now.
        async with services.db.session(write=True) as session:
            await session.execute(
                update(Schedule).where(Schedule.kind == ADMIN_ALERTS_KIND).values(next_run_at=utcnow())
            )
        engine.wake()

        async def alerted() -> bool:
            return bool(await alerts_by_admin(services, WORKER_STOPPED))

        await wait_until(alerted)
    finally:
        await engine.stop(grace_seconds=1)
    assert await alerts_by_admin(services, WORKER_STOPPED) == {admin.id: 1 for admin in admins}
    async with services.db.session() as session:
        run = await session.scalar(select(Run).where(Run.kind == ADMIN_ALERTS_KIND))
    assert run is not None and run.status == RunStatus.SUCCEEDED.value and run.user_id is None
