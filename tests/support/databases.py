"""Migrated databases for tests: a fresh SQLite file per test, one PostgreSQL database per worker
emptied after each test."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from spyglass.core.db import create_engine
from spyglass.core.migrations import upgrade
from spyglass.models import Base


def migrated_sqlite_template(folder: Path) -> Path:
    """Migrate an empty SQLite database once; tests copy the file."""
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "spyglass.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Create (or re-create) database ``name`` on the server and return its URL, migrated to head."""
    engine = create_engine(admin_url)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, url)
    return url


async def truncate_all(url: str) -> None:
    """Empty every table (keeping the schema and alembic's version)."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
