"""Backups restore: a SQLite copy from `spyglass backup` and a PostgreSQL pg_dump come back as a working database."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from spyglass.accounts.models import User
from spyglass.cli import app
from spyglass.core.db import Database, create_engine
from spyglass.core.migrations import current_revision, head_revision
from spyglass.core.services import Services
from tests.support.factories import create_user
from tests.support.servers import postgres_bin_dir

runner = CliRunner()


async def usernames(url: str) -> list[str]:
    database = Database(url)
    try:
        async with database.session() as session:
            return sorted((await session.scalars(select(User.username))).all())
    finally:
        await database.dispose()


@pytest.mark.backends("sqlite")
async def test_a_sqlite_backup_restores_the_database_as_it_was(
    services: Services, cli_env: Callable[[str], Path], database_url: str, tmp_path: Path
) -> None:
    await create_user(services, username="ann")
    await create_user(services, username="bob")
    cli_env(database_url)
    copy = tmp_path / "backups" / "copy.db"
    assert runner.invoke(app, ["backup", "--output", str(copy)]).exit_code == 0
    await create_user(services, username="after-the-backup")
    await services.db.dispose()

    # Disaster: the database is lost. Restore (docs/operations.md): stop Spyglass, copy the backup back.
    live = Path(make_url(database_url).database or "")
    for file in (live, Path(f"{live}-wal"), Path(f"{live}-shm")):
        file.unlink(missing_ok=True)
    live.write_bytes(copy.read_bytes())

    assert await usernames(database_url) == ["ann", "bob"]
    assert current_revision(database_url) == head_revision()
    assert runner.invoke(app, ["db", "maintain"]).exit_code == 0


@pytest.mark.backends("postgresql")
async def test_a_pg_dump_restores_into_an_empty_database(
    services: Services, database_url: str, postgres_admin_url: str, tmp_path: Path, worker_id: str
) -> None:
    await create_user(services, username="carol")
    await create_user(services, username="dave")
    url = make_url(database_url)
    connection = ["--host", url.host or "127.0.0.1", "--port", str(url.port), "--username", url.username or ""]
    dump = tmp_path / "spyglass.dump"
    bin_dir = postgres_bin_dir()
    dump_command = [str(bin_dir / "pg_dump"), "--format=custom", *connection, f"--dbname={url.database}"]
    subprocess.run([*dump_command, f"--file={dump}"], check=True, timeout=120)

    name = f"spyglass_restore_{worker_id}"
    admin = create_engine(postgres_admin_url)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        restore = [str(bin_dir / "pg_restore"), "--no-owner", "--exit-on-error", *connection, f"--dbname={name}"]
        subprocess.run([*restore, str(dump)], check=True, timeout=120, capture_output=True)
        restored = url.set(database=name).render_as_string(hide_password=False)

        assert await usernames(restored) == ["carol", "dave"]
        assert current_revision(restored) == head_revision()
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
