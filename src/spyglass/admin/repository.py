"""All SQL of the admin area: user totals and lists, admin bookkeeping, database facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import Role, User


@dataclass(frozen=True)
class UserQuery:
    """Filters of the users list; ``search`` matches username or email, case-insensitively."""

    search: str | None = None
    role: str | None = None
    active: bool | None = None


async def user_totals(
    session: AsyncSession, *, day_ago: datetime, month_ago: datetime, week_ago: datetime
) -> dict[str, int]:
    """Users, active in 24 h / 30 d (seen or signed in), new in 7 d and deactivated, in one query."""

    def active_since(moment: datetime) -> ColumnElement[int]:
        return func.count(case((or_(User.last_seen_at >= moment, User.last_login_at >= moment), 1)))

    row = (
        await session.execute(
            select(
                func.count().label("users"),
                active_since(day_ago).label("active_24h"),
                active_since(month_ago).label("active_30d"),
                func.count(case((User.created_at >= week_ago, 1))).label("new_7d"),
                func.count(case((User.is_active.is_(False), 1))).label("deactivated"),
            ).select_from(User)
        )
    ).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def users_statement(query: UserQuery) -> Select[Any]:
    """Users matching ``query``, newest first."""
    statement = select(User)
    if query.search:
        needle = query.search.lower()
        statement = statement.where(
            or_(
                func.lower(User.username).contains(needle, autoescape=True),
                func.lower(User.email).contains(needle, autoescape=True),
            )
        )
    if query.role is not None:
        statement = statement.where(User.role == query.role)
    if query.active is not None:
        statement = statement.where(User.is_active.is_(query.active))
    return statement.order_by(User.created_at.desc(), User.id.desc())


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def find_user_id(session: AsyncSession, username: str) -> int | None:
    """The id of the user with this username (case-insensitive), or None."""
    return await session.scalar(select(User.id).where(func.lower(User.username) == username.strip().lower()))


async def lock_active_admin_ids(session: AsyncSession) -> set[int]:
    """Ids of the active admins, their rows locked until commit (PostgreSQL) so two admins cannot
    demote or deactivate each other at the same moment and leave nobody in charge. SQLite writers
    already run one at a time (BEGIN IMMEDIATE)."""
    statement = select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True)).order_by(User.id)
    if session.get_bind().dialect.name != "sqlite":
        statement = statement.with_for_update()
    return set((await session.scalars(statement)).all())


async def database_version(session: AsyncSession) -> str:
    """The database server's version string."""
    if session.get_bind().dialect.name == "sqlite":
        return f"SQLite {await session.scalar(text('select sqlite_version()'))}"
    return str(await session.scalar(text("select version()")))


async def migration_revision(session: AsyncSession) -> str | None:
    """The revision recorded in ``alembic_version`` (None when the table is missing or empty)."""
    query = text("select version_num from alembic_version")
    try:
        options = (await session.connection()).sync_engine.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":  # a read session on PostgreSQL (core/db.py)
            return await session.scalar(query)  # a failed statement spoils no transaction (and savepoints need one)
        async with session.begin_nested():
            return await session.scalar(query)
    except DBAPIError:
        return None
