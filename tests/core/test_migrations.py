"""Migrations run up, down and up again on both backends, and leave the schema the models describe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from spyglass.core.db import create_engine
from spyglass.core.migrations import current_revision, downgrade, head_revision, upgrade
from spyglass.models import Base


@pytest.fixture
async def empty_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database with no tables (PostgreSQL: a fresh database on the test cluster, dropped afterwards)."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"spyglass_migrations_{request.getfixturevalue('worker_id')}"
    engine = create_engine(admin_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def _schema_state(url: str) -> tuple[set[str], list[object]]:
    """The tables present and the differences between the database and the models."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    return tables, diff


async def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_url)
    tables, diff = await _schema_state(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert {"users", "user_settings", "api_tokens", "account_tokens", "audit_events"} <= tables
    assert diff == [], "the migrations and the models disagree; write a migration"

    await asyncio.to_thread(downgrade, empty_url, "base")
    tables, _ = await _schema_state(empty_url)
    assert current_revision(empty_url) is None
    assert tables <= {"alembic_version"}

    await asyncio.to_thread(upgrade, empty_url)
    tables, diff = await _schema_state(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert diff == []
