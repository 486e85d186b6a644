"""Pooled PostgreSQL connections are pinged before use only after sitting idle; a dead one is replaced."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from spyglass.core import db as db_module
from spyglass.core.db import Database

pytestmark = pytest.mark.backends("postgresql")


async def _backend_pid(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def _terminate(database_url: str, pid: int) -> None:
    killer = Database(database_url, pool_size=1)
    try:
        async with killer.session(write=True) as session:
            assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    try:
        first = await _backend_pid(database)
        assert await _backend_pid(database) == first, "a connection in steady use is reused as is"
        await _terminate(database_url, first)
        await asyncio.sleep(db_module.PING_AFTER_IDLE_SECONDS + 0.2)
        replaced = await _backend_pid(database)
        assert replaced != first
    finally:
        await database.dispose()


async def test_a_connection_the_server_closed_is_replaced_before_use_without_waiting(database_url: str) -> None:
    """A restarting server closes its connections; the driver notices, so even one used a moment ago is
    replaced at checkout (and the replica falls back to the primary there, before the first query)."""
    database = Database(database_url, pool_size=1)
    try:
        first = await _backend_pid(database)
        await _terminate(database_url, first)
        await asyncio.sleep(0.2)  # the event loop reads the server's goodbye
        assert await _backend_pid(database) not in (0, first)
    finally:
        await database.dispose()


async def test_reads_run_without_a_transaction_and_writes_in_one(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    try:
        async with database.session() as session:
            # Outside a transaction block each statement is its own transaction: now() moves between them.
            started = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.05)
            assert await session.scalar(text("SELECT now()")) > started
        async with database.session(write=True) as session:
            started = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.05)
            assert await session.scalar(text("SELECT now()")) == started, "a write session is one transaction"
    finally:
        await database.dispose()
