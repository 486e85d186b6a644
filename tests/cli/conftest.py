"""CLI fixtures: settings come from ``SPYGLASS_*`` variables, as they do for a person at a shell."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from spyglass.core.db import create_engine
from spyglass.core.services import Services
from tests.conftest import make_settings
from tests.support.cli_env import cli_env  # noqa: F401 - fixture
from tests.support.databases import sqlite_copy, truncate_all


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
async def empty_database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database with no tables at all (SQLite: a path that does not exist yet)."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'spyglass.db'}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    worker: str = request.getfixturevalue("worker_id")
    name = f"spyglass_cli_empty_{worker}"
    engine = create_engine(admin_url)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()


def query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    """Run one SQL statement against ``url`` from synchronous test code and return its rows."""
    from spyglass.core.migrations import run_coroutine_blocking

    async def run() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(sql), params)
                return [tuple(row) for row in result.fetchall()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return run_coroutine_blocking(run)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI points logging at its (captured, later closed) stderr; undo that after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database for tests about SQLite alone."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
async def postgresql_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The migrated PostgreSQL test database, for tests about PostgreSQL alone (skipped without it in --db)."""
    if "postgresql" not in request.config.getoption("--db"):
        pytest.skip("PostgreSQL is not among the --db backends")
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        await truncate_all(url)


@pytest.fixture
async def services_for(tmp_path: Path) -> AsyncIterator[Callable[[str], Awaitable[Services]]]:
    """Build (and later close) app services on a given database URL, to seed data."""
    built: list[Services] = []

    async def build(url: str) -> Services:
        services = Services.build(make_settings(tmp_path / "seed", url))
        built.append(services)
        return services

    yield build
    for services in built:
        await services.close()
