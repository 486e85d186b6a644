"""The outermost middleware (request id, access log, metrics) and the security headers of every response."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from spyglass.config import Settings
from spyglass.core.metrics import Metrics
from spyglass.core.request_context import header, request_id_var

logger = logging.getLogger("spyglass.access")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def content_security_policy(static_url: str = "") -> str:
    """The CSP; when static files come from a CDN (``SPYGLASS_STATIC_URL``), its origin may serve them too."""
    parts = urlsplit(static_url)
    if not parts.scheme or not parts.netloc:
        return CONTENT_SECURITY_POLICY
    origin = f"{parts.scheme}://{parts.netloc}"
    policy = CONTENT_SECURITY_POLICY
    for directive in ("script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'"):
        policy = policy.replace(directive, f"{directive} {origin}")
    return policy


def _is_https(scope: Scope, settings: Settings) -> bool:
    return bool(scope.get("scheme") == "https" or settings.cookies_secure)


def security_headers_hook(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """An app-level ``before_send`` hook adding the security headers to every response.

    A hook rather than middleware: Litestar runs middleware only for matched routes, and a 404
    page needs its CSP, nosniff and frame-ancestors as much as any other.
    """

    defaults = [*STATIC_HEADERS, (b"content-security-policy", content_security_policy(settings.static_url).encode())]

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        extra = [*defaults, HSTS] if _is_https(scope, settings) else defaults
        add_missing_headers(message, extra)

    return add_headers


def add_missing_headers(message: Message, extra: list[tuple[bytes, bytes]]) -> None:
    """Append the headers the response does not set itself (names lower-case bytes).

    Plain list work on the raw ASGI headers: MutableScopeHeaders decodes and scans every header for
    each lookup, which made the security headers a sixth of a cached API read.
    """
    raw = cast("dict[str, Any]", message)
    headers = raw.get("headers")
    if not isinstance(headers, list):
        headers = list(headers or [])
        raw["headers"] = headers
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in extra if header[0] not in present)


class RequestContextMiddleware:
    """Assigns a request id, records metrics and an access log line."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id") or ""
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else os.urandom(8).hex()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                add_missing_headers(message, [(b"x-request-id", request_id.encode())])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = str(scope.get("path_template") or "unmatched")
            method = str(scope.get("method", "GET"))
            metrics = self.metrics
            metrics.child(metrics.http_requests, method, route, str(status)).inc()
            metrics.child(metrics.http_latency, method, route).observe(elapsed)
            # The level check first: at WARNING (production) the access line is not even built.
            if logger.isEnabledFor(logging.INFO) and not path.startswith(("/static/", "/health", "/metrics")):
                logger.info(
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def scope_state(scope: Scope) -> dict[str, Any]:
    """The mutable per-request state dictionary."""
    return scope.setdefault("state", {})
