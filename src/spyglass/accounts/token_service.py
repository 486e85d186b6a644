"""Personal API tokens: issue (the token is shown once and only its SHA-256 is kept), list, revoke.

Services never commit; the route commits and then drops the token from the
authentication cache, so a revoked token is refused on the very next request.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts import token_repository
from spyglass.accounts.auth import TOKEN_PREFIX, hash_token
from spyglass.accounts.models import ApiToken
from spyglass.audit.service import AuditAction, record
from spyglass.core.db import utcnow
from spyglass.core.errors import Conflict, InvalidInput
from spyglass.core.pagination import Page, PageRequest, paginate

NAME_MAX_LENGTH = 80
EXPIRY_MAX_DAYS = 365
MAX_USABLE_TOKENS = 50
DISPLAY_PREFIX_LENGTH = 10  # "sg_" and 7 random characters: enough to recognise, useless to guess


class TokenStatus(enum.StrEnum):
    """Whether a token still authenticates."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenRequest:
    """A validated request for a new token."""

    name: str
    expires_in_days: int | None


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` is the only copy of the token itself and is shown once."""

    token: ApiToken
    secret: str


def token_status(token: ApiToken, *, now: datetime | None = None) -> TokenStatus:
    """The token's status at ``now``."""
    if token.revoked_at is not None:
        return TokenStatus.REVOKED
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def parse_token_request(*, name: Any, expires_in_days: Any) -> TokenRequest:
    """Check a new token's name and expiry (form strings or JSON values); InvalidInput names each bad field."""
    problems: dict[str, str] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        problems["name"] = "Give the token a name, such as the script or machine that will use it."
    elif len(clean_name) > NAME_MAX_LENGTH:
        problems["name"] = f"Use at most {NAME_MAX_LENGTH} characters (this one has {len(clean_name)})."
    days = _parse_days(expires_in_days)
    if isinstance(days, str):
        problems["expires_in_days"] = days
    if problems:
        raise InvalidInput(detail=problems)
    return TokenRequest(name=clean_name, expires_in_days=days if isinstance(days, int) else None)


def _parse_days(value: Any) -> int | str | None:
    """The number of days, None for "never", or a message saying what is wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return f"Enter a whole number of days from 1 to {EXPIRY_MAX_DAYS}, or leave it empty."
    if isinstance(value, str):
        if not value.strip().isdecimal():
            return f"Enter a whole number of days from 1 to {EXPIRY_MAX_DAYS}, or leave it empty."
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= EXPIRY_MAX_DAYS:
        return f"Choose between 1 and {EXPIRY_MAX_DAYS} days, or leave it empty for a token that never expires."
    return value


def new_secret() -> str:
    """A new token: ``sg_`` and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(
    *,
    db: AsyncSession,
    user_id: int,
    request: TokenRequest,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
) -> IssuedToken:
    """Issue a token for ``user_id`` (Conflict when the user already has the most usable tokens allowed)."""
    now = utcnow()
    if await token_repository.count_usable(db, user_id=user_id, now=now) >= MAX_USABLE_TOKENS:
        raise Conflict(
            f"You already have {MAX_USABLE_TOKENS} active API tokens, the most allowed. "
            "Revoke one you no longer use, then create a new one."
        )
    secret = new_secret()
    expires_at = now + timedelta(days=request.expires_in_days) if request.expires_in_days else None
    token = token_repository.add(
        db,
        ApiToken(
            user_id=user_id,
            name=request.name,
            token_hash=hash_token(secret),
            prefix=secret[:DISPLAY_PREFIX_LENGTH],
            created_at=now,
            expires_at=expires_at,
        ),
    )
    await db.flush()
    record(
        db,
        AuditAction.TOKEN_CREATED,
        user_id=user_id,
        connection=connection,
        details={"id": token.id, "name": token.name, "prefix": token.prefix, "expires_at": _iso(expires_at)},
    )
    return IssuedToken(token=token, secret=secret)


async def revoke_token(
    *,
    db: AsyncSession,
    user_id: int,
    token_id: int,
    connection: ASGIConnection[Any, Any, Any, Any] | None = None,
) -> ApiToken:
    """Revoke one of the user's tokens (NotFound for anyone else's); revoking twice changes nothing."""
    token = await token_repository.get_owned_token(db, token_id=token_id, user_id=user_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(
            db,
            AuditAction.TOKEN_REVOKED,
            user_id=user_id,
            connection=connection,
            details={"id": token.id, "name": token.name, "prefix": token.prefix},
        )
    return token


async def list_tokens(*, db: AsyncSession, user_id: int, page: PageRequest) -> Page[ApiToken]:
    """One page of the user's tokens, newest first."""
    return await paginate(db, token_repository.tokens_of(user_id), page)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
