"""Market quotas per user: the global settings, or an admin's override for one user.

``SPYGLASS_MARKET_MAX_SEARCHES_PER_USER`` and ``SPYGLASS_MARKET_MIN_INTERVAL_SECONDS`` apply to everyone;
an admin may set either of them higher or lower for one user (``market_user_quotas``, one row per user,
NULL meaning "the setting"). ``market.service`` enforces them when a search is created or changed.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.config import Settings
from spyglass.core.errors import InvalidInput
from spyglass.market.models import MarketQuota

MAX_SEARCHES_LIMIT = 10_000
#: A search runs at least once a week (``service.INTERVAL_MAX_SECONDS``), so a longer minimum means nothing.
MIN_INTERVAL_LIMIT = 7 * 24 * 3600


@dataclass(frozen=True)
class QuotaOverride:
    """What an admin set for one user; None keeps the global setting."""

    max_searches: int | None = None
    min_interval_seconds: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


@dataclass(frozen=True)
class UserQuotas:
    """The quotas that apply to one user, and whether each comes from an override."""

    max_searches: int
    min_interval_seconds: int
    override: QuotaOverride

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_searches": self.max_searches,
            "min_interval_seconds": self.min_interval_seconds,
            "override": self.override.as_dict(),
        }


async def get_override(db: AsyncSession, *, user_id: int) -> QuotaOverride:
    """The admin's override for ``user_id`` (all None when there is none)."""
    row = await db.get(MarketQuota, user_id)
    if row is None:
        return QuotaOverride()
    return QuotaOverride(max_searches=row.max_searches, min_interval_seconds=row.min_interval_seconds)


async def quotas_for(db: AsyncSession, *, user_id: int, settings: Settings) -> UserQuotas:
    """The quotas that apply to ``user_id``: the override where set, the settings elsewhere."""
    override = await get_override(db, user_id=user_id)
    return UserQuotas(
        max_searches=(
            override.max_searches if override.max_searches is not None else settings.market_max_searches_per_user
        ),
        min_interval_seconds=(
            override.min_interval_seconds
            if override.min_interval_seconds is not None
            else settings.market_min_interval_seconds
        ),
        override=override,
    )


async def set_override(db: AsyncSession, *, user_id: int, override: QuotaOverride) -> QuotaOverride:
    """Store ``override`` for ``user_id`` (an all-None override removes the row); the previous one."""
    previous = await get_override(db, user_id=user_id)
    row = await db.get(MarketQuota, user_id)
    if override == QuotaOverride():
        if row is not None:
            await db.delete(row)
    elif row is None:
        db.add(MarketQuota(user_id=user_id, **override.as_dict()))
    else:
        row.max_searches = override.max_searches
        row.min_interval_seconds = override.min_interval_seconds
    await db.flush()
    return previous


def _whole_number(raw: Any, field: str, low: int, high: int, errors: dict[str, str]) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        errors[field] = "Enter a whole number, or leave it empty for the global setting."
        return None
    try:
        value = int(raw.strip()) if isinstance(raw, str) else raw
    except ValueError:
        errors[field] = "Enter a whole number, or leave it empty for the global setting."
        return None
    if not low <= value <= high:
        errors[field] = f"Enter a number from {low} to {high}, or leave it empty for the global setting."
        return None
    return value


def parse_override(raw: Mapping[str, Any]) -> QuotaOverride:
    """An override from a form or JSON (empty or null: the global setting); ``InvalidInput`` by field."""
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - {"max_searches", "min_interval_seconds", "_csrf_token"})
    if unknown:
        errors["form"] = f"Unknown field(s): {', '.join(unknown)}; send max_searches and/or min_interval_seconds."
    max_searches = _whole_number(raw.get("max_searches"), "max_searches", 0, MAX_SEARCHES_LIMIT, errors)
    interval = _whole_number(raw.get("min_interval_seconds"), "min_interval_seconds", 1, MIN_INTERVAL_LIMIT, errors)
    if errors:
        raise InvalidInput(detail=errors)
    return QuotaOverride(max_searches=max_searches, min_interval_seconds=interval)
