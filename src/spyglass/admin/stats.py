"""Dashboard totals: the user figures, plus a registry where later features (market, scanner,
engine ...) add their own counts without the admin package knowing about them.

    from spyglass.admin.stats import register_total

    async def count_saved_searches(session: AsyncSession) -> int: ...

    register_total("saved_searches", "Saved searches", count_saved_searches)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.admin.repository import user_totals

TotalLoader = Callable[[AsyncSession], Awaitable[int]]


@dataclass(frozen=True)
class Total:
    """One figure on the dashboard."""

    key: str
    label: str
    value: int


@dataclass(frozen=True)
class RegisteredTotal:
    key: str
    label: str
    load: TotalLoader


_REGISTRY: dict[str, RegisteredTotal] = {}

USER_TOTAL_LABELS = {
    "users": "Users",
    "active_24h": "Active in the last 24 hours",
    "active_30d": "Active in the last 30 days",
    "new_7d": "New in the last 7 days",
    "deactivated": "Deactivated",
}


def register_total(key: str, label: str, load: TotalLoader) -> None:
    """Add a figure to the dashboard; ``load(session)`` returns it (one cheap SQL count, please)."""
    if key in _REGISTRY or key in USER_TOTAL_LABELS:
        raise ValueError(f"a dashboard total named {key!r} is already registered")
    _REGISTRY[key] = RegisteredTotal(key, label, load)


def unregister_total(key: str) -> None:
    """Remove a registered figure (for tests and plugins that unload)."""
    _REGISTRY.pop(key, None)


def registered_totals() -> list[RegisteredTotal]:
    return list(_REGISTRY.values())


async def dashboard_totals(session: AsyncSession, *, now: datetime) -> list[Total]:
    """The user figures (one aggregate query) followed by every registered figure."""
    counts = await user_totals(
        session,
        day_ago=now - timedelta(days=1),
        month_ago=now - timedelta(days=30),
        week_ago=now - timedelta(days=7),
    )
    totals = [Total(key, label, counts[key]) for key, label in USER_TOTAL_LABELS.items()]
    for entry in _REGISTRY.values():
        totals.append(Total(entry.key, entry.label, int(await entry.load(session))))
    return totals
