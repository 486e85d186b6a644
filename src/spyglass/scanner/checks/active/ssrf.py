"""Server-side request forgery, proved out of band: each URL-like parameter gets a unique callback URL of
Spyglass's listener (``spyglass.scanner.callback``); a request reaching the listener with that token proves it."""

from __future__ import annotations

import re

from spyglass.scanner import callback
from spyglass.scanner.checks.active._inject import inject, injection_points, original_value
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext, Exchange, InjectionPoint
from spyglass.scanner.checks.passive._base import CheckBase

URL_NAMES = re.compile(
    r"url|uri|link|src|source|dest|target|fetch|feed|host|site|proxy|image|img|file|page|load", re.IGNORECASE
)


class SsrfCheck(CheckBase):
    """``listener`` defaults to the running listener of the plan's ``callback_base_url`` (skipped when none);
    ``wait_seconds`` is how long to wait for late callbacks after the last injection."""

    id = "ssrf"
    family = "ssrf"
    active = True

    def __init__(self, listener: callback.CallbackListener | None = None, *, wait_seconds: float = 3.0) -> None:
        self.listener = listener
        self.wait_seconds = wait_seconds

    async def scan(self, ctx: CheckContext) -> None:
        listener = self.listener or callback.listener_for(ctx.plan.callback_base_url)
        if listener is None:
            return
        injected: dict[str, tuple[InjectionPoint, str, Exchange]] = {}
        try:
            for point in injection_points(ctx):
                value = original_value(point)
                if not (URL_NAMES.search(point.parameter) or value.startswith(("http://", "https://"))):
                    continue
                token = listener.new_token()
                payload = listener.url_for(token)
                exchange = await inject(ctx, point, payload)
                if exchange is not None:
                    injected[token] = (point, payload, exchange)
            hits = await listener.wait_for(list(injected), self.wait_seconds) if injected else {}
            for token, token_hits in hits.items():
                point, payload, exchange = injected[token]
                hit = token_hits[0]
                await ctx.report(
                    point_finding(
                        "ssrf",
                        point,
                        payload,
                        exchange,
                        evidence=f"the target sent [[{hit.method} {hit.path}]] to the callback listener "
                        f"from {hit.peer} (User-Agent: {hit.user_agent or 'none'})",
                        callback_peer=hit.peer,
                        callback_hits=len(token_hits),
                    )
                )
        finally:
            listener.forget(list(injected))


CHECKS = [SsrfCheck()]
