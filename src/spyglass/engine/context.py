"""What a handler sees while it runs: its run, progress reporting and cancellation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spyglass.core.services import Services
    from spyglass.engine.runner import Runner


@dataclass
class RunContext:
    """Handed to a job handler. Report progress with ``await ctx.progress(40, "parsing")``."""

    run_id: int
    kind: str
    attempt: int
    user_id: int | None
    subject_id: int | None
    payload: dict[str, Any]
    services: Services
    runner: Runner
    stats: dict[str, Any] = field(default_factory=dict)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def progress(self, percent: int, stage: str = "") -> None:
        """Record progress (0–100) and a short stage message; published to live viewers."""
        await self.runner.report_progress(self, max(0, min(100, int(percent))), stage[:200])
