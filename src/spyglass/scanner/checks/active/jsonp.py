"""JSONP callback injection: a callback parameter copied into a script response without validation lets any
page run its own code in the response (and read the JSON)."""

from __future__ import annotations

import re

from spyglass.scanner.checks.active._inject import inject, injection_points, token
from spyglass.scanner.checks.active._report import point_finding
from spyglass.scanner.checks.base import CheckContext
from spyglass.scanner.checks.passive._base import CheckBase

CALLBACK_NAMES = re.compile(r"^(callback|cb|jsonp|jsoncallback|jsonpcallback|json_callback|call|fn|func)$", re.I)


class JsonpCallbackCheck(CheckBase):
    id = "jsonp-callback"
    family = "jsonp"
    active = True

    async def scan(self, ctx: CheckContext) -> None:
        for point in injection_points(ctx, ("query",)):
            if not CALLBACK_NAMES.match(point.parameter):
                continue
            payload = f"alert(1);{token()}"
            exchange = await inject(ctx, point, payload)
            if exchange is None:
                continue
            script = "javascript" in exchange.headers.get("content-type", "").lower()
            match = re.search(re.escape(payload) + r"\s*\(", exchange.body)
            if script and match and exchange.body.lstrip().lstrip("/*").lstrip().startswith(payload):
                await ctx.report(point_finding("jsonp-callback-injection", point, payload, exchange, match))


CHECKS = [JsonpCallbackCheck()]
