"""Waking dispatchers the moment notifications are committed, in this process and in the others.

- **In the writing process**: each dispatcher waits on an ``asyncio.Event`` that :func:`outbox.notify`
  sets after the commit (``outbox.add_waker``). This is the whole story in the embedded mode.
- **Across processes on PostgreSQL**: ``notify()`` also runs ``NOTIFY spyglass_outbox`` in the writer's
  transaction. PostgreSQL delivers it when that transaction commits (never for a rollback) to every
  connection that ``LISTEN``\\s, whichever process wrote the row (a web process, a worker, the CLI).
  :class:`OutboxListener` keeps one such connection per dispatcher and sets the same event.

PostgreSQL's own notifications are used rather than Redis pub/sub because they are transactional (a
dispatcher is never woken for a row it cannot see yet) and the writer needs nothing but the session it
already has. A listener that lost its connection (database restart) reconnects on the next pass; the
dispatcher's poll (``SPYGLASS_NOTIFICATIONS_POLL_SECONDS``) covers the gap and rows due later (retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from spyglass.core.db import Database

logger = logging.getLogger("spyglass.notifications")

#: The PostgreSQL notification channel of the outbox (payload empty: "there is something to claim").
CHANNEL = "spyglass_outbox"
#: After a failed attempt to listen, wait this long before the next (the dispatcher polls meanwhile).
RETRY_SECONDS = 5.0


class OutboxListener:
    """``LISTEN spyglass_outbox`` on a connection of its own; each notification sets ``waker``.
    Does nothing on SQLite (one process writes and dispatches)."""

    def __init__(self, db: Database, waker: asyncio.Event) -> None:
        self.db = db
        self.waker = waker
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._retry_at = 0.0

    @property
    def listening(self) -> bool:
        """Whether notifications from other processes reach this dispatcher right now."""
        return self._driver is not None and not self._driver.is_closed()

    def _on_notification(self, *_args: Any) -> None:
        self.waker.set()

    async def ensure(self) -> bool:
        """Listen if not already (reconnecting after a lost connection); returns whether it listens.
        Never raises: without a listener the dispatcher still polls."""
        if self.db.backend != "postgresql" or self.listening or time.monotonic() < self._retry_at:
            return self.listening
        await self.close()
        self._retry_at = time.monotonic() + RETRY_SECONDS
        try:
            connection = await self.db.engine.connect()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(CHANNEL, self._on_notification)
        except Exception as exc:
            logger.warning("could not listen for new notifications; polling", extra={"error": str(exc)[:200]})
            return False
        self._connection, self._driver = connection, driver
        # Rows written while we were not listening are not announced again: look once more.
        self.waker.set()
        return True

    async def close(self) -> None:
        """Stop listening and drop the connection (it is not returned to the pool with a listener on it)."""
        connection, driver = self._connection, self._driver
        self._connection = self._driver = None
        if driver is not None:
            with contextlib.suppress(Exception):
                await driver.remove_listener(CHANNEL, self._on_notification)
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
