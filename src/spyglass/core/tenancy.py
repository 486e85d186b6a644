"""Tenant isolation: every query for user-owned data goes through these helpers.

A model is user-owned when it has a ``user_id`` column. ``owned_by`` scopes a
select; ``get_owned`` loads one object or raises NotFound — the same answer
whether the object does not exist or belongs to somebody else.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from spyglass.core.db import is_valid_id
from spyglass.core.errors import NotFound


class UserOwned(Protocol):
    user_id: Any


M = TypeVar("M", bound=UserOwned)
S = TypeVar("S", bound=Select[Any])


def owned_by(statement: S, model: type[UserOwned], user_id: int) -> S:
    """``statement`` restricted to rows of ``model`` that belong to ``user_id``."""
    column: InstrumentedAttribute[Any] = model.user_id
    return statement.where(column == user_id)


async def get_owned(session: AsyncSession, model: type[M], object_id: int, user_id: int, *, what: str = "item") -> M:
    """The ``model`` row with this id owned by ``user_id``, or NotFound."""
    obj = await session.get(model, object_id) if is_valid_id(object_id) else None
    if obj is None or obj.user_id != user_id:
        raise NotFound(f"No such {what}.")
    return obj
