"""Pagination with a capped page size, for every list in pages and the API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

#: The highest page number served: larger numbers name no rows anyway, and an unbounded number would
#: overflow the database's OFFSET (a 500). Requests beyond it get this page (empty for any real list).
MAX_PAGE_NUMBER = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    """Which page the caller asked for; ``size`` is already clamped to the maximum."""

    page: int
    size: int

    @classmethod
    def from_query(cls, page: int | None, size: int | None, *, default_size: int, max_size: int) -> PageRequest:
        page = min(max(1, page or 1), MAX_PAGE_NUMBER)
        size = min(max(1, size or default_size), max_size)
        return cls(page=page, size=size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results with the numbers a pager needs."""

    items: list[T]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size)) if self.size else 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    def to_dict(self, items: list[Any] | None = None) -> dict[str, Any]:
        return {
            "items": items if items is not None else self.items,
            "page": self.page,
            "size": self.size,
            "total": self.total,
            "pages": self.pages,
        }


async def paginate(session: AsyncSession, statement: Select[Any], request: PageRequest) -> Page[Any]:
    """Run ``statement`` for one page (it must already be ordered) and count the total."""
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = (await session.scalars(statement.limit(request.size).offset(request.offset))).all()
    return Page(items=list(rows), page=request.page, size=request.size, total=int(total))
