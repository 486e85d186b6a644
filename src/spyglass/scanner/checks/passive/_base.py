"""What every check shares: stopping quietly when the budget is spent, and requests that may fail."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import httpx

from spyglass.core.fetch import FetchError
from spyglass.scanner.checks.base import BudgetExhausted, CheckContext, Exchange


class CheckBase:
    """A check plugin: subclasses set ``id``, ``family`` and ``active`` and implement ``scan``."""

    id: str = ""
    family: str = ""
    active: bool = False

    async def run(self, ctx: CheckContext) -> None:
        """Run the check; a spent request budget or a cancelled scan ends it quietly."""
        with contextlib.suppress(BudgetExhausted):
            await self.scan(ctx)

    async def scan(self, ctx: CheckContext) -> None:
        raise NotImplementedError


async def send(
    ctx: CheckContext,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    content: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Exchange | None:
    """One request through the scan's client; None when it failed (refused by scope or policy, network error).

    Raises ``BudgetExhausted`` when the budget is spent or the scan was cancelled.
    """
    if ctx.cancelled():
        raise BudgetExhausted("cancelled")
    try:
        return await ctx.http.send(method, url, params=params, data=data, content=content, headers=headers)
    except (FetchError, httpx.HTTPError, OSError, ValueError):
        return None
