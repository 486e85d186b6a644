"""Authentication: who is calling, from the session cookie or an ``Authorization: Bearer`` API token.

The middleware never refuses a request; it sets ``request.user`` to a
``CurrentUser`` or None, and the guards decide. A deactivated user, a changed
``session_epoch`` (logout everywhere, password change, deactivation), a revoked or
expired token all resolve to None on the very next request: the user cache is
invalidated by every write that could change the answer.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select, update

from spyglass.accounts.models import ApiToken, Role, User
from spyglass.core.db import utcnow
from spyglass.core.errors import NotFound
from spyglass.core.replica import acting_user_id

if TYPE_CHECKING:
    from spyglass.core.services import Services

USERS_NAMESPACE = "users"
TOKENS_NAMESPACE = "tokens"
TOKEN_PREFIX = "sg_"
LAST_USED_EVERY_SECONDS = 60.0
LAST_SEEN_EVERY_SECONDS = 300.0


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated caller, as cached (no ORM object, safe to share between requests)."""

    id: int
    username: str
    email: str
    role: str
    is_active: bool
    session_epoch: int
    email_verified: bool

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @classmethod
    def from_user(cls, user: User) -> CurrentUser:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            role=user.role,
            is_active=user.is_active,
            session_epoch=user.session_epoch,
            email_verified=user.email_verified,
        )


@dataclass(frozen=True)
class CachedToken:
    """What the cache remembers of an API token."""

    id: int
    user_id: int
    expires_at: datetime | None
    revoked: bool


def hash_token(token: str) -> str:
    """SHA-256 of an API or account token (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def load_current_user(services: Services, user_id: int) -> CurrentUser | None:
    """The user with this id from the cache or the database, or None when there is none."""

    async def load() -> CurrentUser | None:
        async with services.db.session() as session:
            user = await session.get(User, user_id)
            return CurrentUser.from_user(user) if user else None

    return await services.cache.get_or_load(USERS_NAMESPACE, user_id, load)


async def forget_user(services: Services, user_id: int) -> None:
    """Drop the cached copy of a user; call after every change to the user row."""
    await services.cache.invalidate(USERS_NAMESPACE, user_id)


async def forget_token(services: Services, token_hash: str) -> None:
    await services.cache.invalidate(TOKENS_NAMESPACE, token_hash)


async def _load_token(services: Services, token_hash: str) -> CachedToken | None:
    async def load() -> CachedToken | None:
        async with services.db.session() as session:
            token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
            if token is None:
                return None
            return CachedToken(token.id, token.user_id, token.expires_at, token.revoked_at is not None)

    return await services.cache.get_or_load(TOKENS_NAMESPACE, token_hash, load)


class Authenticator:
    """Resolves the caller of a request; owned by the app's services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._token_writes: dict[int, float] = {}
        self._seen_writes: dict[int, float] = {}

    async def from_bearer(self, raw: str) -> CurrentUser | None:
        token = raw.strip()
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        cached = await _load_token(self.services, hash_token(token))
        if cached is None or cached.revoked:
            return None
        if cached.expires_at is not None and cached.expires_at <= utcnow():
            return None
        user = await load_current_user(self.services, cached.user_id)
        if user is None or not user.is_active:
            return None
        await self._touch_token(cached.id)
        return user

    async def from_session(self, session: dict[str, Any]) -> CurrentUser | None:
        user_id = session.get("uid")
        if not isinstance(user_id, int):
            return None
        user = await load_current_user(self.services, user_id)
        if user is None or not user.is_active or session.get("epoch") != user.session_epoch:
            return None
        await self._touch_user(user.id)
        return user

    async def _touch_token(self, token_id: int) -> None:
        if not self._due(self._token_writes, token_id, LAST_USED_EVERY_SECONDS):
            return
        async with self.services.db.session(write=True) as session:
            await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))

    async def _touch_user(self, user_id: int) -> None:
        if not self._due(self._seen_writes, user_id, LAST_SEEN_EVERY_SECONDS):
            return
        async with self.services.db.session(write=True) as session:
            await session.execute(update(User).where(User.id == user_id).values(last_seen_at=utcnow()))

    @staticmethod
    def _due(last_writes: dict[int, float], key: int, every: float) -> bool:
        now = time.monotonic()
        if now - last_writes.get(key, -every) < every:
            return False
        last_writes[key] = now
        return True


class AuthMiddleware:
    """Sets ``scope["user"]`` (CurrentUser or None) and ``scope["auth"]`` ("session", "token" or None)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        services: Services = scope["litestar_app"].state.services
        authenticator = services.authenticator
        user: CurrentUser | None = None
        method: str | None = None
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization is not None:
            value = authorization.decode("latin-1")
            if value[:7].lower() == "bearer ":
                user = await authenticator.from_bearer(value[7:])
                method = "token" if user else None
        else:
            session = scope.get("session")
            if isinstance(session, dict) and session:
                user = await authenticator.from_session(session)
                method = "session" if user else None
        scope["user"] = user
        scope["auth"] = method
        acting = acting_user_id.set(user.id if user is not None else None)  # read-your-writes (core/replica.py)
        try:
            await self.app(scope, receive, send)
        finally:
            acting_user_id.reset(acting)


# Guards are coroutines on purpose: Litestar runs a synchronous guard in a worker thread, a thread
# hop on every guarded request that cost more than the authentication itself.


async def require_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a signed-in, active user (pages redirect to the login page, the API answers 401)."""
    if connection.scope.get("user") is None:
        raise NotAuthorizedException("Sign in to continue.")


async def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: an admin. Everyone else gets a 404, so the admin area does not reveal itself."""
    user = connection.scope.get("user")
    if user is None or not user.is_admin:
        raise NotFound()


async def require_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: signed in through the browser session (API tokens cannot manage tokens or passwords)."""
    await require_user(connection, _)
    if connection.scope.get("auth") != "session":
        raise NotAuthorizedException("This action needs a signed-in browser session, not an API token.")
