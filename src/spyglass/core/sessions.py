"""Server-side sessions (memory store, or Redis when configured) whose id changes at login.

Litestar keeps the session id from the cookie for the life of the session; to
prevent session fixation we replace it when the privilege level changes:
``rotate_session(request)`` makes the next response store the data under a new
id, delete the old one and send the new cookie.

A session is written back only when its data changed or when its idle expiry is due for renewal
(every ``max_age / 10`` seconds, at most a minute): Litestar would write it, and send the cookie
again, on every response, a store round trip and a sixth of a cached API read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

from spyglass.core.request_context import cookies

ROTATE_FLAG = "spyglass.rotate_session"
NEW_ID = "spyglass.new_session_id"
LOADED = "spyglass.session_as_loaded"
STORED_AT = "_stored"  # in the session data: when it was last written (its idle expiry was renewed)
SESSION_COOKIE = "spyglass_session"
RENEW_AT_MOST_EVERY_SECONDS = 60


class RotatingSessionBackend(ServerSideSessionBackend):
    """A server-side session backend that can move the session to a fresh id."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.setdefault("state", {})
        if state.get(ROTATE_FLAG):
            if NEW_ID not in state:
                state[NEW_ID] = self.generate_session_id()
            return str(state[NEW_ID])
        return super().get_session_id(connection)

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        if session_id := cookies(connection.scope).get(self.config.key):
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope.setdefault("state", {})[LOADED] = data
                return self.deserialize_data(data)
        return {}

    def _unchanged(self, scope_session: ScopeSession, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        """Whether the session is as it was loaded and its expiry needs no renewal yet."""
        loaded = connection.scope.get("state", {}).get(LOADED)
        if loaded is None or not isinstance(scope_session, dict):
            return False
        renew_every = min(RENEW_AT_MOST_EVERY_SECONDS, self.config.max_age / 10)
        stored_at = scope_session.get(STORED_AT)
        if not isinstance(stored_at, int | float) or time.time() - stored_at >= renew_every:
            return False
        return bool(self.serialize_data(scope_session, connection.scope) == loaded)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = connection.scope.setdefault("state", {})
        old_id = connection.cookies.get(self.config.key)
        has_cookie = bool(old_id) and old_id != "null"
        if not state.get(ROTATE_FLAG) and has_cookie and scope_session and self._unchanged(scope_session, connection):
            return
        if isinstance(scope_session, dict) and scope_session:
            scope_session[STORED_AT] = int(time.time())
        if state.get(ROTATE_FLAG):
            if has_cookie:
                await self.delete(str(old_id), store=self.config.get_store_from_app(connection.scope["app"]))
        elif not scope_session:
            # An empty session is never stored. Litestar would store one (and set a cookie) for every
            # cookieless request - API calls, probes, crawlers - growing the store without bound and
            # touching Redis on /ready. Without a cookie there is nothing to do; with one, forget it.
            if not has_cookie:
                return
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    """Session settings with the rotating backend."""

    _backend_class: type[ServerSideSessionBackend] = field(default=RotatingSessionBackend)


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give this session a new id when the response is sent (call at login and privilege changes)."""
    connection.scope.setdefault("state", {})[ROTATE_FLAG] = True


def session_config(*, idle_seconds: int, secure: bool) -> SessionConfig:
    """HttpOnly, SameSite=Lax, Secure over HTTPS; expires after ``idle_seconds`` without a request."""
    return SessionConfig(
        key=SESSION_COOKIE,
        max_age=idle_seconds,
        httponly=True,
        samesite="lax",
        secure=secure,
        store="sessions",
        exclude=["^/static/", "^/health$", "^/ready$", "^/metrics$"],
    )
