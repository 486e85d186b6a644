"""Applies the rate-limit category of each route: ``opt={"rate_limit": "bot_controls"}`` on a handler,
``api`` for every other ``/api/`` route. The key is the user when signed in, else the client IP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from spyglass.core.middleware import add_missing_headers
from spyglass.core.request_context import client_ip

if TYPE_CHECKING:
    from spyglass.core.services import Services


def limit_key(scope: Scope, trusted_proxies: list[str]) -> str:
    """``user:ID`` for a signed-in caller, ``ip:ADDRESS`` otherwise."""
    user = scope.get("user")
    return f"user:{user.id}" if user is not None else f"ip:{client_ip(scope, trusted_proxies)}"


class RateLimitMiddleware:
    """Counts each request against its route's category and adds ``RateLimit-*`` headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        category = handler.opt.get("rate_limit") if handler is not None else None
        if category is None and scope["path"].startswith("/api/"):
            category = "api"
        if category is None or category == "none":
            await self.app(scope, receive, send)
            return
        services: Services = scope["litestar_app"].state.services
        status = await services.limiter.hit(category, limit_key(scope, services.settings.trusted_proxies))
        headers = status.raw_headers()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing_headers(message, headers)
            await send(message)

        await self.app(scope, receive, send_wrapper)
