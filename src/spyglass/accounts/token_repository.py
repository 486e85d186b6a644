"""All SQL for personal API tokens. Every query is scoped to the owner through ``core.tenancy``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.models import ApiToken
from spyglass.core.tenancy import get_owned, owned_by


def tokens_of(user_id: int) -> Select[Any]:
    """The user's tokens, newest first (ready for ``paginate``)."""
    statement = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return owned_by(statement, ApiToken, user_id)


async def count_usable(session: AsyncSession, *, user_id: int, now: datetime) -> int:
    """How many of the user's tokens are neither revoked nor expired."""
    statement = owned_by(select(func.count()).select_from(ApiToken), ApiToken, user_id).where(
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
    )
    return int(await session.scalar(statement) or 0)


async def get_owned_token(session: AsyncSession, *, token_id: int, user_id: int) -> ApiToken:
    """The token with this id if ``user_id`` owns it; NotFound otherwise (same answer either way)."""
    return await get_owned(session, ApiToken, token_id, user_id, what="API token")


def add(session: AsyncSession, token: ApiToken) -> ApiToken:
    """Stage a new token row in the unit of work."""
    session.add(token)
    return token
