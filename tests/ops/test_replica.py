"""Read replica routing against a real streaming hot standby: replica reads, read-your-writes, fallback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from spyglass.app import create_app
from spyglass.core.db import Database, create_engine
from spyglass.core.replica import MemoryRecentWriters, ReplicaRouting, acting_user_id
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.market.helpers import bearer, search_body
from tests.support.client import app_client
from tests.support.databases import (
    StreamingReplica,
    start_streaming_replica,
    stop_streaming_replica,
    wait_for_replay,
)
from tests.support.factories import create_user
from tests.support.servers import free_port

pytestmark = [pytest.mark.backends("postgresql")]

IN_RECOVERY = text("SELECT pg_is_in_recovery()")


def routed_database(primary_url: str, replica_url: str, window_seconds: float = 300.0) -> Database:
    routing = ReplicaRouting(MemoryRecentWriters(window_seconds), retry_seconds=60.0)
    return Database(primary_url, replica_url=replica_url, routing=routing)


def replica_reads(exposition: str) -> dict[str, float]:
    """``spyglass_db_replica_reads_total`` by target, from the Prometheus text."""
    found = re.findall(r'^spyglass_db_replica_reads_total\{target="([a-z-]+)"\} ([0-9.]+)$', exposition, re.M)
    return {"replica": 0.0, "own-write": 0.0, "replica-down": 0.0} | {target: float(n) for target, n in found}


@asynccontextmanager
async def replay_paused(replica: StreamingReplica) -> AsyncIterator[None]:
    """Freeze the standby at its current state, so anything written now is visible on the primary only."""
    engine = create_engine(replica.url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
        yield
    finally:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
        await engine.dispose()


@pytest.mark.slow
async def test_reads_that_allow_it_go_to_the_replica(database_url: str, replica: StreamingReplica) -> None:
    db = routed_database(database_url, replica.url_for(database_url))
    try:
        async with db.session(replica_ok=True) as session:
            assert await session.scalar(IN_RECOVERY) is True
        async with db.session() as session:
            assert await session.scalar(IN_RECOVERY) is False
        async with db.session(write=True) as session:
            assert await session.scalar(IN_RECOVERY) is False
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_a_user_who_just_wrote_reads_the_primary(database_url: str, replica: StreamingReplica) -> None:
    db = routed_database(database_url, replica.url_for(database_url))
    try:
        await wait_for_replay(database_url, replica.url_for(database_url))
        async with replay_paused(replica):
            token = acting_user_id.set(41)
            try:
                async with db.session(write=True) as session:
                    await session.execute(text("SELECT 1"))
                async with db.session(replica_ok=True) as session:
                    assert await session.scalar(IN_RECOVERY) is False  # 41 wrote: primary
            finally:
                acting_user_id.reset(token)
            token = acting_user_id.set(42)
            try:
                async with db.session(replica_ok=True) as session:
                    assert await session.scalar(IN_RECOVERY) is True  # 42 did not: replica
            finally:
                acting_user_id.reset(token)
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_read_your_writes_through_the_api_with_redis(
    tmp_path: Path, database_url: str, replica: StreamingReplica, redis_url: str
) -> None:
    """Alice creates a search while the replica is frozen: her dashboard counts it (primary), while a read
    without her recent write (the replica) still does not, and the metrics say where each read went."""
    settings = make_settings(
        tmp_path,
        database_url,
        database_replica_url=replica.url_for(database_url),
        database_replica_read_your_writes_seconds=300,
        redis_url=redis_url,
        allow_private_targets="127.0.0.1/32,localhost",
    )
    services = Services.build(settings)
    app = create_app(settings, services=services)
    try:
        alice = await create_user(services)
        bob = await create_user(services)
        async with app_client(app) as as_alice, app_client(app) as as_bob:
            as_alice.headers.update(await bearer(services, alice))
            as_bob.headers.update(await bearer(services, bob))
            await wait_for_replay(database_url, replica.url_for(database_url))
            async with replay_paused(replica):
                created = await as_alice.post(
                    "/api/v1/market/searches", json=search_body("http://127.0.0.1:9/shop", name="Tents")
                )
                assert created.status_code == 201, created.text
                mine = await as_alice.get("/api/v1/analytics")
                assert mine.status_code == 200
                assert mine.json()["cards"]["active_searches"] == 1
                assert (await as_bob.get("/api/v1/analytics")).status_code == 200
                async with services.db.session(replica_ok=True) as session:  # nobody acting: the replica
                    count = "SELECT count(*) FROM market_searches WHERE user_id = :user_id"
                    assert await session.scalar(text(count), {"user_id": alice.id}) == 0
            reads = replica_reads(services.metrics.render().decode())
            # Alice's dashboard (one or more sessions) used the primary; Bob's and the direct read the replica.
            assert reads["own-write"] >= 1 and reads["replica"] >= 2 and reads["replica-down"] == 0
    finally:
        await services.close()


async def test_an_unreachable_replica_falls_back_to_the_primary(database_url: str) -> None:
    closed_port = free_port()
    db = routed_database(database_url, f"postgresql+asyncpg://spyglass@127.0.0.1:{closed_port}/nowhere")
    try:
        for _ in range(2):  # the first read finds it down, the second does not even try
            async with db.session(replica_ok=True) as session:
                assert await session.scalar(IN_RECOVERY) is False
        assert db.routing is not None and await db.routing.choose() == "replica-down"
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_a_replica_stopped_while_in_use_falls_back_to_the_primary_without_an_error(
    database_url: str, postgres_admin_url: str
) -> None:
    """Its pooled connections were in use a moment ago (no idle ping): the driver noticed them closed, so
    the next read falls back at checkout instead of failing its first query (found by the cluster test)."""
    standby = start_streaming_replica(postgres_admin_url)
    db = routed_database(database_url, standby.url_for(database_url))
    try:
        async with db.session(replica_ok=True) as session:
            assert await session.scalar(IN_RECOVERY) is True
        stop_streaming_replica(standby)
        await asyncio.sleep(0.2)
        async with db.session(replica_ok=True) as session:
            assert await session.scalar(IN_RECOVERY) is False
        assert db.routing is not None and await db.routing.choose() == "replica-down"
    finally:
        stop_streaming_replica(standby)
        await db.dispose()


async def test_misuse_is_refused(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(ValueError, match="cannot use the read replica"):
            async with db.session(write=True, replica_ok=True):
                pass
        async with db.session(replica_ok=True) as session:  # no replica configured: the primary
            assert await session.scalar(IN_RECOVERY) is False
    finally:
        await db.dispose()
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", replica_url=database_url)


async def test_recent_writers_forget_after_the_window() -> None:
    now = [100.0]
    writers = MemoryRecentWriters(5.0, clock=lambda: now[0])
    await writers.mark(7)
    assert await writers.wrote_recently(7)
    assert not await writers.wrote_recently(8)
    now[0] = 105.1
    assert not await writers.wrote_recently(7)
