"""Distributed dispatch: every ``spyglass worker`` runs a resident dispatcher, woken by PostgreSQL's NOTIFY
from whichever process commits a notification, sharing the outbox through the claims. Two real worker
processes on one PostgreSQL and one Redis; mail to a real SMTP server."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from scripts.cluster.processes import Child, Supervisor
from scripts.cluster.spyglass import spyglass_env, start_worker
from sqlalchemy import text

from spyglass.core.services import Services
from spyglass.notifications import outbox
from spyglass.notifications.wake import CHANNEL, OutboxListener
from tests.conftest import TEST_SECRET
from tests.notifications.helpers import emit, make_channel
from tests.support.factories import create_user
from tests.support.smtp import SmtpServer

#: A Redis database of its own (the cluster tests use 7).
WORKERS_REDIS_DB = 8
#: Far longer than the waits below: only a NOTIFY can explain a prompt delivery.
POLL_SECONDS = 30


@pytest.fixture
def postgres_only(services: Services) -> None:
    if services.db.backend != "postgresql":
        pytest.skip("cross-process wake-ups and several workers are a PostgreSQL feature")


async def test_a_commit_wakes_a_listener_on_another_connection_and_a_rollback_does_not(
    services: Services, postgres_only: None
) -> None:
    ann = await create_user(services, username="ann", email="ann@example.com")
    woken = asyncio.Event()
    listener = OutboxListener(services.db, woken)
    try:
        assert await listener.ensure() and listener.listening
        woken.clear()  # set once on connecting (rows written before it listened)

        with pytest.raises(RuntimeError):
            async with services.db.session(write=True) as session:
                await outbox.notify(session, user_id=ann.id, event=outbox.EVENT_PRICE_DROP, payload={}, key="k:0")
                raise RuntimeError("the change is abandoned")
        await asyncio.sleep(0.5)
        assert not woken.is_set()  # NOTIFY is transactional: nothing for a rolled-back row

        async with services.db.session(write=True) as session:
            for number in range(3):  # one NOTIFY per transaction, however many rows
                await outbox.notify(
                    session, user_id=ann.id, event=outbox.EVENT_PRICE_DROP, payload={}, key=f"k:{number + 1}"
                )
        async with asyncio.timeout(5):
            await woken.wait()
    finally:
        await listener.close()
    assert not listener.listening


def _worker_env(services: Services, redis_url: str, smtp: SmtpServer, data_dir: Path) -> dict[str, str]:
    return spyglass_env(
        services.settings.resolved_database_url,
        redis_url,
        data_dir,
        secret_key=TEST_SECRET,
        notifications_poll_seconds=POLL_SECONDS,
        **smtp.settings_overrides(),
    )


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    processes = Supervisor(tmp_path / "logs")
    try:
        yield processes
    finally:
        processes.stop_all()


async def _listening_pids(services: Services) -> set[int]:
    async with services.db.session() as session:
        names = await session.scalars(
            text("SELECT application_name FROM pg_stat_activity WHERE query = :listen"),
            {"listen": f'LISTEN "{CHANNEL}"'},
        )
        return {int(name.rsplit("-", 1)[1]) for name in names if name.startswith("spyglass-")}


async def _wait_until_listening(services: Services, workers: list[Child], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not {w.pid for w in workers} <= await _listening_pids(services):
        for worker in workers:
            assert worker.alive(), f"{worker.name} exited:\n{worker.tail()}"
        assert time.monotonic() < deadline, "the workers' dispatchers never listened"
        await asyncio.sleep(0.3)


async def _emit_and_wait(services: Services, smtp: SmtpServer, users: list[int], keys: list[str]) -> float:
    """Write one notification per key (each its own transaction, as features do); returns the slowest
    delivery in seconds once every key has arrived."""
    sent_at = {}
    for number, key in enumerate(keys):
        sent_at[key] = time.monotonic()
        await emit(services, users[number % len(users)], outbox.EVENT_PRICE_DROP, {"title": key}, key)
    arrived: dict[str, float] = {}
    deadline = time.monotonic() + 15
    while len(arrived) < len(keys):
        assert time.monotonic() < deadline, f"{len(keys) - len(arrived)} notifications not delivered in 15 s"
        for message in list(smtp.messages):
            key = str(message["X-Spyglass-Notification"]).split("/", 1)[0]
            if key in sent_at and key not in arrived:
                arrived[key] = time.monotonic()
        await asyncio.sleep(0.05)
    return max(arrived[key] - sent_at[key] for key in keys)


async def test_two_workers_deliver_at_once_and_either_one_is_enough(
    services: Services,
    postgres_only: None,
    redis_url: str,
    smtp_server: SmtpServer,
    supervisor: Supervisor,
    tmp_path: Path,
) -> None:
    users = []
    for number in range(6):
        user = await create_user(services, username=f"user{number}", email=f"user{number}@example.com")
        await make_channel(
            services, user, "email", user.email, events={outbox.EVENT_PRICE_DROP: "instant"}
        )  # verified: the account's own address
        users.append(user.id)
    worker_redis = redis_url.rsplit("/", 1)[0] + f"/{WORKERS_REDIS_DB}"
    Redis.from_url(worker_redis).flushdb()
    env = _worker_env(services, worker_redis, smtp_server, tmp_path / "data")
    workers = [start_worker(supervisor, f"worker-{n}", env, concurrency=4) for n in (1, 2)]
    await _wait_until_listening(services, workers)

    slowest = await _emit_and_wait(services, smtp_server, users, [f"first:{n}" for n in range(30)])
    assert slowest < 5, f"slowest delivery {slowest:.1f} s: the workers were not woken (poll is {POLL_SECONDS} s)"

    supervisor.kill(workers[0])  # SIGKILL: the other worker alone must keep delivering
    slowest = await _emit_and_wait(services, smtp_server, users, [f"second:{n}" for n in range(30)])
    assert slowest < 5, f"slowest delivery {slowest:.1f} s with one worker left"

    received = Counter(str(m["X-Spyglass-Notification"]).split("/", 1)[0] for m in smtp_server.messages)
    assert len(received) == 60 and set(received.values()) == {1}  # each exactly once
