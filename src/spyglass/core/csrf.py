"""CSRF protection on every form and every cookie-authenticated unsafe request.

Litestar's double-submit middleware does the checking. Requests that carry
``Authorization: Bearer`` skip it: they are authenticated by the token alone
(the session cookie is ignored for them), and a browser cannot attach that
header cross-site without a CORS preflight we never grant.
"""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig
from litestar.exceptions import PermissionDeniedException
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from spyglass.core.errors import Forbidden
from spyglass.core.request_context import cookies

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
    """Runs Litestar's CSRF check unless the request authenticates with a bearer token.

    A safe method (GET, HEAD, ...) is only given its token here, as Litestar would: the cookie's, or a new one
    set as the cookie on the response. Litestar builds a ``Request`` and parses the content type for that, and
    wraps ``send`` even when the cookie is already there; this is the path of nearly every request.
    """

    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        self.app = app
        self.config = config
        self.checked = CSRFMiddleware(app=app, config=config)
        self._safe_methods = frozenset(config.safe_methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or has_bearer_token(scope):
            await self.app(scope, receive, send)
            return
        if scope.get("method") in self._safe_methods:
            await self._safe(scope, receive, send)
            return
        try:
            await self.checked(scope, receive, send)
        except PermissionDeniedException as exc:
            raise Forbidden(CSRF_FAILED) from exc

    async def _safe(self, scope: Scope, receive: Receive, send: Send) -> None:
        if should_bypass_middleware(
            scope=scope,
            scopes=self.checked.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.checked.exclude,
        ):
            await self.app(scope, receive, send)
            return
        cookie = cookies(scope).get(self.config.cookie_name)  # Litestar's parser and its per-request copy
        token = ScopeState.from_scope(scope).csrf_token = cookie or generate_csrf_token(secret=self.config.secret)
        if cookie is None:
            send = self.checked.create_send_wrapper(send=send, token=token, csrf_cookie=None)
        await self.app(scope, receive, send)
