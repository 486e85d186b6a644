"""``spyglass migrate`` on both backends, and the SQLite safety net in ``core.migrations.migrate``:
a backup before any work, verification after, the backup put back when either fails."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spyglass.cli import app
from spyglass.core.migrations import MigrationError, current_revision, head_revision, migrate, upgrade
from tests.cli.conftest import query

FIRST_REVISION = "0001"


def test_migrate_empty_database_then_again_is_a_no_op(
    runner: CliRunner, cli_env: Callable[[str], Path], empty_database_url: str
) -> None:
    cli_env(empty_database_url)

    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    assert f"Database migrated from empty to {head_revision()}" in first.stdout
    assert current_revision(empty_database_url) == head_revision()
    assert query(empty_database_url, "SELECT count(*) FROM users") == [(0,)]

    second = runner.invoke(app, ["migrate"])
    assert second.exit_code == 0, second.output
    assert f"Database is up to date (revision {head_revision()})" in second.stdout
    assert "Backup" not in second.stdout


def _sqlite_at_first_revision(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "data" / "spyglass.db"
    path.parent.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, FIRST_REVISION)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO users (username, email, password_hash, role, is_active, session_epoch, created_at, updated_at)"
            " VALUES ('ann', 'ann@example.test', 'x', 'user', 1, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    return url, path


def test_migrate_on_sqlite_backs_up_before_upgrading(
    runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path
) -> None:
    assert head_revision() != FIRST_REVISION, "needs a second revision to have work to do"
    url, _path = _sqlite_at_first_revision(tmp_path)
    data_dir = cli_env(url)

    result = runner.invoke(app, ["migrate"])

    assert result.exit_code == 0, result.output
    assert f"Database migrated from {FIRST_REVISION} to {head_revision()}" in result.stdout
    backups = list((data_dir / "backups").glob(f"spyglass-*-before-{FIRST_REVISION}.db"))
    assert len(backups) == 1
    assert str(backups[0]) in result.stdout
    with sqlite3.connect(backups[0]) as backup:
        assert backup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert backup.execute("SELECT version_num FROM alembic_version").fetchone()[0] == FIRST_REVISION
        assert backup.execute("SELECT username FROM users").fetchall() == [("ann",)]
    assert current_revision(url) == head_revision()
    assert query(url, "SELECT username FROM users") == [("ann",)]


def test_failed_upgrade_restores_the_backup(tmp_path: Path) -> None:
    url, path = _sqlite_at_first_revision(tmp_path)
    with sqlite3.connect(path) as connection:
        # A table the next revision creates: its upgrade fails half-way with "table already exists".
        connection.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
        connection.execute("INSERT INTO runs (note) VALUES ('kept')")

    with pytest.raises(MigrationError, match="was restored"):
        migrate(url, backup_dir=tmp_path / "backups")

    assert current_revision(url) == FIRST_REVISION
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("SELECT username FROM users").fetchall() == [("ann",)]
        assert connection.execute("SELECT note FROM runs").fetchall() == [("kept",)]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "worker_heartbeats" not in tables, "the half-applied upgrade must be rolled back by the restore"


def test_upgrade_that_fails_verification_restores_the_backup(tmp_path: Path) -> None:
    url, path = _sqlite_at_first_revision(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute(
            "INSERT INTO user_settings (user_id, display_name, timezone, page_size, email_notifications, preferences,"
            " created_at, updated_at) VALUES (999, '', 'UTC', 25, 1, '{}', '2026-01-01', '2026-01-01')"
        )

    with pytest.raises(MigrationError, match="break foreign keys"):
        migrate(url, backup_dir=tmp_path / "backups")

    assert current_revision(url) == FIRST_REVISION
    assert len(list((tmp_path / "backups").glob("*.db"))) == 1


def test_migrate_reports_a_broken_database_in_one_line(
    runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path
) -> None:
    path = tmp_path / "data" / "spyglass.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just text" * 100)
    cli_env(f"sqlite+aiosqlite:///{path}")

    result = runner.invoke(app, ["migrate"])

    assert result.exit_code == 1
    assert "Migration failed" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
