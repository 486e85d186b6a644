"""Database upkeep for ``spyglass db maintain``.

PostgreSQL: ``VACUUM (ANALYZE)`` of the whole database, so dead rows left by deletes and updates (retention,
run leases, listing refreshes) are reclaimed and the planner's statistics are fresh. Autovacuum does this
too; running it after a large retention sweep or a bulk import keeps query plans stable at once.

SQLite: ``PRAGMA optimize`` (refreshes statistics the query planner would use) and a
``wal_checkpoint(TRUNCATE)`` that moves the write-ahead log into the database file and empties it, so the
WAL does not grow without bound on a busy embedded install.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from spyglass.core.db import SQLITE_BUSY_TIMEOUT_MS, create_engine
from spyglass.core.migrations import sqlite_path


@dataclass
class MaintenanceReport:
    """What ``maintain`` did, one line per step, for the CLI to print."""

    backend: str
    steps: list[str] = field(default_factory=list)


async def maintain(url: str) -> MaintenanceReport:
    """Run the maintenance of the database at ``url``; safe while Spyglass is running."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None:
            return MaintenanceReport(backend="sqlite", steps=["in-memory database: nothing to maintain"])
        return await asyncio.to_thread(_maintain_sqlite, path)
    engine = create_engine(url)
    report = MaintenanceReport(backend=engine.dialect.name)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM needs it
            await connection.execute(text("VACUUM (ANALYZE)"))
            report.steps.append("VACUUM (ANALYZE): dead rows reclaimed and statistics refreshed on every table")
    finally:
        await engine.dispose()
    return report


def _maintain_sqlite(path: Path) -> MaintenanceReport:
    # The stdlib driver in autocommit mode: a checkpoint cannot run inside the transaction the engine would open.
    report = MaintenanceReport(backend="sqlite")
    connection = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA optimize")
        report.steps.append("PRAGMA optimize: query planner statistics refreshed")
        busy, log_pages, moved = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        state = "complete, WAL truncated" if not busy else "partial (readers were active)"
        report.steps.append(f"WAL checkpoint: {state}; {moved} of {log_pages} pages written back")
    finally:
        connection.close()
    return report
