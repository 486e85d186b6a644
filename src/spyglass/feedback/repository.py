"""All SQL of the feedback feature."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import User
from spyglass.core.db import is_valid_id
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.tenancy import owned_by
from spyglass.feedback.models import Feedback
from spyglass.feedback.schemas import FeedbackFilters


def _newest_first(statement: Select[Any]) -> Select[Any]:
    return statement.order_by(Feedback.created_at.desc(), Feedback.id.desc())


async def list_for_user(session: AsyncSession, *, user_id: int, page: PageRequest) -> Page[Feedback]:
    """One page of a user's own feedback, newest first."""
    return await paginate(session, _newest_first(owned_by(select(Feedback), Feedback, user_id)), page)


async def list_all(session: AsyncSession, *, filters: FeedbackFilters, page: PageRequest) -> Page[Feedback]:
    """One page of everybody's feedback for admins, newest first, filtered by status and kind."""
    statement = select(Feedback)
    if filters.status is not None:
        statement = statement.where(Feedback.status == filters.status)
    if filters.kind is not None:
        statement = statement.where(Feedback.kind == filters.kind)
    return await paginate(session, _newest_first(statement), page)


async def get(session: AsyncSession, feedback_id: int) -> Feedback | None:
    """A feedback row by id (no ownership check: for admins)."""
    return await session.get(Feedback, feedback_id) if is_valid_id(feedback_id) else None


async def usernames(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Usernames by id, for the admins' list."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
    return {user_id: username for user_id, username in rows.all()}
