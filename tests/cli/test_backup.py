"""``spyglass backup``: a verified online copy of SQLite; for PostgreSQL a pg_dump command that works."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from spyglass.cli import app
from spyglass.core.services import Services
from tests.support.factories import create_user
from tests.support.servers import postgres_bin_dir

SeedServices = Callable[[str], Awaitable[Services]]


async def test_sqlite_backup_is_a_verified_copy_with_the_users(
    runner: CliRunner, cli_env: Callable[[str], Path], sqlite_url: str, services_for: SeedServices
) -> None:
    database_url = sqlite_url
    services = await services_for(database_url)
    await create_user(services, username="ann")
    await create_user(services, username="bob")
    data_dir = cli_env(database_url)
    # A reader holds the database open, as the running server would.
    live = sqlite3.connect(make_url(database_url).database or "")
    live.execute("BEGIN")
    live.execute("SELECT count(*) FROM users").fetchone()

    result = runner.invoke(app, ["backup"])
    live.rollback()
    live.close()

    assert result.exit_code == 0, result.output
    backups = list((data_dir / "backups").glob("spyglass-*.db"))
    assert len(backups) == 1
    assert backups[0].name.endswith("Z.db")
    assert str(backups[0]) in result.stdout
    assert "2 users" in result.stdout
    with sqlite3.connect(backups[0]) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert sorted(row[0] for row in copy.execute("SELECT username FROM users")) == ["ann", "bob"]


def test_backup_to_chosen_path_refuses_to_overwrite(
    runner: CliRunner, cli_env: Callable[[str], Path], sqlite_url: str, tmp_path: Path
) -> None:
    cli_env(sqlite_url)
    target = tmp_path / "elsewhere" / "copy.db"

    first = runner.invoke(app, ["backup", "--output", str(target)])
    second = runner.invoke(app, ["backup", "--output", str(target)])

    assert first.exit_code == 0, first.output
    assert target.exists()
    assert second.exit_code == 1
    assert "already exists" in second.stderr
    assert "Traceback" not in second.output


def test_backup_without_a_database_says_so(runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")

    result = runner.invoke(app, ["backup"])

    assert result.exit_code == 1
    assert "no database at" in result.stderr


async def test_postgresql_backup_prints_a_working_pg_dump_command(
    runner: CliRunner, cli_env: Callable[[str], Path], postgresql_url: str, services_for: SeedServices, tmp_path: Path
) -> None:
    database_url = postgresql_url
    await create_user(await services_for(database_url), username="carol")
    url_with_password = make_url(database_url).set(password="hunter2-not-shown").render_as_string(hide_password=False)
    cli_env(url_with_password)
    dump = tmp_path / "spyglass.dump"

    result = runner.invoke(app, ["backup", "--output", str(dump)])

    assert result.exit_code == 0, result.output
    assert "hunter2-not-shown" not in result.output
    assert "PGPASSWORD" in result.stdout
    command = next(line.strip() for line in result.stdout.splitlines() if line.strip().startswith("pg_dump "))
    args = shlex.split(command)
    assert "--format=custom" in args
    # The test cluster trusts local connections, so the printed command runs as shown.
    args[0] = str(postgres_bin_dir() / "pg_dump")
    subprocess.run(args, check=True, timeout=60)
    listing = subprocess.run(
        [str(postgres_bin_dir() / "pg_restore"), "--list", str(dump)], check=True, capture_output=True, text=True
    ).stdout
    assert "TABLE DATA public users" in listing
    assert "pg_restore --clean --if-exists" in result.stdout
