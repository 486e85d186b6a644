"""Reading and pruning the audit log. Every query here is served by an index of ``audit_events``:
``created_at`` for the plain newest-first list and retention, ``(user_id, created_at)`` and
``actor_id`` for one person's activity, ``(action, created_at)`` for one kind of event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditQuery:
    """What to look for; ``until`` is exclusive. ``person_id`` matches the subject or the actor."""

    person_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def events_statement(query: AuditQuery) -> Select[Any]:
    """Audit events matching ``query``, newest first."""
    statement = select(AuditEvent)
    if query.person_id is not None:
        statement = statement.where(or_(AuditEvent.user_id == query.person_id, AuditEvent.actor_id == query.person_id))
    if query.action is not None:
        statement = statement.where(AuditEvent.action == query.action)
    if query.since is not None:
        statement = statement.where(AuditEvent.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.created_at < query.until)
    return statement.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


async def latest_events(session: AsyncSession, *, limit: int) -> list[AuditEvent]:
    """The ``limit`` newest events."""
    return list((await session.scalars(events_statement(AuditQuery()).limit(limit))).all())


async def usernames(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Username by id for the given ids (ids of deleted users are simply missing)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {row.id: row.username for row in rows}


async def delete_events_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete every event created before ``cutoff`` in one statement; the number deleted."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        delete(AuditEvent).where(AuditEvent.created_at < cutoff).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
