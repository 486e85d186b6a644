"""Job kinds: one registry of async handlers, each with a timeout and a retry policy.

Features register their kinds at import time (``market.search``, ``scanner.scan``);
``engine.probe`` is the engine's own kind for its tests and benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spyglass.core.view_cache import forget_views

if TYPE_CHECKING:
    from spyglass.core.services import Services
    from spyglass.engine.context import RunContext

Handler = Callable[["RunContext"], Awaitable[dict[str, Any] | None]]


class TransientError(Exception):
    """Worth retrying later (network trouble, 5xx, 429). ``retry_after`` overrides the backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying will not help; the run fails at once with this message, shown to the user."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to ``base * 2**(n-1)``, capped."""

    max_attempts: int = 3
    base_seconds: float = 5.0
    cap_seconds: float = 600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_seconds)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class JobKind:
    """A kind of run: its name, handler, time limit and retry policy."""

    name: str
    handler: Handler
    timeout_seconds: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    description: str = ""
    #: The areas of the user's cached views that show this kind's runs and what they store (core/view_cache.py):
    #: the engine forgets the run owner's views of them whenever the run's status changes (claimed, retried,
    #: finished, cancelled).
    view_areas: tuple[str, ...] = ()


class UnknownKind(LookupError):
    """No kind is registered under that name."""


_REGISTRY: dict[str, JobKind] = {}


def register_kind(kind: JobKind) -> JobKind:
    """Add a kind to the registry (re-registering the same name replaces it)."""
    _REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownKind(f"no job kind named {name!r}") from None


def registered_kinds() -> list[JobKind]:
    return sorted(_REGISTRY.values(), key=lambda kind: kind.name)


#: Platform jobs that always run on a schedule (retention, maintenance): kind → interval in seconds.
SYSTEM_SCHEDULES: dict[str, int] = {}
SYSTEM_SUBJECT_ID = 0


def register_system_schedule(kind: str, *, interval_seconds: int) -> None:
    """Run ``kind`` every ``interval_seconds`` with no owner; the scheduler creates the schedule."""
    SYSTEM_SCHEDULES[kind] = interval_seconds


async def forget_run_views(services: Services, kind_name: str, user_id: int | None) -> None:
    """After a committed change of a run's status: its owner's cached views that show it are stale."""
    try:
        areas = get_kind(kind_name).view_areas
    except UnknownKind:
        return
    if areas and user_id is not None:
        await forget_views(services, areas, [user_id])
