"""The data layer: declarative base, engine set-up for SQLite and PostgreSQL, unit-of-work sessions.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Writers begin
with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing
when a read transaction tries to upgrade. Services never commit: the request
or job boundary opens ``Database.session()`` and it commits on success.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from spyglass.core.replica import MemoryRecentWriters, ReplicaRouting

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000

#: A pooled PostgreSQL connection unused for this long is pinged before it is handed out (_check_before_use).
PING_AFTER_IDLE_SECONDS = 2.0

#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

#: The largest id a row can have (signed 64 bits on both backends). Larger numbers in a URL name
#: nothing, and sending them to the driver would overflow, so lookups answer "not found" first.
MAX_ID = 2**63 - 1


def is_valid_id(value: int) -> bool:
    """Whether ``value`` could be the primary key of a row."""
    return 0 < value <= MAX_ID


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite keeps no zone, so it is stored naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use spyglass.core.db.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Spyglass model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    """``created_at`` and ``updated_at`` columns maintained on the Python side."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN can be IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _check_before_use(engine: AsyncEngine) -> None:
    """Check a pooled connection before use without a round trip, and ping it only when it sat idle, instead
    of SQLAlchemy's ``pool_pre_ping``.

    ``pool_pre_ping`` costs three round trips (BEGIN, an empty query, ROLLBACK) on every checkout: a sixth
    of the CPU of a listing read under load, where connections never sit idle. A server that restarts or
    shuts down closes its connections, which the driver notices by itself (``is_closed()``): such a
    connection, and with it the whole pool, is replaced before use. One that sat idle is also pinged (a
    network that dropped it says nothing). A connection that breaks between the check and its use fails
    that one request (503) and, being a disconnect, also invalidates the pool.
    """
    pool_events = engine.sync_engine.pool

    @event.listens_for(pool_events, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool_events, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if engine.dialect.get_driver_connection(dbapi_connection).is_closed():  # asyncpg's own connection
            # The server ended it (a restart or shutdown sends FATAL and closes the socket): no round trip needed.
            raise InvalidatePoolError("the server closed a pooled connection")
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        if not engine.dialect._do_ping_w_event(dbapi_connection):
            raise InvalidatePoolError("a pooled connection failed its ping")


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    pool_timeout: float = 10.0,
    connect_timeout: float | None = None,
) -> AsyncEngine:
    """An async engine for ``url`` with Spyglass's per-backend settings."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    # Operators (and the crash tests) can tell which process holds a connection or a lock.
    connect_args: dict[str, Any] = {"server_settings": {"application_name": f"spyglass-{os.getpid()}"}}
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    _check_before_use(engine)
    return engine


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine for read-only sessions: on PostgreSQL each statement runs on its own, without BEGIN and
    ROLLBACK (two round trips of the three a one-query page read cost). SQLite keeps its explicit
    transactions (a reader's BEGIN gives it one snapshot; it costs no round trip)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine


class Database:
    """An engine and the session factories for reading and writing, plus an optional read replica.

    ``session(write=True)`` and ``session()`` always use the primary. ``session(replica_ok=True)`` is
    for reads that tolerate replication lag (analytics, listing pages): they go to the replica when one
    is configured, except for a user who just wrote and while the replica is unreachable (see
    ``spyglass.core.replica``).
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        pool_timeout: float = 10.0,
        replica_url: str | None = None,
        routing: ReplicaRouting | None = None,
        replica_connect_timeout: float = 3.0,
    ) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size, pool_timeout=pool_timeout)
        self.backend = self.engine.dialect.name
        writer = self.engine.execution_options(sqlite_immediate=True) if self.backend == "sqlite" else self.engine
        self._readers = async_sessionmaker(_autocommit(self.engine), expire_on_commit=False)
        self._writers = async_sessionmaker(writer, expire_on_commit=False)
        self.replica_engine: AsyncEngine | None = None
        self._replica_readers: async_sessionmaker[AsyncSession] | None = None
        self.routing: ReplicaRouting | None = None
        if replica_url:
            if self.backend != "postgresql" or not replica_url.startswith("postgresql"):
                raise ValueError("SPYGLASS_DATABASE_REPLICA_URL needs PostgreSQL for both the primary and the replica")
            self.replica_engine = create_engine(
                replica_url,
                echo=echo,
                pool_size=pool_size,
                pool_timeout=pool_timeout,
                connect_timeout=replica_connect_timeout,
            )
            self._replica_readers = async_sessionmaker(_autocommit(self.replica_engine), expire_on_commit=False)
            self.routing = routing or ReplicaRouting(MemoryRecentWriters(5.0), retry_seconds=10.0)

    @property
    def has_replica(self) -> bool:
        return self._replica_readers is not None

    @asynccontextmanager
    async def session(self, *, write: bool = False, replica_ok: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises.

        ``replica_ok=True`` (reads only) lets the read go to the read replica when one is configured.
        """
        if write and replica_ok:
            raise ValueError("a write session cannot use the read replica")
        if replica_ok and self.routing is not None:
            replica = await self._replica_session()
            if replica is not None:
                async with replica:
                    yield replica
                return
        elif write and self.routing is not None:
            await self.routing.note_write()
        factory = self._writers if write else self._readers
        async with factory() as session:
            try:
                yield session
                if write:
                    await session.commit()
                # A reader just closes: closing ends its transaction and keeps loaded objects readable.
            except BaseException:
                await session.rollback()
                raise

    async def _replica_session(self) -> AsyncSession | None:
        """A session already connected to the replica, or None when this read must use the primary."""
        assert self.routing is not None and self._replica_readers is not None
        if await self.routing.choose() != "replica":
            return None
        session = self._replica_readers()
        try:
            await session.connection()  # connect now, so an unreachable replica falls back before any query
        except (OSError, DBAPIError, TimeoutError) as exc:
            await session.close()
            self.routing.mark_down(exc)
            self.routing.count("replica-down")
            return None
        return session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()
        if self.routing is not None:
            await self.routing.writers.close()
