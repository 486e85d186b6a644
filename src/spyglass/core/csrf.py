"""CSRF protection on every form and every cookie-authenticated unsafe request.

Litestar's double-submit middleware does the checking. Requests that carry
``Authorization: Bearer`` skip it: they are authenticated by the token alone
(the session cookie is ignored for them), and a browser cannot attach that
header cross-site without a CORS preflight we never grant.
"""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from spyglass.core.errors import Forbidden

CSRF_COOKIE = "spyglass_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FAILED = "Your form expired or came from another site. Reload the page and try again."


def has_bearer_token(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return bool(value[:7].lower() == b"bearer ")
    return False


def csrf_config(secret: str, *, secure: bool) -> CSRFConfig:
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_secure=secure,
        cookie_samesite="lax",
        cookie_httponly=False,
        exclude=["^/static/", "^/health$", "^/ready$", "^/metrics$"],
    )


class CSRFGuardMiddleware:
    """Runs Litestar's CSRF check unless the request authenticates with a bearer token."""

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.checked = CSRFMiddleware(app=app, config=config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_bearer_token(scope):
            await self.app(scope, receive, send)
            return
        try:
            await self.checked(scope, receive, send)
        except PermissionDeniedException as exc:
            raise Forbidden(CSRF_FAILED) from exc
