"""Exactly one active scheduler: a PostgreSQL advisory lock held on a dedicated connection (released
by the server the moment its holder dies), or trivially the only process on SQLite."""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger("spyglass.engine.leadership")
SCHEDULER_LOCK_KEY = 0x5359_4C45  # "SYLE": the scheduler's advisory lock id


class Leadership(Protocol):
    async def is_leader(self) -> bool: ...

    async def release(self) -> None: ...


class SoleLeadership:
    """SQLite/embedded mode: one process, always the leader."""

    async def is_leader(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLockLeadership:
    """Holds ``pg_try_advisory_lock`` on its own connection; checks the connection on every call."""

    def __init__(self, engine: AsyncEngine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._connection: AsyncConnection | None = None

    async def is_leader(self) -> bool:
        try:
            if self._connection is not None:
                await self._connection.execute(text("SELECT 1"))
                return True
            connection = await self.engine.connect()
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            await connection.commit()
            if got:
                self._connection = connection
                logger.info("became the scheduler leader")
                return True
            await connection.close()
            return False
        except Exception as exc:
            logger.warning("lost the scheduler leadership", extra={"error": str(exc)})
            await self._drop()
            return False

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._connection.commit()
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
