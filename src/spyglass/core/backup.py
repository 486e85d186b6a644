"""Database backups: an online, consistent copy for SQLite; the ``pg_dump`` recipe for PostgreSQL.

SQLite is copied with SQLite's backup API while Spyglass keeps running, then the
copy is opened and checked (``PRAGMA integrity_check``) before it is reported.
PostgreSQL backups belong to ``pg_dump``; :func:`pg_dump_command` spells out the
command for the configured database without ever including its password.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from spyglass.config import Settings
from spyglass.core.migrations import backup_sqlite, sqlite_path


class BackupError(RuntimeError):
    """The backup could not be made or did not verify; the message says why."""


@dataclass(frozen=True)
class SQLiteBackup:
    """A verified copy of the SQLite database."""

    path: Path
    size_bytes: int
    users: int


def utc_stamp() -> str:
    """A file-name friendly UTC timestamp, e.g. ``20260101T120000Z``."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def default_backup_path(settings: Settings) -> Path:
    """``data_dir/backups/spyglass-<UTC timestamp>.db``."""
    return settings.data_dir / "backups" / f"spyglass-{utc_stamp()}.db"


def backup_sqlite_database(settings: Settings, *, output: Path | None = None) -> SQLiteBackup:
    """Copy the live SQLite database to ``output`` (or the default path) and verify the copy."""
    source = sqlite_path(settings.resolved_database_url)
    if source is None:
        raise BackupError("the database is in memory; there is nothing to back up")
    if not source.exists():
        raise BackupError(f"there is no database at {source} yet (run `spyglass migrate` first)")
    destination = output or default_backup_path(settings)
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose another --output")
    try:
        backup_sqlite(source, destination)
        with sqlite3.connect(f"file:{destination}?mode=ro", uri=True) as copy:
            users = int(copy.execute("SELECT count(*) FROM users").fetchone()[0])
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise BackupError(f"backing up {source} to {destination} failed: {exc}") from exc
    return SQLiteBackup(path=destination, size_bytes=destination.stat().st_size, users=users)


def pg_dump_command(url: str, *, output: str | None = None) -> str:
    """The ``pg_dump -Fc`` command line for ``url``; the password is left to PGPASSWORD or ~/.pgpass."""
    parsed = make_url(url)
    args = ["pg_dump", "--format=custom"]
    if parsed.host:
        args.append(f"--host={parsed.host}")
    if parsed.port:
        args.append(f"--port={parsed.port}")
    if parsed.username:
        args.append(f"--username={parsed.username}")
    args.append(f"--dbname={parsed.database or 'postgres'}")
    args.append(f"--file={output or f'spyglass-{utc_stamp()}.dump'}")
    return shlex.join(args)


def pg_restore_command(url: str, *, dump: str = "spyglass-<timestamp>.dump") -> str:
    """The matching ``pg_restore`` command line (password again from PGPASSWORD or ~/.pgpass)."""
    parsed = make_url(url)
    args = ["pg_restore", "--clean", "--if-exists", "--no-owner"]
    if parsed.host:
        args.append(f"--host={parsed.host}")
    if parsed.port:
        args.append(f"--port={parsed.port}")
    if parsed.username:
        args.append(f"--username={parsed.username}")
    args.append(f"--dbname={parsed.database or 'postgres'}")
    args.append(dump)
    return shlex.join(args)
