"""SQL building blocks whose spelling differs between SQLite and PostgreSQL.

Timestamps are stored as naive UTC text on SQLite and as ``timestamptz`` on PostgreSQL, so the
day of a timestamp, and the seconds between two timestamps each get one helper here; medians are computed in Python.
Every helper returns the same Python values on both backends.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Date, Float, String, cast, func, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

K = TypeVar("K", bound=Hashable)


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the backend ``session`` talks to."""
    return session.get_bind().dialect.name


class DayText(TypeDecorator[str]):
    """A day read back as ``YYYY-MM-DD`` text, whether the backend returns a date or text."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return value.isoformat() if isinstance(value, date) else value


def day_of(column: Any, dialect: str) -> ColumnElement[str]:
    """The UTC day of a timestamp column, read back as ``YYYY-MM-DD`` text."""
    if dialect == "sqlite":
        return type_coerce(func.substr(column, 1, 10), DayText())
    # a cast to date groups several times faster than to_char over a million rows
    return type_coerce(cast(func.timezone("UTC", column), Date), DayText())


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[float]:
    """``end - start`` in seconds (a float; NULL when either is NULL)."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)


def medians_in_python(rows: Iterable[tuple[K, Decimal]]) -> dict[K, float]:
    """Exact medians per key of ``(key, value)`` rows (what percentile_cont(0.5) computes)."""
    groups: dict[K, list[Decimal]] = defaultdict(list)
    for key, value in rows:
        groups[key].append(value)
    return {key: round(float(statistics.median(values)), 3) for key, values in groups.items()}


def window_start(days: int, now: datetime) -> datetime:
    """Midnight UTC at the start of a window of ``days`` calendar days that ends today."""
    today = now.astimezone(UTC).date()
    return start_of(today - timedelta(days=days - 1))


def start_of(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
