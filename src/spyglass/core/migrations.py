"""Schema migrations, run programmatically (``spyglass migrate``, ``make run``, the test harness).

These functions are synchronous and start their own event loop; from async code
call them through ``asyncio.to_thread``.

On SQLite a migration that has work to do first takes an online backup of the
database, then verifies the result (integrity check, foreign keys, revision at
head); when the upgrade or the verification fails the backup is put back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from spyglass.core.db import create_engine

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class MigrationError(RuntimeError):
    """A migration failed or its result did not verify; the message says what happened."""


@dataclass(frozen=True)
class MigrationReport:
    """What ``migrate`` did."""

    before: str | None
    after: str | None
    backup: Path | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` using the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of Spyglass."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is on (None for an empty database)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None or not path.exists():
            return None
        with sqlite3.connect(path) as connection:
            try:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                return None
            return row[0] if row else None
    return run_coroutine_blocking(lambda: _current_revision_async(url))


def run_coroutine_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is already running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def _current_revision_async(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def backup_sqlite(source: Path, destination: Path) -> Path:
    """An online, consistent copy of a SQLite database (the SQLite backup API), safe while it is in use."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
    with closing(sqlite3.connect(destination)) as check:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise MigrationError(f"the backup at {destination} failed its integrity check: {result}")
    return destination


def verify_sqlite(path: Path) -> None:
    """Raise MigrationError unless the database passes the integrity and foreign-key checks."""
    with sqlite3.connect(path) as connection:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            raise MigrationError(f"integrity check failed after migrating: {integrity}")
        broken = connection.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise MigrationError(f"{len(broken)} rows break foreign keys after migrating (first: {broken[0]})")


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (no backup; ``migrate`` is the safe entry point)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def migrate(url: str, *, backup_dir: Path | None = None) -> MigrationReport:
    """Bring the database to the newest revision; on SQLite back it up first and verify the result."""
    before = current_revision(url)
    head = head_revision()
    if before == head:
        return MigrationReport(before=before, after=before, backup=None)
    path = sqlite_path(url) if url.startswith("sqlite") else None
    backup: Path | None = None
    if path is not None and path.exists() and before is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = backup_dir or path.parent / "backups"
        backup = backup_sqlite(path, folder / f"{path.stem}-{stamp}-before-{before}.db")
    elif path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
        if path is not None:
            verify_sqlite(path)
        after = current_revision(url)
        if after != head:
            raise MigrationError(f"database is at revision {after} after migrating, expected {head}")
    except Exception as exc:
        if backup is not None and path is not None:
            _restore(backup, path)
            raise MigrationError(f"migration failed and the backup {backup} was restored: {exc}") from exc
        raise
    return MigrationReport(before=before, after=after, backup=backup)


def _restore(backup: Path, path: Path) -> None:
    # Through the backup API, not a file copy: replacing the file (and its -wal/-shm) under a
    # connection that is still open makes SQLite fail with "disk I/O error" afterwards.
    with closing(sqlite3.connect(backup)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
