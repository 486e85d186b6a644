"""The backend's own ``INSERT`` (PostgreSQL or SQLite), for ``ON CONFLICT`` upserts on both."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession) -> Any:
    """The ``insert`` with ``on_conflict_do_nothing`` of the session's backend."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
